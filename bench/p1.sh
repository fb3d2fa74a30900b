#!/usr/bin/env bash
# P1: decode + verify a 200-reading SignedListReport. Runs our criterion bench (which also
# times plain SHA-256 over the same bytes) and iotile-core's decoder on the same files, in a
# throwaway venv, then prints the ratios. Targets: >= 1000x iotile-core, >= 0.7 of SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${IOTILE_BENCH_VENV:-$HOME/.cache/iotile-bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet iotile-core==5.2.0 pycryptodome
fi

ours=$(cargo bench -p sync-protocol --bench report_decode 2>/dev/null | tee /dev/stderr | grep '^P1 ')
theirs=$("$venv/bin/python" bench/iotile_core_decode.py)

echo
echo "case        ours ns   sha256 ns   share of sha256   iotile-core ns   speedup"
for case in hash_only user_key; do
  line=$(grep "^P1 $case " <<<"$ours")
  o=$(sed -n 's/.*ours_ns=\([0-9.]*\).*/\1/p' <<<"$line")
  s=$(sed -n 's/.*sha256_ns=\([0-9.]*\).*/\1/p' <<<"$line")
  p=$(grep "^P1 $case " <<<"$theirs" | sed -n 's/.*iotile_core_ns=\([0-9.]*\).*/\1/p')
  awk -v c="$case" -v o="$o" -v s="$s" -v p="$p" \
    'BEGIN { printf "%-10s %9.0f %11.0f %17.3f %16.0f %8.0fx\n", c, o, s, s / o, p, p / o }'
done
