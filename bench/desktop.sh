#!/usr/bin/env bash
# The desktop app's field figures on its core (desktop-app/core/benches/field.rs), with the
# real cloud in-process and virtual PODs behind the virtual BLED112 (a pty) and the virtual
# BlueZ (a private D-Bus; needs Debian's dbus): start to the first POD listed, and collecting
# a POD holding 10,000 readings over each radio (median of 3 runs). Data under /var/tmp (or
# IOTILE_BENCH_TMPDIR): on disk, so fsyncs are real.
# Knobs: IOTILE_BENCH_READINGS (10000), IOTILE_BENCH_RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
export TMPDIR="${IOTILE_BENCH_TMPDIR:-/var/tmp}"
cargo bench --locked -p desktop-core --bench field 2>/dev/null
