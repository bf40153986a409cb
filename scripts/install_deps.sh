#!/usr/bin/env bash
# Installs every Debian 12 package semflow needs to build, test and benchmark.
# Idempotent: packages already present are left alone; safe to run repeatedly.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libopencv-dev
  libtorch-dev libgloo-dev  # libgloo-dev: headers c10d ProcessGroupGloo.hpp includes
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas0-pthread
  clang libclang-rt-14-dev
  python3
  # EfficientNet-Lite: the import's reference test runs the PyPI model code on Debian's torch
  # (scripts/setup_effnet.sh makes the venv).
  python3-torch python3-venv
  # Real photographs for the demo and the accuracy tests (evaluation only, never training).
  darknet python3-skimage
  # Photo cut-outs (RGBA, alpha = mask) and background photographs: the default model's
  # composite training data and its held-out mammal evaluation (scripts/make_composite_lists.sh).
  tuxpaint-stamps-default mate-backgrounds plasma-workspace-wallpapers
  python3-matplotlib   # scripts/plot_training.py (the default model's training curve)
  # scripts/build_opencv.sh (OpenCV from the PyPI sdist, cv2 in a venv): Python headers and
  # venv, and the image libraries imgcodecs links instead of building its bundled copies.
  python3-dev python3-venv libpng-dev libjpeg-dev zlib1g-dev
  python3-torchvision python3-numpy   # bench/sfnet_torch_reference.py
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
