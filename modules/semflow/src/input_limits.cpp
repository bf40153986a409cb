// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "input_limits.hpp"

#include <fstream>
#include <new>

#include "opencv2/core/utils/filesystem.hpp"

namespace cv {
namespace semflow {
namespace detail {

void checkImageSize(const Mat& img, const char* func, const char* what)
{
    if (img.dims > 2)
        return;  // the caller reports the wrong dimensionality
    if (img.cols > kMaxImageSide || img.rows > kMaxImageSide || (int64)img.cols * img.rows > kMaxImagePixels)
        CV_Error(Error::StsOutOfRange,
                 format("%s: the %s image is %dx%d; at most %d pixels per side and %lld pixels in total "
                        "are accepted (resize it first)", func, what, img.cols, img.rows, kMaxImageSide,
                        (long long)kMaxImagePixels));
}

int64 checkInputFile(const std::string& path, const char* func, const char* what, int64 maxBytes)
{
    if (path.empty())
        CV_Error(Error::StsBadArg, format("%s: no %s given (empty path)", func, what));
    if (utils::fs::isDirectory(path))
        CV_Error(Error::StsBadArg,
                 format("%s: the %s '%s' is a directory, expected a file", func, what, path.c_str()));
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f)
        CV_Error(Error::StsObjectNotFound,
                 format("%s: cannot open the %s '%s' (missing or unreadable)", func, what, path.c_str()));
    const int64 size = (int64)f.tellg();  // -1 for a pipe: readers then stop at the bound themselves
    if (size > maxBytes)
        CV_Error(Error::StsOutOfRange,
                 format("%s: the %s '%s' has %lld bytes, more than the %lld accepted", func, what,
                        path.c_str(), (long long)size, (long long)maxBytes));
    return size;
}

void rethrowAsCvException(const std::exception& e, const char* func, const std::string& file)
{
    const std::string where = file.empty() ? std::string() : " (file '" + file + "')";
    if (dynamic_cast<const std::bad_alloc*>(&e))
        CV_Error(Error::StsNoMem, format("%s: out of memory%s", func, where.c_str()));
    CV_Error(Error::StsError, format("%s: %s%s", func, e.what(), where.c_str()));
}

}  // namespace detail
}  // namespace semflow
}  // namespace cv
