// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// End-to-end cv::SemanticFlow at 320x320: one pair through calc() (network, both images as
// one batch, grid to flow at image size), and one source against four targets through
// calcOneToMany(). The model is any SFNet ONNX file, e.g. ResNet-101 with random weights:
//
//   sfnet export --backbone resnet101 --random-init --output /tmp/sfnet_r101.onnx
//   ./build/bench/bench_semantic_flow /tmp/sfnet_r101.onnx --benchmark_min_time=5
//   SEMFLOW_BENCH_MODEL=/tmp/sfnet_r101.onnx ./build/bench/bench_semantic_flow
//
// Peak memory is the process's maximum resident set (getrusage ru_maxrss), reported as the
// counter peak_rss_MB; run one benchmark per process (--benchmark_filter) to attribute it.
//
// With the trainer built, BM_SFNet_LibTorch runs the LibTorch forward of the same model on a
// 320x320 pair: `sfnet export --random-init --seed S` builds its weights as
// torch::manual_seed(S) + SFNet(config), and so does this benchmark (SEMFLOW_BENCH_BACKBONE,
// default resnet101; SEMFLOW_BENCH_SEED, default 0), so both sides hold identical weights.
//
//   ./build/bench/bench_semantic_flow /tmp/sfnet_r101.onnx --benchmark_filter=Calc
//   ./build/bench/bench_semantic_flow /tmp/sfnet_r101.onnx --benchmark_filter=LibTorch
//
// calcOneToMany's memory against the number of targets, one count per process:
//
//   ./build/bench/bench_semantic_flow test_data/semflow/models/semflow_tiny.onnx --benchmark_filter='OneToManyMemory/320/10/'

#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "opencv2/core/utils/logger.hpp"
#include "opencv2/imgproc.hpp"
#include "opencv2/semflow.hpp"

#include "bench_util.hpp"

#ifdef SEMFLOW_HAVE_TORCH
#include "model.hpp"
#endif

namespace {

using semflow_bench::peakRssMB;
using semflow_bench::testImage;

std::string g_model;

// The model, or null with the benchmark marked as failed (the loader's message shown).
cv::Ptr<cv::SemanticFlow> load(benchmark::State& state, int side)
{
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);  // importer chatter
    try
    {
        return cv::SemanticFlow::create(g_model, cv::Size(side, side));
    }
    catch (const cv::Exception& e)
    {
        state.SkipWithError(e.err.c_str());
        return cv::Ptr<cv::SemanticFlow>();
    }
}

void BM_SemanticFlow_Calc(benchmark::State& state)
{
    const int side = (int)state.range(0);
    cv::Ptr<cv::SemanticFlow> sf = load(state, side);
    if (!sf)
        return;
    const cv::Mat source = testImage(side, 1), target = testImage(side, 2);
    cv::Mat flow;
    sf->calc(source, target, flow);  // warm-up: allocation of the network's buffers
    for (auto _ : state)
    {
        sf->calc(source, target, flow);
        benchmark::DoNotOptimize(flow.data);
    }
    state.counters["pairs/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_rss_MB"] = peakRssMB();
}

void BM_SemanticFlow_OneToMany(benchmark::State& state)
{
    const int side = (int)state.range(0), targets = (int)state.range(1);
    cv::Ptr<cv::SemanticFlow> sf = load(state, side);
    if (!sf)
        return;
    const cv::Mat source = testImage(side, 1);
    std::vector<cv::Mat> many, flows;
    for (int i = 0; i < targets; i++)
        many.push_back(testImage(side, 10 + i));
    sf->calcOneToMany(source, many, flows);
    for (auto _ : state)
    {
        sf->calcOneToMany(source, many, flows);
        benchmark::DoNotOptimize(flows.data());
    }
    state.counters["pairs/s"] = benchmark::Counter(targets, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_rss_MB"] = peakRssMB();
}

// Peak memory of calcOneToMany against the number of targets (run one count per process):
// small 64x64 images, so that the caller's inputs and output flows (12 KB and 32 KB per
// target) stay small next to what the implementation holds per target (each image becomes
// a side x side network input, plus its features).
void BM_SemanticFlow_OneToManyMemory(benchmark::State& state)
{
    const int side = (int)state.range(0), targets = (int)state.range(1);
    cv::Ptr<cv::SemanticFlow> sf = load(state, side);
    if (!sf)
        return;
    const double loaded = peakRssMB();
    cv::Mat source;
    cv::resize(testImage(side, 1), source, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
    std::vector<cv::Mat> many, flows;
    for (int i = 0; i < targets; i++)
    {
        cv::Mat t;
        cv::resize(testImage(side, 10 + i), t, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
        many.push_back(t);
    }
    for (auto _ : state)
    {
        sf->calcOneToMany(source, many, flows);
        benchmark::DoNotOptimize(flows.data());
    }
    state.counters["pairs/s"] = benchmark::Counter(targets, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["rss_after_load_MB"] = loaded;
    state.counters["peak_rss_MB"] = peakRssMB();
}

#ifdef SEMFLOW_HAVE_TORCH
// The same maths in LibTorch: both images as one batch through backbone and adaptation
// layers, correlations, kernel soft argmax in both directions (no autograd).
void BM_SFNet_LibTorch(benchmark::State& state)
{
    const int side = (int)state.range(0);
    const char* bb = std::getenv("SEMFLOW_BENCH_BACKBONE");
    const char* seed = std::getenv("SEMFLOW_BENCH_SEED");
    torch::manual_seed(seed ? std::strtoull(seed, nullptr, 10) : 0);
    sfnet::ModelConfig cfg;
    cfg.backbone = bb ? bb : "resnet101";
    sfnet::SFNet model(cfg);
    model->eval();
    torch::NoGradGuard noGrad;
    const torch::Tensor source = torch::rand({1, 3, side, side});
    const torch::Tensor target = torch::rand({1, 3, side, side});
    model->forward(source, target);  // warm-up, as for calc()
    for (auto _ : state)
    {
        sfnet::SFNetImpl::Output out = model->forward(source, target);
        benchmark::DoNotOptimize(out.gridS2T.data_ptr());
    }
    state.counters["pairs/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_rss_MB"] = peakRssMB();
}
BENCHMARK(BM_SFNet_LibTorch)->Arg(320)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

BENCHMARK(BM_SemanticFlow_Calc)->Arg(320)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SemanticFlow_OneToMany)->Args({320, 4})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SemanticFlow_OneToManyMemory)->Args({320, 10})->Args({320, 20})->Args({320, 50})->Args({320, 200})->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv)
{
    benchmark::Initialize(&argc, argv);
    // What Google Benchmark did not consume: the model path.
    if (argc > 1)
        g_model = argv[1];
    else if (const char* env = std::getenv("SEMFLOW_BENCH_MODEL"))
        g_model = env;
    if (g_model.empty())
    {
        std::fprintf(stderr, "usage: %s <model.onnx> [benchmark flags]  (or set SEMFLOW_BENCH_MODEL)\n"
                             "make one with: sfnet export --backbone resnet101 --random-init --output m.onnx\n",
                     argv[0]);
        return 2;
    }
    // Only a cheap check here: loading the model in main() would put OpenCV's copy of the
    // weights into every process's peak RSS, the LibTorch benchmark's included.
    if (!std::ifstream(g_model, std::ios::binary).good())
    {
        std::fprintf(stderr, "error: cannot read model file '%s'\n", g_model.c_str());
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
