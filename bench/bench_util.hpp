// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Helpers shared by the benchmark programs (no LibTorch: bench_sfnet_pair must not link it).
#ifndef SEMFLOW_BENCH_UTIL_HPP
#define SEMFLOW_BENCH_UTIL_HPP

#include <sys/resource.h>

#include "opencv2/core.hpp"
#include "opencv2/imgproc.hpp"

namespace semflow_bench {

//! The process's peak resident set so far, in MB (getrusage ru_maxrss).
inline double peakRssMB()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // Linux reports kilobytes
}

//! A textured 8-bit BGR image (the content does not change the cost).
inline cv::Mat testImage(int side, uint64 seed)
{
    cv::Mat img(side, side, CV_8UC3);
    cv::RNG rng(seed);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    cv::GaussianBlur(img, img, cv::Size(7, 7), 2);
    return img;
}

}  // namespace semflow_bench

#endif
