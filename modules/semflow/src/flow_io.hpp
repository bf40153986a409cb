// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// A checked `.flo` reader; not part of the public API (issue 19). It exists only to work
// around cv::readOpticalFlow's handling of bad files in OpenCV 4.6, which users of a fixed
// OpenCV do not need; the tests (test_input_limits.cpp) and the fuzzer (fuzz/fuzz_flo.cpp)
// call it, hence CV_EXPORTS (the symbol, not the header, leaves the library).

#ifndef OPENCV_SEMFLOW_SRC_FLOW_IO_HPP
#define OPENCV_SEMFLOW_SRC_FLOW_IO_HPP

#include "opencv2/core.hpp"

namespace cv {
namespace semflow {

/** @brief Reads a Middlebury `.flo` file, checking it before cv::readOpticalFlow does.

cv::readOpticalFlow returns an empty Mat for most bad files, and in OpenCV 4.6 sizes its
buffer from an unread (uninitialised) height when the header is cut short. This function
checks the file first: the "PIEH" tag, width and height positive and within the bounds of
calc() (at most 32768 per side, 2^27 pixels), and a file size of exactly
12 + 8 * width * height bytes; then it reads the flow with cv::readOpticalFlow.
@param path the `.flo` file.
@return the CV_32FC2 flow (dx, dy in pixels).
@throws cv::Exception naming the file and what is wrong with it.
*/
CV_EXPORTS Mat readFlow(const String& path);

}  // namespace semflow
}  // namespace cv

#endif  // OPENCV_SEMFLOW_SRC_FLOW_IO_HPP
