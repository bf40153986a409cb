// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// SFNet's adaptation layer (the head on each backbone level): LibTorch forward and ONNX
// emission side by side. Includes LibTorch: trainer sources only.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

namespace sfnet
{

class OnnxGraphBuilder;

/** @brief SFNet adaptation layer: x <- x + ReLU(BN(Conv(x))) twice, channels unchanged.

Children are named as in the SFNet authors' checkpoint: conv1.0 (Conv2d with bias),
conv1.1 (BatchNorm2d), conv1.2 (ReLU), then conv2.*.
*/
class AdaptationLayerImpl : public torch::nn::Module
{
public:
    AdaptationLayerImpl(int64_t channels, int64_t kernel);
    torch::Tensor forward(torch::Tensor x);

    /** @brief forward() (eval semantics) as ONNX nodes reading @p x, named under @p prefix;
    returns the output's name. */
    std::string exportOnnx(OnnxGraphBuilder& graph, const std::string& x, const std::string& prefix);

    /** @brief Makes the layer the identity: both BatchNorms get weight 0 and bias 0, so each
    residual step adds ReLU(0) = 0. The convolutions keep their weights; training starts from
    the identity (the BatchNorm affine parameters still receive gradients). */
    void setIdentity();
    /** @brief True when both steps add exactly zero (setIdentity()): BatchNorm weight and bias
    all zero. Such a layer cannot learn: every gradient passes ReLU at exactly 0, where it is 0. */
    bool isExactIdentity() const;
    /** @brief Sets both BatchNorm weights to @p weight (biases stay): from the identity, a
    near-identity whose steps add ReLU(weight * normalised conv output), which gradients reach. */
    void setBatchNormWeight(double weight);

    int64_t kernel;
    torch::nn::Sequential conv1{nullptr}, conv2{nullptr};
    /// In training mode, when set, replaces each step's BatchNorm call (the trainer's
    /// per-view / cross-process statistics, batch_norm.hpp); eval mode ignores it.
    std::function<torch::Tensor(torch::nn::BatchNorm2dImpl&, const torch::Tensor&)> trainingBatchNorm;
};
TORCH_MODULE(AdaptationLayer);

}  // namespace sfnet
