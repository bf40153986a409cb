#!/usr/bin/env python3
# This file is part of OpenCV project.
# It is subject to the license terms in the LICENSE file found in the top-level directory
# of this distribution and at http://opencv.org/license.html.
"""Writes the hand-made ONNX graphs of the module tests into this directory.

The one generator of these graphs: the C++ tests (modules/semflow/test/test_layers_onnx.cpp,
test_semantic_flow.cpp), standalone and in-tree, and the Python tests
(modules/semflow/misc/python/test/test_semflow.py) read the committed files; nothing runs
this script at test time. Rerun it only to change or add a graph, and commit its output.
Needs only the `onnx` pip package, not the module:

    build/opencv/venv/bin/python test_data/semflow/onnx/make_onnx_fixtures.py [OUT_DIR]

(scripts/build_opencv.sh makes that venv; any Python with `pip install onnx` works). With
onnx 1.17 and numpy 1.26 it rewrites every committed file byte for byte.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "org.opencv.semflow"
FEAT4 = 8  # channels of the hand-made level-4 features


class CvRNG:
    """cv::RNG (multiply-with-carry): the level-4 weights are cv::RNG(2019).uniform draws, as
    when a C++ builder first wrote these files."""

    def __init__(self, seed):
        self.state = seed if seed else 0xFFFFFFFF

    def next(self):
        s = self.state
        self.state = ((s & 0xFFFFFFFF) * 4164903690 + (s >> 32)) & 0xFFFFFFFFFFFFFFFF
        return self.state & 0xFFFFFFFF

    def uniform(self, a, b):
        a, b = np.float32(a), np.float32(b)
        x = np.float32(self.next()) * np.float32(2.3283064365386962890625e-10)
        return np.float32(np.float32(x * (b - a)) + a)


def value_info(name, dims):
    shape = [int(d) if str(d).isdigit() else d for d in dims]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def model_of(graph, metadata=None):
    model = helper.make_model(graph, producer_name="semflow-test",
                              opset_imports=[helper.make_opsetid("", 11),
                                             helper.make_opsetid(DOMAIN, 1)])
    model.ir_version = 5  # onnx::IR_VERSION_2019_3_18
    for key, value in (metadata or []):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def node(op, inputs, out, domain="", **attrs):
    n = helper.make_node(op, inputs, [out], name=out, domain=domain)
    for k, v in attrs.items():
        n.attribute.append(helper.make_attribute(k, v))
    return n


def ops_model(C, beta, sigma, carrier=None, attributes=True):
    """Correlation then KernelSoftArgmax, sizes symbolic except C (test_layers_onnx.cpp)."""
    inits = []
    carrier_name = "target"
    if carrier is not None:
        w, h = carrier
        carrier_name = "grid_size"
        inits.append(helper.make_tensor(carrier_name, TensorProto.FLOAT, [1, 1, h, w],
                                        [0.0] * (w * h)))
    corr = node("Correlation", ["source", "target"], "corr", DOMAIN,
                **({"normalize": 1, "relu": 1} if attributes else {}))
    ksa = node("KernelSoftArgmax", ["corr", carrier_name], "grid", DOMAIN,
               **({"beta": float(beta), "sigma": float(sigma), "normalize": 1} if attributes else {}))
    graph = helper.make_graph([corr, ksa], "semflow_ops",
                              [value_info("source", ["N", C, "Hs", "Ws"]),
                               value_info("target", ["N", C, "Ht", "Wt"])],
                              [value_info("grid", ["N", 2, "Hs", "Ws"])], initializer=inits)
    return model_of(graph)


def hand_sfnet(beta=0.0, sigma=0.0, metadata=True, drop_output="", rename_input="",
               unknown_op=False, meta_beta=-1.0, meta_sigma=-1.0, node_attrs=True,
               corr_normalize=-1, corr4_normalize=-1, corr_relu=-1, beta_t2s=-1.0):
    """An SFNet graph (doc/onnx_ops.md) whose features are the mean colour of each 16x16 cell
    (test_semantic_flow.cpp)."""
    rng = CvRNG(2019)
    w = [rng.uniform(0.1, 1.0) for _ in range(FEAT4 * 3)]
    b = [rng.uniform(0.05, 0.3) for _ in range(FEAT4)]
    target = rename_input or "target"
    nodes = []
    for first, side in (("source", "source"), (target, "target")):
        nodes.append(node("AveragePool", [first], "pool_" + side,
                          kernel_shape=[16, 16], strides=[16, 16]))
        nodes.append(node("NoSuchOperator" if unknown_op else "Relu", ["pool_" + side],
                          "feat3_" + side))
        nodes.append(node("Conv", ["pool_" + side, "w4", "b4"], "conv_" + side, kernel_shape=[1, 1]))
        nodes.append(node("Relu", ["conv_" + side], "feat4_" + side))
    for a, c in (("source", "target"), ("target", "source")):
        tag = a[0] + "2" + c[0]
        for level in ("3", "4"):
            normalize = corr4_normalize if level == "4" and corr4_normalize >= 0 else corr_normalize
            attrs = {}
            if normalize >= 0:
                attrs["normalize"] = int(normalize)
            if corr_relu >= 0:
                attrs["relu"] = int(corr_relu)
            nodes.append(node("Correlation", ["feat%s_%s" % (level, a), "feat%s_%s" % (level, c)],
                              "c%s_%s" % (level, tag), DOMAIN, **attrs))
        nodes.append(node("Mul", ["c3_" + tag, "c4_" + tag], "corr_" + tag))
        ksa_attrs = {}
        if node_attrs:
            ksa_attrs = {"beta": float(beta_t2s if tag == "t2s" and beta_t2s >= 0 else beta),
                         "sigma": float(sigma)}
        nodes.append(node("KernelSoftArgmax", ["corr_" + tag, "feat3_" + c], "grid_" + tag, DOMAIN,
                          **ksa_attrs))
    outputs = [(n, ch) for n, ch in (("grid_s2t", 2), ("grid_t2s", 2), ("feat3_source", 3),
                                     ("feat3_target", 3), ("feat4_source", FEAT4),
                                     ("feat4_target", FEAT4)) if n != drop_output]
    graph = helper.make_graph(
        nodes, "hand_sfnet",
        [value_info("source", ["N", 3, "H", "W"]), value_info(target, ["N", 3, "H", "W"])],
        [value_info(n, ["N", ch, "h", "w"]) for n, ch in outputs],
        initializer=[helper.make_tensor("w4", TensorProto.FLOAT, [FEAT4, 3, 1, 1], w),
                     helper.make_tensor("b4", TensorProto.FLOAT, [FEAT4], b)])
    # Six decimals, as C++'s std::to_string(float) writes them.
    meta = [("semflow.beta", "%f" % (meta_beta if meta_beta >= 0 else beta)),
            ("semflow.sigma", "%f" % (meta_sigma if meta_sigma >= 0 else sigma))] if metadata else None
    return model_of(graph, meta)


# File name -> model. The tests name the files they load; the names say what differs.
FIXTURES = {
    "ops_c24_b30_s4.onnx": lambda: ops_model(24, 30, 4),
    "ops_c8_b50_s5.onnx": lambda: ops_model(8, 50, 5),
    "ops_c8_b50_s5_carrier4x3.onnx": lambda: ops_model(8, 50, 5, carrier=(4, 3)),
    "ops_c8_b50_s5_carrier0x3.onnx": lambda: ops_model(8, 50, 5, carrier=(0, 3)),
    "ops_c8_no_attributes.onnx": lambda: ops_model(8, 0, 0, attributes=False),
    "hand_sfnet.onnx": lambda: hand_sfnet(),
    "hand_sfnet_b30_s3.onnx": lambda: hand_sfnet(beta=30, sigma=3),
    "hand_sfnet_no_metadata.onnx": lambda: hand_sfnet(metadata=False),
    "hand_sfnet_drop_feat4_target.onnx": lambda: hand_sfnet(drop_output="feat4_target"),
    "hand_sfnet_rename_image_b.onnx": lambda: hand_sfnet(rename_input="image_b"),
    "hand_sfnet_unknown_op.onnx": lambda: hand_sfnet(unknown_op=True),
    "hand_sfnet_meta_b30_s3.onnx": lambda: hand_sfnet(meta_beta=30, meta_sigma=3),
    "hand_sfnet_no_metadata_no_node_attrs.onnx": lambda: hand_sfnet(metadata=False, node_attrs=False),
    "hand_sfnet_b20_s4_cn0_cr0.onnx": lambda: hand_sfnet(beta=20, sigma=4, corr_normalize=0, corr_relu=0),
    "hand_sfnet_b20_s4_cn1_cr0.onnx": lambda: hand_sfnet(beta=20, sigma=4, corr_normalize=1, corr_relu=0),
    "hand_sfnet_bt2s10.onnx": lambda: hand_sfnet(beta_t2s=10),
    "hand_sfnet_cn1_c4n0.onnx": lambda: hand_sfnet(corr_normalize=1, corr4_normalize=0),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    for name, make in FIXTURES.items():
        model = make()
        if "unknown_op" not in name and "carrier0x" not in name:
            onnx.checker.check_model(model)
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
