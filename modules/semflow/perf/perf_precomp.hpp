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

#include "opencv2/core/utils/filesystem.hpp"
#include "opencv2/semflow.hpp"

#include <string>

namespace opencv_test {
using namespace perf;

//! `semflow/<relative>` of the test data tree (opencv_extra's layout): in-tree found by
//! cvtest::findDataFile (OPENCV_TEST_DATA_PATH; skips when absent), standalone in the
//! repository's test data folder (SEMFLOW_TEST_DATA_DIR, with or without the semflow/ level).
inline std::string semflowPerfData(const std::string& relative)
{
#ifdef SEMFLOW_STANDALONE_TESTS
    const std::string nested = std::string(SEMFLOW_TEST_DATA_DIR) + "/semflow/" + relative;
    return cv::utils::fs::exists(nested) ? nested : std::string(SEMFLOW_TEST_DATA_DIR) + "/" + relative;
#else
    return cvtest::findDataFile("semflow/" + relative);
#endif
}

}  // namespace opencv_test

#endif
