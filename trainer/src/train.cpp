// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "train.hpp"

#include "batch_norm.hpp"
#include "atomic_file.hpp"
#include "data.hpp"
#include "distributed.hpp"
#include "losses.hpp"
#include "model.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/semflow/benchmark.hpp>
#include <opencv2/semflow/flow_utils.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fs = std::filesystem;

namespace sfnet
{
namespace
{
// Every iteration allocates and frees the same few hundred activation buffers of up to
// ~50 MB. glibc serves blocks above its mmap threshold with mmap and returns them with
// munmap, so each iteration faulted in (and the kernel zeroed) every page again: on the
// 2-core machine 70 % of a Lite0 step was system time (2.3 s per 8 pairs; 0.7 s with
// the buffers kept). Keep freed memory in the heap for reuse instead.
void keepFreedMemoryForReuse()
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 1 << 30);  // blocks below 1 GiB come from the heap
    mallopt(M_TRIM_THRESHOLD, -1);       // and the heap is never trimmed back
#endif
}

using Clock = std::chrono::steady_clock;

torch::Tensor stackImages(const std::vector<PairSample>& v, bool source)
{
    const cv::Mat& first = source ? v[0].source : v[0].target;
    auto t = torch::empty({int64_t(v.size()), 3, first.rows, first.cols});
    for (size_t i = 0; i < v.size(); ++i)
    {
        cv::Mat m = source ? v[i].source : v[i].target;
        if (!m.isContinuous())
            m = m.clone();
        t[int64_t(i)].copy_(torch::from_blob(m.data, {m.rows, m.cols, 3}, torch::kFloat).permute({2, 0, 1}));
    }
    return t;
}

torch::Tensor stackMasks(const std::vector<PairSample>& v, bool source)
{
    const cv::Mat& first = source ? v[0].maskS : v[0].maskT;
    auto t = torch::empty({int64_t(v.size()), 1, first.rows, first.cols});
    for (size_t i = 0; i < v.size(); ++i)
    {
        cv::Mat m = source ? v[i].maskS : v[i].maskT;
        if (!m.isContinuous())
            m = m.clone();
        t[int64_t(i)][0].copy_(torch::from_blob(m.data, {m.rows, m.cols}, torch::kFloat));
    }
    return t;
}

std::string formatDuration(double s)
{
    if (!std::isfinite(s) || s < 0)
        return "--";
    const int64_t t = int64_t(s + 0.5);
    std::ostringstream os;
    if (t >= 3600)
        os << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << "m";
    else if (t >= 60)
        os << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
    else
        os << t << "s";
    return os.str();
}

// A one-line progress bar on stderr. On a terminal it redraws in place; in a log file it
// prints a line every 30 s and at the end of each epoch.
class Progress
{
public:
    Progress(bool enabled, int64_t start, int64_t end, int64_t perEpoch, int epochs)
        : enabled_(enabled), tty_(isatty(fileno(stderr)) != 0), start_(start), end_(end), perEpoch_(perEpoch),
          epochs_(epochs), t0_(Clock::now()), last_(t0_ - std::chrono::hours(1))
    {
    }

    void update(int64_t done, double loss, double mask, double flow, double smooth)
    {
        if (!enabled_)
            return;
        const auto now = Clock::now();
        const bool epochEnd = done % perEpoch_ == 0 || done == end_;
        const double since = std::chrono::duration<double>(now - last_).count();
        if (!epochEnd && since < (tty_ ? 0.25 : 30.0))
            return;
        last_ = now;
        const double el = std::chrono::duration<double>(now - t0_).count();
        const double rate = (done - start_) / std::max(el, 1e-9);
        const int64_t epoch = (done - 1) / perEpoch_, inEpoch = done - epoch * perEpoch_;
        const int width = 24, filled = int(width * inEpoch / perEpoch_);
        std::ostringstream os;
        os << "epoch " << epoch + 1 << "/" << epochs_ << " [" << std::string(size_t(filled), '=')
           << std::string(size_t(width - filled), ' ') << "] " << inEpoch << "/" << perEpoch_ << std::fixed
           << std::setprecision(4) << "  loss " << loss << " (mask " << mask << " flow " << flow << " smooth "
           << smooth << ")" << std::setprecision(2) << "  " << rate << " it/s  ETA "
           << formatDuration((end_ - done) / std::max(rate, 1e-9));
        const std::string line = os.str();
        if (tty_)
        {
            std::cerr << "\r" << line << std::string(line.size() < lastLen_ ? lastLen_ - line.size() : 0, ' ');
            if (epochEnd)
                std::cerr << "\n";
            lastLen_ = line.size();
        }
        else
            std::cerr << line << "\n";
        std::cerr.flush();
    }

private:
    bool enabled_, tty_;
    int64_t start_, end_, perEpoch_;
    int epochs_;
    Clock::time_point t0_, last_;
    size_t lastLen_ = 0;
};

void checkOptions(const TrainOptions& o)
{
    auto bad = [](const std::string& m) { throw std::runtime_error(m); };
    if (o.output.empty())
        bad("an output folder is required (--output DIR)");
    if (o.epochs < 1)
        bad("--epochs must be >= 1");
    if (o.batch < 1)
        bad("--batch must be >= 1");
    if (!(o.lr > 0))
        bad("--lr must be > 0");
    if (o.lrStep < 1)
        bad("--lr-step must be >= 1");
    for (size_t i = 0; i < o.lrMilestones.size(); ++i)
        if (o.lrMilestones[i] < 1 || (i > 0 && o.lrMilestones[i] <= o.lrMilestones[i - 1]))
            bad("--lr-milestones must be positive and strictly increasing");
    if (!(o.identityWeight >= 0) || o.identityWeight > 1)
        bad("--identity-weight must be in [0, 1]");
    if (o.compositesPerObject < 1)
        bad("--composites must be >= 1");
    if (o.maxDistractors < 0 || o.maxDistractors > 8)
        bad("--distractors must be between 0 and 8");
    if (!(o.otherBackground >= 0) || o.otherBackground > 1)
        bad("--other-background must be a probability in [0, 1]");
    if (o.smoothness != "authors" && o.smoothness != "per-channel")
        bad("--smoothness must be authors or per-channel, got '" + o.smoothness + "'");
    if (o.maskShrink != "antialiased" && o.maskShrink != "area")
        bad("--mask-shrink must be antialiased or area, got '" + o.maskShrink + "'");
    if (o.bnStats != "per-view" && o.bnStats != "joint")
        bad("--bn-stats must be per-view or joint, got '" + o.bnStats + "'");
    if (o.bnInit != "uniform" && o.bnInit != "ones")
        bad("--bn-init must be uniform or ones, got '" + o.bnInit + "'");
    if (o.worldSize < 1 || o.rank < 0 || o.rank >= o.worldSize)
        bad("the rank must be in [0, world size): got rank " + std::to_string(o.rank) + " of " +
            std::to_string(o.worldSize));
    if (o.localRank < 0)
        bad("--local-rank must be >= 0");
    if (o.masterPort < 1 || o.masterPort > 65535)
        bad("--master-port must be in [1, 65535]");
    if (!(o.distTimeout > 0))
        bad("--dist-timeout must be > 0 seconds");
    if (!(o.lrGamma > 0))
        bad("--lr-gamma must be > 0");
    if (o.size < 64 || o.size % 32 != 0)
        bad("--size must be a multiple of 32 and at least 64, got " + std::to_string(o.size));
    if (o.size > 2048)  // the bound of cv::SemanticFlow's input size too
        bad("--size must be at most 2048, got " + std::to_string(o.size));
    if (o.workers < 1)
        bad("--workers must be >= 1");
    if (o.device != "cpu" && o.device != "cuda")
        bad("--device must be cpu or cuda, got '" + o.device + "'");
    if (o.device == "cuda" && !torch::cuda::is_available())
        bad("--device cuda: this LibTorch build has no CUDA support or no GPU is visible "
            "(Debian's libtorch is CPU-only; build against a CUDA LibTorch 2.x to train on a GPU)");
    if (o.resume && !o.init.empty())
        bad("--resume continues from <output>/checkpoint.pt; drop --init");
    if (o.valPairs.empty() && !o.valRoot.empty())
        bad("--val-root needs --val-pairs");
    if (o.valProtocol != "plain" && o.valProtocol != "authors")
        bad("--val-protocol must be plain or authors, got '" + o.valProtocol + "'");
}

// Zero border of the authors' evaluation protocol, one feature cell (cv::SemanticFlow's too).
const int kValBorder = 16;

// One validation image as the network takes it, [1, 3, size, size] RGB in [0, 1]. Plain:
// resized to size x size (INTER_AREA when shrinking, INTER_LINEAR otherwise). Authors: the
// SFNet authors' evaluation input (cv::SemanticFlow with padBorder and
// RESIZE_ANTIALIASED_BILINEAR): PIL's antialiased bilinear resize of the 8-bit image to
// size - 32, then 16 px of zeros on every side.
torch::Tensor imageTensor(const cv::Mat& bgr, int size, bool authors)
{
    cv::Mat r, rgb;
    if (authors)
    {
        const int inner = size - 2 * kValBorder;
        cv::semflow::resizeAntialiased(bgr, r, cv::Size(inner, inner));
        cv::copyMakeBorder(r, r, kValBorder, kValBorder, kValBorder, kValBorder, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    }
    else
        cv::resize(bgr, r, cv::Size(size, size), 0, 0,
                   (bgr.cols > size || bgr.rows > size) ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::cvtColor(r, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(rgb, CV_32FC3, 1.0 / 255);
    return torch::from_blob(rgb.data, {size, size, 3}, torch::kFloat).permute({2, 0, 1}).clone().unsqueeze(0);
}

// Validation PCK with the module's benchmark code (loader, keypoint transfer, PCK): both
// images made network inputs (imageTensor), the from->to grid (with the authors' protocol:
// its outer ring of cells dropped and the rest rescaled by Wg/(Wg-2) to span the unpadded
// image, as cv::SemanticFlow's border protocol does) upsampled (bilinear, align_corners) to
// the size of `from` and turned into a pixel flow into `to`. SFNet's direction (target
// keypoints transferred to the source); alphas 0.05, 0.1, 0.15.
cv::semflow::PCKResult evaluatePck(SFNet& model, const std::vector<cv::semflow::KeypointPair>& pairs, int size,
                                   const torch::Device& device, cv::semflow::PCKThreshold threshold, bool authors)
{
    torch::NoGradGuard noGrad;
    model->eval();
    cv::semflow::FlowFunction flowFn = [&](const cv::Mat& from, const cv::Mat& to, cv::Mat& flow) {
        const auto out = model->forward(imageTensor(from, size, authors).to(device),
                                        imageTensor(to, size, authors).to(device));
        namespace F = torch::nn::functional;
        auto grid = out.gridS2T;
        if (authors)
        {
            const int64_t hg = grid.size(2), wg = grid.size(3);
            const auto scale = torch::tensor({double(wg) / (wg - 2), double(hg) / (hg - 2)}, grid.options()).view({1, 2, 1, 1});
            grid = grid.slice(2, 1, hg - 1).slice(3, 1, wg - 1) * scale;
        }
        auto g = F::interpolate(grid, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{from.rows, from.cols})
                                          .mode(torch::kBilinear)
                                          .align_corners(true))
                     .to(torch::kCPU)[0];
        const auto xs = torch::arange(from.cols, torch::kFloat).view({1, -1});
        const auto ys = torch::arange(from.rows, torch::kFloat).view({-1, 1});
        const auto fx = (g[0] + 1) * (0.5 * (to.cols - 1)) - xs, fy = (g[1] + 1) * (0.5 * (to.rows - 1)) - ys;
        const auto hwc = torch::stack({fx, fy}, 2).contiguous();
        flow.create(from.rows, from.cols, CV_32FC2);
        std::memcpy(flow.data, hwc.data_ptr<float>(), size_t(hwc.numel()) * sizeof(float));
    };
    cv::semflow::PCKProtocol proto;
    proto.threshold = threshold;
    proto.direction = cv::semflow::TRANSFER_TARGET_TO_SOURCE;
    auto res = cv::semflow::evaluateBenchmark(pairs, flowFn, proto, "validation");
    model->train();
    return res;
}

// A fingerprint of the training state, to check that every rank resumed from the same one.
double stateChecksum(SFNet& model, torch::optim::Adam& opt)
{
    torch::NoGradGuard noGrad;
    double s = 0;
    int64_t k = 1;  // position weight for the ordered parameters and buffers; 0 = unweighted
    auto add = [&](const torch::Tensor& t) {
        if (t.defined() && t.numel() > 0)
            s += (k ? double(k++) : 1.0) * t.to(torch::kCPU).to(torch::kDouble).abs().sum().item<double>();
    };
    for (const auto& p : model->parameters())
        add(p);
    for (const auto& b : model->buffers())
        add(b);
    // The optimiser's state map is keyed by tensor addresses: its order differs between
    // processes, so its part of the sum must not depend on the order.
    k = 0;
    for (auto& kv : opt.state())
    {
        auto& st = static_cast<torch::optim::AdamParamState&>(*kv.second);
        add(st.exp_avg());
        add(st.exp_avg_sq());
    }
    return s;
}

// After a kill, a log may hold lines of iterations the checkpoint does not include (they
// are trained again after resuming) and a half-written last line: keep the header and the
// complete lines up to the checkpoint's iteration, so that the log reads as one run.
void trimLogForResume(const std::string& path, int64_t iteration)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::string kept;
    size_t pos = 0;
    for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
    {
        const std::string line = text.substr(pos, nl - pos + 1);
        char* end = nullptr;
        const long long it = std::strtoll(line.c_str(), &end, 10);
        if (pos == 0 || (end != line.c_str() && it <= iteration))
            kept += line;
    }
    if (kept.size() == text.size())
        return;
    writeFileAtomically(path, [&](int fd) { writeAll(fd, kept.data(), kept.size(), path + ".tmp"); });
}

void moveOptimizerState(torch::optim::Adam& opt, const torch::Device& dev)
{
    for (auto& kv : opt.state())
    {
        auto& s = static_cast<torch::optim::AdamParamState&>(*kv.second);
        s.exp_avg(s.exp_avg().to(dev));
        s.exp_avg_sq(s.exp_avg_sq().to(dev));
        if (s.max_exp_avg_sq().defined())
            s.max_exp_avg_sq(s.max_exp_avg_sq().to(dev));
    }
}
}  // namespace

double learningRateAt(const TrainOptions& o, int64_t epoch)
{
    int64_t k = 0;
    if (o.lrMilestones.empty())
        k = epoch / std::max(1, o.lrStep);
    else
        for (int m : o.lrMilestones)
            k += epoch >= m;
    return o.lr * std::pow(o.lrGamma, double(k));
}

std::vector<int> parseMilestones(const std::string& list)
{
    std::vector<int> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        size_t used = 0;
        int v = 0;
        try
        {
            v = std::stoi(item, &used);
        }
        catch (const std::exception&)
        {
            used = 0;
        }
        if (item.empty() || used != item.size() || v < 1 || (!out.empty() && v <= out.back()))
            throw std::invalid_argument("--lr-milestones expects increasing positive epochs like 30,35, got '" +
                                        list + "'");
        out.push_back(v);
    }
    if (out.empty() || (!list.empty() && list.back() == ','))
        throw std::invalid_argument("--lr-milestones expects increasing positive epochs like 30,35, got '" + list +
                                    "'");
    return out;
}

namespace
{
/** @brief One training run, in the shape of the PyTorch C++ frontend examples: the
constructor sets up, run() trains epoch after epoch; after each epoch rank 0 flushes the
log, validates (with validation pairs) and writes the checkpoint.

Not copyable: the BatchNorm statistics reducer and the gradient reducer point to its
process group. The members are declared in the order the steps create them, so they are
destroyed in the order the locals of the former single function were: the log first, the
loader's threads before the process group. */
class Trainer
{
public:
    /** @brief Setup: checks the options, opens the data, joins the process group, reads the
    validation pairs, builds the model (fresh, from --init, or from the checkpoint with
    --resume) and its optimiser, and checks that every rank starts from the same state.
    @throws std::runtime_error as train() says. */
    explicit Trainer(const TrainOptions& options);
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /** @brief Trains up to the last epoch or maxIters, then waits for the other ranks. */
    TrainSummary run();

private:
    /** @brief The training images, the process group, the loader and the validation pairs. */
    void openData();
    /** @brief The model to train, on its device; with --resume, @p optArchive gets the
    checkpoint's optimiser state. */
    void buildModel(torch::serialize::InputArchive& optArchive);
    /** @brief --resume: the model, counters and optimiser state of <output>/checkpoint.pt,
    checked against the options; the logs are trimmed back to its iteration. */
    SFNet loadCheckpoint(torch::serialize::InputArchive& optArchive);
    /** @brief Refuses ranks that start from different states, then gives every rank rank 0's
    parameters and buffers. */
    void checkSameStartOnEveryRank();
    /** @brief Appends to <output>/log.tsv (rank 0), with its header when it is new. */
    void openLog();
    /** @brief The iterations of epoch @p epoch this run has to do (from the resumed
    iteration, up to maxIters). @return the iteration count reached. */
    int64_t trainEpoch(int64_t epoch);
    /** @brief PCK of the validation pairs after epoch @p epoch (@p iteration iterations):
    a line of val.tsv, and best.pt when it is the best so far. */
    void validate(int64_t epoch, int64_t iteration);
    /** @brief <output>/checkpoint.pt at @p iteration: the model, the counters and the
    optimiser state (rank 0 only). */
    void saveCheckpoint(int64_t iteration);

    const TrainOptions options_;
    torch::Device device_;
    std::string ckptPath_, logPath_;
    std::shared_ptr<ImageSource> source_;
    std::unique_ptr<Distributed> dist_;
    bool mainRank_ = false;
    int globalBatch_ = 0;
    std::unique_ptr<PairLoader> loader_;
    int64_t perEpoch_ = 0;
    std::vector<cv::semflow::KeypointPair> valPairs_;
    cv::semflow::PCKThreshold valThreshold_ = cv::semflow::PCK_THRESHOLD_IMAGE;
    std::string bestPath_, valLogPath_;
    double bestPck_ = -1;

    SFNet model_{nullptr};
    int64_t startIter_ = 0;
    std::unique_ptr<torch::optim::Adam> opt_;
    std::unique_ptr<Distributed::GradientReducer> reducer_;
    LossWeights lossWeights_;
    int64_t end_ = 0;  ///< the iteration count this run stops at
    TrainSummary sum_;

    std::ofstream log_;
    std::unique_ptr<Progress> progress_;
    int64_t window_ = 1;  ///< iterations averaged into firstLoss and lastLoss
    double firstAcc_ = 0;
    std::vector<double> recent_;
    Clock::time_point t0_;
};

Trainer::Trainer(const TrainOptions& options) : options_(options), device_(torch::kCPU)
{
    const TrainOptions& o = options_;
    checkOptions(o);
    keepFreedMemoryForReuse();
    device_ = o.device == "cuda" ? torch::Device(torch::kCUDA, int8_t(o.worldSize > 1 ? o.localRank : 0))
                                 : torch::Device(torch::kCPU);
    fs::create_directories(o.output);
    ckptPath_ = (fs::path(o.output) / "checkpoint.pt").string();
    logPath_ = (fs::path(o.output) / "log.tsv").string();

    // Data first: a bad --data fails before any model is built.
    openData();

    // Model and training state.
    torch::serialize::InputArchive optArchive;  // with --resume: the checkpoint's optimiser state
    buildModel(optArchive);
    std::vector<torch::Tensor> params = model_->adaptationParameters();
    if (o.trainBackbone)
        for (const auto& p : model_->backboneParameters())
            params.push_back(p);
    opt_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr));
    if (o.resume)
    {
        opt_->load(optArchive);
        moveOptimizerState(*opt_, device_);
    }

    if (dist_->active())
        checkSameStartOnEveryRank();
    const int views = o.bnStats == "per-view" ? 2 : 1;
    StatisticsReducer reduceStats;
    if (dist_->active())
        reduceStats = [dist = dist_.get()](const torch::Tensor& t) { return dist->allReduceSumAutograd(t); };
    for (AdaptationLayer* a : {&model_->adaptation3(), &model_->adaptation4()})
        (*a)->trainingBatchNorm = [views, reduceStats](torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
            return batchNormTraining(bn, x, views, reduceStats);
        };
    reducer_ = std::make_unique<Distributed::GradientReducer>(*dist_, params);
    lossWeights_.smoothForm = o.smoothness == "per-channel" ? SmoothnessForm::PerChannel : SmoothnessForm::ChannelSum;

    const int64_t total = int64_t(o.epochs) * perEpoch_;
    end_ = o.maxIters > 0 ? std::min(total, o.maxIters) : total;
}

void Trainer::openData()
{
    const TrainOptions& o = options_;
    std::vector<std::string> exclude;
    if (!o.exclude.empty())
        exclude = readNameList(o.exclude);
    CompositeSpec composite;
    composite.perObject = o.compositesPerObject;
    composite.maxDistractors = o.maxDistractors;
    composite.otherBackground = o.otherBackground;
    composite.seed = o.seed;
    source_ = openDataSpec(o.data, o.vocSet, o.vocMasks, exclude, o.size, composite);
    AugmentParams ap;
    ap.size = o.size;
    ap.maskShrink = o.maskShrink == "area" ? MaskShrink::Area : MaskShrink::Antialiased;

    // Every rank draws its contiguous share of the same global batch, so N processes with
    // batch B see exactly the samples (and augmentations) of one process with batch N*B.
    DistributedConfig dc;
    dc.worldSize = o.worldSize;
    dc.rank = o.rank;
    dc.localRank = o.localRank;
    dc.masterAddr = o.masterAddr;
    dc.masterPort = o.masterPort;
    dc.timeoutSeconds = o.distTimeout;
    dc.backend = o.device == "cuda" ? "nccl" : "gloo";
    dist_ = std::make_unique<Distributed>(dc);
    mainRank_ = dist_->rank() == 0;
    globalBatch_ = o.batch * dist_->worldSize();
    loader_ = std::make_unique<PairLoader>(source_, ap, globalBatch_, o.workers, o.seed, dist_->rank(),
                                           dist_->worldSize());
    perEpoch_ = loader_->batchesPerEpoch();
    if (!o.valPairs.empty())
    {
        try
        {
            valPairs_ = cv::semflow::loadPFPascalPairs(o.valPairs, o.valRoot);
        }
        catch (const cv::Exception& e)
        {
            throw std::runtime_error("--val-pairs: " + e.err);
        }
        if (valPairs_.empty())
            throw std::runtime_error("--val-pairs: " + o.valPairs + " lists no pairs");
    }
    try
    {
        valThreshold_ = cv::semflow::parsePCKThreshold(o.valThreshold);
    }
    catch (const cv::Exception&)
    {
        throw std::runtime_error("--val-threshold must be image, image-square, bbox or bbox-kp, got '" +
                                 o.valThreshold + "'");
    }
    bestPath_ = (fs::path(o.output) / "best.pt").string();
    valLogPath_ = (fs::path(o.output) / "val.tsv").string();
}

void Trainer::buildModel(torch::serialize::InputArchive& optArchive)
{
    const TrainOptions& o = options_;
    torch::manual_seed(o.seed);
    if (o.resume)
    {
        model_ = loadCheckpoint(optArchive);
    }
    else if (!o.init.empty())
        model_ = loadModel(o.init);
    else
    {
        ModelConfig cfg;
        cfg.backbone = o.backbone;
        cfg.beta = o.beta;
        cfg.sigma = o.sigma;
        model_ = SFNet(cfg);
        if (o.bnInit == "uniform")
        {
            // The PyTorch the authors trained with (1.0/1.1) drew BatchNorm weights from U(0, 1).
            torch::NoGradGuard noGrad;
            for (AdaptationLayer* a : {&model_->adaptation3(), &model_->adaptation4()})
                for (torch::nn::Sequential* s : {&(*a)->conv1, &(*a)->conv2})
                    (*s)[1]->as<torch::nn::BatchNorm2d>()->weight.uniform_(0, 1);
        }
    }
    if (!o.resume)
        for (AdaptationLayer* a : {&model_->adaptation3(), &model_->adaptation4()})
        {
            if (!(*a)->isExactIdentity())
                continue;
            if (!(o.identityWeight > 0))
                throw std::runtime_error(
                    "the adaptation layers of " + o.init +
                    " are the exact identity (sfnet import --identity-adaptation): every gradient is zero there "
                    "(ReLU at exactly 0), so they would never change. Give --identity-weight W (e.g. 0.01) to "
                    "start from a near-identity that can learn");
            (*a)->setBatchNormWeight(o.identityWeight);
        }
    ModelConfig cfg = model_->config();
    cfg.trainHeight = cfg.trainWidth = o.size;
    model_->setConfig(cfg);
    model_->setBackboneTrainable(o.trainBackbone);
    model_->to(device_);
}

SFNet Trainer::loadCheckpoint(torch::serialize::InputArchive& optArchive)
{
    const TrainOptions& o = options_;
    if (!fs::exists(ckptPath_))
        throw std::runtime_error("--resume: no checkpoint at " + ckptPath_);
    int64_t seed = 0, batch = 0, per = 0;
    bool backboneTrained = false;
    SFNet model = loadModel(ckptPath_, [&](torch::serialize::InputArchive& ar) {
        c10::IValue v;
        if (!ar.try_read("train_iteration", v))
            throw std::runtime_error("--resume: " + ckptPath_ + " holds a model but no training state "
                                     "(use it with --init instead)");
        startIter_ = v.toInt();
        if (startIter_ < 0)  // the trainer never writes one: a damaged file, not a state to resume from
            throw std::runtime_error("--resume: " + ckptPath_ + " is damaged: train_iteration is " +
                                     std::to_string(startIter_) + ", below 0");
        ar.read("train_seed", v);
        seed = v.toInt();
        ar.read("train_batch", v);
        batch = v.toInt();
        ar.read("train_batches_per_epoch", v);
        per = v.toInt();
        ar.read("train_backbone", v);
        backboneTrained = v.toBool();
        ar.read("optimizer", optArchive);
        if (ar.try_read("train_best_pck", v))
            bestPck_ = v.toDouble();
    });
    if (uint64_t(seed) != o.seed || batch != globalBatch_ || per != perEpoch_ || backboneTrained != o.trainBackbone)
        throw std::runtime_error("--resume: the checkpoint was trained with --seed " + std::to_string(seed) +
                                 ", a global batch of " + std::to_string(batch) + " (--batch x processes), " +
                                 std::to_string(per) + " batches per epoch" +
                                 (backboneTrained ? ", --train-backbone" : "") +
                                 "; resume with the same seed, global batch, data and backbone setting");
    if (mainRank_)
    {
        trimLogForResume(logPath_, startIter_);
        trimLogForResume(valLogPath_, startIter_);
    }
    return model;
}

void Trainer::checkSameStartOnEveryRank()
{
    // Same start everywhere: a fresh model is the same function of the seed on every
    // rank and a resumed one the same file, but check rather than trust it.
    auto mine = torch::tensor({double(startIter_), stateChecksum(model_, *opt_)}, torch::kDouble);
    auto root = mine.clone();
    dist_->broadcast({root});
    const double relDiff = std::abs(root[1].item<double>() - mine[1].item<double>()) /
                           std::max(1e-30, std::abs(root[1].item<double>()));
    if (root[0].item<double>() != mine[0].item<double>() || relDiff > 1e-12)
        throw std::runtime_error("rank " + std::to_string(dist_->rank()) + " starts from iteration " +
                                 std::to_string(startIter_) +
                                 " with a different model or optimiser state than rank 0 (" +
                                 std::to_string(int64_t(root[0].item<double>())) +
                                 "): every rank must resume from the same <output>/checkpoint.pt");
    std::vector<torch::Tensor> state = model_->parameters();
    for (const auto& b : model_->buffers())
        state.push_back(b);
    dist_->broadcast(state);
}

TrainSummary Trainer::run()
{
    const TrainOptions& o = options_;
    sum_.startIteration = startIter_;
    sum_.iterations = std::max(startIter_, int64_t(0));
    if (startIter_ >= end_)
    {
        std::cerr << "nothing to do: the checkpoint is at iteration " << startIter_ << " of " << end_ << "\n";
        sum_.iterations = startIter_;
        sum_.epochsCompleted = int(startIter_ / perEpoch_);
        sum_.checkpoint = ckptPath_;
        return sum_;
    }

    // Rank 0 alone writes files and talks; the others only compute.
    openLog();
    if (mainRank_)
        std::cerr << "training " << model_->config().backbone << " on " << o.data << " (" << source_->size()
                  << " images, " << perEpoch_ << " batches of " << globalBatch_ << " per epoch, " << o.epochs
                  << " epochs, input " << o.size << "x" << o.size << ", " << o.device
                  << (dist_->active() ? ", " + std::to_string(dist_->worldSize()) + " processes of batch " +
                                            std::to_string(o.batch)
                                      : std::string())
                  << ")" << (startIter_ > 0 ? ", resuming at iteration " + std::to_string(startIter_) : std::string())
                  << "\n";

    progress_ = std::make_unique<Progress>(o.progress && mainRank_, startIter_, end_, perEpoch_, o.epochs);
    window_ = std::max<int64_t>(1, std::min<int64_t>(20, (end_ - startIter_) / 4));
    t0_ = Clock::now();
    model_->train();
    for (int64_t epoch = startIter_ / perEpoch_; epoch * perEpoch_ < end_; ++epoch)
    {
        const int64_t done = trainEpoch(epoch);
        if (mainRank_)
        {
            log_.flush();
            if (!valPairs_.empty() && done % perEpoch_ == 0)  // not when maxIters stopped mid-epoch
                validate(epoch, done);
            saveCheckpoint(done);
        }
    }
    dist_->barrier();  // the others end when rank 0's last checkpoint is on disk
    double lastAcc = 0;
    for (double v : recent_)
        lastAcc += v;
    sum_.iterations = end_;
    sum_.epochsCompleted = int(end_ / perEpoch_);
    sum_.firstLoss = firstAcc_ / double(std::min(window_, end_ - startIter_));
    sum_.lastLoss = lastAcc / double(recent_.size());
    sum_.skippedSamples = loader_->skipped();
    sum_.bestPck = bestPck_;
    sum_.seconds = std::chrono::duration<double>(Clock::now() - t0_).count();
    if (sum_.skippedSamples)
        std::cerr << "warning: " << sum_.skippedSamples << " unreadable samples were skipped\n";
    return sum_;
}

void Trainer::openLog()
{
    if (!mainRank_)
        return;
    const bool newLog = !fs::exists(logPath_) || fs::file_size(logPath_) == 0;
    log_.open(logPath_, std::ios::app);
    if (!log_)
        throw std::runtime_error("cannot write " + logPath_);
    if (newLog)
        log_ << "iteration\tepoch\tbatch\tlr\tloss\tmask\tflow\tsmooth\tpairs\tseconds\n";
}

int64_t Trainer::trainEpoch(int64_t epoch)
{
    const TrainOptions& o = options_;
    const int64_t first = std::max(startIter_, epoch * perEpoch_), last = std::min(end_, (epoch + 1) * perEpoch_);
    for (int64_t it = first; it < last; ++it)
    {
        const int64_t b = it % perEpoch_;
        const double lr = learningRateAt(o, epoch);
        for (auto& g : opt_->param_groups())
            static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);

        const std::vector<PairSample> pairs = loader_->batch(epoch, b, it + 1 < end_);
        // Global batch size, and whether some rank has nothing: then all skip the step together
        // (the shared BatchNorm statistics need every rank in the forward pass).
        auto counts = torch::tensor({double(pairs.size()), pairs.empty() ? 1.0 : 0.0}, torch::kDouble);
        dist_->allReduceSum(counts);
        const double globalPairs = counts[0].item<double>();
        double l[4] = {0, 0, 0, 0};
        if (counts[1].item<double>() == 0)  // else some shard was all unreadable: nothing to learn from
        {
            const auto src = stackImages(pairs, true).to(device_), tgt = stackImages(pairs, false).to(device_);
            const auto mS = stackMasks(pairs, true).to(device_), mT = stackMasks(pairs, false).to(device_);
            const auto out = model_->forward(src, tgt);
            const LossTerms terms = sfnetLoss(out.gridS2T, out.gridT2S, mS, mT, lossWeights_);
            // Each term is a mean over this rank's pairs; weighted by the rank's share, the
            // gradients summed over the ranks are those of the mean over the global batch.
            const double share = double(pairs.size()) / globalPairs;
            auto stats = torch::stack({terms.total, terms.mask, terms.flow, terms.smooth}).detach().to(torch::kCPU).to(torch::kDouble) * share;
            dist_->allReduceSum(stats);
            reducer_->prepare();
            opt_->zero_grad();
            (share == 1.0 ? terms.total : terms.total * share).backward();
            reducer_->finish();
            opt_->step();
            for (int k = 0; k < 4; ++k)
                l[k] = stats[k].item<double>();
        }
        const int64_t done = it + 1;
        const double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
        if (mainRank_)
            log_ << done << "\t" << epoch << "\t" << b << "\t" << lr << "\t" << l[0] << "\t" << l[1] << "\t" << l[2]
                 << "\t" << l[3] << "\t" << int64_t(globalPairs) << "\t" << secs << "\n";
        if (done - startIter_ <= window_)
            firstAcc_ += l[0];
        recent_.push_back(l[0]);
        if (int64_t(recent_.size()) > window_)
            recent_.erase(recent_.begin());
        progress_->update(done, l[0], l[1], l[2], l[3]);
    }
    return last;
}

void Trainer::validate(int64_t epoch, int64_t iteration)
{
    const TrainOptions& o = options_;
    const auto res = evaluatePck(model_, valPairs_, o.size, device_, valThreshold_, o.valProtocol == "authors");
    if (res.overall.perPair.size() < 2 || res.overall.pairs == 0)
        throw std::runtime_error("--val-pairs: no pair of " + o.valPairs + " has a valid keypoint");
    const double pck = res.overall.perPair[1];
    const bool newVal = !fs::exists(valLogPath_);
    std::ofstream vl(valLogPath_, std::ios::app);
    if (newVal)
        vl << "iteration\tepoch\tpairs\tpck@0.05\tpck@0.1\tpck@0.15\n";
    vl << iteration << "\t" << epoch + 1 << "\t" << res.overall.pairs << "\t" << res.overall.perPair[0] << "\t"
       << pck << "\t" << res.overall.perPair[2] << "\n";
    if (o.progress)
        std::cerr << "validation after epoch " << epoch + 1 << ": PCK@0.1 " << pck
                  << (pck > bestPck_ ? " (best so far)" : "") << "  [" << res.describe() << "]\n";
    if (pck > bestPck_)
    {
        bestPck_ = pck;
        saveModel(model_, bestPath_);
    }
    sum_.bestPck = bestPck_;
}

void Trainer::saveCheckpoint(int64_t iteration)
{
    if (!mainRank_)
        return;
    const TrainOptions& o = options_;
    saveModel(model_, ckptPath_, [&](torch::serialize::OutputArchive& ar) {
        ar.write("train_iteration", c10::IValue(iteration));
        ar.write("train_seed", c10::IValue(int64_t(o.seed)));
        ar.write("train_batch", c10::IValue(int64_t(globalBatch_)));
        ar.write("train_batches_per_epoch", c10::IValue(perEpoch_));
        ar.write("train_backbone", c10::IValue(o.trainBackbone));
        ar.write("train_best_pck", c10::IValue(bestPck_));
        torch::serialize::OutputArchive optAr;
        opt_->save(optAr);
        ar.write("optimizer", optAr);
    });
    sum_.checkpoint = ckptPath_;
}
}  // namespace

TrainSummary train(const TrainOptions& o)
{
    Trainer trainer(o);
    return trainer.run();
}

}  // namespace sfnet
