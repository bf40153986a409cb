// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "model.hpp"

#include <algorithm>
#include <cmath>
#include "atomic_file.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace sfnet
{
namespace
{
const double kEps = 1e-6;

struct BackboneSpec
{
    bool bottleneck;
    std::vector<int64_t> blocks;  // per layer1..layer4
    int64_t baseWidth;            // width of layer1; doubles per layer
};

BackboneSpec backboneSpec(const std::string& name)
{
    if (name == "resnet101")
        return {true, {3, 4, 23, 3}, 64};
    if (name == "resnet50")
        return {true, {3, 4, 6, 3}, 64};
    if (name == "resnet18")
        return {false, {2, 2, 2, 2}, 64};
    if (name == "tiny")
        return {false, {1, 1, 1, 1}, 16};
    std::string known;
    for (const std::string& k : knownBackbones())
        known += (known.empty() ? "" : ", ") + k;
    throw std::runtime_error("unknown backbone '" + name + "' (expected one of: " + known + ")");
}

torch::nn::Conv2d convNoBias(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad)
{
    return torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

// First line of a c10::Error message (the rest is a C++ backtrace nobody can act on).
std::string firstLine(const std::string& s)
{
    return s.substr(0, s.find('\n'));
}

std::string shapeString(at::IntArrayRef sizes)
{
    std::ostringstream os;
    os << sizes;
    return os.str();
}
}  // namespace

const std::vector<std::string>& knownBackbones()
{
    static const std::vector<std::string> names = {"resnet101",          "resnet50",
                                                   "resnet18",           "efficientnet_lite0",
                                                   "efficientnet_lite1", "efficientnet_lite2",
                                                   "tiny"};
    return names;
}

bool isEfficientNetLite(const std::string& backbone)
{
    return backbone == "efficientnet_lite0" || backbone == "efficientnet_lite1" ||
           backbone == "efficientnet_lite2";
}

InputNormalization inputNormalization(const std::string& backbone)
{
    if (isEfficientNetLite(backbone))
    {
        // efficientnet_lite_builder.py: MEAN_RGB = 127 (0.498 * 255), STDDEV_RGB = 128.
        const double m = 127.0 / 255.0, s = 128.0 / 255.0;
        return {{m, m, m}, {s, s, s}};
    }
    return {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
}

std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t k, int64_t s)
{
    const int64_t out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
    return {total / 2, total - total / 2};
}

// ---------------------------------------------------------------------------------------
// Backbone

ResidualBlockImpl::ResidualBlockImpl(int64_t inChannels, int64_t width, int64_t stride_,
                                     bool bottleneck_)
    : bottleneck(bottleneck_), stride(stride_)
{
    const int64_t outChannels = bottleneck ? width * 4 : width;
    if (bottleneck)
    {
        conv1 = register_module("conv1", convNoBias(inChannels, width, 1, 1, 0));
        bn1 = register_module("bn1", torch::nn::BatchNorm2d(width));
        conv2 = register_module("conv2", convNoBias(width, width, 3, stride, 1));
        bn2 = register_module("bn2", torch::nn::BatchNorm2d(width));
        conv3 = register_module("conv3", convNoBias(width, outChannels, 1, 1, 0));
        bn3 = register_module("bn3", torch::nn::BatchNorm2d(outChannels));
    }
    else
    {
        conv1 = register_module("conv1", convNoBias(inChannels, width, 3, stride, 1));
        bn1 = register_module("bn1", torch::nn::BatchNorm2d(width));
        conv2 = register_module("conv2", convNoBias(width, width, 3, 1, 1));
        bn2 = register_module("bn2", torch::nn::BatchNorm2d(width));
    }
    if (stride != 1 || inChannels != outChannels)
        downsample = register_module(
            "downsample", torch::nn::Sequential(convNoBias(inChannels, outChannels, 1, stride, 0),
                                                torch::nn::BatchNorm2d(outChannels)));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x)
{
    torch::Tensor out = torch::relu(bn1(conv1(x)));
    if (bottleneck)
    {
        out = torch::relu(bn2(conv2(out)));
        out = bn3(conv3(out));
    }
    else
    {
        out = bn2(conv2(out));
    }
    return torch::relu(out + (downsample ? downsample->forward(x) : x));
}

ResNetImpl::ResNetImpl(const std::string& name)
{
    const BackboneSpec spec = backboneSpec(name);
    const int64_t stem = spec.baseWidth;
    conv1 = register_module("conv1", convNoBias(3, stem, stemKernel, 2, stemKernel / 2));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(stem));
    int64_t in = stem;
    for (int l = 0; l < 4; ++l)
    {
        const int64_t width = spec.baseWidth << l;
        torch::nn::Sequential seq;
        std::vector<ResidualBlock> blocks;
        for (int64_t b = 0; b < spec.blocks[l]; ++b)
        {
            ResidualBlock block(in, width, (b == 0 && l > 0) ? 2 : 1, spec.bottleneck);
            in = spec.bottleneck ? width * 4 : width;
            seq->push_back(block);
            blocks.push_back(block);
        }
        register_module("layer" + std::to_string(l + 1), seq);
        layers.push_back(blocks);
        if (l == 2)
            channels3 = in;
    }
    channels4 = in;

    // torchvision's initialisation, so random-init models have sane activations.
    for (auto& m : modules(/*include_self=*/false))
    {
        if (auto* c = m->as<torch::nn::Conv2d>())
            torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
        else if (auto* bn = m->as<torch::nn::BatchNorm2d>())
        {
            torch::nn::init::ones_(bn->weight);
            torch::nn::init::zeros_(bn->bias);
        }
    }
}

std::pair<torch::Tensor, torch::Tensor> ResNetImpl::forward(const torch::Tensor& input)
{
    torch::Tensor x = torch::relu(bn1(conv1(input)));
    x = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    for (int l = 0; l < 3; ++l)
        for (auto& b : layers[l])
            x = b->forward(x);
    torch::Tensor f3 = x;
    for (auto& b : layers[3])
        x = b->forward(x);
    return {f3, x};
}

// ---------------------------------------------------------------------------------------
// EfficientNet-Lite

namespace
{
// One stage of efficientnet_lite_builder.py's block list (lite0 widths and repeats).
struct LiteStage
{
    int64_t repeats, kernel, stride, expand, outChannels;
};
const LiteStage kLiteStages[] = {{1, 3, 1, 1, 16},  {2, 3, 2, 6, 24},  {2, 5, 2, 6, 40},
                                 {3, 3, 2, 6, 80},  {3, 5, 1, 6, 112}, {4, 5, 2, 6, 192},
                                 {1, 3, 1, 6, 320}};
const int64_t kLiteStemChannels = 32;  // not scaled for the lite models ("fix_head_stem")

// round_filters of the reference code: scale, round to a multiple of 8, never lose > 10 %.
int64_t roundFilters(int64_t filters, double width)
{
    const double scaled = double(filters) * width;
    int64_t rounded = std::max<int64_t>(8, int64_t(scaled + 4.0) / 8 * 8);
    if (double(rounded) < 0.9 * scaled)
        rounded += 8;
    return rounded;
}

torch::nn::BatchNorm2d tfBatchNorm(int64_t channels)
{
    // TensorFlow's epsilon; the converted running statistics assume it.
    return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-3).momentum(0.01));
}

torch::nn::Conv2d tfConv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups)
{
    return torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(0).groups(groups).bias(false));
}

// TensorFlow "SAME" convolution: pad from the actual input size, then a valid convolution.
torch::Tensor sameConv(torch::nn::Conv2d& conv, const torch::Tensor& x)
{
    const int64_t k = conv->options.kernel_size()->at(0);
    const int64_t s = conv->options.stride()->at(0);
    const auto ph = samePadding(x.size(2), k, s), pw = samePadding(x.size(3), k, s);
    if (ph.first == 0 && ph.second == 0 && pw.first == 0 && pw.second == 0)
        return conv(x);
    return conv(torch::constant_pad_nd(x, {pw.first, pw.second, ph.first, ph.second}, 0.0));
}
}  // namespace

MBConvBlockImpl::MBConvBlockImpl(int64_t in, int64_t out, int64_t expandRatio, int64_t kernel_,
                                 int64_t stride_)
    : kernel(kernel_), stride(stride_), skip(stride_ == 1 && in == out)
{
    const int64_t mid = in * expandRatio;
    if (expandRatio != 1)
    {
        expandConv = register_module("_expand_conv", tfConv(in, mid, 1, 1, 1));
        bn0 = register_module("_bn0", tfBatchNorm(mid));
    }
    depthwiseConv = register_module("_depthwise_conv", tfConv(mid, mid, kernel, stride, mid));
    bn1 = register_module("_bn1", tfBatchNorm(mid));
    projectConv = register_module("_project_conv", tfConv(mid, out, 1, 1, 1));
    bn2 = register_module("_bn2", tfBatchNorm(out));
}

torch::Tensor MBConvBlockImpl::forward(const torch::Tensor& input)
{
    torch::Tensor x = input;
    if (expandConv)
        x = torch::clamp(bn0(expandConv(x)), 0.0, 6.0);
    x = torch::clamp(bn1(sameConv(depthwiseConv, x)), 0.0, 6.0);
    x = bn2(projectConv(x));
    return skip ? x + input : x;
}

EfficientNetLiteImpl::EfficientNetLiteImpl(const std::string& name)
{
    // efficientnet_lite_builder.py: (width, depth) coefficients.
    double width = 1.0, depth = 1.0;
    if (name == "efficientnet_lite1")
        depth = 1.1;
    else if (name == "efficientnet_lite2")
        width = 1.1, depth = 1.2;
    else if (name != "efficientnet_lite0")
        throw std::runtime_error("unknown EfficientNet-Lite backbone '" + name + "'");

    convStem = register_module("_conv_stem", tfConv(3, kLiteStemChannels, 3, 2, 1));
    bn0 = register_module("_bn0", tfBatchNorm(kLiteStemChannels));
    torch::nn::ModuleList list;
    const int64_t numStages = int64_t(sizeof(kLiteStages) / sizeof(kLiteStages[0]));
    int64_t in = kLiteStemChannels, strideSoFar = 2;
    for (int64_t i = 0; i < numStages; ++i)
    {
        const LiteStage& st = kLiteStages[i];
        const int64_t out = roundFilters(st.outChannels, width);
        // The first and last stages keep their depth in the lite models.
        const int64_t repeats =
            (i == 0 || i == numStages - 1) ? st.repeats : int64_t(std::ceil(depth * double(st.repeats)));
        for (int64_t r = 0; r < repeats; ++r)
        {
            MBConvBlock b(in, out, st.expand, st.kernel, r == 0 ? st.stride : 1);
            list->push_back(b);
            blocks.push_back(b);
            in = out;
        }
        strideSoFar *= st.stride;
        if (strideSoFar == 16)
        {
            level3Block = int64_t(blocks.size()) - 1;
            channels3 = out;
        }
    }
    channels4 = in;
    register_module("_blocks", list);
}

std::pair<torch::Tensor, torch::Tensor> EfficientNetLiteImpl::forward(const torch::Tensor& input)
{
    torch::Tensor x = torch::clamp(bn0(sameConv(convStem, input)), 0.0, 6.0);
    torch::Tensor f3;
    for (size_t i = 0; i < blocks.size(); ++i)
    {
        x = blocks[i]->forward(x);
        if (int64_t(i) == level3Block)
            f3 = x;
    }
    return {f3, x};
}

// ---------------------------------------------------------------------------------------
// Adaptation layers

AdaptationLayerImpl::AdaptationLayerImpl(int64_t channels, int64_t kernel_) : kernel(kernel_)
{
    auto step = [&]() {
        return torch::nn::Sequential(
            torch::nn::Conv2d(
                torch::nn::Conv2dOptions(channels, channels, kernel).padding(kernel / 2).bias(true)),
            torch::nn::BatchNorm2d(channels), torch::nn::ReLU());
    };
    conv1 = register_module("conv1", step());
    conv2 = register_module("conv2", step());
}

void AdaptationLayerImpl::setIdentity()
{
    torch::NoGradGuard noGrad;
    for (torch::nn::Sequential* step : {&conv1, &conv2})
    {
        auto* bn = (*step)->ptr(1)->as<torch::nn::BatchNorm2d>();
        bn->weight.zero_();
        bn->bias.zero_();
    }
}

bool AdaptationLayerImpl::isExactIdentity() const
{
    for (const torch::nn::Sequential* step : {&conv1, &conv2})
    {
        const auto* bn = (*step)->ptr(1)->as<torch::nn::BatchNorm2d>();
        if (bn->weight.count_nonzero().item<int64_t>() != 0 || bn->bias.count_nonzero().item<int64_t>() != 0)
            return false;
    }
    return true;
}

void AdaptationLayerImpl::setBatchNormWeight(double weight)
{
    torch::NoGradGuard noGrad;
    for (torch::nn::Sequential* step : {&conv1, &conv2})
        (*step)->ptr(1)->as<torch::nn::BatchNorm2d>()->weight.fill_(weight);
}

torch::Tensor AdaptationLayerImpl::forward(torch::Tensor x)
{
    auto step = [&](torch::nn::Sequential& s, const torch::Tensor& in) {
        if (!trainingBatchNorm || !is_training())
            return s->forward(in);
        const auto y = s[0]->as<torch::nn::Conv2d>()->forward(in);
        return torch::relu(trainingBatchNorm(*s[1]->as<torch::nn::BatchNorm2d>(), y));
    };
    x = x + step(conv1, x);
    return x + step(conv2, x);
}

// ---------------------------------------------------------------------------------------
// SFNet

SFNetImpl::SFNetImpl(const ModelConfig& cfg) : cfg_(cfg)
{
    if (isEfficientNetLite(cfg.backbone))
    {
        effnet_ = register_module("backbone", EfficientNetLite(cfg.backbone));
        backboneModule_ = effnet_.get();
        adap3Channels_ = effnet_->channels3;
        adap4Channels_ = effnet_->channels4;
    }
    else
    {
        backbone_ = register_module("backbone", ResNet(cfg.backbone));
        backboneModule_ = backbone_.get();
        adap3Channels_ = backbone_->channels3;
        adap4Channels_ = backbone_->channels4;
    }
    adap3_ = register_module("adap_layer_feat3", AdaptationLayer(adap3Channels_, 5));
    adap4_ = register_module("adap_layer_feat4", AdaptationLayer(adap4Channels_, 3));
    setBackboneTrainable(false);
    train(true);
}

void SFNetImpl::setConfig(const ModelConfig& cfg)
{
    if (cfg.backbone != cfg_.backbone)
        throw std::runtime_error("cannot change the backbone of a model from '" + cfg_.backbone +
                                 "' to '" + cfg.backbone + "'");
    cfg_ = cfg;
}

void SFNetImpl::setBackboneTrainable(bool trainable)
{
    backboneTrainable_ = trainable;
    for (auto& p : backboneModule_->parameters())
        p.set_requires_grad(trainable);
}

void SFNetImpl::train(bool on)
{
    torch::nn::Module::train(on);
    // SFNet keeps the backbone's BatchNorm statistics fixed, even when fine-tuning it.
    if (backboneModule_)
        backboneModule_->eval();
}

torch::nn::Module& SFNetImpl::backbone()
{
    return *backboneModule_;
}

std::pair<torch::Tensor, torch::Tensor> SFNetImpl::backboneFeatures(const torch::Tensor& normalized)
{
    return effnet_ ? effnet_->forward(normalized) : backbone_->forward(normalized);
}

std::vector<torch::Tensor> SFNetImpl::adaptationParameters()
{
    std::vector<torch::Tensor> p = adap3_->parameters();
    for (auto& t : adap4_->parameters())
        p.push_back(t);
    return p;
}

std::vector<torch::Tensor> SFNetImpl::backboneParameters()
{
    return backboneModule_->parameters();
}

std::pair<torch::Tensor, torch::Tensor> SFNetImpl::features(const torch::Tensor& images)
{
    if (images.dim() != 4 || images.size(1) != 3)
        throw std::runtime_error("SFNet expects images as [B,3,H,W] RGB, got " +
                                 shapeString(images.sizes()));
    if (images.size(2) % 32 != 0 || images.size(3) % 32 != 0 || images.size(2) == 0 ||
        images.size(3) == 0)
        throw std::runtime_error("SFNet expects image sides that are positive multiples of 32, got " +
                                 std::to_string(images.size(2)) + "x" +
                                 std::to_string(images.size(3)) + " (HxW)");
    auto opts = images.options();
    const InputNormalization norm = inputNormalization(cfg_.backbone);
    const torch::Tensor mean = torch::tensor(norm.mean, opts).view({1, 3, 1, 1});
    const torch::Tensor stdev = torch::tensor(norm.stdev, opts).view({1, 3, 1, 1});
    auto feats = backboneFeatures((images - mean) / stdev);
    torch::Tensor f3 = adap3_->forward(feats.first);
    torch::Tensor f4 = adap4_->forward(feats.second);
    f4 = torch::nn::functional::interpolate(
        f4, torch::nn::functional::InterpolateFuncOptions()
                .size(std::vector<int64_t>{f4.size(2) * 2, f4.size(3) * 2})
                .mode(torch::kBilinear)
                .align_corners(true));
    return {f3, f4};
}

SFNetImpl::Output SFNetImpl::forward(const torch::Tensor& source, const torch::Tensor& target,
                                     bool hardArgmax)
{
    if (!source.sizes().equals(target.sizes()))
        throw std::runtime_error("SFNet expects source and target of the same shape, got " +
                                 shapeString(source.sizes()) + " and " +
                                 shapeString(target.sizes()));
    const int64_t n = source.size(0);
    auto feats = features(torch::cat({source, target}, 0));
    const torch::Tensor f3s = feats.first.narrow(0, 0, n), f3t = feats.first.narrow(0, n, n);
    const torch::Tensor f4s = feats.second.narrow(0, 0, n), f4t = feats.second.narrow(0, n, n);
    const int64_t h = f3s.size(2), w = f3s.size(3);

    Output out;
    out.corrS2T = correlation(f3s, f3t) * correlation(f4s, f4t);
    // Cosine correlation is symmetric in its arguments: target-to-source is the transpose.
    out.corrT2S =
        out.corrS2T.reshape({n, h * w, h * w}).transpose(1, 2).reshape({n, h * w, h, w});
    const double beta = hardArgmax ? 0.0 : cfg_.beta;
    out.gridS2T = kernelSoftArgmax(out.corrS2T, h, w, beta, cfg_.sigma, true);
    out.gridT2S = kernelSoftArgmax(out.corrT2S, h, w, beta, cfg_.sigma, true);
    return out;
}

// ---------------------------------------------------------------------------------------
// Operators (modules/semflow/doc/onnx_ops.md)

torch::Tensor correlation(const torch::Tensor& fs, const torch::Tensor& ft, bool normalize,
                          bool relu)
{
    if (fs.dim() != 4 || ft.dim() != 4 || fs.size(0) != ft.size(0) || fs.size(1) != ft.size(1))
        throw std::runtime_error("correlation expects [N,C,Hs,Ws] and [N,C,Ht,Wt] with equal N "
                                 "and C, got " +
                                 shapeString(fs.sizes()) + " and " + shapeString(ft.sizes()));
    const int64_t n = fs.size(0), c = fs.size(1);
    torch::Tensor a = fs, b = ft;
    if (normalize)
    {
        // Normalising the features (small) is cheaper than scaling the volume (large).
        a = fs / torch::sqrt(fs.pow(2).sum(1, true) + kEps);
        b = ft / torch::sqrt(ft.pow(2).sum(1, true) + kEps);
    }
    torch::Tensor corr = torch::bmm(b.reshape({n, c, -1}).transpose(1, 2), a.reshape({n, c, -1}));
    if (relu)
        corr = torch::relu(corr);
    return corr.view({n, -1, fs.size(2), fs.size(3)});
}

namespace
{
// -1 + 2x/(len-1) for x = 0..len-1; 0 when len == 1 (align_corners=True).
torch::Tensor normalisedCoords(int64_t len, const torch::TensorOptions& opts)
{
    if (len == 1)
        return torch::zeros({1}, opts);
    return torch::arange(len, opts) * (2.0 / double(len - 1)) - 1.0;
}
}  // namespace

torch::Tensor identityGrid(int64_t h, int64_t w, const torch::TensorOptions& options)
{
    torch::TensorOptions opts = options.dtype(torch::kFloat);
    torch::Tensor x = normalisedCoords(w, opts).view({1, w}).expand({h, w});
    torch::Tensor y = normalisedCoords(h, opts).view({h, 1}).expand({h, w});
    return torch::stack({x, y}, 0).unsqueeze(0);
}

torch::Tensor kernelSoftArgmax(const torch::Tensor& corr, int64_t ht, int64_t wt, double beta,
                               double sigma, bool normalize)
{
    if (corr.dim() != 4 || ht <= 0 || wt <= 0 || corr.size(1) != ht * wt)
        throw std::runtime_error("kernelSoftArgmax expects a correlation volume [N,Ht*Wt,Hs,Ws] "
                                 "with Ht*Wt = " +
                                 std::to_string(ht) + "*" + std::to_string(wt) + ", got " +
                                 shapeString(corr.sizes()));
    const int64_t n = corr.size(0), hs = corr.size(2), ws = corr.size(3);
    const auto opts = corr.options();
    torch::Tensor c = corr;
    if (normalize)
        c = c / torch::sqrt(c.pow(2).sum(1, true) + kEps);

    const torch::Tensor xn = normalisedCoords(wt, opts), yn = normalisedCoords(ht, opts);
    // argmax returns the first maximal index, as the spec's tie rule requires.
    const torch::Tensor best = c.argmax(1);  // [N,Hs,Ws]
    const torch::Tensor bx = best.remainder(wt), by = best.div(wt, "floor");
    if (beta <= 0)
        return torch::stack({xn.index({bx}), yn.index({by})}, 1);

    torch::Tensor logits;
    if (sigma > 0)
    {
        // Separable window: [N,Wt,Hs,Ws] + [N,Ht,Hs,Ws] exponentials, then one volume for the
        // window (beta folded into the small factor) and one for the logits.
        const double inv = -1.0 / (2.0 * sigma * sigma);
        auto window1d = [&](int64_t len, const torch::Tensor& centre) {
            return torch::exp(
                (torch::arange(len, opts).view({1, len, 1, 1}) - centre.unsqueeze(1).to(opts.dtype())).pow(2) *
                inv);
        };
        const torch::Tensor gx = window1d(wt, bx) * beta, gy = window1d(ht, by);
        logits = c * (gy.unsqueeze(2) * gx.unsqueeze(1)).view({n, ht * wt, hs, ws});
    }
    else
    {
        logits = c * beta;
    }
    const torch::Tensor m = torch::softmax(logits, 1).view({n, ht, wt, hs, ws});
    const torch::Tensor gridX = (m.sum(1) * xn.view({1, wt, 1, 1})).sum(1);
    const torch::Tensor gridY = (m.sum(2) * yn.view({1, ht, 1, 1})).sum(1);
    return torch::stack({gridX, gridY}, 1);
}

// ---------------------------------------------------------------------------------------
// Checkpoints

namespace
{
// Keys of the config inside a checkpoint (underscores: TorchScript attribute names).
const char* const kFormatKey = "semflow_format";
const int64_t kFormatVersion = 1;

ModelConfig readConfig(torch::serialize::InputArchive& ar, const std::string& path)
{
    c10::IValue v;
    if (!ar.try_read(kFormatKey, v) || !v.isInt())
        throw std::runtime_error("'" + path +
                                 "' is not a semflow checkpoint (no semflow_format key); "
                                 "use `sfnet import` to convert torchvision/SFNet weights");
    if (v.toInt() != kFormatVersion)
        throw std::runtime_error("'" + path + "' has checkpoint format " +
                                 std::to_string(v.toInt()) + ", this build reads format " +
                                 std::to_string(kFormatVersion));
    ModelConfig cfg;
    auto need = [&](const char* key) {
        c10::IValue x;
        if (!ar.try_read(key, x))
            throw std::runtime_error("checkpoint '" + path + "' lacks the key '" + key + "'");
        return x;
    };
    try
    {
        cfg.backbone = need("semflow_backbone").toStringRef();
        cfg.beta = need("semflow_beta").toDouble();
        cfg.sigma = need("semflow_sigma").toDouble();
        cfg.trainHeight = need("semflow_train_height").toInt();
        cfg.trainWidth = need("semflow_train_width").toInt();
    }
    catch (const c10::Error& e)
    {
        throw std::runtime_error("checkpoint '" + path + "' has a malformed config: " + firstLine(e.what()));
    }
    return cfg;
}

void openArchive(torch::serialize::InputArchive& ar, const std::string& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw std::runtime_error("checkpoint '" + path + "' is a directory, expected a file");
    std::ifstream probe(path, std::ios::binary);
    if (!probe)
        throw std::runtime_error("cannot open checkpoint '" + path + "' (missing or unreadable)");
    probe.close();
    try
    {
        ar.load_from(path, torch::kCPU);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("cannot read checkpoint '" + path +
                                 "': truncated, corrupt or not a LibTorch archive (" +
                                 firstLine(e.what()) + ")");
    }
}
}  // namespace

void saveModel(SFNet& model, const std::string& path, const ArchiveWriter& extra)
{
    const ModelConfig& cfg = model->config();
    torch::serialize::OutputArchive ar;
    try
    {
        ar.write(kFormatKey, c10::IValue(kFormatVersion));
        ar.write("semflow_backbone", c10::IValue(cfg.backbone));
        ar.write("semflow_beta", c10::IValue(cfg.beta));
        ar.write("semflow_sigma", c10::IValue(cfg.sigma));
        ar.write("semflow_train_height", c10::IValue(cfg.trainHeight));
        ar.write("semflow_train_width", c10::IValue(cfg.trainWidth));
        model->save(ar);
        if (extra)
            extra(ar);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("cannot write checkpoint '" + path + "': " + firstLine(e.what()));
    }
    // Streamed straight into the file (no second copy of the weights in memory); a kill at
    // any moment leaves the previous checkpoint intact (atomic_file.hpp).
    writeFileAtomically(path, [&](int fd) {
        try
        {
            ar.save_to([&](const void* data, size_t n) {
                writeAll(fd, data, n, path + ".tmp");
                return n;
            });
        }
        catch (const std::runtime_error&)
        {
            throw;
        }
        catch (const std::exception& e)
        {
            throw std::runtime_error("cannot write checkpoint '" + path + "': " + firstLine(e.what()));
        }
    });
}

ModelConfig loadModelConfig(const std::string& path)
{
    torch::serialize::InputArchive ar;
    openArchive(ar, path);
    return readConfig(ar, path);
}

SFNet loadModel(const std::string& path, const ArchiveReader& extra)
{
    torch::serialize::InputArchive ar;
    openArchive(ar, path);
    SFNet model(readConfig(ar, path));

    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& p : model->named_parameters())
        expected[p.key()] = p.value().sizes().vec();
    for (const auto& b : model->named_buffers())
        expected[b.key()] = b.value().sizes().vec();
    try
    {
        torch::NoGradGuard noGrad;
        model->load(ar);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("checkpoint '" + path + "' does not match a '" +
                                 model->config().backbone + "' SFNet: " + firstLine(e.what()));
    }
    // Module::load replaces tensors wholesale; a file with the right keys but wrong shapes
    // would otherwise load silently.
    auto check = [&](const std::string& key, const torch::Tensor& t) {
        if (!t.sizes().equals(expected[key]))
            throw std::runtime_error("checkpoint '" + path + "': '" + key + "' has shape " +
                                     shapeString(t.sizes()) + ", expected " +
                                     shapeString(expected[key]));
    };
    for (const auto& p : model->named_parameters())
        check(p.key(), p.value());
    for (const auto& b : model->named_buffers())
        check(b.key(), b.value());
    if (extra)
        extra(ar);
    model->train(true);
    return model;
}

}  // namespace sfnet
