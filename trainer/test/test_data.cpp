// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Data sources, the procedural generator, pair synthesis and the loader, each checked
// against an independent computation (analytic geometry, hand-built label maps).

#include "data.hpp"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace
{
fs::path freshDir(const std::string& name)
{
    fs::path d = fs::temp_directory_path() / ("sfnet_test_data_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

bool sameMat(const cv::Mat& a, const cv::Mat& b)
{
    return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

// Normalised <-> pixel coordinates for a square side S (align_corners=true).
double toNorm(double p, int S) { return 2.0 * p / (S - 1) - 1; }

cv::Point2d apply(const cv::Matx23d& t, cv::Point2d p)
{
    return {t(0, 0) * p.x + t(0, 1) * p.y + t(0, 2), t(1, 0) * p.x + t(1, 1) * p.y + t(1, 2)};
}
}  // namespace

TEST(GeneratedImages, AreDeterministicAndVary)
{
    const auto a = sfnet::generateImage(7, 3, 128), b = sfnet::generateImage(7, 3, 128);
    EXPECT_TRUE(sameMat(a.image, b.image));
    EXPECT_TRUE(sameMat(a.mask, b.mask));
    const auto c = sfnet::generateImage(7, 4, 128), d = sfnet::generateImage(8, 3, 128);
    EXPECT_FALSE(sameMat(a.image, c.image));
    EXPECT_FALSE(sameMat(a.image, d.image));
}

TEST(GeneratedImages, MaskIsTheObjectAndKeypointsLieOnIt)
{
    int classesSeen[sfnet::kGeneratedClasses] = {};
    for (uint64_t i = 0; i < 24; ++i)
    {
        const auto g = sfnet::generateImage(1, i, 160);
        ASSERT_EQ(g.image.type(), CV_8UC3);
        ASSERT_EQ(g.mask.type(), CV_8UC1);
        ASSERT_EQ(g.image.size(), cv::Size(160, 160));
        double mx;
        cv::minMaxLoc(g.mask, nullptr, &mx);
        EXPECT_EQ(mx, 1.0);  // 0/1 mask
        const double area = cv::countNonZero(g.mask) / (160.0 * 160.0);
        EXPECT_GT(area, 0.05) << i;  // the object is big enough to learn from...
        EXPECT_LT(area, 0.6) << i;   // ...and leaves background around it
        ASSERT_GE(g.shapeClass, 0);
        ASSERT_LT(g.shapeClass, sfnet::kGeneratedClasses);
        ++classesSeen[g.shapeClass];
        ASSERT_EQ(g.keypoints.size(), size_t(sfnet::kGeneratedKeypoints));
        // Keypoints are on part outlines or inside: within 2 px of a foreground pixel.
        cv::Mat dist;
        cv::distanceTransform(1 - g.mask, dist, cv::DIST_L2, 3);
        for (const auto& k : g.keypoints)
        {
            const int x = cvRound(k.x), y = cvRound(k.y);
            ASSERT_TRUE(x >= 0 && y >= 0 && x < 160 && y < 160) << k;
            EXPECT_LE(dist.at<float>(y, x), 2.0f) << "image " << i << " keypoint " << k;
        }
    }
    for (int c = 0; c < sfnet::kGeneratedClasses; ++c)
        EXPECT_GT(classesSeen[c], 0) << "class " << c;
}

TEST(PairSynthesis, IsDeterministicInTheSeed)
{
    const auto g = sfnet::generateImage(0, 0, 128);
    sfnet::AugmentParams p;
    p.size = 128;
    const auto a = sfnet::synthesizePair({g.image, g.mask}, p, 42), b = sfnet::synthesizePair({g.image, g.mask}, p, 42);
    EXPECT_TRUE(sameMat(a.source, b.source));
    EXPECT_TRUE(sameMat(a.target, b.target));
    EXPECT_TRUE(sameMat(a.maskS, b.maskS));
    const auto c = sfnet::synthesizePair({g.image, g.mask}, p, 43);
    EXPECT_FALSE(sameMat(a.source, c.source));
    ASSERT_EQ(a.source.type(), CV_32FC3);
    ASSERT_EQ(a.source.size(), cv::Size(128, 128));
    ASSERT_EQ(a.maskS.type(), CV_32FC1);
    ASSERT_EQ(a.maskS.size(), cv::Size(8, 8));
}

// A bright Gaussian blob: its centroid in each copy must follow the drawn affines, so
// pairCorrespondence (source -> target) maps one centroid onto the other.
TEST(PairSynthesis, CopiesAreWarpedByTheirAffines)
{
    const int S = 128;
    cv::Mat img(200, 200, CV_8UC3, cv::Scalar::all(0)), mask(200, 200, CV_8UC1, cv::Scalar(1));
    cv::Mat blob(200, 200, CV_32F);
    for (int y = 0; y < 200; ++y)
        for (int x = 0; x < 200; ++x)
            blob.at<float>(y, x) = float(255 * std::exp(-((x - 90.0) * (x - 90.0) + (y - 110.0) * (y - 110.0)) / (2 * 64.0)));
    cv::Mat b8;
    blob.convertTo(b8, CV_8U);
    cv::merge(std::vector<cv::Mat>{b8, b8, b8}, img);
    sfnet::AugmentParams p;
    p.size = S;
    p.jitter = 0;  // brightness changes would not move the centroid, but keep it exact
    auto centroid = [](const cv::Mat& rgb) {
        cv::Mat g;
        cv::cvtColor(rgb, g, cv::COLOR_RGB2GRAY);
        const cv::Moments m = cv::moments(g);
        return cv::Point2d(m.m10 / m.m00, m.m01 / m.m00);
    };
    int checked = 0;
    for (uint64_t seed = 1; seed <= 12; ++seed)
    {
        const auto pr = sfnet::synthesizePair({img, mask}, p, seed);
        const cv::Point2d cs = centroid(pr.source), ct = centroid(pr.target);
        // The blob must be well inside both views for its centroid to be unbiased.
        if (cs.x < 25 || cs.y < 25 || cs.x > S - 25 || cs.y > S - 25 || ct.x < 25 || ct.y < 25 || ct.x > S - 25 ||
            ct.y > S - 25)
            continue;
        const cv::Point2d mapped = sfnet::pairCorrespondence(pr, S, cs);
        EXPECT_NEAR(mapped.x, ct.x, 0.6) << "seed " << seed;
        EXPECT_NEAR(mapped.y, ct.y, 0.6) << "seed " << seed;
        ++checked;
    }
    EXPECT_GE(checked, 4);
}

// The feature-grid masks against an analytic reference: an elliptic object; a pixel of
// view k counts if its canonical point (theta_k p) is inside the ellipse and inside the
// frame of both views; cell fractions above 0.1 are foreground. Cells whose reference
// fraction is within 0.04 of the threshold may go either way (bilinear edges).
TEST(PairSynthesis, MasksAreTruncationAwareAndOnTheFeatureGrid)
{
    const int S = 128, stride = 16, G = S / stride;
    // The object in canonical normalised coordinates (the image is resized to S first,
    // and it already is S here so resizing is the identity).
    auto inObject = [](double x, double y) { return (x - 0.2) * (x - 0.2) / 0.4 + (y + 0.1) * (y + 0.1) / 0.25 <= 1; };
    cv::Mat img(S, S, CV_8UC3, cv::Scalar(90, 120, 150)), mask(S, S, CV_8UC1);
    for (int y = 0; y < S; ++y)
        for (int x = 0; x < S; ++x)
            mask.at<uchar>(y, x) = inObject(toNorm(x, S), toNorm(y, S)) ? 1 : 0;
    sfnet::AugmentParams p;
    p.size = S;
    p.stride = stride;
    p.hflipProb = 0;        // keeps the canonical object where inObject says
    p.affineSigma = 0.3;    // strong warps: truncation happens often
    p.maskShrink = sfnet::MaskShrink::Area;  // the reference below averages each 16x16 cell
    int cellsChecked = 0, truncatedPairs = 0;
    for (uint64_t seed = 1; seed <= 10; ++seed)
    {
        const auto pr = sfnet::synthesizePair({img, mask}, p, seed);
        cv::Matx23d invS, invT;
        cv::invertAffineTransform(pr.thetaS, invS);
        cv::invertAffineTransform(pr.thetaT, invT);
        auto visible = [](cv::Point2d n) { return std::abs(n.x) <= 1 && std::abs(n.y) <= 1; };
        bool truncated = false;
        for (int view = 0; view < 2; ++view)
        {
            const cv::Matx23d& th = view == 0 ? pr.thetaS : pr.thetaT;
            const cv::Mat& got = view == 0 ? pr.maskS : pr.maskT;
            for (int gy = 0; gy < G; ++gy)
                for (int gx = 0; gx < G; ++gx)
                {
                    int in = 0, inNoTrunc = 0;
                    for (int y = gy * stride; y < (gy + 1) * stride; ++y)
                        for (int x = gx * stride; x < (gx + 1) * stride; ++x)
                        {
                            const cv::Point2d c = apply(th, {toNorm(x, S), toNorm(y, S)});
                            const bool obj = visible(c) && inObject(c.x, c.y);
                            inNoTrunc += obj;
                            in += obj && visible(apply(invS, c)) && visible(apply(invT, c));
                        }
                    truncated |= in != inNoTrunc;
                    const double frac = in / double(stride * stride);
                    if (std::abs(frac - 0.1) < 0.04)
                        continue;
                    EXPECT_EQ(got.at<float>(gy, gx), frac > 0.1 ? 1.f : 0.f)
                        << "seed " << seed << " view " << view << " cell (" << gx << "," << gy << ") ref " << frac;
                    ++cellsChecked;
                }
        }
        truncatedPairs += truncated;
    }
    EXPECT_GT(cellsChecked, 1000);
    EXPECT_GT(truncatedPairs, 2);  // the truncation logic was exercised
}

// PIL's bilinear filter worked by hand. Shrinking 4 -> 2 (scale 2, support 2): output 0 has
// centre 1 and covers inputs 0..2 with triangle weights 0.75, 0.75, 0.25 (/1.75); output 1
// has centre 3 and covers inputs 1..3 with 0.25, 0.75, 0.75 (/1.75). Growing 2 -> 4 (scale
// 0.5, support 1) is plain half-pixel bilinear with edge clamping: a0, .75a0+.25a1, ...
TEST(MaskShrink, AntialiasedBilinearMatchesHandComputedWeights)
{
    const cv::Mat row = (cv::Mat_<float>(1, 4) << 1, 2, 3, 4);
    const cv::Mat r = sfnet::resizeAntialiasedBilinear(row, cv::Size(2, 1));
    ASSERT_EQ(r.size(), cv::Size(2, 1));
    EXPECT_NEAR(r.at<float>(0, 0), (0.75 * 1 + 0.75 * 2 + 0.25 * 3) / 1.75, 1e-6);
    EXPECT_NEAR(r.at<float>(0, 1), (0.25 * 2 + 0.75 * 3 + 0.75 * 4) / 1.75, 1e-6);

    // Separable in 2-D: a unit impulse at (0, 0) of a 4x4 image.
    cv::Mat impulse = cv::Mat::zeros(4, 4, CV_32F);
    impulse.at<float>(0, 0) = 1;
    const cv::Mat d = sfnet::resizeAntialiasedBilinear(impulse, cv::Size(2, 2));
    EXPECT_NEAR(d.at<float>(0, 0), (0.75 / 1.75) * (0.75 / 1.75), 1e-7);
    EXPECT_EQ(d.at<float>(0, 1), 0.f);
    EXPECT_EQ(d.at<float>(1, 0), 0.f);
    EXPECT_EQ(d.at<float>(1, 1), 0.f);

    const cv::Mat up = sfnet::resizeAntialiasedBilinear((cv::Mat_<float>(1, 2) << 1, 3), cv::Size(4, 1));
    EXPECT_NEAR(up.at<float>(0, 0), 1.0, 1e-7);
    EXPECT_NEAR(up.at<float>(0, 1), 0.75 * 1 + 0.25 * 3, 1e-7);
    EXPECT_NEAR(up.at<float>(0, 2), 0.25 * 1 + 0.75 * 3, 1e-7);
    EXPECT_NEAR(up.at<float>(0, 3), 3.0, 1e-7);

    // 320 -> 20: each cell's filter spans 2 x 16 input pixels each side of its centre, so a
    // 16x16 block touches the 3x3 cells around it with weights (1/4, 3/4, 1/4)-shaped
    // triangles: the block's own cell gets more than 0.1 and the diagonal neighbour less.
    cv::Mat block = cv::Mat::zeros(320, 320, CV_32F);
    block(cv::Rect(160, 160, 16, 16)).setTo(1);
    const cv::Mat g = sfnet::resizeAntialiasedBilinear(block, cv::Size(20, 20));
    EXPECT_GT(g.at<float>(10, 10), 0.1f);
    EXPECT_GT(g.at<float>(10, 11), 0.f);
    EXPECT_EQ(g.at<float>(10, 13), 0.f);  // beyond the support
    EXPECT_NEAR(cv::sum(g)[0], 1.0, 1e-5);  // 256 pixels of 1 spread over cells of 256 pixels

    EXPECT_THROW(sfnet::resizeAntialiasedBilinear(cv::Mat(4, 4, CV_8U, cv::Scalar(1)), cv::Size(2, 2)), cv::Exception);
    EXPECT_THROW(sfnet::resizeAntialiasedBilinear(row, cv::Size(0, 1)), cv::Exception);
}

// The shrink decides how many cells count as foreground at the 0.1 threshold: the wider
// antialiased filter claims the partly covered cells around an object's outline that the
// 16x16 box leaves out (doc/training.md, "Differences from the authors' code").
TEST(MaskShrink, AntialiasedShrinkKeepsMoreForegroundThanArea)
{
    cv::Mat disk = cv::Mat::zeros(320, 320, CV_32F);
    cv::circle(disk, {157, 163}, 83, cv::Scalar(1), cv::FILLED);
    cv::Mat area;
    cv::resize(disk, area, cv::Size(20, 20), 0, 0, cv::INTER_AREA);
    const cv::Mat aa = sfnet::resizeAntialiasedBilinear(disk, cv::Size(20, 20));
    const int nArea = cv::countNonZero(area > 0.1), nAa = cv::countNonZero(aa > 0.1);
    EXPECT_GT(nAa, nArea);
    EXPECT_LT(nAa, nArea + 4 * 20);  // at most a ring of cells around the outline

    // The measurement doc/training.md quotes: foreground cells of 20x20 source masks of
    // pairs synthesised at 320 from generated images, same seeds, both shrinks.
    sfnet::AugmentParams p;
    p.size = 320;
    double cellsAa = 0, cellsArea = 0;
    const int n = 40;
    for (int i = 0; i < n; ++i)
    {
        const auto g = sfnet::generateImage(9, uint64_t(i), 256);
        p.maskShrink = sfnet::MaskShrink::Antialiased;
        cellsAa += cv::countNonZero(sfnet::synthesizePair({g.image, g.mask}, p, uint64_t(i) + 1).maskS);
        p.maskShrink = sfnet::MaskShrink::Area;
        cellsArea += cv::countNonZero(sfnet::synthesizePair({g.image, g.mask}, p, uint64_t(i) + 1).maskS);
    }
    std::cout << "[ measured ] mean foreground cells of 400: antialiased " << cellsAa / n << ", area "
              << cellsArea / n << " (" << n << " generated pairs)\n";
    EXPECT_GT(cellsAa, cellsArea);
}

TEST(PairSynthesis, RejectsBadInput)
{
    sfnet::AugmentParams p;
    p.size = 100;  // not a multiple of 32
    const auto g = sfnet::generateImage(0, 0, 64);
    EXPECT_THROW(sfnet::synthesizePair({g.image, g.mask}, p, 1), std::runtime_error);
    p.size = 64;
    EXPECT_THROW(sfnet::synthesizePair({g.image, cv::Mat()}, p, 1), std::runtime_error);
    cv::Mat gray;
    cv::cvtColor(g.image, gray, cv::COLOR_BGR2GRAY);
    EXPECT_THROW(sfnet::synthesizePair({gray, g.mask}, p, 1), std::runtime_error);
}

TEST(FolderSource, SkipsCorruptFilesAndCountsThem)
{
    const fs::path d = freshDir("folder");
    fs::create_directories(d / "images");
    fs::create_directories(d / "masks");
    for (int i = 0; i < 5; ++i)
    {
        const auto g = sfnet::generateImage(3, i, 96);
        const std::string n = "img" + std::to_string(i);
        ASSERT_TRUE(cv::imwrite((d / "images" / (n + ".png")).string(), g.image));
        ASSERT_TRUE(cv::imwrite((d / "masks" / (n + ".png")).string(), g.mask * 255));
    }
    {  // a corrupt image with a valid mask, and a corrupt mask with a valid image
        std::ofstream(d / "images" / "broken.jpg") << "this is not a JPEG at all";
        ASSERT_TRUE(cv::imwrite((d / "masks" / "broken.png").string(), cv::Mat(96, 96, CV_8UC1, cv::Scalar(255))));
        ASSERT_TRUE(cv::imwrite((d / "images" / "badmask.png").string(), cv::Mat(96, 96, CV_8UC3, cv::Scalar::all(9))));
        std::ofstream(d / "masks" / "badmask.png") << "\x89PNG truncated";
    }
    ASSERT_TRUE(cv::imwrite((d / "images" / "nomask.png").string(), cv::Mat(96, 96, CV_8UC3, cv::Scalar::all(7))));
    size_t missing = 0;
    auto src = sfnet::openFolder(d.string(), &missing);
    EXPECT_EQ(missing, 1u);
    ASSERT_EQ(src->size(), 7u);

    // The mask read back is exactly the generated one.
    sfnet::MaskedImage mi;
    std::string err;
    ASSERT_TRUE(src->load(2, mi, err)) << err;  // sorted: badmask, broken, img0, ...
    EXPECT_EQ(src->name(2), "img0");
    EXPECT_TRUE(sameMat(mi.mask, sfnet::generateImage(3, 0, 96).mask));
    EXPECT_FALSE(src->load(1, mi, err));
    EXPECT_NE(err.find("broken.jpg"), std::string::npos) << err;

    {
        sfnet::AugmentParams p;
        p.size = 64;
        sfnet::PairLoader loader(src, p, 3, 2, 5);
        ASSERT_EQ(loader.batchesPerEpoch(), 3);
        size_t got = 0;
        for (int64_t b = 0; b < loader.batchesPerEpoch(); ++b)
            got += loader.batch(0, b, b + 1 < loader.batchesPerEpoch()).size();
        EXPECT_EQ(got, 5u);
        EXPECT_EQ(loader.skipped(), 2);
    }
    fs::remove_all(d);
}

TEST(FolderSource, ClearErrorsForBadFolders)
{
    const fs::path d = freshDir("badfolder");
    EXPECT_THROW(sfnet::openFolder((d / "nope").string()), std::runtime_error);
    fs::create_directories(d / "images");
    fs::create_directories(d / "masks");
    EXPECT_THROW(sfnet::openFolder(d.string()), std::runtime_error);  // empty
    EXPECT_THROW(sfnet::openDataSpec("pascal:" + d.string()), std::runtime_error);
    EXPECT_THROW(sfnet::openDataSpec("synthetic:abc"), std::runtime_error);
    EXPECT_THROW(sfnet::openDataSpec("synthetic:0"), std::runtime_error);
    EXPECT_EQ(sfnet::openDataSpec("synthetic:17")->size(), 17u);
    fs::remove_all(d);
}

// The loader's output depends on (seed, epoch, batch) only: 1 or 3 workers, in order
// or after a jump, give bit-identical batches.
TEST(PairLoader, IsIndependentOfThreadsAndAccessOrder)
{
    auto src = sfnet::openSynthetic(10, 4, 64);
    sfnet::AugmentParams p;
    p.size = 64;
    sfnet::PairLoader one(src, p, 4, 1, 99), three(src, p, 4, 3, 99);
    ASSERT_EQ(one.batchesPerEpoch(), 3);
    std::vector<std::vector<sfnet::PairSample>> ref;
    for (int64_t e = 0; e < 2; ++e)
        for (int64_t b = 0; b < 3; ++b)
            ref.push_back(one.batch(e, b));
    EXPECT_EQ(ref[2].size(), 2u);  // the last batch keeps the remainder
    // Out of order on the other loader: jump to epoch 1 first.
    const int order[6] = {4, 5, 0, 1, 2, 3};
    for (int k : order)
    {
        const auto got = three.batch(k / 3, k % 3);
        ASSERT_EQ(got.size(), ref[k].size());
        for (size_t i = 0; i < got.size(); ++i)
        {
            EXPECT_TRUE(sameMat(got[i].source, ref[k][i].source)) << k << " " << i;
            EXPECT_TRUE(sameMat(got[i].target, ref[k][i].target)) << k << " " << i;
            EXPECT_TRUE(sameMat(got[i].maskT, ref[k][i].maskT)) << k << " " << i;
        }
    }
    // Each epoch visits every item once, in a different order.
    std::vector<size_t> e0, e1;
    for (int k = 0; k < 10; ++k)
    {
        e0.push_back(one.itemAt(0, k));
        e1.push_back(one.itemAt(1, k));
    }
    EXPECT_NE(e0, e1);
    std::sort(e0.begin(), e0.end());
    for (size_t k = 0; k < 10; ++k)
        EXPECT_EQ(e0[k], k);
}

// Data-parallel shards: rank r of 2 gets the contiguous r-th half of each global batch,
// bit-identical to the unsharded loader's samples, so two ranks together see exactly what
// one process sees (the uneven last batch of 2 items splits 1 + 1).
TEST(PairLoader, ShardsPartitionEachGlobalBatch)
{
    auto src = sfnet::openSynthetic(10, 4, 64);
    sfnet::AugmentParams p;
    p.size = 64;
    sfnet::PairLoader all(src, p, 4, 1, 7), r0(src, p, 4, 2, 7, 0, 2), r1(src, p, 4, 1, 7, 1, 2);
    ASSERT_EQ(r0.batchesPerEpoch(), all.batchesPerEpoch());
    for (int64_t b = 0; b < all.batchesPerEpoch(); ++b)
    {
        const auto ref = all.batch(1, b), a = r0.batch(1, b), c = r1.batch(1, b);
        ASSERT_EQ(a.size() + c.size(), ref.size());
        EXPECT_EQ(a.size(), ref.size() / 2);
        for (size_t i = 0; i < ref.size(); ++i)
        {
            const sfnet::PairSample& got = i < a.size() ? a[i] : c[i - a.size()];
            EXPECT_TRUE(sameMat(got.source, ref[i].source)) << b << " " << i;
            EXPECT_TRUE(sameMat(got.maskS, ref[i].maskS)) << b << " " << i;
        }
    }
    EXPECT_THROW(sfnet::PairLoader(src, p, 4, 1, 7, 2, 2), std::runtime_error);
    EXPECT_THROW(sfnet::PairLoader(src, p, 4, 1, 7, -1, 2), std::runtime_error);
}

// VOC: a real palette PNG (made by scripts/make_voc_palette_fixture.py), the image-set
// list, the exclusion list in PF-PASCAL CSV form, and the void band as background.
TEST(VocSource, ReadsPaletteMasksListsAndExclusions)
{
    const fs::path fixture = fs::path(SEMFLOW_TEST_DATA_DIR) / "semflow" / "voc_mini" / "palette_mask.png";
    ASSERT_TRUE(fs::exists(fixture)) << fixture;
    const fs::path d = freshDir("voc");
    for (const char* sub : {"JPEGImages", "SegmentationClass", "ImageSets/Segmentation"})
        fs::create_directories(d / sub);
    const std::vector<std::string> names = {"2008_000001", "2008_000002", "2008_000003"};
    for (const auto& n : names)
    {
        ASSERT_TRUE(cv::imwrite((d / "JPEGImages" / (n + ".jpg")).string(), cv::Mat(12, 16, CV_8UC3, cv::Scalar(1, 2, 3))));
        fs::copy_file(fixture, d / "SegmentationClass" / (n + ".png"));
    }
    {
        std::ofstream list(d / "ImageSets" / "Segmentation" / "train.txt");
        for (const auto& n : names)
            list << n << "\n";
        std::ofstream csv(d / "test_pairs.csv");
        csv << "source_image,target_image,class,XA,YA,XB,YB\n"
            << "PF-dataset-PASCAL/JPEGImages/2008_000002.jpg,PF-dataset-PASCAL/JPEGImages/2010_000001.jpg,1,1;2,3;4,5;6,7;8\n";
    }
    const auto ex = sfnet::readNameList((d / "test_pairs.csv").string());
    // A directory is not an empty list (which would silently exclude nothing).
    try
    {
        sfnet::readNameList(d.string());
        ADD_FAILURE() << "a directory was read as a name list";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("is a directory, not a file"), std::string::npos) << e.what();
    }
    auto src = sfnet::openVoc(d.string(), "train", "SegmentationClass", ex);
    ASSERT_EQ(src->size(), 2u);
    EXPECT_EQ(src->name(0), "2008_000001");
    EXPECT_EQ(src->name(1), "2008_000003");

    sfnet::MaskedImage mi;
    std::string err;
    ASSERT_TRUE(src->load(0, mi, err)) << err;
    ASSERT_EQ(mi.mask.size(), cv::Size(16, 12));
    // The label layout of the fixture script: object interiors are foreground, the void
    // frame and the background are not.
    for (int y = 0; y < 12; ++y)
        for (int x = 0; x < 16; ++x)
        {
            const bool person = y > 2 && y < 9 && x > 3 && x < 7;
            const bool plane = y >= 4 && y < 8 && x >= 10 && x < 14;
            EXPECT_EQ(mi.mask.at<uchar>(y, x), (person || plane) ? 1 : 0) << x << "," << y;
        }
    EXPECT_THROW(sfnet::openVoc(d.string(), "val"), std::runtime_error);
    EXPECT_THROW(sfnet::openVoc((d / "JPEGImages").string()), std::runtime_error);
    fs::remove_all(d);
}
