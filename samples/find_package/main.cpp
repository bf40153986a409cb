// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The smallest program built against an installed semflow (find_package(semflow)):
// semantic flow between two images, and the keypoint at the source's centre carried over.
//
//   semflow_downstream model.onnx source.png target.png

#include <cmath>
#include <cstdio>
#include <vector>

#include "opencv2/imgcodecs.hpp"
#include "opencv2/semflow.hpp"

int main(int argc, char** argv)
{
    if (argc != 4)
    {
        std::fprintf(stderr, "usage: %s model.onnx source.png target.png\n", argv[0]);
        return 2;
    }
    try
    {
        const cv::Mat source = cv::imread(argv[2]), target = cv::imread(argv[3]);
        if (source.empty() || target.empty())
        {
            std::fprintf(stderr, "error: cannot read %s\n", source.empty() ? argv[2] : argv[3]);
            return 1;
        }
        cv::Ptr<cv::SemanticFlow> sf = cv::SemanticFlow::create(argv[1]);
        cv::Mat flow;
        sf->calc(source, target, flow);
        if (flow.type() != CV_32FC2 || flow.size() != source.size() || !cv::checkRange(flow))
        {
            std::fprintf(stderr, "error: expected a finite CV_32FC2 flow of the source's size\n");
            return 1;
        }
        std::vector<cv::Point2f> from(1, cv::Point2f(source.cols / 2.f, source.rows / 2.f)), to;
        cv::semflow::transferKeypoints(from, flow, to);
        std::printf("flow %dx%d; (%.1f, %.1f) -> (%.1f, %.1f)\n", flow.cols, flow.rows, from[0].x, from[0].y,
                    to[0].x, to[0].y);
    }
    catch (const cv::Exception& e)
    {
        std::fprintf(stderr, "error: %s\n", e.err.c_str());
        return 1;
    }
    return 0;
}
