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

template <typename T>
void resizeRows(const Mat& src, const AxisWeights& ax, Mat& horizontal)
{
    const int cn = src.channels(), outW = (int)ax.first.size();
    for (int y = 0; y < src.rows; ++y)
    {
        const T* in = src.ptr<T>(y);
        double* out = horizontal.ptr<double>(y);
        for (int x = 0; x < outW; ++x)
        {
            const std::vector<double>& w = ax.weights[size_t(x)];
            const T* base = in + (size_t)ax.first[size_t(x)] * cn;
            for (int c = 0; c < cn; ++c)
            {
                double v = 0;
                for (size_t k = 0; k < w.size(); ++k)
                    v += w[k] * (double)base[k * cn + c];
                out[x * cn + c] = v;
            }
        }
    }
}

// PIL's 8-bit arithmetic (Resample.c): weights as 22-bit fixed point, rounded to nearest;
// each pass adds half a unit, shifts and clips to 0..255, so the intermediate image of the
// horizontal pass is 8-bit too. Reproduces Image.resize(size, BILINEAR) on "L"/"RGB" images.
const int kPrecisionBits = 32 - 8 - 2;

std::vector<std::vector<int>> fixedPointWeights(const AxisWeights& a)
{
    std::vector<std::vector<int>> out(a.weights.size());
    for (size_t i = 0; i < a.weights.size(); ++i)
        for (double w : a.weights[i])
            out[i].push_back(int(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits)));
    return out;
}

inline uchar clip8(int64 ss)
{
    const int64 v = ss >> kPrecisionBits;
    return (uchar)(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One 8-bit pass along rows (horizontal) or columns (vertical) of `src` into `dst`.
void resample8u(const Mat& src, Mat& dst, const AxisWeights& a, bool horizontal)
{
    const int cn = src.channels();
    const std::vector<std::vector<int>> k = fixedPointWeights(a);
    const int64 half = (int64)1 << (kPrecisionBits - 1);
    for (int y = 0; y < dst.rows; ++y)
    {
        uchar* out = dst.ptr<uchar>(y);
        for (int x = 0; x < dst.cols; ++x)
        {
            const int o = horizontal ? x : y;
            const std::vector<int>& w = k[(size_t)o];
            for (int c = 0; c < cn; ++c)
            {
                int64 ss = half;
                for (size_t t = 0; t < w.size(); ++t)
                {
                    const int j = a.first[(size_t)o] + (int)t;
                    ss += (int64)w[t] * (horizontal ? src.ptr<uchar>(y)[j * cn + c] : src.ptr<uchar>(j)[x * cn + c]);
                }
                out[x * cn + c] = clip8(ss);
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
    if (depth == CV_8U)
    {
        // PIL skips a pass whose axis keeps its size (the pass would be the identity).
        Mat cur = src;
        if (dsize.width != src.cols)
        {
            Mat h(src.rows, dsize.width, src.type());
            resample8u(cur, h, ax, true);
            cur = h;
        }
        if (dsize.height != src.rows)
        {
            Mat v(dsize.height, dsize.width, src.type());
            resample8u(cur, v, ay, false);
            cur = v;
        }
        cur.copyTo(_dst);  // the same size: a copy (nothing to do when dst is src)
        return;
    }

    Mat horizontal(src.rows, dsize.width, CV_64FC(cn));
    resizeRows<float>(src, ax, horizontal);

    // The source may alias the destination: the horizontal pass has read it already.
    _dst.create(dsize, src.type());
    Mat dst = _dst.getMat();
    const int rowLen = dsize.width * cn;
    std::vector<double> acc((size_t)rowLen);
    for (int y = 0; y < dsize.height; ++y)
    {
        const std::vector<double>& w = ay.weights[size_t(y)];
        std::fill(acc.begin(), acc.end(), 0.0);
        for (size_t k = 0; k < w.size(); ++k)
        {
            const double* row = horizontal.ptr<double>(ay.first[size_t(y)] + (int)k);
            for (int i = 0; i < rowLen; ++i)
                acc[(size_t)i] += w[k] * row[i];
        }
        float* out = dst.ptr<float>(y);
        for (int i = 0; i < rowLen; ++i)
            out[i] = (float)acc[(size_t)i];
    }
}
SEMFLOW_CATCH_STD("semflow::resizeAntialiased", std::string())

}  // namespace semflow
}  // namespace cv
