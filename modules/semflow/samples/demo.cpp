// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Semantic flow between two images with cv::SemanticFlow: writes the flow (.flo), its colour
// picture, the source warped into the target's frame, a match picture and an overview, and
// prints the time per pair.
//
//   ./build/samples/semflow_demo                       # bundled pair and model
//   ./build/samples/semflow_demo cat1.jpg cat2.jpg --model=sfnet_resnet101.onnx --out=out
//
// Built as semflow_demo by the repository's standalone build, as example_semflow_demo in an
// OpenCV source tree. Defaults are found with cv::samples::findFile (the bundled data of the
// standalone build, or OPENCV_SAMPLES_DATA_PATH/semflow/).

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/core/utils/filesystem.hpp"
#include "opencv2/core/utils/logger.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"
#include "opencv2/semflow.hpp"
#include "opencv2/video/tracking.hpp"
#include "semflow_sample_utils.hpp"

using namespace cv;

namespace {

const char* const kKeys =
    "{help h      |                                   | print this help }"
    "{@source     | demo/source.png                   | source image }"
    "{@target     | demo/target.png                   | target image }"
    "{model m     | models/semflow_tiny.onnx          | SFNet ONNX model (sfnet export) }"
    "{out o       | semflow_out                       | output directory (created if needed) }"
    "{size        | 320                               | network input side (multiple of 32) }"
    "{nopad       |                                   | skip SFNet's 16-px border protocol }"
    "{beta        | -1                                | soft argmax temperature (-1: the model's, 0: hard argmax) }"
    "{sigma       | -1                                | Gaussian window in feature cells (-1: the model's) }"
    "{backend     | opencv                            | opencv, cuda or cuda-fp16 (falls back to the CPU with a warning) }"
    "{runs        | 5                                 | timed runs of calc() after one warm-up run }"
    "{step        | 24                                | spacing of the drawn matches in source pixels }";

// A panel with a caption bar, scaled to `height`.
Mat panel(const Mat& img, int height, const std::string& caption)
{
    Mat bgr, scaled;
    if (img.channels() == 1)
        cvtColor(img, bgr, COLOR_GRAY2BGR);
    else
        bgr = img;
    const double s = (double)height / bgr.rows;
    resize(bgr, scaled, Size(cvRound(bgr.cols * s), height), 0, 0, INTER_AREA);
    Mat out(height + 22, scaled.cols, CV_8UC3, Scalar(40, 40, 40));
    scaled.copyTo(out(Rect(0, 22, scaled.cols, height)));
    putText(out, caption, Point(4, 16), FONT_HERSHEY_SIMPLEX, 0.45, Scalar(255, 255, 255), 1, LINE_AA);
    return out;
}

Mat row(const std::vector<Mat>& panels, int width)
{
    Mat r;
    hconcat(panels, r);
    Mat out(r.rows, width, CV_8UC3, Scalar(40, 40, 40));
    r(Rect(0, 0, std::min(width, r.cols), r.rows)).copyTo(out(Rect(0, 0, std::min(width, r.cols), r.rows)));
    return out;
}

bool write(const std::string& path, const Mat& img)
{
    if (!imwrite(path, img))
    {
        std::cerr << "error: cannot write " << path << "\n";
        return false;
    }
    std::cout << "wrote " << path << "\n";
    return true;
}

}  // namespace

int main(int argc, char** argv)
{
    CommandLineParser parser(argc, argv, kKeys);
    semflow_samples::PairInputs in;
    if (!semflow_samples::startPairSample(parser, "Dense semantic flow (SFNet) between two images of the same object category.", in))
        return 0;
    const std::string &sourcePath = in.source, &targetPath = in.target, &modelPath = in.model;
    const std::string outDir = parser.get<std::string>("out");
    const int size = parser.get<int>("size"), runs = parser.get<int>("runs"), step = parser.get<int>("step");
    const float beta = parser.get<float>("beta"), sigma = parser.get<float>("sigma");
    const std::string backendName = parser.get<std::string>("backend");
    if (!parser.check())
    {
        parser.printErrors();
        return 2;
    }
    if (runs < 1 || step < 1 ||
        (backendName != "opencv" && backendName != "cuda" && backendName != "cuda-fp16"))
    {
        std::cerr << "error: --runs and --step must be >= 1 and --backend opencv, cuda or cuda-fp16\n";
        return 2;
    }

    const Mat source = imread(sourcePath, IMREAD_COLOR), target = imread(targetPath, IMREAD_COLOR);
    if (source.empty() || target.empty())
    {
        std::cerr << "error: cannot read image '" << (source.empty() ? sourcePath : targetPath)
                  << "' (missing or not an image)\n";
        return 1;
    }

    Ptr<SemanticFlow> sf;
    try
    {
        // OpenCV's ONNX importer warns once per custom node it hands to our layers; those
        // warnings are expected, so loading runs quietly. Backend fallbacks still log.
        {
            semflow_samples::ScopedLogLevel quiet(utils::logging::LOG_LEVEL_ERROR);
            sf = SemanticFlow::create(modelPath, Size(size, size), !parser.has("nopad"), beta, sigma);
        }
        if (backendName == "cuda" || backendName == "cuda-fp16")
        {
            sf->setPreferableBackend(dnn::DNN_BACKEND_CUDA);  // pairs DNN_TARGET_CUDA implicitly
            if (backendName == "cuda-fp16")
                sf->setPreferableTarget(dnn::DNN_TARGET_CUDA_FP16);
        }
    }
    catch (const cv::Exception& e)
    {
        std::cerr << "error: " << e.err << "\n";
        return 1;
    }

    Mat flowS2T, flowT2S, confidence;
    std::vector<double> ms;
    try
    {
        sf->calcBidirectional(source, target, flowS2T, flowT2S, confidence);  // warm-up + outputs
        Mat flow;
        for (int i = 0; i < runs; i++)
        {
            const auto t0 = std::chrono::steady_clock::now();
            sf->calc(source, target, flow);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
    }
    catch (const cv::Exception& e)
    {
        std::cerr << "error: " << e.err << "\n";
        return 1;
    }
    double mean = 0, best = ms[0];
    for (double t : ms)
    {
        mean += t / ms.size();
        best = std::min(best, t);
    }
    std::printf("calc() on a %dx%d / %dx%d pair at %dx%d input: %.1f ms per pair (mean of %d runs, best %.1f ms)\n",
                source.cols, source.rows, target.cols, target.rows, size, size, mean, runs, best);

    if (!utils::fs::exists(outDir))
        utils::fs::createDirectories(outDir);
    Mat color, warped, matches, confColor, blend;
    semflow::flowToColor(flowS2T, color);
    semflow::warpImage(source, flowT2S, warped);  // target's frame, source's pixels
    semflow::drawFlowMatches(source, target, flowS2T, matches, step, confidence > 0.5f);
    confidence.convertTo(confColor, CV_8U, 255);
    applyColorMap(confColor, confColor, COLORMAP_VIRIDIS);
    addWeighted(target, 0.5, warped, 0.5, 0, blend);

    const int h = 200;
    std::vector<Mat> top = {panel(source, h, "source"), panel(target, h, "target"),
                            panel(warped, h, "source warped to target")};
    std::vector<Mat> middle = {panel(color, h, "flow source->target"), panel(confColor, h, "fwd-bwd confidence"),
                               panel(blend, h, "target + warped source")};
    int width = 0;
    for (const Mat& p : top) width += p.cols;
    int width2 = 0;
    for (const Mat& p : middle) width2 += p.cols;
    width = std::max(width, width2);
    Mat bottom = panel(matches, cvRound((double)matches.rows * width / matches.cols),
                       "matches (confidence > 0.5)");
    Mat overview;
    vconcat(std::vector<Mat>{row(top, width), row(middle, width), row({bottom}, width)}, overview);

    const std::string base = outDir + "/";
    if (!writeOpticalFlow(base + "flow.flo", flowS2T))
    {
        std::cerr << "error: cannot write " << base << "flow.flo\n";
        return 1;
    }
    std::cout << "wrote " << base << "flow.flo\n";
    if (!write(base + "flow_color.png", color) || !write(base + "warped_source.png", warped) ||
        !write(base + "matches.png", matches) || !write(base + "overview.png", overview))
        return 1;
    return 0;
}
