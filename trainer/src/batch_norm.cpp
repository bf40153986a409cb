// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "batch_norm.hpp"

#include <stdexcept>
#include <string>

namespace sfnet
{

torch::Tensor batchNormTraining(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, int views,
                                const StatisticsReducer& reduce)
{
    if (x.dim() != 4 || views < 1 || x.size(0) % views != 0)
        throw std::runtime_error("batchNormTraining: expected [B,C,H,W] with B a multiple of " +
                                 std::to_string(views) + ", got " + std::to_string(x.dim()) + "-D input of " +
                                 std::to_string(x.dim() ? x.size(0) : 0) + " images");
    const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), per = b / views;
    const auto xd = x.to(torch::kDouble).view({views, per, c, h, w});
    auto s1 = xd.sum({1, 3, 4}).reshape({-1}), s2 = (xd * xd).sum({1, 3, 4}).reshape({-1});
    auto count = torch::full({1}, double(per * h * w), xd.options());
    auto packed = torch::cat({s1, s2, count});
    if (reduce)
        packed = reduce(packed);
    const double n = packed[2 * views * c].item<double>();
    const auto mean = packed.narrow(0, 0, views * c).view({views, c}) / n;
    const auto var = (packed.narrow(0, views * c, views * c).view({views, c}) / n - mean * mean).clamp_min(0);
    const double eps = bn.options.eps();
    auto y = (xd - mean.view({views, 1, c, 1, 1})) / (var + eps).sqrt().view({views, 1, c, 1, 1});
    if (bn.options.affine())
        y = y * bn.weight.to(torch::kDouble).view({1, 1, c, 1, 1}) + bn.bias.to(torch::kDouble).view({1, 1, c, 1, 1});

    if (bn.options.track_running_stats())
    {
        torch::NoGradGuard noGrad;
        const double m = bn.options.momentum().value_or(0.1);
        const double unbias = n > 1 ? n / (n - 1) : 1.0;
        for (int v = 0; v < views; ++v)
        {
            bn.running_mean.mul_(1 - m).add_(mean[v].to(bn.running_mean.scalar_type()), m);
            bn.running_var.mul_(1 - m).add_((var[v] * unbias).to(bn.running_var.scalar_type()), m);
            bn.num_batches_tracked.add_(1);
        }
    }
    return y.view({b, c, h, w}).to(x.scalar_type());
}

}  // namespace sfnet
