// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Composite training data: cut-outs read with their alpha, pasted where the returned
// placement says, masks that are the object only, deterministic sources, errors that name
// the file, and the held-out rule of the committed file lists.

#include "composite.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;

namespace
{
fs::path scratch(const std::string& name)
{
    const fs::path d = fs::temp_directory_path() / ("sfnet_composite_" + std::to_string(::getpid())) / name;
    fs::create_directories(d);
    return d;
}

// A 60x40 RGBA cut-out: an opaque green rectangle at (10..49, 5..34) with one red pixel at
// file pixel (20, 12); everything else fully transparent.
std::string writeRectCutout(const fs::path& dir, const std::string& name = "rect.png")
{
    cv::Mat rgba(40, 60, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    rgba(cv::Rect(10, 5, 40, 30)).setTo(cv::Scalar(0, 255, 0, 255));
    rgba.at<cv::Vec4b>(12, 20) = cv::Vec4b(0, 0, 255, 255);
    const std::string p = (dir / name).string();
    EXPECT_TRUE(cv::imwrite(p, rgba));
    return p;
}

template <class F>
std::string errorOf(F f)
{
    try
    {
        f();
    }
    catch (const std::runtime_error& e)
    {
        return e.what();
    }
    return "(no error)";
}
}  // namespace

TEST(Composite, CutoutIsCroppedToItsAlphaAndMapsFilePixels)
{
    const std::string p = writeRectCutout(scratch("read"));
    const sfnet::Cutout c = sfnet::readCutout(p);
    ASSERT_EQ(c.bgr.size(), cv::Size(40, 30));
    EXPECT_EQ(c.offset, cv::Point2d(10, 5));
    EXPECT_EQ(c.scale, 1.0);
    EXPECT_EQ(cv::countNonZero(c.alpha == 255), 40 * 30);
    const cv::Point2d q = c.fromFile({20, 12});
    EXPECT_EQ(c.bgr.at<cv::Vec3b>(int(q.y), int(q.x)), cv::Vec3b(0, 0, 255));

    // Shrunk to a longer side of 20: half size, and the file pixel maps by pixel centres.
    const sfnet::Cutout s = sfnet::readCutout(p, 20);
    ASSERT_EQ(s.bgr.size(), cv::Size(20, 15));
    EXPECT_DOUBLE_EQ(s.scale, 0.5);
    EXPECT_NEAR(s.fromFile({10, 5}).x, -0.25, 1e-12);  // the box's first pixel centre
    EXPECT_NEAR(s.fromFile({49, 34}).x, 19.25, 1e-12);
}

TEST(Composite, BadCutoutsAndBackgroundsNameTheFile)
{
    const fs::path d = scratch("bad");
    const std::string missing = (d / "missing.png").string();
    EXPECT_NE(errorOf([&] { sfnet::readCutout(missing); }).find(missing), std::string::npos);
    const std::string rgb = (d / "rgb.png").string();
    cv::imwrite(rgb, cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)));
    const std::string e1 = errorOf([&] { sfnet::readCutout(rgb); });
    EXPECT_NE(e1.find(rgb), std::string::npos) << e1;
    EXPECT_NE(e1.find("alpha"), std::string::npos) << e1;
    const std::string clear = (d / "clear.png").string();
    cv::imwrite(clear, cv::Mat(8, 8, CV_8UC4, cv::Scalar(9, 9, 9, 0)));
    EXPECT_NE(errorOf([&] { sfnet::readCutout(clear); }).find("empty alpha"), std::string::npos);
    const std::string junk = (d / "junk.png").string();
    std::ofstream(junk) << "not a png";
    EXPECT_NE(errorOf([&] { sfnet::readCutout(junk); }).find("cannot read or decode cut-out " + junk), std::string::npos);
    EXPECT_NE(errorOf([&] { sfnet::readBackground(junk); }).find("cannot read or decode background " + junk),
              std::string::npos);
    EXPECT_NE(errorOf([&] { sfnet::readBackground(missing); }).find(missing), std::string::npos);
}

TEST(Composite, ObjectLandsWhereThePlacementSaysAndTheMaskIsTheObjectOnly)
{
    const fs::path d = scratch("place");
    const sfnet::Cutout obj = sfnet::readCutout(writeRectCutout(d));
    // A distractor: an opaque blue square.
    cv::Mat sq(20, 20, CV_8UC4, cv::Scalar(255, 0, 0, 255));
    cv::imwrite((d / "sq.png").string(), sq);
    const sfnet::Cutout dis = sfnet::readCutout((d / "sq.png").string());
    sfnet::CompositeParams p;
    p.size = 128;
    const cv::Mat bg(128, 128, CV_8UC3, cv::Scalar(50, 60, 70));
    for (int seed = 1; seed <= 20; ++seed)
    {
        cv::RNG rng{uint64_t(seed)};
        const sfnet::CompositeImage c = sfnet::compositeOnto(bg, obj, {&dis, &dis}, p, rng);
        const cv::Matx23d& M = c.objectToImage;
        const double scale = std::abs(M(0, 0));
        // Independent reference: the rectangle's outer corners through the placement.
        const double xa = M(0, 0) * -0.5 + M(0, 2), xb = M(0, 0) * 39.5 + M(0, 2);
        const double ya = M(1, 1) * -0.5 + M(1, 2), yb = M(1, 1) * 29.5 + M(1, 2);
        const cv::Rect expect(cvRound(std::min(xa, xb)), cvRound(ya), cvRound(std::max(xa, xb)) - cvRound(std::min(xa, xb)),
                              cvRound(yb) - cvRound(ya));
        EXPECT_LE(std::abs(c.box.x - expect.x), 1) << seed;
        EXPECT_LE(std::abs(c.box.y - expect.y), 1) << seed;
        EXPECT_LE(std::abs(c.box.width - expect.width), 1) << seed;
        EXPECT_LE(std::abs(c.box.height - expect.height), 1) << seed;
        EXPECT_GE(40 * scale, p.minScale * p.size - 1e-9);  // longer side within the scale range
        EXPECT_LE(40 * scale, p.maxScale * p.size + 1e-9);
        EXPECT_TRUE(cv::Rect(0, 0, 128, 128).contains(c.box.tl()));  // whole inside
        EXPECT_LE(c.box.br().x, 128);
        EXPECT_LE(c.box.br().y, 128);
        // Inside the mask (away from its edge) the object's colour; the red pixel where the
        // placement sends it. Distractors are behind the object, so never inside its mask.
        cv::Mat inner;
        cv::erode(c.mask, inner, cv::Mat(), cv::Point(-1, -1), 2);
        cv::Mat green;
        cv::inRange(c.image, cv::Scalar(0, 200, 0), cv::Scalar(40, 255, 60), green);
        const cv::Point2d red = obj.fromFile({20, 12});
        const cv::Point2d at(M(0, 0) * red.x + M(0, 2), M(1, 1) * red.y + M(1, 2));
        cv::Mat innerNotRed = inner.clone();
        cv::circle(innerNotRed, cv::Point(cvRound(at.x), cvRound(at.y)), int(2 * scale) + 2, cv::Scalar(0), cv::FILLED);
        EXPECT_EQ(cv::countNonZero(innerNotRed & ~green), 0) << seed;
        const cv::Vec3b v = c.image.at<cv::Vec3b>(cvRound(at.y), cvRound(at.x));
        EXPECT_GT(v[2], 120) << seed << " red pixel not at " << at;
        EXPECT_LT(v[1], 200) << seed;
        // Outside the object, the background or a blue distractor; nothing green.
        cv::Mat outer;
        cv::dilate(c.mask, outer, cv::Mat(), cv::Point(-1, -1), 2);
        EXPECT_EQ(cv::countNonZero(green & (outer == 0)), 0) << seed;
        EXPECT_EQ(cv::countNonZero(c.mask > 1), 0);
    }
}

TEST(Composite, SourceIsDeterministicAndReportsUnreadableFiles)
{
    const fs::path d = scratch("source");
    const std::string a = writeRectCutout(d, "a.png"), b = writeRectCutout(d, "b.png");
    const std::string bgPath = (d / "bg.jpg").string();
    cv::Mat bg(200, 300, CV_8UC3);
    cv::randu(bg, 0, 255);
    cv::imwrite(bgPath, bg);
    sfnet::CompositeParams p;
    p.size = 96;
    auto src = sfnet::openComposite({a, b}, {bgPath}, 6, 7, p);
    ASSERT_EQ(src->size(), 6u);
    sfnet::MaskedImage x, y, z;
    std::string err;
    ASSERT_TRUE(src->load(3, x, err)) << err;
    ASSERT_TRUE(src->load(3, y, err)) << err;
    ASSERT_TRUE(src->load(4, z, err)) << err;
    EXPECT_EQ(x.image.size(), cv::Size(96, 96));
    EXPECT_EQ(cv::norm(x.image, y.image, cv::NORM_INF), 0);
    EXPECT_EQ(cv::norm(x.mask, y.mask, cv::NORM_INF), 0);
    EXPECT_GT(cv::norm(x.image, z.image, cv::NORM_L1), 0);
    EXPECT_GT(cv::countNonZero(x.mask), 0);

    // A cut-out that exists but does not decode: the items made from it fail, naming it.
    const std::string junk = (d / "junk.png").string();
    std::ofstream(junk) << "garbage";
    auto bad = sfnet::openComposite({junk, a}, {bgPath}, 4, 0, p);
    EXPECT_FALSE(bad->load(0, x, err));
    EXPECT_NE(err.find(junk), std::string::npos) << err;

    // Lists: a missing file is named when the list is read; composite:DIR needs both lists.
    const fs::path listDir = scratch("lists");
    std::ofstream(listDir / "objects.txt") << "# cut-outs\n" << a << "\n\n" << (d / "nope.png").string() << "\n";
    std::ofstream(listDir / "backgrounds.txt") << bgPath << "\n";
    const std::string e = errorOf([&] { sfnet::openCompositeFolder(listDir.string(), 2, 0, p); });
    EXPECT_NE(e.find((d / "nope.png").string()), std::string::npos) << e;
    std::ofstream(listDir / "objects.txt") << a << "\nb.png\n";  // relative to the list's folder: missing there
    EXPECT_NE(errorOf([&] { sfnet::openCompositeFolder(listDir.string(), 2, 0, p); }).find("b.png"), std::string::npos);
    std::ofstream(listDir / "objects.txt") << a << "\n" << b << "\n";
    EXPECT_EQ(sfnet::openCompositeFolder(listDir.string(), 3, 0, p)->size(), 6u);
    EXPECT_EQ(sfnet::openDataSpec("composite:" + listDir.string(), "trainval", "SegmentationClass", {}, 64)->size(),
              16u);  // 8 per object by default
    EXPECT_NE(errorOf([&] { sfnet::openDataSpec("composite:" + (d / "none").string()); }).find("objects.txt"),
              std::string::npos);
}

// The committed lists follow the rule of scripts/make_composite_lists.sh: nothing of the
// evaluation category or the evaluation photo packages trains, no drawings, and the held-out
// evaluation files are disjoint from the training files.
TEST(Composite, CommittedListsKeepTheEvaluationDataOut)
{
    const fs::path root = fs::path(SEMFLOW_TEST_DATA_DIR) / "semflow" / "composite";
    auto read = [&](const std::string& f) {
        std::vector<std::string> v;
        std::ifstream in(root / f);
        EXPECT_TRUE(in.good()) << f;
        std::string line;
        while (std::getline(in, line))
            if (!line.empty())
                v.push_back(line);
        return v;
    };
    const auto objects = read("train/objects.txt"), backgrounds = read("train/backgrounds.txt");
    const auto distractors = read("eval/distractors.txt"), evalBackgrounds = read("eval/backgrounds.txt");
    EXPECT_GE(objects.size(), 250u);
    EXPECT_GE(backgrounds.size(), 10u);
    for (const auto& p : objects)
    {
        EXPECT_EQ(p.rfind("/usr/share/tuxpaint/stamps/", 0), 0u) << p;
        for (const char* banned : {"/animals/mammals/", "/symbols/", "/cartoon/", "/toys/"})
            EXPECT_EQ(p.find(banned), std::string::npos) << p;
        EXPECT_EQ(std::count(distractors.begin(), distractors.end(), p), 0) << p;
    }
    for (const auto& p : distractors)
        EXPECT_EQ(p.find("/animals/mammals/"), std::string::npos) << p;
    for (const auto& p : backgrounds)
        EXPECT_EQ(std::count(evalBackgrounds.begin(), evalBackgrounds.end(), p), 0) << p;
    for (const auto* list : {&objects, &backgrounds, &distractors, &evalBackgrounds})
        for (const auto& p : *list)
            for (const char* banned : {"darknet", "skimage", "opencv-doc", "sklearn", "scikit"})
                EXPECT_EQ(p.find(banned), std::string::npos) << p;
}

// With otherBackgroundProb 1 every item also carries the same object, at the same place, on
// another background; the pair's target view is made from it.
TEST(Composite, OtherBackgroundShowsTheSameObjectOnAnotherScene)
{
    const fs::path d = scratch("other");
    const std::string a = writeRectCutout(d, "a.png"), b = writeRectCutout(d, "b.png");
    std::vector<std::string> bgs;
    for (int k = 0; k < 3; ++k)
    {
        cv::Mat bg(120, 160, CV_8UC3);
        cv::randu(bg, 0, 255);
        bgs.push_back((d / ("bg" + std::to_string(k) + ".png")).string());
        cv::imwrite(bgs.back(), bg);
    }
    sfnet::CompositeParams p;
    p.size = 96;
    p.otherBackgroundProb = 1;
    auto src = sfnet::openComposite({a, b}, bgs, 4, 5, p);
    for (size_t i = 0; i < 4; ++i)
    {
        sfnet::MaskedImage m;
        std::string err;
        ASSERT_TRUE(src->load(i, m, err)) << err;
        ASSERT_FALSE(m.otherBackground.empty());
        cv::Mat inner, diff;
        cv::erode(m.mask, inner, cv::Mat(), cv::Point(-1, -1), 1);
        cv::absdiff(m.image, m.otherBackground, diff);
        cv::Mat grey;
        cv::cvtColor(diff, grey, cv::COLOR_BGR2GRAY);
        EXPECT_EQ(cv::countNonZero(grey & inner), 0) << i;            // the object: identical
        EXPECT_GT(cv::mean(grey, m.mask == 0)[0], 20.0) << i;          // the scene: another one
    }

    // synthesizePair without geometry or colour change: source = image, target = otherBackground.
    sfnet::MaskedImage m;
    std::string err;
    ASSERT_TRUE(src->load(0, m, err)) << err;
    sfnet::AugmentParams ap;
    ap.size = 96;
    ap.affineSigma = 0;
    ap.jitter = 0;
    ap.hflipProb = 0;
    const sfnet::PairSample s = sfnet::synthesizePair(m, ap, 9);
    cv::Mat expS, expT;
    cv::cvtColor(m.image, expS, cv::COLOR_BGR2RGB);
    cv::cvtColor(m.otherBackground, expT, cv::COLOR_BGR2RGB);
    expS.convertTo(expS, CV_32FC3, 1.0 / 255);
    expT.convertTo(expT, CV_32FC3, 1.0 / 255);
    EXPECT_LT(cv::norm(s.source, expS, cv::NORM_INF), 1e-5);
    EXPECT_LT(cv::norm(s.target, expT, cv::NORM_INF), 1e-5);
    m.otherBackground = cv::Mat(10, 10, CV_8UC3);
    EXPECT_THROW(sfnet::synthesizePair(m, ap, 9), std::runtime_error);
}
