// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// BatchNorm of the adaptation layers in training (doc/training.md): statistics per view
// (source and target images apart, as the SFNet authors' code computes them) or over
// both, and over every process of a data-parallel group. Includes LibTorch.

#include <torch/torch.h>

#include <functional>

namespace sfnet
{

/// Sums a tensor over all processes, differentiably (identity in a single process).
using StatisticsReducer = std::function<torch::Tensor(const torch::Tensor&)>;

/** @brief Training-mode BatchNorm2d with explicit statistics.

The batch [B,C,H,W] is split into @p views equal consecutive parts (SFNet stacks the
sources, then the targets); each part is normalised with its own mean and biased variance
over (images, H, W), which @p reduce, when set, sums over the processes of a group first
(sums and counts, so uneven per-process batches weigh each image once). Statistics are
computed in double precision from sums of x and x^2. The running statistics are updated
once per view, in order, with the unbiased variance, as that many separate BatchNorm calls
would do; num_batches_tracked counts every update.
@throws std::runtime_error if B is not a multiple of @p views or x is not 4-D.
*/
torch::Tensor batchNormTraining(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, int views,
                                const StatisticsReducer& reduce = {});

}  // namespace sfnet
