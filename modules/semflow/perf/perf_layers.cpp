// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The two semflow operators at SFNet's grid sizes: 20x20 (a 320x320 input at stride 16) and
// 40x40 (640x640); 1024 channels is ResNet-101's layer3, 256 a small backbone.

#include "perf_precomp.hpp"

namespace opencv_test {
namespace {

typedef std::tuple<int, int> ChannelsGrid;

Mat randomBlob(int n, int c, int h, int w)
{
    const int shape[] = {n, c, h, w};
    Mat m(4, shape, CV_32F);
    cv::theRNG().state = 0x5e3f;
    cv::randu(m, -1.f, 1.f);
    return m;
}

typedef TestBaseWithParam<ChannelsGrid> Perf_SemflowCorrelation;

PERF_TEST_P(Perf_SemflowCorrelation, normalizeRelu,
            testing::Combine(testing::Values(256, 1024), testing::Values(20, 40)))
{
    const int channels = std::get<0>(GetParam()), side = std::get<1>(GetParam());
    const Mat source = randomBlob(1, channels, side, side), target = randomBlob(1, channels, side, side);
    Mat corr({1, side * side, side, side}, CV_32F);  // OpenCV's ts wants outputs allocated
    // 2-D views of the 4-D blobs: OpenCV 5's ts sizes declared arrays with a 2-D-only size().
    declare.in(source.reshape(1, 1), target.reshape(1, 1)).out(corr.reshape(1, 1));
    TEST_CYCLE() semflow::correlation(source, target, corr);
    ASSERT_EQ(corr.size[1], side * side);
    SANITY_CHECK_NOTHING();
}

typedef TestBaseWithParam<int> Perf_SemflowKernelSoftArgmax;

PERF_TEST_P(Perf_SemflowKernelSoftArgmax, defaults, testing::Values(20, 40))
{
    const int side = GetParam();
    Mat corr = randomBlob(1, side * side, side, side);
    corr = cv::max(corr, 0.f);  // what a Correlation with relu hands over
    Mat grid({1, 2, side, side}, CV_32F);
    declare.in(corr.reshape(1, 1)).out(grid.reshape(1, 1));  // 2-D views, as above
    TEST_CYCLE() semflow::kernelSoftArgmax(corr, Size(side, side), grid);
    ASSERT_EQ(grid.size[1], 2);
    SANITY_CHECK_NOTHING();
}

}  // namespace
}  // namespace opencv_test
