// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// What the rest of the module needs to know about the semflow layers, beyond the public
// functions: their type names and the settings an instantiated layer runs with.

#ifndef OPENCV_SEMFLOW_SRC_LAYERS_INTERNAL_HPP
#define OPENCV_SEMFLOW_SRC_LAYERS_INTERNAL_HPP

#include "opencv2/core.hpp"
#include "opencv2/dnn.hpp"

#include <string>

namespace cv {
namespace semflow {

extern const char* const kCorrelationType;   //!< "org.opencv.semflow.Correlation"
extern const char* const kSoftArgmaxType;    //!< "org.opencv.semflow.KernelSoftArgmax"
extern const char* const kConstantClipType;  //!< "org.opencv.semflow.ConstantClip" (OpenCV's ReLU6 layer)

//! The attributes a Correlation layer was built with.
struct CorrelationSettings
{
    bool normalize = true;
    bool relu = true;
};

//! The attributes a KernelSoftArgmax layer was built with.
struct SoftArgmaxSettings
{
    float beta = 50.f;
    float sigma = 5.f;
    bool normalize = true;
};

//! Reads the settings of an instantiated Correlation layer; false if `layer` is not one of ours.
bool getCorrelationSettings(const dnn::Layer& layer, CorrelationSettings& settings);
//! Reads the settings of an instantiated KernelSoftArgmax layer; false if `layer` is not one of ours.
bool getSoftArgmaxSettings(const dnn::Layer& layer, SoftArgmaxSettings& settings);

//! "[1, 2, 3]": a blob shape in error messages.
std::string shapeString(const dnn::MatShape& shape);

}  // namespace semflow
}  // namespace cv

#endif
