// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Procedural training images: textured objects of a few shape classes with exact masks and keypoints.

#include "data.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sfnet
{

namespace
{
struct Part
{
    std::vector<cv::Point2d> poly;  // template coordinates, object frame [-1,1]^2
    int colour;                     // index into the class palette
};

std::vector<cv::Point2d> ellipsePoly(double cx, double cy, double ax, double ay, double rotDeg = 0)
{
    std::vector<cv::Point2d> p;
    const double r = rotDeg * CV_PI / 180, c = std::cos(r), s = std::sin(r);
    for (int k = 0; k < 48; ++k)
    {
        const double t = 2 * CV_PI * k / 48;
        const double x = ax * std::cos(t), y = ay * std::sin(t);
        p.emplace_back(cx + c * x - s * y, cy + s * x + c * y);
    }
    return p;
}

std::vector<cv::Point2d> rectPoly(double x0, double y0, double x1, double y1)
{
    return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

struct ShapeClass
{
    std::vector<Part> parts;              // drawn in order
    std::vector<cv::Scalar> palette;      // BGR
    std::vector<cv::Point2d> keypoints;   // kGeneratedKeypoints template points
};

const std::vector<ShapeClass>& shapeClasses()
{
    static const std::vector<ShapeClass> classes = [] {
        std::vector<ShapeClass> c(kGeneratedClasses);
        // 0: fish facing left: body, tail, dorsal fin, stripe, eye with pupil.
        c[0].palette = {{40, 140, 230}, {30, 60, 200}, {200, 120, 40}, {240, 240, 240}, {20, 20, 20}};
        c[0].parts = {{{{0.65, 0}, {1.0, -0.5}, {1.0, 0.5}}, 1},
                      {{{-0.15, -0.35}, {0.3, -0.35}, {0.05, -0.75}}, 1},
                      {ellipsePoly(0, 0, 0.8, 0.45), 0},
                      {ellipsePoly(0.15, 0, 0.09, 0.38), 2},
                      {ellipsePoly(-0.5, -0.12, 0.12, 0.12), 3},
                      {ellipsePoly(-0.53, -0.12, 0.06, 0.06), 4}};
        c[0].keypoints = {{-0.8, 0}, {-0.5, -0.12}, {1.0, -0.5}, {1.0, 0.5},
                          {0.65, 0}, {0.05, -0.75}, {0, 0.45}, {0.15, 0}};
        // 1: house: chimney, walls, roof, door, window.
        c[1].palette = {{60, 60, 170}, {170, 210, 230}, {40, 40, 150}, {40, 90, 120}, {230, 200, 120}};
        c[1].parts = {{rectPoly(0.3, -0.75, 0.48, -0.3), 0},
                      {rectPoly(-0.6, -0.1, 0.6, 0.8), 1},
                      {{{-0.85, -0.05}, {0.85, -0.05}, {0, -0.8}}, 2},
                      {rectPoly(-0.15, 0.35, 0.15, 0.8), 3},
                      {rectPoly(0.25, 0.1, 0.5, 0.35), 4},
                      {rectPoly(-0.5, 0.1, -0.3, 0.3), 4}};
        c[1].keypoints = {{0, -0.8}, {-0.85, -0.05}, {0.85, -0.05}, {-0.6, 0.8},
                          {0.6, 0.8}, {0, 0.55}, {0.375, 0.225}, {0.39, -0.75}};
        // 2: flower: stem, leaf, five petals (the top one a different colour), centre.
        c[2].palette = {{60, 160, 60}, {200, 80, 220}, {80, 220, 250}, {40, 90, 200}, {30, 120, 40}};
        c[2].parts = {{rectPoly(-0.05, 0.2, 0.05, 1.0), 0}, {ellipsePoly(0.25, 0.7, 0.22, 0.08, -25), 4}};
        for (int k = 0; k < 5; ++k)
        {
            const double a = -90 + 72 * k, r = a * CV_PI / 180;
            c[2].parts.push_back({ellipsePoly(0.55 * std::cos(r), 0.55 * std::sin(r), 0.4, 0.2, a), k == 0 ? 2 : 1});
            c[2].keypoints.emplace_back(0.95 * std::cos(r), 0.95 * std::sin(r));
        }
        c[2].parts.push_back({ellipsePoly(0, 0, 0.3, 0.3), 3});
        c[2].keypoints.emplace_back(0, 0);
        c[2].keypoints.emplace_back(0, 1.0);
        c[2].keypoints.emplace_back(0.45, 0.62);
        // 3: robot head: antenna, ears, head, two differently coloured eyes, mouth.
        c[3].palette = {{150, 150, 150}, {80, 80, 80}, {60, 200, 60}, {200, 60, 60}, {40, 40, 220}};
        c[3].parts = {{rectPoly(-0.04, -0.9, 0.04, -0.55), 1},
                      {ellipsePoly(0, -0.9, 0.1, 0.1), 4},
                      {rectPoly(-0.8, -0.3, -0.55, 0.1), 1},
                      {rectPoly(0.55, -0.3, 0.8, 0.1), 1},
                      {rectPoly(-0.6, -0.6, 0.6, 0.6), 0},
                      {ellipsePoly(-0.28, -0.2, 0.15, 0.15), 2},
                      {ellipsePoly(0.28, -0.2, 0.15, 0.15), 3},
                      {rectPoly(-0.35, 0.25, 0.35, 0.4), 4}};
        c[3].keypoints = {{-0.28, -0.2}, {0.28, -0.2}, {-0.35, 0.325}, {0.35, 0.325},
                          {0, -0.9}, {-0.8, -0.1}, {0.8, -0.1}, {0, 0.6}};
        return c;
    }();
    return classes;
}

cv::Mat smoothNoise(cv::RNG& rng, int size, int cells, int type, double lo, double hi)
{
    cv::Mat small(cells, cells, type);
    rng.fill(small, cv::RNG::UNIFORM, lo, hi);
    cv::Mat big;
    cv::resize(small, big, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
    return big;
}

void fillPart(cv::Mat& img, const std::vector<cv::Point2d>& poly, const cv::Matx23d& M, const cv::Scalar& c)
{
    constexpr int kShift = 4;
    std::vector<cv::Point> pts;
    for (const auto& p : poly)
    {
        const double x = M(0, 0) * p.x + M(0, 1) * p.y + M(0, 2);
        const double y = M(1, 0) * p.x + M(1, 1) * p.y + M(1, 2);
        pts.emplace_back(cvRound(x * (1 << kShift)), cvRound(y * (1 << kShift)));
    }
    const cv::Point* ptr = pts.data();
    const int n = int(pts.size());
    cv::fillPoly(img, &ptr, &n, 1, c, cv::LINE_8, kShift);
}
}  // namespace

GeneratedImage generateImage(uint64_t seed, uint64_t index, int size)
{
    if (size < 32)
        throw std::runtime_error("generated images must be at least 32 pixels wide");
    cv::RNG rng(mixSeed(seed, index, 0x6e6e));
    GeneratedImage g;
    const double S = size;

    // Background: a smooth colour field, a random grating and a little grain.
    cv::Mat bg = smoothNoise(rng, size, 4, CV_32FC3, 30, 225);
    {
        const double f = rng.uniform(2.0, 9.0) / S, a = rng.uniform(0.0, CV_PI);
        const double fx = f * std::cos(a), fy = f * std::sin(a), ph = rng.uniform(0.0, 2 * CV_PI);
        const cv::Vec3f amp(float(rng.uniform(-35.0, 35.0)), float(rng.uniform(-35.0, 35.0)),
                            float(rng.uniform(-35.0, 35.0)));
        for (int y = 0; y < size; ++y)
        {
            cv::Vec3f* row = bg.ptr<cv::Vec3f>(y);
            for (int x = 0; x < size; ++x)
                row[x] += amp * float(std::sin(2 * CV_PI * (fx * x + fy * y) + ph));
        }
    }
    cv::Mat img;
    bg.convertTo(img, CV_8UC3);
    // Distractors: blobs and bars that are not part of any object class.
    const int nDistractors = rng.uniform(2, 6);
    for (int k = 0; k < nDistractors; ++k)
    {
        const cv::Scalar c(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256));
        const cv::Matx23d M(1, 0, rng.uniform(0.0, S), 0, 1, rng.uniform(0.0, S));
        if (rng.uniform(0, 2))
            fillPart(img, ellipsePoly(0, 0, S * rng.uniform(0.03, 0.12), S * rng.uniform(0.03, 0.12),
                                      rng.uniform(0.0, 180.0)),
                     M, c);
        else
            fillPart(img, ellipsePoly(0, 0, S * rng.uniform(0.1, 0.25), S * 0.015, rng.uniform(0.0, 180.0)), M, c);
    }

    // The object: template parts through a random instance map.
    g.shapeClass = rng.uniform(0, kGeneratedClasses);
    const ShapeClass& sc = shapeClasses()[g.shapeClass];
    const double half = S * rng.uniform(0.24, 0.34), aspect = std::exp(rng.uniform(-0.2, 0.2));
    const double rot = rng.uniform(-25.0, 25.0) * CV_PI / 180, shear = rng.uniform(-0.15, 0.15);
    const double cx = S * rng.uniform(0.38, 0.62), cy = S * rng.uniform(0.38, 0.62);
    const cv::Matx22d R(std::cos(rot), -std::sin(rot), std::sin(rot), std::cos(rot));
    const cv::Matx22d A = R * cv::Matx22d(1, shear, 0, 1) * cv::Matx22d(half * aspect, 0, 0, half / aspect);
    const cv::Matx23d M(A(0, 0), A(0, 1), cx, A(1, 0), A(1, 1), cy);
    std::vector<cv::Scalar> palette;
    for (const cv::Scalar& c : sc.palette)
    {
        cv::Scalar v;
        for (int ch = 0; ch < 3; ++ch)
            v[ch] = std::min(255.0, std::max(0.0, c[ch] + rng.gaussian(18)));
        palette.push_back(v);
    }
    g.mask = cv::Mat::zeros(size, size, CV_8UC1);
    for (const Part& p : sc.parts)
    {
        fillPart(img, p.poly, M, palette[p.colour]);
        fillPart(g.mask, p.poly, M, cv::Scalar(1));
    }
    // Texture over everything (object included): smooth shading and grain.
    cv::Mat shade = smoothNoise(rng, size, 6, CV_32FC1, 0.8, 1.2), f;
    img.convertTo(f, CV_32FC3);
    cv::Mat shade3;
    cv::merge(std::vector<cv::Mat>{shade, shade, shade}, shade3);
    cv::multiply(f, shade3, f);
    cv::Mat grain(size, size, CV_32FC3);
    rng.fill(grain, cv::RNG::NORMAL, 0, 6);
    f += grain;
    f.convertTo(g.image, CV_8UC3);
    for (const auto& k : sc.keypoints)
        g.keypoints.emplace_back(float(M(0, 0) * k.x + M(0, 1) * k.y + M(0, 2)),
                                 float(M(1, 0) * k.x + M(1, 1) * k.y + M(1, 2)));
    return g;
}

}  // namespace sfnet
