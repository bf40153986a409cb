#!/usr/bin/env bash
# The demo from a fresh Debian 12 machine: installs the dependencies, builds the OpenCV
# module and the samples (LibTorch is not needed for this), and runs semflow_demo on the
# bundled image pair with the bundled model. Pictures land in out/demo/.
# Extra arguments go to semflow_demo (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install_deps.sh
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSEMFLOW_BUILD_TRAINER=OFF -DSEMFLOW_BUILD_TESTS=OFF -DSEMFLOW_BUILD_BENCHMARKS=OFF
cmake --build build-demo --target semflow_demo semflow_keypoints
./build-demo/samples/semflow_demo --out=out/demo "$@"
