// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet train`: command line -> TrainOptions -> train().

#include "backbone.hpp"
#include "cli_args.hpp"
#include "commands.hpp"
#include "distributed.hpp"
#include "train.hpp"

#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>

namespace sfnet
{

int cmdTrain(int argc, char** argv)
{
    TrainOptions o;
    try
    {
        DistributedConfig env;
        env.worldSize = o.worldSize;
        env.rank = o.rank;
        readDistributedEnvironment(env);
        o.worldSize = env.worldSize;
        o.rank = env.rank;
        o.localRank = env.localRank;
        o.masterAddr = env.masterAddr;
        o.masterPort = env.masterPort;
    }
    catch (const std::runtime_error& e)  // a malformed MASTER_PORT, WORLD_SIZE, ...
    {
        std::cerr << "sfnet train: " << e.what() << "\n";
        return 2;
    }

    CommandLine cl("train",
                   "usage: sfnet train --data SPEC --output DIR [options]\n"
                   "\n"
                   "Trains SFNet's adaptation layers from images with foreground masks (the paper's recipe:\n"
                   "pairs made from one image by two random affine warps and colour jitters).\n"
                   "\n");
    cl.section("data:");
    cl.option("--data", "SPEC",
              "voc:DIR (VOC2012 folder), folder:DIR (images/ + masks/, see\n"
              "`sfnet generate`), composite:DIR (DIR/objects.txt lists RGBA photo\n"
              "cut-outs, DIR/backgrounds.txt photos: each image is a cut-out pasted\n"
              "on a background crop), synthetic or synthetic:N (generated on the fly)",
              store(o.data));
    cl.option("--composites", "N", "composite:DIR: composites per cut-out, a fixed pool (default 8)",
              storeInt(o.compositesPerObject));
    cl.option("--distractors", "N", "composite:DIR: up to N other cut-outs behind the object (default 2)",
              storeInt(o.maxDistractors));
    cl.option("--other-background", "P",
              "composite:DIR: with probability P a pair's target view shows the\n"
              "object at the same place on another background (default 0)",
              storeDouble(o.otherBackground));
    cl.option("--voc-set", "NAME", "VOC image set: train, val, trainval (default trainval)", store(o.vocSet));
    cl.option("--voc-masks", "NAME", "SegmentationClass (default) or SegmentationObject", store(o.vocMasks));
    cl.option("--exclude", "FILE", "names to leave out: a list or a PF-PASCAL pair CSV", store(o.exclude));
    cl.section("model:");
    cl.option("--backbone", "NAME", "of a fresh model (default resnet101): " + backboneNamesForHelp(),
              store(o.backbone));
    cl.option("--init", "CKPT", "start from a checkpoint (e.g. written by `sfnet import`)", store(o.init));
    cl.option("--beta", "B", "kernel soft argmax temperature of a fresh model (default 50)", storeDouble(o.beta));
    cl.option("--sigma", "S", "its Gaussian window width in feature cells (default 5)", storeDouble(o.sigma));
    cl.flag("--train-backbone", "also train the backbone (its BatchNorm statistics stay fixed)",
            [&] { o.trainBackbone = true; });
    cl.option("--identity-weight", "W",
              "--init adaptation layers that are the exact identity start as a\n"
              "near-identity with BatchNorm weight W (e.g. 0.01): the exact identity\n"
              "gets zero gradients, and training from it is refused without this",
              storeDouble(o.identityWeight));
    cl.section("optimisation:");
    cl.option("--epochs", "N", "default 40", storeInt(o.epochs));
    cl.option("--batch", "N", "default 16", storeInt(o.batch));
    cl.option("--lr", "X", "Adam learning rate, default 3e-5", storeDouble(o.lr));
    cl.option("--lr-step", "N", "multiply the lr by --lr-gamma every N epochs (default 30)",
              storeInt(o.lrStep));
    cl.option("--lr-gamma", "X", "default 0.2", storeDouble(o.lrGamma));
    cl.option("--lr-milestones", "L",
              "multiply the lr by --lr-gamma at each listed epoch, e.g. 30,35\n"
              "(PyTorch's MultiStepLR; replaces --lr-step)",
              [&](const std::string&, const std::string& v) { o.lrMilestones = parseMilestones(v); });
    cl.option("--size", "N", "square input side, multiple of 32 (default 320)", storeInt(o.size));
    cl.option("--seed", "N", "model init, data order, augmentation (default 0)",
              [&](const std::string& a, const std::string& v) {
                  const int64_t seed = parseInt(a, v);
                  if (seed < 0)
                      throw std::invalid_argument("--seed must be >= 0");
                  o.seed = uint64_t(seed);
              });
    cl.option("--max-iters", "N", "stop after N iterations in total (writes a checkpoint)", storeInt(o.maxIters));
    cl.section("run:");
    cl.option("--output, -o", "DIR", "checkpoint.pt (every epoch, atomic), log.tsv", store(o.output));
    cl.flag("--resume", "continue from DIR/checkpoint.pt exactly where it stopped", [&] { o.resume = true; });
    cl.option("--workers", "N", "data loading threads (default 2)", storeInt(o.workers));
    cl.option("--device", "cpu|cuda", "default cpu", store(o.device));
    cl.option("--val-pairs", "CSV",
              "validation after every epoch: PCK@0.1 on a PF-PASCAL-format pair\n"
              "list (e.g. `sfnet generate --pairs`); best model -> DIR/best.pt",
              store(o.valPairs));
    cl.option("--val-root", "DIR", "folder the CSV's image paths are relative to (default: the CSV's)",
              store(o.valRoot));
    cl.option("--val-threshold", "T",
              "PCK reference length: image (default), bbox (the CSV's L_pck or boxes,\n"
              "as the authors pick their best epoch), image-square, bbox-kp",
              store(o.valThreshold));
    cl.option("--val-protocol", "P",
              "how validation images become inputs: plain (resized, default) or\n"
              "authors (the SFNet authors' evaluation: antialiased resize to size - 32,\n"
              "16 px of zero padding, the outer ring of grid cells dropped)",
              store(o.valProtocol));
    cl.flag("--no-progress", "no progress bar", [&] { o.progress = false; });
    cl.section("recipe (defaults follow the SFNet authors' code; see doc/training.md):");
    cl.option("--smoothness", "F", "authors (|d(Fx+Fy)/dx| + |d(Fx+Fy)/dy|, default) or per-channel",
              store(o.smoothness));
    cl.option("--mask-shrink", "M", "masks to the feature grid: antialiased (PIL bilinear, default) or area",
              store(o.maskShrink));
    cl.option("--bn-stats", "S", "adaptation BatchNorm statistics: per-view (default) or joint", store(o.bnStats));
    cl.option("--bn-init", "I",
              "adaptation BatchNorm weights of a fresh model: uniform (U(0,1),\n"
              "default) or ones",
              store(o.bnInit));
    cl.section("several processes (doc/training.md; the environment of torchrun, flags override it):");
    cl.option("--world-size", "N", "WORLD_SIZE: number of processes (default 1); --batch is per process",
              storeInt(o.worldSize));
    cl.option("--rank", "R", "RANK of this process (0 writes checkpoints and logs)", storeInt(o.rank));
    cl.option("--local-rank", "R", "LOCAL_RANK (the CUDA device with --device cuda)", storeInt(o.localRank));
    cl.option("--master-addr", "HOST", "MASTER_ADDR: where rank 0 serves the rendezvous (default 127.0.0.1)",
              store(o.masterAddr));
    cl.option("--master-port", "PORT", "MASTER_PORT (default 29500)", storeInt(o.masterPort));
    cl.option("--dist-timeout", "S",
              "a rank waiting longer than S seconds for the others fails with\n"
              "exit code 3 (default 1800; must exceed the validation time)",
              storeDouble(o.distTimeout));
    const int rc = cl.parse(argc, argv, [&] {
        if (!cl.given("--data"))
            throw std::invalid_argument("--data is required");
        if (cl.given("--lr-step") && !o.lrMilestones.empty())
            throw std::invalid_argument("give --lr-step or --lr-milestones, not both");
        if (o.output.empty())
            throw std::invalid_argument("--output is required");
    });
    if (rc >= 0)
        return rc;
    const TrainSummary s = train(o);
    if (o.rank != 0)
        return 0;
    std::cout << "trained iterations " << s.startIteration << ".." << s.iterations << " (" << s.epochsCompleted
              << " epochs complete) in " << std::fixed << std::setprecision(1) << s.seconds << " s; loss "
              << std::setprecision(4) << s.firstLoss << " -> " << s.lastLoss << "; checkpoint " << s.checkpoint;
    if (s.bestPck >= 0)
        std::cout << "; best validation PCK@0.1 " << s.bestPck;
    std::cout << "\n";
    return 0;
}

}  // namespace sfnet
