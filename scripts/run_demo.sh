#!/usr/bin/env bash
# The demo from a fresh Debian 12 machine: installs the dependencies, builds the OpenCV
# module and the samples (LibTorch is not needed for this), and runs semflow_demo with the
# default model (test_data/semflow/models/semflow_effnet_lite0.onnx) on two real photographs of
# different horses: crops of Debian's darknet sample photo horses.jpg, one horse each
# (test_data/semflow/photo_pairs/crops/CROPS.md; evaluation photos, never trained on). Pictures
# land in out/demo/.
#
#   scripts/run_demo.sh                         the two horses
#   scripts/run_demo.sh SOURCE.jpg TARGET.jpg   your own pair (same category, e.g. two dogs)
#   scripts/run_demo.sh --cartoon               the bundled cartoon pair with the tiny model
# Other arguments go to semflow_demo (try --help), e.g. --model=... or --out=...
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

./scripts/install_deps.sh
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSEMFLOW_BUILD_TRAINER=OFF -DSEMFLOW_BUILD_TESTS=OFF -DSEMFLOW_BUILD_BENCHMARKS=OFF
cmake --build build-demo --target semflow_demo semflow_keypoints

args=() positional=0 model=0 out=0 cartoon=0
for a in "$@"; do
  case "$a" in
    --cartoon) cartoon=1; continue ;;
    --model=*|-m=*) model=1 ;;
    --out=*|-o=*) out=1 ;;
    -*) ;;
    *) positional=$((positional + 1)) ;;
  esac
  args+=("$a")
done
if [ "$cartoon" -eq 1 ]; then
  [ "$model" -eq 1 ] || args+=("--model=test_data/semflow/models/semflow_tiny.onnx")
else
  [ "$model" -eq 1 ] || args+=("--model=test_data/semflow/models/semflow_effnet_lite0.onnx")
  if [ "$positional" -eq 0 ]; then
    crops=test_data/semflow/photo_pairs/crops
    args=("$crops/darknet_horses_h1.jpg" "$crops/darknet_horses_h3.jpg" "${args[@]}")
  fi
fi
[ "$out" -eq 1 ] || args+=("--out=out/demo")
echo "run_demo: semflow_demo ${args[*]}"
./build-demo/samples/semflow_demo "${args[@]}"
echo "run_demo: done in $(( $(date +%s) - start )) s"
