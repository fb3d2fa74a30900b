#!/usr/bin/env bash
# P4: the gateway. Runs the real release iotile-gateway binary against the real cloud server
# started in-process (HTTP on 127.0.0.1, job workers, SQLite and object store in a temporary
# directory under /var/tmp, or IOTILE_BENCH_TMPDIR: on disk, so fsyncs are real).
# - Memory: `iotile-gateway run` serving 50 virtual PODs (360 readings waiting each, one more
#   every 10 s) behind 2 virtual BLED112 dongles of 3 connections (ptys); VmRSS/VmHWM sampled
#   every 200 ms until every POD was visited and the cloud holds their readings, then SIGTERM
#   (must exit 0). Prints peak (VmHWM) and steady RSS. Target: <= 15 MB.
# - Buffer write rate with synchronous=FULL: the gateway's own bench (2000 reports of 200
#   readings, one transaction each), and the drain's fill below (7,200 reports of 360).
# - Drain: a buffer holding 3 days x 100 PODs at one reading per 10 s (2,592,000 readings, in
#   hash-signed signed-list reports of an hour each) uploaded by `iotile-gateway sync`; timed
#   until it exits with the buffer empty and until the cloud has ingested every report, which
#   must leave exactly 2,592,000 reading rows. Target: <= 60 s.
# Knobs: IOTILE_BENCH_PART (rss, drain, all), IOTILE_BENCH_PODS, IOTILE_BENCH_POD_BACKLOG,
# IOTILE_BENCH_DONGLES, IOTILE_BENCH_CONNECTIONS, IOTILE_BENCH_DEVICES, IOTILE_BENCH_READINGS
# (per device), IOTILE_BENCH_REPORT_READINGS, IOTILE_BENCH_WORKERS (the cloud's),
# IOTILE_BENCH_BUFFER_REPORTS (the buffer_write bench's count).
set -euo pipefail
cd "$(dirname "$0")/.."
export TMPDIR="${IOTILE_BENCH_TMPDIR:-/var/tmp}"
cargo build --release --locked -p gateway --bin iotile-gateway 2>/dev/null
cargo bench --locked -p gateway --bench buffer_write -- "${IOTILE_BENCH_BUFFER_REPORTS:-2000}" 2>/dev/null \
  | sed 's/^/P4 /'
cargo bench --locked -p system-tests --bench p4 2>/dev/null | grep '^P4 '
