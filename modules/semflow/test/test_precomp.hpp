// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_TEST_PRECOMP_HPP
#define OPENCV_SEMFLOW_TEST_PRECOMP_HPP

// The same test files build two ways: in an OpenCV source tree with opencv_ts, and
// standalone (Debian's OpenCV has no opencv_ts) with plain GoogleTest.
#ifdef SEMFLOW_STANDALONE_TESTS
#include <gtest/gtest.h>
#include "opencv2/core.hpp"
namespace opencv_test {
using namespace cv;
using namespace ::testing;
}  // namespace opencv_test
#else
#include "opencv2/ts.hpp"
#endif

#include "opencv2/dnn.hpp"
#include "opencv2/dnn/shape_utils.hpp"
#include "opencv2/semflow.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include "opencv2/core/utils/filesystem.hpp"

namespace opencv_test {

// Test data lives in a tree laid out like opencv_extra's testdata/: this repository's
// test_data/ is one (test_data/semflow/...), so OPENCV_TEST_DATA_PATH=<repo>/test_data works,
// and so does opencv_extra's testdata once semflow/ is copied into it.

//! The path of `semflow/<relative>` in the test data tree, or "" when it is not there.
//! In-tree this is cvtest::findDataFile's search (OPENCV_TEST_DATA_PATH). Standalone it is the
//! same variable, then the repository's test_data/ (SEMFLOW_TEST_DATA_DIR, set by CMake).
inline std::string semflowFindTestData(const std::string& relative)
{
#ifdef SEMFLOW_STANDALONE_TESTS
    std::vector<std::string> roots;
    if (const char* env = std::getenv("OPENCV_TEST_DATA_PATH"))
        roots.push_back(std::string(env) + "/semflow");
#ifdef SEMFLOW_TEST_DATA_DIR
    roots.push_back(std::string(SEMFLOW_TEST_DATA_DIR) + "/semflow");
#endif
    for (const std::string& root : roots)
    {
        const std::string path = root + "/" + relative;
        if (cv::utils::fs::exists(path))
            return path;
    }
    return std::string();
#else
    // CV_TEST_MAIN("semflow") makes ts search <OPENCV_TEST_DATA_PATH>/semflow/.
    try
    {
        return cvtest::findDataFile(relative, false);
    }
    catch (const cvtest::SkipTestException&)
    {
    }
    try
    {
        return cvtest::findDataDirectory(relative, false);
    }
    catch (const cvtest::SkipTestException&)
    {
    }
    return std::string();
#endif
}

//! Skips the current test (from its body or SetUp) when `semflow/<relative>` is absent from
//! the test data tree, saying which file and which variable to set.
#define SEMFLOW_REQUIRE_TEST_DATA(relative)                                                 \
    do                                                                                      \
    {                                                                                       \
        if (::opencv_test::semflowFindTestData(relative).empty())                          \
            SEMFLOW_SKIP_TEST_(std::string("test data semflow/") + (relative) +             \
                               " not found; set OPENCV_TEST_DATA_PATH to a testdata tree "  \
                               "that holds semflow/ (this repository's test_data/)");       \
    } while (0)
#ifdef SEMFLOW_STANDALONE_TESTS
#define SEMFLOW_SKIP_TEST_(msg) GTEST_SKIP() << (msg)
#else
#define SEMFLOW_SKIP_TEST_(msg) throw ::cvtest::SkipTestException(msg)
#endif

//! The path of `semflow/<relative>` (a file or a directory) in the test data tree. A missing one
//! skips the test in-tree (ts catches the exception anywhere in a test); standalone, where
//! GoogleTest can only skip from the test body, it raises cv::Exception, so tests call
//! SEMFLOW_REQUIRE_TEST_DATA first.
inline std::string semflowTestData(const std::string& relative)
{
    const std::string path = semflowFindTestData(relative);
#ifndef SEMFLOW_STANDALONE_TESTS
    if (path.empty())
        throw ::cvtest::SkipTestException("test data semflow/" + relative + " not found; set "
                                          "OPENCV_TEST_DATA_PATH to a testdata tree that holds "
                                          "semflow/ (this repository's test_data/)");
#endif
    if (path.empty())
        CV_Error(cv::Error::StsObjectNotFound,
                 "test data semflow/" + relative + " not found; set OPENCV_TEST_DATA_PATH to a "
                 "testdata tree that holds semflow/ (this repository's test_data/)");
    return path;
}

//! Expects `stmt` to throw cv::Exception whose message contains `needle`.
#define SEMFLOW_EXPECT_THROW_MSG(stmt, needle)                                              \
    do                                                                                      \
    {                                                                                       \
        bool thrown_ = false;                                                               \
        try                                                                                 \
        {                                                                                   \
            stmt;                                                                           \
        }                                                                                   \
        catch (const cv::Exception& e_)                                                     \
        {                                                                                   \
            thrown_ = true;                                                                 \
            EXPECT_NE(std::string(e_.what()).find(needle), std::string::npos)               \
                << "message was: " << e_.what();                                            \
        }                                                                                   \
        EXPECT_TRUE(thrown_) << "expected cv::Exception from: " #stmt;                      \
    } while (0)

}  // namespace opencv_test

#endif
