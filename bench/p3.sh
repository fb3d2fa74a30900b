#!/usr/bin/env bash
# P3: query latency. Starts the real server in-process on its own runtime (2 worker threads;
# HTTP on 127.0.0.1, SQLite in a temporary directory), claims devices over the API as an
# ordinary org owner, fills stream_data by direct SQL with 10,000,000 readings shaped like
# ingested ones (25 devices x 4 streams x 100,000 readings, in interleaved reports of 2,000),
# then drives GET /api/v1/data/?filter=<random stream of the set>&lastn=1000 with a JWT from
# an open-loop generator on another runtime: a constant 1,000 requests/s for 20 s (after 3 s
# of warm-up) over 8 keep-alive connections, latency taken from each request's scheduled
# send time (no coordinated omission). Every answer must be 200 with 1,000 results.
# Prints p50/p90/p99/p99.9/max, the achieved rate, failures and the database size.
# Target: p99 <= 5 ms at 1,000 requests/s.
# IOTILE_BENCH_PG=1 repeats the run on a throwaway PostgreSQL cluster. Knobs:
# IOTILE_BENCH_DEVICES, IOTILE_BENCH_STREAMS, IOTILE_BENCH_READINGS (per stream),
# IOTILE_BENCH_REPORT, IOTILE_BENCH_RATE, IOTILE_BENCH_SECONDS, IOTILE_BENCH_WARMUP,
# IOTILE_BENCH_CONNECTIONS, IOTILE_BENCH_LASTN.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p cloud --bench p3_query 2>/dev/null | grep '^P3 '
