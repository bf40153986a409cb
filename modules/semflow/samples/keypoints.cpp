// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Keypoint transfer with cv::SemanticFlow: points annotated on the source image are carried
// to the target image through the source-to-target flow, printed and drawn.
//
//   ./build/samples/semflow_keypoints                   # bundled pair, points on its animal
//   ./build/samples/semflow_keypoints a.jpg b.jpg --points="120,80;200,95" --model=m.onnx
//
// Built as semflow_keypoints by the repository's standalone build, as example_semflow_keypoints
// in an OpenCV source tree. Defaults are found with cv::samples::findFile (the bundled data of
// the standalone build, or OPENCV_SAMPLES_DATA_PATH/semflow/).

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/core/utils/logger.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"
#include "opencv2/semflow.hpp"
#include "semflow_sample_utils.hpp"

using namespace cv;

namespace {

const char* const kKeys =
    "{help h  |                                    | print this help }"
    "{@source | demo/source.png                    | source image (the annotated one) }"
    "{@target | demo/target.png                    | target image }"
    "{model m | models/semflow_tiny.onnx           | SFNet ONNX model }"
    "{points p|                                    | source points 'x,y;x,y;...' (default: the bundled source's parts) }"
    "{out o   | semflow_keypoints.png              | output picture }";

// Parts of the animal in the bundled demo/source.png (from make_demo_images.cpp).
const std::vector<std::pair<std::string, Point2f>> kDemoPoints = {
    {"nose", Point2f(281, 89)},      {"eye", Point2f(250, 76)},        {"left ear", Point2f(217, 38)},
    {"right ear", Point2f(265, 35)}, {"tail tip", Point2f(31, 85)},    {"front foot", Point2f(211, 214)},
    {"back foot", Point2f(102, 222)}, {"body", Point2f(150, 140)}};

}  // namespace

int main(int argc, char** argv)
{
    CommandLineParser parser(argc, argv, kKeys);
    semflow_samples::PairInputs in;
    if (!semflow_samples::startPairSample(parser, "Transfers keypoints from a source image to a target image with semantic flow.", in))
        return 0;
    const std::string &sourcePath = in.source, &targetPath = in.target, &modelPath = in.model;
    const std::string outPath = parser.get<std::string>("out");
    const std::string pointText = parser.get<std::string>("points");
    if (!parser.check())
    {
        parser.printErrors();
        return 2;
    }
    std::vector<Point2f> points;
    std::vector<std::string> names;
    if (pointText.empty())
        for (const auto& np : kDemoPoints)
        {
            names.push_back(np.first);
            points.push_back(np.second);
        }
    else
    {
        std::string why;
        if (!semflow_samples::parsePointList(pointText, points, why))
        {
            std::cerr << "error: --points must look like 'x,y;x,y', got '" << pointText << "': " << why << "\n";
            return 2;
        }
    }
    names.resize(points.size());

    const Mat source = imread(sourcePath, IMREAD_COLOR), target = imread(targetPath, IMREAD_COLOR);
    if (source.empty() || target.empty())
    {
        std::cerr << "error: cannot read image '" << (source.empty() ? sourcePath : targetPath)
                  << "' (missing or not an image)\n";
        return 1;
    }
    for (const Point2f& p : points)
        if (p.x < 0 || p.y < 0 || p.x > source.cols || p.y > source.rows)
        {
            std::cerr << "error: point (" << p.x << ", " << p.y << ") is outside the " << source.cols << "x"
                      << source.rows << " source image\n";
            return 2;
        }

    std::vector<Point2f> transferred;
    try
    {
        Ptr<SemanticFlow> sf;
        {
            // The importer warns once per custom node it hands to our layers: expected, so quiet.
            semflow_samples::ScopedLogLevel quiet(utils::logging::LOG_LEVEL_ERROR);
            sf = SemanticFlow::create(modelPath);
        }
        CV_LOG_INFO(NULL, "semflow_keypoints: loaded " << modelPath);
        Mat flow;
        sf->calc(source, target, flow);
        semflow::transferKeypoints(points, flow, transferred);
    }
    catch (const cv::Exception& e)
    {
        std::cerr << "error: " << e.err << "\n";
        return 1;
    }

    Mat canvas(std::max(source.rows, target.rows), source.cols + target.cols, CV_8UC3, Scalar::all(0));
    source.copyTo(canvas(Rect(0, 0, source.cols, source.rows)));
    target.copyTo(canvas(Rect(source.cols, 0, target.cols, target.rows)));
    for (size_t k = 0; k < points.size(); k++)
    {
        const Scalar color = Scalar(255 * (k % 3 == 0), 255 * (k % 3 == 1), 255) * (0.6 + 0.4 * (k % 2));
        const Point2f q = transferred[k] + Point2f((float)source.cols, 0.f);
        circle(canvas, points[k], 5, color, 2, LINE_AA);
        drawMarker(canvas, q, color, MARKER_CROSS, 12, 2, LINE_AA);
        std::printf("%-10s (%6.1f, %6.1f) -> (%6.1f, %6.1f)\n", names[k].empty() ? "point" : names[k].c_str(),
                    points[k].x, points[k].y, transferred[k].x, transferred[k].y);
    }
    bool written = false;
    try
    {
        written = imwrite(outPath, canvas);
    }
    catch (const cv::Exception& e)  // e.g. an extension no codec handles
    {
        std::cerr << "error: cannot write " << outPath << ": " << e.err << "\n";
        return 1;
    }
    if (!written)
    {
        std::cerr << "error: cannot write " << outPath << "\n";
        return 1;
    }
    std::cout << "wrote " << outPath << "\n";
    return 0;
}
