// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Built with an opencv2/opencv_modules.hpp that lacks HAVE_OPENCV_IMGCODECS, together with
// the module's benchmark_pck.cpp compiled the same way: the fallback of an OpenCV without
// imgcodecs compiles, and evaluateBenchmark says why it cannot run instead of reading images.

#include <cstdio>
#include <string>

#include "opencv2/core.hpp"
#include "opencv2/semflow/benchmark.hpp"

#ifdef HAVE_OPENCV_IMGCODECS
#error "this check must be compiled without HAVE_OPENCV_IMGCODECS"
#endif

int main()
{
    cv::semflow::KeypointPair pair;
    pair.sourceImage = "/nonexistent/source.png";  // would be "cannot read" with imgcodecs
    pair.targetImage = "/nonexistent/target.png";
    pair.sourceKeypoints.push_back(cv::Point2f(1.f, 1.f));
    pair.targetKeypoints.push_back(cv::Point2f(1.f, 1.f));
    pair.valid.push_back(1);
    cv::semflow::PCKProtocol protocol;
    cv::semflow::FlowFunction zero = [](const cv::Mat& a, const cv::Mat&, cv::Mat& flow) {
        flow = cv::Mat::zeros(a.size(), CV_32FC2);
    };
    try
    {
        cv::semflow::evaluateBenchmark(std::vector<cv::semflow::KeypointPair>(1, pair), zero, protocol, "check");
    }
    catch (const cv::Exception& e)
    {
        std::printf("code %d: %s\n", e.code, e.err.c_str());
        return e.code == cv::Error::StsNotImplemented ? 0 : 1;
    }
    std::printf("error: evaluateBenchmark did not throw\n");
    return 1;
}
