// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet generate`: writes procedurally generated images + masks (the folder layout
// `sfnet train --data folder:DIR` reads) and optionally same-class pairs with their
// keypoints as a PF-PASCAL-format CSV.

#include "cli_args.hpp"
#include "commands.hpp"
#include "composite.hpp"
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
std::string join(const std::vector<cv::Point2f>& pts, bool x)
{
    std::ostringstream os;
    os << std::fixed << std::setprecision(2);
    for (size_t i = 0; i < pts.size(); ++i)
        os << (i ? ";" : "") << (x ? pts[i].x : pts[i].y);
    return os.str();
}

struct AnnotatedCutout
{
    std::string path, kind;
    std::vector<cv::Point2f> keypoints;  // (-1, -1) = not visible
};

std::vector<float> splitNumbers(const std::string& field, const std::string& where)
{
    std::vector<float> out;
    std::stringstream ss(field);
    std::string item;
    while (std::getline(ss, item, ';'))
    {
        char* end = nullptr;
        const float v = std::strtof(item.c_str(), &end);
        if (item.empty() || *end || !std::isfinite(v))
            throw std::runtime_error(where + ": '" + item + "' is not a number");
        out.push_back(v);
    }
    return out;
}

std::vector<AnnotatedCutout> readAnnotatedCutouts(const std::string& csvPath, const std::string& root)
{
    std::ifstream f(csvPath);
    if (!f)
        throw std::runtime_error("cannot read the keypoint list " + csvPath);
    std::vector<AnnotatedCutout> out;
    std::string line;
    int lineNo = 0;
    while (std::getline(f, line))
    {
        ++lineNo;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty() || (lineNo == 1 && line.rfind("image,", 0) == 0))
            continue;
        std::vector<std::string> cols;
        std::stringstream ss(line);
        std::string c;
        while (std::getline(ss, c, ','))
            cols.push_back(c);
        const std::string where = csvPath + ":" + std::to_string(lineNo);
        if (cols.size() != 4)
            throw std::runtime_error(where + ": expected 4 fields (image,kind,X,Y), got " + std::to_string(cols.size()));
        const auto xs = splitNumbers(cols[2], where), ys = splitNumbers(cols[3], where);
        if (xs.size() != ys.size() || xs.empty())
            throw std::runtime_error(where + ": X and Y must list the same number (> 0) of values");
        AnnotatedCutout a;
        a.path = (fs::path(root) / cols[0]).string();
        a.kind = cols[1];
        for (size_t i = 0; i < xs.size(); ++i)
            a.keypoints.emplace_back(xs[i], ys[i]);
        if (!out.empty() && out.front().keypoints.size() != a.keypoints.size())
            throw std::runtime_error(where + ": every row must have the same number of keypoints");
        out.push_back(std::move(a));
    }
    if (out.empty())
        throw std::runtime_error("the keypoint list " + csvPath + " has no rows");
    return out;
}

// Keypoints of one composite: the annotation (file pixels) through the placement, in image pixels.
std::vector<cv::Point2f> placeKeypoints(const AnnotatedCutout& a, const Cutout& c, const cv::Matx23d& M)
{
    std::vector<cv::Point2f> out;
    for (const auto& k : a.keypoints)
    {
        if (k.x < 0 || k.y < 0)
        {
            out.emplace_back(-1.f, -1.f);
            continue;
        }
        const cv::Point2d q = c.fromFile(k);
        out.emplace_back(float(M(0, 0) * q.x + M(0, 1) * q.y + M(0, 2)), float(M(1, 0) * q.x + M(1, 1) * q.y + M(1, 2)));
    }
    return out;
}

struct CompositeOptions
{
    std::string keypoints, stampsRoot = "/usr/share/tuxpaint/stamps", backgrounds, distractors, output;
    int64_t pairs = 0, size = 320, seed = 0, maxDistractors = 3;
};

int generateComposites(const CompositeOptions& o)
{
    const auto cutouts = readAnnotatedCutouts(o.keypoints, o.stampsRoot);
    std::vector<Cutout> objects;
    for (const auto& a : cutouts)
        objects.push_back(readCutout(a.path));  // throws, naming the file, when unreadable
    std::vector<cv::Mat> photos;
    std::vector<Cutout> clutter;
    if (!o.backgrounds.empty())
        for (const auto& p : readPathList(o.backgrounds))
            photos.push_back(readBackground(p));
    if (!o.distractors.empty())
        for (const auto& p : readPathList(o.distractors))
            clutter.push_back(readCutout(p));
    std::vector<std::vector<size_t>> byKind;
    std::vector<std::string> kinds;
    for (size_t i = 0; i < cutouts.size(); ++i)
    {
        const auto it = std::find(kinds.begin(), kinds.end(), cutouts[i].kind);
        if (it == kinds.end())
        {
            kinds.push_back(cutouts[i].kind);
            byKind.push_back({i});
        }
        else
            byKind[size_t(it - kinds.begin())].push_back(i);
    }
    std::vector<size_t> usable;
    for (size_t k = 0; k < kinds.size(); ++k)
        if (byKind[k].size() >= 2)
            usable.push_back(k);
    if (usable.empty())
        throw std::runtime_error(o.keypoints + ": no kind has two cut-outs to pair");

    const fs::path root(o.output);
    fs::create_directories(root / "images");
    fs::create_directories(root / "masks");
    std::ofstream csv(root / "test_pairs.csv");
    csv << "source_image,target_image,class,XA,YA,XB,YB,source_bbox,target_bbox\n";
    CompositeParams params;
    params.size = int(o.size);
    params.minScale = 0.55;
    params.maxScale = 0.85;
    params.minCrop = 0.5;
    cv::RNG rng(mixSeed(uint64_t(o.seed), 0xe7a1, 0));
    auto makeImage = [&](size_t object, const std::string& name, std::vector<cv::Point2f>& kps, cv::Rect& box) {
        cv::Mat bg;
        std::vector<const Cutout*> distractors;
        if (photos.empty())
            bg = plainBackground(params.size, rng);
        else
        {
            bg = randomBackgroundCrop(photos[size_t(rng.uniform(0, int(photos.size())))], params.size, params.minCrop, rng);
            const int n = clutter.empty() ? 0 : rng.uniform(1, int(o.maxDistractors) + 1);
            for (int k = 0; k < n; ++k)
                distractors.push_back(&clutter[size_t(rng.uniform(0, int(clutter.size())))]);
        }
        const CompositeImage c = compositeOnto(bg, objects[object], distractors, params, rng);
        kps = placeKeypoints(cutouts[object], objects[object], c.objectToImage);
        box = c.box;
        const std::string img = (root / "images" / name).string(), msk = (root / "masks" / name).string();
        if (!cv::imwrite(img, c.image) || !cv::imwrite(msk, c.mask * 255))
            throw std::runtime_error("cannot write " + img + " / " + msk);
    };
    auto boxStr = [](const cv::Rect& r) {
        return std::to_string(r.x) + ";" + std::to_string(r.y) + ";" + std::to_string(r.x + r.width - 1) + ";" +
               std::to_string(r.y + r.height - 1);
    };
    int64_t written = 0;
    for (int64_t i = 0; i < o.pairs; ++i)
    {
        const auto& members = byKind[usable[size_t(rng.uniform(0, int(usable.size())))]];
        const size_t a = members[size_t(rng.uniform(0, int(members.size())))];
        size_t b = members[size_t(rng.uniform(0, int(members.size()) - 1))];
        if (b == a)
            b = members.back();
        std::ostringstream na, nb;
        na << std::setw(4) << std::setfill('0') << i << "_a.png";
        nb << std::setw(4) << std::setfill('0') << i << "_b.png";
        std::vector<cv::Point2f> ka, kb;
        cv::Rect ba, bb;
        makeImage(a, na.str(), ka, ba);
        makeImage(b, nb.str(), kb, bb);
        std::vector<cv::Point2f> va, vb;  // the keypoints visible in both
        for (size_t k = 0; k < ka.size(); ++k)
            if (ka[k].x >= 0 && kb[k].x >= 0)
                va.push_back(ka[k]), vb.push_back(kb[k]);
        if (va.empty())
            continue;
        csv << "images/" << na.str() << ",images/" << nb.str() << "," << cutouts[a].kind << "," << join(va, true)
            << "," << join(va, false) << "," << join(vb, true) << "," << join(vb, false) << "," << boxStr(ba) << ","
            << boxStr(bb) << "\n";
        ++written;
    }
    if (!csv)
        throw std::runtime_error("cannot write " + (root / "test_pairs.csv").string());
    std::cout << "wrote " << written << " pairs of " << (photos.empty() ? "plain" : "cluttered")
              << " composites to " << o.output << "\n";
    return 0;
}

}  // namespace

int cmdGenerate(int argc, char** argv)
{
    std::string output;
    int64_t count = 1000, size = 256, seed = 0, first = 0, pairs = 0;
    CompositeOptions co;
    CommandLine cl("generate",
                   "usage: sfnet generate --output DIR [--count N] [--size S] [--seed N] [--first K] [--pairs M]\n"
                   "       sfnet generate --composite KEYPOINTS.csv --pairs M --output DIR\n"
                   "                      [--backgrounds LIST [--distractors LIST] [--max-distractors N]]\n"
                   "                      [--stamps-root DIR] [--size S] [--seed N]\n"
                   "\n"
                   "Writes N procedurally generated images (textured objects of 4 shape classes on textured\n"
                   "backgrounds) as DIR/images/NNNNNN.png with exact foreground masks DIR/masks/NNNNNN.png\n"
                   "(0/255), the layout of `sfnet train --data folder:DIR`.\n"
                   "\n"
                   "With --composite, evaluation composites instead (held-out photo cut-outs with hand-placed\n"
                   "keypoints): M pairs of different cut-outs of one kind, each pasted on a plain background\n"
                   "(no --backgrounds) or on a crop of a listed photograph with 1..N distractor cut-outs\n"
                   "behind it (cluttered): DIR/images/, their object masks DIR/masks/ and DIR/test_pairs.csv\n"
                   "(PF-PASCAL's layout plus source_bbox,target_bbox) with the keypoints carried through the\n"
                   "placement.\n"
                   "\n");
    cl.option("--output, -o", "DIR", "where to write", store(output));
    cl.option("--count", "N", "number of images (default 1000)", storeInt(count));
    cl.option("--size", "S", "image side in pixels (default 256; composites 320)",
              storeInt(size));
    cl.option("--seed", "N", "generated set (default 0; `--data synthetic` trains on set 0)", storeInt(seed));
    cl.option("--first", "K",
              "index of the first image of the set (default 0): a held-out set is the\n"
              "same seed with --first beyond the training count, or another seed",
              storeInt(first));
    cl.option("--pairs", "M",
              "also write DIR/pairs.csv: M pairs of different instances of the same class\n"
              "with their 8 corresponding keypoints, in PF-PASCAL's CSV format\n"
              "(source_image,target_image,class,XA,YA,XB,YB; paths relative to DIR)",
              storeInt(pairs));
    cl.section("evaluation composites:");
    cl.option("--composite", "CSV",
              "image,kind,X,Y rows: cut-out path (relative to --stamps-root), kind,\n"
              "';'-separated keypoints in cut-out pixels (-1 = not visible)",
              store(co.keypoints));
    cl.option("--stamps-root", "DIR", "default /usr/share/tuxpaint/stamps", store(co.stampsRoot));
    cl.option("--backgrounds", "LIST", "photographs (one path per line) for cluttered composites", store(co.backgrounds));
    cl.option("--distractors", "LIST", "cut-outs (one path per line) to place behind the object", store(co.distractors));
    cl.option("--max-distractors", "N", "1..N distractors per cluttered image (default 3)", storeInt(co.maxDistractors));
    const int rc = cl.parse(argc, argv, [&] {
        if (output.empty())
            throw std::invalid_argument("--output is required");
        if (count < 1)
            throw std::invalid_argument("--count must be >= 1");
        if (size < 32 || size > 4096)
            throw std::invalid_argument("--size must be between 32 and 4096");
        if (seed < 0 || first < 0 || pairs < 0)
            throw std::invalid_argument("--seed, --first and --pairs must be >= 0");
        if (!co.keypoints.empty() && pairs < 1)
            throw std::invalid_argument("--composite needs --pairs M (M >= 1)");
        if (co.maxDistractors < 1 || co.maxDistractors > 8)
            throw std::invalid_argument("--max-distractors must be between 1 and 8");
        if (co.keypoints.empty() && !(co.backgrounds.empty() && co.distractors.empty()))
            throw std::invalid_argument("--backgrounds and --distractors need --composite");
    });
    if (rc >= 0)
        return rc;
    if (!co.keypoints.empty())
    {
        co.output = output;
        co.pairs = pairs;
        co.size = cl.given("--size") ? size : 320;
        co.seed = seed;
        try
        {
            return generateComposites(co);
        }
        catch (const std::runtime_error& e)
        {
            std::cerr << "sfnet generate: " << e.what() << "\n";
            return 1;
        }
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
