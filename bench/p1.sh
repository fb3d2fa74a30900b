#!/usr/bin/env bash
# P1: decode + verify a 200-reading SignedListReport. Runs our criterion bench (which also
# times plain SHA-256 over the same bytes) and iotile-core's decoder on the same files, in a
# throwaway venv, then prints the ratios. Targets: >= 1000x iotile-core, >= 0.7 of SHA-256.
# A user-key report also needs two HMACs and AES-CTR: its "crypto floor" column is that
# cost, measured in the same run.
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
echo "case        ours ns   sha256 ns   share of sha256   crypto floor ns   share of floor   iotile-core ns   speedup"
for case in hash_only user_key; do
  line=$(grep "^P1 $case " <<<"$ours")
  field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
  o=$(field ours_ns) s=$(field sha256_ns) f=$(field crypto_floor_ns)
  p=$(grep "^P1 $case " <<<"$theirs" | sed -n 's/.*iotile_core_ns=\([0-9.]*\).*/\1/p')
  # Hash-only reports have no cryptography beyond the hash: their floor is SHA-256.
  awk -v c="$case" -v o="$o" -v s="$s" -v f="${f:-$s}" -v p="$p" \
    'BEGIN { printf "%-10s %9.0f %11.0f %17.3f %17.0f %16.3f %16.0f %8.0fx\n", c, o, s, s / o, f, f / o, p, p / o }'
done
