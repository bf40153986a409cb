// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Data-parallel training on LibTorch's c10d (doc/training.md, "Several processes"):
// a TCPStore rendezvous, a Gloo (CPU) or NCCL (CUDA) process group, bucketed gradient
// all-reduce overlapped with the backward pass, and a differentiable all-reduce for
// BatchNorm statistics shared by all processes. Includes LibTorch: trainer sources only.

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sfnet
{

/** @brief Who this process is and how to reach the others (the torchrun contract). */
struct DistributedConfig
{
    int worldSize = 1;                     ///< WORLD_SIZE
    int rank = 0;                          ///< RANK (0 = the one that writes files)
    int localRank = 0;                     ///< LOCAL_RANK (the CUDA device index with NCCL)
    std::string masterAddr = "127.0.0.1";  ///< MASTER_ADDR: host of rank 0's TCPStore
    int masterPort = 29500;                ///< MASTER_PORT
    double timeoutSeconds = 1800;          ///< a collective waiting longer than this fails
    std::string backend = "gloo";          ///< gloo | nccl
    /// A failed collective prints its error and ends the process at once with
    /// kCollectiveFailureExitCode (unwinding would wait for the group's other in-flight
    /// collectives, each up to the timeout). false: throw std::runtime_error instead.
    bool exitOnFailure = true;
};

/// Exit code of a process whose collective failed (a peer died or hung).
constexpr int kCollectiveFailureExitCode = 3;

/** @brief Reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK into @p cfg
(variables that are unset leave the field as it is).
@throws std::runtime_error naming the variable on a malformed value. */
void readDistributedEnvironment(DistributedConfig& cfg);

/** @brief True when this build can create a process group of @p backend. */
bool distributedBackendAvailable(const std::string& backend);

class ProcessGroupHandle;

/** @brief One process's membership of the training group. With worldSize 1 every
operation is a no-op (no store, no sockets). Errors of the group (a peer died, a peer
hung past the timeout) end the process or throw, see DistributedConfig::exitOnFailure. */
class Distributed
{
public:
    /** @brief Joins the group: rank 0 serves the TCPStore, everybody connects, the
    process group is created (blocks until all worldSize processes are there or the
    timeout passes). @throws std::runtime_error on bad config or a failed rendezvous. */
    explicit Distributed(const DistributedConfig& cfg);
    ~Distributed();
    Distributed(const Distributed&) = delete;
    Distributed& operator=(const Distributed&) = delete;

    int rank() const { return cfg_.rank; }
    int worldSize() const { return cfg_.worldSize; }
    bool active() const { return cfg_.worldSize > 1; }
    const DistributedConfig& config() const { return cfg_; }

    /** @brief In-place sum over all processes (any dtype Gloo reduces; contiguous). */
    void allReduceSum(torch::Tensor& t);
    /** @brief Differentiable sum over all processes: forward and backward are both an
    all-reduce (the gradient of a sum every process uses is the sum of their gradients). */
    torch::Tensor allReduceSumAutograd(const torch::Tensor& t);
    /** @brief Copies rank 0's values into @p tensors on every process (in place). */
    void broadcast(std::vector<torch::Tensor> tensors);
    /** @brief Blocks until every process got here. */
    void barrier();

    /** @brief Sums gradients over the processes in buckets of about @p bucketBytes,
    launched from gradient hooks as soon as a bucket's gradients exist, so communication
    overlaps the rest of the backward pass. Call prepare() before backward() and finish()
    after it; finish() leaves the summed gradient in each parameter's grad(). Buckets are
    filled in reverse parameter order (the order backward produces them) and launched in
    bucket order, so every process issues the same collectives in the same order. */
    class GradientReducer
    {
    public:
        GradientReducer(Distributed& group, std::vector<torch::Tensor> params, int64_t bucketBytes = 25 << 20);
        ~GradientReducer();
        void prepare();
        void finish();
        size_t buckets() const;

    private:
        struct Impl;
        std::unique_ptr<Impl> impl_;
    };

private:
    void check(const char* what, const std::exception& e) const;
    torch::Tensor onCollectiveDevice(const torch::Tensor& t) const;
    DistributedConfig cfg_;
    std::unique_ptr<ProcessGroupHandle> pg_;
    friend class GradientReducer;
};

}  // namespace sfnet
