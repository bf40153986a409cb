// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The samples' shared helpers (modules/semflow/samples/semflow_sample_utils.hpp).

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/core/utils/filesystem.hpp"
#include "opencv2/imgcodecs.hpp"
#include "semflow_sample_utils.hpp"

namespace {

using semflow_samples::parsePointList;

TEST(SamplePointList, ParsesPairsWithBlanksAndOneTrailingSeparator)
{
    std::vector<cv::Point2f> pts;
    std::string why;
    ASSERT_TRUE(parsePointList(" 120,80; 200.5 , -3e1 ;", pts, why)) << why;
    ASSERT_EQ(pts.size(), 2u);
    EXPECT_EQ(pts[0], cv::Point2f(120.f, 80.f));
    EXPECT_EQ(pts[1], cv::Point2f(200.5f, -30.f));
}

// Issue 13, bug 8: "1,2,3" used to become (1, 2).
TEST(SamplePointList, RejectsTrailingJunkInAnItem)
{
    const char* bad[] = {"1,2,3", "1,2x", "1,2;3,4,5", "1,2 3", "1,,2", "1;2", "1,2;;3,4", ",1", "1,",
                         "nan,1", "1,inf", "1e40,1", "", ";", "x,y"};
    for (const char* text : bad)
    {
        std::vector<cv::Point2f> pts(1, cv::Point2f(7.f, 7.f));
        std::string why;
        EXPECT_FALSE(parsePointList(text, pts, why)) << "accepted '" << text << "'";
        EXPECT_TRUE(pts.empty()) << text;
        EXPECT_FALSE(why.empty()) << text;
    }
    std::vector<cv::Point2f> pts;
    std::string why;
    ASSERT_FALSE(parsePointList("4,5;1,2,3", pts, why));
    EXPECT_EQ(why, "item '1,2,3' is not 'x,y' (two finite numbers)");
}

// Issue 13, bug 8: the sample reset the level to WARNING instead of restoring the user's.
TEST(SampleLogLevel, RestoresWhateverLevelWasSet)
{
    using namespace cv::utils::logging;
    const LogLevel original = getLogLevel();
    const LogLevel levels[] = {LOG_LEVEL_VERBOSE, LOG_LEVEL_INFO, LOG_LEVEL_SILENT};
    for (LogLevel before : levels)
    {
        setLogLevel(before);
        {
            semflow_samples::ScopedLogLevel quiet(LOG_LEVEL_ERROR);
            EXPECT_EQ(getLogLevel(), LOG_LEVEL_ERROR);
        }
        EXPECT_EQ(getLogLevel(), before);
        try
        {
            semflow_samples::ScopedLogLevel quiet(LOG_LEVEL_ERROR);
            throw std::runtime_error("leaves the scope");
        }
        catch (const std::runtime_error&)
        {
        }
        EXPECT_EQ(getLogLevel(), before);
    }
    setLogLevel(original);
}

// A JPEG whose pixels are stored `stored` (w x h) with an EXIF APP1 segment saying
// "Orientation = 6" (display rotated 90 degrees clockwise), put right after the JFIF header.
std::vector<uchar> jpegWithOrientation6(const cv::Mat& stored)
{
    std::vector<uchar> jpg;
    EXPECT_TRUE(cv::imencode(".jpg", stored, jpg));
    const uchar tiff[] = {'M', 'M', 0, 42, 0, 0, 0, 8,           // big-endian TIFF, IFD0 at offset 8
                          0, 1,                                   // one entry
                          0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,  // Orientation, SHORT, 1 value: 6
                          0, 0, 0, 0};                            // no next IFD
    std::vector<uchar> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), tiff, tiff + sizeof(tiff));
    const size_t len = app1.size() - 2;
    app1[2] = (uchar)(len >> 8);
    app1[3] = (uchar)(len & 0xFF);
    // SOI, then APP0 (JFIF) of length jpg[4..5]; insert APP1 after it.
    EXPECT_TRUE(jpg.size() > 6 && jpg[0] == 0xFF && jpg[1] == 0xD8 && jpg[2] == 0xFF && jpg[3] == 0xE0);
    const size_t at = 4 + (((size_t)jpg[4] << 8) | jpg[5]);
    jpg.insert(jpg.begin() + at, app1.begin(), app1.end());
    return jpg;
}

// Issue 13, bug 7 (semflow_eval's part): annotations are in the file's pixel grid, so the
// evaluation pictures must not be rotated by EXIF.
TEST(SampleImages, ReadAsStoredIgnoresExifOrientation)
{
    cv::Mat stored(40, 64, CV_8UC3, cv::Scalar(30, 30, 30));
    stored(cv::Rect(0, 0, 16, 8)).setTo(cv::Scalar::all(255));  // a mark at the top-left
    const std::vector<uchar> jpg = jpegWithOrientation6(stored);
    const std::string path = cv::utils::fs::join(cv::utils::fs::getcwd(), "semflow_exif_orientation6.jpg");
    {
        std::ofstream f(path.c_str(), std::ios::binary);
        f.write((const char*)jpg.data(), (std::streamsize)jpg.size());
        ASSERT_TRUE(f.good());
    }
    // The fixture is real: plain IMREAD_COLOR applies the rotation (so this test can fail).
    const cv::Mat rotated = cv::imread(path, cv::IMREAD_COLOR);
    ASSERT_EQ(rotated.size(), cv::Size(40, 64));

    const cv::Mat img = semflow_samples::readImageAsStored(path);
    std::remove(path.c_str());
    ASSERT_EQ(img.size(), stored.size());
    ASSERT_EQ(img.type(), CV_8UC3);
    // The mark stays at the top-left, where the annotations would put it (JPEG: loose bound).
    EXPECT_GT(cv::mean(img(cv::Rect(2, 2, 12, 4)))[0], 200.0);
    EXPECT_LT(cv::mean(img(cv::Rect(40, 20, 20, 16)))[0], 60.0);
}

TEST(SampleData, FindsBundledDefaultsAndKeepsWhatTheUserTyped)
{
    semflow_samples::addBundledDataSearchPaths();
    const std::string model = semflow_samples::findData("models/semflow_tiny.onnx");
    EXPECT_TRUE(cv::utils::fs::exists(model)) << model;
    EXPECT_NE(model, "models/semflow_tiny.onnx");  // the test runs outside the data folder
    EXPECT_EQ(semflow_samples::findData("/nonexistent/a.png"), "/nonexistent/a.png");
    EXPECT_EQ(semflow_samples::findData("no/such/file.png"), "no/such/file.png");
}

}  // namespace
