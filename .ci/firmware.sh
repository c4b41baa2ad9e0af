#!/usr/bin/env bash
# Firmware CI for steadfast: both QEMU images built and run with their exit status
# checked, the defmt variant decoded by defmt-print, the no-allocator, no-float and no-panic
# proofs (each with a canary that must trip it), a panic that must exit 1, and size reports
# checked against their budgets.
# Callable from anywhere (usually `bash .ci/firmware.sh` from the repo root); installs
# what it needs only if missing. Recipe and measurements: ../shared/EMBEDDED.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FW="$ROOT/examples/firmware"
M4=thumbv7em-none-eabihf   # QEMU mps2-an386, Cortex-M4F
M0=thumbv6m-none-eabi      # QEMU microbit, Cortex-M0: no FPU, no CAS atomics
# A CARGO_TARGET_DIR from the caller is honoured; otherwise each workspace builds in its own target/.
ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FW_TARGET="${CARGO_TARGET_DIR:-$FW/target}"
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0 CARGO_TARGET_DIR="$FW_TARGET"
ELF="$FW_TARGET/ci"        # each variant's ELF is copied here under its own name
QEMU_TIMEOUT=60

T0=$(date +%s%N)
TIMES=()
step() {
  local name=$1 step_t0; shift
  step_t0=$(date +%s%N)
  printf '\n=== firmware: %s (%s)\n' "$name" "$(date +%T)"
  "$@"
  TIMES+=("$(printf '%-12s %7d ms' "$name" $((($(date +%s%N) - step_t0) / 1000000)))")
}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
# expect_fail CMD...: CMD must fail; its output is kept in $LOG
expect_fail() {
  if "$@" >"$LOG" 2>&1; then echo "EXPECTED FAILURE, but it succeeded: $*"; return 1; fi
  echo "ok, failed as expected: $*"
}

# --- tools ---------------------------------------------------------------------------------
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
toolchain() {
  rustup target add "$M0" "$M4"
  rustup component add llvm-tools
}
qemu_tool() {
  if ! command -v qemu-system-arm >/dev/null; then
    # NB: on this Debian, installing bookworm's qemu-system-arm replaces a backports qemu-utils
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends qemu-system-arm
  fi
  qemu-system-arm --version | head -1
}
defmt_tool() {
  command -v defmt-print >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/defmt-print" ] ||
    cargo install --locked defmt-print --version 1.2.0
  DEFMT_PRINT=$(command -v defmt-print || echo "${CARGO_HOME:-$HOME/.cargo}/bin/defmt-print")
  "$DEFMT_PRINT" --version
}
LLVM_BIN="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"

# --- helpers -------------------------------------------------------------------------------
# fw TARGET NAME [cargo args...]: release build of steadfast-firmware, ELF copied to $ELF/NAME.
# Explicit `|| return`: under `expect_fail` (an `if`) bash ignores `set -e` inside functions.
fw() {
  local target=$1 name=$2; shift 2
  rm -f "$ELF/$name"
  (cd "$FW" && cargo build --release --locked -p steadfast-firmware --target "$target" "$@") || return 1
  mkdir -p "$ELF" && cp "$FW_TARGET/$target/release/steadfast-firmware" "$ELF/$name"
}
# Virtual time counts instructions (-icount, no sleeping, no alignment to the host clock): each
# run's timeline is the same whatever else loads the machine. A shift of 6 is 64 ns an
# instruction (about the microbit's 16 MHz M0), 5 is 32 ns (about mps2-an386's 25 MHz M4).
qemu_cmd() {
  case $1 in
    "$M4") echo "qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -icount shift=5,align=off,sleep=off" ;;
    "$M0") echo "qemu-system-arm -cpu cortex-m0 -machine microbit -icount shift=6,align=off,sleep=off" ;;
  esac
}
# qemu TARGET ELF: runs the image; prints its output; returns QEMU's exit status
qemu() {
  # shellcheck disable=SC2046
  timeout "$QEMU_TIMEOUT" $(qemu_cmd "$1") -nographic -semihosting-config enable=on,target=native -kernel "$2"
}
# check_no_float FILE...: fails if a soft-float helper or float formatting is defined or referenced.
# Meaningful on thumbv6m (soft float: every f32/f64 op is a call); on M4F f32 is inline VFP code.
check_no_float() {
  local re='__aeabi_([fd][a-z0-9]|[a-z]*2[fd]$)|__(add|sub|mul|div|neg|pow|cmp|eq|ne|lt|le|gt|ge|unord)[sdt]f|__(fix|fixuns)[sdt]f|__float(un)?[sdt]i|__(extend|trunc)[sdht]f|flt2dec|dec2flt|fmt::float'
  local bad=0 f hits
  for f in "$@"; do
    hits=$("$LLVM_BIN/llvm-nm" -C "$f" | grep -E "$re" || true)
    if [ -n "$hits" ]; then echo "FLOAT USE in $f:"; echo "$hits" | head -20; bad=1; else echo "no float symbols: $f"; fi
  done
  return $bad
}
# check_no_vfp ELF: no VFP/FP instruction in an M4F image (f32 math there is inline, not a call)
check_no_vfp() {
  local hits
  hits=$("$LLVM_BIN/llvm-objdump" -d "$1" | grep -E $'\tv[a-z]+\\.(f16|f32|f64)\\b|\tvmov\t[sd][0-9]|\tvcvt' || true)
  if [ -n "$hits" ]; then echo "FP INSTRUCTIONS in $1:"; echo "$hits" | head -10; return 1; fi
  echo "no FP instructions: $1"
}

# --- steps ---------------------------------------------------------------------------------
lint() {
  (cd "$FW"
    rustfmt --edition 2024 --check src/*.rs build.rs size-m0/src/main.rs size-m0/build.rs
    # thumbv6m only: the two boards differ in two constants; M0 is the stricter target
    cargo clippy --release --locked --workspace --target "$M0" -- -D warnings
    cargo clippy --release --locked -p steadfast-firmware --target "$M0" --features defmt -- -D warnings)
}
adapter() {
  # steadfast-embassy alone, for both targets, plain and defmt (root workspace, its own target dir)
  local t
  for t in "$M0" "$M4"; do
    (cd "$ROOT" && CARGO_TARGET_DIR="$ROOT_TARGET" cargo build --release --locked -p steadfast-embassy --target "$t")
    (cd "$ROOT" && CARGO_TARGET_DIR="$ROOT_TARGET" cargo build --release --locked -p steadfast-embassy --target "$t" --features defmt)
  done
}
build() {
  fw "$M4" m4
  fw "$M0" m0
}
run() {
  local t name out rc
  for t in "$M4" "$M0"; do
    name=$([ "$t" = "$M4" ] && echo m4 || echo m0)
    set +e; out=$(qemu "$t" "$ELF/$name" 2>&1); rc=$?; set -e
    echo "$out"
    [ "$rc" = 0 ] || { echo "FAIL: $name under QEMU exited $rc"; return 1; }
    grep -q '^PASS' <<<"$out" || { echo "FAIL: $name printed no PASS line"; return 1; }
    echo "ok: $name exited 0"
  done
}
defmt_run() {
  local t name out rc
  for t in "$M4" "$M0"; do
    name=$([ "$t" = "$M4" ] && echo m4 || echo m0)-defmt
    DEFMT_LOG=info fw "$t" "$name" --features defmt
    set +e
    out=$(qemu "$t" "$ELF/$name" | "$DEFMT_PRINT" -e "$ELF/$name" 2>&1; echo "rc=${PIPESTATUS[0]}")
    set -e
    echo "$out"
    rc=$(sed -n 's/^rc=//p' <<<"$out")
    [ "$rc" = 0 ] || { echo "FAIL: $name under QEMU exited $rc"; return 1; }
    grep -q 'INFO  PASS' <<<"$out" || { echo "FAIL: $name: no decoded PASS line"; return 1; }
    echo "ok: $name exited 0, decoded by defmt-print"
  done
}
panic_exits_1() {
  # a panic must end the run with status 1: not 0, and not a hang (124 from timeout)
  local rc
  fw "$M0" m0-fail --features fail-demo
  set +e; qemu "$M0" "$ELF/m0-fail"; rc=$?; set -e
  [ "$rc" = 1 ] || { echo "FAIL: panicking m0 image exited $rc, expected 1"; return 1; }
  DEFMT_LOG=info fw "$M4" m4-defmt-fail --features defmt,fail-demo
  set +e; qemu "$M4" "$ELF/m4-defmt-fail" | "$DEFMT_PRINT" -e "$ELF/m4-defmt-fail"; rc=${PIPESTATUS[0]}; set -e
  [ "$rc" = 1 ] || { echo "FAIL: panicking m4 defmt image exited $rc, expected 1"; return 1; }
  echo "ok: panics exit 1 (semihosting panic handler; panic-probe + HardFault handler)"
}
no_alloc() {
  # The proof: $ELF/m0 is a thumbv6m `no_main` binary with no #[global_allocator] that links,
  # so nothing in its dependency graph (steadfast, embassy, heapless, defmt...) uses `alloc`.
  echo "linked without a global allocator: $ELF/m0 $ELF/m4 $ELF/m0-defmt $ELF/m4-defmt"
  # The canary: the same firmware plus `extern crate alloc` + a Vec must fail to link.
  expect_fail fw "$M0" m0-alloc-canary --features alloc-canary
  grep -q 'no global memory allocator found' "$LOG" || { cat "$LOG"; echo "FAIL: canary failed for another reason"; return 1; }
  echo "ok: alloc canary fails with 'no global memory allocator found'"
}
no_float() {
  check_no_float "$ELF/m0" "$ELF/m0-defmt"
  check_no_vfp "$ELF/m4"
  fw "$M0" m0-float-canary --features float-canary
  expect_fail check_no_float "$ELF/m0-float-canary"
  cat "$LOG"
  fw "$M4" m4-float-canary --features float-canary
  expect_fail check_no_vfp "$ELF/m4-float-canary"
  cat "$LOG"
}
# panic_callers ELF -> "caller -> callee" for every function outside `core` that calls into the
# panic machinery, directly or through `core` functions that can panic (`RefCell::borrow_mut`...)
panic_callers() {
  "$LLVM_BIN/llvm-objdump" -d -C --no-show-raw-insn "$1" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
    /\tbl?\t.*</ { callee = $0; sub(/.*</, "", callee); sub(/>.*/, "", callee); sub(/\+0x[0-9a-f]+$/, "", callee)
                   if (callee != fn) edge[fn " -> " callee] = 1 }
    END {
      for (e in edge) { split(e, p, " -> "); if (p[2] ~ /^(core::panicking::|core::cell::panic_already|core::option::(unwrap|expect)_failed|core::result::unwrap_failed|core::slice::index::)/) bad[p[2]] = 1 }
      do { grew = 0
        for (e in edge) { split(e, p, " -> ")
          if ((p[2] in bad) && !(p[1] in bad) && p[1] ~ /^(core::|_\$LT\$core\.\.|<core::)/) { bad[p[1]] = 1; grew = 1 } }
      } while (grew)
      for (e in edge) { split(e, p, " -> "); if ((p[2] in bad) && !(p[1] in bad)) print e }
    }' | sort -u
}
no_panic() {
  # The proof proper is in size-report (sizes step): every size-m0 probe, each pattern, the
  # pipeline and steadfast-embassy's Policy::call, links no panic symbol at all (a canary must
  # trip it). The full firmware links panics of its own (the executor's async tasks, its time
  # driver's RefCell, its async bus mutex): here no function of steadfast's may call into them.
  local n hits bad=0
  for n in m0 m4 m0-defmt m4-defmt; do
    hits=$(panic_callers "$ELF/$n" | grep -E '^(steadfast(_embassy)?::|_\$LT\$steadfast(_embassy)?\.\.)' || true)
    if [ -n "$hits" ]; then echo "PANIC PATH from steadfast in $n:"; echo "$hits"; bad=1
    else echo "no steadfast function calls a panic in $n ($(panic_callers "$ELF/$n" | wc -l) calls from elsewhere)"; fi
  done
  return $bad
}
sizes() {
  local n steadfast_bytes size
  printf '%-10s %7s %7s %7s %6s %6s  %s\n' image .text .rodata .data .bss flash "bytes in symbols named steadfast::* (inlined code not counted)"
  for n in m0 m4 m0-defmt m4-defmt; do
    steadfast_bytes=0
    while read -r size; do steadfast_bytes=$((steadfast_bytes + 16#$size)); done < <(
      "$LLVM_BIN/llvm-nm" -C -S --defined-only "$ELF/$n" | awk '$4 ~ /steadfast::/ {print $2}')
    "$LLVM_BIN/llvm-size" -A "$ELF/$n" | awk -v n="$n" -v st="$steadfast_bytes" '
      {sz[$1]=$2} END {printf "%-10s %7d %7d %7d %6d %6d  %d\n", n, sz[".text"], sz[".rodata"], sz[".data"], sz[".bss"],
        sz[".vector_table"]+sz[".text"]+sz[".rodata"]+sz[".data"], st}'
  done
  echo
  # every pattern's probe builds against the real API: a broken one fails CI
  SIZE_REPORT_STRICT=1 LLVM_BIN="$LLVM_BIN" bash "$ROOT/scripts/size-report.sh"
}

step toolchain toolchain
step qemu-tool qemu_tool
step defmt-tool defmt_tool
step lint lint
step adapter adapter
step build build
step run run
step defmt defmt_run
step panic panic_exits_1
step no-alloc no_alloc
step no-float no_float
step no-panic no_panic
step sizes sizes

printf '\n=== firmware: timings\n'
printf '%s\n' "${TIMES[@]}"
echo "firmware: ${#TIMES[@]} steps passed, 0 failed in $((($(date +%s%N) - T0) / 1000000000)) s"
