#!/usr/bin/env python3
"""Plots an `sfnet train` run: the training loss (per iteration, with its per-epoch mean) and
the validation PCK per epoch (val.tsv, when the run had --val-pairs), as one PNG.

usage: plot_training.py RUN_DIR OUT.png [--title TEXT]
Needs matplotlib (Debian: python3-matplotlib); run it with /usr/bin/python3.
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    try:
        log = read_tsv(f"{a.run}/log.tsv")
    except OSError as e:
        sys.exit(f"plot_training: cannot read {a.run}/log.tsv: {e}")
    if not log:
        sys.exit(f"plot_training: {a.run}/log.tsv has no iterations")
    try:
        val = read_tsv(f"{a.run}/val.tsv")
    except OSError:
        val = []
    it = [int(r["iteration"]) for r in log]
    loss = [float(r["loss"]) for r in log]
    epochs = sorted({int(r["epoch"]) for r in log})
    per_epoch = []
    for e in epochs:
        rows = [r for r in log if int(r["epoch"]) == e]
        per_epoch.append((max(int(r["iteration"]) for r in rows), sum(float(r["loss"]) for r in rows) / len(rows)))

    fig, ax = plt.subplots(1, 2 if val else 1, figsize=(11 if val else 6, 4), squeeze=False)
    ax = ax[0]
    ax[0].plot(it, loss, color="0.75", linewidth=0.6, label="loss per iteration")
    ax[0].plot([p[0] for p in per_epoch], [p[1] for p in per_epoch], "o-", color="C0", label="mean over the epoch")
    ax[0].set_xlabel("iteration")
    ax[0].set_ylabel("SFNet loss (mask 3, flow 16, smooth 0.5)")
    ax[0].legend()
    ax[0].grid(alpha=0.3)
    if val:
        ep = [int(r["epoch"]) for r in val]
        for key, c in (("pck@0.05", "C1"), ("pck@0.1", "C2"), ("pck@0.15", "C3")):
            ax[1].plot(ep, [float(r[key]) for r in val], "o-", color=c, label=key.upper())
        ax[1].set_xlabel("epoch")
        ax[1].set_ylabel("held-out PCK (bbox), per pair")
        ax[1].legend()
        ax[1].grid(alpha=0.3)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(f"plot_training: wrote {a.out}")


if __name__ == "__main__":
    main()
