#!/usr/bin/env python3
# This file is part of semflow. It is subject to the license terms in the LICENSE file
# found in the top-level directory of this distribution.
"""Writes the checkpoint fixtures of the C++ .pth reader and `sfnet import` tests.

Run from anywhere (needs PyTorch; Debian: python3-torch). The tests never run Python:
this script and its outputs are committed together.

    python3 test_data/semflow/weights/make_weight_fixtures.py

Outputs (next to this script):
  reader_zip.pth, reader_legacy.pth   one OrderedDict with views, offsets, strides and
                                      every supported dtype, in both torch.save formats
  nested_zip_p4.pth                   a nested checkpoint, zip format, pickle protocol 4
  nested_legacy.pth                   the same, legacy format, protocol 2
  reader_bigendian.pth                reader_zip's tensors in a zip written by Python's
                                      zipfile with byteorder 'big' (no ZIP64 records)
  legacy_storage_view.pth             a hand-written pre-1.0 legacy file whose tensors use
                                      storage views (view_metadata in the persistent id)
  tiny_torchvision.pth                torchvision-layout state dict of the `tiny` backbone
                                      (zip), with an fc layer to be ignored
  tiny_sfnet_authors.pth              the SFNet authors' layout for `tiny`'s adaptation
                                      layers: {'state_dict1': ..., 'state_dict2': ...}
                                      (legacy format, as a 2019 checkpoint is)
  expected.txt                        what each file must decode to (see write_expected), and
                                      under 'tiny_forward' what PyTorch's torchvision-style
                                      ResNet and the authors' adaptation layers compute from
                                      the two tiny files (reference_forward)

The weights of the big convolutions are overlapping as_strided views of small storages:
torch.save keeps the view, so the files stay small while every element along every axis
still gets its own (position-dependent) value.
"""
import argparse
import collections
import io
import math
import os
import pickle
import struct
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------
# expectations

def fmt_float(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def checksums(t):
    """sum and position-weighted sum over the row-major float64 values."""
    flat = t.detach().to(torch.float64).contiguous().reshape(-1).tolist()
    s = math.fsum(flat)
    ws = math.fsum(v * ((i % 101) + 1) for i, v in enumerate(flat))
    return s, ws


def tensor_line(name, t, full):
    dt = str(t.dtype).replace("torch.", "")
    dims = " ".join(str(d) for d in t.shape)
    head = "tensor %s %s %d %s" % (name, dt, t.dim(), dims)
    if full:
        if t.dtype.is_floating_point:
            vals = [fmt_float(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]
        else:
            vals = [str(int(v)) for v in t.detach().to(torch.int64).reshape(-1).tolist()]
        return "%s full %d %s" % (head.rstrip(), len(vals), " ".join(vals))
    s, ws = checksums(t)
    return "%s sums %s %s" % (head.rstrip(), repr(s), repr(ws))


def flatten(obj, prefix=""):
    """(name, tensor) pairs in the order the C++ reader reports them."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += flatten(v, prefix + "." + str(k) if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, prefix + "." + str(i) if prefix else str(i))
    elif isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    return out


def write_expected(entries):
    """expected.txt: a 'file NAME FORMAT' line, then one 'tensor' line per tensor in
    reader order: NAME DTYPE NDIM DIMS... then either 'full N v0 v1 ...' (values, float32
    values printed exactly) or 'sums SUM WEIGHTED_SUM' (row-major float64 sums; the
    weight of element i is (i % 101) + 1)."""
    with open(os.path.join(HERE, "expected.txt"), "w") as f:
        f.write("# written by make_weight_fixtures.py; see write_expected() for the format\n")
        for fname, fmt, obj, full in entries:
            f.write("file %s %s\n" % (fname, fmt))
            for name, t in flatten(obj):
                f.write(tensor_line(name, t, full) + "\n")


# ---------------------------------------------------------------------------------------
# reader fixtures

def reader_dict():
    g = torch.Generator().manual_seed(1)
    sd = collections.OrderedDict()
    sd["conv1.weight"] = torch.randn(4, 3, 3, 3, generator=g)
    for k in ("weight", "bias", "running_mean"):
        sd["bn1." + k] = torch.randn(4, generator=g)
    sd["bn1.running_var"] = torch.rand(4, generator=g) + 0.5
    sd["bn1.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)  # 0-d
    # Two tensors sharing one storage: the base and its transpose (non-contiguous).
    base = torch.randn(3, 5, generator=g)
    sd["layer1.0.conv2.weight"] = base
    sd["layer1.0.conv1.weight"] = base.t()
    # Views with a storage offset and a stride into one storage.
    line = torch.randn(10, generator=g)
    sd["layer1.0.bn1.running_mean"] = line[3:7]
    sd["layer1.0.bn1.running_var"] = line[1::3]
    # A 4-d permutation and a broadcast (stride 0) view.
    sd["layer2.0.conv1.weight"] = torch.randn(2, 3, 4, 5, generator=g).permute(0, 2, 3, 1)
    sd["layer2.0.bn1.weight"] = torch.randn(3, 1, generator=g).expand(3, 4)
    # Other element types, converted by the reader (floats -> float32, ints -> int64).
    sd["fc.weight"] = torch.randn(2, 3, generator=g).half()
    sd["fc.bias"] = torch.randn(2, generator=g).bfloat16()
    sd["x.float64"] = torch.randn(2, 2, generator=g).double()
    sd["x.int32"] = torch.tensor([[-5, 2147483647], [-2147483648, 0]], dtype=torch.int32)
    sd["x.int16"] = torch.tensor([-32768, 32767, -1], dtype=torch.int16)
    sd["x.int8"] = torch.tensor([-128, 127, -3], dtype=torch.int8)
    sd["x.uint8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["x.bool"] = torch.tensor([True, False, True])
    sd["x.int64"] = torch.tensor([-(2 ** 62), 2 ** 40 + 3], dtype=torch.int64)
    sd["x.empty"] = torch.zeros(0, 3)
    sd["x.special"] = torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 1e-45,
                                    3.4028234663852886e38])
    sd["x.half_special"] = torch.tensor([6e-8, -6.1e-5, 65504.0, float("inf"), float("nan"),
                                         1.0 / 3.0]).half()
    return sd


def nested_checkpoint():
    g = torch.Generator().manual_seed(2)
    inner1 = collections.OrderedDict()
    inner1["conv1.0.weight"] = torch.randn(2, 2, 3, 3, generator=g)
    inner1["conv1.0.bias"] = torch.randn(2, generator=g)
    inner1["conv1.1.num_batches_tracked"] = torch.tensor(123456789012, dtype=torch.int64)
    inner2 = collections.OrderedDict()
    inner2["conv1.0.weight"] = torch.nn.Parameter(torch.randn(3, 3, 1, 1, generator=g))
    return {
        "state_dict1": inner1,
        "state_dict2": inner2,
        "epoch": 40,
        "best_pck": 0.8125,
        "name": "sfnet",
        "flags": [True, None, torch.arange(3, dtype=torch.int64)],
        "shape": (2, 3),
        "args": argparse.Namespace(lr=3e-5, batch=16),
    }


# ---------------------------------------------------------------------------------------
# big-endian zip (Python's zipfile, no ZIP64 records, no alignment padding)

def rewrite_big_endian(src, dst):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        prefix = zin.namelist()[0].split("/")[0]
        pkl = zin.read(prefix + "/data.pkl")
        # Element size of each storage, from the persistent ids in the pickle.
        sizes = {}

        class Scan(pickle.Unpickler):
            def find_class(self, module, name):
                if name.startswith("_rebuild"):
                    return lambda *a: None
                return super().find_class(module, name)

            def persistent_load(self, pid):
                _, stype, key, _, _ = pid
                sizes[key] = torch.empty(0, dtype=stype.dtype).element_size()
                return None

        Scan(io.BytesIO(pkl)).load()
        for info in zin.infolist():
            data = zin.read(info.filename)
            rel = info.filename[len(prefix) + 1:]
            if rel.startswith("data/"):
                es = sizes[rel[5:]]
                data = b"".join(data[i:i + es][::-1] for i in range(0, len(data), es))
            if rel == "byteorder":
                continue
            zout.writestr(zipfile.ZipInfo(prefix + "/" + rel, (1980, 1, 1, 0, 0, 0)), data)
        zout.writestr(zipfile.ZipInfo(prefix + "/byteorder", (1980, 1, 1, 0, 0, 0)), b"big")


# ---------------------------------------------------------------------------------------
# hand-written legacy file with pre-1.0 storage views

class _StorageView:
    def __init__(self, root_key, root, offset, size, view_key):
        self.root_key, self.root, self.offset, self.size, self.view_key = \
            root_key, root, offset, size, view_key


class _TensorRef:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def write_legacy_with_views(path):
    root = torch.arange(12, dtype=torch.float32) * 0.5 - 1.0
    v1 = _StorageView("root0", root, 2, 6, "view1")  # elements 2..7 of the root
    v2 = _StorageView("root0", root, 8, 4, "view2")  # elements 8..11
    obj = collections.OrderedDict()
    obj["a"] = _TensorRef(v1, 1, (2, 2), (1, 2))   # view1[1 + i + 2j]
    obj["b"] = _TensorRef(v2, 0, (4,), (1,))
    obj["c"] = _TensorRef(v1, 0, (6,), (1,))

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _StorageView):
                return ("storage", torch.FloatStorage, o.root_key, "cpu", o.root.numel(),
                        (o.view_key, o.offset, o.size))
            return None

    buf = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump(dict(protocol_version=1001, little_endian=True,
                     type_sizes=dict(short=2, int=4, long=4)), buf, protocol=2)
    P(buf, protocol=2).dump(obj)
    pickle.dump(["root0"], buf, protocol=2)
    buf.write(struct.pack("<q", root.numel()))
    buf.write(root.numpy().astype("<f4").tobytes())
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    view1 = root[2:8].clone()
    return collections.OrderedDict(
        a=torch.as_strided(view1, (2, 2), (1, 2), 1), b=root[8:12], c=view1)


# ---------------------------------------------------------------------------------------
# import fixtures: the `tiny` backbone (BasicBlock ResNet, widths 16/32/64/128, one block
# per layer) in torchvision's layout, and its adaptation layers in the authors' layout.

def strided_fill(shape, gen, scale):
    """A tensor of `shape` whose values depend on every index, stored in a small storage:
    an overlapping as_strided view with co-prime strides."""
    n = len(shape)
    strides = [7, 3, 1, 2][-n:] if n <= 4 else None
    need = sum((s - 1) * st for s, st in zip(shape, strides)) + 1
    base = torch.randn(need, generator=gen) * scale
    return torch.as_strided(base, shape, strides)


def tiny_torchvision(gen):
    sd = collections.OrderedDict()

    def conv(name, cout, cin, k):
        numel = cout * cin * k * k
        if numel > 4096:
            sd[name] = strided_fill((cout, cin, k, k), gen, (2.0 / (cin * k * k)) ** 0.5)
        else:
            sd[name] = torch.randn(cout, cin, k, k, generator=gen) * (2.0 / (cin * k * k)) ** 0.5

    def bn(name, c):
        sd[name + ".weight"] = 1.0 + 0.1 * torch.randn(c, generator=gen)
        sd[name + ".bias"] = 0.1 * torch.randn(c, generator=gen)
        sd[name + ".running_mean"] = 0.1 * torch.randn(c, generator=gen)
        sd[name + ".running_var"] = 0.5 + torch.rand(c, generator=gen)
        sd[name + ".num_batches_tracked"] = torch.tensor(int(torch.randint(1, 10 ** 6, (1,),
                                                                           generator=gen)))

    conv("conv1.weight", 16, 3, 7)
    bn("bn1", 16)
    cin = 16
    for layer, width in enumerate((16, 32, 64, 128), start=1):
        p = "layer%d.0." % layer
        stride = 1 if layer == 1 else 2
        conv(p + "conv1.weight", width, cin, 3)
        bn(p + "bn1", width)
        conv(p + "conv2.weight", width, width, 3)
        bn(p + "bn2", width)
        if stride != 1 or cin != width:
            conv(p + "downsample.0.weight", width, cin, 1)
            bn(p + "downsample.1", width)
        cin = width
    sd["fc.weight"] = torch.randn(10, 128, generator=gen)
    sd["fc.bias"] = torch.randn(10, generator=gen)
    return sd


def adaptation_layer(channels, kernel, gen):
    """The authors' module: conv1 = Sequential(Conv2d(c, c, k, padding=k//2), BN(c), ReLU),
    conv2 the same. Its state_dict() is what their checkpoint stores."""
    step = lambda: torch.nn.Sequential(torch.nn.Conv2d(channels, channels, kernel,
                                                       padding=kernel // 2),
                                       torch.nn.BatchNorm2d(channels), torch.nn.ReLU())
    m = torch.nn.Module()
    m.conv1 = step()
    m.conv2 = step()
    sd = m.state_dict()  # an OrderedDict with _metadata, like the real checkpoint
    scale = (1.0 / (channels * kernel * kernel)) ** 0.5
    for k in list(sd.keys()):
        if k.endswith("0.weight"):
            sd[k] = strided_fill((channels, channels, kernel, kernel), gen, scale)
        elif k.endswith("0.bias"):
            sd[k] = 0.01 * torch.randn(channels, generator=gen)
        elif k.endswith("1.weight"):
            sd[k] = 1.0 + 0.1 * torch.randn(channels, generator=gen)
        elif k.endswith("1.bias") or k.endswith("running_mean"):
            sd[k] = 0.1 * torch.randn(channels, generator=gen)
        elif k.endswith("running_var"):
            sd[k] = 0.5 + torch.rand(channels, generator=gen)
        elif k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(1000 + len(k), dtype=torch.int64)
    return sd


# ---------------------------------------------------------------------------------------
# reference forward pass: torchvision's ResNet (BasicBlock) and the authors' adaptation
# layer, written out here because torchvision is not installed; it pins the C++ model's
# use of the imported weights, not only their names.

class BasicBlock(torch.nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.conv2 = torch.nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = torch.nn.Sequential(torch.nn.Conv2d(cin, width, 1, stride, bias=False),
                                                  torch.nn.BatchNorm2d(width))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TinyResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        cin = 16
        for i, width in enumerate((16, 32, 64, 128), start=1):
            setattr(self, "layer%d" % i, torch.nn.Sequential(BasicBlock(cin, width, 1 if i == 1 else 2)))
            cin = width
        self.fc = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        f3 = self.layer3(self.layer2(self.layer1(x)))
        return f3, self.layer4(f3)


class Adaptation(torch.nn.Module):
    def __init__(self, c, k):
        super().__init__()
        step = lambda: torch.nn.Sequential(torch.nn.Conv2d(c, c, k, padding=k // 2),
                                           torch.nn.BatchNorm2d(c), torch.nn.ReLU())
        self.conv1, self.conv2 = step(), step()

    def forward(self, x):
        x = x + self.conv1(x)
        return x + self.conv2(x)


def reference_forward(tv, authors):
    """Backbone features and adapted features of a fixed 1x3x64x64 input (no ImageNet
    normalisation: raw backbone input), x[i] = ((37 i) mod 101) / 50 - 1 over the flat
    index i, computed in float64 then rounded to float32 (the C++ test does the same)."""
    net = TinyResNet().eval()
    net.load_state_dict(tv)
    a3, a4 = Adaptation(64, 5).eval(), Adaptation(128, 3).eval()
    a3.load_state_dict(authors["state_dict1"])
    a4.load_state_dict(authors["state_dict2"])
    i = torch.arange(3 * 64 * 64, dtype=torch.int64)
    x = (((i * 37) % 101).double() / 50.0 - 1.0).float().reshape(1, 3, 64, 64)
    with torch.no_grad():
        f3, f4 = net(x)
        return collections.OrderedDict(f3=f3, f4=f4, adapted3=a3(f3), adapted4=a4(f4))


def main():
    out = lambda n: os.path.join(HERE, n)
    entries = []

    rd = reader_dict()
    torch.save(rd, out("reader_zip.pth"))
    torch.save(rd, out("reader_legacy.pth"), _use_new_zipfile_serialization=False)
    entries.append(("reader_zip.pth", "zip", rd, True))
    entries.append(("reader_legacy.pth", "legacy", rd, True))

    rewrite_big_endian(out("reader_zip.pth"), out("reader_bigendian.pth"))
    entries.append(("reader_bigendian.pth", "zip", rd, True))

    nc = nested_checkpoint()
    torch.save(nc, out("nested_zip_p4.pth"), pickle_protocol=4)
    torch.save(nc, out("nested_legacy.pth"), _use_new_zipfile_serialization=False)
    entries.append(("nested_zip_p4.pth", "zip", nc, True))
    entries.append(("nested_legacy.pth", "legacy", nc, True))

    views = write_legacy_with_views(out("legacy_storage_view.pth"))
    entries.append(("legacy_storage_view.pth", "legacy", views, True))

    gen = torch.Generator().manual_seed(3)
    tv = tiny_torchvision(gen)
    torch.save(tv, out("tiny_torchvision.pth"))
    entries.append(("tiny_torchvision.pth", "zip", tv, False))

    authors = {"state_dict1": adaptation_layer(64, 5, gen),
               "state_dict2": adaptation_layer(128, 3, gen)}
    torch.save(authors, out("tiny_sfnet_authors.pth"), _use_new_zipfile_serialization=False)
    entries.append(("tiny_sfnet_authors.pth", "legacy", authors, False))
    # Not a file: the outputs PyTorch computes with those weights ("forward" format).
    entries.append(("tiny_forward", "forward", reference_forward(tv, authors), True))

    write_expected(entries)

    # Cross-check: PyTorch itself reads back every file it wrote (not the hand-made ones'
    # big-endian/view variants, which only our reader is meant to parse).
    for name, _, obj, _ in entries:
        if name in ("reader_bigendian.pth", "legacy_storage_view.pth", "tiny_forward"):
            continue
        back = torch.load(out(name))
        for (n1, a), (n2, b) in zip(flatten(back), flatten(obj)):
            assert n1 == n2 and a.dtype == b.dtype and a.shape == b.shape, (name, n1)
            assert torch.equal(a.double(), b.double()) or torch.allclose(
                a.double(), b.double(), rtol=0, atol=0, equal_nan=True), (name, n1)
    total = sum(os.path.getsize(out(n)) for n, _, _, _ in entries if n.endswith(".pth"))
    total += os.path.getsize(out("expected.txt"))
    print("wrote %d fixtures, %d bytes in total" % (len(entries), total))
    if total > 1 << 20:
        sys.exit("fixtures exceed 1 MB")


if __name__ == "__main__":
    main()
