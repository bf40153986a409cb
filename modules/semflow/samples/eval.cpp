// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// semflow_eval: PCK of a semantic-flow model on PF-PASCAL, PF-WILLOW or SPair-71k, with the
// protocol (threshold, transfer direction, averaging) stated next to every number.
//
//   semflow_eval --dataset pf-pascal --root data/PF_Pascal --model sfnet_resnet101.onnx
//   semflow_eval --dataset spair --root data/SPair-71k --flow identity --limit 100
//
// See doc/evaluation.md for the datasets and the published numbers this reproduces. Built as
// semflow_eval by the repository's standalone build, as example_semflow_eval in an OpenCV tree.

#include "opencv2/core.hpp"
#include "opencv2/core/utils/filesystem.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"
#include "opencv2/semflow/benchmark.hpp"
#include "opencv2/semflow/flow_utils.hpp"
#include "opencv2/semflow/semantic_flow.hpp"
#include "pck_report.hpp"
#include "semflow_sample_utils.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "usage: semflow_eval --dataset pf-pascal|pf-willow|spair --root DIR\n"
    "                    (--model MODEL.onnx | --flow identity)\n"
    "                    [--split test] [--alpha 0.05,0.1,0.15]\n"
    "                    [--threshold image|image-square|bbox|bbox-kp] [--direction s2t|t2s]\n"
    "                    [--limit N] [--output results.json|results.csv]\n"
    "                    [--worst K --worst-dir DIR]\n"
    "                    [--input-size 320] [--no-pad-border] [--backend opencv|cuda]\n"
    "                    [--resize-filter area|antialiased] [--masks DIR]\n"
    "\n"
    "Computes PCK of the flow between each annotated pair and prints a table per class and\n"
    "overall, stating the protocol used. Defaults follow the protocol usually reported for\n"
    "each dataset (SFNet's for the PF datasets):\n"
    "  pf-pascal: --threshold image-square --direction t2s\n"
    "  pf-willow: --threshold bbox-kp      --direction t2s\n"
    "  spair:     --threshold bbox         --direction s2t\n"
    "--root is the folder holding the pair list (PF) or the SPair-71k folder; see\n"
    "doc/evaluation.md. --flow identity scores the zero flow (the no-alignment baseline).\n"
    "--resize-filter antialiased resizes the images to the network like the SFNet authors'\n"
    "code (PIL's bilinear filter, cv::semflow::resizeAntialiased); the default, area, is\n"
    "INTER_AREA when shrinking and INTER_LINEAR otherwise.\n"
    "--masks DIR (pf-pascal) also scores mask transfer, as SFNet scores Caltech-101: for each\n"
    "pair with a foreground mask DIR/<image name>.png (non-zero = object) for both images, the\n"
    "mask of the image keypoints are transferred to is warped by the flow into the other's\n"
    "frame and compared with that image's mask: label-transfer accuracy (the share of pixels\n"
    "whose fg/bg label is right) and IoU of the foregrounds, each averaged over the pairs.\n";

struct Options
{
    std::string dataset, root, split = "test", model, flow, output, worstDir, threshold, direction;
    std::string backend = "opencv";
    std::string resizeFilter = "area";
    std::string masks;
    std::vector<float> alphas = {0.05f, 0.1f, 0.15f};
    int limit = -1, worst = 0, inputSize = 320;
    bool padBorder = true;
};

// The last path component, and its extension with the dot ("" when it has none).
std::string fileName(const std::string& path)
{
    const size_t slash = path.find_last_of("/\\");
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string extension(const std::string& path)
{
    const std::string name = fileName(path);
    const size_t dot = name.find_last_of('.');
    return dot == std::string::npos || dot == 0 ? std::string() : name.substr(dot);
}

[[noreturn]] void usageError(const std::string& msg)
{
    std::cerr << "semflow_eval: " << msg << "\n\n" << kUsage;
    std::exit(2);
}

int parseInt(const std::string& opt, const std::string& v, int minimum)
{
    char* end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || x < minimum || x > 1000000000L)
        usageError(opt + " expects an integer >= " + std::to_string(minimum) + ", got '" + v + "'");
    return (int)x;
}

std::vector<float> parseAlphas(const std::string& v)
{
    std::vector<float> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        char* end = nullptr;
        float a = std::strtof(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !(a > 0.f) || a > 1.f)
            usageError("--alpha expects comma-separated numbers in (0, 1], got '" + v + "'");
        out.push_back(a);
    }
    if (out.empty())
        usageError("--alpha expects at least one value");
    return out;
}

Options parseArgs(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i)
    {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help")
        {
            std::cout << kUsage;
            std::exit(0);
        }
        if (a == "--no-pad-border")
        {
            o.padBorder = false;
            continue;
        }
        if (a.rfind("--", 0) != 0)
            usageError("unexpected argument '" + a + "'");
        if (i + 1 >= argc)
            usageError(a + " needs a value");
        const std::string v = argv[++i];
        if (a == "--dataset") o.dataset = v;
        else if (a == "--root") o.root = v;
        else if (a == "--split") o.split = v;
        else if (a == "--model") o.model = v;
        else if (a == "--flow") o.flow = v;
        else if (a == "--alpha") o.alphas = parseAlphas(v);
        else if (a == "--threshold") o.threshold = v;
        else if (a == "--direction") o.direction = v;
        else if (a == "--limit") o.limit = parseInt(a, v, 1);
        else if (a == "--output") o.output = v;
        else if (a == "--worst") o.worst = parseInt(a, v, 1);
        else if (a == "--worst-dir") o.worstDir = v;
        else if (a == "--input-size") o.inputSize = parseInt(a, v, 64);
        else if (a == "--backend") o.backend = v;
        else if (a == "--resize-filter") o.resizeFilter = v;
        else if (a == "--masks") o.masks = v;
        else usageError("unknown option '" + a + "'");
    }
    if (o.dataset != "pf-pascal" && o.dataset != "pf-willow" && o.dataset != "spair")
        usageError(o.dataset.empty() ? std::string("--dataset is required")
                                     : "unknown --dataset '" + o.dataset + "'");
    if (o.root.empty())
        usageError("--root is required");
    if (o.model.empty() == o.flow.empty())
        usageError("give exactly one of --model MODEL.onnx and --flow identity");
    if (!o.flow.empty() && o.flow != "identity")
        usageError("--flow supports only 'identity', got '" + o.flow + "'");
    if (o.worst > 0 && o.worstDir.empty())
        usageError("--worst needs --worst-dir DIR");
    if (!o.worstDir.empty() && o.worst == 0)
        o.worst = 10;
    if (o.inputSize % 32 != 0)
        usageError("--input-size must be a multiple of 32");
    if (o.backend != "opencv" && o.backend != "cuda")
        usageError("--backend expects opencv or cuda, got '" + o.backend + "'");
    if (o.resizeFilter != "area" && o.resizeFilter != "antialiased")
        usageError("--resize-filter expects area or antialiased, got '" + o.resizeFilter + "'");
    if (!o.output.empty())
    {
        const std::string ext = extension(o.output);
        if (ext != ".json" && ext != ".csv")
            usageError("--output must end in .json or .csv, got '" + o.output + "'");
    }
    if (!o.masks.empty() && o.dataset != "pf-pascal")
        usageError("--masks works with --dataset pf-pascal only");
    if (o.threshold.empty())
        o.threshold = o.dataset == "pf-pascal" ? "image-square" : o.dataset == "pf-willow" ? "bbox-kp" : "bbox";
    if (o.direction.empty())
        o.direction = o.dataset == "spair" ? "s2t" : "t2s";
    return o;
}

// A one-line progress bar redrawn in place on stderr.
class Progress
{
public:
    explicit Progress(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
    void operator()(int done, int total)
    {
        if (!enabled_ || total <= 0)
            return;
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const int width = 30, filled = (int)((double)width * done / total);
        const double eta = done > 0 ? t / done * (total - done) : 0.0;
        std::fprintf(stderr, "\r[%s%s] %d/%d pairs  %.1f s  ETA %.0f s ", std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), done, total, t, eta);
        if (done == total)
            std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

private:
    bool enabled_;
    std::chrono::steady_clock::time_point start_;
};

// Source and target side by side; in the image where the error is measured, ground truth in
// green, prediction in red, joined by a line; the keypoints that were moved in blue. The images
// are read as stored, like the annotations (no EXIF rotation).
void drawPair(const cv::semflow::PairPCK& p, const cv::semflow::KeypointPair& pair,
              const cv::semflow::PCKProtocol& proto, const std::string& path)
{
    const cv::Mat src = semflow_samples::readImageAsStored(pair.sourceImage);
    const cv::Mat trg = semflow_samples::readImageAsStored(pair.targetImage);
    if (src.empty() || trg.empty())
        return;
    cv::Mat canvas(std::max(src.rows, trg.rows), src.cols + trg.cols, CV_8UC3, cv::Scalar::all(0));
    src.copyTo(canvas(cv::Rect(0, 0, src.cols, src.rows)));
    trg.copyTo(canvas(cv::Rect(src.cols, 0, trg.cols, trg.rows)));
    const bool s2t = proto.direction == cv::semflow::TRANSFER_SOURCE_TO_TARGET;
    const cv::Point2f dstOffset(s2t ? (float)src.cols : 0.f, 0.f), fromOffset(s2t ? 0.f : (float)src.cols, 0.f);
    const int r = std::max(2, std::max(canvas.cols, canvas.rows) / 200);
    size_t k = 0;
    for (size_t i = 0; i < pair.valid.size(); ++i)
    {
        if (!pair.valid[i])
            continue;
        const cv::Point2f from = (s2t ? pair.sourceKeypoints[i] : pair.targetKeypoints[i]) + fromOffset;
        const cv::Point2f gt = p.groundTruth[k] + dstOffset, pred = p.predicted[k] + dstOffset;
        cv::circle(canvas, from, r, cv::Scalar(255, 128, 0), cv::FILLED, cv::LINE_AA);
        cv::line(canvas, gt, pred, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
        cv::circle(canvas, gt, r, cv::Scalar(0, 200, 0), cv::FILLED, cv::LINE_AA);
        cv::circle(canvas, pred, r, cv::Scalar(0, 0, 255), 1, cv::LINE_AA);
        ++k;
    }
    char label[256];
    std::snprintf(label, sizeof(label), "%s  PCK@%g = %.2f", p.category.c_str(), (double)proto.alphas.back(),
                  p.pck(proto.alphas.size() - 1));
    cv::putText(canvas, label, cv::Point(4, 14), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(255, 255, 255), 1,
                cv::LINE_AA);
    cv::imwrite(path, canvas);
}

// Mask transfer of one pair: the flow maps every pixel p of image X to p + flow(p) in image Y;
// Y's mask is pulled into X's frame (bilinear on 0/255, object where the result is above half;
// outside Y = background) and compared with X's.
struct MaskScore
{
    double accuracy = 0, iou = 0;
};

MaskScore scoreMaskTransfer(const cv::Mat& maskX, const cv::Mat& maskY, const cv::Mat& flowXtoY)
{
    CV_Assert(flowXtoY.type() == CV_32FC2 && flowXtoY.size() == maskX.size());
    cv::Mat pulled;
    cv::semflow::warpImage(cv::Mat(maskY > 0), flowXtoY, pulled);
    const cv::Mat a = maskX > 0, b = pulled > 127;
    MaskScore s;
    s.accuracy = (double)cv::countNonZero(a == b) / (double)a.total();
    const double uni = cv::countNonZero(a | b);
    s.iou = uni > 0 ? cv::countNonZero(a & b) / uni : 1.0;
    return s;
}

std::string maskPathFor(const std::string& dir, const std::string& image)
{
    std::string stem = fileName(image);
    const std::string ext = extension(stem);
    stem = stem.substr(0, stem.size() - ext.size());
    return cv::utils::fs::join(dir, stem + ".png");
}

}  // namespace

int main(int argc, char** argv)
{
    const Options opt = parseArgs(argc, argv);
    try
    {
        cv::semflow::PCKProtocol proto;
        proto.alphas = opt.alphas;
        proto.threshold = cv::semflow::parsePCKThreshold(opt.threshold);
        proto.direction = cv::semflow::parseTransferDirection(opt.direction);

        std::vector<cv::semflow::KeypointPair> pairs = cv::semflow::loadBenchmark(opt.dataset, opt.root, opt.split);
        if (opt.limit > 0 && (size_t)opt.limit < pairs.size())
            pairs.resize(opt.limit);
        if (pairs.empty())
            CV_Error(cv::Error::StsBadArg, "the " + opt.dataset + " " + opt.split + " split under '" + opt.root +
                                               "' has no pairs");

        cv::semflow::FlowFunction computeFlow;
        cv::Ptr<cv::SemanticFlow> model;
        std::string method;
        if (!opt.model.empty())
        {
            const bool cuda = opt.backend == "cuda";
            model = cv::SemanticFlow::create(opt.model, cv::Size(opt.inputSize, opt.inputSize), opt.padBorder, -1.f,
                                             -1.f, cuda ? cv::dnn::DNN_BACKEND_CUDA : cv::dnn::DNN_BACKEND_OPENCV,
                                             cuda ? cv::dnn::DNN_TARGET_CUDA : cv::dnn::DNN_TARGET_CPU);
            const bool antialiased = opt.resizeFilter == "antialiased";
            if (antialiased)
                model->setResizeFilter(cv::semflow::RESIZE_ANTIALIASED_BILINEAR);
            computeFlow = [&model](const cv::Mat& from, const cv::Mat& to, cv::Mat& flow) { model->calc(from, to, flow); };
            method = "model " + fileName(opt.model) + " at " +
                     std::to_string(opt.inputSize) + "x" + std::to_string(opt.inputSize) +
                     (opt.padBorder ? " (SFNet border protocol" : " (no border padding") +
                     (antialiased ? ", antialiased bilinear resize)" : ")");
        }
        else
        {
            computeFlow = [](const cv::Mat& from, const cv::Mat&, cv::Mat& flow) {
                flow = cv::Mat::zeros(from.size(), CV_32FC2);
            };
            method = "identity (zero) flow";
        }

        int annotated = 0;
        for (const cv::semflow::KeypointPair& p : pairs)
            annotated += p.numValid() > 0 ? 1 : 0;
        if (annotated == 0)
            CV_Error(cv::Error::StsBadArg,
                     "no pair of the " + opt.dataset + " " + opt.split + " list under '" + opt.root +
                         "' has a keypoint annotated in both images: a PF-PASCAL list must carry the XA,YA,XB,YB "
                         "columns (WeakAlign/SFNet CSVs; lists that keep keypoints in Annotations/*.mat are not "
                         "read), and training lists have none");

        const std::string label = opt.dataset + " " + opt.split + ", " + method;
        std::cerr << "semflow_eval: " << pairs.size() << " pairs, " << method << "\n";
        Progress progress(true);
        // With --masks, keep each pair's flow (evaluateBenchmark asks for them in pair order).
        std::vector<cv::Mat> flows;
        cv::semflow::FlowFunction flowFunction = computeFlow;
        if (!opt.masks.empty())
            flowFunction = [&](const cv::Mat& from, const cv::Mat& to, cv::Mat& flow) {
                computeFlow(from, to, flow);
                flows.push_back(flow.clone());
            };
        cv::semflow::PCKResult result =
            cv::semflow::evaluateBenchmark(pairs, flowFunction, proto, label, std::ref(progress));
        std::cout << semflow_samples::pckTable(result) << std::flush;
        if (!opt.masks.empty())
        {
            if (flows.size() != pairs.size())
                CV_Error(cv::Error::StsError, "mask transfer: expected one flow per pair");
            const bool s2t = proto.direction == cv::semflow::TRANSFER_SOURCE_TO_TARGET;
            double acc = 0, iou = 0;
            int scored = 0;
            for (size_t i = 0; i < pairs.size(); ++i)
            {
                const std::string& x = s2t ? pairs[i].sourceImage : pairs[i].targetImage;
                const std::string& y = s2t ? pairs[i].targetImage : pairs[i].sourceImage;
                const cv::Mat mx = cv::imread(maskPathFor(opt.masks, x), cv::IMREAD_GRAYSCALE);
                const cv::Mat my = cv::imread(maskPathFor(opt.masks, y), cv::IMREAD_GRAYSCALE);
                if (mx.empty() || my.empty())
                    continue;
                if (mx.size() != flows[i].size())
                    CV_Error(cv::Error::StsBadSize, "the mask " + maskPathFor(opt.masks, x) +
                                                        " does not have the size of its image");
                const MaskScore ms = scoreMaskTransfer(mx, my, flows[i]);
                acc += ms.accuracy;
                iou += ms.iou;
                ++scored;
            }
            if (scored == 0)
                CV_Error(cv::Error::StsBadArg, "--masks: no pair has a mask for both images in '" + opt.masks + "'");
            std::printf("mask transfer (%d pairs, %s): label-transfer accuracy %.4f, IoU %.4f\n", scored,
                        s2t ? "target mask into the source's frame" : "source mask into the target's frame",
                        acc / scored, iou / scored);
        }

        if (!opt.output.empty())
        {
            const bool json = extension(opt.output) == ".json";
            std::ofstream out(opt.output);
            out << (json ? semflow_samples::pckJSON(result) : semflow_samples::pckCSV(result));
            if (!out)
                CV_Error(cv::Error::StsError, "cannot write '" + opt.output + "'");
            std::cerr << "semflow_eval: wrote " << opt.output << "\n";
        }

        if (opt.worst > 0)
        {
            if (!cv::utils::fs::createDirectories(opt.worstDir))
                CV_Error(cv::Error::StsError, "cannot create the folder '" + opt.worstDir + "'");
            std::vector<const cv::semflow::PairPCK*> scored;
            for (const cv::semflow::PairPCK& p : result.pairs)
                if (p.numKeypoints > 0)
                    scored.push_back(&p);
            // Worst = lowest PCK at the largest alpha, then at the smallest, then the largest mean error.
            auto meanErr = [](const cv::semflow::PairPCK* p) -> double {
                double s = 0;
                for (double e : p->normalizedErrors) s += e;
                return s / std::max<size_t>(1, p->normalizedErrors.size());
            };
            const size_t last = proto.alphas.size() - 1;
            std::stable_sort(scored.begin(), scored.end(), [&](const cv::semflow::PairPCK* a, const cv::semflow::PairPCK* b) -> bool {
                if (a->pck(last) != b->pck(last)) return a->pck(last) < b->pck(last);
                if (a->pck(0) != b->pck(0)) return a->pck(0) < b->pck(0);
                return meanErr(a) > meanErr(b);
            });
            const size_t n = std::min<size_t>(opt.worst, scored.size());
            for (size_t i = 0; i < n; ++i)
            {
                char name[64];
                std::snprintf(name, sizeof(name), "worst_%02d_pair%05d.jpg", (int)i + 1, scored[i]->index);
                drawPair(*scored[i], pairs[scored[i]->index], proto, cv::utils::fs::join(opt.worstDir, name));
            }
            std::cerr << "semflow_eval: drew the " << n << " worst pairs in " << opt.worstDir << "\n";
        }
    }
    catch (const cv::Exception& e)
    {
        std::cerr << "\nsemflow_eval: error: " << e.err << "\n";
        return 1;
    }
    catch (const std::exception& e)
    {
        std::cerr << "\nsemflow_eval: error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
