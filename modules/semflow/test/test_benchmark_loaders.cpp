// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The loaders against the hand-written fixtures in test_data/semflow/benchmarks (each in the exact
// published layout) and against malformed files written on the fly.

#include "test_precomp.hpp"
#include "test_benchmark_common.hpp"

namespace opencv_test {
namespace {

using namespace cv::semflow;

TEST(Semflow_Benchmark_Loaders, pfPascalTestCsv)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    const std::string root = benchmarkData("pf-pascal");
    std::vector<KeypointPair> pairs = loadPFPascalPairs(root + "/test_pairs_pf_pascal.csv");
    ASSERT_EQ(pairs.size(), 4u);

    const KeypointPair& p = pairs[0];
    EXPECT_EQ(p.category, "aeroplane");  // class 1 of the 1-based VOC list
    EXPECT_TRUE(fileExists(p.sourceImage)) << p.sourceImage;
    EXPECT_TRUE(fileExists(p.targetImage)) << p.targetImage;
    EXPECT_NE(p.sourceImage.find("2009_000001.jpg"), std::string::npos);
    ASSERT_EQ(p.sourceKeypoints.size(), 4u);
    ASSERT_EQ(p.valid.size(), 4u);
    // the fourth keypoint is -1;-1 in the source: not annotated there, so not a pair-point
    EXPECT_EQ(p.valid, std::vector<uchar>({1, 1, 1, 0}));
    EXPECT_EQ(p.numValid(), 3);
    EXPECT_EQ(p.sourceKeypoints[2], cv::Point2f(20, 15));
    EXPECT_EQ(p.targetKeypoints[1], cv::Point2f(10, 15.5f));
    EXPECT_LT(p.sourceLpck, 0.f);
    EXPECT_EQ(p.annotation, root + "/test_pairs_pf_pascal.csv:2");

    EXPECT_EQ(pairs[1].category, "cat");  // class 8
    EXPECT_EQ(pairs[2].numValid(), 0);     // every keypoint missing in the source
    EXPECT_EQ(pairs[3].sourceKeypoints.size(), 1u);  // a single coordinate, no ';'
}

TEST(Semflow_Benchmark_Loaders, pfPascalBboxCsvReadsLpck)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/bbox_test_pairs_pf_pascal.csv"));
    ASSERT_EQ(pairs.size(), 4u);
    EXPECT_EQ(pairs[0].sourceLpck, 24.f);
    EXPECT_EQ(pairs[1].sourceLpck, 20.f);
    EXPECT_EQ(pairs[3].sourceLpck, 16.f);
    EXPECT_LT(pairs[0].targetLpck, 0.f);
    EXPECT_EQ(pairs[0].valid, std::vector<uchar>({1, 1, 1, 0}));
}

TEST(Semflow_Benchmark_Loaders, pfPascalTrainCsvHasFlipAndNoKeypoints)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/train_pairs_pf_pascal.csv"));
    ASSERT_EQ(pairs.size(), 2u);
    EXPECT_FALSE(pairs[0].flip);
    EXPECT_TRUE(pairs[1].flip);
    EXPECT_TRUE(pairs[0].sourceKeypoints.empty());
    EXPECT_EQ(pairs[1].category, "aeroplane");
}

TEST(Semflow_Benchmark_Loaders, pfPascalImageRootInsideDatasetFolder)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // The user points at PF-dataset-PASCAL itself; the CSV's paths start with that folder.
    const std::string inner = benchmarkData("pf-pascal/PF-dataset-PASCAL");
    std::vector<KeypointPair> pairs = loadPFPascalPairs(benchmarkData("pf-pascal/val_pairs_pf_pascal.csv"), inner);
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(pairs[0].sourceImage, inner + "/JPEGImages/2010_000003.jpg");
    EXPECT_TRUE(fileExists(pairs[0].targetImage));
}

TEST(Semflow_Benchmark_Loaders, pfWillow)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    std::vector<KeypointPair> pairs = loadPFWillowPairs(benchmarkData("pf-willow/test_pairs_pf.csv"));
    ASSERT_EQ(pairs.size(), 2u);
    EXPECT_EQ(pairs[0].category, "car(G)");  // the folder of imageA
    EXPECT_EQ(pairs[1].category, "duck(S)");
    ASSERT_EQ(pairs[0].sourceKeypoints.size(), 10u);
    EXPECT_EQ(pairs[0].numValid(), 10);
    // columns: 10 x of A, 10 y of A, 10 x of B, 10 y of B
    EXPECT_EQ(pairs[0].sourceKeypoints[9], cv::Point2f(36, 10));
    EXPECT_EQ(pairs[0].targetKeypoints[9], cv::Point2f(45, 10));
    EXPECT_EQ(pairs[1].sourceKeypoints[3], cv::Point2f(8, 14));
    EXPECT_EQ(pairs[1].targetKeypoints[3], cv::Point2f(9, 15));
    EXPECT_TRUE(fileExists(pairs[1].targetImage)) << pairs[1].targetImage;
}

TEST(Semflow_Benchmark_Loaders, spair)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    const std::string root = benchmarkData("spair");
    std::vector<KeypointPair> pairs = loadSPairPairs(root, "test");
    ASSERT_EQ(pairs.size(), 2u);
    const KeypointPair& p = pairs[0];
    EXPECT_EQ(p.category, "aeroplane");
    EXPECT_EQ(p.sourceImage, root + "/JPEGImages/aeroplane/2008_000008.jpg");
    EXPECT_TRUE(fileExists(p.targetImage));
    EXPECT_EQ(p.sourceSize, cv::Size(60, 40));
    EXPECT_EQ(p.targetSize, cv::Size(50, 50));
    EXPECT_EQ(p.sourceBox, cv::Rect2f(10, 5, 20, 30));   // [x1, y1, x2, y2] = [10, 5, 30, 35]
    EXPECT_EQ(p.targetBox, cv::Rect2f(5, 10, 30, 40));
    ASSERT_EQ(p.sourceKeypoints.size(), 3u);
    EXPECT_EQ(p.targetKeypoints[2], cv::Point2f(26, 38));
    EXPECT_EQ(p.numValid(), 3);
    EXPECT_EQ(pairs[1].category, "cat");

    EXPECT_EQ(loadSPairPairs(root, "train").size(), 1u);  // "train" means trn
    EXPECT_EQ(loadSPairPairs(root, "val")[0].category, "cat");
}

TEST(Semflow_Benchmark_Loaders, loadBenchmarkFindsStandardNames)
{
    SEMFLOW_REQUIRE_TEST_DATA("benchmarks");
    // bbox_test_pairs_pf_pascal.csv is preferred: it carries L_pck on top of the keypoints.
    std::vector<KeypointPair> pascal = loadBenchmark("pf-pascal", benchmarkData("pf-pascal"), "test");
    ASSERT_EQ(pascal.size(), 4u);
    EXPECT_EQ(pascal[0].sourceLpck, 24.f);
    EXPECT_EQ(loadBenchmark("pf-pascal", benchmarkData("pf-pascal"), "trn").size(), 2u);
    EXPECT_EQ(loadBenchmark("pf-willow", benchmarkData("pf-willow"), "test").size(), 2u);
    EXPECT_EQ(loadBenchmark("spair", benchmarkData("spair"), "test").size(), 2u);

    expectThrowsWith([] { loadBenchmark("caltech", ".", "test"); }, {"unknown dataset 'caltech'"});
    expectThrowsWith([] { loadBenchmark("pf-willow", benchmarkData("pf-willow"), "val"); }, {"only a 'test' split"});
    expectThrowsWith([] { loadBenchmark("pf-pascal", benchmarkData("pf-willow"), "test"); },
                     {"test_pairs_pf_pascal.csv", "pf-willow"});
}

// ---- malformed input: every message names the file and the line -------------------------

TEST(Semflow_Benchmark_Loaders, pfPascalBadNumberNamesFileAndLine)
{
    TempDir dir;
    const std::string f = dir.write("bad.csv",
                                    "source_image,target_image,class,XA,YA,XB,YB\n"
                                    "a.jpg,b.jpg,1,1;2,3;4,5;6,7;8\n"
                                    "a.jpg,b.jpg,1,1;x,3;4,5;6,7;8\n");
    expectThrowsWith([&] { loadPFPascalPairs(f); }, {f + ":3", "XA[1]", "'x'"});
}

TEST(Semflow_Benchmark_Loaders, pfPascalToleratesOneTrailingSeparatorAndQuotes)
{
    TempDir dir;
    const std::string f = dir.write("ok.csv",
                                    "source_image,target_image,class,XA,YA,XB,YB\r\n"
                                    "a.jpg,\"b.jpg\",cat,1;2;,3; 4,5;nan,7;8\r\n");
    std::vector<KeypointPair> pairs = loadPFPascalPairs(f);
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(pairs[0].category, "cat");  // a class name instead of an index
    EXPECT_EQ(pairs[0].sourceKeypoints[0], cv::Point2f(1, 3));
    EXPECT_EQ(pairs[0].targetKeypoints[0], cv::Point2f(5, 7));
    EXPECT_EQ(pairs[0].valid, std::vector<uchar>({1, 0}));  // nan in the target: not annotated
    EXPECT_EQ(pairs[0].targetImage, dir.path() + "/b.jpg");

    const std::string g = dir.write("bad.csv",
                                    "source_image,target_image,class,XA,YA,XB,YB\n"
                                    "a.jpg,b.jpg,1,1;;2,3;4;5,5;6;7,7;8;9\n");
    expectThrowsWith([&] { loadPFPascalPairs(g); }, {g + ":2", "empty XA[1]"});
}

TEST(Semflow_Benchmark_Loaders, pfPascalCoordinateCountMismatch)
{
    TempDir dir;
    const std::string f = dir.write("bad.csv",
                                    "source_image,target_image,class,XA,YA,XB,YB\n"
                                    "a.jpg,b.jpg,1,1;2;3,3;4,5;6;7,7;8;9\n");
    expectThrowsWith([&] { loadPFPascalPairs(f); }, {f + ":2", "same number of coordinates"});
}

TEST(Semflow_Benchmark_Loaders, pfPascalColumnCountAndClassAndHeader)
{
    TempDir dir;
    const std::string cols = dir.write("cols.csv",
                                       "source_image,target_image,class,XA,YA,XB,YB\n"
                                       "a.jpg,b.jpg,1,1,2,3,4\n"
                                       "\n"
                                       "a.jpg,b.jpg,1,1,2,3\n");
    expectThrowsWith([&] { loadPFPascalPairs(cols); }, {cols + ":4", "expected 7 columns", "got 6"});

    const std::string cls = dir.write("cls.csv", "source_image,target_image,class\na.jpg,b.jpg,21\n");
    expectThrowsWith([&] { loadPFPascalPairs(cls); }, {cls + ":2", "class index 21"});

    // Numbers that atoi would wrap or truncate into a valid class: 2^32 + 1 is not class 1
    // ("aeroplane"), 3.5 is not class 3, -1 and 0 are not classes; each names file:line.
    const std::string big = dir.write("big.csv", "source_image,target_image,class\n"
                                                 "a.jpg,b.jpg,8\n"
                                                 "a.jpg,b.jpg,4294967297\n");
    expectThrowsWith([&] { loadPFPascalPairs(big); }, {big + ":3", "class index 4294967297", "1..20"});
    for (const char* bad : {"99999999999999999999999", "3.5", "-1", "0", "1e400"})
    {
        const std::string f = dir.write("bad.csv", std::string("source_image,target_image,class\na.jpg,b.jpg,") + bad + "\n");
        expectThrowsWith([&] { loadPFPascalPairs(f); }, {f + ":2", std::string("class index ") + bad});
    }
    const std::string ok = dir.write("ok.csv", "source_image,target_image,class\na.jpg,b.jpg,20\na.jpg,b.jpg,+1\n");
    const std::vector<KeypointPair> pairs = loadPFPascalPairs(ok);
    ASSERT_EQ(pairs.size(), 2u);
    EXPECT_EQ(pairs[0].category, "tvmonitor");
    EXPECT_EQ(pairs[1].category, "aeroplane");

    const std::string hdr = dir.write("hdr.csv", "a.jpg,b.jpg,1,1,2,3,4\n");
    expectThrowsWith([&] { loadPFPascalPairs(hdr); }, {hdr + ":1", "source_image, target_image and class"});

    const std::string lpck = dir.write("lpck.csv", "source_image,target_image,class,L_pck\na.jpg,b.jpg,2,-3\n");
    expectThrowsWith([&] { loadPFPascalPairs(lpck); }, {lpck + ":2", "L_pck must be positive"});

    expectThrowsWith([&] { loadPFPascalPairs(dir.path() + "/none.csv"); }, {"cannot open", "none.csv"});
}

TEST(Semflow_Benchmark_Loaders, pfWillowShortRow)
{
    TempDir dir;
    std::string header = "imageA,imageB";
    std::string row = "PF-dataset/car(G)/a.png,PF-dataset/car(G)/b.png";
    for (int i = 0; i < 40; ++i)
    {
        header += ",c" + std::to_string(i);
        row += "," + std::to_string(i);
    }
    const std::string shortRow = row.substr(0, row.rfind(','));
    const std::string f = dir.write("willow.csv", header + "\n" + row + "\n" + shortRow + "\n");
    expectThrowsWith([&] { loadPFWillowPairs(f); }, {f + ":3", "expected 42 columns", "got 41"});

    const std::string g = dir.write("willow2.csv", header + "\n" + row.substr(0, row.size() - 2) + "z9\n");
    expectThrowsWith([&] { loadPFWillowPairs(g); }, {g + ":2", "yB10", "'z9'"});
}

TEST(Semflow_Benchmark_Loaders, spairJsonSyntaxErrorNamesFileAndLine)
{
    TempDir dir;
    const std::string f = dir.write("pair.json",
                                    "{\n"
                                    "    \"src_imname\": \"a.jpg\",\n"
                                    "    \"trg_imname\": \"b.jpg\",\n"
                                    "    \"src_kps\": [[1, 2], [3, 4],\n"
                                    "    \"category\": \"cat\"\n"
                                    "}\n");
    // OpenCV's JSON parser reports "<file>(<line>)": line 5, where the ':' shows the list never closed.
    expectThrowsWith([&] { loadSPairAnnotation(f, dir.path()); }, {"not valid JSON", f + "(5)"});
}

TEST(Semflow_Benchmark_Loaders, spairMissingKeyAndMismatchedKeypoints)
{
    TempDir dir;
    const std::string head = "{\n\"src_imname\": \"a.jpg\", \"trg_imname\": \"b.jpg\", \"category\": \"cat\",\n"
                             "\"src_bndbox\": [0, 0, 10, 10], \"trg_bndbox\": [0, 0, 10, 10],\n";
    const std::string f = dir.write("nokps.json", head + "\"src_kps\": [[1, 2]]\n}\n");
    expectThrowsWith([&] { loadSPairAnnotation(f, dir.path()); }, {f, "missing key 'trg_kps'"});

    const std::string g = dir.write("count.json", head + "\"src_kps\": [[1, 2]], \"trg_kps\": [[1, 2], [3, 4]]\n}\n");
    expectThrowsWith([&] { loadSPairAnnotation(g, dir.path()); }, {g, "src_kps has 1 points but trg_kps has 2"});

    const std::string h = dir.write("point.json", head + "\"src_kps\": [[1, 2, 3]], \"trg_kps\": [[1, 2]]\n}\n");
    expectThrowsWith([&] { loadSPairAnnotation(h, dir.path()); }, {h, "src_kps[0] must be [x, y]"});

    const std::string b = dir.write("box.json",
                                    "{\"src_imname\": \"a.jpg\", \"trg_imname\": \"b.jpg\", \"category\": \"cat\",\n"
                                    "\"src_bndbox\": [0, 0, 10], \"trg_bndbox\": [0, 0, 10, 10],\n"
                                    "\"src_kps\": [[1, 2]], \"trg_kps\": [[1, 2]]}\n");
    expectThrowsWith([&] { loadSPairAnnotation(b, dir.path()); }, {b, "src_bndbox must have 4 values"});

    // OpenCV's JSON reader casts integer literals to int: 4294967297 would be 1. A string
    // holding such digits, and the same value written as a decimal, are fine.
    const std::string w = dir.write("wrap.json", head + "\"name\": \"x 4294967297\",\n"
                                                       "\"src_kps\": [[1, 2]],\n\"trg_kps\": [[4294967297, 2]]\n}\n");
    expectThrowsWith([&] { loadSPairAnnotation(w, dir.path()); }, {w + ":6", "4294967297", "32-bit range"});
    const std::string d = dir.write("dec.json", head + "\"src_kps\": [[1, 2]], \"trg_kps\": [[4294967297.0, -2]]\n}\n");
    EXPECT_FLOAT_EQ(loadSPairAnnotation(d, dir.path()).targetKeypoints[0].x, 4294967297.f);
}

TEST(Semflow_Benchmark_Loaders, spairLayoutErrorsNameFileAndLine)
{
    TempDir dir;
    dir.write("Layout/large/test.txt", "000001-a-b:cat\nnot a pair name\n");
    const std::string layout = dir.path() + "/Layout/large/test.txt";
    // line 1 refers to an annotation that does not exist
    expectThrowsWith([&] { loadSPairPairs(dir.path(), "test"); },
                     {layout + ":1", "PairAnnotation/test/000001-a-b:cat.json", "does not exist"});
    dir.write("PairAnnotation/test/000001-a-b:cat.json",
              "{\"src_imname\": \"a.jpg\", \"trg_imname\": \"b.jpg\", \"category\": \"cat\",\n"
              "\"src_bndbox\": [0, 0, 10, 10], \"trg_bndbox\": [0, 0, 10, 10],\n"
              "\"src_kps\": [[1, 2]], \"trg_kps\": [[1, 2]]}\n");
    expectThrowsWith([&] { loadSPairPairs(dir.path(), "test"); }, {layout + ":2", "not a pair name"});
    expectThrowsWith([&] { loadSPairPairs(dir.path(), "val"); }, {"cannot open", "Layout/large/val.txt"});
}

}  // namespace
}  // namespace opencv_test
