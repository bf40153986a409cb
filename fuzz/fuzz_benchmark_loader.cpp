// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The benchmark annotation loaders. Built three times, with SEMFLOW_FUZZ_LOADER set to
// 1 (PF-PASCAL CSV), 2 (PF-WILLOW CSV) or 3 (SPair-71k JSON): each must return or throw
// cv::Exception, and the pairs it returns must be consistent.

#include "fuzz_common.hpp"

#include <opencv2/semflow/benchmark.hpp>

namespace
{
void check(const cv::semflow::KeypointPair& p)
{
    if (p.sourceKeypoints.size() != p.targetKeypoints.size() || p.valid.size() != p.sourceKeypoints.size())
        __builtin_trap();
    for (size_t i = 0; i < p.valid.size(); ++i)
        if (p.valid[i] && !(std::isfinite(p.sourceKeypoints[i].x) && std::isfinite(p.sourceKeypoints[i].y) &&
                            std::isfinite(p.targetKeypoints[i].x) && std::isfinite(p.targetKeypoints[i].y)))
            __builtin_trap();  // a keypoint marked valid must be a real position
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
#if SEMFLOW_FUZZ_LOADER == 3
    const std::string& path = semflow_fuzz::writeInput(data, size, ".json");
#else
    const std::string& path = semflow_fuzz::writeInput(data, size, ".csv");
#endif
    try
    {
#if SEMFLOW_FUZZ_LOADER == 1
        for (const auto& p : cv::semflow::loadPFPascalPairs(path, "/nonexistent"))
            check(p);
#elif SEMFLOW_FUZZ_LOADER == 2
        for (const auto& p : cv::semflow::loadPFWillowPairs(path, "/nonexistent"))
            check(p);
#else
        check(cv::semflow::loadSPairAnnotation(path, "/nonexistent"));
#endif
    }
    catch (const cv::Exception&)
    {
    }
    return 0;
}
