// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "composite.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace fs = std::filesystem;

namespace sfnet
{

Cutout readCutout(const std::string& path, int maxSide)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw std::runtime_error("cut-out " + path + " does not exist or is not a file");
    const cv::Mat raw = cv::imread(path, cv::IMREAD_UNCHANGED);
    if (raw.empty())
        throw std::runtime_error("cannot read or decode cut-out " + path);
    if (raw.depth() != CV_8U || (raw.channels() != 4 && raw.channels() != 2))
        throw std::runtime_error("cut-out " + path + " has no alpha channel (an 8-bit RGBA or grey+alpha PNG is needed)");
    std::vector<cv::Mat> ch;
    cv::split(raw, ch);
    cv::Mat alpha = ch.back(), bgr;
    if (raw.channels() == 4)
        cv::merge(std::vector<cv::Mat>{ch[0], ch[1], ch[2]}, bgr);
    else
        cv::cvtColor(ch[0], bgr, cv::COLOR_GRAY2BGR);
    const cv::Rect box = cv::boundingRect(alpha > 127);
    if (box.area() == 0)
        throw std::runtime_error("cut-out " + path + " has an empty alpha channel");
    Cutout c;
    c.bgr = bgr(box).clone();
    c.alpha = alpha(box).clone();
    c.offset = cv::Point2d(box.x, box.y);
    const int side = std::max(box.width, box.height);
    if (maxSide > 0 && side > maxSide)
    {
        c.scale = double(maxSide) / side;
        const cv::Size sz(std::max(1, int(std::lround(box.width * c.scale))),
                          std::max(1, int(std::lround(box.height * c.scale))));
        cv::resize(c.bgr, c.bgr, sz, 0, 0, cv::INTER_AREA);
        cv::resize(c.alpha, c.alpha, sz, 0, 0, cv::INTER_AREA);
    }
    return c;
}

cv::Mat readBackground(const std::string& path, int maxShortSide)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw std::runtime_error("background " + path + " does not exist or is not a file");
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    if (img.empty())
        throw std::runtime_error("cannot read or decode background " + path);
    const int shortSide = std::min(img.cols, img.rows);
    if (maxShortSide > 0 && shortSide > maxShortSide)
    {
        const double s = double(maxShortSide) / shortSide;
        cv::resize(img, img, cv::Size(int(std::lround(img.cols * s)), int(std::lround(img.rows * s))), 0, 0,
                   cv::INTER_AREA);
    }
    return img;
}

cv::Mat randomBackgroundCrop(const cv::Mat& photo, int size, double minCrop, cv::RNG& rng)
{
    const int shortSide = std::min(photo.cols, photo.rows);
    const int side = std::max(8, int(shortSide * rng.uniform(minCrop, 1.0)));
    const int x0 = rng.uniform(0, photo.cols - side + 1), y0 = rng.uniform(0, photo.rows - side + 1);
    cv::Mat out;
    cv::resize(photo(cv::Rect(x0, y0, side, side)), out, cv::Size(size, size), 0, 0,
               side > size ? cv::INTER_AREA : cv::INTER_LINEAR);
    if (rng.uniform(0.0, 1.0) < 0.5)
        cv::flip(out, out, 1);
    return out;
}

cv::Mat plainBackground(int size, cv::RNG& rng)
{
    cv::Mat small(4, 4, CV_32FC3);
    rng.fill(small, cv::RNG::UNIFORM, -12.0, 12.0);
    cv::Mat var;
    cv::resize(small, var, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
    const cv::Scalar base(rng.uniform(40.0, 215.0), rng.uniform(40.0, 215.0), rng.uniform(40.0, 215.0));
    cv::Mat shifted = var + base, out;
    shifted.convertTo(out, CV_8UC3);
    return out;
}

namespace
{
// Cut-out pixel -> composite pixel: scale, optional flip, translation.
cv::Matx23d placeCutout(const Cutout& c, double scale, bool flip, double x0, double y0)
{
    if (flip)
        return cv::Matx23d(-scale, 0, x0 + scale * (c.bgr.cols - 1), 0, scale, y0);
    return cv::Matx23d(scale, 0, x0, 0, scale, y0);
}

// Alpha-blends the cut-out into img through M; returns the pasted alpha (CV_32F, 0..1).
cv::Mat paste(cv::Mat& img, const Cutout& c, const cv::Matx23d& M)
{
    cv::Mat colour, alpha;
    cv::warpAffine(c.bgr, colour, M, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
    cv::warpAffine(c.alpha, alpha, M, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
    cv::Mat a, a3, imgF, colF;
    alpha.convertTo(a, CV_32F, 1.0 / 255);
    cv::merge(std::vector<cv::Mat>{a, a, a}, a3);
    img.convertTo(imgF, CV_32FC3);
    colour.convertTo(colF, CV_32FC3);
    cv::Mat blended = imgF + a3.mul(colF - imgF);
    blended.convertTo(img, CV_8UC3);
    return a;
}
}  // namespace

CompositeImage compositeOnto(const cv::Mat& background, const Cutout& object,
                             const std::vector<const Cutout*>& distractors, const CompositeParams& p, cv::RNG& rng,
                             const cv::Matx23d* placement)
{
    if (background.type() != CV_8UC3 || background.rows != p.size || background.cols != p.size)
        throw std::runtime_error("compositeOnto: the background must be " + std::to_string(p.size) + "x" +
                                 std::to_string(p.size) + " CV_8UC3");
    CompositeImage out;
    out.image = background.clone();
    const double S = p.size;
    for (const Cutout* d : distractors)
    {
        const double side = std::max(d->bgr.cols, d->bgr.rows);
        const double s = rng.uniform(p.minDistractorScale, p.maxDistractorScale) * S / side;
        const double w = d->bgr.cols * s, h = d->bgr.rows * s;
        // Anywhere with its centre inside the image: distractors may be cut off by the border.
        const double cx = rng.uniform(0.0, S), cy = rng.uniform(0.0, S);
        const bool flip = rng.uniform(0.0, 1.0) < p.flipProb;
        paste(out.image, *d, placeCutout(*d, s, flip, cx - w / 2, cy - h / 2));
    }
    if (placement)
        out.objectToImage = *placement;
    else
    {
        const double side = std::max(object.bgr.cols, object.bgr.rows);
        const double s = rng.uniform(p.minScale, p.maxScale) * S / side;
        const double w = object.bgr.cols * s, h = object.bgr.rows * s;
        const double x0 = rng.uniform(0.0, std::max(0.0, S - w) + 1e-9);
        const double y0 = rng.uniform(0.0, std::max(0.0, S - h) + 1e-9);
        const bool flip = rng.uniform(0.0, 1.0) < p.flipProb;
        out.objectToImage = placeCutout(object, s, flip, x0, y0);
    }
    const cv::Mat a = paste(out.image, object, out.objectToImage);
    out.mask = cv::Mat(a > 0.5) / 255;
    out.box = cv::boundingRect(out.mask);
    return out;
}

std::vector<std::string> readPathList(const std::string& listPath)
{
    std::error_code ec;
    if (fs::is_directory(listPath, ec))
        throw std::runtime_error("the path list '" + listPath + "' is a directory, not a file");
    std::ifstream f(listPath);
    if (!f)
        throw std::runtime_error("cannot read the path list '" + listPath + "'");
    const fs::path base = fs::path(listPath).parent_path();
    std::vector<std::string> out;
    std::string line;
    while (std::getline(f, line))
    {
        const size_t hash = line.find('#');
        if (hash != std::string::npos)
            line.erase(hash);
        const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
        if (b == std::string::npos)
            continue;
        fs::path p(line.substr(b, e - b + 1));
        if (p.is_relative())
            p = base / p;
        if (!fs::is_regular_file(p, ec))
            throw std::runtime_error(listPath + " names " + p.string() + ", which does not exist or is not a file");
        out.push_back(p.string());
    }
    if (out.empty())
        throw std::runtime_error("the path list '" + listPath + "' names no file");
    return out;
}

namespace
{
// Decodes each file once, on first use, from any thread; a failure is remembered and
// reported (with the file's name) on every later use.
template <class T>
class LazyFiles
{
public:
    using Reader = T (*)(const std::string&);
    LazyFiles(std::vector<std::string> paths, Reader read)
        : paths_(std::move(paths)), read_(read), once_(paths_.size()), items_(paths_.size()), errors_(paths_.size())
    {
    }
    size_t size() const { return paths_.size(); }
    const std::string& path(size_t i) const { return paths_.at(i); }
    const T* get(size_t i, std::string& error) const
    {
        std::call_once(once_[i], [&] {
            try
            {
                items_[i] = read_(paths_[i]);
            }
            catch (const std::exception& e)
            {
                errors_[i] = e.what();
            }
        });
        if (!errors_[i].empty())
        {
            error = errors_[i];
            return nullptr;
        }
        return &items_[i];
    }

private:
    std::vector<std::string> paths_;
    Reader read_;
    mutable std::vector<std::once_flag> once_;
    mutable std::vector<T> items_;
    mutable std::vector<std::string> errors_;
};

class CompositeSource : public ImageSource
{
public:
    CompositeSource(std::vector<std::string> objects, std::vector<std::string> backgrounds, size_t count,
                    uint64_t seed, const CompositeParams& params)
        : objects_(std::move(objects), +[](const std::string& p) { return readCutout(p); }),
          backgrounds_(std::move(backgrounds), +[](const std::string& p) { return readBackground(p); }),
          count_(count), seed_(seed), params_(params)
    {
    }
    size_t size() const override { return count_; }
    std::string name(size_t i) const override
    {
        return fs::path(objects_.path(i % objects_.size())).stem().string() + "_" + std::to_string(i);
    }
    bool load(size_t i, MaskedImage& out, std::string& error) const override
    {
        cv::RNG rng(mixSeed(seed_, i, 0xc0de));
        const size_t objectIndex = i % objects_.size();
        const Cutout* object = objects_.get(objectIndex, error);
        if (!object)
            return false;
        // A background crop and its distractors (any object but this one).
        cv::Mat bg;
        std::vector<const Cutout*> distractors;
        auto scene = [&]() {
            const cv::Mat* photo = backgrounds_.get(size_t(rng.uniform(0, int(backgrounds_.size()))), error);
            if (!photo)
                return false;
            distractors.clear();
            const int nd = objects_.size() > 1 ? rng.uniform(0, params_.maxDistractors + 1) : 0;
            for (int k = 0; k < nd; ++k)
            {
                size_t d = size_t(rng.uniform(0, int(objects_.size()) - 1));
                d += d >= objectIndex;
                const Cutout* c = objects_.get(d, error);
                if (!c)
                    return false;
                distractors.push_back(c);
            }
            bg = randomBackgroundCrop(*photo, params_.size, params_.minCrop, rng);
            return true;
        };
        if (!scene())
            return false;
        const CompositeImage c = compositeOnto(bg, *object, distractors, params_, rng);
        out.image = c.image;
        out.mask = c.mask;
        out.otherBackground.release();
        if (rng.uniform(0.0, 1.0) < params_.otherBackgroundProb)
        {
            if (!scene())
                return false;
            out.otherBackground = compositeOnto(bg, *object, distractors, params_, rng, &c.objectToImage).image;
        }
        return true;
    }

private:
    LazyFiles<Cutout> objects_;
    LazyFiles<cv::Mat> backgrounds_;
    size_t count_;
    uint64_t seed_;
    CompositeParams params_;
};
}  // namespace

std::shared_ptr<ImageSource> openComposite(const std::vector<std::string>& objects,
                                           const std::vector<std::string>& backgrounds, size_t count, uint64_t seed,
                                           const CompositeParams& p)
{
    if (objects.empty() || backgrounds.empty())
        throw std::runtime_error("composite data needs at least one cut-out and one background");
    if (count == 0)
        throw std::runtime_error("composite data needs at least one item");
    if (p.size < 32 || !(p.minScale > 0) || !(p.minScale <= p.maxScale) || p.maxScale > 1 || !(p.minCrop > 0) ||
        p.minCrop > 1 || !(p.otherBackgroundProb >= 0) || p.otherBackgroundProb > 1 || p.maxDistractors < 0 ||
        p.maxDistractors > 8 || !(p.minDistractorScale > 0) ||
        !(p.minDistractorScale <= p.maxDistractorScale) || p.maxDistractorScale > 1)
        throw std::runtime_error("composite parameters out of range");
    return std::make_shared<CompositeSource>(objects, backgrounds, count, seed, p);
}

std::shared_ptr<ImageSource> openCompositeFolder(const std::string& dir, int perObject, uint64_t seed,
                                                 const CompositeParams& params)
{
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw std::runtime_error("composite data '" + dir + "' is not a folder (it must hold objects.txt and backgrounds.txt)");
    if (perObject < 1)
        throw std::runtime_error("composites per object must be >= 1");
    const auto objects = readPathList((fs::path(dir) / "objects.txt").string());
    const auto backgrounds = readPathList((fs::path(dir) / "backgrounds.txt").string());
    return openComposite(objects, backgrounds, objects.size() * size_t(perObject), seed, params);
}

}  // namespace sfnet
