// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// What an imported SFNet graph computes after its features (doc/onnx_ops.md, "The SFNet
// inference graph"), read back from the instantiated layers, so that cv::SemanticFlow can
// redo the matching from the feature outputs exactly as the graph does it.

#ifndef OPENCV_SEMFLOW_SRC_SFNET_GRAPH_HPP
#define OPENCV_SEMFLOW_SRC_SFNET_GRAPH_HPP

#include "opencv2/dnn.hpp"

#include "layers_internal.hpp"

namespace cv {
namespace semflow {

struct SfnetGraphSettings
{
    SoftArgmaxSettings softArgmax;   //!< of the nodes that make grid_s2t and grid_t2s
    CorrelationSettings correlation; //!< of the four Correlation nodes feeding them
};

/** Follows the graph outputs grid_s2t and grid_t2s back to their KernelSoftArgmax nodes and
the Correlation nodes whose product feeds them, and returns their settings. Raises
cv::Exception naming the model (`path`) and the problem when an output is not made that way or
when the two directions (or the four correlations) disagree: cv::SemanticFlow recomputes the
matching with one setting for both directions. */
SfnetGraphSettings readSfnetGraphSettings(const dnn::Net& net, const String& path);

/** Whether `net` was imported by OpenCV 5's new engine (a program of operations over named
tensors) rather than the classic one (4.x, and 5.0's ENGINE_CLASSIC). */
bool newEngine(const dnn::Net& net);

/** Whether some BatchNorm layer of `net` takes a Convolution's output (a graph exported
without BatchNorm folding), which OpenCV fuses into that convolution. */
bool hasConvolutionBatchNorm(const dnn::Net& net);

}  // namespace semflow
}  // namespace cv

#endif
