#!/usr/bin/env python3
# This file is part of OpenCV project.
# It is subject to the license terms in the LICENSE file found in the top-level directory
# of this distribution and at http://opencv.org/license.html.
"""Writes pil_bilinear.yml: small images and what PIL's Image.resize(size, BILINEAR) makes
of them, the independent reference of cv::semflow::resizeAntialiased
(modules/semflow/test/test_flow_utils.cpp, Semflow_ResizeAntialiased.*).

Each case is one random image (fixed seed), resized by PIL in "F" mode (32-bit float, one
channel at a time) and in "RGB" mode (8-bit). Needs only numpy and Pillow (Debian's
python3-numpy and python3-pil):

    python3 test_data/semflow/resize/make_pil_reference.py

The file is written in OpenCV's FileStorage YAML layout so that the C++ test reads it with
cv::FileStorage; RGB images are stored as CV_8UC3 in RGB order.
"""
import os

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))

# (input width, height) -> (output width, height): shrinking by non-integer and integer
# factors, enlarging, one axis each way, and the 320 -> 20 mask shrink of the trainer.
CASES = [
    ((37, 23), (13, 9)),
    ((40, 40), (10, 10)),
    ((17, 11), (50, 31)),
    ((30, 12), (11, 20)),
    ((64, 48), (16, 3)),
]


def yaml_matrix(name, a):
    a = np.ascontiguousarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    rows, cols, cn = a.shape
    if a.dtype == np.uint8:
        dt, fmt = "u", "%d"
    else:
        dt, fmt = "f", "%.9g"
    lines = ["%s: !!opencv-matrix" % name, "   rows: %d" % rows, "   cols: %d" % cols,
             '   dt: "%s"' % (dt if cn == 1 else "%d%s" % (cn, dt))]
    flat = [fmt % v for v in a.reshape(-1)]
    body = []
    for i in range(0, len(flat), 16):
        body.append(", ".join(flat[i:i + 16]))
    lines.append("   data: [ " + ",\n       ".join(body) + " ]")
    return "\n".join(lines)


def main():
    rng = np.random.default_rng(20261202)
    out = ["%YAML:1.0", "---", "pil_version: \"%s\"" % PIL.__version__, "cases: %d" % len(CASES)]
    for k, ((w, h), (ow, oh)) in enumerate(CASES):
        img8 = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        f = rng.random((h, w), dtype=np.float32)
        rgb = np.asarray(Image.fromarray(img8, "RGB").resize((ow, oh), Image.BILINEAR))
        ff = np.asarray(Image.fromarray(f, "F").resize((ow, oh), Image.BILINEAR), dtype=np.float32)
        out.append(yaml_matrix("in8_%d" % k, img8))
        out.append(yaml_matrix("out8_%d" % k, rgb))
        out.append(yaml_matrix("inf_%d" % k, f))
        out.append(yaml_matrix("outf_%d" % k, ff))
    with open(os.path.join(HERE, "pil_bilinear.yml"), "w") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
