// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Helpers shared by the flow utilities and cv::SemanticFlow; not part of the public API.

#ifndef OPENCV_SEMFLOW_SRC_FLOW_INTERNAL_HPP
#define OPENCV_SEMFLOW_SRC_FLOW_INTERNAL_HPP

#include "opencv2/core.hpp"

namespace cv {
namespace semflow {

//! Raises cv::Exception unless flow is a non-empty 2-D CV_32FC2 matrix.
void checkFlow(const Mat& flow, const char* func);

//! Bilinear sample of a CV_32FC2 flow in float, position clamped to the flow's domain.
Point2f sampleFlowBilinear(const Mat& flow, float x, float y);

//! Middlebury colour of one flow vector (BGR), saturated at length maxMotion.
Vec3b flowVectorColor(float u, float v, float maxMotion);

}  // namespace semflow
}  // namespace cv

#endif
