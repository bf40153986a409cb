// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Generates the bundled demo pair: two procedurally drawn "animals" of one made-up category
// (body, head, ears, legs, tail, striped coat) that differ in colours, proportions, pose and
// background, plus their foreground masks. Deterministic (fixed seeds).
//
//   g++ -O2 -std=c++17 test_data/semflow/demo/make_demo_images.cpp $(pkg-config --cflags --libs opencv4) \
//       -o /tmp/make_demo_images && /tmp/make_demo_images test_data/semflow/demo

#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace {

struct Animal
{
    cv::Point2f centre;   // body centre, pixels
    float scale;          // overall size
    float angle;          // body tilt, degrees
    float neck;           // head raise, fraction of body length
    float legSpread;      // leg splay, pixels
    cv::Scalar coat, head, stripe, bg0, bg1;
    unsigned seed;
};

cv::Point2f rot(cv::Point2f p, float deg)
{
    const float a = deg * (float)CV_PI / 180.f, c = std::cos(a), s = std::sin(a);
    return cv::Point2f(c * p.x - s * p.y, s * p.x + c * p.y);
}

void background(cv::Mat& img, const Animal& a)
{
    cv::RNG rng(a.seed);
    for (int y = 0; y < img.rows; y++)
        for (int x = 0; x < img.cols; x++)
        {
            const double t = 0.5 * x / img.cols + 0.5 * y / img.rows;
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(a.bg0[0] * (1 - t) + a.bg1[0] * t),
                                                cv::saturate_cast<uchar>(a.bg0[1] * (1 - t) + a.bg1[1] * t),
                                                cv::saturate_cast<uchar>(a.bg0[2] * (1 - t) + a.bg1[2] * t));
        }
    // Low-contrast clutter so that the background is not a flat colour.
    for (int i = 0; i < 40; i++)
    {
        const cv::Point c(rng.uniform(0, img.cols), rng.uniform(0, img.rows));
        const int r = rng.uniform(4, 22);
        const cv::Vec3b base = img.at<cv::Vec3b>(c.y, c.x);
        const int d = rng.uniform(-35, 35);
        cv::circle(img, c, r, cv::Scalar(base[0] + d, base[1] + d, base[2] + d), cv::FILLED, cv::LINE_AA);
    }
    cv::Mat noise(img.size(), CV_8UC3);
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(6));
    cv::add(img, noise, img);
    cv::GaussianBlur(img, img, cv::Size(3, 3), 0);
}

void drawAnimal(cv::Mat& img, cv::Mat& mask, const Animal& a)
{
    const float s = a.scale;
    auto P = [&](float x, float y) { return a.centre + rot(cv::Point2f(x * s, y * s), a.angle); };
    auto I = [](cv::Point2f p) { return cv::Point(cvRound(p.x * 16), cvRound(p.y * 16)); };
    const int shift = 4;

    cv::Mat layer(img.size(), CV_8UC3, cv::Scalar::all(0)), m(img.size(), CV_8UC1, cv::Scalar(0));
    auto both = [&](auto draw, const cv::Scalar& color) {
        draw(layer, color);
        draw(m, cv::Scalar(255));
    };
    // Legs and tail first: the body covers their joints.
    const float legX[4] = {-48, -26, 28, 50};
    for (int i = 0; i < 4; i++)
    {
        const cv::Point2f top = P(legX[i], 18), foot = P(legX[i] + (i < 2 ? -a.legSpread : a.legSpread) / s, 78);
        both([&](cv::Mat& dst, const cv::Scalar& c) { cv::line(dst, I(top), I(foot), c, cvRound(11 * s), cv::LINE_AA, shift); },
             a.coat * 0.8);
        both([&](cv::Mat& dst, const cv::Scalar& c) { cv::circle(dst, I(foot), cvRound(8 * s * 16), c, cv::FILLED, cv::LINE_AA, shift); },
             a.head * 0.6);
    }
    std::vector<cv::Point> tail;
    for (int i = 0; i <= 12; i++)
    {
        const float t = i / 12.f;
        tail.push_back(I(P(-70 - 45 * t, -10 - 50 * t * t + 10 * std::sin(6 * t))));
    }
    both([&](cv::Mat& dst, const cv::Scalar& c) { cv::polylines(dst, tail, false, c, cvRound(8 * s), cv::LINE_AA, shift); },
         a.coat * 0.9);

    // Body with stripes clipped to it.
    cv::Mat body(img.size(), CV_8UC1, cv::Scalar(0));
    cv::ellipse(body, cv::RotatedRect(P(0, 0), cv::Size2f(165 * s, 80 * s), a.angle), cv::Scalar(255), cv::FILLED, cv::LINE_AA);
    layer.setTo(a.coat, body);
    m.setTo(255, body);
    cv::Mat stripes(img.size(), CV_8UC1, cv::Scalar(0));
    for (int i = -3; i <= 3; i++)
        cv::line(stripes, I(P(i * 20.f - 6, -45)), I(P(i * 20.f + 6, 45)), cv::Scalar(255), cvRound(7 * s), cv::LINE_AA, shift);
    layer.setTo(a.stripe, stripes & body);

    // Neck, head, ears, eye, nose.
    const cv::Point2f neckBase = P(62, -12), headC = P(98, -40 - 60 * a.neck);
    both([&](cv::Mat& dst, const cv::Scalar& c) { cv::line(dst, I(neckBase), I(headC), c, cvRound(26 * s), cv::LINE_AA, shift); },
         a.coat);
    for (int side : {-1, 1})
    {
        std::vector<cv::Point> ear = {I(headC + rot(cv::Point2f(side * 10 * s, -18 * s), a.angle)),
                                      I(headC + rot(cv::Point2f(side * 24 * s, -48 * s), a.angle)),
                                      I(headC + rot(cv::Point2f(side * 26 * s, -12 * s), a.angle))};
        both([&](cv::Mat& dst, const cv::Scalar& c) { cv::fillConvexPoly(dst, ear, c, cv::LINE_AA, shift); }, a.stripe);
    }
    both([&](cv::Mat& dst, const cv::Scalar& c) { cv::circle(dst, I(headC), cvRound(27 * s * 16), c, cv::FILLED, cv::LINE_AA, shift); },
         a.head);
    const cv::Point2f snout = headC + rot(cv::Point2f(24 * s, 8 * s), a.angle);
    both([&](cv::Mat& dst, const cv::Scalar& c) { cv::ellipse(dst, cv::RotatedRect(snout, cv::Size2f(30 * s, 20 * s), a.angle), c, cv::FILLED, cv::LINE_AA); },
         a.head * 0.85 + cv::Scalar::all(30));
    cv::circle(layer, I(snout + rot(cv::Point2f(12 * s, -2 * s), a.angle)), cvRound(4 * s * 16), cv::Scalar(30, 30, 30), cv::FILLED, cv::LINE_AA, shift);
    cv::circle(layer, I(headC + rot(cv::Point2f(6 * s, -8 * s), a.angle)), cvRound(5 * s * 16), cv::Scalar(255, 255, 255), cv::FILLED, cv::LINE_AA, shift);
    cv::circle(layer, I(headC + rot(cv::Point2f(7 * s, -8 * s), a.angle)), cvRound(2.5f * s * 16), cv::Scalar(20, 20, 20), cv::FILLED, cv::LINE_AA, shift);

    layer.copyTo(img, m);
    mask = m > 127;
}

void makeOne(const std::string& dir, const std::string& name, cv::Size size, const Animal& a)
{
    cv::Mat img(size, CV_8UC3), mask;
    background(img, a);
    drawAnimal(img, mask, a);
    const std::string imgPath = dir + "/" + name + ".png", maskPath = dir + "/" + name + "_mask.png";
    if (!cv::imwrite(imgPath, img) || !cv::imwrite(maskPath, mask))
    {
        std::fprintf(stderr, "cannot write %s or %s\n", imgPath.c_str(), maskPath.c_str());
        std::exit(1);
    }
    std::printf("wrote %s (%dx%d) and %s\n", imgPath.c_str(), size.width, size.height, maskPath.c_str());
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2)
    {
        std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    // BGR colours. The two instances share the category's layout and nothing else.
    const Animal source{{150, 140}, 1.0f, -4.f, 0.15f, 6.f,
                        {60, 110, 200}, {80, 140, 225}, {30, 50, 110}, {150, 190, 170}, {90, 140, 120}, 11};
    const Animal target{{140, 150}, 0.85f, 8.f, 0.45f, 14.f,
                        {160, 160, 165}, {200, 200, 205}, {70, 70, 80}, {200, 170, 120}, {120, 110, 90}, 23};
    makeOne(dir, "source", cv::Size(320, 256), source);
    makeOne(dir, "target", cv::Size(288, 272), target);
    return 0;
}
