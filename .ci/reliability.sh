#!/usr/bin/env bash
# Reliability CI for steadfast: Miri on the core (host, 32-bit, big-endian),
# each fuzz target for a short bounded time, loom models of the std adapter's shared
# handles. Callable from anywhere; installs what it needs only if missing; idempotent.
# Budget: ~12 min on 2 cores. Longer local runs and figures: RELIABILITY.md.
#   FUZZ_SECONDS=20   seconds per fuzz target (CI default)
#   SKIP_MIRI_CROSS=1 host Miri only
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_FLAGS="-O -a -s none"
FUZZ_TARGETS="breaker bulkhead retry pipeline config admission latency"
# Miri: proptest needs getcwd (failure persistence) → isolation off; doctests are left
# to the normal test run (each would be a separate Miri compile + run).
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"

T0=$(date +%s)
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
TIMES=()
step() {
  local name=$1 t0; shift
  t0=$(date +%s)
  printf '\n=== reliability: %s (%s)\n' "$name" "$(date +%T)"
  "$@"
  TIMES+=("$(printf '%-22s %5d s' "$name" $(($(date +%s) - t0)))")
}

tools() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  rustup component add --toolchain nightly miri rust-src
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz --version 0.13.2
  fi
  cargo +nightly fuzz --version
}

# Host: every unit, property (Miri-sized) and clock-abuse test. Cross targets (usize
# and endianness): the unit tests, clock abuse and trait tests; MIRI_FULL=1 runs all.
miri() {
  cargo +nightly miri test --locked -p steadfast --lib --tests
}
miri_cross() {
  if [ -n "${MIRI_FULL:-}" ]; then
    cargo +nightly miri test --locked -p steadfast --lib --tests --target "$1"
  else
    cargo +nightly miri test --locked -p steadfast --lib --test clock_abuse --test bulkhead_traits --target "$1"
  fi
}

fuzz() {
  local t
  # One build for all targets, then each runs for FUZZ_SECONDS; a crash fails the step
  # (the input is in fuzz/artifacts/<target>/; replay: FUZZ_TRACE=1 cargo +nightly fuzz run <target> <file>).
  # -a: debug assertions and overflow checks (an accidental overflow panics, so it is
  # found); -s none: no ASan (the core and the adapters forbid unsafe code; the build
  # is ~2x faster and so are the runs).
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  cargo +nightly fuzz build $FUZZ_FLAGS
  for t in $FUZZ_TARGETS; do
    # shellcheck disable=SC2086
    if ! cargo +nightly fuzz run $FUZZ_FLAGS "$t" -- -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 >"$LOG" 2>&1; then
      tail -60 "$LOG"
      echo "fuzz target $t FAILED"
      return 1
    fi
    echo "$t: $(grep -E '^Done' "$LOG")"
  done
}

loom() {
  # tokio is left out: `--cfg loom` would switch it into its own internal loom mode.
  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/loom" \
    cargo test --locked -p steadfast-std --no-default-features --release --test loom
}

bad_input() {
  # Every invalid value/file/env var names its key; RELIABILITY.md's table is current.
  cargo test --locked -p steadfast-std --features config --test bad_input
}

step tools tools
step "bad input table" bad_input
step "miri (host)" miri
if [ -z "${SKIP_MIRI_CROSS:-}" ]; then
  step "miri (i686, 32-bit)" miri_cross i686-unknown-linux-gnu
  step "miri (s390x, BE)" miri_cross s390x-unknown-linux-gnu
fi
step "fuzz (${FUZZ_SECONDS}s x $(wc -w <<<"$FUZZ_TARGETS"))" fuzz
step loom loom

printf '\n=== reliability: timings\n'
printf '%s\n' "${TIMES[@]}"
echo "reliability: all passed in $(($(date +%s) - T0)) s"
