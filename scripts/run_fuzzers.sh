#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) in build-fuzz and runs each
# for N seconds (default 60), one after the other, on a copy of its seed corpus from
# test_data/semflow/fuzz/<target>/. New corpus entries stay in build-fuzz/corpus/<target>; crashes,
# hangs (> 60 s per input), leaks and sanitizer reports are written as
# build-fuzz/findings/<target>/crash-*|timeout-*|leak-*|oom-* and make the script fail.
#
#   scripts/run_fuzzers.sh [seconds] [target...]
#
# Run it under `nice -n 19` on a shared machine. Environment: SEMFLOW_FUZZ_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
seconds=${1:-60}
shift || true
build_dir=${SEMFLOW_FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(fuzz_onnx_model fuzz_pth_reader fuzz_loader_pf_pascal fuzz_loader_pf_willow fuzz_loader_spair
             fuzz_flo fuzz_flow_utils)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")

command -v clang++ >/dev/null || { echo "run_fuzzers: clang++ not found (scripts/install_deps.sh)"; exit 1; }
echo "run_fuzzers: building ${targets[*]} in $build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSEMFLOW_BUILD_FUZZERS=ON \
  -DSEMFLOW_BUILD_TESTS=OFF -DSEMFLOW_BUILD_TRAINER=OFF -DSEMFLOW_BUILD_SAMPLES=OFF \
  -DSEMFLOW_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_dir" --target "${targets[@]}" -j "${SEMFLOW_FUZZ_JOBS:-2}"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
failed=()
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  findings="$build_dir/findings/$t"
  mkdir -p "$corpus" "$findings"
  seeds="test_data/semflow/fuzz/$t"
  ts=$(date +%s)
  echo "run_fuzzers: $t for $seconds s (seeds: $seeds)"
  # -rss_limit_mb: an input that makes us allocate gigabytes is a finding (an unbounded size).
  rc=0
  TIMEFORMAT="  $t: %R s wall, %U s user + %S s system CPU"
  time { "$build_dir/fuzz/$t" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
       -malloc_limit_mb=1024 -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 \
       >"$build_dir/findings/$t.log" 2>&1 || rc=$?; }
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "run_fuzzers: $t FAILED, see $build_dir/findings/$t.log and $findings/"
    tail -n 40 "$build_dir/findings/$t.log"
  fi
  grep -E '^stat::number_of_executed_units|^Done' "$build_dir/findings/$t.log" | sed "s/^/  $t: /" || true
  echo "run_fuzzers: $t took $(( $(date +%s) - ts )) s"
done
echo "run_fuzzers: total $(( $(date +%s) - t0 )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "run_fuzzers: findings in ${failed[*]}"
  exit 1
fi
