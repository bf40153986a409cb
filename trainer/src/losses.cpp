// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "losses.hpp"

#include <sstream>
#include <stdexcept>

namespace sfnet
{
namespace F = torch::nn::functional;

torch::Tensor warpByGrid(const torch::Tensor& input, const torch::Tensor& grid)
{
    return F::grid_sample(input, grid.permute({0, 2, 3, 1}),
                          F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(true));
}

namespace
{
// Normalised coordinates of the grid cells, [1,2,h,w] (a side of 1 sits at 0).
torch::Tensor cellCoordinates(int64_t h, int64_t w, const torch::TensorOptions& o)
{
    auto axis = [&](int64_t n) { return n > 1 ? torch::linspace(-1, 1, n, o) : torch::zeros({n}, o); };
    const auto ys = axis(h).view({h, 1}).expand({h, w}), xs = axis(w).view({1, w}).expand({h, w});
    return torch::stack({xs, ys}).unsqueeze(0);
}

void checkShapes(const torch::Tensor& gS, const torch::Tensor& gT, const torch::Tensor& mS, const torch::Tensor& mT)
{
    auto fail = [&](const std::string& what) {
        std::ostringstream os;
        os << "sfnetLoss: " << what << " (gridS2T " << gS.sizes() << ", gridT2S " << gT.sizes() << ", maskS "
           << mS.sizes() << ", maskT " << mT.sizes() << ")";
        throw std::runtime_error(os.str());
    };
    if (gS.dim() != 4 || gS.size(1) != 2)
        fail("grids must be [N,2,h,w]");
    if (!gT.sizes().equals(gS.sizes()))
        fail("the two grids must have the same shape");
    if (mS.dim() != 4 || mS.size(1) != 1 || mS.size(0) != gS.size(0) || mS.size(2) != gS.size(2) ||
        mS.size(3) != gS.size(3) || !mT.sizes().equals(mS.sizes()))
        fail("masks must be [N,1,h,w] on the grids' feature grid");
}

// Per-item sums of |central differences| of flow [N,2,h,w] weighted by mask [N,1,h,w].
// The authors' code convolves the flow with one [1,2,1,3] (and [1,2,3,1]) kernel: a single
// output channel over both input channels, i.e. the difference of Fx + Fy.
torch::Tensor smoothnessSum(const torch::Tensor& flowXY, const torch::Tensor& mask, SmoothnessForm form)
{
    const auto flow = form == SmoothnessForm::ChannelSum ? flowXY.sum(1, true) : flowXY;
    const auto padX = F::pad(flow, F::PadFuncOptions({1, 1, 0, 0}));
    const auto padY = F::pad(flow, F::PadFuncOptions({0, 0, 1, 1}));
    const int64_t h = flow.size(2), w = flow.size(3);
    const auto dx = (padX.narrow(3, 2, w) - padX.narrow(3, 0, w)) * 0.5;
    const auto dy = (padY.narrow(2, 2, h) - padY.narrow(2, 0, h)) * 0.5;
    return ((dx.abs() + dy.abs()) * mask).sum({1, 2, 3});
}
}  // namespace

LossTerms sfnetLoss(const torch::Tensor& gridS2T, const torch::Tensor& gridT2S, const torch::Tensor& maskS,
                    const torch::Tensor& maskT, const LossWeights& weights)
{
    checkShapes(gridS2T, gridT2S, maskS, maskT);
    const int64_t n = gridS2T.size(0), h = gridS2T.size(2), w = gridS2T.size(3);
    const auto id = cellCoordinates(h, w, gridS2T.options());
    const auto flowS2T = gridS2T - id, flowT2S = gridT2S - id;

    // Mask consistency: the other view's mask pulled back through the estimated grid.
    const auto estS = warpByGrid(maskT, gridS2T), estT = warpByGrid(maskS, gridT2S);
    const auto mask = ((estS - maskS).pow(2).sum() + (estT - maskT).pow(2).sum()) / double(h * w);

    // Flow consistency: going there and back again ends where it started.
    const auto fgS = maskS.sum({1, 2, 3}) + 1, fgT = maskT.sum({1, 2, 3}) + 1;
    const auto backS = warpByGrid(flowT2S, gridS2T), backT = warpByGrid(flowS2T, gridT2S);
    const auto flow = ((((flowS2T + backS) * maskS).pow(2).sum({1, 2, 3}) / fgS).sum() +
                       (((flowT2S + backT) * maskT).pow(2).sum({1, 2, 3}) / fgT).sum());

    const auto smooth = (smoothnessSum(flowS2T, maskS, weights.smoothForm) / fgS).sum() +
                        (smoothnessSum(flowT2S, maskT, weights.smoothForm) / fgT).sum();

    LossTerms t;
    t.mask = mask * (weights.mask / double(n));
    t.flow = flow * (weights.flow / double(n));
    t.smooth = smooth * (weights.smooth / double(n));
    t.total = t.mask + t.flow + t.smooth;
    return t;
}

}  // namespace sfnet
