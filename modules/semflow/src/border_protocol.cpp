// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "border_protocol.hpp"
#include "opencv2/semflow/flow_utils.hpp"
#include "opencv2/semflow/semantic_flow.hpp"
#include "input_limits.hpp"

#include <algorithm>
#include <vector>

namespace cv {
namespace semflow {
namespace detail {

void checkInputImage(const Mat& img, const char* what)
{
    const int depth = img.depth(), cn = img.channels();
    if (img.empty())
        CV_Error(Error::StsBadArg, format("SemanticFlow: the %s image is empty", what));
    if (img.dims != 2)
    {
        // A NumPy (1, H, W, 3) batch or an (H, W, 3, 1) array arrives as an n-D, 1-channel Mat.
        std::string shape;
        for (int i = 0; i < img.dims; i++)
            shape += (i ? " x " : "") + std::to_string(img.size[i]);
        CV_Error(Error::StsBadArg,
                 format("SemanticFlow: expected one 2-D %s image (H x W with 1, 3 or 4 channels; in "
                        "Python an (H, W) or (H, W, C) array), got a %d-D array of %s, shape [%s]",
                        what, img.dims, typeToString(img.type()).c_str(), shape.c_str()));
    }
    semflow::detail::checkImageSize(img, "SemanticFlow", what);
    if ((depth != CV_8U && depth != CV_32F && depth != CV_64F) || (cn != 1 && cn != 3 && cn != 4))
        CV_Error(Error::StsBadArg,
                 format("SemanticFlow: expected an 8-bit (0..255), or 32- or 64-bit float ([0, 1]) %s image "
                        "with 1, 3 or 4 channels, got %s%s", what, typeToString(img.type()).c_str(),
                        depth == CV_32S ? " (NumPy int32 and int64 arrays arrive as CV_32S: convert with "
                                          ".astype(np.uint8), or to float in [0, 1])" : ""));
    if (depth == CV_32F || depth == CV_64F)
    {
        // Float images are taken as already scaled; a 0..255 float image would otherwise
        // give a silently wrong answer.
        Point bad;
        if (!checkRange(img.reshape(1), true, &bad, -1e-3, 1.0 + 1e-3))
        {
            const Mat flat = img.reshape(1);
            const double v = depth == CV_32F ? flat.at<float>(bad.y, bad.x) : flat.at<double>(bad.y, bad.x);
            CV_Error(Error::StsOutOfRange,
                     format("SemanticFlow: the %s image is %s, so its values must lie in [0, 1] "
                            "(divide 8-bit values by 255), but it holds %g at row %d",
                            what, depth == CV_32F ? "CV_32F" : "CV_64F", v, bad.y));
        }
    }
}

Mat preprocessImage(const Mat& img, Size inputSize, bool pad, const char* what, int filter)
{
    checkInputImage(img, what);
    const int depth = img.depth(), cn = img.channels();
    if (depth == CV_64F)  // scikit-image's img_as_float: float32 is all the network computes in
    {
        Mat f32;
        img.convertTo(f32, CV_32F);
        return preprocessImage(f32, inputSize, pad, what, filter);
    }
    const Size content = pad ? Size(inputSize.width - 2 * kBorderPixels, inputSize.height - 2 * kBorderPixels)
                             : inputSize;
    Mat rgb;
    if (cn == 1)
        cvtColor(img, rgb, COLOR_GRAY2RGB);
    else if (cn == 3)
        cvtColor(img, rgb, COLOR_BGR2RGB);
    else
        cvtColor(img, rgb, COLOR_BGRA2RGB);
    // PIL resizes the decoded 8-bit image and rounds; the antialiased path does the same on
    // 8-bit input, so that it reproduces the authors' pipeline.
    if (filter == RESIZE_ANTIALIASED_BILINEAR && rgb.size() != content)
        resizeAntialiased(rgb, rgb, content);
    rgb.convertTo(rgb, CV_32F, depth == CV_8U ? 1.0 / 255.0 : 1.0);

    Mat resized;
    if (rgb.size() == content)
        resized = rgb;
    else
    {
        const bool shrink = content.width <= rgb.cols && content.height <= rgb.rows;
        resize(rgb, resized, content, 0, 0, shrink ? INTER_AREA : INTER_LINEAR);
    }
    if (!pad)
        return resized;
    Mat padded;
    copyMakeBorder(resized, padded, kBorderPixels, kBorderPixels, kBorderPixels, kBorderPixels,
                   BORDER_CONSTANT, Scalar::all(0));
    return padded;
}

void upsampleAlignCorners(const Mat& src, Size dstSize, Mat& dst)
{
    CV_Assert(src.type() == CV_32FC1);
    dst.create(dstSize, CV_32FC1);
    std::vector<int> x0(dstSize.width), x1(dstSize.width);
    std::vector<float> ax(dstSize.width);
    for (int x = 0; x < dstSize.width; x++)
    {
        const double s = dstSize.width > 1 ? (double)x * (src.cols - 1) / (dstSize.width - 1) : 0.0;
        x0[x] = std::min((int)s, src.cols - 1);
        x1[x] = std::min(x0[x] + 1, src.cols - 1);
        ax[x] = (float)(s - x0[x]);
    }
    for (int y = 0; y < dstSize.height; y++)
    {
        const double s = dstSize.height > 1 ? (double)y * (src.rows - 1) / (dstSize.height - 1) : 0.0;
        const int y0 = std::min((int)s, src.rows - 1), y1 = std::min(y0 + 1, src.rows - 1);
        const float ay = (float)(s - y0);
        const float* r0 = src.ptr<float>(y0);
        const float* r1 = src.ptr<float>(y1);
        float* out = dst.ptr<float>(y);
        for (int x = 0; x < dstSize.width; x++)
        {
            const float top = r0[x0[x]] + ax[x] * (r0[x1[x]] - r0[x0[x]]);
            const float bottom = r1[x0[x]] + ax[x] * (r1[x1[x]] - r1[x0[x]]);
            out[x] = top + ay * (bottom - top);
        }
    }
}

void gridToFlow(const float* grid, int Hg, int Wg, bool pad, Size querySize, Size otherSize, Mat& flow)
{
    CV_Assert(Hg > (pad ? 2 : 0) && Wg > (pad ? 2 : 0));
    Mat gx(Hg, Wg, CV_32F, (void*)grid), gy(Hg, Wg, CV_32F, (void*)(grid + Hg * Wg));
    if (pad)
    {
        const Rect inner(1, 1, Wg - 2, Hg - 2);
        gx = gx(inner) * ((double)Wg / (Wg - 2));
        gy = gy(inner) * ((double)Hg / (Hg - 2));
    }
    Mat ux, uy;
    upsampleAlignCorners(gx, querySize, ux);
    upsampleAlignCorners(gy, querySize, uy);
    const float sx = 0.5f * (otherSize.width - 1), sy = 0.5f * (otherSize.height - 1);
    flow.create(querySize, CV_32FC2);
    for (int y = 0; y < querySize.height; y++)
    {
        const float* px = ux.ptr<float>(y);
        const float* py = uy.ptr<float>(y);
        Point2f* f = flow.ptr<Point2f>(y);
        for (int x = 0; x < querySize.width; x++)
            f[x] = Point2f((px[x] + 1.f) * sx - x, (py[x] + 1.f) * sy - y);
    }
}

}  // namespace detail
}  // namespace semflow
}  // namespace cv
