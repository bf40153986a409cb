// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "train.hpp"

#include "atomic_file.hpp"
#include "data.hpp"
#include "losses.hpp"
#include "model.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/semflow/benchmark.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace sfnet
{
namespace
{
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
}

torch::Tensor imageTensor(const cv::Mat& bgr, int size)
{
    cv::Mat r, rgb;
    cv::resize(bgr, r, cv::Size(size, size), 0, 0, (bgr.cols > size || bgr.rows > size) ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::cvtColor(r, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(rgb, CV_32FC3, 1.0 / 255);
    return torch::from_blob(rgb.data, {size, size, 3}, torch::kFloat).permute({2, 0, 1}).clone().unsqueeze(0);
}

// Validation PCK with the module's benchmark code (loader, keypoint transfer, PCK):
// both images resized to the training size, the from->to grid upsampled (bilinear,
// align_corners) to the size of `from` and turned into a pixel flow into `to`. SFNet's
// protocol (target-to-source transfer, L = image side); alphas 0.05, 0.1, 0.15.
cv::semflow::PCKResult validate(SFNet& model, const std::vector<cv::semflow::KeypointPair>& pairs, int size,
                                const torch::Device& device)
{
    torch::NoGradGuard noGrad;
    model->eval();
    cv::semflow::FlowFunction flowFn = [&](const cv::Mat& from, const cv::Mat& to, cv::Mat& flow) {
        const auto out = model->forward(imageTensor(from, size).to(device), imageTensor(to, size).to(device));
        namespace F = torch::nn::functional;
        auto g = F::interpolate(out.gridS2T, F::InterpolateFuncOptions()
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
    proto.threshold = cv::semflow::PCK_THRESHOLD_IMAGE;
    proto.direction = cv::semflow::TRANSFER_TARGET_TO_SOURCE;
    auto res = cv::semflow::evaluateBenchmark(pairs, flowFn, proto, "validation");
    model->train();
    return res;
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

TrainSummary train(const TrainOptions& o)
{
    checkOptions(o);
    const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
    fs::create_directories(o.output);
    const std::string ckptPath = (fs::path(o.output) / "checkpoint.pt").string();
    const std::string logPath = (fs::path(o.output) / "log.tsv").string();

    // Data first: a bad --data fails before any model is built.
    std::vector<std::string> exclude;
    if (!o.exclude.empty())
        exclude = readNameList(o.exclude);
    auto source = openDataSpec(o.data, o.vocSet, o.vocMasks, exclude, o.size);
    AugmentParams ap;
    ap.size = o.size;
    PairLoader loader(source, ap, o.batch, o.workers, o.seed);
    const int64_t perEpoch = loader.batchesPerEpoch();
    std::vector<cv::semflow::KeypointPair> valPairs;
    if (!o.valPairs.empty())
    {
        try
        {
            valPairs = cv::semflow::loadPFPascalPairs(o.valPairs, o.valRoot);
        }
        catch (const cv::Exception& e)
        {
            throw std::runtime_error("--val-pairs: " + e.err);
        }
        if (valPairs.empty())
            throw std::runtime_error("--val-pairs: " + o.valPairs + " lists no pairs");
    }
    const std::string bestPath = (fs::path(o.output) / "best.pt").string();
    const std::string valLogPath = (fs::path(o.output) / "val.tsv").string();
    double bestPck = -1;

    // Model and training state.
    torch::manual_seed(o.seed);
    SFNet model{nullptr};
    int64_t startIter = 0;
    torch::serialize::InputArchive optArchive;
    bool haveOpt = false;
    if (o.resume)
    {
        if (!fs::exists(ckptPath))
            throw std::runtime_error("--resume: no checkpoint at " + ckptPath);
        int64_t seed = 0, batch = 0, per = 0;
        bool backboneTrained = false;
        model = loadModel(ckptPath, [&](torch::serialize::InputArchive& ar) {
            c10::IValue v;
            if (!ar.try_read("train_iteration", v))
                throw std::runtime_error("--resume: " + ckptPath + " holds a model but no training state "
                                         "(use it with --init instead)");
            startIter = v.toInt();
            ar.read("train_seed", v);
            seed = v.toInt();
            ar.read("train_batch", v);
            batch = v.toInt();
            ar.read("train_batches_per_epoch", v);
            per = v.toInt();
            ar.read("train_backbone", v);
            backboneTrained = v.toBool();
            ar.read("optimizer", optArchive);
            haveOpt = true;
            if (ar.try_read("train_best_pck", v))
                bestPck = v.toDouble();
        });
        if (uint64_t(seed) != o.seed || batch != o.batch || per != perEpoch || backboneTrained != o.trainBackbone)
            throw std::runtime_error("--resume: the checkpoint was trained with --seed " + std::to_string(seed) +
                                     ", --batch " + std::to_string(batch) + ", " + std::to_string(per) +
                                     " batches per epoch" + (backboneTrained ? ", --train-backbone" : "") +
                                     "; resume with the same seed, batch size, data and backbone setting");
        trimLogForResume(logPath, startIter);
        trimLogForResume(valLogPath, startIter);
    }
    else if (!o.init.empty())
        model = loadModel(o.init);
    else
    {
        ModelConfig cfg;
        cfg.backbone = o.backbone;
        cfg.beta = o.beta;
        cfg.sigma = o.sigma;
        model = SFNet(cfg);
    }
    ModelConfig cfg = model->config();
    cfg.trainHeight = cfg.trainWidth = o.size;
    model->setConfig(cfg);
    model->setBackboneTrainable(o.trainBackbone);
    model->to(device);

    std::vector<torch::Tensor> params = model->adaptationParameters();
    if (o.trainBackbone)
        for (const auto& p : model->backboneParameters())
            params.push_back(p);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr));
    if (haveOpt)
    {
        opt.load(optArchive);
        moveOptimizerState(opt, device);
    }

    const int64_t total = int64_t(o.epochs) * perEpoch;
    const int64_t end = o.maxIters > 0 ? std::min(total, o.maxIters) : total;
    TrainSummary sum;
    sum.startIteration = startIter;
    sum.iterations = std::max(startIter, int64_t(0));
    if (startIter >= end)
    {
        std::cerr << "nothing to do: the checkpoint is at iteration " << startIter << " of " << end << "\n";
        sum.iterations = startIter;
        sum.epochsCompleted = int(startIter / perEpoch);
        sum.checkpoint = ckptPath;
        return sum;
    }

    const bool newLog = !fs::exists(logPath) || fs::file_size(logPath) == 0;
    std::ofstream log(logPath, std::ios::app);
    if (!log)
        throw std::runtime_error("cannot write " + logPath);
    if (newLog)
        log << "iteration\tepoch\tbatch\tlr\tloss\tmask\tflow\tsmooth\tpairs\tseconds\n";

    std::cerr << "training " << cfg.backbone << " on " << o.data << " (" << source->size() << " images, "
              << perEpoch << " batches of " << o.batch << " per epoch, " << o.epochs << " epochs, input " << o.size
              << "x" << o.size << ", " << o.device << ")";
    if (startIter > 0)
        std::cerr << ", resuming at iteration " << startIter;
    std::cerr << "\n";

    auto saveCheckpoint = [&](int64_t iteration) {
        saveModel(model, ckptPath, [&](torch::serialize::OutputArchive& ar) {
            ar.write("train_iteration", c10::IValue(iteration));
            ar.write("train_seed", c10::IValue(int64_t(o.seed)));
            ar.write("train_batch", c10::IValue(int64_t(o.batch)));
            ar.write("train_batches_per_epoch", c10::IValue(perEpoch));
            ar.write("train_backbone", c10::IValue(o.trainBackbone));
            ar.write("train_best_pck", c10::IValue(bestPck));
            torch::serialize::OutputArchive optAr;
            opt.save(optAr);
            ar.write("optimizer", optAr);
        });
        sum.checkpoint = ckptPath;
    };

    Progress progress(o.progress, startIter, end, perEpoch, o.epochs);
    const int64_t window = std::max<int64_t>(1, std::min<int64_t>(20, (end - startIter) / 4));
    double firstAcc = 0, lastAcc = 0;
    std::vector<double> recent;
    const auto t0 = Clock::now();
    model->train();
    for (int64_t it = startIter; it < end; ++it)
    {
        const int64_t epoch = it / perEpoch, b = it % perEpoch;
        const double lr = o.lr * std::pow(o.lrGamma, double(epoch / o.lrStep));
        for (auto& g : opt.param_groups())
            static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);

        const std::vector<PairSample> pairs = loader.batch(epoch, b, it + 1 < end);
        double l[4] = {0, 0, 0, 0};
        if (!pairs.empty())  // every item of this batch was unreadable: nothing to learn from
        {
            const auto src = stackImages(pairs, true).to(device), tgt = stackImages(pairs, false).to(device);
            const auto mS = stackMasks(pairs, true).to(device), mT = stackMasks(pairs, false).to(device);
            const auto out = model->forward(src, tgt);
            const LossTerms terms = sfnetLoss(out.gridS2T, out.gridT2S, mS, mT);
            opt.zero_grad();
            terms.total.backward();
            opt.step();
            l[0] = terms.total.item<double>();
            l[1] = terms.mask.item<double>();
            l[2] = terms.flow.item<double>();
            l[3] = terms.smooth.item<double>();
        }
        const int64_t done = it + 1;
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        log << done << "\t" << epoch << "\t" << b << "\t" << lr << "\t" << l[0] << "\t" << l[1] << "\t" << l[2] << "\t"
            << l[3] << "\t" << pairs.size() << "\t" << secs << "\n";
        if (done - startIter <= window)
            firstAcc += l[0];
        recent.push_back(l[0]);
        if (int64_t(recent.size()) > window)
            recent.erase(recent.begin());
        progress.update(done, l[0], l[1], l[2], l[3]);
        if (done % perEpoch == 0 || done == end)
        {
            log.flush();
            if (!valPairs.empty() && done % perEpoch == 0)
            {
                const auto res = validate(model, valPairs, o.size, device);
                if (res.overall.perPair.size() < 2 || res.overall.pairs == 0)
                    throw std::runtime_error("--val-pairs: no pair of " + o.valPairs + " has a valid keypoint");
                const double pck = res.overall.perPair[1];
                const bool newVal = !fs::exists(valLogPath);
                std::ofstream vl(valLogPath, std::ios::app);
                if (newVal)
                    vl << "iteration\tepoch\tpairs\tpck@0.05\tpck@0.1\tpck@0.15\n";
                vl << done << "\t" << epoch + 1 << "\t" << res.overall.pairs << "\t" << res.overall.perPair[0] << "\t"
                   << pck << "\t" << res.overall.perPair[2] << "\n";
                if (o.progress)
                    std::cerr << "validation after epoch " << epoch + 1 << ": PCK@0.1 " << pck
                              << (pck > bestPck ? " (best so far)" : "") << "  [" << res.describe() << "]\n";
                if (pck > bestPck)
                {
                    bestPck = pck;
                    saveModel(model, bestPath);
                }
                sum.bestPck = bestPck;
            }
            saveCheckpoint(done);
        }
    }
    for (double v : recent)
        lastAcc += v;
    sum.iterations = end;
    sum.epochsCompleted = int(end / perEpoch);
    sum.firstLoss = firstAcc / double(std::min(window, end - startIter));
    sum.lastLoss = lastAcc / double(recent.size());
    sum.skippedSamples = loader.skipped();
    sum.bestPck = bestPck;
    sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (sum.skippedSamples)
        std::cerr << "warning: " << sum.skippedSamples << " unreadable samples were skipped\n";
    return sum;
}

}  // namespace sfnet
