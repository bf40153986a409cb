// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_HPP
#define OPENCV_SEMFLOW_HPP

/**
@defgroup semflow Dense semantic correspondence (SFNet)

Dense semantic flow between two images of *different* instances of one object
category (two cats, two cars), after Lee et al., "SFNet: Learning Object-aware
Semantic Correspondence", CVPR 2019 @cite Lee2019SFNet.

The module has three parts:
- two custom cv::dnn layers, `org.opencv.semflow.Correlation` and
  `org.opencv.semflow.KernelSoftArgmax` (and `ConstantClip`, the EfficientNet-Lite
  graphs' ReLU6 as OpenCV's own fusable layer), registered by cv::semflow::registerLayers()
  so that SFNet ONNX graphs load with cv::dnn::readNetFromONNX;
- cv::SemanticFlow, a cv::DenseOpticalFlow that runs such a model on two images;
- flow utilities (warping, keypoint transfer, visualisation) and the loaders and
  PCK metric of the public benchmarks (PF-PASCAL and PF-WILLOW @cite Ham2016ProposalFlow,
  SPair-71k @cite Min2019SPair).

The operators and the graph a model must follow are specified in @ref semflow_onnx_ops
(`modules/semflow/doc/onnx_ops.md`).
*/

#include "opencv2/semflow/benchmark.hpp"
#include "opencv2/semflow/flow_utils.hpp"
#include "opencv2/semflow/layers.hpp"
#include "opencv2/semflow/semantic_flow.hpp"

#endif  // OPENCV_SEMFLOW_HPP
