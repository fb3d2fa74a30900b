#!/usr/bin/env bash
# P2: ingest throughput. Starts the real server in-process (HTTP on 127.0.0.1, job workers,
# SQLite database and local object store in a temporary directory), claims devices over the
# API, uploads hash-signed streamer reports of 200 readings over HTTP from a few concurrent
# uploaders (each device's reports in order, as a gateway sends them), and times from the
# first upload until every job is done and every reading is queryable in stream_data:
# readings/s. In the same run it times a raw rusqlite prepared-statement insert of the same
# number of rows, in one transaction, into a fresh database migrated the same way (same table,
# same indexes, WAL, synchronous=NORMAL): rows/s, and prints the ratio.
# Targets: >= 300,000 readings/s and >= 0.5 of the raw insert rate.
# IOTILE_BENCH_PG=1 (the default here) repeats the server run on a throwaway PostgreSQL
# cluster (initdb/pg_ctl from the machine's packages). Knobs: IOTILE_BENCH_DEVICES,
# IOTILE_BENCH_REPORTS (per device), IOTILE_BENCH_UPLOADERS, IOTILE_BENCH_WORKERS.
set -euo pipefail
cd "$(dirname "$0")/.."
IOTILE_BENCH_PG="${IOTILE_BENCH_PG:-1}" cargo bench -p cloud --bench p2_ingest 2>/dev/null | grep '^P2 '
