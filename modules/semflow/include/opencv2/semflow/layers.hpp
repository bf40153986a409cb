// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_LAYERS_HPP
#define OPENCV_SEMFLOW_LAYERS_HPP

#include "opencv2/core.hpp"

namespace cv {
namespace semflow {

//! @addtogroup semflow
//! @{

/** @brief Registers the semflow custom layers with cv::dnn::LayerFactory.

Registers `org.opencv.semflow.Correlation`, `org.opencv.semflow.KernelSoftArgmax` and
`org.opencv.semflow.ConstantClip` (a clamp with constant bounds, created as OpenCV's own
ReLU6 layer so that a convolution fuses it), the layer types OpenCV's ONNX importer creates
for nodes of domain
`org.opencv.semflow`. Call it before cv::dnn::readNetFromONNX (the importer
instantiates layers while it reads the file). Safe to call any number of times
from any number of threads; registration happens once. cv::SemanticFlow calls it
itself. See @ref semflow_onnx_ops (`modules/semflow/doc/onnx_ops.md`) for the normative
operator specification, and @cite Lee2019SFNet for the method.

OpenCV 5.1's importer looks these nodes up by their bare names (`Correlation`,
`KernelSoftArgmax`, `ConstantClip`), so there they are registered under those names too. A
`Correlation` node with a `kernel_size` attribute still gets OpenCV's own FlowNet correlation.
*/
CV_EXPORTS_W void registerLayers();

/** @brief Dense cosine correlation between two feature maps.

For each batch item n, source position i = ys*Ws + xs and target position
j = yt*Wt + xt:
\f[ C[n, j, i] = \mathrm{ReLU}\left( \hat f_s(i) \cdot \hat f_t(j) \right), \qquad
    \hat f = f / \sqrt{\textstyle\sum_c f_c^2 + 10^{-6}} \f]

@param source source features, 4-D CV_32F blob [N, C, Hs, Ws].
@param target target features, 4-D CV_32F blob [N, C, Ht, Wt] (same N and C).
@param corr output, 4-D CV_32F blob [N, Ht*Wt, Hs, Ws]: channel = target index.
@param normalize L2-normalise the feature vectors over channels first.
@param relu clamp negative correlations to zero.

The product runs as one GEMM per batch item through cv::gemm (the system BLAS);
no normalised copy of the features is made.
*/
CV_EXPORTS_W void correlation(InputArray source, InputArray target, OutputArray corr,
                              bool normalize = true, bool relu = true);

/** @brief Kernel soft argmax over a correlation volume.

For each source position i, with c_j = corr[n, j, i] (optionally L2-normalised over j),
j* = argmax_j c_j (the first index on ties), a Gaussian window
k(j) = exp(-((x_j - x_j*)^2 + (y_j - y_j*)^2) / (2 sigma^2)) on the target grid, and
m(j) = softmax_j(beta * k(j) * c_j), the output is the expected target position
sum_j m(j) * (xnorm_j, ynorm_j) with xnorm = -1 + 2x/(Wt-1) (align_corners=True).

@param corr 4-D CV_32F blob [N, Ht*Wt, Hs, Ws].
@param targetSize size of the target grid (Wt, Ht); Wt*Ht must equal corr.size[1].
@param grid output, 4-D CV_32F blob [N, 2, Hs, Ws]: channel 0 = x, 1 = y, normalised.
@param beta softmax temperature; beta <= 0 gives the hard argmax position.
@param sigma Gaussian window width in target grid cells; sigma <= 0 disables the window.
@param normalize L2-normalise each correlation column over j first (eps 1e-6).
*/
CV_EXPORTS_W void kernelSoftArgmax(InputArray corr, Size targetSize, OutputArray grid,
                                   float beta = 50.f, float sigma = 5.f, bool normalize = true);

//! @}

}  // namespace semflow
}  // namespace cv

#endif  // OPENCV_SEMFLOW_LAYERS_HPP
