// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The LibTorch model: operators against naive loops over modules/semflow/doc/onnx_ops.md and against the
// OpenCV kernels, parameter layout against torchvision, gradients, checkpoints.

#include "backbones/resnet.hpp"
#include "model.hpp"
#include "test_util.hpp"

#include <opencv2/semflow.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>

namespace
{
using namespace sfnet;
using namespace sfnet_test;

// ---- naive references (double precision, straight from modules/semflow/doc/onnx_ops.md) ------------------

torch::Tensor naiveCorrelation(const torch::Tensor& fsIn, const torch::Tensor& ftIn, bool normalize,
                               bool relu)
{
    const torch::Tensor fs = fsIn.to(torch::kDouble), ft = ftIn.to(torch::kDouble);
    const int64_t n = fs.size(0), c = fs.size(1), hs = fs.size(2), ws = fs.size(3);
    const int64_t ht = ft.size(2), wt = ft.size(3);
    auto a = fs.accessor<double, 4>();
    auto b = ft.accessor<double, 4>();
    torch::Tensor out = torch::zeros({n, ht * wt, hs, ws}, torch::kDouble);
    auto o = out.accessor<double, 4>();
    for (int64_t k = 0; k < n; ++k)
        for (int64_t ys = 0; ys < hs; ++ys)
            for (int64_t xs = 0; xs < ws; ++xs)
                for (int64_t yt = 0; yt < ht; ++yt)
                    for (int64_t xt = 0; xt < wt; ++xt)
                    {
                        double dot = 0, ns = 0, nt = 0;
                        for (int64_t ch = 0; ch < c; ++ch)
                        {
                            dot += a[k][ch][ys][xs] * b[k][ch][yt][xt];
                            ns += a[k][ch][ys][xs] * a[k][ch][ys][xs];
                            nt += b[k][ch][yt][xt] * b[k][ch][yt][xt];
                        }
                        double v = normalize ? dot / (std::sqrt(ns + 1e-6) * std::sqrt(nt + 1e-6)) : dot;
                        if (relu)
                            v = std::max(v, 0.0);
                        o[k][yt * wt + xt][ys][xs] = v;
                    }
    return out;
}

torch::Tensor naiveKernelSoftArgmax(const torch::Tensor& corrIn, int64_t ht, int64_t wt, double beta,
                                    double sigma, bool normalize)
{
    const torch::Tensor corr = corrIn.to(torch::kDouble);
    const int64_t n = corr.size(0), hs = corr.size(2), ws = corr.size(3), J = ht * wt;
    auto c = corr.accessor<double, 4>();
    torch::Tensor out = torch::zeros({n, 2, hs, ws}, torch::kDouble);
    auto o = out.accessor<double, 4>();
    auto xnorm = [&](int64_t x) { return wt == 1 ? 0.0 : -1.0 + 2.0 * x / (wt - 1); };
    auto ynorm = [&](int64_t y) { return ht == 1 ? 0.0 : -1.0 + 2.0 * y / (ht - 1); };
    std::vector<double> v(J), logit(J);
    for (int64_t k = 0; k < n; ++k)
        for (int64_t ys = 0; ys < hs; ++ys)
            for (int64_t xs = 0; xs < ws; ++xs)
            {
                double ss = 0;
                for (int64_t j = 0; j < J; ++j)
                {
                    v[j] = c[k][j][ys][xs];
                    ss += v[j] * v[j];
                }
                if (normalize)
                    for (int64_t j = 0; j < J; ++j)
                        v[j] /= std::sqrt(ss + 1e-6);
                int64_t best = 0;
                for (int64_t j = 1; j < J; ++j)
                    if (v[j] > v[best])
                        best = j;
                const int64_t bx = best % wt, by = best / wt;
                if (beta <= 0)
                {
                    o[k][0][ys][xs] = xnorm(bx);
                    o[k][1][ys][xs] = ynorm(by);
                    continue;
                }
                double mx = -std::numeric_limits<double>::infinity();
                for (int64_t j = 0; j < J; ++j)
                {
                    const double dx = double(j % wt - bx), dy = double(j / wt - by);
                    const double kern = sigma > 0 ? std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) : 1.0;
                    logit[j] = beta * kern * v[j];
                    mx = std::max(mx, logit[j]);
                }
                double z = 0, gx = 0, gy = 0;
                for (int64_t j = 0; j < J; ++j)
                {
                    const double e = std::exp(logit[j] - mx);
                    z += e;
                    gx += e * xnorm(j % wt);
                    gy += e * ynorm(j / wt);
                }
                o[k][0][ys][xs] = gx / z;
                o[k][1][ys][xs] = gy / z;
            }
    return out;
}

// A correlation-like volume: non-negative, sparse-ish, with a clear peak per column.
torch::Tensor randomVolume(int64_t n, int64_t ht, int64_t wt, int64_t hs, int64_t ws)
{
    return torch::relu(torch::randn({n, ht * wt, hs, ws}) * 0.5 + 0.2);
}

// ---- operators ---------------------------------------------------------------------------

TEST(SfnetCorrelation, matchesNaiveLoop)
{
    torch::manual_seed(1);
    const torch::Tensor fs = torch::randn({2, 7, 3, 5}), ft = torch::randn({2, 7, 4, 2});
    for (bool normalize : {true, false})
        for (bool relu : {true, false})
        {
            const torch::Tensor got = correlation(fs, ft, normalize, relu);
            ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 8, 3, 5}));
            EXPECT_LE(maxAbsDiff(got, naiveCorrelation(fs, ft, normalize, relu)), 2e-6)
                << "normalize " << normalize << " relu " << relu;
        }
}

TEST(SfnetCorrelation, zeroFeatureGivesZeroRow)
{
    torch::Tensor fs = torch::randn({1, 4, 2, 2}), ft = torch::randn({1, 4, 2, 3});
    fs.index_put_({0, torch::indexing::Slice(), 1, 0}, 0.0);
    const torch::Tensor c = correlation(fs, ft);
    EXPECT_EQ(c.index({0, torch::indexing::Slice(), 1, 0}).abs().max().item<float>(), 0.f);
    EXPECT_TRUE(torch::isfinite(c).all().item<bool>());
}

TEST(SfnetCorrelation, rejectsMismatchedInputs)
{
    EXPECT_THROW(correlation(torch::zeros({1, 4, 2, 2}), torch::zeros({1, 5, 2, 2})), std::runtime_error);
    EXPECT_THROW(correlation(torch::zeros({2, 4, 2, 2}), torch::zeros({1, 4, 2, 2})), std::runtime_error);
    EXPECT_THROW(correlation(torch::zeros({4, 2, 2}), torch::zeros({4, 2, 2})), std::runtime_error);
}

TEST(SfnetCorrelation, agreesWithOpenCV)
{
    torch::manual_seed(2);
    const torch::Tensor fs = torch::randn({2, 16, 5, 6}), ft = torch::randn({2, 16, 4, 7});
    cv::Mat out;
    cv::semflow::correlation(toBlob(fs), toBlob(ft), out);
    EXPECT_LE(maxAbsDiff(correlation(fs, ft), fromBlob(out)), 1e-6);
}

TEST(SfnetKernelSoftArgmax, matchesNaiveLoop)
{
    torch::manual_seed(3);
    const int64_t ht = 5, wt = 7;
    const torch::Tensor corr = randomVolume(2, ht, wt, 4, 3);
    struct Case { double beta, sigma; bool normalize; };
    for (const Case& k : {Case{50, 5, true}, Case{50, 1.5, true}, Case{10, 5, false},
                          Case{50, 0, true}, Case{0, 5, true}, Case{-1, 5, false}})
    {
        const torch::Tensor got = kernelSoftArgmax(corr, ht, wt, k.beta, k.sigma, k.normalize);
        ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 2, 4, 3}));
        EXPECT_LE(maxAbsDiff(got, naiveKernelSoftArgmax(corr, ht, wt, k.beta, k.sigma, k.normalize)), 2e-6)
            << "beta " << k.beta << " sigma " << k.sigma << " normalize " << k.normalize;
    }
}

TEST(SfnetKernelSoftArgmax, handComputedCases)
{
    // One column with a single positive entry at (x=2, y=1) of a 3x4 target grid.
    torch::Tensor corr = torch::zeros({1, 12, 1, 2});
    corr.index_put_({0, 1 * 4 + 2, 0, 0}, 1.0);
    // Second column all zero: uniform softmax -> centroid (0, 0); hard argmax -> j = 0 -> (-1, -1).
    const torch::Tensor hard = kernelSoftArgmax(corr, 3, 4, 0.0, 5.0);
    EXPECT_NEAR(hard[0][0][0][0].item<float>(), -1.0 + 2.0 * 2 / 3, 1e-7);
    EXPECT_NEAR(hard[0][1][0][0].item<float>(), 0.0, 1e-7);
    EXPECT_EQ(hard[0][0][0][1].item<float>(), -1.f);
    EXPECT_EQ(hard[0][1][0][1].item<float>(), -1.f);
    const torch::Tensor soft = kernelSoftArgmax(corr, 3, 4, 1000.0, 5.0);
    EXPECT_NEAR(soft[0][0][0][0].item<float>(), 1.0 / 3.0, 1e-6);  // beta -> inf: the peak
    EXPECT_NEAR(soft[0][1][0][0].item<float>(), 0.0, 1e-6);
    EXPECT_NEAR(soft[0][0][0][1].item<float>(), 0.0, 1e-6);
    EXPECT_NEAR(soft[0][1][0][1].item<float>(), 0.0, 1e-6);
    // beta = 1, no window: m(j) = e^{c_j}/Z with c = one-hot after normalisation.
    const double e = std::exp(1.0), z = e + 11.0;
    double ex = 0, ey = 0;
    for (int j = 0; j < 12; ++j)
    {
        const double w = (j == 6 ? e : 1.0) / z;
        ex += w * (-1.0 + 2.0 * (j % 4) / 3.0);
        ey += w * (-1.0 + 2.0 * (j / 4) / 2.0);
    }
    const torch::Tensor plain = kernelSoftArgmax(corr, 3, 4, 1.0, 0.0);
    EXPECT_NEAR(plain[0][0][0][0].item<float>(), ex, 1e-6);
    EXPECT_NEAR(plain[0][1][0][0].item<float>(), ey, 1e-6);
}

TEST(SfnetKernelSoftArgmax, tiesPickTheFirstIndex)
{
    torch::Tensor corr = torch::zeros({1, 6, 1, 1});
    corr.index_put_({0, 2, 0, 0}, 0.5);
    corr.index_put_({0, 4, 0, 0}, 0.5);
    const torch::Tensor g = kernelSoftArgmax(corr, 2, 3, 0.0, 5.0);
    EXPECT_EQ(g[0][0][0][0].item<float>(), 1.f);   // j = 2 -> x = 2 of 3
    EXPECT_EQ(g[0][1][0][0].item<float>(), -1.f);  // y = 0
}

TEST(SfnetKernelSoftArgmax, rejectsWrongTargetSize)
{
    EXPECT_THROW(kernelSoftArgmax(torch::zeros({1, 12, 2, 2}), 3, 5, 50, 5), std::runtime_error);
    EXPECT_THROW(kernelSoftArgmax(torch::zeros({12, 2, 2}), 3, 4, 50, 5), std::runtime_error);
}

TEST(SfnetKernelSoftArgmax, agreesWithOpenCV)
{
    torch::manual_seed(4);
    const int64_t ht = 6, wt = 5;
    const torch::Tensor corr = randomVolume(2, ht, wt, 7, 4);
    struct Case { float beta, sigma; bool normalize; };
    for (const Case& k : {Case{50, 5, true}, Case{50, 2, true}, Case{20, 0, false}, Case{0, 5, true}})
    {
        cv::Mat grid;
        cv::semflow::kernelSoftArgmax(toBlob(corr), cv::Size(int(wt), int(ht)), grid, k.beta, k.sigma,
                                      k.normalize);
        EXPECT_LE(maxAbsDiff(kernelSoftArgmax(corr, ht, wt, k.beta, k.sigma, k.normalize), fromBlob(grid)),
                  1e-5)
            << "beta " << k.beta << " sigma " << k.sigma;
    }
}

TEST(SfnetKernelSoftArgmax, isDifferentiable)
{
    torch::manual_seed(5);
    torch::Tensor corr = randomVolume(1, 4, 4, 3, 3).requires_grad_(true);
    kernelSoftArgmax(corr, 4, 4, 50, 5).pow(2).sum().backward();
    ASSERT_TRUE(corr.grad().defined());
    EXPECT_GT(corr.grad().abs().sum().item<double>(), 0.0);
    EXPECT_TRUE(torch::isfinite(corr.grad()).all().item<bool>());
}

// ---- model layout --------------------------------------------------------------------------

int64_t countParameters(torch::nn::Module& m)
{
    int64_t n = 0;
    for (const auto& p : m.parameters())
        n += p.numel();
    return n;
}

TEST(SfnetModel, backboneParameterCountsMatchTorchvision)
{
    // torchvision's published parameter counts minus the fc layer (2048*1000+1000 resp. 512*1000+1000).
    EXPECT_EQ(countParameters(*makeBackbone("resnet18")), 11689512 - 513000);
    EXPECT_EQ(countParameters(*makeBackbone("resnet50")), 25557032 - 2049000);
    EXPECT_EQ(countParameters(*makeBackbone("resnet101")), 44549160 - 2049000);
}

TEST(SfnetModel, parameterNamesFollowTorchvisionAndTheAuthors)
{
    ResNetBackbone resnet("resnet50");
    std::set<std::string> names;
    for (const auto& p : resnet.named_parameters())
        names.insert(p.key());
    for (const auto& b : resnet.named_buffers())
        names.insert(b.key());
    for (const char* key :
         {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight",
          "layer1.0.downsample.1.num_batches_tracked", "layer2.0.conv2.weight", "layer3.5.bn3.running_mean",
          "layer4.2.bn3.bias"})
        EXPECT_EQ(names.count(key), 1u) << key;
    EXPECT_EQ(names.count("fc.weight"), 0u);
    EXPECT_EQ(names.count("layer3.6.conv1.weight"), 0u);
    // Stride on conv2 (torchvision v1.5).
    EXPECT_EQ((*resnet.layers[1][0]->conv2->options.stride())[0], 2);
    EXPECT_EQ((*resnet.layers[1][0]->conv1->options.stride())[0], 1);

    ResNetBackbone resnet101("resnet101");
    auto buffers = resnet101.named_buffers();
    EXPECT_NE(buffers.find("layer3.22.bn2.running_var"), nullptr);
    EXPECT_EQ(buffers.find("layer3.23.bn2.running_var"), nullptr);
    EXPECT_EQ(resnet101.channels3(), 1024);
    EXPECT_EQ(resnet101.channels4(), 2048);
}

TEST(SfnetModel, fullNamesHaveTheBackboneAndAdaptationPrefixes)
{
    SFNet model(ModelConfig{"tiny"});
    std::set<std::string> names;
    for (const auto& p : model->named_parameters())
        names.insert(p.key());
    for (const auto& b : model->named_buffers())
        names.insert(b.key());
    for (const char* key :
         {"backbone.conv1.weight", "backbone.layer2.0.downsample.1.running_mean", "adap_layer_feat3.conv1.0.weight",
          "adap_layer_feat3.conv1.0.bias", "adap_layer_feat3.conv1.1.weight",
          "adap_layer_feat3.conv1.1.num_batches_tracked", "adap_layer_feat4.conv2.1.running_var"})
        EXPECT_EQ(names.count(key), 1u) << key;
    for (const std::string& n : names)
        EXPECT_TRUE(n.rfind("backbone.", 0) == 0 || n.rfind("adap_layer_feat3.conv", 0) == 0 ||
                    n.rfind("adap_layer_feat4.conv", 0) == 0)
            << n;
    // 5x5 adaptation on level 3, 3x3 on level 4, channels unchanged.
    const int64_t c3 = model->channels3(), c4 = model->channels4();
    EXPECT_EQ(model->named_parameters()["adap_layer_feat3.conv2.0.weight"].sizes(),
              (std::vector<int64_t>{c3, c3, 5, 5}));
    EXPECT_EQ(model->named_parameters()["adap_layer_feat4.conv1.0.weight"].sizes(),
              (std::vector<int64_t>{c4, c4, 3, 3}));
}

TEST(SfnetModel, unknownBackboneIsAnError)
{
    try
    {
        SFNet model(ModelConfig{"vgg16"});
        FAIL() << "expected an exception";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("resnet101"), std::string::npos) << e.what();
    }
}

TEST(SfnetModel, featureAndOutputShapes)
{
    torch::manual_seed(6);
    SFNet model(ModelConfig{"tiny"});
    model->eval();
    const torch::Tensor src = torch::rand({2, 3, 64, 96}), tgt = torch::rand({2, 3, 64, 96});
    auto f = model->features(src);
    EXPECT_EQ(f.first.sizes(), (std::vector<int64_t>{2, model->channels3(), 4, 6}));
    EXPECT_EQ(f.second.sizes(), (std::vector<int64_t>{2, model->channels4(), 4, 6}));
    auto out = model->forward(src, tgt);
    EXPECT_EQ(out.gridS2T.sizes(), (std::vector<int64_t>{2, 2, 4, 6}));
    EXPECT_EQ(out.gridT2S.sizes(), (std::vector<int64_t>{2, 2, 4, 6}));
    EXPECT_EQ(out.corrS2T.sizes(), (std::vector<int64_t>{2, 24, 4, 6}));
    // corrT2S is the correlation with the roles swapped.
    auto ft = model->features(tgt);
    const torch::Tensor expected = correlation(ft.first, f.first) * correlation(ft.second, f.second);
    EXPECT_LE(maxAbsDiff(out.corrT2S, expected), 1e-6);
    EXPECT_LE(out.gridS2T.abs().max().item<float>(), 1.f + 1e-6f);

    EXPECT_THROW(model->features(torch::rand({1, 3, 60, 64})), std::runtime_error);
    EXPECT_THROW(model->features(torch::rand({1, 1, 64, 64})), std::runtime_error);
    EXPECT_THROW(model->forward(src, torch::rand({2, 3, 64, 64})), std::runtime_error);
}

TEST(SfnetModel, identicalImagesMatchThemselvesUnderHardArgmax)
{
    // Cosine similarity peaks (at 1) only where a feature meets itself: the hard-argmax grid
    // of an image against itself is the identity grid.
    torch::manual_seed(7);
    SFNet model(ModelConfig{"tiny"});
    model->eval();
    const torch::Tensor img = torch::rand({1, 3, 96, 128});
    auto out = model->forward(img, img, /*hardArgmax=*/true);
    EXPECT_LE(maxAbsDiff(out.gridS2T, identityGrid(6, 8)), 1e-6);
    EXPECT_LE(maxAbsDiff(out.gridT2S, identityGrid(6, 8)), 1e-6);
}

TEST(SfnetModel, gradientsReachTheAdaptationLayersOnly)
{
    torch::manual_seed(8);
    SFNet model(ModelConfig{"tiny"});
    model->train();
    randomizeBatchNorm(*model);
    std::map<std::string, torch::Tensor> before;
    for (const auto& b : model->named_buffers())
        before[b.key()] = b.value().clone();

    auto out = model->forward(torch::rand({2, 3, 64, 64}), torch::rand({2, 3, 64, 64}));
    (out.gridS2T.pow(2).sum() + out.gridT2S.pow(2).sum()).backward();

    const auto adapt = model->adaptationParameters();
    EXPECT_EQ(adapt.size(), 16u);  // 2 layers x 2 steps x (conv w, b, bn w, b)
    for (const auto& p : model->named_parameters())
    {
        const bool isAdapt = p.key().rfind("adap_layer_feat", 0) == 0;
        if (isAdapt)
        {
            ASSERT_TRUE(p.value().grad().defined()) << p.key();
            EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
        }
        else
        {
            EXPECT_FALSE(p.value().requires_grad()) << p.key();
            EXPECT_FALSE(p.value().grad().defined()) << p.key();
        }
    }
    // In train mode the adaptation BatchNorms update their statistics, the backbone's do not.
    for (const auto& b : model->named_buffers())
    {
        const bool changed = !torch::equal(before[b.key()], b.value());
        if (b.key().rfind("backbone.", 0) == 0)
        {
            EXPECT_FALSE(changed) << b.key();
        }
        else if (b.key().find("running_mean") != std::string::npos)
        {
            EXPECT_TRUE(changed) << b.key();
        }
    }
    EXPECT_FALSE(model->backbone().is_training());
    EXPECT_TRUE(model->adaptation3()->is_training());
}

TEST(SfnetModel, backboneCanBeUnfrozen)
{
    SFNet model(ModelConfig{"tiny"});
    model->setBackboneTrainable(true);
    model->train();
    for (const auto& p : model->backboneParameters())
        EXPECT_TRUE(p.requires_grad());
    EXPECT_FALSE(backboneAs<ResNetBackbone>(model).bn1->is_training());
}

// ---- checkpoints ---------------------------------------------------------------------------

TEST(SfnetCheckpoint, roundTripKeepsEverything)
{
    torch::manual_seed(9);
    ModelConfig cfg;
    cfg.backbone = "tiny";
    cfg.beta = 30;
    cfg.sigma = 2.5;
    cfg.trainHeight = 160;
    cfg.trainWidth = 192;
    SFNet model(cfg);
    randomizeBatchNorm(*model);
    const std::string path = tempPath("roundtrip.pt");
    saveModel(model, path, [](torch::serialize::OutputArchive& ar) {
        ar.write("epoch", c10::IValue(int64_t(7)));
    });
    std::ifstream tmp(path + ".tmp");
    EXPECT_FALSE(tmp.good()) << "the temporary file must be renamed away";

    int64_t epoch = -1;
    SFNet loaded = loadModel(path, [&](torch::serialize::InputArchive& ar) {
        c10::IValue v;
        ar.read("epoch", v);
        epoch = v.toInt();
    });
    EXPECT_EQ(epoch, 7);
    EXPECT_EQ(loaded->config().backbone, "tiny");
    EXPECT_EQ(loaded->config().beta, 30);
    EXPECT_EQ(loaded->config().sigma, 2.5);
    EXPECT_EQ(loaded->config().trainHeight, 160);
    EXPECT_EQ(loaded->config().trainWidth, 192);
    auto a = model->named_parameters();
    auto b = loaded->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& p : a)
        EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
    auto ab = model->named_buffers();
    auto bb = loaded->named_buffers();
    for (const auto& p : ab)
        EXPECT_TRUE(torch::equal(p.value(), bb[p.key()])) << p.key();
    EXPECT_EQ(loadModelConfig(path).beta, 30);
    // Loaded models keep the training contract: frozen backbone.
    for (const auto& p : loaded->backboneParameters())
        EXPECT_FALSE(p.requires_grad());
    std::remove(path.c_str());
}

std::string readAll(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void writeAll(const std::string& path, const std::string& bytes)
{
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

void expectLoadError(const std::string& path, const std::string& needle)
{
    try
    {
        loadModel(path);
        FAIL() << "loading " << path << " should fail";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(SfnetCheckpoint, badFilesRaiseClearErrors)
{
    const std::string missing = tempPath("missing.pt");
    expectLoadError(missing, missing);

    SFNet model(ModelConfig{"tiny"});
    const std::string good = tempPath("good.pt");
    saveModel(model, good);
    const std::string bytes = readAll(good);

    const std::string truncated = tempPath("truncated.pt");
    writeAll(truncated, bytes.substr(0, bytes.size() / 2));
    expectLoadError(truncated, truncated);

    const std::string garbage = tempPath("garbage.pt");
    writeAll(garbage, std::string(4096, '\x5a'));
    expectLoadError(garbage, garbage);

    // A valid LibTorch archive that is not a semflow checkpoint.
    const std::string foreign = tempPath("foreign.pt");
    {
        torch::serialize::OutputArchive ar;
        ar.write("weight", torch::zeros({2}));
        ar.save_to(foreign);
    }
    expectLoadError(foreign, "not a semflow checkpoint");

    EXPECT_THROW(saveModel(model, "/nonexistent_dir_semflow/x.pt"), std::runtime_error);
    for (const std::string& p : {good, truncated, garbage, foreign})
        std::remove(p.c_str());
}

}  // namespace
