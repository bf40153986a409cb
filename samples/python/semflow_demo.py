#!/usr/bin/env python3
# This file is part of OpenCV project.
# It is subject to the license terms in the LICENSE file found in the top-level directory
# of this distribution and at http://opencv.org/license.html.
"""Semantic flow between two images with cv2.SemanticFlow (the Python twin of
modules/semflow/samples/demo.cpp, with the same outputs): the flow (flow.flo), its colour
coding (flow_color.png), the source warped into the target's frame (warped_source.png), the
matches whose forward-backward confidence is above 0.5 (matches.png) and the confidence
(confidence.png).

Needs a cv2 built with the semflow module (scripts/build_opencv.sh), e.g.

    build/opencv/venv/bin/python samples/python/semflow_demo.py --out out/demo_py
"""
import argparse
import os
import sys
import time

import cv2 as cv

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    data = os.path.join(REPO, "test_data", "semflow")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", nargs="?", default=os.path.join(data, "demo", "source.png"))
    p.add_argument("target", nargs="?", default=os.path.join(data, "demo", "target.png"))
    p.add_argument("--model", "-m", default=os.path.join(data, "models", "semflow_tiny.onnx"),
                   help="SFNet ONNX model (sfnet export)")
    p.add_argument("--out", "-o", default="semflow_out", help="output directory")
    p.add_argument("--size", type=int, default=320, help="network input side (multiple of 32)")
    p.add_argument("--nopad", action="store_true", help="skip SFNet's 16-px border protocol")
    p.add_argument("--beta", type=float, default=-1, help="soft argmax temperature (-1: the model's)")
    p.add_argument("--sigma", type=float, default=-1, help="Gaussian window in cells (-1: the model's)")
    p.add_argument("--backend", choices=["opencv", "cuda"], default="opencv")
    p.add_argument("--step", type=int, default=24, help="spacing of the drawn matches")
    args = p.parse_args()

    if not hasattr(cv, "SemanticFlow"):
        sys.exit("error: this cv2 (%s) has no semflow module; build one with scripts/build_opencv.sh"
                 % cv.__file__)
    source = cv.imread(args.source, cv.IMREAD_COLOR)
    target = cv.imread(args.target, cv.IMREAD_COLOR)
    for path, img in ((args.source, source), (args.target, target)):
        if img is None:
            sys.exit("error: cannot read image '%s'" % path)
    try:
        sf = cv.SemanticFlow.create(args.model, (args.size, args.size), not args.nopad,
                                    args.beta, args.sigma)
        if args.backend == "cuda":
            sf.setPreferableBackend(cv.dnn.DNN_BACKEND_CUDA)
            sf.setPreferableTarget(cv.dnn.DNN_TARGET_CUDA)
        t0 = time.perf_counter()
        flow, back, confidence = sf.calcBidirectional(source, target)
        ms = (time.perf_counter() - t0) * 1e3
    except cv.error as e:
        sys.exit("error: %s" % e.err)
    print("calcBidirectional on a %dx%d / %dx%d pair: %.1f ms (one run, includes the first-run "
          "set-up)" % (source.shape[1], source.shape[0], target.shape[1], target.shape[0], ms))

    os.makedirs(args.out, exist_ok=True)
    # As the C++ demo: the source in the target's frame needs the target-to-source flow, and only
    # confident matches are drawn (all of them are unreadable on a photograph).
    outputs = {
        "flow.flo": None,
        "flow_color.png": cv.semflow.flowToColor(flow),
        "warped_source.png": cv.semflow.warpImage(source, back),
        "matches.png": cv.semflow.drawFlowMatches(source, target, flow, step=args.step,
                                                  mask=(confidence > 0.5).astype("uint8")),
        "confidence.png": cv.applyColorMap((confidence * 255).astype("uint8"), cv.COLORMAP_VIRIDIS),
    }
    for name, img in outputs.items():
        path = os.path.join(args.out, name)
        ok = cv.writeOpticalFlow(path, flow) if img is None else cv.imwrite(path, img)
        if not ok:
            sys.exit("error: cannot write %s" % path)
        print("wrote", path)


if __name__ == "__main__":
    main()
