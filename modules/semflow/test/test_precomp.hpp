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

#include <string>

namespace opencv_test {

//! Absolute path of a file under the repository's test_data/ directory.
inline std::string semflowTestData(const std::string& relative)
{
#ifdef SEMFLOW_TEST_DATA_DIR
    return std::string(SEMFLOW_TEST_DATA_DIR) + "/" + relative;
#else
    return cvtest::findDataFile("semflow/" + relative);
#endif
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
