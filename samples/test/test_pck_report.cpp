// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The evaluation sample's reports (modules/semflow/samples/pck_report.hpp): the table it
// prints, the JSON and CSV it writes. The JSON is read back with OpenCV's own parser.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/core/utility.hpp"
#include "opencv2/core/utils/filesystem.hpp"
#include "opencv2/semflow/benchmark.hpp"
#include "pck_report.hpp"
#include "semflow_sample_utils.hpp"

namespace {

using namespace cv::semflow;

// SPair's two bundled test pairs scored with the zero flow (as the module's PCK tests do), so
// that the numbers are the ones hand-computed in test_data/semflow/benchmarks.
PCKResult spairZeroFlowResult()
{
    semflow_samples::addBundledDataSearchPaths();
    const std::string layout = semflow_samples::findData("benchmarks/spair/Layout/large/test.txt");
    EXPECT_TRUE(cv::utils::fs::exists(layout)) << layout;
    const std::string root = layout.substr(0, layout.size() - std::string("/Layout/large/test.txt").size());
    const std::vector<KeypointPair> pairs = loadSPairPairs(root, "test");
    std::vector<cv::Mat> flows;
    for (size_t i = 0; i < pairs.size(); ++i)
        flows.push_back(cv::Mat::zeros(pairs[i].sourceSize, CV_32FC2));
    PCKProtocol protocol;  // alphas 0.05, 0.1, 0.15
    protocol.threshold = PCK_THRESHOLD_BBOX;
    protocol.direction = TRANSFER_SOURCE_TO_TARGET;
    return computePCK(pairs, flows, protocol, "spair test");
}

TEST(SamplePCKReport, TableHasTheProtocolAndPercentages)
{
    const PCKResult r = spairZeroFlowResult();
    const std::string t = semflow_samples::pckTable(r);
    EXPECT_EQ(t.substr(0, t.find('\n')), r.describe());
    EXPECT_NE(t.find("aeroplane"), std::string::npos) << t;
    EXPECT_NE(t.find("66.67"), std::string::npos) << t;  // 2/3 in percent
    EXPECT_NE(t.find("all (per pair)"), std::string::npos) << t;
    EXPECT_NE(t.find("class mean"), std::string::npos) << t;
}

TEST(SamplePCKReport, JsonReadsBackToTheSameNumbers)
{
    const PCKResult r = spairZeroFlowResult();
    const std::string json = cv::tempfile(".json");
    {
        std::ofstream out(json);
        out << semflow_samples::pckJSON(r);
    }
    cv::FileStorage fs(json, cv::FileStorage::READ);
    ASSERT_TRUE(fs.isOpened());
    EXPECT_EQ((std::string)fs["protocol"]["threshold"], "bbox");
    EXPECT_EQ((std::string)fs["protocol"]["direction"], "s2t");
    EXPECT_NEAR((double)fs["overall"]["pck_per_pair"][2], 5.0 / 6, 1e-6);
    EXPECT_EQ((int)fs["overall"]["keypoints"], 4);
    EXPECT_EQ(fs["classes"].size(), 2u);
    EXPECT_EQ((std::string)fs["pairs"][1]["category"], "cat");
    fs.release();
    std::remove(json.c_str());
}

TEST(SamplePCKReport, CsvHasTheProtocolOnEveryRow)
{
    const PCKResult r = spairZeroFlowResult();
    const std::string csv = semflow_samples::pckCSV(r);
    EXPECT_EQ(csv.substr(0, csv.find('\n')),
              "category,pairs,keypoints,pck_per_pair@0.05,pck_per_pair@0.1,pck_per_pair@0.15,"
              "pck_per_keypoint@0.05,pck_per_keypoint@0.1,pck_per_keypoint@0.15,threshold,direction");
    EXPECT_NE(csv.find("\nall,2,4,"), std::string::npos) << csv;
    EXPECT_NE(csv.find(",bbox,s2t\n"), std::string::npos) << csv;
}

}  // namespace
