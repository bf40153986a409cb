// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The part of OpenCV's perf-test API (opencv2/ts/ts_perf.hpp) that modules/semflow/perf/
// uses, on plain GoogleTest, for the standalone build: Debian's OpenCV ships no opencv_ts.
// In an OpenCV source tree the same perf files build against the real framework.
//
// Like OpenCV's, a PERF_TEST_P is a parameterised gtest whose TEST_CYCLE() body is timed
// sample by sample; the statistics are printed as "[ PERFSTAT ]" lines. Options (OpenCV's
// names): --perf_min_samples=N (default 10), --perf_force_samples=N (at most that many,
// default 100), --perf_time_limit=S (stop after S seconds once the minimum is reached,
// default 3). Not provided: regression data (SANITY_CHECK with stored values), WARMUP_RNG,
// CPU/OpenCL switches; the perf files use SANITY_CHECK_NOTHING.

#ifndef SEMFLOW_PERF_STANDALONE_HPP
#define SEMFLOW_PERF_STANDALONE_HPP

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "opencv2/core.hpp"

namespace perf {

struct PerfOptions
{
    int minSamples = 10, maxSamples = 100;
    double timeLimit = 3.0;
    static PerfOptions& get()
    {
        static PerfOptions o;
        return o;
    }
};

class TestBase : public ::testing::Test
{
public:
    //! What `declare` offers in OpenCV: inputs and outputs, the number of samples and the
    //! time budget. As in OpenCV's ts (ts_perf.cpp), every declared input and output must
    //! already be allocated: an empty one fails the test, so a case that passes here passes
    //! in-tree too.
    static void requireAllocated() {}
    template <typename M, typename... A>
    static void requireAllocated(const M& m, const A&... rest)
    {
        if (m.empty())
            ADD_FAILURE() << "Uninitialized input/output parameters are not allowed for performance tests "
                             "(as in OpenCV's ts: allocate outputs before declare.out())";
        requireAllocated(rest...);
    }

    class Declare
    {
    public:
        explicit Declare(TestBase& t) : test_(t) {}
        template <typename... A>
        Declare& in(const A&... a)
        {
            requireAllocated(a...);
            return *this;
        }
        template <typename... A>
        Declare& out(const A&... a)
        {
            requireAllocated(a...);
            return *this;
        }
        Declare& iterations(int n)
        {
            test_.maxSamples_ = std::max(1, n);
            return *this;
        }
        Declare& time(double seconds)
        {
            test_.timeLimit_ = seconds;
            return *this;
        }

    private:
        TestBase& test_;
    };

    TestBase() : declare(*this)
    {
        const PerfOptions& o = PerfOptions::get();
        minSamples_ = o.minSamples;
        maxSamples_ = o.maxSamples;
        timeLimit_ = o.timeLimit;
    }

    Declare declare;

protected:
    virtual void PerfTestBody() = 0;
    //! The case's parameters as printed in the statistics line ("" without parameters).
    virtual std::string paramString() const { return std::string(); }

    void RunPerfTestBody()
    {
        PerfTestBody();
        if (!HasFatalFailure() && !sanityChecked_)
            ADD_FAILURE() << "a perf test must end with SANITY_CHECK_NOTHING() (or a sanity check)";
        report();
    }

    //! TEST_CYCLE's loop condition: one more sample?
    bool next()
    {
        const int n = (int)samples_.size();
        const int wanted = std::min(minSamples_, maxSamples_);
        if (n < wanted)
            return true;
        return n < maxSamples_ && total_ < timeLimit_;
    }
    bool startTimer()
    {
        t0_ = std::chrono::steady_clock::now();
        return true;
    }
    void stopTimer()
    {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        samples_.push_back(s);
        total_ += s;
    }
    void setMaxSamples(int n) { maxSamples_ = minSamples_ = std::max(1, n); }
    void sanityCheckNothing() { sanityChecked_ = true; }

private:
    void report()
    {
        if (samples_.empty())
            return;
        std::vector<double> s = samples_;
        std::sort(s.begin(), s.end());
        double mean = 0, var = 0;
        for (double v : s)
            mean += v / s.size();
        for (double v : s)
            var += (v - mean) * (v - mean) / s.size();
        const double median = s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
        const std::string params = paramString();
        std::printf("[ PERFSTAT ]    (%s%ssamples=%d   mean=%.3f ms   median=%.3f ms   min=%.3f ms   stddev=%.3f ms)\n",
                    params.empty() ? "" : "params=", params.empty() ? "" : (params + "   ").c_str(),
                    (int)s.size(), mean * 1e3, median * 1e3, s[0] * 1e3, std::sqrt(var) * 1e3);
        RecordProperty("samples", (int)s.size());
        RecordProperty("median_ms", cv::format("%.4f", median * 1e3));
    }

    int minSamples_, maxSamples_;
    double timeLimit_, total_ = 0;
    bool sanityChecked_ = false;
    std::vector<double> samples_;
    std::chrono::steady_clock::time_point t0_;
};

template <typename T>
class TestBaseWithParam : public TestBase, public ::testing::WithParamInterface<T>
{
protected:
    std::string paramString() const override { return ::testing::PrintToString(this->GetParam()); }
};

//! Reads OpenCV's perf options from the command line (after gtest has taken its own).
inline void parsePerfOptions(int argc, char** argv)
{
    PerfOptions& o = PerfOptions::get();
    for (int i = 1; i < argc; i++)
    {
        const std::string a = argv[i];
        const size_t eq = a.find('=');
        const std::string key = a.substr(0, eq), value = eq == std::string::npos ? "" : a.substr(eq + 1);
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        const bool number = !value.empty() && *end == '\0' && v > 0;
        if ((key == "--perf_min_samples" || key == "--perf_force_samples" || key == "--perf_time_limit") && !number)
        {
            std::fprintf(stderr, "error: %s needs a positive number, got '%s'\n", key.c_str(), value.c_str());
            std::exit(2);
        }
        if (key == "--perf_min_samples")
            o.minSamples = (int)v;
        else if (key == "--perf_force_samples")
            o.maxSamples = (int)v;
        else if (key == "--perf_time_limit")
            o.timeLimit = v;
        else if (a.rfind("--perf_", 0) == 0)
        {
            std::fprintf(stderr, "error: unknown option %s (this standalone perf runner knows "
                                 "--perf_min_samples, --perf_force_samples, --perf_time_limit)\n",
                         a.c_str());
            std::exit(2);
        }
    }
}

}  // namespace perf


#define PERF_TEST_P(fixture, name, params)                              \
    class fixture##_##name : public fixture           \
    {                                                                   \
    protected:                                                          \
        void PerfTestBody() override;                                   \
    };                                                                  \
    TEST_P(fixture##_##name, name) { RunPerfTestBody(); } \
    INSTANTIATE_TEST_SUITE_P(semflow, fixture##_##name, params); \
    void fixture##_##name::PerfTestBody()

#define PERF_TEST(fixture, name)                                        \
    class fixture##_##name : public ::perf::TestBase  \
    {                                                                   \
    protected:                                                          \
        void PerfTestBody() override;                                   \
    };                                                                  \
    TEST_F(fixture##_##name, name) { RunPerfTestBody(); } \
    void fixture##_##name::PerfTestBody()

#define TEST_CYCLE() for (; next() && startTimer(); stopTimer())
#define TEST_CYCLE_N(n) for (setMaxSamples(n); next() && startTimer(); stopTimer())
#define SANITY_CHECK_NOTHING() sanityCheckNothing()

#define SEMFLOW_PERF_STANDALONE_MAIN()                    \
    int main(int argc, char** argv)                       \
    {                                                     \
        ::testing::InitGoogleTest(&argc, argv);           \
        ::perf::parsePerfOptions(argc, argv);             \
        return RUN_ALL_TESTS();                           \
    }

#endif  // SEMFLOW_PERF_STANDALONE_HPP
