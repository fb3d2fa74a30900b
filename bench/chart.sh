#!/usr/bin/env bash
# Charts: one stream of a year of readings 10 s apart (3,153,600 rows, seeded by bulk SQL,
# rollups built from them), on the real server in-process (HTTP on 127.0.0.1, SQLite in a
# temporary directory). For one year and for one day shown at 1000 buckets, times the chart
# endpoint GET /api/v1/stream/{slug}/chart/ (time to the response head and to the last
# byte; also its read of the rollups alone, without HTTP) beside the same chart from the raw rows: a GROUP BY over stream_data for the range
# (SQL, no HTTP) and every row of the range fetched through /api/v1/data/ (10,000 a page).
# Prints median and p95 of several runs as a table.
# IOTILE_BENCH_PG=1 repeats the run on a throwaway PostgreSQL cluster. Knobs:
# IOTILE_BENCH_DAYS (365), IOTILE_BENCH_RUNS (9), IOTILE_BENCH_RAW_RUNS (1: the year's raw
# fetch), IOTILE_BENCH_RAW_BUDGET (120 s: a raw fetch stops there and says how far it got).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p cloud --bench chart 2>/dev/null | grep '^CHART '
