// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The flow utilities against hand-computed results.

#include "test_precomp.hpp"

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

}}  // namespace
