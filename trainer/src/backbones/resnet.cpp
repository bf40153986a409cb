// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// torchvision's ResNet (He et al., 2016) as an SFNet backbone: the paper's ResNet-101 and its
// smaller siblings. Layer3 gives the stride-16 level, layer4 the stride-32 one.

#include "resnet.hpp"

#include "../onnx_graph.hpp"

namespace sfnet
{
namespace
{
struct ResNetSpec
{
    bool bottleneck;
    std::vector<int64_t> blocks;  // per layer1..layer4
    int64_t baseWidth;            // width of layer1; doubles per layer
};

ResNetSpec resnetSpec(const std::string& name)
{
    if (name == "resnet101")
        return {true, {3, 4, 23, 3}, 64};
    if (name == "resnet50")
        return {true, {3, 4, 6, 3}, 64};
    if (name == "resnet18")
        return {false, {2, 2, 2, 2}, 64};
    if (name == "tiny")
        return {false, {1, 1, 1, 1}, 16};
    throw std::runtime_error("unknown ResNet backbone '" + name + "'");
}

torch::nn::Conv2d convNoBias(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad)
{
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(int64_t inChannels, int64_t width, int64_t stride_, bool bottleneck_)
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
        downsample = register_module("downsample",
                                     torch::nn::Sequential(convNoBias(inChannels, outChannels, 1, stride, 0),
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

std::string ResidualBlockImpl::exportOnnx(OnnxGraphBuilder& g, const std::string& x, const std::string& p)
{
    std::string y = g.unary("Relu", g.convBn(x, *conv1, bn1.get(), p + ".conv1", p + ".bn1"), p + ".relu1");
    y = g.convBn(y, *conv2, bn2.get(), p + ".conv2", p + ".bn2");
    if (bottleneck)
        y = g.convBn(g.unary("Relu", y, p + ".relu2"), *conv3, bn3.get(), p + ".conv3", p + ".bn3");
    std::string shortcut = x;
    if (downsample)
        shortcut = g.convBn(x, *downsample->ptr(0)->as<torch::nn::Conv2d>(),
                            downsample->ptr(1)->as<torch::nn::BatchNorm2d>(), p + ".downsample.0",
                            p + ".downsample.1");
    return g.unary("Relu", g.add(y, shortcut, p + ".add"), p + ".out");
}

ResNetBackbone::ResNetBackbone(const std::string& name)
{
    const ResNetSpec spec = resnetSpec(name);
    const int64_t stem = spec.baseWidth;
    conv1 = register_module("conv1", convNoBias(3, stem, 7, 2, 3));
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
            channels3_ = in;
    }
    channels4_ = in;

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

std::pair<torch::Tensor, torch::Tensor> ResNetBackbone::forward(const torch::Tensor& input)
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

InputNormalization ResNetBackbone::inputNormalization() const
{
    return {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};  // ImageNet's, as torchvision trained with
}

std::pair<std::string, std::string> ResNetBackbone::exportOnnx(OnnxGraphBuilder& g, const std::string& input,
                                                               const std::string& p)
{
    std::string x = g.unary("Relu", g.convBn(input, *conv1, bn1.get(), p + ".conv1", p + ".bn1"), p + ".relu");
    onnx::NodeProto* pool = g.node("MaxPool", {x}, {p + ".maxpool"});
    OnnxGraphBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{3, 3});
    OnnxGraphBuilder::attr(pool, "strides", std::vector<int64_t>{2, 2});
    OnnxGraphBuilder::attr(pool, "pads", std::vector<int64_t>{1, 1, 1, 1});
    x = p + ".maxpool";
    std::string f3;
    for (size_t l = 0; l < layers.size(); ++l)
    {
        for (size_t i = 0; i < layers[l].size(); ++i)
            x = layers[l][i]->exportOnnx(g, x, p + ".layer" + std::to_string(l + 1) + "." + std::to_string(i));
        if (l == 2)
            f3 = x;
    }
    return {f3, x};
}

ImportRules ResNetBackbone::importRules() const
{
    return {"torchvision layout", {"fc."}, "the ImageNet classifier"};
}

void addResNetBackbones(std::vector<BackboneInfo>& registry)
{
    const char* const weights = "torchvision's ImageNet weights (resnetNN-*.pth)";
    for (const char* name : {"resnet101", "resnet50", "resnet18"})
        registry.push_back({name, std::string(name == std::string("resnet101") ? "the paper's; " : "") + weights,
                            [name] { return std::make_shared<ResNetBackbone>(name); }});
    registry.push_back({"tiny", "a 4-block ResNet of width 16 for tests and demos (no published weights)",
                        [] { return std::make_shared<ResNetBackbone>("tiny"); }});
}

}  // namespace sfnet
