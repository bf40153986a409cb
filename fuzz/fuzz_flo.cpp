// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// .flo files (Middlebury optical flow) through semflow::readFlow (its checks, then
// cv::readOpticalFlow), then the flow utilities on whatever it returns.

#include "fuzz_common.hpp"

#include <cstring>

#include <opencv2/semflow/flow_utils.hpp>
#include <opencv2/video.hpp>

#include "flow_io.hpp"  // semflow::readFlow: internal, from the module's src/

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string& path = semflow_fuzz::writeInput(data, size, ".flo");
    try
    {
        const cv::Mat flow = cv::semflow::readFlow(path);
        if (flow.empty() || flow.type() != CV_32FC2)
            __builtin_trap();  // readFlow returns a flow or throws
        cv::Mat color, warped;
        cv::semflow::flowToColor(flow, color);
        cv::semflow::warpImage(cv::Mat(flow.size(), CV_8UC3, cv::Scalar(1, 2, 3)), flow, warped);
    }
    catch (const cv::Exception&)
    {
    }
    return 0;
}
