#!/usr/bin/env bash
# Installs a semflow cv2 wheel (scripts/build_opencv.sh --wheel) into a fresh virtual environment
# outside the build tree, as a user would, and runs the module's Python tests against it there.
#
#   scripts/test_wheel.sh [WHEEL]     (default: the newest build/opencv/wheels/*+semflow*.whl)
#
# Network only at set-up: pip installs the wheel's dependency (numpy) and the test tools
# (pytest) from PyPI into the new venv. The venv is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
t0=$SECONDS
say() { echo "test_wheel: [$((SECONDS - t0))s] $*"; }

whl="${1:-$(ls -t build/opencv/wheels/*+semflow*.whl 2>/dev/null | head -1)}"
if [ -z "$whl" ] || [ ! -f "$whl" ]; then
  echo "test_wheel: no wheel given and none in build/opencv/wheels/ (scripts/build_opencv.sh --wheel)" >&2
  exit 2
fi
whl="$(cd "$(dirname "$whl")" && pwd)/$(basename "$whl")"
host_python="${SEMFLOW_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"

venv="$(mktemp -d /tmp/semflow-wheel-venv.XXXXXX)"
trap 'rm -rf "$venv"' EXIT
say "fresh venv $venv, installing $(basename "$whl")"
"$host_python" -m venv "$venv"
"$venv/bin/python" -m pip install -q "$whl" pytest

# From a directory outside the repository, so that nothing of the source tree is importable.
cd "$venv"
"$venv/bin/python" - <<'PY'
import cv2, importlib.metadata as md
dist = md.version("opencv-contrib-python-headless")
print("test_wheel: cv2", cv2.__version__, "from", cv2.__file__, "; package", dist)
assert "+semflow" in dist, dist
assert hasattr(cv2, "SemanticFlow"), "this cv2 has no SemanticFlow"
PY
say "pytest modules/semflow/misc/python/test against the installed wheel"
OPENCV_TEST_DATA_PATH="$repo/test_data" "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider \
  "$repo/modules/semflow/misc/python/test"
say "done"
