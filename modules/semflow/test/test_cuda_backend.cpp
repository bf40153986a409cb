// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// DNN_BACKEND_CUDA against the CPU path on the bundled model. Needs an OpenCV built with
// OPENCV_DNN_CUDA and a CUDA device (scripts/build_opencv.sh --cuda, scripts/gpu_check.sh);
// elsewhere it skips and says why.

#include "test_precomp.hpp"

#include "opencv2/imgcodecs.hpp"

namespace opencv_test { namespace {

TEST(Semflow_CUDA, grids_match_the_cpu_path)
{
    SEMFLOW_REQUIRE_TEST_DATA("models/semflow_tiny.onnx");
    SEMFLOW_REQUIRE_TEST_DATA("demo");
    if (dnn::getAvailableTargets(dnn::DNN_BACKEND_CUDA).empty())
        SEMFLOW_SKIP_TEST_("no CUDA device, or OpenCV built without OPENCV_DNN_CUDA: nothing runs "
                           "on DNN_BACKEND_CUDA here");
    const std::string model = semflowTestData("models/semflow_tiny.onnx");
    const Mat source = imread(semflowTestData("demo/source.png"), IMREAD_COLOR);
    const Mat target = imread(semflowTestData("demo/target.png"), IMREAD_COLOR);
    ASSERT_FALSE(source.empty());
    ASSERT_FALSE(target.empty());

    Ptr<SemanticFlow> cpu = SemanticFlow::create(model);
    Ptr<SemanticFlow> gpu = SemanticFlow::create(model, Size(320, 320), true, -1.f, -1.f,
                                                 dnn::DNN_BACKEND_CUDA, dnn::DNN_TARGET_CUDA);
    gpu->setStrictBackend(true);  // a silent fallback would compare the CPU with itself
    ASSERT_EQ(gpu->getPreferableBackend(), dnn::DNN_BACKEND_CUDA);
    Mat fc, bc, fg, bg;
    cpu->calcBidirectional(source, target, fc, bc);
    gpu->calcBidirectional(source, target, fg, bg);
    // 1e-4 on normalised grids is 1e-4 * (W - 1) / 2 pixels of the image the flow points into.
    const double tolS2T = 1e-4 * (std::max(target.cols, target.rows) - 1) / 2;
    const double tolT2S = 1e-4 * (std::max(source.cols, source.rows) - 1) / 2;
    EXPECT_LE(cv::norm(fg, fc, NORM_INF), tolS2T);
    EXPECT_LE(cv::norm(bg, bc, NORM_INF), tolT2S);
}

}}  // namespace
