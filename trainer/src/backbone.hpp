// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// The backbone interface and its registry. A backbone is one file under backbones/ that owns
// everything the trainer needs to know about one architecture: its LibTorch forward, its level
// channels and input normalisation, its ONNX emission and its checkpoint-key layout. The rest of
// the trainer (model, export, import) only talks to this interface. doc/adding_a_backbone.md walks
// through it. Includes LibTorch: trainer sources only.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sfnet
{

class OnnxGraphBuilder;  // onnx_graph.hpp: only the backbone files and the exporter include ONNX

/** @brief Per-channel mean and standard deviation a backbone's weights expect on RGB in [0,1]. */
struct InputNormalization
{
    std::vector<double> mean, stdev;
};

/** @brief How a backbone's published ImageNet state dict maps onto it (`sfnet import`).

The keys are the backbone module's own parameter and buffer names (the published file's layout
is the module's layout). Keys starting with one of @p unusedPrefixes are ignored: the parts of
the classification network that SFNet drops.
*/
struct ImportRules
{
    std::string layout;                       ///< the key layout's name, for messages, e.g. "torchvision layout"
    std::vector<std::string> unusedPrefixes;  ///< e.g. {"fc."}: ignored, with a note
    std::string unusedWhat;                   ///< what they are, for the note: "the ImageNet classifier"
};

/** @brief A feature extractor SFNet can sit on.

SFNet needs two levels: stride 16 ("level 3", the adaptation layer with the 5x5 kernel) and
stride 32 ("level 4", 3x3), for images whose sides are multiples of 32. An implementation
registers its children under the names of the published weights it imports, so that `sfnet
import` can match keys to parameters by name. The model keeps the backbone frozen by default and
its BatchNorm always in eval mode.
*/
class Backbone : public torch::nn::Module
{
public:
    /** @brief {stride-16 features [B,channels3(),H/16,W/16], stride-32 features
    [B,channels4(),H/32,W/32]} of images already normalised with inputNormalization(). */
    virtual std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& normalized) = 0;

    virtual int64_t channels3() const = 0;  ///< channels of the stride-16 output
    virtual int64_t channels4() const = 0;  ///< channels of the stride-32 output

    /// The mean and standard deviation applied before forward() (in the model and in the graph).
    virtual InputNormalization inputNormalization() const = 0;

    /** @brief Writes forward() as ONNX nodes into @p graph, reading the tensor named @p input
    (normalised images), with initializers and node outputs named `<prefix>.<parameter path>`.
    Returns the names of the {stride-16, stride-32} outputs. The export parity tests hold the
    two forwards to each other through OpenCV for every registered backbone. */
    virtual std::pair<std::string, std::string> exportOnnx(OnnxGraphBuilder& graph, const std::string& input,
                                                           const std::string& prefix) = 0;

    /// How `sfnet import --backbone-weights` reads this backbone's published weights.
    virtual ImportRules importRules() const = 0;
};

/** @brief A name the model config, checkpoints and the command line accept. */
struct BackboneInfo
{
    std::string name;     ///< ModelConfig::backbone, semflow.backbone metadata
    std::string summary;  ///< one line for `sfnet import --help`: where its weights come from
    std::function<std::shared_ptr<Backbone>()> create;  ///< a randomly initialised instance
};

/** @brief Every registered backbone, in the order the help text lists them. */
const std::vector<BackboneInfo>& backboneRegistry();

/** @brief Registered backbone names, in registry order. */
std::vector<std::string> knownBackbones();

/** @brief The registered names as help text: "resnet101, resnet50, ... or tiny". */
std::string backboneNamesForHelp();

/** @brief A new, randomly initialised backbone. Throws std::runtime_error naming the known
backbones when @p name is not registered. */
std::shared_ptr<Backbone> makeBackbone(const std::string& name);

/** @brief Adds a backbone at run time (a backbone built outside the trainer's own files, or a
test's). Throws std::runtime_error when the name is taken or @p info has no create function.
Not thread-safe against concurrent lookups: register before building models. */
void registerBackbone(BackboneInfo info);

/** @brief TensorFlow "SAME" padding of one axis: {before, after} for input length @p in, kernel
@p k, stride @p s (for backbones ported from TensorFlow). The output has ceil(in/s) cells; an odd
total puts the extra cell after (the asymmetric case EfficientNet's stride-2 convolutions hit on
even sizes). */
std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t k, int64_t s);

}  // namespace sfnet
