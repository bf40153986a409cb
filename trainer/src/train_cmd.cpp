// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet train`: command line -> TrainOptions -> train().

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
namespace
{
const char* const kUsage =
    "usage: sfnet train --data SPEC --output DIR [options]\n"
    "\n"
    "Trains SFNet's adaptation layers from images with foreground masks (the paper's recipe:\n"
    "pairs made from one image by two random affine warps and colour jitters).\n"
    "\n"
    "data:\n"
    "  --data SPEC          voc:DIR (VOC2012 folder), folder:DIR (images/ + masks/, see\n"
    "                       `sfnet generate`), composite:DIR (DIR/objects.txt lists RGBA photo\n"
    "                       cut-outs, DIR/backgrounds.txt photos: each image is a cut-out pasted\n"
    "                       on a background crop), synthetic or synthetic:N (generated on the fly)\n"
    "  --composites N       composite:DIR: composites per cut-out, a fixed pool (default 8)\n"
    "  --distractors N      composite:DIR: up to N other cut-outs behind the object (default 2)\n"
    "  --other-background P composite:DIR: with probability P a pair's target view shows the\n"
    "                       object at the same place on another background (default 0)\n"
    "  --voc-set NAME       VOC image set: train, val, trainval (default trainval)\n"
    "  --voc-masks NAME     SegmentationClass (default) or SegmentationObject\n"
    "  --exclude FILE       names to leave out: a list or a PF-PASCAL pair CSV\n"
    "model:\n"
    "  --backbone NAME      resnet101 (default), resnet50, resnet18, efficientnet_lite0,\n"
    "                       efficientnet_lite1, efficientnet_lite2, tiny (fresh model)\n"
    "  --init CKPT          start from a checkpoint (e.g. written by `sfnet import`)\n"
    "  --beta B, --sigma S  kernel soft argmax of a fresh model (default 50, 5)\n"
    "  --train-backbone     also train the backbone (its BatchNorm statistics stay fixed)\n"
    "  --identity-weight W  --init adaptation layers that are the exact identity start as a\n"
    "                       near-identity with BatchNorm weight W (e.g. 0.01): the exact identity\n"
    "                       gets zero gradients, and training from it is refused without this\n"
    "optimisation:\n"
    "  --epochs N           default 40\n"
    "  --batch N            default 16\n"
    "  --lr X               Adam learning rate, default 3e-5\n"
    "  --lr-step N          multiply the lr by --lr-gamma every N epochs (default 30)\n"
    "  --lr-gamma X         default 0.2\n"
    "  --lr-milestones L    multiply the lr by --lr-gamma at each listed epoch, e.g. 30,35\n"
    "                       (PyTorch's MultiStepLR; replaces --lr-step)\n"
    "  --size N             square input side, multiple of 32 (default 320)\n"
    "  --seed N             model init, data order, augmentation (default 0)\n"
    "  --max-iters N        stop after N iterations in total (writes a checkpoint)\n"
    "run:\n"
    "  --output DIR         checkpoint.pt (every epoch, atomic), log.tsv\n"
    "  --resume             continue from DIR/checkpoint.pt exactly where it stopped\n"
    "  --workers N          data loading threads (default 2)\n"
    "  --device cpu|cuda    default cpu\n"
    "  --val-pairs CSV      validation after every epoch: PCK@0.1 on a PF-PASCAL-format pair\n"
    "                       list (e.g. `sfnet generate --pairs`); best model -> DIR/best.pt\n"
    "  --val-root DIR       folder the CSV's image paths are relative to (default: the CSV's)\n"
    "  --val-threshold T    PCK reference length: image (default), bbox (the CSV's L_pck or boxes,\n"
    "                       as the authors pick their best epoch), image-square, bbox-kp\n"
    "  --no-progress        no progress bar\n"
    "recipe (defaults follow the SFNet authors' code; see doc/training.md):\n"
    "  --smoothness F       authors (|d(Fx+Fy)/dx| + |d(Fx+Fy)/dy|, default) or per-channel\n"
    "  --mask-shrink M      masks to the feature grid: antialiased (PIL bilinear, default) or area\n"
    "  --bn-stats S         adaptation BatchNorm statistics: per-view (default) or joint\n"
    "  --bn-init I          adaptation BatchNorm weights of a fresh model: uniform (U(0,1),\n"
    "                       default) or ones\n"
    "several processes (doc/training.md; the environment of torchrun, flags override it):\n"
    "  --world-size N       WORLD_SIZE: number of processes (default 1); --batch is per process\n"
    "  --rank R             RANK of this process (0 writes checkpoints and logs)\n"
    "  --local-rank R       LOCAL_RANK (the CUDA device with --device cuda)\n"
    "  --master-addr HOST   MASTER_ADDR: where rank 0 serves the rendezvous (default 127.0.0.1)\n"
    "  --master-port PORT   MASTER_PORT (default 29500)\n"
    "  --dist-timeout S     a rank waiting longer than S seconds for the others fails with\n"
    "                       exit code 3 (default 1800; must exceed the validation time)\n";


}  // namespace

int cmdTrain(int argc, char** argv)
{
    TrainOptions o;
    bool haveData = false, haveStep = false;
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
        for (OptionReader args(argc, argv); args.next();)
        {
            const std::string a = args.option();
            auto value = [&] { return args.value(); };
            if (a == "--help" || a == "-h")
            {
                std::cout << kUsage;
                return 0;
            }
            else if (a == "--data")
                o.data = value(), haveData = true;
            else if (a == "--composites")
                o.compositesPerObject = parseInt32(a, value());
            else if (a == "--other-background")
                o.otherBackground = parseDouble(a, value());
            else if (a == "--distractors")
                o.maxDistractors = parseInt32(a, value());
            else if (a == "--voc-set")
                o.vocSet = value();
            else if (a == "--voc-masks")
                o.vocMasks = value();
            else if (a == "--exclude")
                o.exclude = value();
            else if (a == "--backbone")
                o.backbone = value();
            else if (a == "--init")
                o.init = value();
            else if (a == "--beta")
                o.beta = parseDouble(a, value());
            else if (a == "--sigma")
                o.sigma = parseDouble(a, value());
            else if (a == "--identity-weight")
                o.identityWeight = parseDouble(a, value());
            else if (a == "--train-backbone")
                o.trainBackbone = true;
            else if (a == "--epochs")
                o.epochs = parseInt32(a, value());
            else if (a == "--batch")
                o.batch = parseInt32(a, value());
            else if (a == "--lr")
                o.lr = parseDouble(a, value());
            else if (a == "--lr-step")
                o.lrStep = parseInt32(a, value()), haveStep = true;
            else if (a == "--lr-milestones")
                o.lrMilestones = parseMilestones(value());
            else if (a == "--smoothness")
                o.smoothness = value();
            else if (a == "--mask-shrink")
                o.maskShrink = value();
            else if (a == "--bn-stats")
                o.bnStats = value();
            else if (a == "--bn-init")
                o.bnInit = value();
            else if (a == "--world-size")
                o.worldSize = parseInt32(a, value());
            else if (a == "--rank")
                o.rank = parseInt32(a, value());
            else if (a == "--local-rank")
                o.localRank = parseInt32(a, value());
            else if (a == "--master-addr")
                o.masterAddr = value();
            else if (a == "--master-port")
                o.masterPort = parseInt32(a, value());
            else if (a == "--dist-timeout")
                o.distTimeout = parseDouble(a, value());
            else if (a == "--lr-gamma")
                o.lrGamma = parseDouble(a, value());
            else if (a == "--size")
                o.size = parseInt32(a, value());
            else if (a == "--seed")
            {
                const int64_t s = parseInt(a, value());
                if (s < 0)
                    throw std::invalid_argument("--seed must be >= 0");
                o.seed = uint64_t(s);
            }
            else if (a == "--max-iters")
                o.maxIters = parseInt(a, value());
            else if (a == "--output" || a == "-o")
                o.output = value();
            else if (a == "--resume")
                o.resume = true;
            else if (a == "--workers")
                o.workers = parseInt32(a, value());
            else if (a == "--device")
                o.device = value();
            else if (a == "--val-pairs")
                o.valPairs = value();
            else if (a == "--val-root")
                o.valRoot = value();
            else if (a == "--val-threshold")
                o.valThreshold = value();
            else if (a == "--val-protocol")
                o.valProtocol = value();
            else if (a == "--no-progress")
                o.progress = false;
            else
                throw std::invalid_argument("unknown option '" + a + "'");
        }
        if (!haveData)
            throw std::invalid_argument("--data is required");
        if (haveStep && !o.lrMilestones.empty())
            throw std::invalid_argument("give --lr-step or --lr-milestones, not both");
        if (o.output.empty())
            throw std::invalid_argument("--output is required");
    }
    catch (const std::runtime_error& e)  // a malformed MASTER_PORT, WORLD_SIZE, ...
    {
        std::cerr << "sfnet train: " << e.what() << "\n";
        return 2;
    }
    catch (const std::invalid_argument& e)
    {
        std::cerr << "sfnet train: " << e.what() << "\n\n" << kUsage;
        return 2;
    }
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
