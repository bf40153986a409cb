// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_FLOW_UTILS_HPP
#define OPENCV_SEMFLOW_FLOW_UTILS_HPP

#include <vector>

#include "opencv2/core.hpp"

#include "opencv2/imgproc.hpp"

namespace cv {
namespace semflow {

//! @addtogroup semflow
//! @{

/** @brief Warps an image by a flow field (backward warping).

`dst(p) = image(p + flow(p))`: with the source-to-target flow of cv::SemanticFlow::calc,
this brings the *target* image into the *source's* frame. Sampling uses cv::remap.

@param image image to sample from (any type and channel count cv::remap supports).
@param flow CV_32FC2 flow in pixels; dst has its size.
@param dst output, the size of flow, the type of image.
@param interpolation cv::INTER_LINEAR (default), cv::INTER_NEAREST or cv::INTER_CUBIC.
@param borderMode how positions outside image are filled (cv::BorderTypes).
@param borderValue the fill value for cv::BORDER_CONSTANT.
*/
CV_EXPORTS_W void warpImage(InputArray image, InputArray flow, OutputArray dst,
                            int interpolation = INTER_LINEAR, int borderMode = BORDER_CONSTANT,
                            const Scalar& borderValue = Scalar());

/** @brief Warps a label map by a flow field with nearest-neighbour sampling.

`dst(p) = labels(round(p + flow(p)))`; labels are never blended. Positions outside the
label map get `fill`.

@param labels single-channel CV_8U, CV_16U, CV_16S or CV_32S label map.
@param flow CV_32FC2 flow in pixels; dst has its size.
@param dst output label map, the size of flow, the type of labels.
@param fill label for positions that map outside the label map.
*/
CV_EXPORTS_W void warpLabels(InputArray labels, InputArray flow, OutputArray dst, int fill = 0);

/** @brief Transfers points through a flow field: `out[k] = p_k + flow(p_k)`.

The flow is sampled bilinearly in single-precision float (not cv::remap's fixed point).
Points outside the flow's domain are clamped to its border for sampling (keypoints on the
image's right/bottom edge, x = width, are common in the benchmarks' annotations). A
non-finite point raises cv::Exception.

@param points points in the flow's frame (the source image for a source-to-target flow).
@param flow CV_32FC2 flow in pixels.
@param transferred output points, in the other image's frame. From Python: an (N, 2) float32
array; for no points an empty tuple, as cv2 returns every empty vector.
*/
CV_EXPORTS_W void transferKeypoints(const std::vector<Point2f>& points, InputArray flow,
                                    CV_OUT std::vector<Point2f>& transferred);

/** @overload

For points held in an array of any numeric depth. In Python this is the form that an (N, 2) or
(N, 1, 2) array of any numeric dtype reaches, int64 included (what `np.array` makes of integer
annotations); lists of (x, y) pairs and float32 arrays take the form above.

@param points N points: an N x 2 one-channel, or an N x 1 or 1 x N two-channel array, of any
depth. An empty array is no points.
@param flow CV_32FC2 flow in pixels.
@param transferred output points, as the form above gives them.
*/
CV_EXPORTS_W void transferKeypoints(const Mat& points, InputArray flow, CV_OUT std::vector<Point2f>& transferred);

/** @brief Transfers a binary mask through a flow field.

`dst(p) = 255` where the mask, read as 0/1 (nonzero = 1) and sampled bilinearly at
`p + flow(p)`, is at least 0.5, else 0. Outside the mask counts as 0. With a
source-to-target flow this brings the target's mask into the source's frame.

@param mask single-channel CV_8U mask (nonzero = foreground).
@param flow CV_32FC2 flow in pixels; dst has its size.
@param dst CV_8UC1 output mask with values 0 and 255.
*/
CV_EXPORTS_W void transferMask(InputArray mask, InputArray flow, OutputArray dst);

/** @brief Colour-wheel visualisation of a flow field (the Middlebury colour coding).

The hue encodes the direction on the 55-colour wheel of Baker et al. (rightward = red,
downward = orange-yellow, leftward = cyan-blue, upward = blue-magenta; y points down as in
images), the saturation the magnitude relative to maxMotion:
zero flow is white, a flow of length maxMotion is the fully saturated wheel colour; longer
flows are drawn darker (x 0.75). Non-finite vectors are drawn black.

@param flow CV_32FC2 flow.
@param dst CV_8UC3 BGR picture of the flow's size.
@param maxMotion length drawn fully saturated; <= 0 uses the largest finite length in the
       flow (or 1 if the flow is all zero).
*/
CV_EXPORTS_W void flowToColor(InputArray flow, OutputArray dst, float maxMotion = -1.f);

/** @brief Side-by-side picture of two images with lines between matched points.

Draws source (left) and target (right), top-aligned on a black canvas of size
(Ws + Wt, max(Hs, Ht)), and for the source points on a regular grid of spacing `step`
(the first at (step/2, step/2)), a line from p to the match `p + flow(p)` drawn in the
right half. Lines are coloured by the source position (hue by x, brightness by y) so that
neighbouring matches can be told apart; endpoints are drawn as small circles.

@param source source image (CV_8U, 1, 3 or 4 channels).
@param target target image (CV_8U, 1, 3 or 4 channels).
@param flow CV_32FC2 source-to-target flow at the source's size.
@param dst CV_8UC3 output picture.
@param step grid spacing of the sampled matches in source pixels (>= 1).
@param mask optional CV_8UC1 mask at the source's size: only points where it is nonzero.
@param thickness line thickness.
*/
CV_EXPORTS_W void drawFlowMatches(InputArray source, InputArray target, InputArray flow,
                                  OutputArray dst, int step = 32, InputArray mask = noArray(),
                                  int thickness = 1);

/** @brief Antialiased bilinear resize: the filter of PIL's `Image.resize(size, Image.BILINEAR)`,
which SFNet's authors used to bring images to the network's size.

Separable, horizontal pass first (as in PIL, a pass whose axis keeps its size is skipped;
its weights would be the identity). Output pixel i of an axis with scale
s = in/out is centred on input coordinate c = (i + 0.5) s and weighs the input pixels j
with |j + 0.5 - c| < f + 0.5 (clipped to the image) by the triangle max(0, 1 - |j + 0.5 - c| / f),
stretched by f = max(s, 1), weights normalised to sum 1. When shrinking, every input pixel
thus contributes (cv::INTER_LINEAR samples only two per output pixel; cv::INTER_AREA is a
box of width s, narrower than this triangle of width 2s). When enlarging it is ordinary
bilinear interpolation with half-pixel centres (cv::INTER_LINEAR up to rounding).

CV_8U images are computed with PIL's 8-bit arithmetic (22-bit fixed-point weights, an 8-bit
intermediate image after the horizontal pass, each pass rounded and clipped), so they equal
PIL's result on "L" and "RGB" images exactly. CV_32F images are computed in double
precision and equal PIL's "F" mode up to float rounding (PIL keeps its intermediate in
float).
@param src CV_8U or CV_32F image with 1 to 4 channels.
@param dst output at dsize, of src's type; may be src itself.
@param dsize output size, both sides positive, within the bounds of SemanticFlow::calc().
@throws cv::Exception on an empty image, another type, a non-positive or too large size.

C++ only (not wrapped for Python): it is what SemanticFlow does with
semflow::RESIZE_ANTIALIASED_BILINEAR, exported for C++ code that must prepare images exactly
so (the trainer); in Python, PIL's `Image.resize` is the filter itself.
*/
CV_EXPORTS void resizeAntialiased(InputArray src, OutputArray dst, Size dsize);

//! @}

}  // namespace semflow
}  // namespace cv

#endif  // OPENCV_SEMFLOW_FLOW_UTILS_HPP
