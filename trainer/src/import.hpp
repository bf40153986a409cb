// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Published weights -> SFNet model (`sfnet import`). Includes LibTorch via model.hpp:
// include it from trainer sources only.

#include "model.hpp"
#include "pth_reader.hpp"

#include <string>
#include <vector>

namespace sfnet
{

/** @brief What one import step did, for the user. */
struct ImportReport
{
    size_t loaded = 0;               //!< tensors copied into the model
    std::vector<std::string> notes;  //!< things ignored or filled in, one line each
};

/** @brief Copies a published backbone state dict into the model's backbone, by key.

Keys are the backbone module's parameter and buffer names: torchvision's for the ResNets
(`conv1.weight`, `layer3.22.bn2.running_var`, ...), the `efficientnet-lite-pytorch` package's
for EfficientNet-Lite (`_conv_stem.weight`, `_blocks.3._bn1.running_var`, ...). Keys under the
backbone's ImportRules::unusedPrefixes (`fc.*`; EfficientNet: `_fc.*`, `_conv_head.*`, `_bn1.*`)
are ignored with a note, a `module.` prefix on every key (nn.DataParallel) is stripped, and missing `*.num_batches_tracked` buffers (files saved before PyTorch 0.4.1)
are set to 0. Any other missing, unexpected or differently shaped key is an error.
@param model the model to update; nothing is changed when an error is thrown.
@param weights the file's contents (readPth()).
@param source file name, for messages.
@throws std::runtime_error naming every offending key (and both shapes for a mismatch).
*/
ImportReport importBackboneWeights(SFNet& model, const PthContents& weights, const std::string& source);

/** @brief Copies the SFNet authors' checkpoint into the adaptation layers.

The checkpoint is a dict with `state_dict1` (level 3 -> `adap_layer_feat3`) and
`state_dict2` (level 4 -> `adap_layer_feat4`), each with keys `conv1.0.weight`,
`conv1.0.bias`, `conv1.1.{weight,bias,running_mean,running_var,num_batches_tracked}` and
the same for `conv2`. Other top-level entries (epoch, optimiser state, ...) are ignored.
Same error rules as importBackboneWeights(); both levels are validated before either is
written, so nothing is changed when an error is thrown.
*/
ImportReport importAuthorsAdaptation(SFNet& model, const PthContents& weights,
                                     const std::string& source);

/** @brief A torch::Tensor copy of a decoded array (float32 or int64, shape preserved). */
torch::Tensor toTensor(const NamedArray& array);

}  // namespace sfnet
