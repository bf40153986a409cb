// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_PERF_PRECOMP_HPP
#define OPENCV_SEMFLOW_PERF_PRECOMP_HPP

// In an OpenCV source tree these are OpenCV perf tests (opencv_ts). Standalone (Debian's
// OpenCV has no opencv_ts) the repository's bench/perf_standalone.hpp provides the part of
// the same API they use, on GoogleTest.
#ifdef SEMFLOW_STANDALONE_TESTS
#include "perf_standalone.hpp"
namespace opencv_test {
using namespace cv;
}
#else
#include "opencv2/ts.hpp"
#endif

#include "opencv2/semflow.hpp"

#include <string>

namespace opencv_test {
using namespace perf;

//! A file of the semflow test data (the same lookup as test/test_precomp.hpp's semflowTestData).
inline std::string semflowPerfData(const std::string& relative)
{
#ifdef SEMFLOW_TEST_DATA_DIR
    return std::string(SEMFLOW_TEST_DATA_DIR) + "/" + relative;
#else
    return cvtest::findDataFile("semflow/" + relative);
#endif
}

}  // namespace opencv_test

#endif
