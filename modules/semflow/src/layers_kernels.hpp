// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_LAYERS_KERNELS_HPP
#define OPENCV_SEMFLOW_LAYERS_KERNELS_HPP

#include "opencv2/core.hpp"

namespace cv {
namespace semflow {
namespace detail {

// Shapes are validated by the callers; these only compute. All blobs are continuous CV_32F.
// src [N,C,Hs,Ws], tgt [N,C,Ht,Wt], out preallocated [N,Ht*Wt,Hs,Ws].
void correlationForward(const Mat& src, const Mat& tgt, Mat& out, bool normalize, bool relu);
// corr [N,Ht*Wt,Hs,Ws], grid preallocated [N,2,Hs,Ws].
void kernelSoftArgmaxForward(const Mat& corr, int Ht, int Wt, Mat& grid, float beta, float sigma,
                             bool normalize);

}  // namespace detail
}  // namespace semflow
}  // namespace cv

#endif
