#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time on a copy of its seed corpus. Fails on any crash, leak,
# sanitizer report or violated property, and when clang or its libFuzzer
# runtime is missing: a fuzz run that cannot happen is a failure, not a pass.
#
#   tests/fuzz/run_fuzz.sh [SOURCE_DIR [BUILD_DIR]]
#
# Environment: YILIAN_FUZZ_SECONDS (per target, default 12),
# YILIAN_FUZZ_TARGETS (default: all), YILIAN_JOBS (build jobs, default 2).
# The build directory is reused, so only the first run pays for the build.
set -euo pipefail

src="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)"
build="${2:-$src/build-fuzz}"
seconds="${YILIAN_FUZZ_SECONDS:-12}"
read -r -a targets <<<"${YILIAN_FUZZ_TARGETS:-fuzz_envelope fuzz_validate fuzz_json fuzz_cipher}"
jobs="${YILIAN_JOBS:-2}"

fail() {
  echo "run_fuzz: FAIL: $*" >&2
  exit 1
}

command -v clang >/dev/null && command -v clang++ >/dev/null ||
  fail "clang/clang++ not found; install them with scripts/setup (Debian packages clang, libclang-rt-14-dev)"

# libFuzzer ships in clang's runtime package; without it -fsanitize=fuzzer
# does not link.
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe/p.cc"
clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" >"$probe/log" 2>&1 ||
  fail "clang cannot link a libFuzzer program (is libclang-rt-14-dev installed? run scripts/setup):
$(head -5 "$probe/log")"

mkdir -p "$build"
if [[ ! -f "$build/CMakeCache.txt" ]] || ! grep -q '^YILIAN_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "run_fuzz: configuring a clang fuzz build in $build"
  # -O1 with line tables: the usual fuzzing trade-off, and a quicker build.
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
    -DYILIAN_FUZZ=ON -DYILIAN_BUILD_TESTS=OFF -DYILIAN_BUILD_BENCH=OFF >"$build/configure.log" 2>&1 ||
    fail "cmake configure failed; see $build/configure.log"
fi
echo "run_fuzz: building ${targets[*]}"
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$build/build.log" 2>&1 ||
  { tail -30 "$build/build.log" >&2; fail "build failed; see $build/build.log"; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for t in "${targets[@]}"; do
  seeds="$src/tests/fuzz/corpus/$t"
  [[ -d "$seeds" ]] || fail "no seed corpus $seeds"
  work="$build/run/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$seeds"/* "$work/corpus/"
  echo "run_fuzz: $t for ${seconds}s ($(ls "$seeds" | wc -l) seeds)"
  if "$build/tests/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$work/log" | tr '\n' ' ' || true
    echo
  else
    status=1
    tail -60 "$work/log" >&2
    echo "run_fuzz: $t FAILED; reproducer(s): $(ls "$work/artifacts")" >&2
    echo "run_fuzz: rerun with $build/tests/fuzz/$t $work/artifacts/<file>" >&2
  fi
done
[[ $status -eq 0 ]] || fail "at least one fuzz target failed"
echo "run_fuzz: all targets ran without failures"
