#!/usr/bin/env bash
# Regenerates every figure of BENCHMARKS.md in one run:
#   1. criterion (ns/op medians) — benches/benches/compare.rs
#   2. allocations/op            — benches/src/bin/bench-allocs.rs (counting global allocator)
#   3. instructions/op           — benches/src/bin/bench-instr.rs under valgrind callgrind
#   4. size_of of each machine   — benches/src/bin/bench-sizes.rs
#   5. flash per pattern         — scripts/size-report.sh (thumbv6m-none-eabi, opt-level z)
# and prints the markdown table (ratios to the floor and to each peer of the row group).
#
# usage: scripts/bench-report.sh [--quick | --no-criterion]
#   --quick:        shorter criterion runs
#   --no-criterion: skip step 1 (for a loaded machine, where times mean little); the table
#                   then has no ns columns
# Instructions: each row runs 20 000 calls under callgrind (ratios come from this one build).
# Output: $CARGO_TARGET_DIR (default target/)/bench-report/report.md (also printed). Needs valgrind for column 3.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/bench-report"
mkdir -p "$OUT"
cd "$ROOT"
export CARGO_TERM_COLOR=never

cargo build --release --locked -p steadfast-bench --bins >/dev/null
BIN="$TARGET/release"

echo "== machine" >&2
{
  echo "nproc: $(nproc)"
  echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "load (1/5/15 min) at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rustc: $(rustc -V)"
} >"$OUT/machine.txt"

echo "== allocations/op" >&2
"$BIN/bench-allocs" >"$OUT/allocs.tsv"

echo "== instructions/op (callgrind)" >&2
: >"$OUT/instr.tsv"
if command -v valgrind >/dev/null; then
  "$BIN/bench-instr" list | while IFS=$'\t' read -r id per; do
    calls=20000
    ir=$(valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$OUT/cg.out" \
      "$BIN/bench-instr" run "$id" "$calls" 2>&1 | sed -n 's/.*Collected : //p')
    printf '%s\t%s\n' "$id" "$(awk -v i="$ir" -v c="$calls" -v p="$per" 'BEGIN {printf "%.0f", i / (c * p)}')" >>"$OUT/instr.tsv"
  done
fi

rm -f "$OUT/criterion.log"
if [ "${1:-}" != "--no-criterion" ]; then
  echo "== criterion" >&2
  crit_args=()
  [ "${1:-}" = "--quick" ] && crit_args=(--warm-up-time 0.3 --measurement-time 1)
  cargo bench --locked -p steadfast-bench --bench compare -- "${crit_args[@]}" >"$OUT/criterion.log" 2>&1
  echo "load (1/5/15 min) after criterion: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
fi

echo "== sizes" >&2
"$BIN/bench-sizes" >"$OUT/sizes.txt"
"$ROOT/scripts/size-report.sh" >"$OUT/flash.txt" 2>&1 || echo "(size-report exited $?)" >>"$OUT/flash.txt"

python3 "$ROOT/scripts/bench-table.py" "$OUT" | tee "$OUT/report.md"
