// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Image sources: VOC 2012, plain folders, composites and generated images behind ImageSource, and the --data spec.

#include "data.hpp"

#include "composite.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

namespace fs = std::filesystem;

namespace sfnet
{

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

}  // namespace sfnet
