// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// torchvision's ResNet as an SFNet backbone (resnet101, resnet50, resnet18, tiny). The model
// only needs backbone.hpp; this header is for the tests, which check the layout block by block.

#include "../backbone.hpp"

namespace sfnet
{

/** @brief One torchvision residual block (BasicBlock or Bottleneck).

Children are named like torchvision: conv1, bn1, conv2, bn2, [conv3, bn3], [downsample.0,
downsample.1]. The stride sits on conv2 for Bottleneck (torchvision "v1.5") and on conv1
for BasicBlock.
*/
class ResidualBlockImpl : public torch::nn::Module
{
public:
    ResidualBlockImpl(int64_t inChannels, int64_t width, int64_t stride, bool bottleneck);
    torch::Tensor forward(const torch::Tensor& x);
    /// The same computation as ONNX nodes named under @p prefix; returns the output's name.
    std::string exportOnnx(OnnxGraphBuilder& g, const std::string& x, const std::string& prefix);

    bool bottleneck;
    int64_t stride;
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    torch::nn::Sequential downsample{nullptr};  ///< null when the identity shortcut is used
};
TORCH_MODULE(ResidualBlock);

/** @brief torchvision-layout ResNet truncated after layer4 (no avgpool, no fc).

forward returns {layer3 output (stride 16), layer4 output (stride 32)}. Parameter names:
conv1.weight, bn1.*, layer1.0.conv1.weight, ..., layer4.*; imports torchvision's
`resnetNN-*.pth` as they are (fc.* ignored). ImageNet mean and standard deviation.
*/
class ResNetBackbone : public Backbone
{
public:
    /// "resnet101", "resnet50", "resnet18" or "tiny" (BasicBlocks, one per layer, width 16).
    explicit ResNetBackbone(const std::string& name);

    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& normalized) override;
    int64_t channels3() const override { return channels3_; }
    int64_t channels4() const override { return channels4_; }
    InputNormalization inputNormalization() const override;
    std::pair<std::string, std::string> exportOnnx(OnnxGraphBuilder& graph, const std::string& input,
                                                   const std::string& prefix) override;
    ImportRules importRules() const override;

    torch::nn::Conv2d conv1{nullptr};  ///< 7x7, stride 2, pad 3
    torch::nn::BatchNorm2d bn1{nullptr};
    std::vector<std::vector<ResidualBlock>> layers;  ///< layers[0..3] = layer1..layer4

private:
    int64_t channels3_ = 0, channels4_ = 0;
};

}  // namespace sfnet
