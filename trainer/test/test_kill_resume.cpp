// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet train` killed with SIGKILL at random moments, some of them in the middle of a
// checkpoint write, and resumed each time, must end with the weights (and the per-iteration
// loss log) of an uninterrupted run, and never leave checkpoint.pt half-written.
//
// These are real kills of the real `sfnet` process. To land kills inside checkpoint writes,
// the killed runs set SFNET_CHECKPOINT_WRITE_DELAY_US (atomic_file.hpp), which stretches each
// write to tens of milliseconds without changing a byte of it; the test waits for
// checkpoint.pt.tmp to appear and kills at a random moment while it grows.
// SFNET_KILL_TEST_SEED=<n> replays a particular schedule (the seed is printed).

#include "model.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace
{
using Clock = std::chrono::steady_clock;

fs::path freshDir(const std::string& name)
{
    fs::path d = fs::temp_directory_path() / ("sfnet_test_kill_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    return d;
}

// Starts SFNET_BINARY with args (stdout/stderr to logFile); extraEnv is "NAME=value" or empty.
pid_t spawn(const std::vector<std::string>& args, const std::string& logFile, const std::string& extraEnv)
{
    const pid_t pid = ::fork();
    if (pid == 0)
    {
        const int fd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
        {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        if (!extraEnv.empty())
            ::putenv(const_cast<char*>(extraEnv.c_str()));
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(SFNET_BINARY));
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(SFNET_BINARY, argv.data());
        ::_exit(127);
    }
    return pid;
}

// Waits for pid; returns its exit code, or -signal if a signal ended it.
int waitFor(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR)
    {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool exited(pid_t pid, int& code)
{
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid)
        return false;
    code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return true;
}

// The log without its last column (wall-clock seconds).
std::vector<std::string> logWithoutTimes(const fs::path& p)
{
    std::ifstream in(p);
    std::vector<std::string> rows;
    for (std::string l; std::getline(in, l);)
        rows.push_back(l.substr(0, l.rfind('\t')));
    return rows;
}

// Reads checkpoint.pt completely (every tensor and the training state): throws if the
// file is truncated or corrupt.
int64_t checkpointIteration(const fs::path& p)
{
    int64_t it = -1;
    sfnet::loadModel(p.string(), [&](torch::serialize::InputArchive& ar) {
        c10::IValue v;
        ar.read("train_iteration", v);
        it = v.toInt();
        torch::serialize::InputArchive opt;
        ar.read("optimizer", opt);
    });
    return it;
}
}  // namespace

TEST(TrainingKilled, RandomSigkillsAndResumesEndWithTheWeightsOfAnUninterruptedRun)
{
    const fs::path data = freshDir("data"), ref = freshDir("ref"), run = freshDir("run");
    const std::string log = (fs::temp_directory_path() / ("sfnet_test_kill_" + std::to_string(::getpid()) + ".log")).string();
    ASSERT_EQ(waitFor(spawn({"generate", "--output", data.string(), "--count", "8", "--size", "64", "--seed", "3"}, log, "")), 0);

    // 4 batches per epoch, a checkpoint after each of the 12 epochs, lr steps in between.
    const int kEpochs = 12, kPerEpoch = 4, kIters = kEpochs * kPerEpoch;
    auto trainArgs = [&](const fs::path& out, bool resume) {
        std::vector<std::string> a = {"train", "--data", "folder:" + data.string(), "--backbone", "tiny", "--size", "64",
                                      "--batch", "2", "--epochs", std::to_string(kEpochs), "--lr", "1e-3",
                                      "--lr-step", "5", "--seed", "7", "--workers", "2", "--no-progress",
                                      "--output", out.string()};
        if (resume)
            a.push_back("--resume");
        return a;
    };

    const auto t0 = Clock::now();
    ASSERT_EQ(waitFor(spawn(trainArgs(ref, false), log, "")), 0) << "see " << log;
    const double fullSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
    ASSERT_EQ(checkpointIteration(ref / "checkpoint.pt"), kIters);

    unsigned seed = std::random_device{}();
    if (const char* s = std::getenv("SFNET_KILL_TEST_SEED"))
        seed = unsigned(std::strtoul(s, nullptr, 10));
    std::mt19937 rng(seed);
    std::cout << "kill schedule seed " << seed << " (SFNET_KILL_TEST_SEED), uninterrupted run " << fullSeconds
              << " s\n";

    const fs::path ckpt = run / "checkpoint.pt", tmp = run / "checkpoint.pt.tmp";
    auto ma = sfnet::loadModel((ref / "checkpoint.pt").string());
    const auto sa = sfnet_test::stateOf(ma);
    const auto la = logWithoutTimes(ref / "log.tsv");
    ASSERT_EQ(la.size(), size_t(kIters + 1));
    auto expectSameAsReference = [&] {
        EXPECT_EQ(checkpointIteration(ckpt), kIters);
        auto mb = sfnet::loadModel(ckpt.string());
        const auto sb = sfnet_test::stateOf(mb);
        ASSERT_EQ(sa.size(), sb.size());
        for (size_t i = 0; i < sa.size(); ++i)
        {
            ASSERT_EQ(sa[i].first, sb[i].first);
            EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first << " differs";
        }
        // The log reads as one run: every iteration once, in order, with the same losses.
        EXPECT_EQ(la, logWithoutTimes(run / "log.tsv"));
    };
    // ~300 writes per checkpoint of the tiny model: 100 us each stretches a write to ~30+ ms.
    const std::string slowWrites = "SFNET_CHECKPOINT_WRITE_DELAY_US=100";
    const int kKills = 24;
    int kills = 0, killsInWrite = 0, tmpSeenTorn = 0, completed = 0;
    int64_t lastIteration = 0;
    bool done = false;
    for (int attempt = 0; !done && attempt < 300; ++attempt)
    {
        const bool resume = fs::exists(ckpt);
        if (!resume)
        {
            fs::remove_all(run);  // killed before the first checkpoint: start over
            lastIteration = 0;
        }
        fs::remove(tmp);  // so that the next appearance of the file is this process's write
        const pid_t pid = spawn(trainArgs(run, resume), log, kills < kKills ? slowWrites : "");
        if (kills >= kKills)
        {
            ASSERT_EQ(waitFor(pid), 0) << "see " << log;
            ++completed;
            done = true;
            break;
        }
        // Half the kills at a uniformly random moment of the run, half inside a checkpoint
        // write: after the n-th checkpoint.pt.tmp of this process appears (n = 1 or 2, so
        // that runs also make progress), at a random moment of the write.
        const bool inWrite = kills % 2 == 1;
        int code = 0;
        bool ended = false;
        if (!inWrite)
        {
            const auto deadline =
                Clock::now() + std::chrono::microseconds(int64_t(std::uniform_real_distribution<>(0.0, 0.6)(rng) *
                                                                 fullSeconds * 1e6));
            while (Clock::now() < deadline && !(ended = exited(pid, code)))
                std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        else
        {
            const int nth = std::uniform_int_distribution<>(1, 2)(rng);
            bool wasThere = false;
            for (int seen = 0; seen < nth && !(ended = exited(pid, code));)
            {
                const bool there = fs::exists(tmp);
                seen += there && !wasThere;
                wasThere = there;
                if (seen < nth)
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
            if (!ended)
                std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<>(0, 20000)(rng)));
        }
        if (ended || (ended = exited(pid, code)))
        {
            // It completed before the kill came. Check this run too, then train again from
            // scratch until enough kills have landed.
            ASSERT_EQ(code, 0) << "see " << log;
            ++completed;
            expectSameAsReference();
            fs::remove_all(run);
            lastIteration = 0;
            continue;
        }
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        ASSERT_EQ(waitFor(pid), -SIGKILL);
        ++kills;
        if (fs::exists(tmp))
        {
            ++killsInWrite;
            // A torn temporary file is expected (and harmless); it must never be loadable as
            // a shorter but valid checkpoint of a different state.
            try
            {
                checkpointIteration(tmp);
            }
            catch (const std::exception&)
            {
                ++tmpSeenTorn;
            }
        }
        if (fs::exists(ckpt))
        {
            int64_t it = -1;
            EXPECT_NO_THROW(it = checkpointIteration(ckpt)) << "checkpoint.pt is damaged after kill " << kills;
            EXPECT_EQ(it % kPerEpoch, 0) << it;
            EXPECT_GE(it, lastIteration);
            lastIteration = it;
        }
    }
    ASSERT_TRUE(done);
    std::cout << kills << " SIGKILLs, " << killsInWrite << " of them during a checkpoint write (" << tmpSeenTorn
              << " left a torn checkpoint.pt.tmp); " << completed << " killed run(s) completed\n";
    EXPECT_GE(kills, 20);
    EXPECT_GE(killsInWrite, 8);
    EXPECT_GE(tmpSeenTorn, 1);  // the kills did hit half-written files
    expectSameAsReference();

    fs::remove_all(data);
    fs::remove_all(ref);
    fs::remove_all(run);
    std::remove(log.c_str());
}
