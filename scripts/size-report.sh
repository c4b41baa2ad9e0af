#!/usr/bin/env bash
# Per-pattern footprint on thumbv6m-none-eabi (Cortex-M0, opt-level "z", LTO, panic=abort), checked
# against budgets: fails when one is exceeded or when a probe links a panic path.
#
# Flash: examples/firmware/size-m0 built with one pattern feature; its .text + .rodata + .data
# (the initial values of the `static`s, which flash holds) minus the baseline's (no feature: cortex-m-rt reset + semihosting exit). RAM: `size_of` on this target, read
# from the `SIZE_OF_*` symbols of the `ram` build. Each build also runs on QEMU `microbit` (must exit 0)
# when qemu-system-arm is installed.
#
# usage: scripts/size-report.sh [feature...]
#        (default: every feature in FEATURES and ADAPTERS below; budgets are checked only for a
#        full run; `together` is every feature of FEATURES in one image)
# Environment: SIZE_REPORT_STRICT=1 makes a feature that does not build an error (otherwise "n/a").
#              SIZE_REPORT_MARKDOWN=FILE also writes, as Markdown, the footprint table (README.md)
#              and the budget table (BENCHMARKS.md) to FILE.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FW="$ROOT/examples/firmware"
T=thumbv6m-none-eabi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FW/target}" CARGO_TERM_COLOR=never
LLVM_BIN="${LLVM_BIN:-$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin}"
OUT="$CARGO_TARGET_DIR/size-report"
mkdir -p "$OUT"
FEATURES=(time rng breaker breaker-window backoff retry bulkhead timeout pipeline-breaker pipeline)
ADAPTERS=(pipeline-gate retry-held pipeline-held embassy embassy-extras)   # measured alone, not part of `together`; embassy-extras has no budget
features=("$@")
full_run=0
[ ${#features[@]} -gt 0 ] || { features=("${FEATURES[@]}"); full_run=1; }

# Budgets, bytes. `goal` is the target; `ceiling` is what CI enforces: the goal where it is met,
# otherwise the flash figure measured when the ceiling was set plus 64 bytes (so nothing grows
# while the goal is open: the 64 bytes absorb link-order padding, which moves a figure by a few
# bytes when an unrelated crate of the workspace changes), or the RAM figure itself (size_of is
# exact). Lower a ceiling whenever a change shrinks its figure.
# A goal of "-" is a ceiling only.
#   name                        goal  ceiling   what
BUDGETS=(
  'flash:breaker                1024     1024   `Breaker<Consecutive, NoStats, Fixed<_>>`, .text+.rodata+.data over the baseline'
  'flash:breaker-window         1024     1448   `Breaker<CountWindow<64>, NoStats, Fixed<_>>`'
  'flash:retry                  1024     1024   `Retry<Fixed<_>>` + its backoff (the retries of one call, jittered)'
  'flash:bulkhead               1024     1024   `Bulkhead<4, NoStats, Fixed<_>>`'
  'flash:timeout                 300      300   `Deadline`'
  'flash:pipeline-breaker       4096     4096   pipeline (`pipeline::Fixed<_>`): breaker + retry + timeouts'
  'flash:together               8192    11520   every pattern + pipeline'
  'flash:pipeline-gate             -     4256   pipeline (`pipeline::Fixed<_>`): breaker + rate limiter (the gate) + retry + timeouts'
  'flash:retry-held                -     3164   `Retry` + `Backoff`, both held (a configuration read at run time)'
  'flash:pipeline-held             -     6724   pipeline held (`Pipeline`, `Backoff`): breaker + retry + timeouts'
  'ram:Breaker_Consecutive        32       32   `size_of::<Breaker<Consecutive, NoStats, Fixed<_>>>()`'
  'ram:Breaker_CountWindow_64     64       64   `size_of::<Breaker<CountWindow<64>, NoStats, Fixed<_>>>()`'
  'ram:Breaker_Consecutive_Stats   -      128   `size_of::<Breaker<Consecutive>>()` (holds its `Config`, counts `Stats`)'
  'ram:Bulkhead_4_NoStats          -       96   `size_of::<Bulkhead<4, NoStats, Fixed<_>>>()` (holds neither config nor pool id)'
  'ram:Call                      128      128   `size_of::<pipeline::Call>()`'
  'flash:embassy                   -     6432   steadfast-embassy `Policy::call` with the firmware breaker and pipeline (embassy-time included)'
  'ram:embassy_call_beyond_op    256      256   a `Policy::call` future minus the future of the operation itself'
)

# The footprint table (README): what each pattern costs. flash: a measured row or "-";
# ram: `;`-separated `label=ram:NAME` (label empty: the pattern's own type).
#   flash row             ram                                   pattern
FOOTPRINT=(
  'breaker               =ram:Breaker_Consecutive;Breaker<Consecutive>=ram:Breaker_Consecutive_Stats  `Breaker<Consecutive, NoStats, Fixed<_>>`'
  'breaker-window        =ram:Breaker_CountWindow_64            `Breaker<CountWindow<64>, NoStats, Fixed<_>>`'
  'backoff               -                                      `backoff::Fixed<_>` (delays with jitter, from a constant: no RAM)'
  'retry                 Retry<Fixed<_>>=ram:Retry_Fixed        `Retry<Fixed<_>>` + its backoff (the retries of one call, jittered)'
  'bulkhead              =ram:Bulkhead_4_NoStats;Bulkhead<4>=ram:Bulkhead_4  `Bulkhead<4, NoStats, Fixed<_>>`'
  '-                     =ram:Budget                            `Budget` (retry budget)'
  'timeout               =ram:Deadline                          `Deadline`'
  'retry-held            Retry=ram:Retry;Backoff=ram:Backoff    `Retry` + `Backoff`, both held (a configuration read at run time)'
  'pipeline-breaker      Call=ram:Call                          pipeline (`pipeline::Fixed<_>`): breaker + retry + timeouts'
  'pipeline-held         Call=ram:Call;Pipeline=ram:Pipeline    pipeline held (`Pipeline`, `Backoff`): breaker + retry + timeouts'
  'pipeline              Call=ram:Call                          pipeline (`pipeline::Fixed<_>`): breaker + bulkhead + retry + timeouts'
  'pipeline-gate         -                                      pipeline (`pipeline::Fixed<_>`): breaker + rate limiter (the gate) + retry + timeouts'
  'together              -                                      every pattern + pipeline'
  'embassy               future=ram:embassy_call_beyond_op      steadfast-embassy `Policy::call` with the firmware breaker and pipeline (embassy-time included)'
)

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

# panics ELF -> the panic machinery the image links (core::panicking::*, the formatting panics,
# RefCell's borrow panics, a resumed async fn...), one symbol a line; empty when it can not panic.
# The probes' panic handler is referenced only from those, so a panic-free image has none at all.
panics() {
  "$LLVM_BIN/llvm-nm" -C --defined-only "$1" |
    grep -E 'core::panicking::|core::option::(unwrap|expect)_failed|core::result::unwrap_failed|panic_(already_(mutably_)?borrowed|bounds_check|const|fmt|nounwind|misaligned)|slice_(start|end)_index_len_fail|slice_index_order_fail|async_fn_resumed|rust_begin_unwind' || true
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

declare -A MEASURED
failed=0
build baseline "" || { cat "$OUT/baseline.log"; echo "size-report: the baseline does not build" >&2; exit 1; }
base_text=$(section .text "$OUT/baseline.elf")
base_ro=$(section .rodata "$OUT/baseline.elf")
base_data=$(section .data "$OUT/baseline.elf")

row() { printf '%-16s %7s %7s %9s %8s %9s %7s %7s %6s  %s\n' "$@"; }
echo "size-m0 on $T (opt-level z), bytes. Δ = over the baseline; builtins = compiler_builtins int helpers inside .text"
row feature .text Δ.text builtins .rodata Δ.rodata Δ.data Δflash panics qemu
# measure LABEL: one row for $OUT/LABEL.elf; flash recorded; a panic path or a failed run fails the report
measure() {
  local label=$1 e="$OUT/$1.elf" text ro data q p
  text=$(section .text "$e"); ro=$(section .rodata "$e"); data=$(section .data "$e"); q=$(run_qemu "$e")
  p=$(panics "$e" | wc -l)
  MEASURED["flash:$label"]=$((text + ro + data - base_text - base_ro - base_data))
  row "$label" "$text" "+$((text - base_text))" "$(builtins "$e")" "$ro" "+$((ro - base_ro))" \
    "+$((data - base_data))" "+${MEASURED["flash:$label"]}" "$p" "$q${2:+ ($2)}"
  [ "$q" = "exit 0" ] || [ "$q" = "-" ] || { echo "FAIL: $label did not exit 0 under QEMU"; failed=1; }
  [ "$p" = 0 ] || { echo "FAIL: $label links a panic path:"; panics "$e" | head -10; failed=1; }
}
measure baseline
built=()
for f in "${features[@]}"; do
  if build "$f" "$f"; then
    measure "$f"
    built+=("$f")
  else
    why=$(grep -m1 -E '^error' "$OUT/$f.log" || echo "see $OUT/$f.log")
    row "$f" n/a - - - - - - - "does not build: ${why:0:90}"
    [ "${SIZE_REPORT_STRICT:-0}" = 1 ] && { cat "$OUT/$f.log"; exit 1; }
  fi
done
if [ ${#built[@]} -gt 1 ]; then
  all=$(IFS=,; echo "${built[*]}")
  build together "$all" && measure together "$all"
fi
if [ $full_run = 1 ]; then
  for f in "${ADAPTERS[@]}"; do
    build "$f" "$f" || { cat "$OUT/$f.log"; echo "FAIL: $f does not build"; exit 1; }
    measure "$f"
  done
fi

# RAM: symbol sizes of the `ram` build (size_of on this target); with `embassy`, its run prints
# the size of a call's future and of the operation's own future.
ram_features=ram
[ $full_run = 1 ] && ram_features=ram,embassy
if build ram "$ram_features"; then
  echo
  echo "RAM (size_of on $T), bytes:"
  while read -r size name; do
    MEASURED["ram:${name#SIZE_OF_}"]=$((16#$size))
    printf '  %-28s %5d\n' "${name#SIZE_OF_}" $((16#$size))
  done < <("$LLVM_BIN/llvm-nm" -S --defined-only "$OUT/ram.elf" | awk '$4 ~ /^SIZE_OF_/ {print $2, $4}')
  if [ $full_run = 1 ] && command -v qemu-system-arm >/dev/null; then
    ram_out=$(timeout 20 qemu-system-arm -cpu cortex-m0 -machine microbit -nographic \
      -semihosting-config enable=on,target=native -kernel "$OUT/ram.elf") ||
      { echo "FAIL: the ram build did not exit 0 under QEMU"; failed=1; }
    futures=$(grep -m1 '^call-future' <<<"$ram_out" || true)
    read -r _ call_bytes _ op_bytes <<<"$futures"
    if [ -n "${op_bytes:-}" ]; then
      MEASURED["ram:embassy_call_beyond_op"]=$((call_bytes - op_bytes))
      printf '  %-28s %5d  (call future %d, operation future %d)\n' embassy_call_beyond_op \
        $((call_bytes - op_bytes)) "$call_bytes" "$op_bytes"
    fi
  fi
fi

# The no-panic check must be able to fail: the canary indexes a slice out of bounds.
if [ $full_run = 1 ]; then
  build panic-canary panic-canary || { cat "$OUT/panic-canary.log"; echo "FAIL: panic canary does not build"; exit 1; }
  if [ -z "$(panics "$OUT/panic-canary.elf")" ]; then
    echo "FAIL: the panic canary links no panic symbol: the no-panic check cannot fail"; failed=1
  else
    echo "ok: the panic canary trips the no-panic check ($(panics "$OUT/panic-canary.elf" | head -1))"
  fi
fi

# Budgets: only a full run measures every figure.
[ $full_run = 1 ] || exit $failed
echo
md="| budget | what | measured | ceiling (CI) | goal | goal met |"$'\n'"|---|---|---:|---:|---:|---|"
printf '%-28s %9s %9s %7s  %s\n' budget measured ceiling goal status
for b in "${BUDGETS[@]}"; do
  read -r name goal ceiling what <<<"$b"
  m=${MEASURED[$name]:-}
  if [ -z "$m" ]; then echo "FAIL: $name was not measured"; failed=1; continue; fi
  met=no
  if [ "$m" -gt "$ceiling" ]; then status="OVER CEILING"; failed=1
  elif [ "$goal" = - ]; then status="ok"; met="-"
  elif [ "$m" -le "$goal" ]; then status="ok, goal met"; met=yes
  else status="ok, goal not met (+$((m - goal)))"; fi
  printf '%-28s %9d %9d %7s  %s\n' "$name" "$m" "$ceiling" "$goal" "$status"
  md+=$'\n'"| \`$name\` | $what | $m | $ceiling | $goal | $met |"
done
# bytes N -> "1 234 B"
bytes() { printf '%s B' "$(printf '%d' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\| \)/\1 \2\3/;ta')"; }
fp="| pattern | flash | RAM |"$'\n'"|---|---:|---:|"
for f in "${FOOTPRINT[@]}"; do
  read -r row ram what <<<"$f"
  flash=-; [ "$row" = - ] || flash=$(bytes "${MEASURED["flash:$row"]}")
  cells=()
  if [ "$ram" != - ]; then
    IFS=';' read -ra parts <<<"$ram"
    for part in "${parts[@]}"; do
      label=${part%%=*}; value=$(bytes "${MEASURED[${part#*=}]}")
      case $label in
        '') cells+=("$value") ;;
        future) cells+=("call future: the operation's own + $value") ;;
        *) cells+=("\`$label\` $value") ;;
      esac
    done
  fi
  fp+=$'\n'"| $what | $flash | $(IFS=,; echo "${cells[*]:-}" | sed 's/,/, /g') |"
done
[ -z "${SIZE_REPORT_MARKDOWN:-}" ] || printf '%s\n\n%s\n' "$fp" "$md" >"$SIZE_REPORT_MARKDOWN"
[ $failed = 0 ] && echo "size-report: every figure within its ceiling, no panic path linked" ||
  echo "size-report: FAILED"
exit $failed
