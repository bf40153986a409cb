// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Pair synthesis: SFNet's two random affine warps and colour jitters of one masked image.

#include "data.hpp"

#include <opencv2/imgproc.hpp>
#include <opencv2/semflow/flow_utils.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sfnet
{

namespace
{
// Normalised (align_corners=true) affine -> pixel affine of the same warp for a square
// side S: p_in = D theta D^-1 p_out with D: n -> (n + 1) (S - 1) / 2.
cv::Matx23d pixelAffine(const cv::Matx23d& theta, int S)
{
    const double h = (S - 1) / 2.0;
    cv::Matx33d D(h, 0, h, 0, h, h, 0, 0, 1), Di(1 / h, 0, -1, 0, 1 / h, -1, 0, 0, 1);
    cv::Matx33d T(theta(0, 0), theta(0, 1), theta(0, 2), theta(1, 0), theta(1, 1), theta(1, 2), 0, 0, 1);
    cv::Matx33d P = D * T * Di;
    return cv::Matx23d(P(0, 0), P(0, 1), P(0, 2), P(1, 0), P(1, 1), P(1, 2));
}

cv::Matx23d invertAffine(const cv::Matx23d& A)
{
    cv::Matx23d out;
    cv::invertAffineTransform(A, out);
    return out;
}

cv::Mat warp(const cv::Mat& src, const cv::Matx23d& dstToSrc)
{
    cv::Mat dst;
    cv::warpAffine(src, dst, dstToSrc, src.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return dst;
}

// torchvision's ColorJitter on an RGB float image in [0,1]: the four adjustments in a
// random order, each factor uniform in [1-j, 1+j] (hue shift in [-j, j] turns).
void colourJitter(cv::Mat& rgb, double j, cv::RNG& rng)
{
    int order[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; --i)
        std::swap(order[i], order[rng.uniform(0, i + 1)]);
    const double b = rng.uniform(std::max(0.0, 1 - j), 1 + j), c = rng.uniform(std::max(0.0, 1 - j), 1 + j);
    const double s = rng.uniform(std::max(0.0, 1 - j), 1 + j), h = rng.uniform(-j, j);
    auto clamp01 = [](cv::Mat& m) { cv::min(cv::max(m, 0.0), 1.0, m); };
    for (int op : order)
    {
        if (op == 0)
            rgb *= b;
        else if (op == 1)
        {
            cv::Mat gray;
            cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
            const double m = cv::mean(gray)[0];
            rgb = (rgb - cv::Scalar::all(m)) * c + cv::Scalar::all(m);
        }
        else if (op == 2)
        {
            cv::Mat gray, gray3;
            cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
            cv::cvtColor(gray, gray3, cv::COLOR_GRAY2RGB);
            rgb = gray3 + (rgb - gray3) * s;
        }
        else
        {
            cv::Mat hsv;
            cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);  // float: H in [0, 360)
            const float dh = float(h * 360);
            for (int y = 0; y < hsv.rows; ++y)
            {
                cv::Vec3f* r = hsv.ptr<cv::Vec3f>(y);
                for (int x = 0; x < hsv.cols; ++x)
                {
                    float v = r[x][0] + dh;
                    v -= 360.f * std::floor(v / 360.f);
                    r[x][0] = v;
                }
            }
            cv::cvtColor(hsv, rgb, cv::COLOR_HSV2RGB);
        }
        clamp01(rgb);
    }
}

cv::Matx23d randomTheta(cv::RNG& rng, double sigma)
{
    cv::Matx23d t(1, 0, 0, 0, 1, 0);
    for (int k = 0; k < 6; ++k)
        t.val[k] += rng.gaussian(sigma);
    return t;
}
}  // namespace

cv::Mat resizeAntialiasedBilinear(const cv::Mat& src, cv::Size dsize)
{
    CV_Assert(!src.empty() && src.type() == CV_32FC1 && dsize.width > 0 && dsize.height > 0);
    cv::Mat dst;
    cv::semflow::resizeAntialiased(src, dst, dsize);
    return dst;
}

PairSample synthesizePair(const MaskedImage& in, const AugmentParams& p, uint64_t seed)
{
    if (in.image.empty() || in.image.type() != CV_8UC3)
        throw std::runtime_error("synthesizePair: expected a CV_8UC3 image");
    if (in.mask.size() != in.image.size() || in.mask.type() != CV_8UC1)
        throw std::runtime_error("synthesizePair: expected a CV_8UC1 mask of the image's size");
    if (!in.otherBackground.empty() &&
        (in.otherBackground.type() != CV_8UC3 || in.otherBackground.size() != in.image.size()))
        throw std::runtime_error("synthesizePair: the other-background image must be CV_8UC3 of the image's size");
    if (p.size < 32 || p.size % 32 != 0 || p.stride <= 0 || p.size % p.stride != 0)
        throw std::runtime_error("synthesizePair: the input size must be a positive multiple of 32, got " +
                                 std::to_string(p.size));
    const int S = p.size;
    cv::RNG rng(seed ? seed : 1);

    // Downscaling with INTER_AREA approximates the antialiased bilinear resize of PIL.
    const int interp = (in.image.cols > S || in.image.rows > S) ? cv::INTER_AREA : cv::INTER_LINEAR;
    auto toRgb = [&](const cv::Mat& bgr) {
        cv::Mat img, rgb;
        cv::resize(bgr, img, cv::Size(S, S), 0, 0, interp);
        cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
        rgb.convertTo(rgb, CV_32FC3, 1.0 / 255);
        return rgb;
    };
    cv::Mat rgb = toRgb(in.image), rgbOther = in.otherBackground.empty() ? cv::Mat() : toRgb(in.otherBackground);
    cv::Mat maskF, mask;
    in.mask.convertTo(maskF, CV_32F);
    cv::resize(maskF, mask, cv::Size(S, S), 0, 0, interp);
    if (rng.uniform(0.0, 1.0) < p.hflipProb)
    {
        cv::flip(rgb, rgb, 1);
        cv::flip(mask, mask, 1);
        if (!rgbOther.empty())
            cv::flip(rgbOther, rgbOther, 1);
    }

    PairSample out;
    cv::Mat a = rgb.clone(), b = rgbOther.empty() ? rgb.clone() : rgbOther;
    colourJitter(a, p.jitter, rng);
    colourJitter(b, p.jitter, rng);
    out.thetaS = randomTheta(rng, p.affineSigma);
    out.thetaT = randomTheta(rng, p.affineSigma);
    const cv::Matx23d PS = pixelAffine(out.thetaS, S), PT = pixelAffine(out.thetaT, S);
    out.source = warp(a, PS);
    out.target = warp(b, PT);

    // Object pixels visible in both views: view k sees canonical pixel c iff
    // PK^-1 c falls inside the output frame, i.e. a warped frame of ones is 1 there.
    const cv::Mat ones(S, S, CV_32F, cv::Scalar(1));
    cv::Mat both = mask.mul(warp(ones, invertAffine(PS))).mul(warp(ones, invertAffine(PT)));
    const cv::Size grid(S / p.stride, S / p.stride);
    auto shrink = [&](const cv::Mat& m) {
        if (p.maskShrink == MaskShrink::Antialiased)
            return resizeAntialiasedBilinear(m, grid);
        cv::Mat r;
        cv::resize(m, r, grid, 0, 0, cv::INTER_AREA);
        return r;
    };
    const cv::Mat ms = shrink(warp(both, PS)), mt = shrink(warp(both, PT));
    cv::threshold(ms, out.maskS, p.maskThreshold, 1.0, cv::THRESH_BINARY);
    cv::threshold(mt, out.maskT, p.maskThreshold, 1.0, cv::THRESH_BINARY);
    return out;
}

cv::Point2d pairCorrespondence(const PairSample& pair, int size, cv::Point2d s)
{
    const cv::Matx23d PS = pixelAffine(pair.thetaS, size), PTi = invertAffine(pixelAffine(pair.thetaT, size));
    const cv::Point2d c(PS(0, 0) * s.x + PS(0, 1) * s.y + PS(0, 2), PS(1, 0) * s.x + PS(1, 1) * s.y + PS(1, 2));
    return {PTi(0, 0) * c.x + PTi(0, 1) * c.y + PTi(0, 2), PTi(1, 0) * c.x + PTi(1, 1) * c.y + PTi(1, 2)};
}

}  // namespace sfnet
