// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The flow utilities against hand-computed results.

#include "test_precomp.hpp"

#include <cstring>
#include <limits>

#include "opencv2/imgproc.hpp"

namespace opencv_test { namespace {

Mat constantFlow(Size size, float dx, float dy)
{
    return Mat(size, CV_32FC2, Scalar(dx, dy));
}

TEST(Semflow_FlowUtils, warp_image_samples_at_p_plus_flow)
{
    Mat img(6, 8, CV_8UC1);
    for (int y = 0; y < img.rows; y++)
        for (int x = 0; x < img.cols; x++)
            img.at<uchar>(y, x) = (uchar)(10 * x + 3 * y);
    Mat dst;
    semflow::warpImage(img, constantFlow(Size(5, 4), 2.f, 1.f), dst);
    ASSERT_EQ(dst.size(), Size(5, 4));
    ASSERT_EQ(dst.type(), CV_8UC1);
    for (int y = 0; y < dst.rows; y++)
        for (int x = 0; x < dst.cols; x++)
            EXPECT_EQ(dst.at<uchar>(y, x), img.at<uchar>(y + 1, x + 2)) << x << "," << y;

    // Half a pixel to the right: the mean of two neighbours (10 apart), exact in remap's
    // 1/32 fixed point; beyond the right edge the constant border (0) blends in.
    semflow::warpImage(img, constantFlow(img.size(), 0.5f, 0.f), dst);
    EXPECT_EQ(dst.at<uchar>(2, 3), 10 * 3 + 5 + 6);
    EXPECT_EQ(dst.at<uchar>(2, 7), (10 * 7 + 6) / 2);

    // Out of view with BORDER_CONSTANT: the border value.
    semflow::warpImage(img, constantFlow(img.size(), -100.f, 0.f), dst, INTER_LINEAR, BORDER_CONSTANT, Scalar(77));
    EXPECT_EQ(cv::countNonZero(dst != 77), 0);
}

TEST(Semflow_FlowUtils, warp_labels_is_nearest_and_never_blends)
{
    Mat labels(5, 5, CV_32SC1);
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 5; x++)
            labels.at<int>(y, x) = 100000 * y + x;  // values no float blend would keep exact
    Mat flow = constantFlow(labels.size(), 0.4f, -0.6f);  // rounds to (+0, -1)
    flow.at<Point2f>(2, 2) = Point2f(std::numeric_limits<float>::quiet_NaN(), 0.f);
    Mat dst;
    semflow::warpLabels(labels, flow, dst, -1);
    ASSERT_EQ(dst.type(), CV_32SC1);
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 5; x++)
        {
            int expected = y == 0 ? -1 : labels.at<int>(y - 1, x);
            if (x == 2 && y == 2)
                expected = -1;
            EXPECT_EQ(dst.at<int>(y, x), expected) << x << "," << y;
        }
    SEMFLOW_EXPECT_THROW_MSG(semflow::warpLabels(Mat(5, 5, CV_32FC1), flow, dst), "got CV_32FC1");
    SEMFLOW_EXPECT_THROW_MSG(semflow::warpLabels(labels, Mat(5, 5, CV_32FC1), dst), "expected a 2-D CV_32FC2 flow");
}

TEST(Semflow_FlowUtils, transfer_keypoints_samples_the_flow_bilinearly)
{
    // A linear flow field: bilinear sampling reproduces it exactly between pixels.
    Mat flow(20, 30, CV_32FC2);
    for (int y = 0; y < flow.rows; y++)
        for (int x = 0; x < flow.cols; x++)
            flow.at<Point2f>(y, x) = Point2f(0.5f * x + 1.f, -0.25f * y);
    std::vector<Point2f> pts = {Point2f(3.25f, 7.5f), Point2f(0.f, 0.f), Point2f(28.9f, 18.1f)}, out;
    semflow::transferKeypoints(pts, flow, out);
    ASSERT_EQ(out.size(), pts.size());
    for (size_t k = 0; k < pts.size(); k++)
    {
        EXPECT_NEAR(out[k].x, pts[k].x + 0.5f * pts[k].x + 1.f, 1e-5);
        EXPECT_NEAR(out[k].y, pts[k].y - 0.25f * pts[k].y, 1e-5);
    }
    // On the right/bottom edge (x = width): the flow is read at the last column/row.
    semflow::transferKeypoints({Point2f(30.f, 20.f)}, flow, out);
    EXPECT_NEAR(out[0].x, 30.f + 0.5f * 29 + 1.f, 1e-5);
    EXPECT_NEAR(out[0].y, 20.f - 0.25f * 19, 1e-5);

    SEMFLOW_EXPECT_THROW_MSG(semflow::transferKeypoints({Point2f(std::nanf(""), 1.f)}, flow, out), "point 0 is not finite");
    SEMFLOW_EXPECT_THROW_MSG(semflow::transferKeypoints(pts, Mat(), out), "flow is empty");
}

TEST(Semflow_FlowUtils, transfer_keypoints_takes_points_as_arrays_of_any_depth)
{
    // The array form must give exactly what the vector form gives for the same points.
    Mat flow(20, 30, CV_32FC2);
    for (int y = 0; y < flow.rows; y++)
        for (int x = 0; x < flow.cols; x++)
            flow.at<Point2f>(y, x) = Point2f(0.5f * x + 1.f, -0.25f * y);
    const std::vector<Point2f> pts = {Point2f(3.f, 7.f), Point2f(0.f, 0.f), Point2f(28.f, 18.f)};
    std::vector<Point2f> expected, out;
    semflow::transferKeypoints(pts, flow, expected);

    const Mat twoColumns = Mat(pts).reshape(1, 3);  // 3 x 2, CV_32F: NumPy's (N, 2)
    for (int depth : {CV_8U, CV_16S, CV_32S, CV_32F, CV_64F})
    {
        Mat p;
        twoColumns.convertTo(p, depth);
        semflow::transferKeypoints(p, flow, out);
        ASSERT_EQ(out.size(), pts.size()) << depth;
        for (size_t k = 0; k < pts.size(); k++)
            EXPECT_EQ(out[k], expected[k]) << depth << " " << k;
    }
    semflow::transferKeypoints(Mat(pts), flow, out);  // 3 x 1 CV_32FC2: NumPy's (N, 1, 2)
    EXPECT_EQ(out, expected);
    semflow::transferKeypoints(Mat(pts).t(), flow, out);  // 1 x 3 CV_32FC2
    EXPECT_EQ(out, expected);
    Mat wide(3, 5, CV_64F, Scalar(-1));  // not continuous: columns 1..2 of a wider array
    twoColumns.convertTo(wide.colRange(1, 3), CV_64F);
    semflow::transferKeypoints(wide.colRange(1, 3), flow, out);
    EXPECT_EQ(out, expected);
    semflow::transferKeypoints(Mat(0, 2, CV_64F), flow, out);
    EXPECT_TRUE(out.empty());

    SEMFLOW_EXPECT_THROW_MSG(semflow::transferKeypoints(Mat(3, 3, CV_32F), flow, out),
                             "points must be N points: an (N, 2) or (N, 1, 2) array, or a vector of Point2f; "
                             "got 2 dims, 3 x 3, CV_32FC1");
    SEMFLOW_EXPECT_THROW_MSG(semflow::transferKeypoints(Mat(2, 2, CV_32FC2), flow, out), "got 2 dims, 2 x 2, CV_32FC2");
    Mat nan = twoColumns.clone();
    nan.at<float>(1, 1) = std::nanf("");
    SEMFLOW_EXPECT_THROW_MSG(semflow::transferKeypoints(nan, flow, out), "point 1 is not finite");
}

TEST(Semflow_FlowUtils, transfer_mask_moves_the_mask_with_the_flow)
{
    Mat mask(10, 12, CV_8UC1, Scalar(0));
    mask(Rect(4, 3, 5, 4)).setTo(1);  // nonzero = foreground, any value
    Mat dst;
    semflow::transferMask(mask, constantFlow(mask.size(), 3.f, 2.f), dst);
    ASSERT_EQ(dst.type(), CV_8UC1);
    Mat expected(mask.size(), CV_8UC1, Scalar(0));
    expected(Rect(1, 1, 5, 4)).setTo(255);
    EXPECT_EQ(cv::norm(dst, expected, NORM_INF), 0);

    // Half a pixel: the edge column sits at exactly 0.5 and counts as foreground, so the
    // rectangle grows by one column on the left.
    semflow::transferMask(mask, constantFlow(mask.size(), 0.5f, 0.f), dst);
    expected.setTo(0);
    expected(Rect(3, 3, 6, 4)).setTo(255);
    EXPECT_EQ(cv::norm(dst, expected, NORM_INF), 0);

    SEMFLOW_EXPECT_THROW_MSG(semflow::transferMask(Mat(10, 12, CV_8UC3), constantFlow(mask.size(), 0, 0), dst),
                             "expected a non-empty CV_8UC1 mask, got CV_8UC3");
}

TEST(Semflow_FlowUtils, flow_to_color_follows_the_middlebury_wheel)
{
    Mat flow(1, 6, CV_32FC2);
    flow.at<Point2f>(0, 0) = Point2f(0, 0);        // white
    flow.at<Point2f>(0, 1) = Point2f(4, 0);        // right, full length: wheel colour 0, red
    flow.at<Point2f>(0, 2) = Point2f(0, 4);        // down: between wheel colours 13 and 14
    flow.at<Point2f>(0, 3) = Point2f(2, 0);        // right, half length: half-saturated red
    flow.at<Point2f>(0, 4) = Point2f(8, 0);        // longer than maxMotion: darkened (x0.75)
    flow.at<Point2f>(0, 5) = Point2f(std::nanf(""), 0);  // not finite: black
    Mat color;
    semflow::flowToColor(flow, color, 4.f);
    ASSERT_EQ(color.type(), CV_8UC3);
    EXPECT_EQ(color.at<Vec3b>(0, 0), Vec3b(255, 255, 255));
    EXPECT_EQ(color.at<Vec3b>(0, 1), Vec3b(0, 0, 255));
    // fk = 0.25 * 55 = 13.75: G = 0.25 * floor(255*13/15) + 0.75 * floor(255*14/15) = 233.75.
    EXPECT_EQ(color.at<Vec3b>(0, 2), Vec3b(0, 234, 255));
    EXPECT_EQ(color.at<Vec3b>(0, 3), Vec3b(128, 128, 255));
    EXPECT_EQ(color.at<Vec3b>(0, 4), Vec3b(0, 0, 191));
    EXPECT_EQ(color.at<Vec3b>(0, 5), Vec3b(0, 0, 0));

    // Automatic scale: the longest finite vector (8) is the full length.
    semflow::flowToColor(flow, color);
    EXPECT_EQ(color.at<Vec3b>(0, 4), Vec3b(0, 0, 255));
    EXPECT_EQ(color.at<Vec3b>(0, 3), Vec3b(191, 191, 255));  // 1 - 0.25 * 1 = 0.75
}

TEST(Semflow_FlowUtils, draw_flow_matches_puts_images_side_by_side_with_lines)
{
    Mat source(30, 40, CV_8UC1, Scalar(0)), target(40, 50, CV_8UC3, Scalar(200, 200, 200));
    Mat flow = constantFlow(source.size(), 5.f, 3.f);
    Mat plain;
    semflow::drawFlowMatches(source, target, flow, plain, 20, Mat(source.size(), CV_8UC1, Scalar(0)));
    ASSERT_EQ(plain.size(), Size(90, 40));
    ASSERT_EQ(plain.type(), CV_8UC3);
    // An all-zero mask draws no match: exactly the two images on black.
    Mat expected(40, 90, CV_8UC3, Scalar::all(0));
    target.copyTo(expected(Rect(40, 0, 50, 40)));
    EXPECT_EQ(cv::norm(plain, expected, NORM_INF), 0);

    Mat pic;
    semflow::drawFlowMatches(source, target, flow, pic, 20);
    // Matches at (10,10) and (30,10) go to (55,13) and (75,13) on the canvas: the midpoint
    // of the first line, on the black source, is coloured; far from the lines nothing changed.
    double onLine = 0;
    for (int y = 10; y <= 13; y++)
        onLine = std::max(onLine, cv::norm(pic.at<Vec3b>(y, 32), NORM_INF));
    EXPECT_GT(onLine, 100);
    EXPECT_EQ(pic.at<Vec3b>(35, 20), Vec3b(0, 0, 0));
    EXPECT_EQ(pic.at<Vec3b>(35, 80), Vec3b(200, 200, 200));
    EXPECT_NE(pic.at<Vec3b>(13, 55), Vec3b(200, 200, 200));

    SEMFLOW_EXPECT_THROW_MSG(semflow::drawFlowMatches(source, target, constantFlow(Size(4, 4), 0, 0), pic),
                             "must have the source's size");
    SEMFLOW_EXPECT_THROW_MSG(semflow::drawFlowMatches(source, target, flow, pic, 0), "step must be >= 1");
    SEMFLOW_EXPECT_THROW_MSG(semflow::drawFlowMatches(Mat(30, 40, CV_32FC1), target, flow, pic),
                             "8-bit source image");
}

TEST(Semflow_FlowUtils, in_place_calls_match_out_of_place_ones)
{
    // dst aliasing the input must not let already-written output pixels be read back.
    Mat labels(9, 11, CV_8UC1), mask(9, 11, CV_8UC1);
    RNG rng(12);
    rng.fill(labels, RNG::UNIFORM, 0, 5);
    rng.fill(mask, RNG::UNIFORM, 0, 2);
    mask *= 255;
    Mat flow(9, 11, CV_32FC2, Scalar(1.6f, -0.7f));
    Mat expectLabels, expectMask;
    semflow::warpLabels(labels, flow, expectLabels, 7);
    semflow::transferMask(mask, flow, expectMask);
    semflow::warpLabels(labels, flow, labels, 7);
    semflow::transferMask(mask, flow, mask);
    EXPECT_EQ(cv::norm(labels, expectLabels, NORM_INF), 0);
    EXPECT_EQ(cv::norm(mask, expectMask, NORM_INF), 0);
}

// resizeAntialiased against PIL itself: test_data/semflow/resize/pil_bilinear.yml holds random
// images and what Pillow's Image.resize(size, BILINEAR) made of them (make_pil_reference.py).
// Float ("F" mode): PIL keeps its intermediate row pass in float32 where we keep double, so
// the two differ by float rounding only: bound 1e-6 on values in [0, 1]. 8-bit ("RGB" mode):
// the same fixed-point arithmetic as PIL, so exactly equal.
TEST(Semflow_ResizeAntialiased, matches_pil_bilinear)
{
    SEMFLOW_REQUIRE_TEST_DATA("resize/pil_bilinear.yml");
    FileStorage fs(semflowTestData("resize/pil_bilinear.yml"), FileStorage::READ);
    ASSERT_TRUE(fs.isOpened());
    const int cases = (int)fs["cases"];
    ASSERT_GE(cases, 5);
    for (int k = 0; k < cases; k++)
    {
        Mat in8, out8, inf, outf;
        fs[format("in8_%d", k)] >> in8;
        fs[format("out8_%d", k)] >> out8;
        fs[format("inf_%d", k)] >> inf;
        fs[format("outf_%d", k)] >> outf;
        ASSERT_EQ(in8.type(), CV_8UC3);
        ASSERT_EQ(inf.type(), CV_32FC1);

        Mat r8, rf;
        semflow::resizeAntialiased(in8, r8, out8.size());
        semflow::resizeAntialiased(inf, rf, outf.size());
        ASSERT_EQ(r8.type(), CV_8UC3);
        ASSERT_EQ(r8.size(), out8.size());
        ASSERT_EQ(rf.type(), CV_32FC1);
        EXPECT_LE(cv::norm(rf, outf, NORM_INF), 1e-6) << "case " << k;

        EXPECT_EQ(cv::norm(r8, out8, NORM_INF), 0.0) << "case " << k;
    }
}

// Hand-computed: a row 0 1 2 3 halved. Scale 2, so the triangle is 2 pixels wide each side:
// output 0 is centred at 1.0 and weighs input pixels 0, 1, 2 (centres 0.5, 1.5, 2.5) by
// 1 - |d| / 2 = 0.75, 0.75, 0.25 (sum 1.75): (0 + 0.75 + 0.5) / 1.75 = 5/7; output 1 (centre 3)
// weighs pixels 1, 2, 3 by 0.25, 0.75, 0.75: (0.25 + 1.5 + 2.25) / 1.75 = 16/7. Each channel on
// its own, so a 3-channel image gives the same in every channel, and resizing in place works.
TEST(Semflow_ResizeAntialiased, hand_computed_halving)
{
    Mat row = Mat({1, 4}, std::initializer_list<float>{0, 1, 2, 3});
    Mat r;
    semflow::resizeAntialiased(row, r, Size(2, 1));
    ASSERT_EQ(r.size(), Size(2, 1));
    EXPECT_NEAR(r.at<float>(0, 0), 5.0 / 7.0, 1e-6);
    EXPECT_NEAR(r.at<float>(0, 1), 16.0 / 7.0, 1e-6);

    Mat rgb;
    merge(std::vector<Mat>{row, row * 10, row * 100}, rgb);
    semflow::resizeAntialiased(rgb, rgb, Size(2, 1));  // in place
    ASSERT_EQ(rgb.type(), CV_32FC3);
    ASSERT_EQ(rgb.size(), Size(2, 1));
    EXPECT_NEAR(rgb.at<Vec3f>(0, 0)[1], 50.0 / 7.0, 1e-5);
    EXPECT_NEAR(rgb.at<Vec3f>(0, 1)[2], 1600.0 / 7.0, 1e-4);

    // 8-bit: the same weights in 22-bit fixed point (0 30 60 90 -> 150/7 = 21.4, 480/7 = 68.6).
    Mat row8 = Mat({1, 4}, std::initializer_list<uchar>{0, 30, 60, 90}), r8;
    semflow::resizeAntialiased(row8, r8, Size(2, 1));
    EXPECT_EQ((int)r8.at<uchar>(0, 0), 21);
    EXPECT_EQ((int)r8.at<uchar>(0, 1), 69);

    // The same size is the identity; enlarging a constant keeps it.
    Mat same;
    semflow::resizeAntialiased(row, same, row.size());
    EXPECT_EQ(cv::norm(same, row, NORM_INF), 0.0);
    Mat big;
    semflow::resizeAntialiased(Mat(3, 5, CV_32FC1, Scalar(0.25)), big, Size(11, 7));
    EXPECT_LE(cv::norm(big, Mat(7, 11, CV_32FC1, Scalar(0.25)), NORM_INF), 1e-7);
}

TEST(Semflow_ResizeAntialiased, bad_input_raises)
{
    Mat dst;
    EXPECT_THROW(semflow::resizeAntialiased(Mat(), dst, Size(2, 2)), cv::Exception);
    EXPECT_THROW(semflow::resizeAntialiased(Mat(4, 4, CV_16UC1, Scalar(1)), dst, Size(2, 2)), cv::Exception);
    EXPECT_THROW(semflow::resizeAntialiased(Mat(4, 4, CV_64FC1, Scalar(1)), dst, Size(2, 2)), cv::Exception);
    Mat five(4, 4, CV_8UC(5));  // a Scalar cannot fill 5 channels: zero the bytes instead
    std::memset(five.data, 0, five.total() * five.elemSize());
    SEMFLOW_EXPECT_THROW_MSG(semflow::resizeAntialiased(five, dst, Size(2, 2)), "1 to 4 channels");
    EXPECT_THROW(semflow::resizeAntialiased(Mat(4, 4, CV_8UC1, Scalar(1)), dst, Size(0, 2)), cv::Exception);
    EXPECT_THROW(semflow::resizeAntialiased(Mat(4, 4, CV_8UC1, Scalar(1)), dst, Size(2, -1)), cv::Exception);
    EXPECT_THROW(semflow::resizeAntialiased(Mat(4, 4, CV_8UC1, Scalar(1)), dst, Size(40000, 2)), cv::Exception);
    EXPECT_THROW(semflow::resizeAntialiased(Mat(4, 4, CV_8UC1, Scalar(1)), dst, Size(20000, 20000)), cv::Exception);
    // Within the bounds at both ends, but the horizontal pass would be 30000 x 30000 pixels.
    SEMFLOW_EXPECT_THROW_MSG(semflow::resizeAntialiased(Mat(30000, 2, CV_8UC1, Scalar(1)), dst, Size(30000, 2)),
                             "needs an intermediate image of 30000 x 30000");
    try
    {
        semflow::resizeAntialiased(Mat(4, 4, CV_16UC1, Scalar(1)), dst, Size(2, 2));
    }
    catch (const cv::Exception& e)
    {
        EXPECT_NE(std::string(e.what()).find("CV_16UC1"), std::string::npos) << e.what();
    }
}

}}  // namespace
