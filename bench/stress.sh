#!/usr/bin/env bash
# Runs whole-system tests many times under CPU and disk load, to find the failures a quiet
# machine hides. Prints, per test, the runs, the failures and the slowest run; each failing
# run's output, and the logs of the gateways it ran, are kept.
#
#   bash bench/stress.sh                          # every system test, 30 runs each
#   RUNS=10 bash bench/stress.sh gateway_overlap  # some tests, 10 runs each
#   LOAD=none bash bench/stress.sh                # the same runs on a quiet machine
#
# LOAD=stress-ng (the default) keeps one CPU hog per core and one disk writer busy beside
# the tests (Debian's stress-ng, installed when missing). The tests run on the debug build,
# as CI runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-30}"
LOAD="${LOAD:-stress-ng}"
OUT="${OUT:-$(mktemp -d /tmp/iotile-stress.XXXXXX)}"
mkdir -p "$OUT"
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for f in system-tests/tests/*.rs; do tests+=("$(basename "$f" .rs)"); done
fi

echo "--- building the system tests and the programs they run"
cargo build --locked --bins
# The test programs run directly, with a copy of the binaries, so that builds elsewhere in
# the same target directory neither wait for these runs nor change what they run.
declare -A exes
while IFS=$'\t' read -r name exe; do exes[$name]=$exe; done < <(
  cargo test --locked -p system-tests --no-run --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"], sep="\t")
')
bins="$OUT/bin"
mkdir -p "$bins"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cp "$target_dir"/debug/iotile-* "$bins"/ 2>/dev/null || true

load_pid=""
stop_load() { [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null && wait "$load_pid" 2>/dev/null; true; }
trap stop_load EXIT
case "$LOAD" in
  stress-ng)
    if ! command -v stress-ng >/dev/null; then
      echo "--- installing stress-ng"
      sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
      "${sudo[@]}" apt-get install -y -q --no-install-recommends stress-ng
    fi
    stress-ng --cpu "$(nproc)" --hdd 1 --hdd-bytes 64M --temp-path "$OUT" --quiet &
    load_pid=$!
    echo "--- load: stress-ng, $(nproc) CPU hogs and a disk writer (pid $load_pid)"
    ;;
  none) echo "--- load: none" ;;
  *) echo "LOAD is stress-ng or none" >&2; exit 2 ;;
esac

echo "--- $RUNS runs of: ${tests[*]} (failing runs' output in $OUT)"
summary=()
for t in "${tests[@]}"; do
  failures=0
  slowest=0
  for run in $(seq 1 "$RUNS"); do
    start=$(date +%s)
    logs="$OUT/$t.$run"
    [ -n "${exes[$t]:-}" ] || { echo "no system test named $t" >&2; exit 2; }
    if (cd system-tests && IOTILE_BIN_DIR="$bins" IOTILE_TEST_LOGS="$logs" "${exes[$t]}") >"$logs.log" 2>&1; then
      rm -rf "$logs.log" "$logs"
      result=ok
    else
      failures=$((failures + 1))
      result=FAILED
    fi
    took=$(($(date +%s) - start))
    [ "$took" -gt "$slowest" ] && slowest=$took
    echo "$t run $run/$RUNS: $result in ${took}s"
  done
  summary+=("$(printf '%-18s %4d runs %3d failed  slowest %4ds' "$t" "$RUNS" "$failures" "$slowest")")
done

echo "--- summary (load: $LOAD)"
printf '%s\n' "${summary[@]}"
