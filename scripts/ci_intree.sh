#!/usr/bin/env bash
# The in-tree CI stage: builds the newest OpenCV (5.1; --version 4.14.0.94 for the newest 4.x)
# with semflow inside it
# (scripts/build_opencv.sh), then runs the module's C++ tests under OpenCV's ts
# (opencv_test_semflow), one sample of each perf case (opencv_perf_semflow) and its Python tests (pytest, modules/semflow/misc/python/test).
# Test data is found the OpenCV way: OPENCV_TEST_DATA_PATH=<repo>/test_data.
# Arguments go to build_opencv.sh (e.g. --build-dir D, --version X).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
t0=$SECONDS
say() { echo "ci_intree: [$((SECONDS - t0))s] $*"; }

./scripts/install_deps.sh
say "dependencies ready"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
./scripts/build_opencv.sh "$@" | tee "$log"
get() { sed -n "s/^build_opencv: $1=//p" "$log" | tail -1; }
bld="$(get BUILD_DIR)"
venv="$(get VENV)"
src="$(get SRC_DIR)"
demo="$(get DEMO)"
say "OpenCV with semflow built in $bld"

export OPENCV_TEST_DATA_PATH="$repo/test_data"
# Fail rather than skip when a fixture is missing: CI has the whole test_data/ tree.
export OPENCV_TEST_REQUIRE_DATA=1

say "C++: opencv_test_semflow"
"$bld/bin/opencv_test_semflow"
say "C++ tests passed"

say "C++: opencv_perf_semflow, one sample per case (that the cases run under OpenCV's ts)"
"$bld/bin/opencv_perf_semflow" --perf_min_samples=1 --perf_force_samples=1

say "Python: pytest modules/semflow/misc/python/test"
PYTHONPATH="$src/opencv/modules/python/test" SEMFLOW_DEMO_BIN="$demo" \
  "$venv/bin/python" -m pytest -q -rs modules/semflow/misc/python/test
say "Python tests passed"

say "in-tree stage done in $((SECONDS - t0))s"
