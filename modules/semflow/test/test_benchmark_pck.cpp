// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// PCK pinned to values computed by hand (in the comments) on the fixture datasets, for
// every threshold type and both transfer directions, plus the flow sampling it rests on.

#include "test_precomp.hpp"
#include "test_benchmark_common.hpp"

#include "opencv2/core.hpp"

#include <cmath>

namespace opencv_test {
namespace {

using namespace cv::semflow;

const double kEps = 1e-12;  // the hand-computed values are exact ratios of small integers

// The zero flow: every keypoint stays where it is (the "no alignment" baseline).
void zeroFlow(const cv::Mat& from, const cv::Mat& /*to*/, cv::Mat& flow)
{
    flow = cv::Mat::zeros(from.size(), CV_32FC2);
}

PCKProtocol protocol(std::vector<float> alphas, PCKThreshold t, TransferDirection d)
{
    PCKProtocol p;
    p.alphas = alphas;
    p.threshold = t;
    p.direction = d;
    return p;
}

void expectValues(const std::vector<double>& got, const std::vector<double>& want, const char* what)
{
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[i], want[i], kEps) << what << " [" << i << "]";
}

const PCKRow& rowOf(const PCKResult& r, const std::string& category)
{
    for (const PCKRow& row : r.classes)
        if (row.category == category)
            return row;
    throw std::runtime_error("no class " + category);
}

// ---- keypoint transfer (cv::semflow::transferKeypoints, which PCK rests on) -----------

TEST(Semflow_Benchmark_PCK, transferSamplesFlowBilinearly)
{
    // 3x2 flow with hand-picked values; point (0.5, 0.25) lies between the four top-left pixels:
    // dx = (1-0.25)*((1-0.5)*0 + 0.5*2) + 0.25*((1-0.5)*4 + 0.5*8) = 0.75*1 + 0.25*6 = 2.25
    // dy = (1-0.25)*((1-0.5)*10 + 0.5*20) + 0.25*((1-0.5)*30 + 0.5*50) = 0.75*15 + 0.25*40 = 21.25
    cv::Mat flow(2, 3, CV_32FC2);
    flow.at<cv::Vec2f>(0, 0) = cv::Vec2f(0, 10);
    flow.at<cv::Vec2f>(0, 1) = cv::Vec2f(2, 20);
    flow.at<cv::Vec2f>(0, 2) = cv::Vec2f(-7, 0);
    flow.at<cv::Vec2f>(1, 0) = cv::Vec2f(4, 30);
    flow.at<cv::Vec2f>(1, 1) = cv::Vec2f(8, 50);
    flow.at<cv::Vec2f>(1, 2) = cv::Vec2f(1, 1);
    std::vector<cv::Point2f> out;
    transferKeypoints({cv::Point2f(0.5f, 0.25f), cv::Point2f(2, 1), cv::Point2f(5, -3), cv::Point2f(1, 0)}, flow, out);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_NEAR(out[0].x, 0.5 + 2.25, 1e-6);
    EXPECT_NEAR(out[0].y, 0.25 + 21.25, 1e-6);
    EXPECT_NEAR(out[1].x, 2 + 1, 1e-6);      // exactly on the last pixel
    EXPECT_NEAR(out[1].y, 1 + 1, 1e-6);
    EXPECT_NEAR(out[2].x, 5 - 7, 1e-6);      // outside: the nearest border pixel (2, 0)
    EXPECT_NEAR(out[2].y, -3 + 0, 1e-6);
    EXPECT_NEAR(out[3].x, 1 + 2, 1e-6);
    EXPECT_NEAR(out[3].y, 0 + 20, 1e-6);
}

TEST(Semflow_Benchmark_PCK, transferIsExactForAnAffineFlow)
{
    // Bilinear interpolation reproduces an affine field exactly at any subpixel position.
    cv::Mat flow(17, 23, CV_32FC2);
    for (int y = 0; y < flow.rows; ++y)
        for (int x = 0; x < flow.cols; ++x)
            flow.at<cv::Vec2f>(y, x) = cv::Vec2f(0.25f * x - 0.5f * y + 3, 0.125f * x + 0.75f * y - 2);
    cv::RNG rng(7);
    std::vector<cv::Point2f> pts;
    for (int i = 0; i < 50; ++i)
        pts.emplace_back(rng.uniform(0.f, 22.f), rng.uniform(0.f, 16.f));
    std::vector<cv::Point2f> out;
    transferKeypoints(pts, flow, out);
    for (size_t i = 0; i < pts.size(); ++i)
    {
        const float x = pts[i].x, y = pts[i].y;
        EXPECT_NEAR(out[i].x, x + 0.25f * x - 0.5f * y + 3, 1e-4) << i;
        EXPECT_NEAR(out[i].y, y + 0.125f * x + 0.75f * y - 2, 1e-4) << i;
    }
    expectThrowsWith([] {
        std::vector<cv::Point2f> o;
        transferKeypoints({cv::Point2f(1, 1)}, cv::Mat::zeros(4, 4, CV_32FC1), o);
    }, {"CV_32FC2", "CV_32FC1"});
}

// ---- PF-PASCAL fixture ----------------------------------------------------------------
// Images: 2009_000001 is 40x30, 2009_000002 is 50x20, 2010_000003 is 32x32 (w x h).
// Pair 1 (aeroplane, 40x30 -> 50x20), 3 valid keypoints (the 4th is -1 in the source):
//   (5,5)->(8,8): |d| = sqrt(18) = 4.2426;  (10,10)->(10,15.5): 5.5;  (20,15)->(31,15): 11
// Pair 2 (cat, 32x32 -> 40x30): (4,4)->(6.5,4): 2.5;  (28,20)->(30,26): sqrt(40) = 6.3246
// Pair 3 (cat): no valid keypoint -> not scored.
// Pair 4 (cat, 32x32 -> 40x30): (16,16)->(16,16): 0
// With the zero flow the predicted point is the keypoint itself, so these distances are the
// errors in both directions; only the reference length L changes.

TEST(Semflow_Benchmark_PCK, pfPascalImageThresholdSourceToTarget)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // L = max side of the target: pair 1: 50 -> thresholds 2.5, 5, 7.5 -> correct 0, 1, 2 of 3
    //                             pairs 2, 4: 40 -> thresholds 2, 4, 6:  pair 2: 0, 1, 1 of 2; pair 4: 1, 1, 1
    // per pair:      (0 + 0 + 1)/3,  (1/3 + 1/2 + 1)/3 = 11/18,  (2/3 + 1/2 + 1)/3 = 13/18
    // per keypoint:  1/6, 3/6, 4/6
    // classes: aeroplane (0, 1/3, 2/3); cat ((0+1)/2, (1/2+1)/2, (1/2+1)/2) = (1/2, 3/4, 3/4)
    // class mean: (1/4, 13/24, 17/24)
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    PCKResult r = evaluateBenchmark(pairs, zeroFlow,
                                    protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE, TRANSFER_SOURCE_TO_TARGET),
                                    "pf-pascal test");
    EXPECT_EQ(r.overall.pairs, 3);
    EXPECT_EQ(r.overall.keypoints, 6);
    EXPECT_EQ(r.skippedPairs, 1);
    expectValues(r.overall.perPair, {1.0 / 3, 11.0 / 18, 13.0 / 18}, "per pair");
    expectValues(r.overall.perKeypoint, {1.0 / 6, 3.0 / 6, 4.0 / 6}, "per keypoint");
    ASSERT_EQ(r.classes.size(), 2u);
    expectValues(rowOf(r, "aeroplane").perPair, {0, 1.0 / 3, 2.0 / 3}, "aeroplane");
    expectValues(rowOf(r, "cat").perPair, {0.5, 0.75, 0.75}, "cat");
    EXPECT_EQ(rowOf(r, "cat").pairs, 2);
    expectValues(r.classMean, {0.25, 13.0 / 24, 17.0 / 24}, "class mean");
    ASSERT_EQ(r.pairs.size(), 4u);
    EXPECT_EQ(r.pairs[0].referenceLength, 50);
    EXPECT_EQ(r.pairs[1].referenceLength, 40);
    EXPECT_EQ(r.pairs[2].numKeypoints, 0);
}

TEST(Semflow_Benchmark_PCK, pfPascalImageThresholdTargetToSource)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // L = max side of the source: pair 1: 40 -> 2, 4, 6: 4.24 > 4, so 0, 0, 2 of 3
    //                             pairs 2, 4: 32 -> 1.6, 3.2, 4.8: pair 2: 0, 1, 1 of 2; pair 4: 1, 1, 1
    // per pair: (1/3, (0 + 1/2 + 1)/3 = 1/2, (2/3 + 1/2 + 1)/3 = 13/18); per keypoint: 1/6, 2/6, 4/6
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    PCKResult r = evaluateBenchmark(pairs, zeroFlow,
                                    protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE, TRANSFER_TARGET_TO_SOURCE));
    expectValues(r.overall.perPair, {1.0 / 3, 0.5, 13.0 / 18}, "per pair");
    expectValues(r.overall.perKeypoint, {1.0 / 6, 2.0 / 6, 4.0 / 6}, "per keypoint");
    EXPECT_EQ(r.pairs[0].referenceLength, 40);
    EXPECT_EQ(r.pairs[1].referenceLength, 32);
}

TEST(Semflow_Benchmark_PCK, pfPascalImageSquareThreshold)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // Error measured per axis relative to the target size W x H: sqrt((dx/W)^2 + (dy/H)^2).
    // pair 1 (target 50x20): (3,3): sqrt(0.0036 + 0.0225) = 0.1616; (0,5.5): 0.275; (11,0): 0.22
    // pair 2 (target 40x30): (2.5,0): 0.0625; (2,6): sqrt(0.0025 + 0.04) = 0.2062
    // pair 4: 0.   alphas 0.1, 0.2, 0.3:
    //   pair 1: 0, 1, 3 of 3;  pair 2: 1, 1, 2 of 2;  pair 4: 1, 1, 1
    // per pair: ((0 + 1/2 + 1)/3 = 1/2, (1/3 + 1/2 + 1)/3 = 11/18, (1 + 1 + 1)/3 = 1)
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    PCKResult r = evaluateBenchmark(pairs, zeroFlow,
                                    protocol({0.1f, 0.2f, 0.3f}, PCK_THRESHOLD_IMAGE_SQUARE, TRANSFER_SOURCE_TO_TARGET));
    expectValues(r.overall.perPair, {0.5, 11.0 / 18, 1.0}, "per pair");
    expectValues(r.overall.perKeypoint, {2.0 / 6, 3.0 / 6, 6.0 / 6}, "per keypoint");
    EXPECT_NEAR(r.pairs[0].normalizedErrors[0], std::sqrt(0.0036 + 0.0225), 1e-9);
}

TEST(Semflow_Benchmark_PCK, pfPascalImageSquareTargetToSourceIsSFNetsProtocol)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // SFNet's PF-PASCAL protocol (semflow_eval's default there): t2s, scored in the source
    // resized to a square. pair 1 (source 40x30): (3,3): sqrt((3/40)^2 + (3/30)^2) = 0.125;
    // (0,5.5): 5.5/30 = 0.1833; (11,0): 11/40 = 0.275 -> alphas 0.05, 0.1, 0.15: 0, 0, 1 of 3
    // pair 2 (source 32x32): (2.5,0): 0.078; (2,6): sqrt(0.0039 + 0.0352) = 0.1976 -> 0, 1, 1 of 2
    // pair 4: 1, 1, 1.  per pair: (1/3, (0 + 1/2 + 1)/3 = 1/2, (1/3 + 1/2 + 1)/3 = 11/18)
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    PCKResult r = evaluateBenchmark(pairs, zeroFlow,
                                    protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE_SQUARE, TRANSFER_TARGET_TO_SOURCE));
    expectValues(r.overall.perPair, {1.0 / 3, 0.5, 11.0 / 18}, "per pair");
    EXPECT_NEAR(r.pairs[0].normalizedErrors[0], 0.125, 1e-9);
    EXPECT_EQ(r.pairs[0].referenceLength, 0);  // no single length: per-axis normalisation
}

TEST(Semflow_Benchmark_PCK, pfPascalBboxThresholdUsesLpckOfTheSource)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // bbox_test_pairs_pf_pascal.csv: L_pck = 24, 20, 10, 16 (the source object's box side).
    // t2s scores in the source, so L = L_pck. alphas 0.1, 0.2, 0.3:
    //   pair 1: thresholds 2.4, 4.8, 7.2 -> 0, 1, 2 of 3;  pair 2: 2, 4, 6 -> 0, 1, 1 of 2;  pair 4: 1, 1, 1
    // per pair: (1/3, 11/18, 13/18)
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/bbox_test_pairs_pf_pascal.csv"));
    PCKResult r = evaluateBenchmark(pairs, zeroFlow,
                                    protocol({0.1f, 0.2f, 0.3f}, PCK_THRESHOLD_BBOX, TRANSFER_TARGET_TO_SOURCE));
    expectValues(r.overall.perPair, {1.0 / 3, 11.0 / 18, 13.0 / 18}, "per pair");
    EXPECT_EQ(r.pairs[0].referenceLength, 24);

    // s2t would score in the target, whose box the CSV does not give: a clear error, not a guess.
    expectThrowsWith([&] {
        evaluateBenchmark(pairs, zeroFlow, protocol({0.1f}, PCK_THRESHOLD_BBOX, TRANSFER_SOURCE_TO_TARGET));
    }, {"bbox_test_pairs_pf_pascal.csv:2", "target object's bounding box", "direction t2s"});
}

TEST(Semflow_Benchmark_PCK, pfPascalKeypointExtentThreshold)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // s2t: L = extent of the valid target keypoints.
    //   pair 1: (8,8), (10,15.5), (31,15): max(23, 7.5) = 23 -> alphas 0.1, 0.2, 0.3: 2.3, 4.6, 6.9 -> 0, 1, 2
    //   pair 2: (6.5,4), (30,26): max(23.5, 22) = 23.5 -> 2.35, 4.7, 7.05 -> errors 2.5, 6.32: 0, 1, 2
    //   pair 4: one keypoint, extent 0: only an exact hit counts -> 1, 1, 1
    //   per pair: (1/3, (1/3 + 1/2 + 1)/3 = 11/18, (2/3 + 1 + 1)/3 = 8/9)
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    PCKResult s2t = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.1f, 0.2f, 0.3f}, PCK_THRESHOLD_BBOX_KEYPOINTS, TRANSFER_SOURCE_TO_TARGET));
    expectValues(s2t.overall.perPair, {1.0 / 3, 11.0 / 18, 8.0 / 9}, "s2t");
    EXPECT_EQ(s2t.pairs[0].referenceLength, 23);
    EXPECT_EQ(s2t.pairs[1].referenceLength, 23.5);

    // t2s: L = extent of the valid source keypoints.
    //   pair 1: (5,5), (10,10), (20,15): max(15, 10) = 15 -> 1.5, 3, 4.5 -> 0, 0, 1
    //   pair 2: (4,4), (28,20): max(24, 16) = 24 -> 2.4, 4.8, 7.2 -> 0, 1, 2
    //   pair 4: 1, 1, 1
    //   per pair: (1/3, (0 + 1/2 + 1)/3 = 1/2, (1/3 + 1 + 1)/3 = 7/9)
    PCKResult t2s = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.1f, 0.2f, 0.3f}, PCK_THRESHOLD_BBOX_KEYPOINTS, TRANSFER_TARGET_TO_SOURCE));
    expectValues(t2s.overall.perPair, {1.0 / 3, 0.5, 7.0 / 9}, "t2s");
    EXPECT_EQ(t2s.pairs[0].referenceLength, 15);
}

TEST(Semflow_Benchmark_PCK, directionPicksTheFlowAndTheImage)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // Pair 1 with a constant flow (+3, +3) over the 40x30 source:
    //   (5,5)+(3,3) = (8,8): error 0;  (13,13) vs (10,15.5): sqrt(9 + 6.25) = 3.905;
    //   (23,18) vs (31,15): sqrt(64 + 9) = 8.544
    // image threshold s2t, L = 50: alphas 0.05, 0.1, 0.15 -> 2.5, 5, 7.5 -> 1, 2, 2 of 3
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    KeypointPair p = pairs[0];
    p.sourceSize = cv::Size(40, 30);
    p.targetSize = cv::Size(50, 20);
    cv::Mat flow(30, 40, CV_32FC2, cv::Scalar(3, 3));
    PairPCK r = evaluatePairPCK(p, flow, protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE, TRANSFER_SOURCE_TO_TARGET), 0);
    EXPECT_EQ(r.correct, std::vector<int>({1, 2, 2}));
    EXPECT_NEAR(r.normalizedErrors[1], std::sqrt(15.25) / 50, 1e-9);
    EXPECT_EQ(r.predicted[2], cv::Point2f(23, 18));

    // t2s needs the target-sized flow of calc(target, source): a source-sized one is refused.
    expectThrowsWith([&] {
        evaluatePairPCK(p, flow, protocol({0.1f}, PCK_THRESHOLD_IMAGE, TRANSFER_TARGET_TO_SOURCE), 0);
    }, {"flow is 40x30", "target image is 50x20", "calc(target, source)"});

    // t2s with a constant (-3, -3) target flow: target keypoints (8,8), (10,15.5), (31,15) go to
    // (5,5): 0;  (7,12.5) vs (10,10): sqrt(9 + 6.25) = 3.905;  (28,12) vs (20,15): 8.544
    // L = 40: 2, 4, 6 -> 1, 2, 2
    cv::Mat back(20, 50, CV_32FC2, cv::Scalar(-3, -3));
    PairPCK b = evaluatePairPCK(p, back, protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE, TRANSFER_TARGET_TO_SOURCE), 0);
    EXPECT_EQ(b.correct, std::vector<int>({1, 2, 2}));
    EXPECT_EQ(b.referenceLength, 40);
    EXPECT_EQ(b.groundTruth[1], cv::Point2f(10, 10));
}

TEST(Semflow_Benchmark_PCK, computePCKMatchesEvaluateBenchmark)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // The entry point for training loops: flows computed elsewhere, sizes set by the caller.
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    const cv::Size sizes[4][2] = {{{40, 30}, {50, 20}}, {{32, 32}, {40, 30}}, {{50, 20}, {32, 32}}, {{32, 32}, {40, 30}}};
    std::vector<cv::Mat> flows;
    for (int i = 0; i < 4; ++i)
    {
        pairs[i].sourceSize = sizes[i][0];
        pairs[i].targetSize = sizes[i][1];
        flows.push_back(cv::Mat::zeros(sizes[i][0], CV_32FC2));
    }
    PCKProtocol proto = protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE, TRANSFER_SOURCE_TO_TARGET);
    PCKResult r = computePCK(pairs, flows, proto, "pf-pascal test");
    expectValues(r.overall.perPair, {1.0 / 3, 11.0 / 18, 13.0 / 18}, "per pair");
    flows.pop_back();
    expectThrowsWith([&] { computePCK(pairs, flows, proto); }, {"4 pairs but 3 flows"});
    pairs[0].targetSize = cv::Size();
    flows.push_back(flows[0]);
    expectThrowsWith([&] { computePCK(pairs, flows, proto); }, {"target image size is needed"});
}

TEST(Semflow_Benchmark_PCK, imageSquareIsInvariantUnderResizing)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // Scoring at a working resolution (e.g. 320x320, what a training loop has) gives the same
    // 'image-square' PCK as at the original size, because errors are normalised per axis.
    // Original: pair 1, t2s, constant flow (-3, -3) on the 50x20 target. Resized: both images
    // 320x320, and the same correspondence expressed there: a 320x320 target pixel (x, y) is the
    // original (x/6.4, y/16), which goes to source (x/6.4 - 3, y/16 - 3), i.e. 320x320 source
    // pixel ((x/6.4 - 3) * 8, (y/16 - 3) * 32/3).
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/test_pairs_pf_pascal.csv"));
    KeypointPair p = pairs[0];
    p.sourceSize = cv::Size(40, 30);
    p.targetSize = cv::Size(50, 20);
    const PCKProtocol proto = protocol({0.05f, 0.1f, 0.15f, 0.2f, 0.3f}, PCK_THRESHOLD_IMAGE_SQUARE, TRANSFER_TARGET_TO_SOURCE);
    PairPCK original = evaluatePairPCK(p, cv::Mat(20, 50, CV_32FC2, cv::Scalar(-3, -3)), proto, 0);

    KeypointPair q = resizeKeypointPair(p, cv::Size(320, 320), cv::Size(320, 320));
    EXPECT_NEAR(q.sourceKeypoints[1].x, 10 * 8.0, 1e-4);          // x scaled by 320/40
    EXPECT_NEAR(q.sourceKeypoints[1].y, 10 * 320.0 / 30, 1e-4);   // y scaled by 320/30
    EXPECT_NEAR(q.targetKeypoints[2].x, 31 * 6.4, 1e-4);
    EXPECT_NEAR(q.targetKeypoints[2].y, 15 * 16.0, 1e-4);
    EXPECT_LT(q.sourceLpck, 0.f);
    cv::Mat flow(320, 320, CV_32FC2);
    for (int y = 0; y < 320; ++y)
        for (int x = 0; x < 320; ++x)
        {
            const float tx = x / 6.4f, ty = y / 16.f;  // the original target position
            flow.at<cv::Vec2f>(y, x) = cv::Vec2f((tx - 3) * 8.f - x, (ty - 3) * (320.f / 30) - y);
        }
    PairPCK resized = evaluatePairPCK(q, flow, proto, 0);
    EXPECT_EQ(resized.correct, original.correct);
    ASSERT_EQ(resized.normalizedErrors.size(), original.normalizedErrors.size());
    for (size_t i = 0; i < original.normalizedErrors.size(); ++i)
        EXPECT_NEAR(resized.normalizedErrors[i], original.normalizedErrors[i], 1e-5) << i;
    expectThrowsWith([&] { resizeKeypointPair(pairs[0], cv::Size(320, 320), cv::Size(320, 320)); },
                     {"sourceSize and targetSize must be set"});
}

// ---- PF-WILLOW fixture ----------------------------------------------------------------
// car(G): 48x36 -> 48x36, A x = 0,4,..,36, B x = 0,5,..,45, y = 10: errors 0,1,..,9
// duck(S): 30x40 -> 30x40, B = A + (1,1): every error sqrt(2) = 1.414

TEST(Semflow_Benchmark_PCK, pfWillowKeypointExtentBothDirections)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadPFWillowPairs(benchmarkData("pf-willow/test_pairs_pf.csv"));
    // SFNet's protocol: t2s, L = extent of A's keypoints.
    //   car: extent (36, 0) -> 36: 1.8, 3.6, 5.4 -> errors <= : 2, 4, 6 of 10
    //   duck: extent x 2..20 = 18, y 5..32 = 27 -> 27: 1.35, 2.7, 4.05 -> 0, 10, 10
    //   per pair: (0.2 + 0)/2 = 0.1, (0.4 + 1)/2 = 0.7, (0.6 + 1)/2 = 0.8
    PCKResult t2s = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_BBOX_KEYPOINTS, TRANSFER_TARGET_TO_SOURCE));
    expectValues(rowOf(t2s, "car(G)").perPair, {0.2, 0.4, 0.6}, "car t2s");
    expectValues(rowOf(t2s, "duck(S)").perPair, {0, 1, 1}, "duck t2s");
    expectValues(t2s.overall.perPair, {0.1, 0.7, 0.8}, "t2s");
    EXPECT_EQ(t2s.pairs[0].referenceLength, 36);

    // s2t: L = extent of B's keypoints: car 45 -> 2.25, 4.5, 6.75 -> 3, 5, 7; duck 27 again -> 0, 10, 10
    PCKResult s2t = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_BBOX_KEYPOINTS, TRANSFER_SOURCE_TO_TARGET));
    expectValues(rowOf(s2t, "car(G)").perPair, {0.3, 0.5, 0.7}, "car s2t");
    expectValues(s2t.overall.perKeypoint, {3.0 / 20, 15.0 / 20, 17.0 / 20}, "s2t per keypoint");

    // The annotation has no boxes: 'bbox' must say so rather than fall back silently.
    expectThrowsWith([&] {
        evaluateBenchmark(pairs, zeroFlow, protocol({0.1f}, PCK_THRESHOLD_BBOX, TRANSFER_TARGET_TO_SOURCE));
    }, {"test_pairs_pf.csv:2", "bounding box", "bbox-kp"});

    // image, t2s: car L = 48 -> 2.4, 4.8, 7.2 -> 3, 5, 8; duck L = 40 -> 2, 4, 6 -> all 10
    PCKResult img = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_IMAGE, TRANSFER_TARGET_TO_SOURCE));
    expectValues(img.overall.perPair, {0.65, 0.75, 0.9}, "image t2s");
}

// ---- SPair-71k fixture ----------------------------------------------------------------
// aeroplane: 60x40 -> 50x50, src box [10,5,30,35] (20x30), trg box [5,10,35,50] (30x40)
//   (12,10)->(10,14): sqrt(20) = 4.472;  (20,20)->(20,20): 0;  (28,30)->(26,38): sqrt(68) = 8.246
// cat: 40x40 -> 40x40, src box [0,0,39,39] (39x39), trg box [4,4,36,28] (32x24); (20,20)->(22,20): 2

TEST(Semflow_Benchmark_PCK, spairBboxThresholdBothDirections)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadSPairPairs(benchmarkData("spair"), "test");
    // s2t: L = target box side: aeroplane 40 -> 2, 4, 6 -> 1, 1, 2 of 3; cat 32 -> 1.6, 3.2, 4.8 -> 0, 1, 1
    // per pair (1/6, 2/3, 5/6); per keypoint (1/4, 2/4, 3/4); class mean = per pair (one pair per class)
    PCKResult s2t = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_BBOX, TRANSFER_SOURCE_TO_TARGET),
                                      "spair test");
    expectValues(s2t.overall.perPair, {1.0 / 6, 2.0 / 3, 5.0 / 6}, "s2t per pair");
    expectValues(s2t.overall.perKeypoint, {0.25, 0.5, 0.75}, "s2t per keypoint");
    expectValues(s2t.classMean, {1.0 / 6, 2.0 / 3, 5.0 / 6}, "class mean");
    EXPECT_EQ(s2t.pairs[0].referenceLength, 40);
    EXPECT_EQ(s2t.pairs[1].referenceLength, 32);

    // t2s: L = source box side: aeroplane 30 -> 1.5, 3, 4.5 -> 1, 1, 2; cat 39 -> 1.95, 3.9, 5.85 -> 0, 1, 1
    // image threshold would give aeroplane L = 60 instead: alphas 0.1: 6 -> 2 of 3 (checked below)
    PCKResult t2s = evaluateBenchmark(pairs, zeroFlow,
                                      protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_BBOX, TRANSFER_TARGET_TO_SOURCE));
    expectValues(t2s.overall.perPair, {1.0 / 6, 2.0 / 3, 5.0 / 6}, "t2s per pair");
    EXPECT_EQ(t2s.pairs[0].referenceLength, 30);
    EXPECT_EQ(t2s.pairs[1].referenceLength, 39);
    PCKResult img = evaluateBenchmark(pairs, zeroFlow, protocol({0.1f}, PCK_THRESHOLD_IMAGE, TRANSFER_TARGET_TO_SOURCE));
    EXPECT_EQ(img.pairs[0].correct, std::vector<int>({2}));
    EXPECT_EQ(img.pairs[0].referenceLength, 60);
}

TEST(Semflow_Benchmark_PCK, exifOrientationIsIgnoredBecauseKeypointsReferToStoredPixels)
{
    // The fixture stores 48x24 pixels, left half red, right half blue, and an EXIF
    // Orientation of 6: a reader that applies it returns a 24x48 image. Keypoints (here
    // (40, 5) and (3, 20), in the stored pixels) must land on the stored content.
    const std::string jpg = benchmarkData("exif/orientation6_48x24.jpg");
    ASSERT_TRUE(fileExists(jpg)) << jpg;
    TempDir dir;
    const std::string csv = dir.write("pairs.csv", "source_image,target_image,class,XA,YA,XB,YB\n" +
                                                       jpg + "," + jpg + ",cat,40;3,5;20,40;3,5;20\n");
    std::vector<KeypointPair> pairs = loadPFPascalPairs(csv);
    std::vector<Size> seen;
    // Zero flow on blue pixels and on red ones where red is expected; 30 px anywhere else,
    // so a keypoint on the wrong content is transferred far off and counted wrong.
    auto colourFlow = [&](const Mat& from, const Mat&, Mat& flow) {
        seen.push_back(from.size());
        flow.create(from.size(), CV_32FC2);
        for (int y = 0; y < from.rows; ++y)
            for (int x = 0; x < from.cols; ++x)
            {
                const Vec3b c = from.at<Vec3b>(y, x);
                const bool expected = x < 24 ? c[2] > 200 && c[0] < 50 : c[0] > 200 && c[2] < 50;
                flow.at<Point2f>(y, x) = expected ? Point2f(0, 0) : Point2f(30, 30);
            }
    };
    PCKResult r = evaluateBenchmark(pairs, colourFlow,
                                    protocol({0.1f}, PCK_THRESHOLD_IMAGE, TRANSFER_SOURCE_TO_TARGET));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], Size(48, 24));
    EXPECT_EQ(r.overall.keypoints, 2);
    expectValues(r.overall.perKeypoint, {1.0}, "per keypoint");
}

TEST(Semflow_Benchmark_PCK, imageSizeDisagreeingWithAnnotationIsAnError)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadSPairPairs(benchmarkData("spair"), "test");
    pairs[1].targetSize = cv::Size(41, 40);
    expectThrowsWith([&] {
        evaluateBenchmark(pairs, zeroFlow, protocol({0.1f}, PCK_THRESHOLD_BBOX, TRANSFER_SOURCE_TO_TARGET));
    }, {"000002-2009_000020-2009_000021:cat.json", "41x40", "40x40"});
    pairs[1].targetSize = cv::Size();
    pairs[1].targetImage += ".missing";
    expectThrowsWith([&] {
        evaluateBenchmark(pairs, zeroFlow, protocol({0.1f}, PCK_THRESHOLD_BBOX, TRANSFER_SOURCE_TO_TARGET));
    }, {"cannot read the image", ".missing"});
}

// ---- the result says what it is --------------------------------------------------------

TEST(Semflow_Benchmark_PCK, resultDescribesProtocol)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadSPairPairs(benchmarkData("spair"), "test");
    int calls = 0, lastTotal = 0;
    PCKResult r = evaluateBenchmark(pairs, zeroFlow,
                                    protocol({0.05f, 0.1f, 0.15f}, PCK_THRESHOLD_BBOX, TRANSFER_SOURCE_TO_TARGET),
                                    "spair test", [&](int done, int total) { calls = done; lastTotal = total; });
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(lastTotal, 2);
    const std::string d = r.describe();
    EXPECT_NE(d.find("spair test"), std::string::npos) << d;
    EXPECT_NE(d.find("threshold 'bbox'"), std::string::npos) << d;
    EXPECT_NE(d.find("calc(source, target)"), std::string::npos) << d;
    EXPECT_NE(d.find("target object's annotated bounding box"), std::string::npos) << d;
    EXPECT_EQ(r.overall.keypoints, 4);
    EXPECT_NEAR(r.overall.perPair[2], 5.0 / 6, 1e-12);
    // The table, JSON and CSV reports are the eval sample's (samples/test/test_pck_report.cpp).
}

TEST(Semflow_Benchmark_PCK, protocolNamesRoundTripAndRejectUnknown)
{
    for (PCKThreshold t : {PCK_THRESHOLD_IMAGE, PCK_THRESHOLD_IMAGE_SQUARE, PCK_THRESHOLD_BBOX, PCK_THRESHOLD_BBOX_KEYPOINTS})
        EXPECT_EQ(parsePCKThreshold(pckThresholdName(t)), t);
    EXPECT_EQ(parseTransferDirection("t2s"), TRANSFER_TARGET_TO_SOURCE);
    EXPECT_EQ(transferDirectionName(TRANSFER_SOURCE_TO_TARGET), "s2t");
    expectThrowsWith([] { parsePCKThreshold("box"); }, {"unknown PCK threshold 'box'"});
    expectThrowsWith([] { parseTransferDirection("forward"); }, {"expected s2t or t2s"});
    std::vector<PairPCK> none;
    expectThrowsWith([&] { summarizePCK(none, protocol({}, PCK_THRESHOLD_IMAGE, TRANSFER_SOURCE_TO_TARGET)); },
                     {"at least one alpha"});
}

}  // namespace
}  // namespace opencv_test
