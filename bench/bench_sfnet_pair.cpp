// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The OpenCV side of bench/compare_torch.py (issue 10): one measurement per process, so that
// each process's peak RSS is its own, printed as one JSON object on stdout.
//
//   bench_sfnet_pair write-pair DIR [--size 320]
//       the 320x320 test pair (textured noise, as bench_semantic_flow) as DIR/source.ppm,
//       DIR/target.ppm, so that the PyTorch reference reads the same pixels
//   bench_sfnet_pair calc MODEL SRC TGT [--runs 5] [--save PREFIX]
//       cv::SemanticFlow::create (timed) and calc() on the pair: a warm-up, then --runs
//       timed calls; --save writes calcBidirectional's flows as PREFIX_s2t.flo / _t2s.flo
//   bench_sfnet_pair one-to-many MODEL SRC [--targets 8] [--runs 3]
//       calcOneToMany against `targets` images, next to calc() on one pair in the same process
//   bench_sfnet_pair load MODEL --how STEP[,STEP...]
//       one way of loading, timed step by step: create (SemanticFlow::create), read (the
//       file's bytes, read as SemanticFlow's pre-check reads them), read-fast (one read()
//       into a buffer of the file's size), path (cv::dnn::readNetFromONNX(path), after
//       releasing any bytes read), buffer (readNetFromONNX on the bytes in memory)
//   bench_sfnet_pair profile MODEL SRC TGT [--runs 3] [--save PREFIX]
//       cv::dnn::Net::getPerfProfile per layer (same network input as calc) with each
//       layer's FLOPs, one JSON object per layer after the summary; --save writes the
//       network's two grids ([2, h, w] as an h x w two-channel .flo) as PREFIX_grid_s2t.flo,
//       PREFIX_grid_t2s.flo
//   --conv gemm (calc, one-to-many, profile): every convolution lowered to im2col + one
//       cblas_sgemm (gemm_conv_layer.hpp), an experiment beside OpenCV's own (--conv opencv)
//   bench_sfnet_pair int8 MODEL SRC TGT --calib IMG[,IMG...] [--runs 3]
//       OpenCV's own post-training quantization, cv::dnn::Net::quantize (per-channel int8
//       weights, scales from the calibration images, which go in as pairs: image i as source
//       beside image i+1 as target), timed against the FP32 network on the pair in the same
//       process, with the grids' difference; layers OpenCV cannot quantize (the semflow
//       layers) stay FP32 behind Dequantize nodes
//   bench_sfnet_pair sgemm [--runs 5]
//       cblas_sgemm on the GEMM shapes of the pair's convolutions (im2col), the ceiling beside
//       the profile

#include <cblas.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "opencv2/core/utils/logger.hpp"
#include "opencv2/dnn.hpp"
#include "opencv2/dnn/shape_utils.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"
#include "opencv2/semflow.hpp"

#include "bench_util.hpp"
#include "opencv2/video/tracking.hpp"

#include "gemm_conv_layer.hpp"

namespace {

using semflow_bench::peakRssMB;
using semflow_bench::testImage;

// The current resident set (not the peak), from /proc/self/statm.
double rssMB()
{
    long pages = 0, resident = 0;
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f)
    {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        std::fclose(f);
    }
    return resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

cv::Mat readImage(const std::string& path)
{
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    if (img.empty())
        throw std::runtime_error("cannot read image '" + path + "'");
    return img;
}

std::string jsonList(const std::vector<double>& v)
{
    std::ostringstream s;
    s.precision(6);
    s << "[";
    for (size_t i = 0; i < v.size(); i++)
        s << (i ? ", " : "") << v[i];
    s << "]";
    return s.str();
}

// Command-line options after the positional arguments: --name value.
struct Options
{
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> named;

    Options(int argc, char** argv, int first)
    {
        for (int i = first; i < argc; i++)
        {
            const std::string a = argv[i];
            if (a.rfind("--", 0) == 0)
            {
                if (i + 1 >= argc)
                    throw std::runtime_error("option " + a + " needs a value");
                named.emplace_back(a.substr(2), argv[++i]);
            }
            else
                positional.push_back(a);
        }
    }
    std::string get(const std::string& name, const std::string& fallback) const
    {
        for (const auto& kv : named)
            if (kv.first == name)
                return kv.second;
        return fallback;
    }
    int getInt(const std::string& name, int fallback) const
    {
        const std::string v = get(name, "");
        return v.empty() ? fallback : std::stoi(v);
    }
    const std::string& at(size_t i, const char* what) const
    {
        if (i >= positional.size())
            throw std::runtime_error(std::string("missing argument: ") + what);
        return positional[i];
    }
};

// --conv opencv (default): OpenCV's convolution; --conv gemm: every convolution as im2col +
// cblas_sgemm (gemm_conv_layer.hpp), an experiment.
std::string convOption(const Options& o)
{
    const std::string c = o.get("conv", "opencv");
    if (c != "opencv" && c != "gemm")
        throw std::runtime_error("--conv must be opencv or gemm, got '" + c + "'");
    return c;
}

int writePair(const Options& o)
{
    const std::string dir = o.at(0, "DIR");
    const int side = o.getInt("size", 320);
    if (!cv::imwrite(dir + "/source.ppm", testImage(side, 1)) || !cv::imwrite(dir + "/target.ppm", testImage(side, 2)))
        throw std::runtime_error("cannot write the pair into '" + dir + "'");
    std::printf("{\"wrote\": [\"%s/source.ppm\", \"%s/target.ppm\"], \"size\": %d}\n", dir.c_str(), dir.c_str(), side);
    return 0;
}

int calc(const Options& o)
{
    const std::string model = o.at(0, "MODEL");
    const cv::Mat source = readImage(o.at(1, "SRC")), target = readImage(o.at(2, "TGT"));
    const int runs = o.getInt("runs", 5);
    const double rssLibs = peakRssMB();
    const std::string conv = convOption(o);
    double t0 = now();
    cv::Ptr<cv::SemanticFlow> sf;
    {
        semflow_bench::GemmConvScope scope(conv == "gemm");
        sf = cv::SemanticFlow::create(model);
    }
    const double loadS = now() - t0;
    const double rssLoaded = peakRssMB(), rssNowLoaded = rssMB();
    cv::Mat flow;
    t0 = now();
    sf->calc(source, target, flow);  // first run: OpenCV sets the network up (fusion, buffers)
    const double firstS = now() - t0;
    const double rssNowFirst = rssMB(), rssFirst = peakRssMB();
    std::vector<double> times;
    for (int i = 0; i < runs; i++)
    {
        t0 = now();
        sf->calc(source, target, flow);
        times.push_back(now() - t0);
    }
    const double rss = peakRssMB();
    const std::string save = o.get("save", "");
    if (!save.empty())
    {
        cv::Mat s2t, t2s;
        sf->calcBidirectional(source, target, s2t, t2s);
        if (cv::norm(s2t, flow, cv::NORM_INF) != 0)
            throw std::runtime_error("calcBidirectional's source-to-target flow differs from calc()'s");
        if (!cv::writeOpticalFlow(save + "_s2t.flo", s2t) || !cv::writeOpticalFlow(save + "_t2s.flo", t2s))
            throw std::runtime_error("cannot write flows to '" + save + "_*.flo'");
    }
    std::printf("{\"impl\": \"opencv\", \"conv\": \"%s\", \"opencv\": \"%s\", \"threads\": %d, \"load_s\": %.4f, \"first_s\": %.4f, "
                "\"times_s\": %s, \"peak_rss_mb\": %.1f, \"peak_rss_after_load_mb\": %.1f, "
                "\"peak_rss_libs_mb\": %.1f, \"rss_after_load_mb\": %.1f, \"peak_rss_after_first_mb\": %.1f, "
                "\"rss_after_first_mb\": %.1f, \"rss_end_mb\": %.1f}\n",
                conv.c_str(), CV_VERSION, cv::getNumThreads(), loadS, firstS, jsonList(times).c_str(), rss, rssLoaded, rssLibs,
                rssNowLoaded, rssFirst, rssNowFirst, rssMB());
    return 0;
}

int oneToMany(const Options& o)
{
    const std::string model = o.at(0, "MODEL");
    const cv::Mat source = readImage(o.at(1, "SRC"));
    const int targets = o.getInt("targets", 8), runs = o.getInt("runs", 3);
    std::vector<cv::Mat> many, flows;
    for (int i = 0; i < targets; i++)
        many.push_back(testImage(source.cols, 10 + i));
    cv::Ptr<cv::SemanticFlow> sf;
    {
        semflow_bench::GemmConvScope scope(convOption(o) == "gemm");
        sf = cv::SemanticFlow::create(model);
    }
    // Each in its own block after its own warm-up: a change of batch size makes OpenCV set
    // the network up again, which would otherwise be timed in every call.
    cv::Mat flow;
    std::vector<double> pair, batch;
    sf->calc(source, many[0], flow);
    for (int i = 0; i < runs; i++)
    {
        const double t0 = now();
        sf->calc(source, many[0], flow);
        pair.push_back(now() - t0);
    }
    sf->calcOneToMany(source, many, flows);
    for (int i = 0; i < runs; i++)
    {
        const double t0 = now();
        sf->calcOneToMany(source, many, flows);
        batch.push_back(now() - t0);
    }
    std::printf("{\"impl\": \"opencv\", \"conv\": \"%s\", \"targets\": %d, \"calc_s\": %s, \"one_to_many_s\": %s, \"peak_rss_mb\": %.1f}\n",
                convOption(o).c_str(), targets, jsonList(pair).c_str(), jsonList(batch).c_str(), peakRssMB());
    return 0;
}

// Reads a whole file as cv::SemanticFlow's loader does: istreambuf_iterator into a vector
// (the vector grows by doubling, copying as it goes).
void readLikeSemanticFlow(const std::string& path, std::vector<char>& bytes)
{
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (bytes.empty())
        throw std::runtime_error("cannot read '" + path + "'");
}

// One read() into a buffer of the file's size.
void readSized(const std::string& path, std::vector<char>& bytes)
{
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    bytes.resize((size_t)std::max<std::streamoff>(0, f.tellg()));
    f.seekg(0);
    if (bytes.empty() || !f.read(bytes.data(), (std::streamsize)bytes.size()))
        throw std::runtime_error("cannot read '" + path + "'");
}

int load(const Options& o)
{
    const std::string model = o.at(0, "MODEL"), how = o.get("how", "create");
    const double rssLibs = peakRssMB();
    // Kept alive until the report, so that rss_end_mb is what the loaded object holds.
    cv::Ptr<cv::SemanticFlow> sf;
    cv::dnn::Net net;
    std::vector<char> bytes;
    std::vector<double> stepS;
    std::stringstream steps(how);
    std::string step;
    const double t0 = now();
    while (std::getline(steps, step, ','))
    {
        const double ts = now();
        if (step == "create")
            sf = cv::SemanticFlow::create(model);
        else if (step == "read")
            readLikeSemanticFlow(model, bytes);
        else if (step == "read-fast")
            readSized(model, bytes);
        else if (step == "path")
        {
            std::vector<char>().swap(bytes);  // as SemanticFlow does, before OpenCV parses the file
            cv::semflow::registerLayers();
            net = cv::dnn::readNetFromONNX(model);
        }
        else if (step == "buffer")
        {
            if (bytes.empty())
                readSized(model, bytes);
            cv::semflow::registerLayers();
            net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
            std::vector<char>().swap(bytes);
        }
        else
            throw std::runtime_error("--how takes steps create, read, read-fast, path, buffer separated by "
                                     "commas, got '" + step + "'");
        stepS.push_back(now() - ts);
    }
    std::printf("{\"how\": \"%s\", \"load_s\": %.4f, \"steps_s\": %s, \"peak_rss_mb\": %.1f, "
                "\"peak_rss_libs_mb\": %.1f, \"rss_end_mb\": %.1f}\n",
                how.c_str(), now() - t0, jsonList(stepS).c_str(), peakRssMB(), rssLibs, rssMB());
    return 0;
}

// One image as SFNet's protocol feeds it (RGB in [0, 1], resized to 288, zero-padded 16), as
// calc() makes it; networkInput is its one-image blob.
cv::Mat networkImage(const cv::Mat& bgr)
{
    cv::Mat rgb, resized, padded;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(rgb, CV_32F, 1.0 / 255);
    cv::resize(rgb, resized, cv::Size(288, 288), 0, 0, cv::INTER_AREA);
    cv::copyMakeBorder(resized, padded, 16, 16, 16, 16, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return padded;
}

cv::Mat networkInput(const cv::Mat& bgr)
{
    return cv::dnn::blobFromImage(networkImage(bgr));
}

int profile(const Options& o)
{
    const std::string model = o.at(0, "MODEL");
    const cv::Mat bs = networkInput(readImage(o.at(1, "SRC"))), bt = networkInput(readImage(o.at(2, "TGT")));
    const int runs = o.getInt("runs", 3);
    cv::semflow::registerLayers();
    cv::dnn::Net net;
    {
        semflow_bench::GemmConvScope scope(convOption(o) == "gemm");
        net = cv::dnn::readNetFromONNX(model);
    }
    const std::vector<cv::String> outs = {"grid_s2t", "grid_t2s"};
    std::vector<cv::Mat> res;
    net.setInput(bs, "source");
    net.setInput(bt, "target");
    net.forward(res, outs);  // set-up run
    std::vector<double> sum;
    std::vector<double> totals;
    for (int r = 0; r < runs; r++)
    {
        net.setInput(bs, "source");
        net.setInput(bt, "target");
        const double t0 = now();
        net.forward(res, outs);
        totals.push_back(now() - t0);
        std::vector<double> t;
        net.getPerfProfile(t);
        if (sum.empty())
            sum.assign(t.size(), 0.0);
        for (size_t i = 0; i < t.size() && i < sum.size(); i++)
            sum[i] += t[i];
    }
    const std::string save = o.get("save", "");
    for (size_t k = 0; k < outs.size() && !save.empty(); k++)
    {
        const cv::Mat& g = res[k];  // [1, 2, h, w]
        CV_Assert(g.dims == 4 && g.size[0] == 1 && g.size[1] == 2);
        const int h = g.size[2], w = g.size[3];
        cv::Mat planes[2] = {cv::Mat(h, w, CV_32F, (void*)g.ptr<float>(0, 0)),
                             cv::Mat(h, w, CV_32F, (void*)g.ptr<float>(0, 1))};
        cv::Mat two;
        cv::merge(planes, 2, two);
        if (!cv::writeOpticalFlow(save + "_" + outs[k] + ".flo", two))
            throw std::runtime_error("cannot write '" + save + "_" + outs[k] + ".flo'");
    }
    const double tick = 1000.0 / cv::getTickFrequency();
    const std::vector<cv::String> names = net.getLayerNames();
    const std::vector<cv::dnn::MatShape> shapes = {cv::dnn::shape(bs), cv::dnn::shape(bt)};
    std::printf("{\"profile\": \"%s\", \"conv\": \"%s\", \"opencv\": \"%s\", \"runs\": %d, \"forward_s\": %s, \"layers\": %zu}\n",
                model.c_str(), convOption(o).c_str(), CV_VERSION, runs, jsonList(totals).c_str(), names.size());
    for (size_t i = 0; i < names.size() && i < sum.size(); i++)
    {
        const int id = net.getLayerId(names[i]);
        const cv::Ptr<cv::dnn::Layer> layer = net.getLayer(id);
        int64 flops = -1;
#if CV_VERSION_MAJOR < 5  // OpenCV 5's Net::getFLOPS has no per-layer form
        try
        {
            flops = net.getFLOPS(id, shapes);
        }
        catch (const cv::Exception&)
        {
        }
#else
        (void)id;
        (void)shapes;
#endif
        std::printf("{\"layer\": \"%s\", \"type\": \"%s\", \"ms\": %.4f, \"flops\": %lld}\n", names[i].c_str(),
                    layer->type.c_str(), sum[i] * tick / runs, (long long)flops);
    }
    return 0;
}

// Plain sgemm (the system BLAS, 2 threads) on the GEMM each convolution of the pair would be
// lowered to (im2col: M = output channels, N = batch * output pixels, K = input channels * k * k):
// the ceiling beside the per-layer profile.
int sgemm(const Options& o)
{
    struct Shape
    {
        const char* what;
        int m, n, k;
    };
    const Shape shapes[] = {
        {"adaptation level 3 (5x5, 1024 ch, 20x20, batch 2)", 1024, 800, 1024 * 25},
        {"adaptation level 4 (3x3, 2048 ch, 10x10, batch 2)", 2048, 200, 2048 * 9},
        {"backbone layer3 1x1 (1024 -> 256, 20x20, batch 2)", 256, 800, 1024},
        {"backbone layer3 3x3 (256 ch, 20x20, batch 2)", 256, 800, 256 * 9},
        {"backbone layer4 3x3 (512 ch, 10x10, batch 2)", 512, 200, 512 * 9},
    };
    const int runs = o.getInt("runs", 5);
    std::printf("{\"sgemm\": \"cblas_sgemm\", \"runs\": %d}\n", runs);
    for (const Shape& s : shapes)
    {
        cv::Mat a(s.m, s.k, CV_32F), b(s.k, s.n, CV_32F), c(s.m, s.n, CV_32F);
        cv::randu(a, -1, 1);
        cv::randu(b, -1, 1);
        std::vector<double> t;
        for (int r = 0; r <= runs; r++)
        {
            const double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.f, a.ptr<float>(), s.k,
                        b.ptr<float>(), s.n, 0.f, c.ptr<float>(), s.n);
            if (r > 0)  // the first call warms caches and threads
                t.push_back(now() - t0);
        }
        const double best = *std::min_element(t.begin(), t.end());
        std::printf("{\"shape\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"times_s\": %s, "
                    "\"best_gflops\": %.1f}\n",
                    s.what, s.m, s.n, s.k, jsonList(t).c_str(), 2.0 * s.m * s.n * s.k / best / 1e9);
    }
    return 0;
}

}  // namespace

// Times one network forward (set-up run first) and returns the two grids of the last run.
std::vector<double> timeForward(cv::dnn::Net& net, const cv::Mat& bs, const cv::Mat& bt, int runs,
                                std::vector<cv::Mat>& grids,
                                const std::vector<cv::String>& outs = {"grid_s2t", "grid_t2s"})
{
    std::vector<double> t;
    for (int r = 0; r <= runs; r++)
    {
        net.setInput(bs, "source");
        net.setInput(bt, "target");
        const double t0 = now();
        net.forward(grids, outs);
        if (r > 0)
            t.push_back(now() - t0);
    }
    for (cv::Mat& g : grids)
        g = g.clone();
    return t;
}

int int8(const Options& o)
{
#if CV_VERSION_MAJOR >= 5
    (void)o;
    throw std::runtime_error("int8 needs cv::dnn::Net::quantize, which OpenCV " CV_VERSION " does not have");
#else
    const std::string model = o.at(0, "MODEL");
    const cv::Mat bs = networkInput(readImage(o.at(1, "SRC"))), bt = networkInput(readImage(o.at(2, "TGT")));
    const int runs = o.getInt("runs", 3);
    std::vector<std::string> calibFiles;
    {
        std::stringstream ss(o.get("calib", ""));
        std::string f;
        while (std::getline(ss, f, ','))
            if (!f.empty())
                calibFiles.push_back(f);
    }
    if (calibFiles.size() < 2)
        throw std::runtime_error("--calib needs at least two images (comma-separated)");
    std::vector<cv::Mat> cs, ct;
    for (size_t i = 0; i < calibFiles.size(); i++)
    {
        cs.push_back(networkImage(readImage(calibFiles[i])));
        ct.push_back(networkImage(readImage(calibFiles[(i + 1) % calibFiles.size()])));
    }
    const cv::Mat calibS = cv::dnn::blobFromImages(cs), calibT = cv::dnn::blobFromImages(ct);

    cv::semflow::registerLayers();
    double t0 = now();
    cv::dnn::Net net = cv::dnn::readNetFromONNX(model);
    const double loadS = now() - t0;
    std::vector<cv::Mat> ref, got;
    const std::vector<double> fp32 = timeForward(net, bs, bt, runs, ref);
    t0 = now();
    cv::dnn::Net qnet = net.quantize(std::vector<cv::Mat>{calibS, calibT}, CV_32F, CV_32F);
    const double quantS = now() - t0;
    const double rssBoth = rssMB();
    net = cv::dnn::Net();  // only the int8 network from here on
    // A quantized network keeps layer names only ("onnx_node!grid_s2t"), not the ONNX output
    // names, which resolve to another blob there.
    const std::vector<double> q = timeForward(qnet, bs, bt, runs, got, {"onnx_node!grid_s2t", "onnx_node!grid_t2s"});
    int int8Layers = 0;
    for (const cv::String& name : qnet.getLayerNames())
        int8Layers += qnet.getLayer(qnet.getLayerId(name))->type.find("Int8") != std::string::npos;
    double maxDiff = 0, sumDiff = 0;
    size_t n = 0;
    for (size_t k = 0; k < 2; k++)
    {
        if (got[k].type() != ref[k].type() || got[k].total() != ref[k].total())
            throw std::runtime_error("the int8 network's " + std::string(k ? "grid_t2s" : "grid_s2t") + " is " +
                                     cv::typeToString(got[k].type()) + " of " + std::to_string(got[k].total()) +
                                     " elements, the FP32 one's " + cv::typeToString(ref[k].type()) + " of " +
                                     std::to_string(ref[k].total()));
        cv::Mat d;
        cv::absdiff(ref[k].reshape(1, 1), got[k].reshape(1, 1), d);
        double mx = 0;
        cv::minMaxLoc(d, nullptr, &mx);
        maxDiff = std::max(maxDiff, mx);
        sumDiff += cv::sum(d)[0];
        n += d.total();
    }
    const double minFp32 = *std::min_element(fp32.begin(), fp32.end());
    const double minInt8 = *std::min_element(q.begin(), q.end());
    std::printf("{\"int8\": \"%s\", \"opencv\": \"%s\", \"calib_images\": %zu, \"load_s\": %.3f, \"quantize_s\": %.3f, "
                "\"fp32_forward_s\": %s, \"int8_forward_s\": %s, \"int8_over_fp32\": %.3f, \"int8_layers\": %d, "
                "\"grid_max_abs_diff\": %.3g, \"grid_mean_abs_diff\": %.3g, \"grid_max_diff_px320\": %.3g, "
                "\"rss_fp32_and_int8_mb\": %.1f, \"rss_int8_only_mb\": %.1f, \"peak_rss_mb\": %.1f}\n",
                model.c_str(), CV_VERSION, calibFiles.size(), loadS, quantS, jsonList(fp32).c_str(), jsonList(q).c_str(),
                minInt8 / minFp32, int8Layers, maxDiff, sumDiff / n, maxDiff * 319.0 / 2.0, rssBoth, rssMB(), peakRssMB());
    return 0;
#endif
}

int main(int argc, char** argv)
{
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);  // importer chatter
    const std::string usage =
        "usage: bench_sfnet_pair write-pair DIR [--size 320]\n"
        "       bench_sfnet_pair calc MODEL SRC TGT [--runs 5] [--save PREFIX]\n"
        "       bench_sfnet_pair one-to-many MODEL SRC [--targets 8] [--runs 3]\n"
        "       bench_sfnet_pair load MODEL --how create|read|read-fast|path|buffer[,...]\n"
        "       bench_sfnet_pair profile MODEL SRC TGT [--runs 3] [--save PREFIX]\n"
        "       bench_sfnet_pair int8 MODEL SRC TGT --calib IMG[,IMG...] [--runs 3]\n"
        "       bench_sfnet_pair sgemm [--runs 5]\n"
        "  --conv gemm (calc, one-to-many, profile): convolutions as im2col + cblas_sgemm (an experiment)\n";
    if (argc < 2)
    {
        std::fputs(usage.c_str(), stderr);
        return 2;
    }
    const std::string cmd = argv[1];
    try
    {
        const Options o(argc, argv, 2);
        if (cmd == "write-pair")
            return writePair(o);
        if (cmd == "calc")
            return calc(o);
        if (cmd == "one-to-many")
            return oneToMany(o);
        if (cmd == "load")
            return load(o);
        if (cmd == "profile")
            return profile(o);
        if (cmd == "sgemm")
            return sgemm(o);
        if (cmd == "int8")
            return int8(o);
        std::fprintf(stderr, "unknown command '%s'\n%s", cmd.c_str(), usage.c_str());
        return 2;
    }
    catch (const std::exception& e)
    {
        std::fprintf(stderr, "bench_sfnet_pair %s: %s\n", cmd.c_str(), e.what());
        return 1;
    }
}
