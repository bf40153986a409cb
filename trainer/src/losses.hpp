// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// SFNet's training objective (doc/design.md, "Training"; Lee et al., CVPR 2019, Sec. 3.3):
// mask consistency, flow consistency and smoothness, both directions.
// Includes LibTorch: include it from trainer sources only.

#include <torch/torch.h>

namespace sfnet
{

/** @brief How the smoothness term combines the two flow channels (doc/training.md). */
enum class SmoothnessForm
{
    /// The SFNet authors' code (which trained the published model): one convolution kernel
    /// spanning both flow channels, so per direction |d(Fx + Fy)/dx| + |d(Fx + Fy)/dy|.
    ChannelSum,
    /// The paper's formula read per channel: |dFx/dx| + |dFy/dx| + |dFx/dy| + |dFy/dy|.
    PerChannel
};

/** @brief Weights of the three terms (the paper's lambda1..3) and the smoothness form. */
struct LossWeights
{
    double mask = 3.0;     ///< lambda1, mask consistency
    double flow = 16.0;    ///< lambda2, flow consistency
    double smooth = 0.5;   ///< lambda3, smoothness
    SmoothnessForm smoothForm = SmoothnessForm::ChannelSum;  ///< the authors' form by default
};

/** @brief The loss and its weighted terms; total = mask + flow + smooth. Scalars. */
struct LossTerms
{
    torch::Tensor total, mask, flow, smooth;
};

/** @brief SFNet loss for a batch of pairs.

All tensors live on the feature grid (h x w) in normalised coordinates
(align_corners=true: x = -1 + 2 i / (w - 1)). Flow = grid - identity grid. Warping is
bilinear grid_sample with zeros outside. For each batch item and each direction
(S2T shown; T2S swaps the roles):

- mask:   sum_p (M_T(G_S2T(p)) - M_S(p))^2 / (h w)
- flow:   sum_p M_S(p) |F_S2T(p) + F_T2S(G_S2T(p))|^2 / (sum_p M_S(p) + 1)
- smooth: sum_p M_S(p) S(p) / (sum_p M_S(p) + 1) with central differences
          D_x F = (F(x+1) - F(x-1)) / 2 (zero padding at the border) and
          S = |D_x (Fx + Fy)| + |D_y (Fx + Fy)| (SmoothnessForm::ChannelSum, the authors' code) or
          S = |D_x Fx| + |D_x Fy| + |D_y Fx| + |D_y Fy| (SmoothnessForm::PerChannel).

Each term is summed over both directions and the batch, multiplied by its weight and
divided by the batch size.

@param gridS2T, gridT2S [N,2,h,w] (channel 0 = x, 1 = y)
@param maskS, maskT [N,1,h,w] binary foreground masks at the feature grid
@throws std::runtime_error on inconsistent shapes.
*/
LossTerms sfnetLoss(const torch::Tensor& gridS2T, const torch::Tensor& gridT2S, const torch::Tensor& maskS,
                    const torch::Tensor& maskT, const LossWeights& weights = {});

/** @brief Bilinear warp of @p input [N,C,H,W] at @p grid [N,2,h,w] (normalised x,y,
align_corners=true, zeros outside): out[n,:,p] = input[n,:,grid[n,:,p]]. */
torch::Tensor warpByGrid(const torch::Tensor& input, const torch::Tensor& grid);

}  // namespace sfnet
