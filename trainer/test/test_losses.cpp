// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The SFNet loss against hand-computed cases and a naive loop over its formulas.

#include "losses.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <vector>

namespace
{
torch::Tensor identity(int64_t n, int64_t h, int64_t w)
{
    auto g = torch::zeros({n, 2, h, w});
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
        {
            g.index_put_({torch::indexing::Slice(), 0, y, x}, -1.0 + 2.0 * x / (w - 1));
            g.index_put_({torch::indexing::Slice(), 1, y, x}, -1.0 + 2.0 * y / (h - 1));
        }
    return g;
}

torch::Tensor box(int64_t h, int64_t w, int64_t x0, int64_t x1, int64_t y0, int64_t y1)
{
    auto m = torch::zeros({1, 1, h, w});
    m.index_put_({0, 0, torch::indexing::Slice(y0, y1 + 1), torch::indexing::Slice(x0, x1 + 1)}, 1.0);
    return m;
}

// Naive reference: bilinear sample of a [C,h,w] accessor at normalised (gx, gy), zeros outside.
double sample(const torch::TensorAccessor<float, 3>& a, int64_t c, double gx, double gy, int64_t h, int64_t w)
{
    const double x = (gx + 1) * (w - 1) / 2, y = (gy + 1) * (h - 1) / 2;
    const double x0 = std::floor(x), y0 = std::floor(y);
    double v = 0;
    for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx)
        {
            const int64_t xi = int64_t(x0) + dx, yi = int64_t(y0) + dy;
            const double wgt = (dx ? x - x0 : 1 - (x - x0)) * (dy ? y - y0 : 1 - (y - y0));
            if (xi >= 0 && yi >= 0 && xi < w && yi < h)
                v += wgt * a[c][yi][xi];
        }
    return v;
}

struct Ref
{
    double mask = 0, flow = 0, smooth = 0;
};

// One direction of the loss for one batch item, straight from the formulas.
void refDirection(const torch::Tensor& gridA, const torch::Tensor& gridB, const torch::Tensor& maskA,
                  const torch::Tensor& maskB, Ref& r, bool channelSum = true)
{
    const int64_t h = gridA.size(1), w = gridA.size(2);
    auto ga = gridA.accessor<float, 3>(), gb = gridB.accessor<float, 3>();
    auto ma = maskA.accessor<float, 3>(), mb = maskB.accessor<float, 3>();
    // Flow of B as a [2,h,w] tensor, to be sampled.
    auto flowB = torch::zeros({2, h, w}), flowA = torch::zeros({2, h, w});
    auto fb = flowB.accessor<float, 3>(), fa = flowA.accessor<float, 3>();
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
        {
            const double ix = -1.0 + 2.0 * x / (w - 1), iy = -1.0 + 2.0 * y / (h - 1);
            fb[0][y][x] = float(gb[0][y][x] - ix);
            fb[1][y][x] = float(gb[1][y][x] - iy);
            fa[0][y][x] = float(ga[0][y][x] - ix);
            fa[1][y][x] = float(ga[1][y][x] - iy);
        }
    double fg = 0, sumMask = 0, sumFlow = 0, sumSmooth = 0;
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
        {
            const double gx = ga[0][y][x], gy = ga[1][y][x];
            const double est = sample(mb, 0, gx, gy, h, w);
            sumMask += (est - ma[0][y][x]) * (est - ma[0][y][x]);
            fg += ma[0][y][x];
            if (ma[0][y][x] == 0)
                continue;
            double dxSum = 0, dySum = 0;
            for (int c = 0; c < 2; ++c)
            {
                const double e = fa[c][y][x] + sample(fb, c, gx, gy, h, w);
                sumFlow += e * e;
                auto at = [&](int64_t yy, int64_t xx) { return (yy < 0 || xx < 0 || yy >= h || xx >= w) ? 0.0 : double(fa[c][yy][xx]); };
                const double dx = (at(y, x + 1) - at(y, x - 1)) / 2, dy = (at(y + 1, x) - at(y - 1, x)) / 2;
                if (channelSum)
                    dxSum += dx, dySum += dy;
                else
                    sumSmooth += std::abs(dx) + std::abs(dy);
            }
            if (channelSum)
                sumSmooth += std::abs(dxSum) + std::abs(dySum);
        }
    r.mask += sumMask / double(h * w);
    r.flow += sumFlow / (fg + 1);
    r.smooth += sumSmooth / (fg + 1);
}
}  // namespace

TEST(Losses, IdentityPairHasNoFlowOrSmoothnessLoss)
{
    const int64_t n = 2, h = 6, w = 7;
    torch::manual_seed(1);
    const auto m = (torch::rand({n, 1, h, w}) > 0.5).to(torch::kFloat);
    const auto g = identity(n, h, w);
    const auto t = sfnet::sfnetLoss(g, g, m, m);
    EXPECT_NEAR(t.flow.item<double>(), 0.0, 1e-6);  // float rounding of the grid coordinates
    EXPECT_NEAR(t.smooth.item<double>(), 0.0, 1e-6);
    // Same masks, identity warp: the mask term vanishes too (up to float rounding of
    // the grid coordinates).
    EXPECT_NEAR(t.mask.item<double>(), 0.0, 1e-9);
    EXPECT_NEAR(t.total.item<double>(), 0.0, 1e-6);
}

// Source box at columns 1..2, target box at columns 2..3 (rows 1..3 both); the S2T grid
// looks two cells to the right, the T2S grid two cells to the left. By hand:
//  est S(x) = T(x+2): columns 0..1  vs S columns 1..2 -> 3 rows x 2 columns wrong = 6
//  est T(x) = S(x-2): columns 3..4  vs T columns 2..3 -> 6 wrong
//  mask = 3 * (6 + 6) / (5 * 6) = 1.2
//  flow: +0.8 there, -0.8 back, both inside the frame for every foreground cell -> 0
//  smooth: constant flow, foreground away from the border -> 0
TEST(Losses, KnownMaskShift)
{
    const int64_t h = 5, w = 6;
    const auto mS = box(h, w, 1, 2, 1, 3), mT = box(h, w, 2, 3, 1, 3);
    const double cell = 2.0 / (w - 1);
    auto gS = identity(1, h, w), gT = identity(1, h, w);
    gS.select(1, 0).add_(2 * cell);
    gT.select(1, 0).sub_(2 * cell);
    const auto t = sfnet::sfnetLoss(gS, gT, mS, mT);
    EXPECT_NEAR(t.mask.item<double>(), 3.0 * 12 / 30, 1e-5);
    EXPECT_NEAR(t.flow.item<double>(), 0.0, 1e-6);
    EXPECT_NEAR(t.smooth.item<double>(), 0.0, 1e-6);

    // Move the source box to the right edge (columns 3..5): looking two cells right
    // leaves the frame for columns 4 and 5, whose round trip then misses the -0.8 flow:
    // error 0.8^2 on 2 columns x 3 rows = 6 * 0.64, over 9 foreground cells + 1.
    // Smoothness: zero padding at the right border sees a jump of 0.8 / 2 on column 5
    // (3 rows, x flow only): 3 * 0.4 / (9 + 1).
    const auto mS2 = box(h, w, 3, 5, 1, 3), mEmpty = torch::zeros({1, 1, h, w});
    const auto t2 = sfnet::sfnetLoss(gS, gT, mS2, mEmpty);
    EXPECT_NEAR(t2.flow.item<double>(), 16.0 * 6 * (0.8 * 0.8) / 10, 1e-5);
    EXPECT_NEAR(t2.smooth.item<double>(), 0.5 * 3 * 0.4 / 10, 1e-6);
    // Mask: est S = 0 (empty target) vs 9 source cells, est T = S(x - 2) = columns 5..7
    // -> column 5 only, against an empty target: 3 cells.
    EXPECT_NEAR(t2.mask.item<double>(), 3.0 * (9 + 3) / 30, 1e-5);
}

TEST(Losses, MatchesNaiveLoopOnRandomGrids)
{
    const int64_t n = 3, h = 5, w = 8;
    torch::manual_seed(7);
    const auto gS = identity(n, h, w) + 0.3 * torch::randn({n, 2, h, w});
    const auto gT = identity(n, h, w) + 0.3 * torch::randn({n, 2, h, w});
    const auto mS = (torch::rand({n, 1, h, w}) > 0.4).to(torch::kFloat);
    const auto mT = (torch::rand({n, 1, h, w}) > 0.4).to(torch::kFloat);
    const auto t = sfnet::sfnetLoss(gS, gT, mS, mT);
    Ref r;
    for (int64_t i = 0; i < n; ++i)
    {
        refDirection(gS[i], gT[i], mS[i], mT[i], r);
        refDirection(gT[i], gS[i], mT[i], mS[i], r);
    }
    EXPECT_NEAR(t.mask.item<double>(), 3.0 * r.mask / n, 1e-5 * std::max(1.0, r.mask));
    EXPECT_NEAR(t.flow.item<double>(), 16.0 * r.flow / n, 1e-5 * std::max(1.0, r.flow));
    EXPECT_NEAR(t.smooth.item<double>(), 0.5 * r.smooth / n, 1e-5 * std::max(1.0, r.smooth));
    EXPECT_NEAR(t.total.item<double>(), (3.0 * r.mask + 16.0 * r.flow + 0.5 * r.smooth) / n, 1e-4);

    // Custom weights scale each term.
    sfnet::LossWeights wts;
    wts.mask = 1;
    wts.flow = 2;
    wts.smooth = 4;
    const auto t2 = sfnet::sfnetLoss(gS, gT, mS, mT, wts);
    EXPECT_NEAR(t2.flow.item<double>(), 2.0 * r.flow / n, 1e-5 * std::max(1.0, r.flow));
    EXPECT_NEAR(t2.smooth.item<double>(), 4.0 * r.smooth / n, 1e-5 * std::max(1.0, r.smooth));

    // The per-channel form against its own loop; on random flow the two forms differ.
    Ref rp;
    for (int64_t i = 0; i < n; ++i)
    {
        refDirection(gS[i], gT[i], mS[i], mT[i], rp, false);
        refDirection(gT[i], gS[i], mT[i], mS[i], rp, false);
    }
    sfnet::LossWeights per;
    per.smoothForm = sfnet::SmoothnessForm::PerChannel;
    const auto t3 = sfnet::sfnetLoss(gS, gT, mS, mT, per);
    EXPECT_NEAR(t3.smooth.item<double>(), 0.5 * rp.smooth / n, 1e-5 * std::max(1.0, rp.smooth));
    EXPECT_NEAR(t3.flow.item<double>(), t.flow.item<double>(), 1e-6);
    EXPECT_GT(rp.smooth, r.smooth * 1.1);  // |a + b| <= |a| + |b|, strictly on random flow
    std::cout << "[ measured ] unweighted smoothness on random grids: authors' form " << r.smooth
              << ", per-channel " << rp.smooth << "\n";
}

// One foreground cell at (x=1, y=1) of a 3x4 grid; S2T flow Fx = 0.2 x, Fy = -0.1 x + 0.3 y
// (normalised units), T2S identity with an empty mask. Central differences at (1, 1):
// dFx/dx = 0.2, dFy/dx = -0.1, dFx/dy = 0, dFy/dy = 0.3. By hand, over 1 fg cell + 1:
//  authors' form:     |0.2 - 0.1| + |0 + 0.3|       = 0.4 -> 0.5 * 0.4 / 2 = 0.10
//  per-channel form:  |0.2| + |-0.1| + |0| + |0.3|  = 0.6 -> 0.5 * 0.6 / 2 = 0.15
TEST(Losses, SmoothnessFormsOnAHandComputedFlow)
{
    const int64_t h = 3, w = 4;
    auto gS = identity(1, h, w);
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
        {
            gS.index_put_({0, 0, y, x}, gS.index({0, 0, y, x}) + 0.2 * x);
            gS.index_put_({0, 1, y, x}, gS.index({0, 1, y, x}) - 0.1 * x + 0.3 * y);
        }
    const auto gT = identity(1, h, w), mS = box(h, w, 1, 1, 1, 1), mT = torch::zeros({1, 1, h, w});
    const auto sum = sfnet::sfnetLoss(gS, gT, mS, mT);  // default: the authors' form
    EXPECT_NEAR(sum.smooth.item<double>(), 0.10, 1e-6);
    sfnet::LossWeights per;
    per.smoothForm = sfnet::SmoothnessForm::PerChannel;
    EXPECT_NEAR(sfnet::sfnetLoss(gS, gT, mS, mT, per).smooth.item<double>(), 0.15, 1e-6);
}

TEST(Losses, GradientFlowsToTheGrids)
{
    torch::manual_seed(3);
    const int64_t h = 4, w = 4;
    auto gS = (identity(1, h, w) + 0.2 * torch::randn({1, 2, h, w})).requires_grad_(true);
    auto gT = (identity(1, h, w) + 0.2 * torch::randn({1, 2, h, w})).requires_grad_(true);
    const auto m = torch::ones({1, 1, h, w});
    auto t = sfnet::sfnetLoss(gS, gT, m, m);
    t.total.backward();
    ASSERT_TRUE(gS.grad().defined());
    EXPECT_GT(gS.grad().abs().sum().item<double>(), 0.0);
    EXPECT_GT(gT.grad().abs().sum().item<double>(), 0.0);
}

TEST(Losses, RejectsInconsistentShapes)
{
    const auto g = identity(1, 4, 4), m = torch::ones({1, 1, 4, 4});
    EXPECT_THROW(sfnet::sfnetLoss(g, identity(1, 4, 5), m, m), std::runtime_error);
    EXPECT_THROW(sfnet::sfnetLoss(g, g, torch::ones({1, 1, 3, 4}), m), std::runtime_error);
    EXPECT_THROW(sfnet::sfnetLoss(g, g, m, torch::ones({2, 1, 4, 4})), std::runtime_error);
    EXPECT_THROW(sfnet::sfnetLoss(torch::zeros({1, 3, 4, 4}), torch::zeros({1, 3, 4, 4}), m, m), std::runtime_error);
}
