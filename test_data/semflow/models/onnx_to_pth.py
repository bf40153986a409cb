#!/usr/bin/env python3
"""Recovers the weights of an *unfolded* `sfnet export` graph (BatchNorm kept as its own
nodes, initializers named by the PyTorch module paths) as the two files `sfnet import`
reads: a torchvision-style backbone state dict and the SFNet authors' adaptation checkpoint
({'state_dict1': level 3, 'state_dict2': level 4}).

Used to re-export semflow_tiny.onnx with a newer exporter without retraining it (training is
deterministic per thread count only, so a retrain would give another model): see README.md.

usage: onnx_to_pth.py MODEL.onnx BACKBONE.pth ADAPTATION.pth
Needs torch and onnx (e.g. a venv with --system-site-packages over Debian's python3-torch,
plus `pip install onnx`).
"""
import collections
import sys

import onnx
import torch
from onnx import numpy_helper


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model = onnx.load(sys.argv[1])
    backbone = collections.OrderedDict()
    adaptation = {"state_dict1": collections.OrderedDict(), "state_dict2": collections.OrderedDict()}
    prefixes = {"backbone.": backbone,
                "adap_layer_feat3.": adaptation["state_dict1"],
                "adap_layer_feat4.": adaptation["state_dict2"]}
    for init in model.graph.initializer:
        # Weights only: the exporter's int64 Reshape shapes (e.g. "adap_layer_feat3.conv2.add.
        # batch_shape") share the module prefixes but are not module tensors.
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        for prefix, target in prefixes.items():
            if init.name.startswith(prefix):
                target[init.name[len(prefix):]] = torch.from_numpy(numpy_helper.to_array(init).copy())
    if not any(k.endswith(".bn1.weight") for k in backbone):
        sys.exit("%s: no backbone BatchNorm initializers; export it with --keep-bn" % sys.argv[1])
    if not adaptation["state_dict1"] or not adaptation["state_dict2"]:
        sys.exit("%s: no adaptation-layer initializers" % sys.argv[1])
    torch.save(backbone, sys.argv[2])
    torch.save(adaptation, sys.argv[3])
    print("wrote %d backbone and %d + %d adaptation tensors" %
          (len(backbone), len(adaptation["state_dict1"]), len(adaptation["state_dict2"])))


if __name__ == "__main__":
    main()
