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
// out (M x N) = t^T s for t (K x M) and s (K x N), all row-major and dense: the correlation's
// product. OpenCV's cv::gemm where this OpenCV has an external BLAS behind it (Lapack in its build
// information), else gemmTransposedA, a register-blocked kernel on universal intrinsics (where
// cv::gemm runs single-threaded C++: 18 GFLOP/s on OpenCV 4.14, doc/benchmarks.md).
void correlationProduct(const float* t, const float* s, int K, int M, int N, float* out);
// The kernel itself, always (exported for its test and bench_layers).
CV_EXPORTS void gemmTransposedA(const float* t, const float* s, int K, int M, int N, float* out);
// Whether correlationProduct uses cv::gemm (true) or gemmTransposedA (false); exported for the test.
CV_EXPORTS bool correlationUsesBlas();
// corr [N,Ht*Wt,Hs,Ws], grid preallocated [N,2,Hs,Ws].
void kernelSoftArgmaxForward(const Mat& corr, int Ht, int Wt, Mat& grid, float beta, float sigma,
                             bool normalize);

}  // namespace detail
}  // namespace semflow
}  // namespace cv

#endif
