// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Helpers shared by the benchmark tests: fixture paths, temporary files, error checks.

#ifndef OPENCV_SEMFLOW_TEST_BENCHMARK_COMMON_HPP
#define OPENCV_SEMFLOW_TEST_BENCHMARK_COMMON_HPP

#include "test_precomp.hpp"

#include "opencv2/semflow/benchmark.hpp"
#include "opencv2/core/utils/filesystem.hpp"

#include <cstdio>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>

namespace opencv_test {
namespace {

inline std::string benchmarkData(const std::string& rel)
{
    return semflowTestData("benchmarks/" + rel);
}

inline bool fileExists(const std::string& path)
{
    return cv::utils::fs::exists(path);
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir
{
public:
    TempDir()
    {
        // cv::tempfile gives a unique name (and may create the file); the directory goes next to it.
        name_ = cv::tempfile();
        path_ = name_ + ".d";
        cv::utils::fs::remove_all(path_);
        cv::utils::fs::createDirectories(path_);
    }
    ~TempDir()
    {
        cv::utils::fs::remove_all(path_);
        std::remove(name_.c_str());
    }
    const std::string& path() const { return path_; }
    std::string write(const std::string& rel, const std::string& content) const
    {
        const std::string p = path_ + "/" + rel;
        cv::utils::fs::createDirectories(p.substr(0, p.rfind('/')));
        std::ofstream(p.c_str(), std::ios::binary) << content;
        return p;
    }

private:
    std::string name_;
    std::string path_;
};

// Runs fn, which must throw cv::Exception whose message contains every one of parts.
inline void expectThrowsWith(const std::function<void()>& fn, std::initializer_list<std::string> parts)
{
    try
    {
        fn();
        ADD_FAILURE() << "expected a cv::Exception";
    }
    catch (const cv::Exception& e)
    {
        const std::string msg = e.what();
        for (const std::string& part : parts)
            EXPECT_NE(msg.find(part), std::string::npos) << "message lacks '" << part << "': " << msg;
    }
}

}  // namespace
}  // namespace opencv_test

#endif  // OPENCV_SEMFLOW_TEST_BENCHMARK_COMMON_HPP
