// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Correlation and kernel soft argmax: our OpenCV kernels vs plain sgemm on the same
// shapes (the ceiling for correlation) vs LibTorch doing the same maths (the trainer's
// implementation), all in one process on the same inputs.
//
//   ./build/bench/bench_layers --benchmark_min_time=1
//
// Correlation FLOPs: 2*C*M*M for an M-cell grid (the norms and the ReLU are O(M*M + C*M)).

#include <benchmark/benchmark.h>

#include <cblas.h>

#include "opencv2/semflow.hpp"

#include "../modules/semflow/src/layers_kernels.hpp"

#ifdef SEMFLOW_HAVE_TORCH
#include "model.hpp"
#endif

namespace {

cv::Mat randomBlob(int N, int C, int H, int W, float lo, float hi, uint64 seed)
{
    int shape[] = {N, C, H, W};
    cv::Mat m(4, shape, CV_32F);
    cv::RNG rng(seed);
    rng.fill(m, cv::RNG::UNIFORM, lo, hi);
    return m;
}

void setCorrelationCounters(benchmark::State& state, int grid, int C)
{
    const double M = (double)grid * grid;
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * C * M * M / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Correlation_OpenCV(benchmark::State& state)
{
    const int g = (int)state.range(0), C = (int)state.range(1);
    cv::Mat fs = randomBlob(1, C, g, g, -1, 1, 1), ft = randomBlob(1, C, g, g, -1, 1, 2), out;
    for (auto _ : state)
    {
        cv::semflow::correlation(fs, ft, out);
        benchmark::DoNotOptimize(out.data);
    }
    setCorrelationCounters(state, g, C);
}

// The ceiling: one sgemm of the same shape, (M x C)^T-layout times (C x M), no normalisation.
void BM_Sgemm(benchmark::State& state)
{
    const int g = (int)state.range(0), C = (int)state.range(1), M = g * g;
    cv::Mat fs = randomBlob(1, C, g, g, -1, 1, 1), ft = randomBlob(1, C, g, g, -1, 1, 2);
    std::vector<float> out((size_t)M * M);
    for (auto _ : state)
    {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, M, C, 1.f, ft.ptr<float>(), M,
                    fs.ptr<float>(), M, 0.f, out.data(), M);
        benchmark::DoNotOptimize(out.data());
    }
    setCorrelationCounters(state, g, C);
}

// The correlation's product alone, two ways: cv::gemm (BLAS-backed where OpenCV was built with
// Lapack, as Debian's 4.6; single-threaded C++ otherwise) and the module's own kernel.
void correlationProductBench(benchmark::State& state, bool own)
{
    const int g = (int)state.range(0), C = (int)state.range(1), M = g * g;
    cv::Mat fs = randomBlob(1, C, g, g, -1, 1, 1), ft = randomBlob(1, C, g, g, -1, 1, 2);
    cv::Mat out(M, M, CV_32F);
    for (auto _ : state)
    {
        if (own)
            cv::semflow::detail::gemmTransposedA(ft.ptr<float>(), fs.ptr<float>(), C, M, M, out.ptr<float>());
        else
            cv::gemm(cv::Mat(C, M, CV_32F, ft.data), cv::Mat(C, M, CV_32F, fs.data), 1.0, cv::noArray(), 0.0, out,
                     cv::GEMM_1_T);
        benchmark::DoNotOptimize(out.data);
    }
    setCorrelationCounters(state, g, C);
}
void BM_CorrelationProduct_cvGemm(benchmark::State& state) { correlationProductBench(state, false); }
void BM_CorrelationProduct_OwnKernel(benchmark::State& state) { correlationProductBench(state, true); }

void BM_KernelSoftArgmax_OpenCV(benchmark::State& state)
{
    const int g = (int)state.range(0);
    cv::Mat corr = randomBlob(1, g * g, g, g, 0, 1, 3), grid;
    for (auto _ : state)
    {
        cv::semflow::kernelSoftArgmax(corr, cv::Size(g, g), grid, 50.f, 5.f, true);
        benchmark::DoNotOptimize(grid.data);
    }
}

#ifdef SEMFLOW_HAVE_TORCH
torch::Tensor toTensor(const cv::Mat& m)
{
    return torch::from_blob(const_cast<float*>(m.ptr<float>()),
                            {m.size[0], m.size[1], m.size[2], m.size[3]}, torch::kFloat32);
}

void BM_Correlation_LibTorch(benchmark::State& state)
{
    torch::NoGradGuard noGrad;
    const int g = (int)state.range(0), C = (int)state.range(1);
    torch::Tensor fs = toTensor(randomBlob(1, C, g, g, -1, 1, 1)).clone();
    torch::Tensor ft = toTensor(randomBlob(1, C, g, g, -1, 1, 2)).clone();
    for (auto _ : state)
    {
        torch::Tensor out = sfnet::correlation(fs, ft);
        benchmark::DoNotOptimize(out.data_ptr());
    }
    setCorrelationCounters(state, g, C);
}

void BM_KernelSoftArgmax_LibTorch(benchmark::State& state)
{
    torch::NoGradGuard noGrad;
    const int g = (int)state.range(0);
    torch::Tensor corr = toTensor(randomBlob(1, g * g, g, g, 0, 1, 3)).clone();
    for (auto _ : state)
    {
        torch::Tensor grid = sfnet::kernelSoftArgmax(corr, g, g, 50.0, 5.0, true);
        benchmark::DoNotOptimize(grid.data_ptr());
    }
}
#endif

void correlationArgs(benchmark::internal::Benchmark* b)
{
    for (int g : {20, 40})
        for (int C : {1024, 2048})
            b->Args({g, C});
    b->ArgNames({"grid", "C"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

// The default model's two levels (EfficientNet-Lite0: 112 and 320 channels on a 20x20 grid)
// and the ResNet-101 ones.
void productArgs(benchmark::internal::Benchmark* b)
{
    for (int C : {112, 320, 1024, 2048})
        b->Args({20, C});
    b->ArgNames({"grid", "C"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void softArgmaxArgs(benchmark::internal::Benchmark* b)
{
    b->Arg(20)->Arg(40)->ArgName("grid")->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_Correlation_OpenCV)->Apply(correlationArgs);
BENCHMARK(BM_Sgemm)->Apply(correlationArgs);
BENCHMARK(BM_CorrelationProduct_cvGemm)->Apply(productArgs);
BENCHMARK(BM_CorrelationProduct_OwnKernel)->Apply(productArgs);
BENCHMARK(BM_KernelSoftArgmax_OpenCV)->Apply(softArgmaxArgs);
#ifdef SEMFLOW_HAVE_TORCH
BENCHMARK(BM_Correlation_LibTorch)->Apply(correlationArgs);
BENCHMARK(BM_KernelSoftArgmax_LibTorch)->Apply(softArgmaxArgs);
#endif

BENCHMARK_MAIN();
