// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "data.hpp"

#include "composite.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/semflow/flow_utils.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace fs = std::filesystem;

namespace sfnet
{

uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b)
{
    auto split = [](uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    uint64_t h = split(seed);
    h = split(h ^ a);
    h = split(h ^ (b * 0xd1b54a32d192ed03ull));
    return h ? h : 0x2545f4914f6cdd1dull;  // cv::RNG treats state 0 specially
}

// ------------------------------------------------------------------------------------
// Sources

namespace
{
std::string stemOf(const std::string& s)
{
    return fs::path(s).stem().string();
}

bool readFileOk(const fs::path& p)
{
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

class VocSource : public ImageSource
{
public:
    VocSource(fs::path root, std::string maskDir, std::vector<std::string> names)
        : root_(std::move(root)), maskDir_(std::move(maskDir)), names_(std::move(names))
    {
    }
    size_t size() const override { return names_.size(); }
    std::string name(size_t i) const override { return names_.at(i); }
    bool load(size_t i, MaskedImage& out, std::string& error) const override
    {
        const fs::path imgPath = root_ / "JPEGImages" / (names_.at(i) + ".jpg");
        const fs::path maskPath = root_ / maskDir_ / (names_.at(i) + ".png");
        cv::Mat img = cv::imread(imgPath.string(), cv::IMREAD_COLOR);
        if (img.empty())
        {
            error = "cannot read or decode image " + imgPath.string();
            return false;
        }
        cv::Mat m = cv::imread(maskPath.string(), cv::IMREAD_UNCHANGED);
        if (m.empty())
        {
            error = "cannot read or decode mask " + maskPath.string();
            return false;
        }
        if (m.size() != img.size())
        {
            error = "mask " + maskPath.string() + " is " + std::to_string(m.cols) + "x" +
                    std::to_string(m.rows) + " but its image is " + std::to_string(img.cols) + "x" +
                    std::to_string(img.rows);
            return false;
        }
        if (m.depth() != CV_8U)
        {
            error = "mask " + maskPath.string() + " is not 8-bit";
            return false;
        }
        cv::Mat fg(m.size(), CV_8UC1);
        if (m.channels() == 1)
        {
            // Raw labels: 0 background, 255 void, anything else an object.
            fg = (m != 0) & (m != 255);
        }
        else
        {
            // OpenCV expands VOC's palette PNGs to BGR: black = background,
            // (224,224,192) RGB = void (label 255); any other colour is an object.
            for (int y = 0; y < m.rows; ++y)
            {
                const uchar* s = m.ptr<uchar>(y);
                uchar* d = fg.ptr<uchar>(y);
                const int cn = m.channels();
                for (int x = 0; x < m.cols; ++x, s += cn)
                {
                    const bool bg = s[0] == 0 && s[1] == 0 && s[2] == 0;
                    const bool voidPx = s[0] == 192 && s[1] == 224 && s[2] == 224;
                    d[x] = (bg || voidPx) ? 0 : 255;
                }
            }
        }
        out.image = img;
        out.mask = fg / 255;
        return true;
    }

private:
    fs::path root_;
    std::string maskDir_;
    std::vector<std::string> names_;
};

class FolderSource : public ImageSource
{
public:
    FolderSource(std::vector<fs::path> images, std::vector<fs::path> masks)
        : images_(std::move(images)), masks_(std::move(masks))
    {
    }
    size_t size() const override { return images_.size(); }
    std::string name(size_t i) const override { return images_.at(i).stem().string(); }
    bool load(size_t i, MaskedImage& out, std::string& error) const override
    {
        cv::Mat img = cv::imread(images_.at(i).string(), cv::IMREAD_COLOR);
        if (img.empty())
        {
            error = "cannot read or decode image " + images_[i].string();
            return false;
        }
        cv::Mat m = cv::imread(masks_.at(i).string(), cv::IMREAD_GRAYSCALE);
        if (m.empty())
        {
            error = "cannot read or decode mask " + masks_[i].string();
            return false;
        }
        if (m.size() != img.size())
        {
            error = "mask " + masks_[i].string() + " has a different size than its image";
            return false;
        }
        out.image = img;
        out.mask = (m != 0) / 255;
        return true;
    }

private:
    std::vector<fs::path> images_, masks_;
};

class SyntheticSource : public ImageSource
{
public:
    SyntheticSource(size_t count, uint64_t seed, int size) : count_(count), seed_(seed), size_(size) {}
    size_t size() const override { return count_; }
    std::string name(size_t i) const override { return "synthetic_" + std::to_string(i); }
    bool load(size_t i, MaskedImage& out, std::string&) const override
    {
        GeneratedImage g = generateImage(seed_, i, size_);
        out.image = g.image;
        out.mask = g.mask;
        return true;
    }

private:
    size_t count_;
    uint64_t seed_;
    int size_;
};
}  // namespace

std::vector<std::string> readNameList(const std::string& path)
{
    // A directory opens as an ifstream on Linux and reads as empty: it would exclude nothing.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw std::runtime_error("the name list '" + path + "' is a directory, not a file");
    std::ifstream f(path);
    if (!f)
        throw std::runtime_error("cannot read the name list '" + path + "'");
    std::vector<std::string> names;
    std::string line;
    while (std::getline(f, line))
    {
        for (char& c : line)
            if (c == ',' || c == '\t' || c == '\r' || c == ';')
                c = ' ';
        std::istringstream ss(line);
        std::string field;
        while (ss >> field)
        {
            std::string s = stemOf(field);
            if (!s.empty())
                names.push_back(s);
        }
    }
    return names;
}

std::shared_ptr<ImageSource> openVoc(const std::string& root, const std::string& imageSet,
                                     const std::string& maskDir, const std::vector<std::string>& exclude)
{
    const fs::path r(root);
    if (!fs::is_directory(r / "JPEGImages"))
        throw std::runtime_error("'" + root + "' does not look like VOC2012: no JPEGImages/ folder "
                                 "(pass the VOC2012 folder, the one holding JPEGImages/ and " +
                                 maskDir + "/)");
    if (!fs::is_directory(r / maskDir))
        throw std::runtime_error("'" + root + "' has no " + maskDir + "/ folder");
    const fs::path list = r / "ImageSets" / "Segmentation" / (imageSet + ".txt");
    std::ifstream f(list);
    if (!f)
        throw std::runtime_error("cannot read the image set list " + list.string() +
                                 " (use train, val or trainval)");
    std::unordered_set<std::string> ex(exclude.begin(), exclude.end());
    std::vector<std::string> names;
    std::string line;
    size_t excluded = 0;
    while (std::getline(f, line))
    {
        std::istringstream ss(line);
        std::string n;
        if (!(ss >> n))
            continue;
        if (ex.count(n))
        {
            ++excluded;
            continue;
        }
        names.push_back(n);
    }
    if (names.empty())
        throw std::runtime_error("no images left in " + list.string() + " (" + std::to_string(excluded) +
                                 " excluded)");
    if (excluded)
        std::cerr << "voc: " << excluded << " images of " << imageSet << " excluded\n";
    return std::make_shared<VocSource>(r, maskDir, std::move(names));
}

std::shared_ptr<ImageSource> openFolder(const std::string& root, size_t* missingMasks)
{
    const fs::path r(root), imgDir = r / "images", maskDir = r / "masks";
    if (!fs::is_directory(imgDir) || !fs::is_directory(maskDir))
        throw std::runtime_error("folder data '" + root + "' must hold images/ and masks/ "
                                 "(images/NAME.jpg|png with masks/NAME.png)");
    std::vector<fs::path> imgs;
    for (const auto& e : fs::directory_iterator(imgDir))
    {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp")
            imgs.push_back(e.path());
    }
    std::sort(imgs.begin(), imgs.end());  // directory order is not portable; ours must be
    std::vector<fs::path> keepImgs, masks;
    size_t missing = 0;
    for (const auto& p : imgs)
    {
        fs::path m = maskDir / (p.stem().string() + ".png");
        if (readFileOk(m))
        {
            keepImgs.push_back(p);
            masks.push_back(m);
        }
        else
            ++missing;
    }
    if (missingMasks)
        *missingMasks = missing;
    if (keepImgs.empty())
        throw std::runtime_error("folder data '" + root + "': no image in images/ has a mask in masks/");
    if (missing)
        std::cerr << "folder: " << missing << " images without a mask in " << maskDir.string()
                  << " are left out\n";
    return std::make_shared<FolderSource>(std::move(keepImgs), std::move(masks));
}

std::shared_ptr<ImageSource> openSynthetic(size_t count, uint64_t seed, int imageSize)
{
    if (count == 0)
        throw std::runtime_error("synthetic data needs at least one image");
    if (imageSize < 32)
        throw std::runtime_error("synthetic images must be at least 32 pixels wide");
    return std::make_shared<SyntheticSource>(count, seed, imageSize);
}

std::shared_ptr<ImageSource> openDataSpec(const std::string& spec, const std::string& vocSet,
                                          const std::string& vocMaskDir, const std::vector<std::string>& exclude,
                                          int imageSize, const CompositeSpec& composite)
{
    const auto colon = spec.find(':');
    const std::string kind = spec.substr(0, colon);
    const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (kind == "voc" && !arg.empty())
        return openVoc(arg, vocSet, vocMaskDir, exclude);
    if (kind == "folder" && !arg.empty())
        return openFolder(arg);
    if (kind == "composite" && !arg.empty())
    {
        CompositeParams params;
        params.size = imageSize;
        params.maxDistractors = composite.maxDistractors;
        params.otherBackgroundProb = composite.otherBackground;
        return openCompositeFolder(arg, composite.perObject, composite.seed, params);
    }
    if (kind == "synthetic")
    {
        size_t n = 2000;
        if (!arg.empty())
        {
            char* end = nullptr;
            const long long v = std::strtoll(arg.c_str(), &end, 10);
            if (*end || v <= 0)
                throw std::runtime_error("synthetic:N needs a positive count, got '" + arg + "'");
            n = size_t(v);
        }
        return openSynthetic(n, 0, imageSize);
    }
    throw std::runtime_error("unknown data '" + spec +
                             "': use voc:DIR, folder:DIR, composite:DIR, synthetic or synthetic:N");
}

// ------------------------------------------------------------------------------------
// Procedural images

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

// ------------------------------------------------------------------------------------
// Pair synthesis

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

// ------------------------------------------------------------------------------------
// Loader

struct PairLoader::Impl
{
    std::shared_ptr<ImageSource> source;
    AugmentParams params;
    int batchSize = 1;
    uint64_t seed = 0;
    int shard = 0, shards = 1;

    std::mutex m;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    bool stop = false;
    std::vector<std::thread> threads;

    std::atomic<int64_t> skipped{0};
    std::mutex warnMutex;
    std::set<size_t> warned;

    mutable std::mutex orderMutex;
    mutable int64_t orderEpoch = -1;
    mutable std::vector<size_t> order;

    struct Pending
    {
        int64_t epoch, b;
        std::vector<std::future<std::optional<PairSample>>> items;
    };
    std::deque<Pending> pending;

    void workerLoop()
    {
        for (;;)
        {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> lk(m);
                cv.wait(lk, [&] { return stop || !jobs.empty(); });
                if (stop)
                    return;
                job = std::move(jobs.front());
                jobs.pop_front();
            }
            job();
        }
    }

    std::optional<PairSample> make(size_t item, uint64_t sampleSeed)
    {
        MaskedImage mi;
        std::string err;
        bool ok = false;
        try
        {
            ok = source->load(item, mi, err);
            if (ok)
                return synthesizePair(mi, params, sampleSeed);
        }
        catch (const std::exception& e)
        {
            ok = false;
            err = std::string("cannot use ") + source->name(item) + ": " + e.what();
        }
        ++skipped;
        std::lock_guard<std::mutex> lk(warnMutex);
        if (warned.insert(item).second)
            std::cerr << "\nwarning: skipping " << source->name(item) << ": " << err << "\n";
        return std::nullopt;
    }

    Pending submit(int64_t epoch, int64_t b, const PairLoader& self)
    {
        Pending p{epoch, b, {}};
        const int64_t n = int64_t(source->size());
        const int64_t k0 = b * batchSize, len = std::min(n, k0 + batchSize) - k0;
        const int64_t lo = k0 + len * shard / shards, hi = k0 + len * (shard + 1) / shards;
        std::lock_guard<std::mutex> lk(m);
        for (int64_t k = lo; k < hi; ++k)
        {
            const size_t item = self.itemAt(epoch, k);
            const uint64_t s = mixSeed(seed, uint64_t(epoch), uint64_t(k));
            auto task = std::make_shared<std::packaged_task<std::optional<PairSample>()>>(
                [this, item, s] { return make(item, s); });
            p.items.push_back(task->get_future());
            jobs.emplace_back([task] { (*task)(); });
        }
        cv.notify_all();
        return p;
    }
};

PairLoader::PairLoader(std::shared_ptr<ImageSource> source, const AugmentParams& params, int batchSize,
                       int workers, uint64_t seed, int shard, int shards)
    : impl_(new Impl)
{
    if (shards < 1 || shard < 0 || shard >= shards)
        throw std::runtime_error("PairLoader: shard " + std::to_string(shard) + " of " + std::to_string(shards) +
                                 " is not a valid shard");
    if (!source || source->size() == 0)
        throw std::runtime_error("PairLoader: the data source is empty");
    if (batchSize < 1)
        throw std::runtime_error("PairLoader: the batch size must be >= 1");
    if (workers < 1)
        throw std::runtime_error("PairLoader: at least one worker is needed");
    impl_->source = std::move(source);
    impl_->params = params;
    impl_->batchSize = batchSize;
    impl_->seed = seed;
    impl_->shard = shard;
    impl_->shards = shards;
    for (int i = 0; i < workers; ++i)
        impl_->threads.emplace_back([this] { impl_->workerLoop(); });
}

PairLoader::~PairLoader()
{
    {
        std::lock_guard<std::mutex> lk(impl_->m);
        impl_->stop = true;
        impl_->jobs.clear();  // unstarted tasks: their futures see broken_promise, nobody waits
    }
    impl_->cv.notify_all();
    for (auto& t : impl_->threads)
        t.join();
}

int64_t PairLoader::batchesPerEpoch() const
{
    const int64_t n = int64_t(impl_->source->size());
    return (n + impl_->batchSize - 1) / impl_->batchSize;
}

size_t PairLoader::itemAt(int64_t epoch, int64_t k) const
{
    std::lock_guard<std::mutex> lk(impl_->orderMutex);
    if (impl_->orderEpoch != epoch)
    {
        auto& o = impl_->order;
        o.resize(impl_->source->size());
        std::iota(o.begin(), o.end(), size_t(0));
        cv::RNG rng(mixSeed(impl_->seed, uint64_t(epoch), 0x5eedull));
        for (size_t i = o.size(); i > 1; --i)
            std::swap(o[i - 1], o[size_t(rng.uniform(0, int(i)))]);
        impl_->orderEpoch = epoch;
    }
    return impl_->order.at(size_t(k));
}

std::vector<PairSample> PairLoader::batch(int64_t epoch, int64_t b, bool prefetchNext)
{
    if (b < 0 || b >= batchesPerEpoch())
        throw std::runtime_error("PairLoader: batch index out of range");
    auto& pend = impl_->pending;
    std::optional<Impl::Pending> cur;
    while (!pend.empty())
    {
        Impl::Pending p = std::move(pend.front());
        pend.pop_front();
        if (p.epoch == epoch && p.b == b)
        {
            cur = std::move(p);
            break;
        }
        for (auto& f : p.items)  // a batch nobody asked for (a jump): let it finish, drop it
            f.wait();
    }
    if (!cur)
        cur = impl_->submit(epoch, b, *this);
    if (prefetchNext)
    {
        int64_t ne = epoch, nb = b + 1;
        if (nb >= batchesPerEpoch())
        {
            ne = epoch + 1;
            nb = 0;
        }
        pend.push_back(impl_->submit(ne, nb, *this));
    }

    std::vector<PairSample> out;
    for (auto& f : cur->items)
    {
        std::optional<PairSample> s = f.get();
        if (s)
            out.push_back(std::move(*s));
    }
    return out;
}

int64_t PairLoader::skipped() const
{
    return impl_->skipped.load();
}

const AugmentParams& PairLoader::params() const
{
    return impl_->params;
}

}  // namespace sfnet
