// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_PRECOMP_HPP
#define OPENCV_SEMFLOW_PRECOMP_HPP

#include "opencv2/opencv_modules.hpp"  // HAVE_OPENCV_IMGCODECS where this OpenCV has imgcodecs
#include "opencv2/core.hpp"
#include "opencv2/core/utility.hpp"
#include "opencv2/imgproc.hpp"
#include "opencv2/dnn.hpp"
#include "opencv2/dnn/shape_utils.hpp"
#include "opencv2/semflow.hpp"

#if CV_VERSION_MAJOR >= 5
// OpenCV 5 moved MatShape from cv::dnn (a std::vector<int>) to cv (a class with the same
// size() / operator[] / iterator-range and initializer-list constructors); the layers use it
// under its 4.x name.
namespace cv { namespace dnn { using cv::MatShape; } }
#endif

#endif
