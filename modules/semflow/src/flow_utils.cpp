// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "opencv2/semflow/flow_utils.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "opencv2/video.hpp"

#include "flow_internal.hpp"
#include "flow_io.hpp"
#include "input_limits.hpp"

namespace cv {
namespace semflow {

void checkFlow(const Mat& flow, const char* func)
{
    if (flow.empty())
        CV_Error(Error::StsBadArg, format("%s: the flow is empty", func));
    if (flow.type() != CV_32FC2 || flow.dims != 2)
        CV_Error(Error::StsBadArg,
                 format("%s: expected a 2-D CV_32FC2 flow (dx, dy in pixels), got %s with %d dims",
                        func, typeToString(flow.type()).c_str(), flow.dims));
}

// remap wants absolute sampling positions; the flow stores displacements.
static void flowToMap(const Mat& flow, Mat& map)
{
    map.create(flow.size(), CV_32FC2);
    for (int y = 0; y < flow.rows; y++)
    {
        const Point2f* f = flow.ptr<Point2f>(y);
        Point2f* m = map.ptr<Point2f>(y);
        for (int x = 0; x < flow.cols; x++)
            m[x] = Point2f(x + f[x].x, y + f[x].y);
    }
}

void warpImage(InputArray image_, InputArray flow_, OutputArray dst, int interpolation,
               int borderMode, const Scalar& borderValue)
try
{
    Mat image = image_.getMat(), flow = flow_.getMat();
    checkFlow(flow, "warpImage");
    if (image.empty())
        CV_Error(Error::StsBadArg, "warpImage: the image is empty");
    if (interpolation != INTER_LINEAR && interpolation != INTER_NEAREST && interpolation != INTER_CUBIC)
        CV_Error(Error::StsBadArg, format("warpImage: interpolation must be INTER_LINEAR, "
                                          "INTER_NEAREST or INTER_CUBIC, got %d", interpolation));
    Mat map;
    flowToMap(flow, map);
    remap(image, dst, map, noArray(), interpolation, borderMode, borderValue);
}
SEMFLOW_CATCH_STD("semflow::warpImage", std::string())

void warpLabels(InputArray labels_, InputArray flow_, OutputArray dst_, int fill)
try
{
    Mat labels = labels_.getMat(), flow = flow_.getMat();
    checkFlow(flow, "warpLabels");
    const int depth = labels.depth();
    if (labels.empty() || labels.channels() != 1 ||
        (depth != CV_8U && depth != CV_16U && depth != CV_16S && depth != CV_32S))
        CV_Error(Error::StsBadArg,
                 format("warpLabels: expected a non-empty single-channel CV_8U, CV_16U, CV_16S or "
                        "CV_32S label map, got %s", typeToString(labels.type()).c_str()));
    // A plain loop rather than remap(INTER_NEAREST): labels of every depth are copied
    // bit-exactly, and a non-finite flow vector gets `fill` instead of an arbitrary pixel.
    if (dst_.isMat() && dst_.getMat().data == labels.data)
        labels = labels.clone();  // in-place call: read from a copy
    dst_.create(flow.size(), labels.type());
    Mat dst = dst_.getMat();
    dst.setTo(Scalar::all(fill));
    const size_t esz = labels.elemSize();
    for (int y = 0; y < flow.rows; y++)
    {
        const Point2f* f = flow.ptr<Point2f>(y);
        uchar* out = dst.ptr(y);
        for (int x = 0; x < flow.cols; x++)
        {
            const float sx = x + f[x].x, sy = y + f[x].y;
            if (!(std::isfinite(sx) && std::isfinite(sy)))
                continue;
            const int ix = cvRound(sx), iy = cvRound(sy);
            if (ix < 0 || iy < 0 || ix >= labels.cols || iy >= labels.rows)
                continue;
            std::copy_n(labels.ptr(iy) + ix * esz, esz, out + x * esz);
        }
    }
}
SEMFLOW_CATCH_STD("semflow::warpLabels", std::string())

Point2f sampleFlowBilinear(const Mat& flow, float x, float y)
{
    x = std::min(std::max(x, 0.f), (float)(flow.cols - 1));
    y = std::min(std::max(y, 0.f), (float)(flow.rows - 1));
    const int x0 = std::min((int)x, flow.cols - 1), y0 = std::min((int)y, flow.rows - 1);
    const int x1 = std::min(x0 + 1, flow.cols - 1), y1 = std::min(y0 + 1, flow.rows - 1);
    const float ax = x - x0, ay = y - y0;
    const Point2f* r0 = flow.ptr<Point2f>(y0);
    const Point2f* r1 = flow.ptr<Point2f>(y1);
    // A neighbour with zero weight is skipped, not multiplied by 0: a NaN or inf there
    // would otherwise poison a sample that lies exactly on a finite vector.
    const Point2f top = ax == 0.f ? r0[x0] : r0[x0] * (1.f - ax) + r0[x1] * ax;
    if (ay == 0.f)
        return top;
    const Point2f bottom = ax == 0.f ? r1[x0] : r1[x0] * (1.f - ax) + r1[x1] * ax;
    return top * (1.f - ay) + bottom * ay;
}

void transferKeypoints(const std::vector<Point2f>& points, InputArray flow_,
                       std::vector<Point2f>& transferred)
try
{
    Mat flow = flow_.getMat();
    checkFlow(flow, "transferKeypoints");
    std::vector<Point2f> out(points.size());
    for (size_t k = 0; k < points.size(); k++)
    {
        const Point2f p = points[k];
        if (!(std::isfinite(p.x) && std::isfinite(p.y)))
            CV_Error(Error::StsBadArg,
                     format("transferKeypoints: point %d is not finite (%g, %g)", (int)k, p.x, p.y));
        out[k] = p + sampleFlowBilinear(flow, p.x, p.y);
    }
    transferred.swap(out);
}
SEMFLOW_CATCH_STD("semflow::transferKeypoints", std::string())

void transferKeypoints(const Mat& p, InputArray flow, std::vector<Point2f>& transferred)
try
{
    std::vector<Point2f> points;
    if (!p.empty())
    {
        // Numbers of any depth, N points as N x 1 / 1 x N two-channel (a vector of Point2f,
        // NumPy's (N, 1, 2)) or N x 2 one-channel (NumPy's (N, 2)). OpenCV 5 gives a vector a
        // one-dimensional Mat.
        const bool twoChannel = p.channels() == 2 && (p.dims == 1 || (p.dims == 2 && (p.rows == 1 || p.cols == 1)));
        const bool twoColumns = p.dims == 2 && p.channels() == 1 && p.cols == 2;
        if (!twoChannel && !twoColumns)
            CV_Error(Error::StsBadArg,
                     format("transferKeypoints: points must be N points: an (N, 2) or (N, 1, 2) array, "
                            "or a vector of Point2f; got %d dims, %d x %d, %s", p.dims, p.size[0],
                            p.dims > 1 ? p.size[1] : 1, typeToString(p.type()).c_str()));
        const int n = twoChannel ? (int)p.total() : p.rows;
        Mat f;
        p.convertTo(f, CV_32F);  // one copy, continuous whatever p's strides
        f = f.reshape(2, n);
        points.assign(f.begin<Point2f>(), f.end<Point2f>());
    }
    transferKeypoints(points, flow, transferred);
}
SEMFLOW_CATCH_STD("semflow::transferKeypoints", std::string())

void transferMask(InputArray mask_, InputArray flow_, OutputArray dst_)
try
{
    Mat mask = mask_.getMat(), flow = flow_.getMat();
    checkFlow(flow, "transferMask");
    if (mask.empty() || mask.type() != CV_8UC1)
        CV_Error(Error::StsBadArg, format("transferMask: expected a non-empty CV_8UC1 mask, got %s",
                                          typeToString(mask.type()).c_str()));
    if (dst_.isMat() && dst_.getMat().data == mask.data)
        mask = mask.clone();  // in-place call: read from a copy
    dst_.create(flow.size(), CV_8UC1);
    Mat dst = dst_.getMat();
    auto at = [&](int x, int y) -> float {
        return (x >= 0 && y >= 0 && x < mask.cols && y < mask.rows && mask.at<uchar>(y, x)) ? 1.f : 0.f;
    };
    for (int y = 0; y < flow.rows; y++)
    {
        const Point2f* f = flow.ptr<Point2f>(y);
        uchar* out = dst.ptr<uchar>(y);
        for (int x = 0; x < flow.cols; x++)
        {
            const float sx = x + f[x].x, sy = y + f[x].y;
            out[x] = 0;
            if (!(std::isfinite(sx) && std::isfinite(sy)) || sx <= -1.f || sy <= -1.f ||
                sx >= mask.cols || sy >= mask.rows)
                continue;
            const int x0 = (int)std::floor(sx), y0 = (int)std::floor(sy);
            const float ax = sx - x0, ay = sy - y0;
            const float v = (1.f - ay) * ((1.f - ax) * at(x0, y0) + ax * at(x0 + 1, y0)) +
                            ay * ((1.f - ax) * at(x0, y0 + 1) + ax * at(x0 + 1, y0 + 1));
            out[x] = v >= 0.5f ? 255 : 0;
        }
    }
}
SEMFLOW_CATCH_STD("semflow::transferMask", std::string())

// The Middlebury colour wheel: 55 hues in six ramps (red-yellow, yellow-green, green-cyan,
// cyan-blue, blue-magenta, magenta-red), RGB in 0..255.
static const std::vector<Vec3f>& colorWheel()
{
    static const std::vector<Vec3f> wheel = [] {
        const int ramps[6] = {15, 6, 4, 11, 13, 6};
        std::vector<Vec3f> w;
        for (int r = 0; r < 6; r++)
        {
            for (int i = 0; i < ramps[r]; i++)
            {
                const float up = std::floor(255.f * i / ramps[r]), down = 255.f - up;
                switch (r)
                {
                case 0: w.push_back(Vec3f(255, up, 0)); break;
                case 1: w.push_back(Vec3f(down, 255, 0)); break;
                case 2: w.push_back(Vec3f(0, 255, up)); break;
                case 3: w.push_back(Vec3f(0, down, 255)); break;
                case 4: w.push_back(Vec3f(up, 0, 255)); break;
                default: w.push_back(Vec3f(255, 0, down)); break;
                }
            }
        }
        return w;
    }();
    return wheel;
}

Vec3b flowVectorColor(float u, float v, float maxMotion)
{
    if (!(std::isfinite(u) && std::isfinite(v)))
        return Vec3b(0, 0, 0);
    const std::vector<Vec3f>& wheel = colorWheel();
    const int ncols = (int)wheel.size();
    const float rad = std::sqrt(u * u + v * v) / maxMotion;
    // Angle measured so that rightward flow is the wheel's first colour (red); the
    // position wraps continuously from the last colour back to the first.
    const float a = (float)(std::atan2(-v, -u) / CV_PI);  // in [-1, 1]
    float fk = (a + 1.f) * 0.5f * ncols;
    if (fk >= ncols) fk -= ncols;
    const int k0 = std::min((int)fk, ncols - 1), k1 = (k0 + 1) % ncols;
    const float f = fk - k0;
    Vec3b bgr;
    for (int c = 0; c < 3; c++)
    {
        float col = ((1.f - f) * wheel[k0][c] + f * wheel[k1][c]) / 255.f;
        col = rad <= 1.f ? 1.f - rad * (1.f - col) : col * 0.75f;
        bgr[2 - c] = saturate_cast<uchar>(255.f * col);
    }
    return bgr;
}

void flowToColor(InputArray flow_, OutputArray dst_, float maxMotion)
try
{
    Mat flow = flow_.getMat();
    checkFlow(flow, "flowToColor");
    if (!(maxMotion > 0.f))
    {
        maxMotion = 0.f;
        for (int y = 0; y < flow.rows; y++)
        {
            const Point2f* f = flow.ptr<Point2f>(y);
            for (int x = 0; x < flow.cols; x++)
            {
                const float n = std::sqrt(f[x].x * f[x].x + f[x].y * f[x].y);
                if (std::isfinite(n))
                    maxMotion = std::max(maxMotion, n);
            }
        }
        if (maxMotion <= 0.f)
            maxMotion = 1.f;
    }
    dst_.create(flow.size(), CV_8UC3);
    Mat dst = dst_.getMat();
    for (int y = 0; y < flow.rows; y++)
    {
        const Point2f* f = flow.ptr<Point2f>(y);
        Vec3b* out = dst.ptr<Vec3b>(y);
        for (int x = 0; x < flow.cols; x++)
            out[x] = flowVectorColor(f[x].x, f[x].y, maxMotion);
    }
}
SEMFLOW_CATCH_STD("semflow::flowToColor", std::string())

static Mat toBgr8(const Mat& img, const char* what)
{
    if (img.empty() || img.depth() != CV_8U ||
        (img.channels() != 1 && img.channels() != 3 && img.channels() != 4))
        CV_Error(Error::StsBadArg,
                 format("drawFlowMatches: expected a non-empty 8-bit %s image with 1, 3 or 4 "
                        "channels, got %s", what, typeToString(img.type()).c_str()));
    Mat bgr;
    if (img.channels() == 1)
        cvtColor(img, bgr, COLOR_GRAY2BGR);
    else if (img.channels() == 4)
        cvtColor(img, bgr, COLOR_BGRA2BGR);
    else
        bgr = img;
    return bgr;
}

void drawFlowMatches(InputArray source_, InputArray target_, InputArray flow_, OutputArray dst_,
                     int step, InputArray mask_, int thickness)
try
{
    Mat source = toBgr8(source_.getMat(), "source"), target = toBgr8(target_.getMat(), "target");
    Mat flow = flow_.getMat(), mask = mask_.getMat();
    checkFlow(flow, "drawFlowMatches");
    if (flow.size() != source.size())
        CV_Error(Error::StsBadSize,
                 format("drawFlowMatches: the flow (%dx%d) must have the source's size (%dx%d)",
                        flow.cols, flow.rows, source.cols, source.rows));
    if (!mask.empty() && (mask.type() != CV_8UC1 || mask.size() != source.size()))
        CV_Error(Error::StsBadArg,
                 format("drawFlowMatches: the mask must be CV_8UC1 at the source's size, got %s %dx%d",
                        typeToString(mask.type()).c_str(), mask.cols, mask.rows));
    if (step < 1)
        CV_Error(Error::StsOutOfRange, format("drawFlowMatches: step must be >= 1, got %d", step));
    if (thickness < 1)
        CV_Error(Error::StsOutOfRange, format("drawFlowMatches: thickness must be >= 1, got %d", thickness));

    dst_.create(std::max(source.rows, target.rows), source.cols + target.cols, CV_8UC3);
    Mat canvas = dst_.getMat();
    canvas.setTo(Scalar::all(0));
    source.copyTo(canvas(Rect(0, 0, source.cols, source.rows)));
    target.copyTo(canvas(Rect(source.cols, 0, target.cols, target.rows)));

    const Point2f offset((float)source.cols, 0.f);
    const int shift = 4;  // sub-pixel line endpoints
    const float scale = (float)(1 << shift);
    for (int y = step / 2; y < source.rows; y += step)
    {
        for (int x = step / 2; x < source.cols; x += step)
        {
            if (!mask.empty() && !mask.at<uchar>(y, x))
                continue;
            const Point2f f = flow.at<Point2f>(y, x);
            if (!(std::isfinite(f.x) && std::isfinite(f.y)))
                continue;
            // Hue by x, brightness by y: neighbouring matches get distinguishable colours.
            Vec3b c = flowVectorColor(std::cos((float)(2 * CV_PI * x / source.cols)),
                                      std::sin((float)(2 * CV_PI * x / source.cols)), 1.f);
            const float dim = 1.f - 0.5f * y / std::max(1, source.rows - 1);
            const Scalar color(c[0] * dim, c[1] * dim, c[2] * dim);
            const Point2f p((float)x, (float)y), q = p + f + offset;
            const Point pi(cvRound(p.x * scale), cvRound(p.y * scale));
            const Point qi(cvRound(q.x * scale), cvRound(q.y * scale));
            line(canvas, pi, qi, color, thickness, LINE_AA, shift);
            circle(canvas, pi, cvRound(2 * scale), color, FILLED, LINE_AA, shift);
            circle(canvas, qi, cvRound(2 * scale), color, FILLED, LINE_AA, shift);
        }
    }
}
SEMFLOW_CATCH_STD("semflow::drawFlowMatches", std::string())

Mat readFlow(const String& path)
try
{
    const int64 size = detail::checkInputFile(path, "semflow::readFlow", ".flo file",
                                              12 + 8 * detail::kMaxImagePixels);
    std::ifstream f(path, std::ios::binary);
    char header[12];
    if (!f.read(header, sizeof(header)))
        CV_Error(Error::StsParseError,
                 format("semflow::readFlow: '%s' is too short for a .flo header (12 bytes)", path.c_str()));
    int32_t w, h;
    std::memcpy(&w, header + 4, 4);
    std::memcpy(&h, header + 8, 4);
    if (std::memcmp(header, "PIEH", 4) != 0)
        CV_Error(Error::StsParseError,
                 format("semflow::readFlow: '%s' does not start with the .flo tag 'PIEH'", path.c_str()));
    if (w <= 0 || h <= 0 || w > detail::kMaxImageSide || h > detail::kMaxImageSide ||
        (int64)w * h > detail::kMaxImagePixels)
        CV_Error(Error::StsOutOfRange,
                 format("semflow::readFlow: '%s' declares a %dx%d flow; sides must be 1..%d and at most "
                        "%lld pixels in total", path.c_str(), (int)w, (int)h, detail::kMaxImageSide,
                        (long long)detail::kMaxImagePixels));
    const int64 expected = 12 + 8 * (int64)w * h;
    if (size >= 0 && size != expected)
        CV_Error(Error::StsParseError,
                 format("semflow::readFlow: '%s' declares a %dx%d flow (%lld bytes) but has %lld bytes",
                        path.c_str(), (int)w, (int)h, (long long)expected, (long long)size));
    f.close();
    Mat flow = readOpticalFlow(path);
    if (flow.empty() || flow.type() != CV_32FC2 || flow.size() != Size(w, h))
        CV_Error(Error::StsParseError,
                 format("semflow::readFlow: cv::readOpticalFlow could not read '%s'", path.c_str()));
    return flow;
}
SEMFLOW_CATCH_STD("semflow::readFlow", path)

}  // namespace semflow
}  // namespace cv
