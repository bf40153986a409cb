// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Helpers shared by the benchmark tests: fixture paths, temporary files, error checks.

#ifndef OPENCV_SEMFLOW_TEST_BENCHMARK_COMMON_HPP
#define OPENCV_SEMFLOW_TEST_BENCHMARK_COMMON_HPP

#include "test_precomp.hpp"

#include "opencv2/semflow/benchmark.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
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
    return std::filesystem::exists(path);
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir
{
public:
    TempDir()
    {
        static std::atomic<int> counter(0);
        namespace fs = std::filesystem;
        const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = std::string("semflow_") + (info ? info->name() : "test") + "_" +
                           std::to_string((long long)std::chrono::steady_clock::now().time_since_epoch().count()) + "_" + std::to_string(counter++);
        path_ = (fs::temp_directory_path() / name).string();
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string write(const std::string& rel, const std::string& content) const
    {
        std::filesystem::path p = std::filesystem::path(path_) / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p.string(), std::ios::binary) << content;
        return p.string();
    }

private:
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
