// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// An experiment for issue 10, not a product: every 2-D convolution of the network lowered to
// im2col + one cblas_sgemm per layer (all images of the batch in one GEMM), in place of OpenCV
// 4.6's own convolution, to measure what GEMM-speed convolutions would give end to end.
//
// GemmConvScope registers the layer under the type "Convolution" while it lives: OpenCV's
// ONNX importer instantiates every layer during import, so the layers of a network read in
// that scope are ours, and the built-in type is restored afterwards (LayerFactory keeps a
// stack of constructors per type). Configurations this layer does not handle (groups,
// dilation, weights given at run time, non-4-D input) get OpenCV's own layer.

#ifndef SEMFLOW_BENCH_GEMM_CONV_LAYER_HPP
#define SEMFLOW_BENCH_GEMM_CONV_LAYER_HPP

#include <cblas.h>

#include <dlfcn.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/dnn.hpp"
#include "opencv2/dnn/all_layers.hpp"
#include "opencv2/dnn/layer.details.hpp"

#if CV_VERSION_MAJOR >= 5
// OpenCV 5 moved MatShape from cv::dnn to cv (as the module's precomp.hpp notes).
namespace cv { namespace dnn { using cv::MatShape; } }
#endif

namespace semflow_bench {

class GemmConvLayer CV_FINAL : public cv::dnn::Layer
{
public:
    static cv::Ptr<cv::dnn::Layer> create(cv::dnn::LayerParams& p)
    {
        int kh, kw, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
        if (!supported(p, kh, kw, sh, sw, pt, pl, pb, pr))
            return cv::dnn::ConvolutionLayer::create(p);
        return cv::Ptr<cv::dnn::Layer>(new GemmConvLayer(p, kh, kw, sh, sw, pt, pl, pb, pr));
    }

    bool getMemoryShapes(const std::vector<cv::dnn::MatShape>& inputs, const int, std::vector<cv::dnn::MatShape>& outputs,
                         std::vector<cv::dnn::MatShape>&) const CV_OVERRIDE
    {
        CV_Assert(inputs.size() == 1 && inputs[0].size() == 4 && inputs[0][1] == cin_);
        // The importer infers shapes with unknown (symbolic) sides as 0: keep them unknown.
        const int h = inputs[0][2], w = inputs[0][3];
        const int ho = h > 0 ? (h + pt_ + pb_ - kh_) / sh_ + 1 : h, wo = w > 0 ? (w + pl_ + pr_ - kw_) / sw_ + 1 : w;
        outputs.assign(1, cv::dnn::MatShape{inputs[0][0], cout_, ho, wo});
        return false;
    }

    int64 getFLOPS(const std::vector<cv::dnn::MatShape>&, const std::vector<cv::dnn::MatShape>& outputs) const CV_OVERRIDE
    {
        const cv::dnn::MatShape& o = outputs[0];
        return 2 * (int64)o[0] * o[1] * o[2] * o[3] * cin_ * kh_ * kw_;
    }

    bool setActivation(const cv::Ptr<cv::dnn::ActivationLayer>& layer) CV_OVERRIDE
    {
        const cv::Ptr<cv::dnn::ReLULayer> relu = layer.dynamicCast<cv::dnn::ReLULayer>();
        if (!relu || relu->negativeSlope != 0.f || relu_)
            return false;
        relu_ = true;
        return true;
    }

    void forward(cv::InputArrayOfArrays inputsArr, cv::OutputArrayOfArrays outputsArr, cv::OutputArrayOfArrays) CV_OVERRIDE
    {
        std::vector<cv::Mat> inputs, outputs;
        inputsArr.getMatVector(inputs);
        outputsArr.getMatVector(outputs);
        const cv::Mat& x = inputs[0];
        cv::Mat& y = outputs[0];
        const int n = x.size[0], h = x.size[2], w = x.size[3], ho = y.size[2], wo = y.size[3];
        const int P = ho * wo, NP = n * P, K = cin_ * kh_ * kw_;
        const float* weights = blobs[0].ptr<float>();
        const float* bias = blobs.size() > 1 ? blobs[1].ptr<float>() : nullptr;

        // One scratch for all layers (they run one after another); a product would keep it
        // per network.
        static std::mutex scratchMutex;
        static std::vector<float> scratch;
        std::lock_guard<std::mutex> lock(scratchMutex);
        const bool direct = kh_ == 1 && kw_ == 1 && sh_ == 1 && sw_ == 1 && pt_ + pl_ + pb_ + pr_ == 0 && n == 1;
        const size_t colSize = direct ? 0 : (size_t)K * NP, outSize = n == 1 ? 0 : (size_t)cout_ * NP;
        if (scratch.size() < colSize + outSize)
            scratch.resize(colSize + outSize);
        float* col = direct ? (float*)x.ptr<float>() : scratch.data();
        float* out = n == 1 ? y.ptr<float>() : scratch.data() + colSize;

        if (!direct)
        {
            // col[(c*kh + i)*kw + j][img*P + oy*wo + ox] = x[img][c][oy*sh - pt + i][ox*sw - pl + j]
            cv::parallel_for_(cv::Range(0, K), [&](const cv::Range& r) {
                for (int row = r.start; row < r.end; row++)
                {
                    const int c = row / (kh_ * kw_), i = (row / kw_) % kh_, j = row % kw_;
                    for (int img = 0; img < n; img++)
                    {
                        const float* src = x.ptr<float>(img, c);
                        float* dst = col + (size_t)row * NP + (size_t)img * P;
                        for (int oy = 0; oy < ho; oy++)
                        {
                            const int iy = oy * sh_ - pt_ + i;
                            float* d = dst + oy * wo;
                            if (iy < 0 || iy >= h)
                            {
                                std::fill(d, d + wo, 0.f);
                                continue;
                            }
                            const float* s = src + iy * w;
                            for (int ox = 0; ox < wo; ox++)
                            {
                                const int ix = ox * sw_ - pl_ + j;
                                d[ox] = ix >= 0 && ix < w ? s[ix] : 0.f;
                            }
                        }
                    }
                }
            });
        }
        // The GEMM split by columns over OpenCV's threads, each a single-threaded sgemm: one
        // thread pool, so that BLAS workers spinning after a call do not compete with the
        // parallel_for_ loops around it on 2 cores.
        const int stripes = std::max(1, std::min(cv::getNumThreads(), NP / 64));
        cv::parallel_for_(cv::Range(0, stripes), [&](const cv::Range& r) {
            for (int st = r.start; st < r.end; st++)
            {
                const int c0 = (int)((int64)NP * st / stripes) & ~15, c1 = st + 1 == stripes ? NP : (int)((int64)NP * (st + 1) / stripes) & ~15;
                if (c1 > c0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_, c1 - c0, K, 1.f, weights, K,
                                col + c0, NP, 0.f, out + c0, NP);
            }
        });
        // Bias, ReLU, and (batch > 1) the [Cout, N*P] product back to NCHW.
        cv::parallel_for_(cv::Range(0, n * cout_), [&](const cv::Range& r) {
            for (int t = r.start; t < r.end; t++)
            {
                const int img = t / cout_, co = t % cout_;
                const float* s = out + (size_t)co * NP + (size_t)img * P;
                float* d = y.ptr<float>(img, co);
                const float b = bias ? bias[co] : 0.f;
                if (relu_)
                    for (int p = 0; p < P; p++)
                        d[p] = std::max(s[p] + b, 0.f);
                else
                    for (int p = 0; p < P; p++)
                        d[p] = s[p] + b;
            }
        });
    }

private:
    GemmConvLayer(const cv::dnn::LayerParams& p, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr)
        : kh_(kh), kw_(kw), sh_(sh), sw_(sw), pt_(pt), pl_(pl), pb_(pb), pr_(pr)
    {
        setParamsFrom(p);
        type = "SemflowBenchGemmConv";  // not "Convolution": OpenCV's conv-only fusions must not apply
        cout_ = blobs[0].size[0];
        cin_ = blobs[0].size[1];
    }

    static bool pair(const cv::dnn::LayerParams& p, const char* key, int& a, int& b)
    {
        if (!p.has(key))
            return true;
        const cv::dnn::DictValue v = p.get(key);
        if (v.size() == 1)
            a = b = v.get<int>(0);
        else if (v.size() == 2)
            a = v.get<int>(0), b = v.get<int>(1);
        else
            return false;
        return true;
    }

    static bool supported(const cv::dnn::LayerParams& p, int& kh, int& kw, int& sh, int& sw, int& pt, int& pl,
                          int& pb, int& pr)
    {
        if (p.blobs.empty() || p.blobs[0].dims != 4 || p.blobs[0].type() != CV_32F || !p.blobs[0].isContinuous())
            return false;
        if (p.get<int>("group", 1) != 1 || p.has("pad_mode") || !p.has("kernel_size"))
            return false;
        int dh = 1, dw = 1;
        if (!pair(p, "kernel_size", kh, kw) || !pair(p, "stride", sh, sw) || !pair(p, "dilation", dh, dw) ||
            dh != 1 || dw != 1)
            return false;
        if (kh != p.blobs[0].size[2] || kw != p.blobs[0].size[3])
            return false;
        if (p.has("pad"))
        {
            const cv::dnn::DictValue v = p.get("pad");
            if (v.size() == 4)  // ONNX order: top, left, bottom, right
                pt = v.get<int>(0), pl = v.get<int>(1), pb = v.get<int>(2), pr = v.get<int>(3);
            else if (v.size() == 2)
                pt = pb = v.get<int>(0), pl = pr = v.get<int>(1);
            else if (v.size() == 1)
                pt = pb = pl = pr = v.get<int>(0);
            else
                return false;
        }
        return true;
    }

    int kh_, kw_, sh_, sw_, pt_, pl_, pb_, pr_;
    int cin_ = 0, cout_ = 0;
    bool relu_ = false;
};

// While alive, networks read with cv::dnn get GemmConvLayer for their convolutions.
struct GemmConvScope
{
    explicit GemmConvScope(bool on) : on_(on)
    {
        if (!on_)
            return;
        cv::dnn::LayerFactory::registerLayer("Convolution", GemmConvLayer::create);
        // The layer parallelises its GEMM itself (see forward); OpenBLAS's own threads stay idle.
        typedef void (*SetThreads)(int);
        if (SetThreads set = (SetThreads)dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))
            set(1);
    }
    ~GemmConvScope()
    {
        if (on_)
            cv::dnn::LayerFactory::unregisterLayer("Convolution");
    }
    GemmConvScope(const GemmConvScope&) = delete;
    GemmConvScope& operator=(const GemmConvScope&) = delete;

private:
    bool on_;
};

}  // namespace semflow_bench

#endif
