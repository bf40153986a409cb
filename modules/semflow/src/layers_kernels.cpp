// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// CPU kernels of the two semflow operators (doc/onnx_ops.md is the specification).

#include "precomp.hpp"
#include "layers_kernels.hpp"

#include "opencv2/core/hal/intrin.hpp"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace cv {
namespace semflow {
namespace detail {

static const float kEps = 1e-6f;

// Inverse L2 norms of the columns of a C x M row-major matrix (one feature vector per
// column). Row-wise accumulation keeps the inner loop contiguous and vectorisable.
static void inverseColumnNorms(const float* f, int C, int M, float* inv)
{
    AutoBuffer<double> acc(M);
    for (int m = 0; m < M; m++)
        acc[m] = 0.0;
    for (int c = 0; c < C; c++)
    {
        const float* row = f + (size_t)c * M;
        for (int m = 0; m < M; m++)
            acc[m] += (double)row[m] * row[m];
    }
    for (int m = 0; m < M; m++)
        inv[m] = (float)(1.0 / std::sqrt(acc[m] + kEps));
}

#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR >= 9)
#define SEMFLOW_HAVE_SIMD (CV_SIMD || CV_SIMD_SCALABLE)
#define SEMFLOW_F32_LANES VTraits<v_float32>::vlanes()
#else
#define SEMFLOW_HAVE_SIMD CV_SIMD
#define SEMFLOW_F32_LANES v_float32::nlanes
#endif

namespace {

// Rows of the output computed together: 6 rows x 2 vectors are 12 accumulators, which with the
// two loaded vectors of s and one broadcast fit the 16 vector registers of x86-64 and NEON.
const int kRows = 6;

// out rows [j0, j0 + rows) for every column: the block of t is packed (kRows values per k,
// zeros past the last row) so that the inner loop reads it contiguously.
void gemmRowBlock(const float* t, const float* s, int K, int M, int N, int j0, float* out, float* packed)
{
    const int rows = std::min(kRows, M - j0);
    for (int k = 0; k < K; k++)
        for (int r = 0; r < kRows; r++)
            packed[k * kRows + r] = r < rows ? t[(size_t)k * M + j0 + r] : 0.f;
    int i = 0;
#if SEMFLOW_HAVE_SIMD
    const int VL = SEMFLOW_F32_LANES;
    for (; i + 2 * VL <= N; i += 2 * VL)
    {
        v_float32 a00 = vx_setzero_f32(), a01 = vx_setzero_f32(), a10 = vx_setzero_f32(),
                  a11 = vx_setzero_f32(), a20 = vx_setzero_f32(), a21 = vx_setzero_f32(),
                  a30 = vx_setzero_f32(), a31 = vx_setzero_f32(), a40 = vx_setzero_f32(),
                  a41 = vx_setzero_f32(), a50 = vx_setzero_f32(), a51 = vx_setzero_f32();
        const float* sp = s + i;
        const float* tp = packed;
        for (int k = 0; k < K; k++, sp += N, tp += kRows)
        {
            const v_float32 s0 = vx_load(sp), s1 = vx_load(sp + VL);
            v_float32 b = vx_setall_f32(tp[0]);
            a00 = v_fma(b, s0, a00);
            a01 = v_fma(b, s1, a01);
            b = vx_setall_f32(tp[1]);
            a10 = v_fma(b, s0, a10);
            a11 = v_fma(b, s1, a11);
            b = vx_setall_f32(tp[2]);
            a20 = v_fma(b, s0, a20);
            a21 = v_fma(b, s1, a21);
            b = vx_setall_f32(tp[3]);
            a30 = v_fma(b, s0, a30);
            a31 = v_fma(b, s1, a31);
            b = vx_setall_f32(tp[4]);
            a40 = v_fma(b, s0, a40);
            a41 = v_fma(b, s1, a41);
            b = vx_setall_f32(tp[5]);
            a50 = v_fma(b, s0, a50);
            a51 = v_fma(b, s1, a51);
        }
        const v_float32 acc[kRows][2] = {{a00, a01}, {a10, a11}, {a20, a21},
                                         {a30, a31}, {a40, a41}, {a50, a51}};
        for (int r = 0; r < rows; r++)
        {
            float* o = out + (size_t)(j0 + r) * N + i;
            v_store(o, acc[r][0]);
            v_store(o + VL, acc[r][1]);
        }
    }
#endif
    // The columns past the last full pair of vectors (all of them without SIMD).
    for (; i < N; i++)
    {
        float acc[kRows] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        const float* tp = packed;
        for (int k = 0; k < K; k++, tp += kRows)
        {
            const float v = s[(size_t)k * N + i];
            for (int r = 0; r < kRows; r++)
                acc[r] += tp[r] * v;
        }
        for (int r = 0; r < rows; r++)
            out[(size_t)(j0 + r) * N + i] = acc[r];
    }
}

bool buildHasBlas()
{
    // "Lapack: YES (<libraries>)" in cv::getBuildInformation(): cv::gemm then calls that BLAS's
    // sgemm (Debian's 4.6: OpenBLAS, 244 GFLOP/s on 2 cores). Not "YES (Built-In libclapack)",
    // OpenCV 5's bundled reference C code: 47 GFLOP/s, against 180 for the kernel here.
    const String info = getBuildInformation();
    const size_t at = info.find("Lapack:");
    if (at == String::npos)
        return false;
    const size_t end = info.find('\n', at);
    const String line = info.substr(at, end == String::npos ? String::npos : end - at);
    return line.find("YES") != String::npos && line.find("Built-In") == String::npos;
}

}  // namespace

void gemmTransposedA(const float* t, const float* s, int K, int M, int N, float* out)
{
    CV_Assert(K >= 0 && M >= 0 && N >= 0);
    const int blocks = (M + kRows - 1) / kRows;
    parallel_for_(Range(0, blocks), [&](const Range& r) {
        AutoBuffer<float> packed((size_t)std::max(K, 1) * kRows);
        for (int b = r.start; b < r.end; b++)
            gemmRowBlock(t, s, K, M, N, b * kRows, out, packed.data());
    }, std::max(1.0, (double)M * N * K / (1 << 20)));
}

bool correlationUsesBlas()
{
    static const bool blas = buildHasBlas();
    return blas;
}

void correlationProduct(const float* t, const float* s, int K, int M, int N, float* out)
{
    if (!correlationUsesBlas())
    {
        gemmTransposedA(t, s, K, M, N, out);
        return;
    }
    Mat tM(K, M, CV_32F, const_cast<float*>(t));
    Mat sM(K, N, CV_32F, const_cast<float*>(s));
    Mat oM(M, N, CV_32F, out);
    cv::gemm(tM, sM, 1.0, noArray(), 0.0, oM, GEMM_1_T);
    CV_Assert(oM.data == (uchar*)out);  // gemm must have written in place
}

void correlationForward(const Mat& src, const Mat& tgt, Mat& out, bool normalize, bool relu)
{
    const int N = src.size[0], C = src.size[1];
    const int Ms = src.size[2] * src.size[3];
    const int Mt = tgt.size[2] * tgt.size[3];
    CV_Assert(src.isContinuous() && tgt.isContinuous() && out.isContinuous());

    AutoBuffer<float> invS(normalize ? Ms : 1), invT(normalize ? Mt : 1);
    for (int n = 0; n < N; n++)
    {
        const float* fs = src.ptr<float>(n);
        const float* ft = tgt.ptr<float>(n);
        float* o = out.ptr<float>(n);

        // C[j, i] = sum_c ft[c, j] * fs[c, i]: one GEMM, (Mt x C) * (C x Ms).
        correlationProduct(ft, fs, C, Mt, Ms, o);

        if (!normalize && !relu)
            continue;
        if (normalize)
        {
            inverseColumnNorms(fs, C, Ms, invS.data());
            inverseColumnNorms(ft, C, Mt, invT.data());
        }
        const float* is = invS.data();
        const float* it = invT.data();
        parallel_for_(Range(0, Mt), [&](const Range& r) {
            for (int j = r.start; j < r.end; j++)
            {
                float* row = o + (size_t)j * Ms;
                if (normalize)
                {
                    const float sj = it[j];
                    if (relu)
                        for (int i = 0; i < Ms; i++)
                            row[i] = std::max(row[i] * sj * is[i], 0.f);
                    else
                        for (int i = 0; i < Ms; i++)
                            row[i] = row[i] * sj * is[i];
                }
                else
                {
                    for (int i = 0; i < Ms; i++)
                        row[i] = std::max(row[i], 0.f);
                }
            }
        }, std::max(1.0, Mt * (double)Ms / (1 << 16)));
    }
}

namespace {

// In-place exp of n values that are all <= 0 (softmax logits minus their maximum).
// Cephes-style range reduction and degree-6 polynomial (about 2 ulp), written as a
// branch-free loop so the compiler vectorises it (glibc's expf is scalar). Inputs below
// -87 are clamped: exp(-87) ~ 1.6e-38 is negligible next to the exp(0) = 1 term that
// every softmax row contains.
void expNonPositive(float* __restrict v, int n)
{
    const float kRound = 12582912.f;  // 1.5 * 2^23: adding and subtracting rounds to nearest
    // The clamp has its own loop: fused with the polynomial, GCC 12 no longer vectorises.
    for (int i = 0; i < n; i++)
    {
        const float x = !(v[i] >= -87.f) ? -87.f : v[i];  // NaN -> -87: no UB in the int cast
        v[i] = x > 0.f ? 0.f : x;
    }
    for (int i = 0; i < n; i++)
    {
        float x = v[i];
        const float kf = (x * 1.44269504088896341f + kRound) - kRound;
        x = x - kf * 0.693359375f;
        x = x - kf * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * x + 1.3981999507e-3f;
        p = p * x + 8.3334519073e-3f;
        p = p * x + 4.1665795894e-2f;
        p = p * x + 1.6666665459e-1f;
        p = p * x + 5.0000001201e-1f;
        p = p * (x * x) + x + 1.f;
        const int32_t bits = ((int32_t)kf + 127) << 23;
        float scale;
        std::memcpy(&scale, &bits, sizeof(scale));
        v[i] = p * scale;
    }
}

// One correlation row of pass 1: running argmax (strict '>', so the first index wins
// ties), sum of squares and a finiteness probe (v * 0 is 0 for every finite v, NaN for
// infinities and NaN; the sum of squares itself overflows for finite values above
// ~1.8e19, so it cannot tell). Kept as its own function with restrict pointers so that
// GCC vectorises the selects.
inline void argmaxStep(const float* __restrict row, int j, int n, float* __restrict best,
                       int* __restrict arg, float* __restrict sumsq, float* __restrict probe)
{
    for (int b = 0; b < n; b++)
    {
        const float v = row[b];
        sumsq[b] += v * v;
        probe[b] += v * 0.f;
        const float bb = best[b];
        const int ab = arg[b];
        const bool better = v > bb;
        best[b] = better ? v : bb;
        arg[b] = better ? j : ab;
    }
}

// Source positions handled together: the inner loops run over this many contiguous
// floats of one correlation row, so they vectorise and each row is read once per pass.
const int kBlock = 64;

class KernelSoftArgmaxBody : public ParallelLoopBody
{
public:
    KernelSoftArgmaxBody(const Mat& corr, Mat& grid, int Ht, int Wt, float beta, float sigma,
                         bool normalize)
        : corr_(corr), grid_(grid), Ht_(Ht), Wt_(Wt), beta_(beta), sigma_(sigma),
          normalize_(normalize)
    {
        Ms_ = corr.size[2] * corr.size[3];
        blocksPerItem_ = (Ms_ + kBlock - 1) / kBlock;
        xn_.resize(Wt);
        yn_.resize(Ht);
        for (int x = 0; x < Wt; x++)
            xn_[x] = Wt > 1 ? -1.f + 2.f * x / (Wt - 1) : 0.f;
        for (int y = 0; y < Ht; y++)
            yn_[y] = Ht > 1 ? -1.f + 2.f * y / (Ht - 1) : 0.f;
    }

    void operator()(const Range& range) const CV_OVERRIDE
    {
        const int Mt = Ht_ * Wt_;
        const bool soft = beta_ > 0.f;
        const bool windowed = sigma_ > 0.f;
        const float negInv2s2 = windowed ? -1.f / (2.f * sigma_ * sigma_) : 0.f;

        float scale[kBlock], best[kBlock], mx[kBlock], sum[kBlock], sx[kBlock], sy[kBlock], probe[kBlock], norm[kBlock];
        int arg[kBlock];
        bool finite[kBlock];
        const float nan = std::numeric_limits<float>::quiet_NaN();
        // Separable Gaussian window per source position: gx (Wt values), gy (Ht values).
        AutoBuffer<float> gxBuf(windowed ? kBlock * Wt_ : 1), gyBuf(windowed ? kBlock * Ht_ : 1);
        AutoBuffer<float> rowLogit(kBlock);

        for (int task = range.start; task < range.end; task++)
        {
            const int n = task / blocksPerItem_;
            const int i0 = (task % blocksPerItem_) * kBlock;
            const int B = std::min(kBlock, Ms_ - i0);
            const float* base = corr_.ptr<float>(n) + i0;

            // Pass 1: argmax (first index on ties) and sum of squares per source position.
            for (int b = 0; b < B; b++)
            {
                best[b] = base[b];
                arg[b] = 0;
                scale[b] = base[b] * base[b];
                probe[b] = base[b] * 0.f;
            }
            for (int j = 1; j < Mt; j++)
            {
                argmaxStep(base + (size_t)j * Ms_, j, B, best, arg, scale, probe);
            }
            float* gx = gxBuf.data();
            float* gy = gyBuf.data();
            for (int b = 0; b < B; b++)
            {
                // A NaN or infinity anywhere in the column makes this position's answer
                // undefined: report NaN rather than a plausible-looking coordinate.
                finite[b] = probe[b] == 0.f;
                if (normalize_ && finite[b] && cvIsInf(scale[b]))
                {
                    // Finite values whose float sum of squares overflowed: redo this
                    // column in double (rare, so the fast path stays in float).
                    double ss = 0;
                    for (int j = 0; j < Mt; j++)
                    {
                        const double v = base[(size_t)j * Ms_ + b];
                        ss += v * v;
                    }
                    scale[b] = (float)(1.0 / std::sqrt(ss + kEps));
                }
                else
                    scale[b] = normalize_ ? 1.f / std::sqrt(scale[b] + kEps) : 1.f;
                if (windowed)
                {
                    const int ax = arg[b] % Wt_, ay = arg[b] / Wt_;
                    // Stored [x][b] so that a correlation row reads its window contiguously.
                    for (int x = 0; x < Wt_; x++)
                        gx[x * kBlock + b] = std::exp((float)((x - ax) * (x - ax)) * negInv2s2);
                    for (int y = 0; y < Ht_; y++)
                        gy[y * kBlock + b] = std::exp((float)((y - ay) * (y - ay)) * negInv2s2);
                }
                // beta * scale folded into one factor per source position.
                norm[b] = scale[b];
                scale[b] *= beta_;
            }

            float* gridX = grid_.ptr<float>(n, 0) + i0;
            float* gridY = grid_.ptr<float>(n, 1) + i0;
            if (!soft)
            {
                for (int b = 0; b < B; b++)
                {
                    gridX[b] = finite[b] ? xn_[arg[b] % Wt_] : nan;
                    gridY[b] = finite[b] ? yn_[arg[b] / Wt_] : nan;
                }
                continue;
            }

            // Pass 2: the largest logit, subtracted before exp so no beta can overflow.
            for (int b = 0; b < B; b++)
                mx[b] = -FLT_MAX;
            for (int j = 0; j < Mt; j++)
            {
                const float* row = base + (size_t)j * Ms_;
                if (windowed)
                {
                    const float* gxr = gx + (j % Wt_) * kBlock;
                    const float* gyr = gy + (j / Wt_) * kBlock;
                    for (int b = 0; b < B; b++)
                        mx[b] = std::max(mx[b], scale[b] * (gxr[b] * gyr[b]) * row[b]);
                }
                else
                    for (int b = 0; b < B; b++)
                        mx[b] = std::max(mx[b], scale[b] * row[b]);
            }
            // Pass 3: softmax-weighted mean of the normalised target coordinates.
            for (int b = 0; b < B; b++)
                sum[b] = sx[b] = sy[b] = 0.f;
            float* e = rowLogit.data();
            for (int j = 0; j < Mt; j++)
            {
                const float* row = base + (size_t)j * Ms_;
                const int x = j % Wt_, y = j / Wt_;
                const float px = xn_[x], py = yn_[y];
                if (windowed)
                {
                    const float* gxr = gx + x * kBlock;
                    const float* gyr = gy + y * kBlock;
                    for (int b = 0; b < B; b++)
                        e[b] = scale[b] * (gxr[b] * gyr[b]) * row[b];
                }
                else
                    for (int b = 0; b < B; b++)
                        e[b] = scale[b] * row[b];
                // The logits are rounded (stored) before mx is subtracted, in a loop of its own:
                // written as one expression, `l - mx` becomes an FMA wherever the compiler may
                // contract (GCC's default, e.g. with OpenCV's AVX2 baseline, -mfma), which
                // subtracts the rounded maximum from the *exact* product. The maximal term then
                // gets half an ulp of its logit instead of 0: harmless for logits near 50, but
                // for huge ones (c ~ 1e19 without normalisation) it is a large negative number
                // and the term that must be exp(0) = 1 vanishes.
                for (int b = 0; b < B; b++)
                    e[b] -= mx[b];
                expNonPositive(e, B);
                for (int b = 0; b < B; b++)
                {
                    sum[b] += e[b];
                    sx[b] += e[b] * px;
                    sy[b] += e[b] * py;
                }
            }
            for (int b = 0; b < B; b++)
            {
                gridX[b] = finite[b] ? sx[b] / sum[b] : nan;
                gridY[b] = finite[b] ? sy[b] / sum[b] : nan;
                // Finite inputs whose logits overflow float (|beta * c| > FLT_MAX): the
                // same formula in double for this column.
                if (finite[b] && (cvIsInf(mx[b]) || cvIsInf(scale[b])))
                    softArgmaxColumnInDouble(base + b, arg[b], norm[b], gridX[b], gridY[b]);
            }
        }
    }

    int tasks() const { return corr_.size[0] * blocksPerItem_; }

private:
    // One source position, straight from the formula of doc/onnx_ops.md in double; `norm` is
    // the column's normalisation factor (1 without normalisation).
    void softArgmaxColumnInDouble(const float* col, int argmax, float norm, float& gx, float& gy) const
    {
        const int Mt = Ht_ * Wt_, ax = argmax % Wt_, ay = argmax / Wt_;
        const bool windowed = sigma_ > 0.f;
        auto logit = [&](int j) {
            const int dx = j % Wt_ - ax, dy = j / Wt_ - ay;
            const double k = windowed ? std::exp(-(dx * dx + dy * dy) / (2.0 * sigma_ * sigma_)) : 1.0;
            return (double)beta_ * k * norm * col[(size_t)j * Ms_];
        };
        // Rounded and stored first, for the reason given in operator() (no FMA of the last
        // product with the subtraction of the maximum).
        std::vector<double> logits(Mt);
        double mx = -DBL_MAX;
        for (int j = 0; j < Mt; j++)
        {
            logits[j] = logit(j);
            mx = std::max(mx, logits[j]);
        }
        double sum = 0, sx = 0, sy = 0;
        for (int j = 0; j < Mt; j++)
        {
            const double e = std::exp(logits[j] - mx);
            sum += e;
            sx += e * xn_[j % Wt_];
            sy += e * yn_[j / Wt_];
        }
        gx = (float)(sx / sum);
        gy = (float)(sy / sum);
    }

    const Mat& corr_;
    Mat& grid_;
    int Ht_, Wt_;
    float beta_, sigma_;
    bool normalize_;
    int Ms_ = 0, blocksPerItem_ = 0;
    std::vector<float> xn_, yn_;
};

}  // namespace

void kernelSoftArgmaxForward(const Mat& corr, int Ht, int Wt, Mat& grid, float beta, float sigma,
                             bool normalize)
{
    CV_Assert(corr.isContinuous() && grid.isContinuous());
    KernelSoftArgmaxBody body(corr, grid, Ht, Wt, beta, sigma, normalize);
    parallel_for_(Range(0, body.tasks()), body);
}

}  // namespace detail
}  // namespace semflow
}  // namespace cv
