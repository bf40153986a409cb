#!/usr/bin/env bash
# The GPU check, for the day a machine with an NVIDIA GPU is available: runs semflow's CUDA
# test (DNN_BACKEND_CUDA against the CPU path, <= 1e-4 on grids) and times the 320x320 pair
# on DNN_TARGET_CUDA and DNN_TARGET_CUDA_FP16, in well under 5 minutes.
#
# Two steps, because building OpenCV with CUDA takes far longer than the check may:
#   here (no GPU needed):   scripts/gpu_check.sh --bundle [--build-dir D]
#       builds OpenCV + semflow with --cuda (scripts/build_opencv.sh, shared libraries) and packs
#       the test binary, the C++ demo and the OpenCV libraries they load into
#       build/gpu_bundle.tar.xz (the script refuses a bundle over 60 MB);
#   on the GPU machine:     scripts/gpu_check.sh [--r101 MODEL.onnx]
#       unpacks build/gpu_bundle.tar.xz (CUDA, cuBLAS and cuDNN come from the machine) and runs.
#   --r101 MODEL.onnx       also time a ResNet-101 SFNet export (682 MB, so it is not carried:
#                           `sfnet export` on that machine, or any copy of one).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
t0=$SECONDS
say() { echo "gpu_check: [$((SECONDS - t0))s] $*"; }
bundle_tar="$repo/build/gpu_bundle.tar.xz"
limit_mb=60

mode=run
r101=""
build_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) mode=bundle ;;
    --r101) r101="${2:?--r101 needs a model path}"; shift ;;
    --build-dir) build_args+=(--build-dir "${2:?}"); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

if [ "$mode" = bundle ]; then
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  # 4.14: the version whose CUDA build is known to compile and link (doc/building_in_opencv.md);
  # OpenCV 5's CUDA build has not been tried.
  ./scripts/build_opencv.sh --cuda --version 4.14.0.94 "${build_args[@]}" | tee "$log"
  bld="$(sed -n 's/^build_opencv: BUILD_DIR=//p' "$log" | tail -1)"
  demo="$(sed -n 's/^build_opencv: DEMO=//p' "$log" | tail -1)"
  stage="$(mktemp -d)"
  mkdir -p "$stage/bin" "$stage/lib"
  cp "$bld/bin/opencv_test_semflow" "$stage/bin/"
  [ -n "$demo" ] && cp "$demo" "$stage/bin/semflow_demo"
  cp -P "$bld"/lib/libopencv_*.so* "$stage/lib/"
  strip --strip-unneeded "$stage"/bin/* "$stage"/lib/*.so.*.* 2>/dev/null || true
  tar -C "$stage" -cJf "$bundle_tar" bin lib
  rm -rf "$stage"
  mb=$(( $(stat -c %s "$bundle_tar") / 1048576 ))
  say "wrote $bundle_tar (${mb} MB)"
  if [ "$mb" -ge "$limit_mb" ]; then
    echo "gpu_check: the bundle is ${mb} MB, over the ${limit_mb} MB limit" >&2
    exit 1
  fi
  exit 0
fi

# --- on the GPU machine ------------------------------------------------------------------------
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  || { echo "gpu_check: no nvidia-smi: this is not a GPU machine" >&2; exit 1; }
[ -f "$bundle_tar" ] || { echo "gpu_check: $bundle_tar missing: run scripts/gpu_check.sh --bundle first" >&2; exit 1; }
run="$(mktemp -d)"
tar -C "$run" -xJf "$bundle_tar"
cuda_lib="${CUDA_HOME:-/usr/local/cuda}/lib64"
export LD_LIBRARY_PATH="$run/lib:$cuda_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OPENCV_TEST_DATA_PATH="$repo/test_data"
say "bundle unpacked in $run"

say "CUDA test: DNN_BACKEND_CUDA vs the CPU path"
OPENCV_TEST_REQUIRE_DATA=1 "$run/bin/opencv_test_semflow" --gtest_filter='Semflow_CUDA*:*cuda*'

if [ -x "$run/bin/semflow_demo" ]; then
  for backend in opencv cuda cuda-fp16; do
    say "bundled model, 320x320, backend $backend"
    "$run/bin/semflow_demo" test_data/semflow/demo/source.png test_data/semflow/demo/target.png \
      --model=test_data/semflow/models/semflow_tiny.onnx --backend="$backend" --runs=10 --out="$run/out_$backend"
    if [ -n "$r101" ]; then
      say "ResNet-101 model $r101, 320x320, backend $backend"
      "$run/bin/semflow_demo" test_data/semflow/demo/source.png test_data/semflow/demo/target.png \
        --model="$r101" --backend="$backend" --runs=5 --out="$run/r101_$backend"
    fi
  done
fi
say "done"
