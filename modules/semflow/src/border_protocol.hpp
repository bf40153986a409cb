// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// SFNet's input and output protocol (semantic_flow.hpp, "Preprocessing and the border
// protocol"): how an image becomes a network input and how a grid of normalised target
// coordinates becomes a pixel flow. Internal: exported only so that the module's tests can
// pin it down against hand-computed values.

#ifndef OPENCV_SEMFLOW_SRC_BORDER_PROTOCOL_HPP
#define OPENCV_SEMFLOW_SRC_BORDER_PROTOCOL_HPP

#include "opencv2/core.hpp"

namespace cv {
namespace semflow {
namespace detail {

//! Pixels of zero padding on every side with the border protocol (one feature cell).
const int kBorderPixels = 16;

/** Raises cv::Exception naming `what` ("source", "target #3") unless img is a non-empty 2-D
CV_8U or CV_32F image with 1, 3 or 4 channels, CV_32F values in [0, 1]. */
CV_EXPORTS void checkInputImage(const Mat& img, const char* what);

/** An image as the graph takes it: checked (checkInputImage), CV_32FC3, RGB, [0, 1], resized to
inputSize or, with `pad`, to inputSize less 2 * kBorderPixels and zero-padded back to
inputSize. `filter` is a cv::semflow::ResizeFilter: RESIZE_AREA_OR_LINEAR (INTER_AREA when
both sides shrink, INTER_LINEAR otherwise) or RESIZE_ANTIALIASED_BILINEAR (resizeAntialiased,
on the 8-bit or float image before the scaling to [0, 1], like PIL on the decoded image);
SemanticFlow::setResizeFilter() has validated it, any other value means RESIZE_AREA_OR_LINEAR. */
CV_EXPORTS Mat preprocessImage(const Mat& img, Size inputSize, bool pad, const char* what, int filter = 0);

/** Bilinear upsampling of a CV_32FC1 map with align_corners=True semantics (the corner samples
coincide), in float: cv::resize uses half-pixel centres and cv::remap fixed-point weights. */
CV_EXPORTS void upsampleAlignCorners(const Mat& src, Size dstSize, Mat& dst);

/** One [2, Hg, Wg] grid of normalised target coordinates (x plane, then y plane) to a CV_32FC2
pixel flow at querySize, towards an image of otherSize. With `pad` the outer ring of cells is
dropped and the rest rescaled by (Wg/(Wg-2), Hg/(Hg-2)) to span the unpadded area. */
CV_EXPORTS void gridToFlow(const float* grid, int Hg, int Wg, bool pad, Size querySize,
                           Size otherSize, Mat& flow);

}  // namespace detail
}  // namespace semflow
}  // namespace cv

#endif
