// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// cv::SemanticFlow on bad input: every case must raise a cv::Exception that says what is
// wrong. Uses only the bundled model, so it also runs where libonnx is absent (in-tree).

#include "test_precomp.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>

#include "opencv2/core/utils/logger.hpp"
#include "opencv2/imgcodecs.hpp"

namespace opencv_test { namespace {

std::string bundledModel()
{
    const std::string path = semflowTestData("models/semflow_tiny.onnx");
    EXPECT_TRUE(std::ifstream(path).good()) << "the bundled model " << path << " is missing";
    return path;
}

std::string writeBytes(const std::string& bytes)
{
    const std::string path = cv::tempfile(".onnx");
    std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
    return path;
}

TEST(Semflow_SemanticFlow, bad_images_raise_clear_errors)
{
    SEMFLOW_REQUIRE_TEST_DATA("models/semflow_tiny.onnx");
    SEMFLOW_REQUIRE_TEST_DATA("demo");
    const std::string model = bundledModel();
    Ptr<SemanticFlow> sf = SemanticFlow::create(model);
    const Mat good = imread(semflowTestData("demo/source.png"), IMREAD_COLOR);
    ASSERT_FALSE(good.empty());
    Mat flow;
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(Mat(), good, flow), "source image is empty");
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(good, Mat(), flow), "target image is empty");
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(Mat(32, 32, CV_16UC3), good, flow), "got CV_16UC3");
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(good, Mat(32, 32, CV_8UC2), flow), "got CV_8UC2");
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(good, Mat(32, 32, CV_32SC3, Scalar::all(3)), flow),
                             "got CV_32SC3 (NumPy int32 and int64 arrays arrive as CV_32S");
    const int batchShape[4] = {1, 32, 32, 3};  // a NumPy (1, H, W, 3) batch
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(Mat(4, batchShape, CV_8UC1, Scalar(0)), good, flow),
                             "got a 4-D array of CV_8UC1, shape [1 x 32 x 32 x 3]");
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(good, Mat(32, 32, CV_64FC3, Scalar::all(2.0)), flow),
                             "target image is CV_64F, so its values must lie in [0, 1]");
    Mat scaled255;
    good.convertTo(scaled255, CV_32F);  // forgot to divide by 255
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(scaled255, good, flow), "must lie in [0, 1]");
    Mat withNan;
    good.convertTo(withNan, CV_32F, 1.0 / 255);
    withNan.at<Vec3f>(5, 7)[1] = std::numeric_limits<float>::quiet_NaN();
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(good, withNan, flow), "target image is CV_32F");
    std::vector<Mat> flows;
    SEMFLOW_EXPECT_THROW_MSG(sf->calcBatch(std::vector<Mat>{good, good}, std::vector<Mat>{good}, flows),
                             "2 sources but 1 targets");
    SEMFLOW_EXPECT_THROW_MSG(sf->calcBatch(std::vector<Mat>{good, good}, std::vector<Mat>{good, Mat(8, 8, CV_16SC1)}, flows),
                             "target #1 image with 1, 3 or 4 channels, got CV_16SC1");
    SEMFLOW_EXPECT_THROW_MSG(sf->calcOneToMany(good, std::vector<Mat>{good, Mat()}, flows), "target #1 image is empty");
    SEMFLOW_EXPECT_THROW_MSG(sf->setBeta(std::numeric_limits<float>::quiet_NaN()), "beta must be finite");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(model, Size(100, 96)), "multiples of 32");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(model, Size(32, 32)), "at least 64");
    // Numbers outside the enums (a cast in C++; from Python any int reaches these) are refused.
    SEMFLOW_EXPECT_THROW_MSG(sf->setPreferableBackend(static_cast<dnn::Backend>(-3)), "not a cv::dnn::Backend");
    SEMFLOW_EXPECT_THROW_MSG(sf->setPreferableBackend(static_cast<dnn::Backend>(12345)), "12345 is not a cv::dnn::Backend");
    SEMFLOW_EXPECT_THROW_MSG(sf->setPreferableTarget(static_cast<dnn::Target>(77)), "77 is not a cv::dnn::Target");
    // A rejected number leaves the instance as it was.
    EXPECT_EQ(sf->getPreferableBackend(), dnn::DNN_BACKEND_OPENCV);
    EXPECT_EQ(sf->getPreferableTarget(), dnn::DNN_TARGET_CPU);
}

TEST(Semflow_SemanticFlow, damaged_or_foreign_model_files_say_what_is_wrong)
{
    SEMFLOW_REQUIRE_TEST_DATA("models/semflow_tiny.onnx");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(""), "no model file given");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create("/nonexistent/dir/model.onnx"), "missing or unreadable");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(semflowTestData("models")), "is a directory");

    const std::string empty = writeBytes("");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(empty), "is empty");
    std::remove(empty.c_str());

    std::ifstream in(bundledModel(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 200u);
    for (size_t cut : {bytes.size() / 2, bytes.size() - 3, size_t(7)})
    {
        const std::string truncated = writeBytes(bytes.substr(0, cut));
        SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(truncated), "not a readable ONNX model");
        std::remove(truncated.c_str());
    }
    const std::string text = writeBytes("This is a README, not a network.\n");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(text), "not a readable ONNX model");
    std::remove(text.c_str());
    const std::string png = writeBytes(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + std::string(64, '\x33'));
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(png), "not a readable ONNX model");
    std::remove(png.c_str());
}

// create() silences OpenCV 4.7+'s per-node "missing dispatch map" warnings by raising the log
// level during the import (the Python tests check what is printed): the level comes back,
// whether the import succeeds or throws (the FP16 graph on OpenCV 4.6), and a level the user
// chose is not touched.
TEST(Semflow_SemanticFlow, create_restores_the_log_level)
{
    namespace logging = cv::utils::logging;
    SEMFLOW_REQUIRE_TEST_DATA("models/semflow_tiny_fp16.onnx");
    const logging::LogLevel before = logging::getLogLevel();
    for (logging::LogLevel level : {logging::LOG_LEVEL_WARNING, logging::LOG_LEVEL_INFO, logging::LOG_LEVEL_ERROR})
        for (const char* model : {"models/semflow_tiny.onnx", "models/semflow_tiny_fp16.onnx"})
        {
            logging::setLogLevel(level);
            try
            {
                SemanticFlow::create(semflowTestData(model));
            }
            catch (const cv::Exception&)
            {
            }
            EXPECT_EQ(logging::getLogLevel(), level) << model;
        }
    logging::setLogLevel(before);
}

// A float64 image in [0, 1] (scikit-image's img_as_float) gives the flow of the same image in
// float32, which is what the network computes in.
TEST(Semflow_SemanticFlow, float64_images_are_taken_as_float32)
{
    SEMFLOW_REQUIRE_TEST_DATA("models/semflow_tiny.onnx");
    SEMFLOW_REQUIRE_TEST_DATA("demo");
    Ptr<SemanticFlow> sf = SemanticFlow::create(bundledModel());
    const Mat src8 = imread(semflowTestData("demo/source.png"), IMREAD_COLOR);
    const Mat tgt8 = imread(semflowTestData("demo/target.png"), IMREAD_COLOR);
    ASSERT_FALSE(src8.empty());
    ASSERT_FALSE(tgt8.empty());
    Mat src32, tgt32, src64, tgt64, flow32, flow64;
    src8.convertTo(src32, CV_32F, 1.0 / 255);
    tgt8.convertTo(tgt32, CV_32F, 1.0 / 255);
    src32.convertTo(src64, CV_64F);
    tgt32.convertTo(tgt64, CV_64F);
    sf->calc(src32, tgt32, flow32);
    sf->calc(src64, tgt64, flow64);
    ASSERT_EQ(flow64.type(), CV_32FC2);
    ASSERT_EQ(flow64.size(), src8.size());
    EXPECT_EQ(cv::norm(flow32, flow64, NORM_INF), 0.0);
    EXPECT_GT(cv::norm(flow32, NORM_INF), 1.0) << "a flow that does not move proves nothing";
}

}}  // namespace
