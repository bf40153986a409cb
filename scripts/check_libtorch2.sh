#!/usr/bin/env bash
# Builds the trainer and its tests against the LibTorch inside the PyPI `torch` wheel
# (LibTorch 2.x; CUDA-enabled, so --device cuda and the NCCL process group get compiled
# and linked against the CUDA toolkit here) and runs the trainer tests that need no GPU.
#
# The wheel is fetched without its dependencies (pip download --no-deps: not the multi-GB
# set of nvidia-* runtime wheels); its include/, lib/ and share/ are unpacked into
# build-torch2/. The CUDA toolkit here (13.0) provides cudart, cuBLAS, cuDNN, ...; the
# libraries libtorch_cuda.so needs beyond it come from four small runtime wheels (660 MB
# together): NCCL (the toolkit's 2.28 lacks ncclPutSignal, ncclSignal, ncclCommSuspend, ...
# that torch 2.15 calls), NVSHMEM, cuSPARSELt and cuFile. Gloo's headers, which the wheel
# does not ship, come from Debian's libgloo-dev.
# Usage: scripts/check_libtorch2.sh [torch version, default 2.15.0]
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
version="${1:-2.15.0}"
root="$PWD/build-torch2"
wheel_dir="$root/wheel"
prefix="$root/libtorch/torch"
mkdir -p "$wheel_dir"

if ! ls "$wheel_dir"/torch-"$version"-*.whl > /dev/null 2>&1; then
  echo "check_libtorch2: downloading torch $version (the wheel only)"
  python3 -m pip download "torch==$version" --no-deps -d "$wheel_dir"
fi
if [ ! -f "$prefix/share/cmake/Torch/TorchConfig.cmake" ] || [ "$(cat "$root/libtorch/.version" 2>/dev/null)" != "$version" ]; then
  echo "check_libtorch2: unpacking include/, lib/, share/"
  rm -rf "$root/libtorch"
  python3 - "$wheel_dir" "$version" "$root/libtorch" <<'EOF'
import glob, sys, zipfile
wheel = glob.glob(f"{sys.argv[1]}/torch-{sys.argv[2]}-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if n.startswith(("torch/include/", "torch/lib/", "torch/share/")):
            z.extract(n, sys.argv[3])
EOF
  echo "$version" > "$root/libtorch/.version"
fi
extra=(nvidia-nccl-cu13 nvidia-nvshmem-cu13 nvidia-cusparselt-cu13 nvidia-cufile)
if [ ! -f "$root/nvidia/lib/libnccl.so.2" ]; then
  echo "check_libtorch2: fetching ${extra[*]} (no dependencies) for libtorch_cuda.so"
  python3 -m pip download "${extra[@]}" --no-deps -d "$wheel_dir"
  python3 - "$wheel_dir" "$root/nvidia/lib" <<'EOF'
import glob, os, sys, zipfile
os.makedirs(sys.argv[2], exist_ok=True)
for w in glob.glob(f"{sys.argv[1]}/nvidia_*.whl"):
    with zipfile.ZipFile(w) as z:
        for n in z.namelist():
            if "/lib/" in n and ".so" in os.path.basename(n):
                with open(os.path.join(sys.argv[2], os.path.basename(n)), "wb") as f:
                    f.write(z.read(n))
EOF
fi
nv="$root/nvidia/lib"

# find_package(Torch) searches the system first for its Caffe2 config and libraries:
# point both at the wheel so Debian's LibTorch 1.13 is not picked up instead.
cmake -S . -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DTorch_DIR="$prefix/share/cmake/Torch" \
  -DCaffe2_DIR="$prefix/share/cmake/Caffe2" \
  -DSEMFLOW_BUILD_BENCHMARKS=OFF -DSEMFLOW_BUILD_SAMPLES=OFF \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags -Wl,-rpath-link,$nv -Wl,-rpath,$nv:/usr/local/cuda/lib64"
grep -q "^TORCH_LIBRARY:FILEPATH=$prefix/lib/" "$root/build/CMakeCache.txt" ||
  { echo "check_libtorch2: CMake did not take the wheel's LibTorch"; exit 1; }
cmake --build "$root/build" -j "${JOBS:-2}" --target sfnet sfnet_test
if grep -q "^SEMFLOW_NCCL_INCLUDE:PATH=/" "$root/build/CMakeCache.txt"; then
  echo "check_libtorch2: built with the NCCL process group (SEMFLOW_WITH_NCCL)"
fi
ctest --test-dir "$root/build" -L trainer --output-on-failure --timeout 900 -j "${JOBS:-2}"
echo "check_libtorch2: LibTorch $version build and trainer tests passed in $(( $(date +%s) - t0 )) s"
