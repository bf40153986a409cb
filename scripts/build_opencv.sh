#!/usr/bin/env bash
# Builds the newest OpenCV release that PyPI serves as the source distribution of
# opencv-contrib-python-headless, with semflow inside it (OPENCV_EXTRA_MODULES_PATH=<repo>/modules),
# by CMake on the unpacked sdist. Gives both deliverables of an in-tree build:
#   <build>/bin/opencv_test_semflow     the module's C++ tests under OpenCV's ts
#   <build>/venv/bin/python -c 'import cv2; cv2.SemanticFlow'   a cv2 with semflow
#   <build>/<key>/semflow_demo/build/semflow_demo               the C++ demo on this OpenCV
#
# Usage: scripts/build_opencv.sh [--cuda] [--version X] [--build-dir D] [--configure-only]
#        scripts/build_opencv.sh --wheel [--full] [--version X] [--build-dir D]
#   --version X      PyPI version of opencv-contrib-python-headless (default 5.1.0.95, the newest
#                    release PyPI serves; 4.14.0.94 is the newest 4.x)
#   --build-dir D    root of everything this script makes (default <repo>/build/opencv)
#   --cuda           WITH_CUDA, WITH_CUDNN, OPENCV_DNN_CUDA, CUDA_ARCH_BIN=9.0 (H100/H200)
#   --configure-only stop after CMake's configure step (to check a configuration quickly)
#   --wheel          instead: build an installable wheel, opencv-contrib-python-headless X+semflow,
#                    by the sdist's own build (pip wheel: scikit-build, its CMake arguments) with
#                    semflow added to its opencv_contrib modules; into <build-dir>/wheels/
#   --full           with --wheel: every module of the upstream wheel (default: the modules semflow
#                    needs, plus videoio, highgui, features2d and calib: far shorter to build;
#                    --full has not been built here, well over an hour on 2 cores)
#
# Network is used only here, at set-up: pip downloads the sdist and the venv's packages. Each
# step is skipped when its result is already there (download, unpack, venv, configure), and the
# build itself is an incremental Ninja build, so a second run costs seconds. The cache is an
# optimisation: delete the build dir and the script starts from nothing.
# Ends with "build_opencv: KEY=<path>" lines (SRC_DIR, VENV, DEMO, BUILD_DIR) for other scripts.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
version="5.1.0.95"
root="$repo/build/opencv"
cuda=0
configure_only=0
wheel=0
full=0
jobs="${SEMFLOW_JOBS:-2}"

while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) cuda=1 ;;
    --version) version="${2:?--version needs a value}"; shift ;;
    --build-dir) root="${2:?--build-dir needs a value}"; shift ;;
    --configure-only) configure_only=1 ;;
    --wheel) wheel=1 ;;
    --full) full=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build_opencv: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$root"
root="$(cd "$root" && pwd)"

t0=$SECONDS
say() { echo "build_opencv: [$((SECONDS - t0))s] $*"; }

# Debian's python3 on CI; whatever python3 is first on PATH elsewhere.
host_python="${SEMFLOW_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"

# --- 1. source distribution --------------------------------------------------------------------
pkg="opencv-contrib-python-headless"
dl="$root/dl"
tarball="$dl/opencv_contrib_python_headless-$version.tar.gz"
if [ ! -f "$tarball" ]; then
  say "downloading the $pkg==$version sdist from PyPI"
  mkdir -p "$dl"
  # --no-binary only for this package: its build requirements may come as wheels (pip prepares
  # the sdist's metadata in an isolated environment even for a download).
  "$host_python" -m pip download --no-deps --no-binary "$pkg" "$pkg==$version" -d "$dl.tmp"
  mv "$dl.tmp"/*.tar.gz "$tarball"
  rm -rf "$dl.tmp"
fi

src="$root/src-$version"
if [ ! -f "$src/.unpacked" ]; then
  say "unpacking $tarball"
  rm -rf "$src"
  mkdir -p "$src"
  tar xzf "$tarball" -C "$src" --strip-components=1
  touch "$src/.unpacked"
fi
major="${version%%.*}"

# --- 1b. --wheel: the sdist's own build, with semflow among its contrib modules ----------------
if [ "$wheel" = 1 ]; then
  wsrc="$root/wheel-src-$version"
  # A fresh copy each time: setup.py writes into its tree (_skbuild/), and the version label
  # below is an edit of it.
  rm -rf "$wsrc"
  say "copying the sdist to $wsrc"
  cp -a "$src" "$wsrc"
  rm -f "$wsrc/.unpacked"
  # The module joins the sdist's opencv_contrib/modules, which its setup.py passes as
  # OPENCV_EXTRA_MODULES_PATH; a copy, so the wheel's build does not follow later edits.
  cp -a "$repo/modules/semflow" "$wsrc/opencv_contrib/modules/semflow"
  # A PEP 440 local version label: pip and `cv2.__version__`'s package metadata then say this is
  # not the upstream wheel.
  sed -i "s/^opencv_version = \"$version\"/opencv_version = \"$version+semflow\"/" "$wsrc/cv2/version.py"
  grep -q "+semflow" "$wsrc/cv2/version.py" || { echo "build_opencv: cannot set the version label in $wsrc/cv2/version.py" >&2; exit 1; }
  wargs=(
    -DCPU_BASELINE=AVX2 -DCPU_DISPATCH= -DWITH_IPP=OFF -DWITH_OPENCL=OFF -DBUILD_TESTS=OFF
    -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DENABLE_CCACHE=ON
  )
  # Protobuf stays OpenCV's default for the wheel, the bundled copy (BUILD_PROTOBUF=ON, both the
  # 4.14 and the 5.0 wheel's CMakeCache show it): the wheel must not depend on Debian's library.
  # The wheel must be compiled against the NumPy 2 headers of its isolated build environment
  # (it requires numpy>=2 at run time), but Debian's python3-numpy puts a `numpy` link to its 1.x
  # headers into the Python include dir, which OpenCV's python3 target searches first. So the
  # Python include dir is given as a copy of links to it without that one entry.
  pyinc="$("$host_python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  if [ -e "$pyinc/numpy" ]; then
    shadow="$root/python-include-without-numpy"
    rm -rf "$shadow"
    mkdir -p "$shadow"
    for f in "$pyinc"/*; do [ "$(basename "$f")" = numpy ] || ln -s "$f" "$shadow/"; done
    wargs+=(-DPYTHON3_INCLUDE_DIR="$shadow")
  fi
  if [ "$full" = 0 ]; then
    # features2d and calib too: the wheel needs cv2's typing stubs (py.typed), whose generator
    # refines functions of those modules by name and fails where they are missing.
    # (OpenCV 4's camera calibration module is calib3d; 5 split it into calib and 3d/geometry.)
    calib=calib
    [ "$major" -ge 5 ] || calib=calib3d
    wargs+=(-DBUILD_LIST=core,imgproc,imgcodecs,dnn,video,videoio,highgui,features2d,$calib,python3,semflow
            -DWITH_FFMPEG=OFF -DWITH_GSTREAMER=OFF -DWITH_V4L=OFF)
  fi
  out="$root/wheels"
  mkdir -p "$out"
  say "building the wheel (pip wheel, -j$jobs; $([ "$full" = 1 ] && echo "every module" || echo "semflow's modules"))"
  tw=$SECONDS
  # pip fetches the sdist's build requirements (scikit-build, numpy 2 headers, ...) from PyPI into
  # an isolated environment: set-up time network, as for the sdist itself.
  ( cd "$wsrc" && CMAKE_ARGS="${wargs[*]}" CMAKE_GENERATOR=Ninja CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
      MAKEFLAGS="-j$jobs" nice -n 19 "$host_python" -m pip wheel --no-deps -w "$out" . ) > "$root/wheel-$version.log" 2>&1 || {
    tail -40 "$root/wheel-$version.log" >&2
    echo "build_opencv: the wheel build failed, full log in $root/wheel-$version.log" >&2
    exit 1
  }
  whl="$(ls -t "$out"/opencv_contrib_python_headless-"$version"+semflow-*.whl | head -1)"
  say "wheel build took $((SECONDS - tw))s: $whl ($(du -m "$whl" | cut -f1) MB)"
  echo "build_opencv: WHEEL=$whl"
  exit 0
fi

# --- 2. the venv: numpy for the bindings, pytest and onnx for the tests ------------------------
venv="$root/venv"
if [ ! -f "$venv/.ready" ]; then
  say "creating $venv"
  rm -rf "$venv"
  "$host_python" -m venv "$venv"
  # numpy 1.x: OpenCV's python3 target puts the Python include dir before numpy's, and where
  # Debian's python3-numpy is installed that dir holds numpy 1.x headers (a numpy 2 runtime
  # then refuses the module). onnx from 1.18 on needs ml_dtypes, which needs numpy 2.
  "$venv/bin/python" -m pip install -q "numpy<2" pytest "onnx>=1.14,<1.18"
  touch "$venv/.ready"
fi
pyver="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$cuda" = 1 ]; then
  # The CUDA toolkit here has no NPP, which OpenCV 4.x's CUDA detection links into every module
  # and core's private.cuda.hpp includes. PyPI's nvidia-npp wheel has its headers and libraries;
  # a symlink tree merges them with the toolkit into one CUDA root for CMake.
  cuda_home="${CUDA_HOME:-/usr/local/cuda}"
  if [ ! -f "$cuda_home/include/npp.h" ]; then
    if [ ! -f "$venv/.npp-ready" ]; then
      say "installing nvidia-npp into $venv (the toolkit lacks NPP)"
      "$venv/bin/python" -m pip install -q "nvidia-npp==13.2.0.58"
      touch "$venv/.npp-ready"
    fi
    npp="$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')"
    croot="$root/cuda-root"
    if [ ! -f "$croot/.ready" ]; then
      rm -rf "$croot"
      mkdir -p "$croot/include" "$croot/lib64"
      for d in bin nvvm share targets extras; do [ -e "$cuda_home/$d" ] && ln -s "$cuda_home/$d" "$croot/$d"; done
      for f in "$cuda_home"/include/* "$npp"/include/*; do ln -sf "$f" "$croot/include/"; done
      for f in "$cuda_home"/lib64/* "$npp"/lib/*; do ln -sf "$f" "$croot/lib64/"; done
      for f in "$npp"/lib/lib*.so.*; do b="$(basename "$f")"; ln -sf "$f" "$croot/lib64/${b%%.so.*}.so"; done
      touch "$croot/.ready"
    fi
    cuda_home="$croot"
  fi
fi

# --- 3. configure ------------------------------------------------------------------------------
# The smallest OpenCV semflow needs: its dependencies, ts (which itself needs videoio and
# highgui) and python3. Everything optional that costs compile time and is not used is off.
modules="core,imgproc,imgcodecs,dnn,video,videoio,highgui,ts,python3,semflow"
if [ "$major" -ge 5 ]; then
  # OpenCV 5 ships its Caffe importer's message code only pre-generated (by protoc 3.19, no
  # .proto to regenerate it from), which Debian's protobuf 3.21 headers refuse: the bundled
  # protobuf 3.19 is compiled instead (about 3 CPU-minutes).
  protobuf=(-DBUILD_PROTOBUF=ON -DPROTOBUF_UPDATE_FILES=OFF)
else
  # Debian's protobuf 3.21 instead of compiling the bundled copy; .pb.cc regenerated by its protoc.
  protobuf=(-DBUILD_PROTOBUF=OFF -DPROTOBUF_UPDATE_FILES=ON)
fi
extra="$repo/modules"
if [ "$cuda" = 1 ]; then
  # dnn's CUDA backend needs cudev (opencv_contrib in 4.x); no other CUDA module is built.
  modules="$modules,cudev"
  if [ -d "$src/opencv_contrib/modules/cudev" ]; then extra="$extra;$src/opencv_contrib/modules/cudev"; fi
fi
args=(
  -G Ninja
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_LIST="$modules"
  -DOPENCV_EXTRA_MODULES_PATH="$extra"
  -DBUILD_SHARED_LIBS=OFF               # like the pip wheels: cv2.so is self-contained
  -DBUILD_TESTS=ON -DBUILD_PERF_TESTS=ON # only semflow's are built (targets below)
  # BUILD_EXAMPLES: the module's samples (modules/semflow/samples, ocv_add_samples) are built as
  # example_semflow_*; only their target is built below, none of OpenCV's own samples.
  -DBUILD_EXAMPLES=ON -DBUILD_DOCS=OFF -DBUILD_opencv_apps=OFF -DBUILD_JAVA=OFF
  -DBUILD_opencv_python2=OFF -DBUILD_opencv_python3=ON
  -DPYTHON3_EXECUTABLE="$venv/bin/python"
  -DPYTHON_DEFAULT_EXECUTABLE="$venv/bin/python"
  -DOPENCV_SKIP_PYTHON_LOADER=ON        # lib/python3/cv2.*.so is importable as it is
  -DOPENCV_PYTHON3_INSTALL_PATH="$venv/lib/python$pyver/site-packages"
  -DENABLE_CCACHE=ON -DENABLE_PRECOMPILED_HEADERS=OFF
  # AVX2 as the baseline and no runtime dispatch: the default (SSE3 + dispatch up to AVX512)
  # compiles ~90 extra objects, a quarter of the build on 2 cores. The binaries need an AVX2 CPU.
  -DCPU_BASELINE=AVX2 -DCPU_DISPATCH=
  "${protobuf[@]}"
  # IPP would be downloaded at configure time; OpenCL has no device here; the rest is unused I/O.
  -DWITH_IPP=OFF -DWITH_OPENCL=OFF -DWITH_OPENCLAMDFFT=OFF -DWITH_OPENCLAMDBLAS=OFF
  -DWITH_VA=OFF -DWITH_VA_INTEL=OFF
  -DWITH_FFMPEG=OFF -DWITH_GSTREAMER=OFF -DWITH_V4L=OFF -DWITH_1394=OFF -DWITH_OBSENSOR=OFF
  -DWITH_GTK=OFF -DWITH_QT=OFF -DWITH_OPENGL=OFF -DWITH_VTK=OFF
  -DWITH_TIFF=OFF -DWITH_WEBP=OFF -DWITH_OPENJPEG=OFF -DWITH_JASPER=OFF -DWITH_OPENEXR=OFF
  -DWITH_AVIF=OFF -DWITH_JPEGXL=OFF -DWITH_GDAL=OFF -DWITH_GDCM=OFF -DWITH_SPNG=OFF
  -DWITH_IMGCODEC_GIF=OFF
  -DWITH_EIGEN=OFF -DWITH_OPENVINO=OFF -DWITH_VULKAN=OFF -DWITH_WEBNN=OFF -DWITH_TIMVX=OFF
  -DWITH_CANN=OFF -DWITH_HALIDE=OFF -DWITH_OPENMP=OFF -DWITH_TBB=OFF -DWITH_ITT=OFF
  -DWITH_KLEIDICV=OFF -DWITH_CAROTENE=OFF -DWITH_NDSRVP=OFF -DWITH_HAL_RVV=OFF
  -DWITH_FASTCV=OFF -DWITH_PROTOBUF=ON -DWITH_FLATBUFFERS=OFF
  -DOPENCV_DNN_OPENCL=OFF -DOPENCV_DNN_TFLITE=OFF
  -DOPENCV_GENERATE_PKGCONFIG=OFF -DINSTALL_TESTS=OFF
)
if [ "$cuda" = 1 ]; then
  variant="cuda"
  args+=(
    -DWITH_CUDA=ON -DWITH_CUDNN=ON -DOPENCV_DNN_CUDA=ON -DCUDA_ARCH_BIN=9.0 -DCUDA_ARCH_PTX=
    -DCUDA_TOOLKIT_ROOT_DIR="$cuda_home"
    -DWITH_CUBLAS=ON -DWITH_CUFFT=OFF -DWITH_NVCUVID=OFF -DWITH_NVCUVENC=OFF
    -DCUDA_FAST_MATH=OFF
    # Shared libraries: the CUDA kernels then live once in libopencv_dnn.so instead of in
    # every binary, which keeps scripts/gpu_check.sh's bundle small.
    -DBUILD_SHARED_LIBS=ON
  )
else
  variant="cpu"
  args+=(-DWITH_CUDA=OFF)
fi

# The cache key: version and options (not the module's sources, which Ninja tracks). The repo's
# own path is left out so that every checkout gets the same directory name and, since the sdist
# sits next to it, the same relative paths: ccache (base_dir) then hits across checkouts.
key="$(printf '%s\n' "$version" "${args[@]}" | sed "s|$repo|<repo>|g; s|$root|<root>|g" | sha1sum | cut -c1-10)"
bld="$root/$version-$variant-$key"
if [ ! -f "$bld/.configured" ]; then
  say "configuring $bld"
  mkdir -p "$bld"
  printf '%s\n' "${args[@]}" > "$bld/options.txt"
  nice -n 19 cmake -S "$src/opencv" -B "$bld" "${args[@]}" > "$bld/configure.log" 2>&1 || {
    tail -40 "$bld/configure.log" >&2
    echo "build_opencv: configure failed, full log in $bld/configure.log" >&2
    exit 1
  }
  touch "$bld/.configured"
fi
if [ "$configure_only" = 1 ]; then
  say "configured (--configure-only)"
  echo "build_opencv: BUILD_DIR=$bld"
  exit 0
fi

# --- 4. build (only the targets semflow needs) -------------------------------------------------
targets=(opencv_test_semflow opencv_python3)
# The target list is read once: `ninja ... | grep -q` would fail under pipefail whenever grep
# exits before ninja has written everything (SIGPIPE), silently dropping a target.
all_targets="$(ninja -C "$bld" -t targets all 2>/dev/null || true)"
for t in opencv_perf_semflow opencv_samples_semflow; do
  if grep -q "^$t:" <<< "$all_targets"; then
    targets+=("$t")
  fi
done
say "building ${targets[*]} with -j$jobs"
tb=$SECONDS
nice -n 19 cmake --build "$bld" --target "${targets[@]}" -j "$jobs"
say "build step took $((SECONDS - tb))s"

# --- 5. install cv2 into the venv --------------------------------------------------------------
# A .pth file rather than a copy, so that a rebuild is picked up without reinstalling.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$bld/lib/python3" > "$site/semflow_cv2.pth"
"$venv/bin/python" -c "import cv2, sys; assert hasattr(cv2, 'SemanticFlow'), 'cv2 has no SemanticFlow'; print('build_opencv: cv2', cv2.__version__, 'from', cv2.__file__)"

# --- 6. the C++ demo linked against this OpenCV --------------------------------------------------
# The Python tests compare cv2.SemanticFlow with the .flo this program writes; it also times the
# newest OpenCV against the system one. A small CMake project on the build tree's OpenCVConfig.
demo_src=""
for f in "$repo/modules/semflow/samples/demo.cpp" "$repo/samples/semflow_demo.cpp"; do
  if [ -f "$f" ]; then demo_src="$f"; break; fi
done
demo=""
if [ -n "$demo_src" ]; then
  demo_dir="$bld/semflow_demo"
  mkdir -p "$demo_dir"
  {
    echo 'cmake_minimum_required(VERSION 3.16)'
    echo 'project(semflow_demo_intree CXX)'
    echo 'find_package(Protobuf REQUIRED)  # opencv_dnn links protobuf::libprotobuf'
    echo 'find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs dnn video semflow)'
    # As OpenCV links its own programs: unused sections dropped. OpenCV 5.0's static dnn holds
    # a function of its vendored MLAS that calls one never built for x86 (MlasHGemmSupported);
    # nothing calls it, and only with --gc-sections does the link not need it.
    echo 'add_link_options(-Wl,--gc-sections)'
    echo "add_executable(semflow_demo \"$demo_src\")"
    echo 'target_link_libraries(semflow_demo PRIVATE ${OpenCV_LIBS})'
    # compare_torch.py --pair-bin: the benchmark's OpenCV side on this OpenCV (issue 10).
    if [ -f "$repo/bench/bench_sfnet_pair.cpp" ]; then
      echo 'find_library(SEMFLOW_BLAS_LIB NAMES blas openblas REQUIRED)'
      echo "add_executable(bench_sfnet_pair \"$repo/bench/bench_sfnet_pair.cpp\")"
      echo "target_include_directories(bench_sfnet_pair PRIVATE \"$repo/bench\")"
      echo 'target_link_libraries(bench_sfnet_pair PRIVATE ${OpenCV_LIBS} ${SEMFLOW_BLAS_LIB})'
    fi
  } > "$demo_dir/CMakeLists.txt.new"
  cmp -s "$demo_dir/CMakeLists.txt.new" "$demo_dir/CMakeLists.txt" || mv "$demo_dir/CMakeLists.txt.new" "$demo_dir/CMakeLists.txt"
  rm -f "$demo_dir/CMakeLists.txt.new"
  if [ ! -f "$demo_dir/build/build.ninja" ]; then
    say "configuring the C++ demo against $bld"
    cmake -S "$demo_dir" -B "$demo_dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DOpenCV_DIR="$bld" > "$demo_dir/configure.log" 2>&1 || {
      tail -20 "$demo_dir/configure.log" >&2; exit 1; }
  fi
  nice -n 19 cmake --build "$demo_dir/build" -j "$jobs"
  demo="$demo_dir/build/semflow_demo"
fi

say "done (OpenCV $version, $variant)"
echo "build_opencv: SRC_DIR=$src"
echo "build_opencv: VENV=$venv"
echo "build_opencv: DEMO=$demo"
[ -z "$demo" ] || echo "build_opencv: PAIR_BENCH=$(dirname "$demo")/bench_sfnet_pair"
echo "build_opencv: BUILD_DIR=$bld"
