#!/usr/bin/env bash
# Builds the CTest suite (module, trainer, samples) with AddressSanitizer + UndefinedBehavior-
# Sanitizer (and LeakSanitizer, part of ASan) in its own build tree and runs it. Any sanitizer
# report fails the test that triggered it, so a green run means no report.
#
#   scripts/run_sanitizers.sh                 # everything
#   scripts/run_sanitizers.sh -R 'Training'   # extra arguments go to ctest (a lighter selection)
#
# Environment: SEMFLOW_SANITIZER_BUILD_DIR (default build-asan), SEMFLOW_SANITIZER_JOBS
# (default: all cores), SEMFLOW_SANITIZER_CMAKE_ARGS (extra configure arguments, e.g.
# -DSEMFLOW_BUILD_TRAINER=OFF for the module alone, -DSEMFLOW_TRAINER_IO_ONLY=ON for the module
# plus the trainer's LibTorch-free file readers, as CI does), CC/CXX (default gcc; clang works too).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)

build_dir=${SEMFLOW_SANITIZER_BUILD_DIR:-build-asan}
jobs=${SEMFLOW_SANITIZER_JOBS:-$(nproc)}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

echo "run_sanitizers: configuring $build_dir (ASan + UBSan + LSan)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" \
  -DSEMFLOW_BUILD_BENCHMARKS=OFF ${SEMFLOW_SANITIZER_CMAKE_ARGS:-} >/dev/null
echo "run_sanitizers: building with $jobs jobs"
cmake --build "$build_dir" -j "$jobs"
t1=$(date +%s)

supp="$PWD/scripts/sanitizers"
# halt_on_error + exitcode: a report ends the test binary with a failure.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=66:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=67:suppressions=$supp/ubsan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
echo "run_sanitizers: running ctest $*"
status=0
ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure --timeout 1800 "$@" || status=$?
t2=$(date +%s)
echo "run_sanitizers: build $((t1 - t0)) s, tests $((t2 - t1)) s, total $((t2 - t0)) s; ctest exit $status"
exit $status
