#!/usr/bin/env bash
# Per-pattern code size on thumbv6m-none-eabi (Cortex-M0, opt-level "z", LTO, panic=abort):
# examples/firmware/size-m0 built with one pattern feature, minus the baseline (no feature:
# cortex-m-rt reset + semihosting exit). Each build is also run on QEMU `microbit` (must exit 0)
# when qemu-system-arm is installed.
#
# usage: scripts/size-report.sh [feature...]
#        (default: time rng breaker backoff retry bulkhead timeout pipeline)
# A feature whose probe does not build against the API is reported as "n/a" with the first
# compiler error, never fatal.
# Environment: SIZE_REPORT_STRICT=1 makes a feature that does not build an error.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FW="$ROOT/examples/firmware"
T=thumbv6m-none-eabi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FW/target}" CARGO_TERM_COLOR=never
LLVM_BIN="${LLVM_BIN:-$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin}"
OUT="$CARGO_TARGET_DIR/size-report"
mkdir -p "$OUT"
features=("$@")
[ ${#features[@]} -gt 0 ] || features=(time rng breaker backoff retry bulkhead timeout pipeline)

# section NAME ELF -> size in bytes (0 if absent)
section() { "$LLVM_BIN/llvm-size" -A "$2" | awk -v s="$1" '$1==s {print $2; f=1} END {if (!f) print 0}'; }

# builtins ELF -> bytes of compiler_builtins code (integer division/multiplication helpers: the
# M0 has no divider; u64 `/` and `%` cost ~1.3 KB once, shared by every pattern that divides)
builtins() {
  local sum=0 size
  while read -r size; do sum=$((sum + 16#$size)); done < <("$LLVM_BIN/llvm-nm" -C -S --defined-only "$1" |
    awk '$3 ~ /^[tT]$/ && ($4 ~ /^compiler_builtins::/ || $4 ~ /^__aeabi_/ || $4 ~ /^__(u?(div|mod)|mul)[sdt]i3$/) {print $2}')
  echo "$sum"
}

# build LABEL FEATURES -> copies the ELF to $OUT/LABEL.elf; returns non-zero if it does not build
build() {
  local label=$1 feats=$2 args=(--release --locked -p steadfast-size-m0 --target "$T")
  [ -n "$feats" ] && args+=(--features "$feats")
  if (cd "$FW" && cargo build "${args[@]}") >"$OUT/$label.log" 2>&1; then
    cp "$CARGO_TARGET_DIR/$T/release/steadfast-size-m0" "$OUT/$label.elf"
  else
    return 1
  fi
}

run_qemu() {
  command -v qemu-system-arm >/dev/null || { echo "-"; return 0; }
  if timeout 20 qemu-system-arm -cpu cortex-m0 -machine microbit -nographic \
       -semihosting-config enable=on,target=native -kernel "$1" >/dev/null 2>&1; then echo "exit 0"; else echo "exit $?"; fi
}

build baseline "" || { cat "$OUT/baseline.log"; echo "size-report: the baseline does not build" >&2; exit 1; }
base_text=$(section .text "$OUT/baseline.elf")
base_ro=$(section .rodata "$OUT/baseline.elf")

row() { printf '%-10s %7s %7s %9s %8s %9s %5s  %s\n' "$@"; }
echo "size-m0 on $T (opt-level z), bytes. Δ = over the baseline; builtins = compiler_builtins int helpers inside .text"
row feature .text Δ.text builtins .rodata Δ.rodata .bss qemu
row baseline "$base_text" - "$(builtins "$OUT/baseline.elf")" "$base_ro" - "$(section .bss "$OUT/baseline.elf")" "$(run_qemu "$OUT/baseline.elf")"
built=()
qemu_failed=0
for f in "${features[@]}"; do
  if build "$f" "$f"; then
    e="$OUT/$f.elf"; text=$(section .text "$e"); ro=$(section .rodata "$e"); q=$(run_qemu "$e")
    row "$f" "$text" "+$((text - base_text))" "$(builtins "$e")" "$ro" "+$((ro - base_ro))" "$(section .bss "$e")" "$q"
    [ "$q" = "exit 0" ] || [ "$q" = "-" ] || qemu_failed=1
    built+=("$f")
  else
    why=$(grep -m1 -E '^error' "$OUT/$f.log" || echo "see $OUT/$f.log")
    row "$f" n/a - - - - - "does not build: ${why:0:90}"
    [ "${SIZE_REPORT_STRICT:-0}" = 1 ] && { cat "$OUT/$f.log"; exit 1; }
  fi
done
if [ ${#built[@]} -gt 1 ]; then
  all=$(IFS=,; echo "${built[*]}")
  if build together "$all"; then
    e="$OUT/together.elf"; text=$(section .text "$e"); ro=$(section .rodata "$e"); q=$(run_qemu "$e")
    row together "$text" "+$((text - base_text))" "$(builtins "$e")" "$ro" "+$((ro - base_ro))" "$(section .bss "$e")" "$q ($all)"
    [ "$q" = "exit 0" ] || [ "$q" = "-" ] || qemu_failed=1
  fi
fi
exit $qemu_failed
