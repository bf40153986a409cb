// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// SFNet's border protocol (src/border_protocol.hpp) against values computed by hand.

#include "test_precomp.hpp"

#include "../src/border_protocol.hpp"

namespace opencv_test { namespace {

using namespace cv::semflow::detail;

TEST(Semflow_BorderProtocol, upsample_align_corners_hand_computed)
{
    // 2x2 -> 3x3: corners copied, edge midpoints are means of two, the centre of four.
    const Mat src = Mat({2, 2}, {0.f, 4.f, 8.f, 16.f});
    Mat dst;
    upsampleAlignCorners(src, Size(3, 3), dst);
    const Mat expected = Mat({3, 3}, {0.f, 2.f, 4.f, 4.f, 7.f, 10.f, 8.f, 12.f, 16.f});
    EXPECT_EQ(cv::norm(dst, expected, NORM_INF), 0.0);

    // 1x3 -> 1x5 (a row): sample positions 0, 0.5, 1, 1.5, 2.
    const Mat row = Mat({1, 3}, {1.f, 3.f, -1.f});
    upsampleAlignCorners(row, Size(5, 1), dst);
    const Mat rowExpected = Mat({1, 5}, {1.f, 2.f, 3.f, 1.f, -1.f});
    EXPECT_EQ(cv::norm(dst, rowExpected, NORM_INF), 0.0);

    // To a single pixel: the first sample (align_corners maps 0 to 0).
    upsampleAlignCorners(src, Size(1, 1), dst);
    EXPECT_EQ(dst.at<float>(0, 0), 0.f);
}

TEST(Semflow_BorderProtocol, grid_to_flow_without_padding)
{
    // A 2x2 grid whose every cell points at target (x, y) = (1, -1) in normalised
    // coordinates: for a 5x3 target that is pixel (4, 0), so flow(p) = (4, 0) - p.
    const float grid[8] = {1.f, 1.f, 1.f, 1.f, -1.f, -1.f, -1.f, -1.f};
    Mat flow;
    gridToFlow(grid, 2, 2, false, Size(4, 2), Size(5, 3), flow);
    ASSERT_EQ(flow.type(), CV_32FC2);
    ASSERT_EQ(flow.size(), Size(4, 2));
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++)
        {
            EXPECT_FLOAT_EQ(flow.at<Point2f>(y, x).x, 4.f - x);
            EXPECT_FLOAT_EQ(flow.at<Point2f>(y, x).y, 0.f - y);
        }
    // The identity grid of a 3x3 grid onto an image of the same size: zero flow.
    const float id[18] = {-1, 0, 1, -1, 0, 1, -1, 0, 1, -1, -1, -1, 0, 0, 0, 1, 1, 1};
    gridToFlow(id, 3, 3, false, Size(7, 5), Size(7, 5), flow);
    EXPECT_LE(cv::norm(flow, NORM_INF), 1e-5);
}

TEST(Semflow_BorderProtocol, grid_to_flow_drops_the_border_ring_and_rescales)
{
    // 4x4 grid: only the inner 2x2 counts; it is scaled by 4/2 = 2. Inner x values
    // -0.25 / 0.25 (left / right column) become -0.5 / 0.5; y values 0.1 / 0.3 become 0.2 / 0.6.
    // The outer ring holds 9 so that any use of it shows.
    float grid[32];
    for (float& v : grid) v = 9.f;
    for (int y = 1; y <= 2; y++)
        for (int x = 1; x <= 2; x++)
        {
            grid[y * 4 + x] = x == 1 ? -0.25f : 0.25f;
            grid[16 + y * 4 + x] = y == 1 ? 0.1f : 0.3f;
        }
    Mat flow;
    // Query 3x3: the 2x2 inner grid upsampled with align_corners (middle = mean).
    // Target 11x21: x_t = (g + 1) * 5, y_t = (g + 1) * 10.
    gridToFlow(grid, 4, 4, true, Size(3, 3), Size(11, 21), flow);
    const float gx[3] = {-0.5f, 0.f, 0.5f}, gy[3] = {0.2f, 0.4f, 0.6f};
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++)
        {
            EXPECT_NEAR(flow.at<Point2f>(y, x).x, (gx[x] + 1) * 5 - x, 1e-5) << x << "," << y;
            EXPECT_NEAR(flow.at<Point2f>(y, x).y, (gy[y] + 1) * 10 - y, 1e-5) << x << "," << y;
        }
}

TEST(Semflow_BorderProtocol, preprocess_resizes_pads_and_converts_to_rgb)
{
    // A uniform BGR image (10, 20, 30): resized to 128 - 32 = 96 and padded by 16 zeros.
    const Mat img(40, 60, CV_8UC3, Scalar(10, 20, 30));
    const Mat in = preprocessImage(img, Size(128, 128), true, "source");
    ASSERT_EQ(in.type(), CV_32FC3);
    ASSERT_EQ(in.size(), Size(128, 128));
    EXPECT_EQ(cv::norm(in(Rect(0, 0, 128, 16)), NORM_INF), 0.0);    // top border
    EXPECT_EQ(cv::norm(in(Rect(0, 112, 128, 16)), NORM_INF), 0.0);  // bottom
    EXPECT_EQ(cv::norm(in(Rect(0, 0, 16, 128)), NORM_INF), 0.0);    // left
    EXPECT_EQ(cv::norm(in(Rect(112, 0, 16, 128)), NORM_INF), 0.0);  // right
    const Mat content = in(Rect(16, 16, 96, 96));
    Mat diff;
    absdiff(content, Scalar(30 / 255., 20 / 255., 10 / 255.), diff);  // RGB order, [0, 1]
    EXPECT_LE(cv::norm(diff, NORM_INF), 1e-6);

    // Without padding: the full input size; gray and BGRA give the same RGB.
    const Mat gray(50, 50, CV_8UC1, Scalar(51));
    Mat g = preprocessImage(gray, Size(64, 96), false, "target");
    ASSERT_EQ(g.size(), Size(64, 96));
    absdiff(g, Scalar::all(0.2), diff);
    EXPECT_LE(cv::norm(diff, NORM_INF), 1e-6);
    Mat bgra(50, 50, CV_8UC4, Scalar(10, 20, 30, 0));
    Mat a = preprocessImage(bgra, Size(64, 64), false, "target");
    absdiff(a, Scalar(30 / 255., 20 / 255., 10 / 255.), diff);
    EXPECT_LE(cv::norm(diff, NORM_INF), 1e-6);

    // An image already at the content size is not resampled: pixels land 16 px in.
    Mat ramp(96, 96, CV_8UC1);
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 96; x++)
            ramp.at<uchar>(y, x) = (uchar)(x + y);
    const Mat r = preprocessImage(ramp, Size(128, 128), true, "source");
    EXPECT_FLOAT_EQ(r.at<Vec3f>(16 + 5, 16 + 7)[0], 12 / 255.f);
    EXPECT_FLOAT_EQ(r.at<Vec3f>(16 + 95, 16 + 90)[2], 185 / 255.f);

    SEMFLOW_EXPECT_THROW_MSG(preprocessImage(Mat(), Size(64, 64), false, "target #2"), "target #2 image is empty");
}

}}  // namespace
