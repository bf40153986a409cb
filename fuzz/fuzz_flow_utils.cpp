// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The flow utilities on hostile flows: the input's bytes become a small flow whose values
// are raw float bit patterns (NaN, inf, denormals, +-3e38 all occur), plus points, a
// maxMotion and a grid step. Every utility must return or throw cv::Exception; results of
// the documented shape and type are checked.

#include <cmath>
#include <cstring>
#include <vector>

#include <opencv2/semflow/benchmark.hpp>
#include <opencv2/semflow/flow_utils.hpp>

namespace
{
struct Reader
{
    const uint8_t* p;
    size_t n;
    uint8_t byte() { return n ? (--n, *p++) : 0; }
    float f32()
    {
        uint32_t u = 0;
        for (int i = 0; i < 4; ++i)
            u = (u << 8) | byte();
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    Reader r{data, size};
    const int rows = 1 + r.byte() % 24, cols = 1 + r.byte() % 24;
    cv::Mat flow(rows, cols, CV_32FC2);
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x)
        {
            // Mostly small flows (so that remap does sample), sometimes raw bit patterns.
            const uint8_t mode = r.byte();
            cv::Point2f v;
            if (mode < 160)
                v = cv::Point2f((int8_t)r.byte() / 4.f, (int8_t)r.byte() / 4.f);
            else
                v = cv::Point2f(r.f32(), r.f32());
            flow.at<cv::Point2f>(y, x) = v;
        }
    std::vector<cv::Point2f> points;
    for (int k = r.byte() % 8; k > 0; --k)
        points.emplace_back(r.byte() % 2 ? r.f32() : float(r.byte() % 32), r.byte() % 2 ? r.f32() : float(r.byte() % 32));
    const float maxMotion = r.byte() % 2 ? r.f32() : -1.f;
    const int step = 1 + r.byte() % 16;

    const cv::Mat image(rows + 3, cols + 5, CV_8UC3, cv::Scalar(10, 100, 200));
    cv::Mat labels(rows, cols, CV_32S);
    cv::randu(labels, -5, 5);
    const cv::Mat mask(rows, cols, CV_8U, cv::Scalar(255));
    cv::Mat out;
    try
    {
        for (int interp : {cv::INTER_LINEAR, cv::INTER_NEAREST, cv::INTER_CUBIC})
        {
            cv::semflow::warpImage(image, flow, out, interp);
            if (out.size() != flow.size() || out.type() != image.type())
                __builtin_trap();
        }
        cv::semflow::warpLabels(labels, flow, out, -7);
        if (out.size() != flow.size() || out.type() != CV_32S)
            __builtin_trap();
        cv::semflow::transferMask(mask, flow, out);
        if (out.size() != flow.size() || out.type() != CV_8UC1)
            __builtin_trap();
        cv::semflow::flowToColor(flow, out, maxMotion);
        if (out.size() != flow.size() || out.type() != CV_8UC3)
            __builtin_trap();
        cv::semflow::drawFlowMatches(image(cv::Rect(0, 0, cols, rows)), image, flow, out, step);
    }
    catch (const cv::Exception&)
    {
    }
    try
    {
        std::vector<cv::Point2f> moved;
        cv::semflow::transferKeypoints(points, flow, moved);
        if (moved.size() != points.size())
            __builtin_trap();
    }
    catch (const cv::Exception&)
    {
    }
    try
    {
        cv::semflow::KeypointPair pair;
        for (const auto& p : points)
        {
            pair.sourceKeypoints.push_back(p);
            pair.targetKeypoints.push_back(cv::Point2f(p.y, p.x));
            pair.valid.push_back(1);
        }
        pair.sourceSize = flow.size();
        pair.targetSize = flow.size();
        const auto res = cv::semflow::evaluatePairPCK(pair, flow, cv::semflow::PCKProtocol());
        for (double e : res.normalizedErrors)
            if (std::isnan(e))
                __builtin_trap();  // a NaN error would count as neither correct nor wrong
    }
    catch (const cv::Exception&)
    {
    }
    return 0;
}
