// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// The SFNet training loop behind `sfnet train` (doc/design.md, "Training"). No LibTorch in
// this header: the CLI and the tests drive it through plain options.

#include <cstdint>
#include <string>
#include <vector>

namespace sfnet
{

/** @brief Everything `sfnet train` can be told. Defaults are the paper's recipe. */
struct TrainOptions
{
    std::string data = "synthetic";          ///< voc:DIR | folder:DIR | composite:DIR | synthetic[:N]
    int compositesPerObject = 8;             ///< composite:DIR: composites per cut-out (a fixed pool)
    int maxDistractors = 2;                  ///< composite:DIR: 0..N distractor cut-outs per composite
    double otherBackground = 0;              ///< composite:DIR: probability of different backgrounds per view
    std::string vocSet = "trainval";         ///< VOC image set (ImageSets/Segmentation/<set>.txt)
    std::string vocMasks = "SegmentationClass";  ///< or SegmentationObject
    std::string exclude;                     ///< name list / PF-PASCAL CSV of images to leave out
    std::string backbone = "resnet101";      ///< for a fresh model (ignored with init or resume)
    std::string init;                        ///< checkpoint to start from (e.g. from `sfnet import`)
    std::string output;                      ///< output folder (checkpoint.pt, best.pt, log.tsv)
    int epochs = 40;
    int batch = 16;
    double lr = 3e-5;
    int lrStep = 30;        ///< lr is multiplied by lrGamma every lrStep epochs
    double lrGamma = 0.2;
    /// When non-empty: lr is multiplied by lrGamma at each of these epochs (increasing,
    /// 1-based epoch counts as in PyTorch's MultiStepLR) and lrStep is not used.
    std::vector<int> lrMilestones;
    int size = 320;         ///< square input side (multiple of 32)
    uint64_t seed = 0;      ///< model init, data order and augmentation all derive from it
    bool trainBackbone = false;
    /// > 0: adaptation layers that are exactly the identity (`sfnet import --identity-adaptation`)
    /// get this BatchNorm weight before training, so that they can learn (the exact identity
    /// cannot: see AdaptationLayerImpl::isExactIdentity). Training from the exact identity without
    /// it is refused.
    double identityWeight = 0;
    int workers = 2;        ///< data loading threads
    /// PF-PASCAL-format pair CSV: after every epoch, PCK@0.1 (per-pair mean, L = image side,
    /// target-to-source transfer) with the module's benchmark code; the best model goes
    /// to <output>/best.pt, every result to <output>/val.tsv.
    std::string valPairs;
    std::string valRoot;    ///< folder the CSV's image paths are relative to (default: the CSV's)
    /// PCK reference length of the validation: image (default), bbox (the CSV's L_pck or
    /// boxes, the authors' choice for the best checkpoint), image-square, bbox-kp.
    std::string valThreshold = "image";
    /// How validation images become network inputs: plain (resized to size x size,
    /// INTER_AREA/INTER_LINEAR, full grid) or authors (the SFNet authors' evaluation: PIL's
    /// antialiased bilinear resize to size - 32, 16 px of zero padding, the outer ring of grid
    /// cells dropped; cv::SemanticFlow with padBorder and semflow::RESIZE_ANTIALIASED_BILINEAR).
    std::string valProtocol = "plain";
    std::string device = "cpu";  ///< cpu | cuda
    bool resume = false;    ///< continue from <output>/checkpoint.pt exactly where it stopped
    int64_t maxIters = -1;  ///< stop (with a checkpoint) after this many iterations in total
    double beta = 50;       ///< kernel soft argmax temperature of a fresh model
    double sigma = 5;       ///< kernel soft argmax window of a fresh model
    bool progress = true;   ///< progress bar on stderr

    // The authors' recipe where ours could differ (doc/training.md, "Differences from the
    // authors' code"); the defaults follow the authors' code.
    std::string smoothness = "authors";     ///< authors (|d(Fx+Fy)|) | per-channel (|dFx| + |dFy|)
    std::string maskShrink = "antialiased";  ///< antialiased (PIL bilinear) | area (INTER_AREA)
    std::string bnStats = "per-view";       ///< adaptation BatchNorm statistics: per-view | joint
    std::string bnInit = "uniform";         ///< adaptation BatchNorm weights of a fresh model: uniform (U(0,1)) | ones

    // Data-parallel training (doc/training.md, "Several processes"): `batch` is per process,
    // the global batch is batch * worldSize; rank 0 alone writes files.
    int worldSize = 1;
    int rank = 0;
    int localRank = 0;
    std::string masterAddr = "127.0.0.1";
    int masterPort = 29500;
    double distTimeout = 1800;  ///< seconds a collective may wait for the other processes
};

/** @brief Learning rate of epoch @p epoch (0-based): lr * lrGamma^k, k = the number of
milestones <= epoch (or epoch / lrStep without milestones). */
double learningRateAt(const TrainOptions& options, int64_t epoch);

/** @brief Parses "30,35" into {30, 35}. @throws std::invalid_argument unless the list is
non-empty, comma-separated, positive and strictly increasing. */
std::vector<int> parseMilestones(const std::string& list);

/** @brief What a run did. */
struct TrainSummary
{
    int64_t iterations = 0;      ///< global iteration count reached (including resumed ones)
    int64_t startIteration = 0;  ///< where this run started (non-zero after --resume)
    int epochsCompleted = 0;
    double firstLoss = 0;        ///< mean total loss of the first logged window of this run
    double lastLoss = 0;         ///< mean total loss of the last window of this run
    int64_t skippedSamples = 0;  ///< unreadable items skipped
    double seconds = 0;
    std::string checkpoint;      ///< path of the last checkpoint written
    double bestPck = -1;         ///< best validation PCK@0.1 (per-pair mean), -1 without validation
};

/** @brief Runs training. Writes `<output>/checkpoint.pt` (a model file `sfnet export`
reads, plus optimiser state and counters) after every epoch and when stopping at
maxIters, atomically; appends to `<output>/log.tsv`. With validation pairs, also
`<output>/best.pt` (model only, best PCK@0.1 so far) and `<output>/val.tsv`.

Reproducible: with the same options, an interrupted run resumed with `resume` ends with
the same weights as an uninterrupted one (data order and augmentation are functions of
(seed, epoch, position), not of threads or time).
@throws std::runtime_error for bad options, unreadable data, a missing checkpoint to
resume from, or `device == "cuda"` without CUDA.
*/
TrainSummary train(const TrainOptions& options);

}  // namespace sfnet
