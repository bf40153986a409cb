// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// ONNX model files: the module's own protobuf pre-check, then SemanticFlow::create (OpenCV's
// importer behind the pre-check) and one calc on what loads. Anything but success or a
// cv::Exception is a finding.

#include "fuzz_common.hpp"

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/semflow.hpp>

#include "onnx_model_info.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const bool quiet = [] {
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
        return true;
    }();
    (void)quiet;
    cv::semflow::OnnxModelInfo info;
    std::string why;
    const bool parsed = cv::semflow::readOnnxModelInfo(data, size, info, why);
    if (!parsed && why.empty())
        __builtin_trap();  // a rejection must say why
    if (!parsed)
        return 0;
    const std::string& path = semflow_fuzz::writeInput(data, size, ".onnx");
    try
    {
        cv::Ptr<cv::SemanticFlow> sf = cv::SemanticFlow::create(path, cv::Size(64, 64));
        const cv::Mat a(40, 48, CV_8UC3, cv::Scalar(20, 120, 220)), b(56, 32, CV_8UC3, cv::Scalar(200, 90, 10));
        cv::Mat flow;
        sf->calc(a, b, flow);
        if (flow.type() != CV_32FC2 || flow.size() != a.size())
            __builtin_trap();
    }
    catch (const cv::Exception&)
    {
    }
    return 0;
}
