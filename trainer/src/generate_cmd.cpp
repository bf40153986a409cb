// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet generate`: writes procedurally generated images + masks (the folder layout
// `sfnet train --data folder:DIR` reads) and optionally same-class pairs with their
// keypoints as a PF-PASCAL-format CSV.

#include "cli_args.hpp"
#include "commands.hpp"
#include "data.hpp"

#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace sfnet
{
namespace
{
const char* const kUsage =
    "usage: sfnet generate --output DIR [--count N] [--size S] [--seed N] [--first K] [--pairs M]\n"
    "\n"
    "Writes N procedurally generated images (textured objects of 4 shape classes on textured\n"
    "backgrounds) as DIR/images/NNNNNN.png with exact foreground masks DIR/masks/NNNNNN.png\n"
    "(0/255), the layout of `sfnet train --data folder:DIR`.\n"
    "\n"
    "  --count N    number of images (default 1000)\n"
    "  --size S     image side in pixels (default 256)\n"
    "  --seed N     generated set (default 0; `--data synthetic` trains on set 0)\n"
    "  --first K    index of the first image of the set (default 0): a held-out set is the\n"
    "               same seed with --first beyond the training count, or another seed\n"
    "  --pairs M    also write DIR/pairs.csv: M pairs of different instances of the same class\n"
    "               with their 8 corresponding keypoints, in PF-PASCAL's CSV format\n"
    "               (source_image,target_image,class,XA,YA,XB,YB; paths relative to DIR)\n";


std::string join(const std::vector<cv::Point2f>& pts, bool x)
{
    std::ostringstream os;
    os << std::fixed << std::setprecision(2);
    for (size_t i = 0; i < pts.size(); ++i)
        os << (i ? ";" : "") << (x ? pts[i].x : pts[i].y);
    return os.str();
}
}  // namespace

int cmdGenerate(int argc, char** argv)
{
    std::string output;
    int64_t count = 1000, size = 256, seed = 0, first = 0, pairs = 0;
    try
    {
        for (OptionReader args(argc, argv); args.next();)
        {
            const std::string a = args.option();
            auto value = [&] { return args.value(); };
            if (a == "--help" || a == "-h")
            {
                std::cout << kUsage;
                return 0;
            }
            else if (a == "--output" || a == "-o")
                output = value();
            else if (a == "--count")
                count = parseInt(a, value());
            else if (a == "--size")
                size = parseInt(a, value());
            else if (a == "--seed")
                seed = parseInt(a, value());
            else if (a == "--first")
                first = parseInt(a, value());
            else if (a == "--pairs")
                pairs = parseInt(a, value());
            else
                throw std::invalid_argument("unknown option '" + a + "'");
        }
        if (output.empty())
            throw std::invalid_argument("--output is required");
        if (count < 1)
            throw std::invalid_argument("--count must be >= 1");
        if (size < 32 || size > 4096)
            throw std::invalid_argument("--size must be between 32 and 4096");
        if (seed < 0 || first < 0 || pairs < 0)
            throw std::invalid_argument("--seed, --first and --pairs must be >= 0");
    }
    catch (const std::invalid_argument& e)
    {
        std::cerr << "sfnet generate: " << e.what() << "\n\n" << kUsage;
        return 2;
    }

    const fs::path root(output);
    fs::create_directories(root / "images");
    fs::create_directories(root / "masks");
    std::vector<GeneratedImage> meta;  // keypoints and classes for --pairs
    std::vector<std::string> names;
    for (int64_t k = 0; k < count; ++k)
    {
        GeneratedImage g = generateImage(uint64_t(seed), uint64_t(first + k), int(size));
        std::ostringstream n;
        n << std::setw(6) << std::setfill('0') << first + k;
        const std::string img = (root / "images" / (n.str() + ".png")).string();
        const std::string msk = (root / "masks" / (n.str() + ".png")).string();
        if (!cv::imwrite(img, g.image) || !cv::imwrite(msk, g.mask * 255))
            throw std::runtime_error("cannot write " + img + " / " + msk);
        names.push_back(n.str() + ".png");
        if (pairs > 0)
        {
            g.image.release();
            g.mask.release();
            meta.push_back(std::move(g));
        }
    }
    if (pairs > 0)
    {
        std::vector<std::vector<size_t>> byClass(kGeneratedClasses);
        for (size_t i = 0; i < meta.size(); ++i)
            byClass[size_t(meta[i].shapeClass)].push_back(i);
        std::ofstream csv(root / "pairs.csv");
        csv << "source_image,target_image,class,XA,YA,XB,YB\n";
        cv::RNG rng(mixSeed(uint64_t(seed), uint64_t(first), 0x9a1e));
        int64_t written = 0;
        for (int64_t tries = 0; written < pairs && tries < pairs * 20; ++tries)
        {
            const auto& cls = byClass[size_t(rng.uniform(0, kGeneratedClasses))];
            if (cls.size() < 2)
                continue;
            const size_t a = cls[size_t(rng.uniform(0, int(cls.size())))], b = cls[size_t(rng.uniform(0, int(cls.size())))];
            if (a == b)
                continue;
            csv << "images/" << names[a] << ",images/" << names[b] << "," << meta[a].shapeClass + 1 << ","
                << join(meta[a].keypoints, true) << "," << join(meta[a].keypoints, false) << ","
                << join(meta[b].keypoints, true) << "," << join(meta[b].keypoints, false) << "\n";
            ++written;
        }
        if (!csv)
            throw std::runtime_error("cannot write " + (root / "pairs.csv").string());
        if (written < pairs)
            std::cerr << "warning: only " << written << " same-class pairs could be drawn from " << count
                      << " images\n";
        std::cout << "wrote " << count << " images and masks and " << written << " pairs to " << output << "\n";
    }
    else
        std::cout << "wrote " << count << " images and masks to " << output << "\n";
    return 0;
}

}  // namespace sfnet
