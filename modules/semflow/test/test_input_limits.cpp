// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Hostile sizes and paths at the public entry points: each must raise a cv::Exception that
// names the file or states the bound it enforces (doc/reliability.md lists them), never
// another exception type, a multi-gigabyte allocation or an int overflow.

#include "test_benchmark_common.hpp"

#include <cstring>
#include <limits>
#include <memory>

#include "opencv2/imgcodecs.hpp"
#include "opencv2/video.hpp"

#include "../src/flow_io.hpp"

namespace opencv_test { namespace {

std::string tinyModel()
{
    return semflowTestData("models/semflow_tiny.onnx");
}

TEST(Semflow_InputLimits, directory_as_model_path_is_a_cv_exception_naming_it)
{
    TempDir dir;
    // Before the fix, reading a directory escaped as std::ios_failure.
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(dir.path()), "'" + dir.path() + "' is a directory");
}

TEST(Semflow_InputLimits, input_size_is_bounded)
{
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(tinyModel(), Size(65536, 65536)), "at most 2048 per side");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(tinyModel(), Size(320, 4096)), "at most 2048 per side");
    Ptr<SemanticFlow> sf = SemanticFlow::create(tinyModel(), Size(2048, 64));  // the bound itself is accepted
    EXPECT_EQ(sf->getInputSize(), Size(2048, 64));
}

TEST(Semflow_InputLimits, image_sizes_given_to_calc_are_bounded)
{
    Ptr<SemanticFlow> sf = SemanticFlow::create(tinyModel(), Size(64, 64));
    const Mat good(48, 40, CV_8UC3, Scalar(10, 200, 30));
    Mat flow;
    // Cheap to build (a tall, thin strip), and accepted before the bound existed.
    const Mat tall(32769, 2, CV_8UC3, Scalar::all(7));
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(tall, good, flow), "at most 32768 pixels per side");
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(good, tall, flow), "the target image is 2x32769");
    std::vector<Mat> flows;
    SEMFLOW_EXPECT_THROW_MSG(sf->calcBatch(std::vector<Mat>{good, good}, std::vector<Mat>{good, tall}, flows),
                             "target #1 image is 2x32769");
    SEMFLOW_EXPECT_THROW_MSG(sf->calcOneToMany(good, std::vector<Mat>{tall}, flows), "at most 32768");
    // 12000 x 12000 is within the per-side bound but over the pixel count. The pixels are
    // never touched (the check comes first), so the buffer stays unmapped virtual memory.
    std::unique_ptr<uchar[]> big(new uchar[(size_t)12000 * 12000]);
    const Mat huge(12000, 12000, CV_8UC1, big.get());
    SEMFLOW_EXPECT_THROW_MSG(sf->calc(huge, good, flow), "134217728 pixels in total");
    // The largest accepted side still works (exercises the bound's edge, not just the error).
    const Mat wide(1, 32768, CV_8UC3, Scalar::all(100));
    sf->calc(wide, good, flow);
    EXPECT_EQ(flow.size(), wide.size());
}

TEST(Semflow_InputLimits, layer_functions_reject_sizes_whose_product_overflows)
{
    // A correlation of 300x300 target cells by 200x200 source positions would be 3.6e9
    // floats (14 GB); the inputs themselves are small.
    Mat corr;
    const int ss[] = {1, 1, 200, 200}, ts[] = {1, 1, 300, 300};
    const Mat s(4, ss, CV_32F, Scalar(1)), t(4, ts, CV_32F, Scalar(1));
    SEMFLOW_EXPECT_THROW_MSG(semflow::correlation(s, t, corr), "more than the 2147483647 accepted");

    // 65537 x 65536 cells is 2^32 + 65536, which wraps to 65536 in 32 bits: before the fix a
    // [1, 65536, 1, 1] correlation was accepted with that target grid and read out of bounds.
    const int cs[] = {1, 65536, 1, 1};
    const Mat c(4, cs, CV_32F, Scalar(0.5));
    Mat grid;
    SEMFLOW_EXPECT_THROW_MSG(semflow::kernelSoftArgmax(c, Size(65537, 65536), grid), "4295032832 cells");
}

TEST(Semflow_InputLimits, benchmark_loaders_bound_paths_counts_and_reject_directories)
{
    TempDir dir;
    expectThrowsWith([&] { semflow::loadPFPascalPairs(dir.path()); }, {dir.path(), "is a directory"});
    expectThrowsWith([&] { semflow::loadPFWillowPairs(dir.path()); }, {dir.path(), "is a directory"});
    expectThrowsWith([&] { semflow::loadSPairAnnotation(dir.path(), dir.path()); }, {dir.path(), "is a directory"});

    const std::string longName(5000, 'a');
    const std::string csv = dir.write("long.csv", "source_image,target_image,class\n" + longName + ".jpg,b.jpg,1\n");
    expectThrowsWith([&] { semflow::loadPFPascalPairs(csv); }, {csv + ":2", "at most 4096"});

    std::string xs;
    for (int i = 0; i < 1001; i++)
        xs += (i ? ";" : "") + std::to_string(i);
    const std::string many = dir.write("many.csv", "source_image,target_image,class,XA,YA,XB,YB\na.jpg,b.jpg,1," +
                                                       xs + "," + xs + "," + xs + "," + xs + "\n");
    expectThrowsWith([&] { semflow::loadPFPascalPairs(many); }, {many + ":2", "1001 keypoints", "at most 1000"});

    std::string kps = "[";
    for (int i = 0; i < 1001; i++)
        kps += std::string(i ? "," : "") + "[1,2]";
    kps += "]";
    const std::string json = dir.write("many.json", "{\"category\":\"cat\",\"src_imname\":\"a.jpg\",\"trg_imname\":"
                                                    "\"b.jpg\",\"src_kps\":" + kps + ",\"trg_kps\":" + kps +
                                                    ",\"src_bndbox\":[0,0,1,1],\"trg_bndbox\":[0,0,1,1]}");
    expectThrowsWith([&] { semflow::loadSPairAnnotation(json, dir.path()); }, {json, "1001 keypoints"});
}

// Found by fuzz_onnx_model: the hand-made SFNet graph with one node output renamed, so that
// the next node reads a tensor nobody produces. OpenCV 4.6's importer crashed on it (SEGV).
TEST(Semflow_InputLimits, onnx_graph_with_a_dangling_node_input_is_rejected_before_opencv_imports_it)
{
    const std::string model = semflowTestData("fuzz/fuzz_onnx_model/regression-dangling-input.onnx");
    SEMFLOW_EXPECT_THROW_MSG(SemanticFlow::create(model),
                             "reads 'c3_s2t', which no graph input, initializer or earlier node defines");
    // Also found by fuzz_onnx_model: initializer 'w4' declares dims [43, 3, 1, 1] but holds 24
    // floats; OpenCV 4.6's importer read 516 bytes from the 96-byte buffer (ASan report).
    SEMFLOW_EXPECT_THROW_MSG(
        SemanticFlow::create(semflowTestData("fuzz/fuzz_onnx_model/regression-initializer-shorter-than-dims.onnx")),
        "initializer 'w4' declares 129 elements but holds 24");
    // And a malformed initializer (a truncated field inside it) once came back without a reason.
    SEMFLOW_EXPECT_THROW_MSG(
        SemanticFlow::create(semflowTestData("fuzz/fuzz_onnx_model/regression-malformed-initializer.onnx")),
        "not a readable ONNX model: a graph initializer is malformed");
    // The unmutated seed it came from loads.
    EXPECT_FALSE(SemanticFlow::create(semflowTestData("fuzz/fuzz_onnx_model/hand_hard_argmax.onnx")).empty());
}

// Found by fuzz_flo: "PIEH" plus 4 bytes made cv::readOpticalFlow (OpenCV 4.6) allocate
// 18 GB from an uninitialised height. semflow::readFlow checks the file before it.
TEST(Semflow_InputLimits, flo_files_are_checked_before_opencv_reads_them)
{
    TempDir dir;
    const std::string cut = dir.write("cut.flo", std::string("PIEH\x01PIE", 8));
    expectThrowsWith([&] { semflow::readFlow(cut); }, {cut, "too short for a .flo header"});
    auto header = [](const char* tag, int32_t w, int32_t h) {
        std::string s(tag, 4);
        s.append((const char*)&w, 4);
        s.append((const char*)&h, 4);
        return s;
    };
    const std::string huge = dir.write("huge.flo", header("PIEH", 40000, 40000));
    expectThrowsWith([&] { semflow::readFlow(huge); }, {huge, "declares a 40000x40000 flow", "1..32768"});
    const std::string negative = dir.write("negative.flo", header("PIEH", -3, 2));
    expectThrowsWith([&] { semflow::readFlow(negative); }, {negative, "declares a -3x2 flow"});
    const std::string tag = dir.write("tag.flo", header("PIEX", 1, 1) + std::string(8, '\0'));
    expectThrowsWith([&] { semflow::readFlow(tag); }, {tag, "tag 'PIEH'"});
    const std::string shortData = dir.write("short.flo", header("PIEH", 3, 2) + std::string(40, '\0'));
    expectThrowsWith([&] { semflow::readFlow(shortData); }, {shortData, "(60 bytes) but has 52 bytes"});
    expectThrowsWith([&] { semflow::readFlow(dir.path()); }, {dir.path(), "is a directory"});

    // A good file reads back exactly what cv::writeOpticalFlow wrote, NaN included.
    Mat flow(3, 5, CV_32FC2);
    randu(flow, -20, 20);
    flow.at<Point2f>(1, 2) = Point2f(std::numeric_limits<float>::quiet_NaN(), 1e30f);
    const std::string good = dir.path() + "/good.flo";
    ASSERT_TRUE(writeOpticalFlow(good, flow));
    const Mat back = semflow::readFlow(good);
    ASSERT_EQ(back.type(), CV_32FC2);
    ASSERT_EQ(back.size(), flow.size());
    EXPECT_EQ(std::memcmp(back.data, flow.data, flow.total() * flow.elemSize()), 0);
}

// Found by fuzz_flow_utils: a NaN in the flow at a keypoint gave a NaN normalised error,
// which compares false both ways (neither "within alpha" nor sortable).
TEST(Semflow_InputLimits, pck_scores_a_non_finite_flow_as_a_miss_with_infinite_error)
{
    Mat flow(8, 8, CV_32FC2, Scalar(1, 0));
    flow.at<Point2f>(2, 3) = Point2f(std::numeric_limits<float>::quiet_NaN(), 0.f);
    flow.at<Point2f>(5, 5) = Point2f(0.f, std::numeric_limits<float>::infinity());
    semflow::KeypointPair pair;
    // The last two lie exactly on finite vectors whose right/lower neighbours are not
    // finite: zero-weight neighbours used to turn them into NaN too.
    pair.sourceKeypoints = {Point2f(3, 2), Point2f(5, 5), Point2f(1, 1), Point2f(2, 2), Point2f(5, 4)};
    pair.targetKeypoints = {Point2f(4, 2), Point2f(5, 5), Point2f(2, 1), Point2f(3, 2), Point2f(6, 4)};
    pair.valid = {1, 1, 1, 1, 1};
    pair.sourceSize = pair.targetSize = flow.size();
    const semflow::PairPCK r = semflow::evaluatePairPCK(pair, flow, semflow::PCKProtocol());
    ASSERT_EQ(r.normalizedErrors.size(), 5u);
    EXPECT_EQ(r.normalizedErrors[0], std::numeric_limits<double>::infinity());
    EXPECT_EQ(r.normalizedErrors[1], std::numeric_limits<double>::infinity());
    for (int k = 2; k < 5; k++)
        EXPECT_EQ(r.normalizedErrors[k], 0.0) << k;  // the finite keypoints land exactly
    ASSERT_EQ(r.correct.size(), 3u);
    for (int c : r.correct)
        EXPECT_EQ(c, 3);  // only the three finite keypoints are correct, at every alpha
}

}}  // namespace
