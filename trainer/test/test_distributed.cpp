// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Data-parallel training on loopback: real `sfnet train` processes joined by c10d's TCPStore
// and Gloo process group. Two processes of batch B against one of batch 2B, an exact
// resume, and a killed or frozen rank that must not leave the other hanging. Also the
// BatchNorm that shares its statistics (per view, over processes) against LibTorch's own.

#include "batch_norm.hpp"
#include "model.hpp"
#include "train.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;
namespace fs = std::filesystem;

namespace
{
using Clock = std::chrono::steady_clock;

fs::path freshDir(const std::string& name)
{
    fs::path d = fs::temp_directory_path() / ("sfnet_test_ddp_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
int freePort()
{
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("cannot find a free port");
    ::close(s);
    return ntohs(a.sin_port);
}

// One `sfnet train` rank with the torchrun environment; stdout+stderr go to a file.
struct Rank
{
    pid_t pid = -1;
    std::string logFile;
};

Rank spawnRank(const std::vector<std::string>& trainArgs, int rank, int world, int port, const std::string& logFile)
{
    std::vector<std::string> args{SFNET_BINARY, "train"};
    args.insert(args.end(), trainArgs.begin(), trainArgs.end());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
    {
        const std::string v(*e);
        if (v.rfind("RANK=", 0) && v.rfind("WORLD_SIZE=", 0) && v.rfind("MASTER_", 0) && v.rfind("LOCAL_RANK=", 0))
            env.push_back(v);
    }
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back("MASTER_PORT=" + std::to_string(port));
    env.push_back("WORLD_SIZE=" + std::to_string(world));
    env.push_back("RANK=" + std::to_string(rank));
    env.push_back("LOCAL_RANK=" + std::to_string(rank));
    env.push_back("OMP_NUM_THREADS=1");  // two ranks on a small machine
    std::vector<char*> argv, envp;
    for (auto& a : args)
        argv.push_back(&a[0]);
    argv.push_back(nullptr);
    for (auto& e : env)
        envp.push_back(&e[0]);
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    Rank r;
    r.logFile = logFile;
    const int rc = posix_spawn(&r.pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        throw std::runtime_error("cannot start " + std::string(SFNET_BINARY));
    return r;
}

// Waits up to @p seconds; returns the exit status (or -1000 - signal), or -1 on timeout.
int waitRank(Rank& r, double seconds)
{
    const auto t0 = Clock::now();
    for (;;)
    {
        int st = 0;
        const pid_t got = ::waitpid(r.pid, &st, WNOHANG);
        if (got == r.pid)
        {
            r.pid = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1000 - WTERMSIG(st);
        }
        if (std::chrono::duration<double>(Clock::now() - t0).count() > seconds)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void killRank(Rank& r)
{
    if (r.pid > 0)
    {
        ::kill(r.pid, SIGKILL);
        ::waitpid(r.pid, nullptr, 0);
        r.pid = -1;
    }
}

std::string readFile(const std::string& p)
{
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Runs `world` ranks to completion; every rank must exit 0.
void runRanks(const std::vector<std::string>& args, int world, const fs::path& dir, const std::string& tag)
{
    const int port = freePort();
    std::vector<Rank> ranks;
    for (int r = 0; r < world; ++r)
        ranks.push_back(spawnRank(args, r, world, port, (dir / (tag + "_rank" + std::to_string(r) + ".txt")).string()));
    for (auto& r : ranks)
    {
        const int rc = waitRank(r, 300);
        if (rc == -1)
            killRank(r);
        EXPECT_EQ(rc, 0) << readFile(r.logFile);
    }
}

std::vector<std::string> trainArgs(const fs::path& out, int batch, int64_t maxIters = -1)
{
    // 16 generated images, tiny backbone, 64x64 inputs: 4 global batches of 4 per epoch.
    std::vector<std::string> a{"--data", "synthetic:16", "--backbone", "tiny", "--size", "64", "--batch",
                               std::to_string(batch), "--epochs", "2", "--lr", "1e-3", "--lr-milestones", "1",
                               "--seed", "5", "--workers", "1", "--no-progress", "--dist-timeout", "60",
                               "--output", out.string()};
    if (maxIters > 0)
        a.insert(a.end(), {"--max-iters", std::to_string(maxIters)});
    return a;
}

std::vector<std::pair<std::string, torch::Tensor>> stateOf(const fs::path& checkpoint)
{
    auto m = sfnet::loadModel(checkpoint.string());
    std::vector<std::pair<std::string, torch::Tensor>> s;
    for (const auto& p : m->named_parameters())
        s.emplace_back(p.key(), p.value().detach().to(torch::kDouble));
    for (const auto& b : m->named_buffers())
        if (b.value().is_floating_point())
            s.emplace_back(b.key(), b.value().to(torch::kDouble));
    return s;
}

double relNorm(const torch::Tensor& a, const torch::Tensor& ref)
{
    return (a - ref).norm().item<double>() / std::max(1e-30, ref.norm().item<double>());
}
}  // namespace

// views = 1 is LibTorch's BatchNorm2d in training mode: output, input and weight gradients,
// running statistics. views = 2 is two separate BatchNorm calls, one per half.
TEST(SharedBatchNorm, MatchesLibTorchBatchNorm)
{
    torch::manual_seed(2);
    for (int views : {1, 2})
    {
        torch::nn::BatchNorm2d ref(6), ours(6);
        {
            torch::NoGradGuard ng;
            ref->weight.uniform_(0.5, 1.5);
            ref->bias.uniform_(-0.5, 0.5);
            ours->weight.copy_(ref->weight);
            ours->bias.copy_(ref->bias);
        }
        const auto x0 = torch::randn({4, 6, 5, 3}) * 3 + 2;
        const auto up = torch::randn({4, 6, 5, 3});
        auto xr = x0.clone().requires_grad_(true), xo = x0.clone().requires_grad_(true);
        torch::Tensor yr;
        if (views == 1)
            yr = ref->forward(xr);
        else
            yr = torch::cat({ref->forward(xr.narrow(0, 0, 2)), ref->forward(xr.narrow(0, 2, 2))});
        const auto yo = sfnet::batchNormTraining(*ours, xo, views);
        (yr * up).sum().backward();
        (yo * up).sum().backward();
        EXPECT_LT((yo - yr).abs().max().item<double>(), 1e-5) << views;
        EXPECT_LT((xo.grad() - xr.grad()).abs().max().item<double>(), 1e-5) << views;
        EXPECT_LT((ours->weight.grad() - ref->weight.grad()).abs().max().item<double>(), 1e-4) << views;
        EXPECT_LT((ours->bias.grad() - ref->bias.grad()).abs().max().item<double>(), 1e-4) << views;
        EXPECT_LT((ours->running_mean - ref->running_mean).abs().max().item<double>(), 1e-6) << views;
        EXPECT_LT((ours->running_var - ref->running_var).abs().max().item<double>(), 1e-5) << views;
        EXPECT_EQ(ours->num_batches_tracked.item<int64_t>(), views);
        EXPECT_EQ(ref->num_batches_tracked.item<int64_t>(), views);
    }
    torch::nn::BatchNorm2d bn(2);
    EXPECT_THROW(sfnet::batchNormTraining(*bn, torch::zeros({3, 2, 2, 2}), 2), std::runtime_error);
}

// Two ranks of batch 2 see exactly the samples of one process of batch 4 (contiguous
// shards of each global batch), share BatchNorm statistics and average gradients weighted
// by their shard sizes. Not bit-identical: the 4-image sums inside each GEMM and reduction
// become two 2-image sums added by the all-reduce, a different float summation order.
//
// Two kinds of tensors cannot be compared at all, in ANY two runs that sum in a different
// order: the bias of a convolution that feeds a training-mode BatchNorm has an identically
// zero gradient (BatchNorm subtracts each channel's batch mean, so a per-channel shift
// cancels), its float gradient is pure rounding noise, and Adam's step (~ lr * g / |g|)
// turns that noise into full-size steps of random sign; the running means follow those
// biases. For them the test only bounds the drift by the summed learning rates.
TEST(DataParallel, TwoProcessesMatchOneProcessWithTheGlobalBatch)
{
    const fs::path d = freshDir("equal");
    runRanks(trainArgs(d / "two", 2), 2, d, "two");
    ASSERT_TRUE(fs::exists(d / "two" / "checkpoint.pt"));

    // The single-process reference, in this process, through the same train().
    sfnet::TrainOptions o;
    o.data = "synthetic:16";
    o.backbone = "tiny";
    o.size = 64;
    o.epochs = 2;
    o.lr = 1e-3;
    o.lrMilestones = {1};
    o.seed = 5;
    o.workers = 1;
    o.progress = false;
    o.batch = 4;
    o.output = (d / "one").string();
    const auto s1 = sfnet::train(o);
    EXPECT_EQ(s1.iterations, 8);
    o.batch = 2;  // a control that must differ: same steps, half the data
    o.maxIters = 8;
    o.output = (d / "half").string();
    sfnet::train(o);

    const auto two = stateOf(d / "two" / "checkpoint.pt"), one = stateOf(d / "one" / "checkpoint.pt");
    const auto half = stateOf(d / "half" / "checkpoint.pt");
    ASSERT_EQ(two.size(), one.size());
    double worst = 0, control = 0;
    size_t compared = 0;
    const double lrSum = 4 * 1e-3 + 4 * 2e-4;  // 4 steps at lr, 4 after the milestone (x0.2)
    auto noiseDriven = [](const std::string& name) {
        const bool adaptation = name.rfind("adap_layer_feat", 0) == 0;
        return adaptation && (name.find(".0.bias") != std::string::npos || name.find("running_mean") != std::string::npos);
    };
    for (size_t i = 0; i < one.size(); ++i)
    {
        ASSERT_EQ(two[i].first, one[i].first);
        const std::string& name = one[i].first;
        if (noiseDriven(name))
        {
            if (name.find(".0.bias") != std::string::npos)  // each step moves it by <= lr (Adam)
                EXPECT_LE((two[i].second - one[i].second).abs().max().item<double>(), 2 * lrSum * 1.01) << name;
            continue;
        }
        const double r = relNorm(two[i].second, one[i].second);
        EXPECT_LE(r, 1e-5) << name;
        worst = std::max(worst, r);
        control = std::max(control, relNorm(half[i].second, one[i].second));
        compared += name.rfind("adap_layer_feat", 0) == 0;
    }
    EXPECT_EQ(compared, 2u * 2 * 4);  // per layer and step: conv weight, BN weight, BN bias, running_var
    std::cout << "[ measured ] largest relative difference 2x2 vs 1x4: " << worst
              << "; 1x2 control vs 1x4: " << control << "\n";
    EXPECT_GT(control, 1e-3);  // the comparison can tell different training apart

    // Both logs: one line per iteration, rank 0's with the global pair count.
    const std::string log = readFile((d / "two" / "log.tsv").string());
    EXPECT_NE(log.find("\t4\t"), std::string::npos) << log;
    fs::remove_all(d);
}

// Stopping after 3 of 8 iterations and resuming with both ranks gives bit-identical weights.
TEST(DataParallel, ResumeIsExact)
{
    const fs::path d = freshDir("resume");
    runRanks(trainArgs(d / "full", 2), 2, d, "full");
    runRanks(trainArgs(d / "split", 2, 3), 2, d, "part");
    auto resumeArgs = trainArgs(d / "split", 2);
    resumeArgs.push_back("--resume");
    runRanks(resumeArgs, 2, d, "rest");
    const auto a = stateOf(d / "full" / "checkpoint.pt"), b = stateOf(d / "split" / "checkpoint.pt");
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
    EXPECT_NE(readFile((d / "rest_rank0.txt").string()).find("resuming at iteration 3"), std::string::npos);
    fs::remove_all(d);
}

// A rank killed mid-training, or frozen (SIGSTOP), makes the other exit non-zero with a
// message naming the failure, within the timeout (plus start-up slack), never hanging.
TEST(DataParallel, ADeadOrFrozenRankStopsTheOthers)
{
    const fs::path d = freshDir("kill");
    const double timeout = 8;
    for (int sig : {SIGKILL, SIGSTOP})
    {
        const std::string tag = sig == SIGKILL ? "killed" : "frozen";
        auto args = trainArgs(d / tag, 2);
        args[std::find(args.begin(), args.end(), "--epochs") - args.begin() + 1] = "1000";
        args[std::find(args.begin(), args.end(), "--dist-timeout") - args.begin() + 1] = std::to_string(timeout);
        const int port = freePort();
        Rank r0 = spawnRank(args, 0, 2, port, (d / (tag + "0.txt")).string());
        Rank r1 = spawnRank(args, 1, 2, port, (d / (tag + "1.txt")).string());
        // Wait for training to run (rank 0's log grows), then take rank 1 away.
        const auto t0 = Clock::now();
        bool running = false;
        while (!running && std::chrono::duration<double>(Clock::now() - t0).count() < 120)
        {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const std::string log = readFile((d / tag / "log.tsv").string());
            running = std::count(log.begin(), log.end(), '\n') >= 3;
        }
        ASSERT_TRUE(running) << readFile(r0.logFile) << readFile(r1.logFile);
        ::kill(r1.pid, sig);
        const auto tk = Clock::now();
        const int rc = waitRank(r0, timeout + 30);
        const double took = std::chrono::duration<double>(Clock::now() - tk).count();
        if (rc == -1)
            killRank(r0);
        killRank(r1);
        EXPECT_NE(rc, 0) << tag;
        EXPECT_NE(rc, -1) << tag << ": rank 0 still running after " << took << " s";
        EXPECT_EQ(rc, 3) << tag << " (exit code of a failed collective)\n" << readFile(r0.logFile);
        EXPECT_NE(readFile(r0.logFile).find("rank 0 of 2"), std::string::npos) << readFile(r0.logFile);
        std::cout << "[ measured ] " << tag << " rank 1: rank 0 exited with " << rc << " after " << took << " s\n";
    }

    // A rank alone never gets its group: the rendezvous times out with a clear error.
    auto args = trainArgs(d / "alone", 2);
    args[std::find(args.begin(), args.end(), "--dist-timeout") - args.begin() + 1] = "3";
    Rank r0 = spawnRank(args, 0, 2, freePort(), (d / "alone0.txt").string());
    const int rc = waitRank(r0, 60);
    if (rc == -1)
        killRank(r0);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(readFile(r0.logFile).find("cannot join the process group"), std::string::npos) << readFile(r0.logFile);
    fs::remove_all(d);
}
