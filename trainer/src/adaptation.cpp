// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "adaptation.hpp"

#include "onnx_graph.hpp"

namespace sfnet
{

AdaptationLayerImpl::AdaptationLayerImpl(int64_t channels, int64_t kernel_) : kernel(kernel_)
{
    auto step = [&]() {
        return torch::nn::Sequential(
            torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, kernel).padding(kernel / 2).bias(true)),
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

std::string AdaptationLayerImpl::exportOnnx(OnnxGraphBuilder& g, const std::string& x, const std::string& p)
{
    std::string y = x;
    int i = 1;
    for (torch::nn::Sequential* step : {&conv1, &conv2})
    {
        const std::string s = p + ".conv" + std::to_string(i++);
        const std::string r = g.unary("Relu",
                                      g.convBn(y, *(*step)->ptr(0)->as<torch::nn::Conv2d>(),
                                               (*step)->ptr(1)->as<torch::nn::BatchNorm2d>(), s + ".0", s + ".1"),
                                      s + ".2");
        y = g.add(y, r, s + ".add");
    }
    return y;
}

}  // namespace sfnet
