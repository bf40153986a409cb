// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Bounds on what the public entry points accept, and the translation of std::exceptions
// raised inside them into cv::Exception. The bounds are published in doc/reliability.md:
// each one keeps a hostile or mistyped input from turning into a multi-gigabyte allocation
// or an int overflow, and each error message states the bound it enforces.

#ifndef OPENCV_SEMFLOW_SRC_INPUT_LIMITS_HPP
#define OPENCV_SEMFLOW_SRC_INPUT_LIMITS_HPP

#include <exception>
#include <string>

#include "opencv2/core.hpp"

namespace cv {
namespace semflow {
namespace detail {

//! Largest side of SemanticFlow's network input: at 2048x2048 one correlation volume
//! ((2048/16)^2 x (2048/16)^2 floats) is already 1 GiB.
const int kMaxInputSide = 2048;
//! Largest side of an image given to calc*() (the flow of a 32768-pixel-wide image alone
//! is 256 KiB per row).
const int kMaxImageSide = 32768;
//! Most pixels of an image given to calc*(): its CV_32FC2 flow is 8 bytes per pixel (1 GiB).
const int64 kMaxImagePixels = (int64)1 << 27;
//! Most elements of a blob the layer functions create (a correlation volume): 2^31 - 1,
//! the element count a cv::Mat dimension product and the kernels' int indices can hold.
const int64 kMaxBlobElements = ((int64)1 << 31) - 1;
//! Largest ONNX model file: protobuf cannot parse messages of 2 GiB or more.
const int64 kMaxModelBytes = ((int64)1 << 31) - 1;
//! Largest annotation file (CSV, JSON, split list) the benchmark loaders read.
const int64 kMaxAnnotationBytes = (int64)256 << 20;
//! Most keypoints one annotated pair may have (PF-PASCAL has up to 20, SPair-71k up to 30).
const size_t kMaxKeypoints = 1000;
//! Most lines (pairs) of one annotation list.
const size_t kMaxAnnotationLines = 10000000;

//! Throws a cv::Exception unless @p img is at most kMaxImageSide on each side and
//! kMaxImagePixels in total. @p func and @p what name the caller and the argument.
void checkImageSize(const Mat& img, const char* func, const char* what);

//! Throws a cv::Exception unless @p path names a readable regular file of at most
//! @p maxBytes bytes; returns its size. @p what says what the file is ("model file").
int64 checkInputFile(const std::string& path, const char* func, const char* what, int64 maxBytes);

//! Re-throws @p e, a std::exception that escaped our own code, as a cv::Exception whose
//! message names @p func and @p file (the file the call was working on; may be empty).
CV_NORETURN void rethrowAsCvException(const std::exception& e, const char* func, const std::string& file);

}  // namespace detail
}  // namespace semflow
}  // namespace cv

//! The handler list of a (function-)try-block: cv::Exception passes through unchanged,
//! any other std::exception becomes a cv::Exception naming the function and the file.
#define SEMFLOW_CATCH_STD(func, file)                                                   \
    catch (const ::cv::Exception&) { throw; }                                           \
    catch (const std::exception& semflow_e_)                                            \
    {                                                                                   \
        ::cv::semflow::detail::rethrowAsCvException(semflow_e_, func, file);            \
    }

#endif
