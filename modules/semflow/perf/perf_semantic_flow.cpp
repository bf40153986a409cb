// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// SemanticFlow::calc end to end on the bundled tiny model and demo pair (models/README.md of
// the test data), at the default 320x320 input and at 640x640. The ResNet-101 figures of
// doc/benchmarks.md come from bench/ (Google Benchmark, with the same-run LibTorch ratio).

#include "perf_precomp.hpp"

#include "opencv2/imgcodecs.hpp"

namespace opencv_test {
namespace {

typedef TestBaseWithParam<int> Perf_SemanticFlow;

PERF_TEST_P(Perf_SemanticFlow, calc_tiny, testing::Values(320, 640))
{
    const int side = GetParam();
    const Mat source = imread(semflowPerfData("demo/source.png"), IMREAD_COLOR);
    const Mat target = imread(semflowPerfData("demo/target.png"), IMREAD_COLOR);
    ASSERT_FALSE(source.empty() || target.empty());
    Ptr<SemanticFlow> sf = SemanticFlow::create(semflowPerfData("models/semflow_tiny.onnx"), Size(side, side));
    Mat flow;
    sf->calc(source, target, flow);  // warm-up: the first run allocates the network's buffers
    declare.in(source, target).out(flow);
    TEST_CYCLE() sf->calc(source, target, flow);
    ASSERT_EQ(flow.size(), source.size());
    SANITY_CHECK_NOTHING();
}

}  // namespace
}  // namespace opencv_test
