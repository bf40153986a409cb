// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "opencv2/semflow/flow_utils.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "input_limits.hpp"

namespace cv {
namespace semflow {

namespace {

// One axis of the resampling: for output index i, the first input index and the normalised
// weights of the input indices from there on.
struct AxisWeights
{
    std::vector<int> first;
    std::vector<std::vector<double>> weights;
};

AxisWeights triangleAxis(int inSize, int outSize)
{
    const double scale = double(inSize) / outSize, filterScale = std::max(scale, 1.0);
    const double support = filterScale;  // the triangle's support is 1, stretched when shrinking
    AxisWeights a;
    a.first.resize(size_t(outSize));
    a.weights.resize(size_t(outSize));
    for (int i = 0; i < outSize; ++i)
    {
        const double centre = (i + 0.5) * scale;
        const int lo = std::max(0, int(centre - support + 0.5));
        const int hi = std::min(inSize, int(centre + support + 0.5));
        std::vector<double>& w = a.weights[size_t(i)];
        double total = 0;
        for (int j = lo; j < hi; ++j)
        {
            const double t = std::abs((j - centre + 0.5) / filterScale);
            w.push_back(t < 1 ? 1 - t : 0.0);
            total += w.back();
        }
        for (double& v : w)
            v = total > 0 ? v / total : 0.0;
        a.first[size_t(i)] = lo;
    }
    return a;
}

// PIL's 8-bit arithmetic (Resample.c): weights as 22-bit fixed point, rounded to nearest;
// each pass adds half a unit, shifts and clips to 0..255, so the intermediate image of the
// horizontal pass is 8-bit too. Reproduces Image.resize(size, BILINEAR) on "L"/"RGB" images.
const int kPrecisionBits = 32 - 8 - 2;

std::vector<std::vector<int64>> fixedPointWeights(const AxisWeights& a)
{
    std::vector<std::vector<int64>> out(a.weights.size());
    for (size_t i = 0; i < a.weights.size(); ++i)
        for (double w : a.weights[i])
            out[i].push_back((int64)(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits)));
    return out;
}

struct Clip8
{
    uchar operator()(int64 ss) const
    {
        const int64 v = ss >> kPrecisionBits;
        return (uchar)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
};

struct Identity
{
    double operator()(double v) const { return v; }
};

// One separable pass of `src` into `dst` along its rows (horizontal) or columns: each output
// element is finish(start + sum_t w[t] * input[first + t]), with the weights `k` of `a`'s
// output indices. 8-bit: In = Out = uchar, W = int64 (fixed point). Float: W = double.
template <typename In, typename Out, typename W, typename Finish>
void resamplePass(const Mat& src, Mat& dst, const AxisWeights& a, const std::vector<std::vector<W>>& k,
                  W start, bool horizontal, Finish finish)
{
    const int cn = src.channels();
    for (int y = 0; y < dst.rows; ++y)
    {
        Out* out = dst.ptr<Out>(y);
        for (int x = 0; x < dst.cols; ++x)
        {
            const int o = horizontal ? x : y;
            const std::vector<W>& w = k[(size_t)o];
            for (int c = 0; c < cn; ++c)
            {
                W ss = start;
                for (size_t t = 0; t < w.size(); ++t)
                {
                    const int j = a.first[(size_t)o] + (int)t;
                    ss += w[t] * (W)(horizontal ? src.ptr<In>(y)[j * cn + c] : src.ptr<In>(j)[x * cn + c]);
                }
                out[x * cn + c] = (Out)finish(ss);
            }
        }
    }
}

}  // namespace

void resizeAntialiased(InputArray _src, OutputArray _dst, Size dsize)
try
{
    const Mat src = _src.getMat();
    if (src.empty())
        CV_Error(Error::StsBadArg, "resizeAntialiased: the image is empty");
    semflow::detail::checkImageSize(src, "resizeAntialiased", "input");
    const int depth = src.depth(), cn = src.channels();
    if (src.dims != 2 || (depth != CV_8U && depth != CV_32F) || cn > 4)
        CV_Error(Error::StsBadArg,
                 format("resizeAntialiased: expected a 2-D CV_8U or CV_32F image with 1 to 4 channels, got %s",
                        typeToString(src.type()).c_str()));
    if (dsize.width <= 0 || dsize.height <= 0)
        CV_Error(Error::StsBadArg,
                 format("resizeAntialiased: the output size must be positive, got %dx%d", dsize.width, dsize.height));
    if ((double)dsize.width * dsize.height > (double)semflow::detail::kMaxImagePixels ||
        dsize.width > semflow::detail::kMaxImageSide || dsize.height > semflow::detail::kMaxImageSide)
        CV_Error(Error::StsBadArg,
                 format("resizeAntialiased: the output size %dx%d is larger than the limit (%d per side, %lld pixels)",
                        dsize.width, dsize.height, semflow::detail::kMaxImageSide,
                        (long long)semflow::detail::kMaxImagePixels));
    // The horizontal pass's result (input rows x output columns) is bounded like an image.
    if ((double)src.rows * dsize.width > (double)semflow::detail::kMaxImagePixels)
        CV_Error(Error::StsBadArg,
                 format("resizeAntialiased: resizing %dx%d to %dx%d needs an intermediate image of %d x %d "
                        "pixels, more than the limit of %lld",
                        src.cols, src.rows, dsize.width, dsize.height, src.rows, dsize.width,
                        (long long)semflow::detail::kMaxImagePixels));

    const AxisWeights ax = triangleAxis(src.cols, dsize.width);
    const AxisWeights ay = triangleAxis(src.rows, dsize.height);
    // As PIL, a pass whose axis keeps its size is skipped (its weights are the identity). The
    // horizontal pass's result is 8-bit for 8-bit images (PIL's), double for float ones.
    const bool u8 = depth == CV_8U;
    const int interType = u8 ? src.type() : CV_64FC(cn);
    Mat cur = src;
    if (dsize.width != src.cols)
    {
        Mat h(src.rows, dsize.width, interType);
        if (u8)
            resamplePass<uchar, uchar>(cur, h, ax, fixedPointWeights(ax), (int64)1 << (kPrecisionBits - 1), true, Clip8());
        else
            resamplePass<float, double>(cur, h, ax, ax.weights, 0.0, true, Identity());
        cur = h;
    }
    if (dsize.height != src.rows)
    {
        Mat v(dsize.height, dsize.width, interType);
        if (u8)
            resamplePass<uchar, uchar>(cur, v, ay, fixedPointWeights(ay), (int64)1 << (kPrecisionBits - 1), false, Clip8());
        else if (cur.depth() == CV_64F)
            resamplePass<double, double>(cur, v, ay, ay.weights, 0.0, false, Identity());
        else
            resamplePass<float, double>(cur, v, ay, ay.weights, 0.0, false, Identity());
        cur = v;
    }
    // The source may alias the destination: both passes have read it already. Float results
    // are rounded to float once, at the end; an unchanged size is a copy.
    cur.convertTo(_dst, src.type());
}
SEMFLOW_CATCH_STD("semflow::resizeAntialiased", std::string())

}  // namespace semflow
}  // namespace cv
