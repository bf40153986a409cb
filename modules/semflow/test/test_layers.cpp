// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The two semflow operators against naive loops over the formulas of doc/onnx_ops.md.

#include "test_precomp.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "opencv2/core/ocl.hpp"

#include "../src/layers_kernels.hpp"

namespace opencv_test { namespace {

Mat randomBlob(std::initializer_list<int> shape, RNG& rng, float lo = -1.f, float hi = 1.f)
{
    std::vector<int> s(shape);
    Mat m((int)s.size(), s.data(), CV_32F);
    rng.fill(m, RNG::UNIFORM, lo, hi);
    return m;
}

float at4(const Mat& m, int a, int b, int c, int d)
{
    const int idx[] = {a, b, c, d};
    return m.at<float>(idx);
}

// Naive correlation in double: three nested loops, normalisation written out.
Mat naiveCorrelation(const Mat& fs, const Mat& ft, bool normalize, bool relu)
{
    const int N = fs.size[0], C = fs.size[1], Hs = fs.size[2], Ws = fs.size[3];
    const int Ht = ft.size[2], Wt = ft.size[3];
    int shape[] = {N, Ht * Wt, Hs, Ws};
    Mat out(4, shape, CV_32F);
    for (int n = 0; n < N; n++)
        for (int yt = 0; yt < Ht; yt++)
            for (int xt = 0; xt < Wt; xt++)
                for (int ys = 0; ys < Hs; ys++)
                    for (int xs = 0; xs < Ws; xs++)
                    {
                        double dot = 0, ns = 0, nt = 0;
                        for (int c = 0; c < C; c++)
                        {
                            double a = at4(fs, n, c, ys, xs), b = at4(ft, n, c, yt, xt);
                            dot += a * b;
                            ns += a * a;
                            nt += b * b;
                        }
                        if (normalize)
                            dot /= std::sqrt(ns + 1e-6) * std::sqrt(nt + 1e-6);
                        if (relu)
                            dot = std::max(dot, 0.0);
                        const int idx[] = {n, yt * Wt + xt, ys, xs};
                        out.at<float>(idx) = (float)dot;
                    }
    return out;
}

// Naive kernel soft argmax in double: full 2-D Gaussian, explicit softmax.
Mat naiveKernelSoftArgmax(const Mat& corr, int Ht, int Wt, double beta, double sigma, bool normalize)
{
    const int N = corr.size[0], Hs = corr.size[2], Ws = corr.size[3], Mt = Ht * Wt;
    int shape[] = {N, 2, Hs, Ws};
    Mat grid(4, shape, CV_32F);
    auto xnorm = [&](int x) { return Wt > 1 ? -1.0 + 2.0 * x / (Wt - 1) : 0.0; };
    auto ynorm = [&](int y) { return Ht > 1 ? -1.0 + 2.0 * y / (Ht - 1) : 0.0; };
    for (int n = 0; n < N; n++)
        for (int ys = 0; ys < Hs; ys++)
            for (int xs = 0; xs < Ws; xs++)
            {
                std::vector<double> c(Mt);
                double ss = 0;
                for (int j = 0; j < Mt; j++)
                {
                    c[j] = at4(corr, n, j, ys, xs);
                    ss += c[j] * c[j];
                }
                if (normalize)
                    for (double& v : c)
                        v /= std::sqrt(ss + 1e-6);
                int best = 0;
                for (int j = 1; j < Mt; j++)
                    if (c[j] > c[best])
                        best = j;
                double gx, gy;
                if (beta <= 0)
                {
                    gx = xnorm(best % Wt);
                    gy = ynorm(best / Wt);
                }
                else
                {
                    std::vector<double> logit(Mt);
                    for (int j = 0; j < Mt; j++)
                    {
                        double dx = j % Wt - best % Wt, dy = j / Wt - best / Wt;
                        double k = sigma > 0 ? std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) : 1.0;
                        logit[j] = beta * k * c[j];
                    }
                    double mx = *std::max_element(logit.begin(), logit.end()), sum = 0;
                    gx = gy = 0;
                    for (int j = 0; j < Mt; j++)
                    {
                        double e = std::exp(logit[j] - mx);
                        sum += e;
                        gx += e * xnorm(j % Wt);
                        gy += e * ynorm(j / Wt);
                    }
                    gx /= sum;
                    gy /= sum;
                }
                const int ix[] = {n, 0, ys, xs}, iy[] = {n, 1, ys, xs};
                grid.at<float>(ix) = (float)gx;
                grid.at<float>(iy) = (float)gy;
            }
    return grid;
}

double maxAbsDiff(const Mat& a, const Mat& b)
{
    EXPECT_EQ(dnn::shape(a), dnn::shape(b));
    return cv::norm(a, b, NORM_INF);
}

struct Shapes
{
    int N, C, Hs, Ws, Ht, Wt;
};

// Batch 2, non-square and unequal source/target grids, 1xK and Kx1 grids, C from 3 to 256.
const Shapes kShapes[] = {
    {2, 7, 3, 5, 4, 2}, {1, 64, 8, 8, 6, 10}, {2, 3, 1, 1, 5, 5},
    {2, 256, 5, 7, 7, 5}, {1, 16, 1, 9, 9, 1}, {3, 33, 4, 4, 4, 4},
};

TEST(Semflow_Correlation, matches_naive_reference)
{
    RNG rng(1234);
    for (const Shapes& s : kShapes)
        for (int mode = 0; mode < 4; mode++)
        {
            const bool normalize = mode & 1, relu = mode & 2;
            Mat fs = randomBlob({s.N, s.C, s.Hs, s.Ws}, rng);
            Mat ft = randomBlob({s.N, s.C, s.Ht, s.Wt}, rng);
            Mat out;
            semflow::correlation(fs, ft, out, normalize, relu);
            Mat ref = naiveCorrelation(fs, ft, normalize, relu);
            // Normalised values are cosines in [-1, 1]; raw dot products grow with C.
            const double tol = normalize ? 1e-5 : 1e-5 * s.C;
            EXPECT_LE(maxAbsDiff(out, ref), tol)
                << "N=" << s.N << " C=" << s.C << " src " << s.Hs << "x" << s.Ws << " tgt "
                << s.Ht << "x" << s.Wt << " normalize=" << normalize << " relu=" << relu;
        }
}

// The correlation's own GEMM kernel (what OpenCV builds without a BLAS run, the pip wheels
// and the in-tree build among them) against a naive loop in double, whichever kernel this
// build's correlation uses: row counts around its block of 6, column counts around its pairs
// of SIMD vectors (4 to 16 lanes), K = 0, 1 and SFNet's 112 and 320, and a 20x20 grid.
TEST(Semflow_Correlation, own_gemm_kernel_matches_naive_product)
{
    RNG rng(77);
    struct Case { int K, M, N; };
    for (const Case& c : {Case{0, 7, 9}, Case{1, 1, 1}, Case{3, 6, 16}, Case{5, 7, 33}, Case{8, 13, 31},
                          Case{112, 400, 400}, Case{320, 23, 65}, Case{17, 5, 64}, Case{2, 12, 8}})
    {
        Mat t(std::max(c.K, 1), c.M, CV_32F), s(std::max(c.K, 1), c.N, CV_32F);
        rng.fill(t, RNG::UNIFORM, -1.f, 1.f);
        rng.fill(s, RNG::UNIFORM, -1.f, 1.f);
        Mat out(c.M, c.N, CV_32F, Scalar(12345.f));  // every element must be written
        semflow::detail::gemmTransposedA(t.ptr<float>(), s.ptr<float>(), c.K, c.M, c.N, out.ptr<float>());
        double worst = 0;
        for (int j = 0; j < c.M; j++)
            for (int i = 0; i < c.N; i++)
            {
                double ref = 0;
                for (int k = 0; k < c.K; k++)
                    ref += (double)t.at<float>(k, j) * s.at<float>(k, i);
                worst = std::max(worst, std::abs(out.at<float>(j, i) - ref));
            }
        // float sums of K products of values in [-1, 1]: a few ulp of sqrt(K)-sized sums.
        EXPECT_LE(worst, 1e-6 * std::max(c.K, 1)) << "K=" << c.K << " M=" << c.M << " N=" << c.N;
    }
    std::printf("[ kernel   ] the correlation uses %s\n", semflow::detail::correlationUsesBlas()
                    ? "cv::gemm (this OpenCV has an external BLAS)" : "gemmTransposedA (this OpenCV has no external BLAS)");
}

TEST(Semflow_Correlation, zero_feature_vector_gives_zero_rows)
{
    RNG rng(7);
    Mat fs = randomBlob({1, 8, 2, 3}, rng), ft = randomBlob({1, 8, 2, 2}, rng);
    for (int c = 0; c < 8; c++)
    {
        const int idx[] = {0, c, 1, 1};
        ft.at<float>(idx) = 0.f;  // target position j = 3 is all zero
    }
    Mat out;
    semflow::correlation(fs, ft, out, true, false);
    for (int i = 0; i < 6; i++)
        EXPECT_EQ(at4(out, 0, 3, i / 3, i % 3), 0.f);
    EXPECT_TRUE(cv::checkRange(out));
}

TEST(Semflow_Correlation, output_aliasing_an_input_is_computed_correctly)
{
    // C == Ht*Wt: correlation(a, b, a) reuses a's buffer for the output; every mode must
    // still give what a separate output gets (the naive loop on the original values).
    RNG rng(21);
    for (int mode = 0; mode < 4; mode++)
    {
        const bool normalize = mode & 1, relu = mode & 2;
        const Mat fs = randomBlob({2, 6, 2, 3}, rng, 0.f, 1.f), ft = randomBlob({2, 6, 3, 2}, rng, 0.f, 1.f);
        const Mat ref = naiveCorrelation(fs, ft, normalize, relu);
        Mat a = fs.clone();
        const uchar* buffer = a.data;
        semflow::correlation(a, ft, a, normalize, relu);
        EXPECT_EQ(a.data, buffer) << "the output is the caller's buffer";
        EXPECT_LE(maxAbsDiff(a, ref), 1e-5) << "source aliased, normalize=" << normalize << " relu=" << relu;

        // Target aliased: same grids on both sides, so the output shape is the target's.
        const Mat gs = randomBlob({1, 4, 2, 2}, rng, 0.f, 1.f), gt = randomBlob({1, 4, 2, 2}, rng, 0.f, 1.f);
        Mat b = gt.clone();
        semflow::correlation(gs, b, b, normalize, relu);
        EXPECT_LE(maxAbsDiff(b, naiveCorrelation(gs, gt, normalize, relu)), 1e-5)
            << "target aliased, normalize=" << normalize << " relu=" << relu;
    }
}

TEST(Semflow_KernelSoftArgmax, output_aliasing_the_input_is_computed_correctly)
{
    // A 2-cell target grid makes the grid [N, 2, Hs, Ws] the shape of the correlation. (The
    // kernel happened to read each block before writing it; this pins the behaviour down.)
    RNG rng(22);
    const Mat corr = randomBlob({2, 2, 3, 70}, rng, 0.f, 1.f);
    const Mat ref = naiveKernelSoftArgmax(corr, 1, 2, 10, 1, true);
    Mat c = corr.clone();
    semflow::kernelSoftArgmax(c, Size(2, 1), c, 10.f, 1.f, true);
    EXPECT_LE(maxAbsDiff(c, ref), 1e-5);
}

TEST(Semflow_KernelSoftArgmax, non_finite_beta_or_sigma_is_rejected)
{
    // As the layer does for its attributes: inf would otherwise give a plausible-looking
    // coordinate, NaN the hard argmax or no window without a word.
    RNG rng(23);
    const Mat corr = randomBlob({1, 6, 2, 2}, rng, 0.f, 1.f);
    Mat grid;
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(3, 2), grid, inf, 5.f), "must be finite, got inf");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(3, 2), grid, -inf, 5.f), "must be finite");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(3, 2), grid, nan, 5.f), "must be finite");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(3, 2), grid, 50.f, inf), "must be finite");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(3, 2), grid, 50.f, nan), "must be finite");
}

TEST(Semflow_KernelSoftArgmax, large_finite_values_are_not_nan)
{
    // Squares of values above ~1.8e19 overflow float: neither the non-finite check nor the
    // column norm may depend on them.
    RNG rng(24);
    const Mat corr = randomBlob({2, 20, 3, 4}, rng, 3e19f, 6e19f);
    for (bool normalize : {false, true})
    {
        Mat grid;
        semflow::kernelSoftArgmax(corr, Size(5, 4), grid, 50.f, 5.f, normalize);
        EXPECT_TRUE(cv::checkRange(grid)) << "normalize=" << normalize;
        EXPECT_LE(maxAbsDiff(grid, naiveKernelSoftArgmax(corr, 4, 5, 50, 5, normalize)), 1e-5)
            << "normalize=" << normalize;
    }
    // Normalised, the answer does not depend on the scale: the same as the values / 1e19.
    Mat small = corr / 1e19, a, b;
    semflow::kernelSoftArgmax(corr, Size(5, 4), a);
    semflow::kernelSoftArgmax(small, Size(5, 4), b);
    EXPECT_LE(maxAbsDiff(a, b), 1e-5);
    // Logits beyond float's range (beta * c > FLT_MAX): the limit, still no NaN.
    const Mat huge = randomBlob({1, 20, 2, 2}, rng, 1e37f, 3e38f);
    Mat g;
    semflow::kernelSoftArgmax(huge, Size(5, 4), g, 50.f, 5.f, false);
    EXPECT_TRUE(cv::checkRange(g));
    EXPECT_LE(maxAbsDiff(g, naiveKernelSoftArgmax(huge, 4, 5, 50, 5, false)), 1e-5);
}

TEST(Semflow_KernelSoftArgmax, matches_naive_reference)
{
    RNG rng(99);
    struct Params { float beta, sigma; bool normalize; };
    const Params params[] = {{50, 5, true}, {10, 2, true}, {50, 5, false}, {3, 0, true}, {0, 5, true}, {-1, 5, false}};
    for (const Shapes& s : kShapes)
        for (const Params& p : params)
        {
            // Correlation-like values: mostly small, non-negative.
            Mat corr = randomBlob({s.N, s.Ht * s.Wt, s.Hs, s.Ws}, rng, 0.f, 1.f);
            Mat grid;
            semflow::kernelSoftArgmax(corr, Size(s.Wt, s.Ht), grid, p.beta, p.sigma, p.normalize);
            Mat ref = naiveKernelSoftArgmax(corr, s.Ht, s.Wt, p.beta, p.sigma, p.normalize);
            EXPECT_LE(maxAbsDiff(grid, ref), 1e-5)
                << "N=" << s.N << " src " << s.Hs << "x" << s.Ws << " tgt " << s.Ht << "x" << s.Wt
                << " beta=" << p.beta << " sigma=" << p.sigma << " normalize=" << p.normalize;
        }
}

TEST(Semflow_KernelSoftArgmax, matches_reference_with_negative_and_large_values)
{
    // Without normalisation and with values of both signs, the max-logit shift matters.
    RNG rng(5);
    Mat corr = randomBlob({2, 30, 4, 3}, rng, -20.f, 20.f);
    Mat grid;
    semflow::kernelSoftArgmax(corr, Size(6, 5), grid, 50.f, 5.f, false);
    EXPECT_TRUE(cv::checkRange(grid));
    EXPECT_LE(maxAbsDiff(grid, naiveKernelSoftArgmax(corr, 5, 6, 50, 5, false)), 1e-5);
}

TEST(Semflow_KernelSoftArgmax, one_hot_gives_exact_target_coordinate)
{
    const int Ht = 4, Wt = 7, Hs = 3, Ws = 5;
    Mat corr(std::vector<int>{1, Ht * Wt, Hs, Ws}, CV_32F, Scalar(0));
    for (int i = 0; i < Hs * Ws; i++)
    {
        const int j = (i * 11 + 3) % (Ht * Wt);
        const int idx[] = {0, j, i / Ws, i % Ws};
        corr.at<float>(idx) = 1.f;
    }
    Mat grid;
    semflow::kernelSoftArgmax(corr, Size(Wt, Ht), grid);
    for (int i = 0; i < Hs * Ws; i++)
    {
        const int j = (i * 11 + 3) % (Ht * Wt);
        // Hand-computed: xnorm = -1 + 2x/(Wt-1), ynorm = -1 + 2y/(Ht-1).
        EXPECT_NEAR(at4(grid, 0, 0, i / Ws, i % Ws), -1.0 + 2.0 * (j % Wt) / 6.0, 1e-6) << i;
        EXPECT_NEAR(at4(grid, 0, 1, i / Ws, i % Ws), -1.0 + 2.0 * (j / Wt) / 3.0, 1e-6) << i;
    }
}

TEST(Semflow_KernelSoftArgmax, identical_features_give_identity_grid)
{
    RNG rng(3);
    const int H = 6, W = 9;
    Mat f = randomBlob({2, 256, H, W}, rng);
    Mat corr, grid;
    semflow::correlation(f, f, corr);
    semflow::kernelSoftArgmax(corr, Size(W, H), grid);
    for (int n = 0; n < 2; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                EXPECT_NEAR(at4(grid, n, 0, y, x), -1.0 + 2.0 * x / (W - 1), 1e-5);
                EXPECT_NEAR(at4(grid, n, 1, y, x), -1.0 + 2.0 * y / (H - 1), 1e-5);
            }
}

TEST(Semflow_KernelSoftArgmax, large_beta_tends_to_hard_argmax)
{
    RNG rng(11);
    const int Ht = 5, Wt = 6;
    Mat corr = randomBlob({2, Ht * Wt, 4, 4}, rng, 0.f, 0.5f);
    // Give every source position a clear winner so the limit is well defined.
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 16; i++)
        {
            const int idx[] = {n, rng.uniform(0, Ht * Wt), i / 4, i % 4};
            corr.at<float>(idx) += 0.6f;
        }
    Mat hard;
    semflow::kernelSoftArgmax(corr, Size(Wt, Ht), hard, 0.f);
    double prev = 1e9;
    for (float beta : {10.f, 100.f, 1000.f, 1e5f})
    {
        Mat soft;
        semflow::kernelSoftArgmax(corr, Size(Wt, Ht), soft, beta);
        const double err = maxAbsDiff(soft, hard);
        if (beta == 10.f)
        {
            EXPECT_GT(err, 1e-2) << "at small beta the soft and hard answers must differ";
        }
        EXPECT_LE(err, prev) << "beta=" << beta;
        prev = err;
    }
    EXPECT_LT(prev, 1e-6);
}

TEST(Semflow_KernelSoftArgmax, ties_pick_first_index_and_zero_columns_are_defined)
{
    const int Ht = 3, Wt = 3;
    Mat corr(std::vector<int>{1, 9, 1, 2}, CV_32F, Scalar(0));
    // Source 0: equal maxima at j = 2 and j = 7; source 1: an all-zero column.
    corr.at<float>(std::vector<int>{0, 2, 0, 0}.data()) = 0.8f;
    corr.at<float>(std::vector<int>{0, 7, 0, 0}.data()) = 0.8f;
    Mat hard, soft;
    semflow::kernelSoftArgmax(corr, Size(Wt, Ht), hard, 0.f);
    EXPECT_FLOAT_EQ(at4(hard, 0, 0, 0, 0), 1.f);   // j = 2 -> (x=2, y=0)
    EXPECT_FLOAT_EQ(at4(hard, 0, 1, 0, 0), -1.f);
    EXPECT_FLOAT_EQ(at4(hard, 0, 0, 0, 1), -1.f);  // zero column: j* = 0
    EXPECT_FLOAT_EQ(at4(hard, 0, 1, 0, 1), -1.f);
    semflow::kernelSoftArgmax(corr, Size(Wt, Ht), soft);
    EXPECT_NEAR(at4(soft, 0, 0, 0, 1), 0.f, 1e-6);  // zero column: uniform weights -> centroid
    EXPECT_NEAR(at4(soft, 0, 1, 0, 1), 0.f, 1e-6);
}

TEST(Semflow_KernelSoftArgmax, nan_propagates)
{
    RNG rng(2);
    Mat corr = randomBlob({1, 4, 1, 2}, rng, 0.f, 1.f);
    corr.at<float>(std::vector<int>{0, 1, 0, 1}.data()) = std::numeric_limits<float>::quiet_NaN();
    Mat grid;
    semflow::kernelSoftArgmax(corr, Size(2, 2), grid);
    EXPECT_TRUE(cvIsNaN(at4(grid, 0, 0, 0, 1)));
    EXPECT_FALSE(cvIsNaN(at4(grid, 0, 0, 0, 0)));
}

TEST(Semflow_Layers, bad_inputs_raise_clear_errors)
{
    RNG rng(0);
    Mat a = randomBlob({1, 8, 3, 3}, rng), out;
    SEMFLOW_EXPECT_THROW_MSG(semflow::correlation(a, randomBlob({1, 6, 3, 3}, rng), out),
                             "same channel count, got 8 and 6");
    SEMFLOW_EXPECT_THROW_MSG(semflow::correlation(a, randomBlob({2, 8, 3, 3}, rng), out),
                             "batch sizes differ (1 vs 2)");
    SEMFLOW_EXPECT_THROW_MSG(semflow::correlation(a, randomBlob({8, 3, 3}, rng), out),
                             "expected two 4-D feature blobs");
    SEMFLOW_EXPECT_THROW_MSG(semflow::correlation(Mat(), a, out), "source features is empty");
    Mat a64;
    a.convertTo(a64, CV_64F);
    SEMFLOW_EXPECT_THROW_MSG(semflow::correlation(a, a64, out), "must be CV_32F, got CV_64FC1");

    Mat corr = randomBlob({1, 12, 2, 2}, rng, 0.f, 1.f);
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(5, 2), out),
                             "has 12 channels but the target grid is 2x5");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(corr, Size(0, 2), out), "must be positive");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(randomBlob({12, 2, 2}, rng), Size(4, 3), out),
                             "expected a 4-D correlation blob");
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(Mat(), Size(4, 3), out), "correlation is empty");
}

TEST(Semflow_Layers, register_is_idempotent_and_thread_safe)
{
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; t++)
        threads.emplace_back([] { semflow::registerLayers(); });
    for (auto& th : threads)
        th.join();
    EXPECT_NO_THROW(semflow::registerLayers());
    dnn::LayerParams lp;
    lp.name = "corr";
    lp.type = "org.opencv.semflow.Correlation";
    EXPECT_FALSE(dnn::LayerFactory::createLayerInstance(lp.type, lp).empty());
    lp.type = "org.opencv.semflow.KernelSoftArgmax";
    EXPECT_FALSE(dnn::LayerFactory::createLayerInstance(lp.type, lp).empty());
}

// org.opencv.semflow.ConstantClip, the ReLU6 of the EfficientNet-Lite graphs, is OpenCV's own
// clamp layer, which the convolution before it absorbs. A hand-built Net: a 3x3 convolution,
// then ConstantClip(-0.5, 0.75), against a naive loop of both.
TEST(Semflow_Layers, constant_clip_clamps_and_is_fused_into_the_convolution)
{
    semflow::registerLayers();
    RNG rng(21);
    const int C = 3, K = 4, H = 7, W = 9;
    const float lo = -0.5f, hi = 0.75f;
    Mat weights = randomBlob({K, C, 3, 3}, rng), bias = randomBlob({1, K}, rng);
    dnn::LayerParams conv;
    conv.set("kernel_size", 3);
    conv.set("pad", 1);
    conv.set("num_output", K);
    conv.set("bias_term", true);
    conv.blobs = {weights, bias};
    dnn::Net net;
    const int convId = net.addLayerToPrev("conv", "Convolution", conv);
    dnn::LayerParams clip;
    clip.set("min", lo);
    clip.set("max", hi);
    const int clipId = net.addLayerToPrev("clip", "org.opencv.semflow.ConstantClip", clip);
    net.setPreferableBackend(dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(dnn::DNN_TARGET_CPU);
    const Mat input = randomBlob({1, C, H, W}, rng);
    net.setInput(input);
    const Mat out = net.forward();
    ASSERT_EQ(out.dims, 4);
    ASSERT_EQ(out.size[1], K);

    double worst = 0;
    int clamped = 0;
    for (int k = 0; k < K; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                double sum = bias.at<float>(k);
                for (int c = 0; c < C; c++)
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            if (y + dy < 0 || y + dy >= H || x + dx < 0 || x + dx >= W)
                                continue;
                            const int wi[4] = {k, c, dy + 1, dx + 1}, ii[4] = {0, c, y + dy, x + dx};
                            sum += (double)weights.at<float>(wi) * input.at<float>(ii);
                        }
                const double expected = std::min(std::max(sum, (double)lo), (double)hi);
                clamped += expected == lo || expected == hi;
                const int oi[4] = {0, k, y, x};
                worst = std::max(worst, std::abs(out.at<float>(oi) - expected));
            }
    EXPECT_LE(worst, 1e-5);
    EXPECT_GT(clamped, K * H * W / 4) << "the case must exercise both bounds";

    // Fused: the clamp runs inside the convolution, so the Net skips its own layer, whose
    // profile entry (indexed from layer 1) stays exactly 0.
    std::vector<double> timings;
    net.getPerfProfile(timings);
    ASSERT_GE((int)timings.size(), clipId);
    EXPECT_GT(timings[convId - 1], 0.0);
    EXPECT_EQ(timings[clipId - 1], 0.0) << "ConstantClip was not fused into the convolution";
}

TEST(Semflow_Layers, constant_clip_needs_ordered_bounds)
{
    semflow::registerLayers();
    dnn::LayerParams lp;
    lp.name = "clip";
    lp.type = "org.opencv.semflow.ConstantClip";
    SEMFLOW_EXPECT_THROW_MSG(dnn::LayerFactory::createLayerInstance(lp.type, lp), "'min' and 'max'");
    lp.set("min", 0.f);
    SEMFLOW_EXPECT_THROW_MSG(dnn::LayerFactory::createLayerInstance(lp.type, lp), "'min' and 'max'");
    lp.set("max", -1.f);
    SEMFLOW_EXPECT_THROW_MSG(dnn::LayerFactory::createLayerInstance(lp.type, lp), "min <= max");
    lp.set("max", std::numeric_limits<float>::quiet_NaN());
    SEMFLOW_EXPECT_THROW_MSG(dnn::LayerFactory::createLayerInstance(lp.type, lp), "min <= max");
    lp.set("max", 6.f);
    EXPECT_FALSE(dnn::LayerFactory::createLayerInstance(lp.type, lp).empty());
}

// The layers compute in FP32: an output blob of another type (what an int8 network could hand
// them) is refused with a message instead of being written through a float pointer.
TEST(Semflow_Layers, a_non_float_output_blob_is_refused)
{
    semflow::registerLayers();
    RNG rng(5);
    dnn::LayerParams lp;
    lp.name = "corr";
    lp.type = "org.opencv.semflow.Correlation";
    Ptr<dnn::Layer> corr = dnn::LayerFactory::createLayerInstance(lp.type, lp);
    ASSERT_FALSE(corr.empty());
    std::vector<Mat> in = {randomBlob({1, 4, 3, 3}, rng), randomBlob({1, 4, 3, 3}, rng)};
    const int outShape[4] = {1, 9, 3, 3};
    std::vector<Mat> out = {Mat(4, outShape, CV_8S, Scalar(0))}, internals;
    SEMFLOW_EXPECT_THROW_MSG(corr->forward(in, out, internals), "CV_8SC1 output blob");
    out[0] = Mat(4, outShape, CV_32F, Scalar(0));
    EXPECT_NO_THROW(corr->forward(in, out, internals));

    lp.name = "ksa";
    lp.type = "org.opencv.semflow.KernelSoftArgmax";
    Ptr<dnn::Layer> ksa = dnn::LayerFactory::createLayerInstance(lp.type, lp);
    const int gridShape[4] = {1, 2, 3, 3};
    std::vector<Mat> g = {Mat(4, gridShape, CV_8S, Scalar(0))};
    std::vector<Mat> ksaIn = {out[0], in[1]};
    SEMFLOW_EXPECT_THROW_MSG(ksa->forward(ksaIn, g, internals), "compute in FP32 only");
}

// A cv::dnn::Net built by hand: source, target -> Correlation -> KernelSoftArgmax(corr, target).
dnn::Net makeNet(float beta, float sigma)
{
    semflow::registerLayers();
    dnn::Net net;
    net.setInputsNames({"source", "target"});
    dnn::LayerParams corrParams;
    const int corrId = net.addLayer("corr", "org.opencv.semflow.Correlation", corrParams);
    net.connect(0, 0, corrId, 0);
    net.connect(0, 1, corrId, 1);
    dnn::LayerParams ksaParams;
    ksaParams.set("beta", beta);
    ksaParams.set("sigma", sigma);
    const int ksaId = net.addLayer("ksa", "org.opencv.semflow.KernelSoftArgmax", ksaParams);
    net.connect(corrId, 0, ksaId, 0);
    net.connect(0, 1, ksaId, 1);
    return net;
}

TEST(Semflow_Layers, dnn_net_follows_input_size_changes_and_fp16_target_falls_back)
{
    dnn::Net net = makeNet(20.f, 3.f);
    RNG rng(21);
    const Shapes sizes[] = {{2, 16, 4, 6, 5, 3}, {1, 16, 7, 7, 7, 7}, {2, 16, 4, 6, 5, 3}};
    for (int target : {dnn::DNN_TARGET_CPU, dnn::DNN_TARGET_OPENCL_FP16})
    {
        net.setPreferableTarget(target);
        for (const Shapes& s : sizes)
        {
            Mat fs = randomBlob({s.N, s.C, s.Hs, s.Ws}, rng), ft = randomBlob({s.N, s.C, s.Ht, s.Wt}, rng);
            net.setInput(fs, "source");
            net.setInput(ft, "target");
            std::vector<Mat> outs;
            net.forward(outs, std::vector<String>{"corr", "ksa"});
            Mat ref = naiveKernelSoftArgmax(naiveCorrelation(fs, ft, true, true), s.Ht, s.Wt, 20, 3, true);
            // FP32 on CPU: 1e-5. FP16 runs only on an OpenCL GPU (grids lose ~1e-3); without
            // one OpenCV falls back to the CPU in FP32, and the tight bound applies.
            const bool fp16 = target == dnn::DNN_TARGET_OPENCL_FP16 && cv::ocl::useOpenCL() &&
                              cv::ocl::Device::getDefault().type() == cv::ocl::Device::TYPE_GPU;
            const double tol = fp16 ? 5e-3 : 1e-5;
            EXPECT_LE(maxAbsDiff(outs[0], naiveCorrelation(fs, ft, true, true)), tol);
            EXPECT_LE(maxAbsDiff(outs[1], ref), tol) << "target " << target;
        }
    }
}

TEST(Semflow_Layers, dnn_net_rejects_mismatched_channels)
{
    dnn::Net net = makeNet(50.f, 5.f);
    RNG rng(1);
    net.setInput(randomBlob({1, 16, 4, 4}, rng), "source");
    net.setInput(randomBlob({1, 8, 4, 4}, rng), "target");
    SEMFLOW_EXPECT_THROW_MSG(net.forward("ksa"), "same channel count, got 16 and 8");
}

}}  // namespace
