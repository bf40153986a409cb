// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "distributed.hpp"

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SEMFLOW_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <iostream>
#include <type_traits>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace sfnet
{

// LibTorch 1.13's ProcessGroupGloo/NCCL are ProcessGroups; from 2.0 on they are Backends
// (a ProcessGroup dispatches to them). Both offer the same allreduce/broadcast calls.
using CollectiveGroup = std::conditional_t<std::is_base_of_v<c10d::ProcessGroup, c10d::ProcessGroupGloo>,
                                           c10d::ProcessGroup, c10d::Backend>;

class ProcessGroupHandle
{
public:
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<CollectiveGroup> pg;
};

namespace
{
std::chrono::milliseconds toMs(double seconds)
{
    return std::chrono::milliseconds(int64_t(seconds * 1000));
}

int64_t parseEnvInt(const char* name, const char* v, int64_t lo, int64_t hi)
{
    try
    {
        size_t used = 0;
        const long long x = std::stoll(v, &used);
        if (used == std::string(v).size() && x >= lo && x <= hi)
            return x;
    }
    catch (const std::exception&)
    {
    }
    throw std::runtime_error(std::string("environment variable ") + name + "='" + v + "' must be an integer in [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

bool isLoopback(const std::string& host)
{
    return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// The all-reduce inside autograd. The group travels as an integer in saved_data: IValue
// holds no raw pointers, and the Distributed object outlives every graph it is used in.
class AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction>
{
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, int64_t group)
    {
        ctx->saved_data["group"] = group;
        auto y = x.contiguous().clone();
        reinterpret_cast<Distributed*>(group)->allReduceSum(y);
        return y;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads)
    {
        auto g = grads[0].contiguous().clone();
        reinterpret_cast<Distributed*>(ctx->saved_data["group"].toInt())->allReduceSum(g);
        return {g, torch::Tensor()};
    }
};
}  // namespace

void readDistributedEnvironment(DistributedConfig& cfg)
{
    if (const char* v = std::getenv("MASTER_ADDR"); v && *v)
        cfg.masterAddr = v;
    if (const char* v = std::getenv("MASTER_PORT"); v && *v)
        cfg.masterPort = int(parseEnvInt("MASTER_PORT", v, 1, 65535));
    if (const char* v = std::getenv("WORLD_SIZE"); v && *v)
        cfg.worldSize = int(parseEnvInt("WORLD_SIZE", v, 1, 1 << 20));
    if (const char* v = std::getenv("RANK"); v && *v)
        cfg.rank = int(parseEnvInt("RANK", v, 0, 1 << 20));
    if (const char* v = std::getenv("LOCAL_RANK"); v && *v)
        cfg.localRank = int(parseEnvInt("LOCAL_RANK", v, 0, 1 << 20));
}

bool distributedBackendAvailable(const std::string& backend)
{
    if (backend == "gloo")
        return true;
#ifdef SEMFLOW_WITH_NCCL
    if (backend == "nccl")
        return true;
#endif
    return false;
}

Distributed::Distributed(const DistributedConfig& cfg) : cfg_(cfg)
{
    if (cfg.worldSize < 1)
        throw std::runtime_error("the world size must be >= 1, got " + std::to_string(cfg.worldSize));
    if (cfg.rank < 0 || cfg.rank >= cfg.worldSize)
        throw std::runtime_error("the rank must be in [0, " + std::to_string(cfg.worldSize) + "), got " +
                                 std::to_string(cfg.rank));
    if (!(cfg.timeoutSeconds > 0))
        throw std::runtime_error("the distributed timeout must be > 0 seconds");
    if (cfg.backend != "gloo" && cfg.backend != "nccl")
        throw std::runtime_error("the distributed backend must be gloo or nccl, got '" + cfg.backend + "'");
    if (!distributedBackendAvailable(cfg.backend))
        throw std::runtime_error("this build of sfnet has no " + cfg.backend +
                                 " process group (NCCL needs a CUDA LibTorch; Debian's libtorch is CPU-only)");
    if (!active())
        return;
    const auto timeout = toMs(cfg.timeoutSeconds);
    pg_ = std::make_unique<ProcessGroupHandle>();
    try
    {
        c10d::TCPStoreOptions so;
        so.port = uint16_t(cfg.masterPort);
        so.isServer = cfg.rank == 0;
        so.numWorkers = size_t(cfg.worldSize);
        so.waitWorkers = true;
        so.timeout = timeout;
        pg_->store = c10::make_intrusive<c10d::TCPStore>(cfg.masterAddr, so);
        if (cfg.backend == "gloo")
        {
            auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
            if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
                opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            else if (isLoopback(cfg.masterAddr))
                opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else
                opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            pg_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(pg_->store, cfg.rank, cfg.worldSize, opts);
        }
#ifdef SEMFLOW_WITH_NCCL
        else
        {
            auto opts = c10d::ProcessGroupNCCL::Options::create();
            opts->timeout = timeout;
            pg_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(pg_->store, cfg.rank, cfg.worldSize, opts);
        }
#endif
    }
    catch (const std::exception& e)
    {
        std::ostringstream os;
        os << "rank " << cfg.rank << " of " << cfg.worldSize << ": cannot join the process group at "
           << cfg.masterAddr << ":" << cfg.masterPort << " within " << cfg.timeoutSeconds
           << " s (are all ranks started with the same MASTER_ADDR/MASTER_PORT/WORLD_SIZE?): " << e.what();
        throw std::runtime_error(os.str());
    }
}

Distributed::~Distributed() = default;

void Distributed::check(const char* what, const std::exception& e) const
{
    std::ostringstream os;
    os << "rank " << cfg_.rank << " of " << cfg_.worldSize << ": " << what
       << " failed: another process died, or did not answer within the timeout of " << cfg_.timeoutSeconds
       << " s (--dist-timeout): " << e.what();
    if (cfg_.exitOnFailure)
    {
        // Unwinding would join the group's worker threads, each of which may sit in another
        // collective for up to the timeout; the checkpoint on disk is whole (atomic writes).
        std::cerr << "sfnet: error: " << os.str() << "\n";
        std::cerr.flush();
        std::_Exit(kCollectiveFailureExitCode);
    }
    throw std::runtime_error(os.str());
}

// NCCL reduces GPU memory only: host tensors (counters, loss values) take a round trip.
torch::Tensor Distributed::onCollectiveDevice(const torch::Tensor& t) const
{
    if (cfg_.backend == "nccl" && !t.is_cuda())
        return t.to(torch::Device(torch::kCUDA, c10::DeviceIndex(cfg_.localRank)));
    return t;
}

void Distributed::allReduceSum(torch::Tensor& t)
{
    if (!active())
        return;
    try
    {
        std::vector<torch::Tensor> v{onCollectiveDevice(t)};
        pg_->pg->allreduce(v)->wait(toMs(cfg_.timeoutSeconds));
        if (!v[0].is_same(t))
            t.copy_(v[0]);
    }
    catch (const std::exception& e)
    {
        check("all-reduce", e);
    }
}

torch::Tensor Distributed::allReduceSumAutograd(const torch::Tensor& t)
{
    if (!active())
        return t;
    return AllReduceSumFunction::apply(t, reinterpret_cast<int64_t>(this));
}

void Distributed::broadcast(std::vector<torch::Tensor> tensors)
{
    if (!active())
        return;
    try
    {
        torch::NoGradGuard noGrad;
        for (auto& t : tensors)
        {
            const torch::Tensor d = t.detach();
            std::vector<torch::Tensor> v{onCollectiveDevice(d)};
            pg_->pg->broadcast(v)->wait(toMs(cfg_.timeoutSeconds));
            if (!v[0].is_same(d))
                d.copy_(v[0]);
        }
    }
    catch (const std::exception& e)
    {
        check("broadcast", e);
    }
}

void Distributed::barrier()
{
    if (!active())
        return;
    try
    {
        // An all-reduce rather than ProcessGroup::barrier: Gloo's barrier ignores the timeout
        // given to wait() on some versions; an all-reduce honours it everywhere.
        std::vector<torch::Tensor> v{onCollectiveDevice(torch::zeros({1}))};
        pg_->pg->allreduce(v)->wait(toMs(cfg_.timeoutSeconds));
    }
    catch (const std::exception& e)
    {
        check("barrier", e);
    }
}

// ---------------------------------------------------------------------------------------
// Gradient buckets

struct Distributed::GradientReducer::Impl
{
    struct Bucket
    {
        std::vector<size_t> params;
        std::vector<int64_t> offsets;
        torch::Tensor flat;
        size_t missing = 0;
        c10::intrusive_ptr<c10d::Work> work;
    };
    Distributed* group = nullptr;
    std::vector<torch::Tensor> params;
    std::vector<size_t> bucketOf, slotOf;
    std::vector<bool> arrived;
    std::vector<Bucket> buckets;
    size_t nextLaunch = 0;
    std::mutex m;  // hooks run on the autograd thread; finish() on the caller's

    void launchReady()
    {
        while (nextLaunch < buckets.size() && buckets[nextLaunch].missing == 0)
        {
            Bucket& b = buckets[nextLaunch++];
            try
            {
                std::vector<torch::Tensor> v{b.flat};
                b.work = group->pg_->pg->allreduce(v);
            }
            catch (const std::exception& e)
            {
                group->check("gradient all-reduce", e);
            }
        }
    }

    void ready(size_t i, const torch::Tensor& grad)
    {
        std::lock_guard<std::mutex> lk(m);
        if (arrived[i])
            return;
        arrived[i] = true;
        Bucket& b = buckets[bucketOf[i]];
        const size_t s = slotOf[i];
        b.flat.narrow(0, b.offsets[s], params[i].numel()).copy_(grad.detach().reshape({-1}));
        --b.missing;
        launchReady();
    }
};

Distributed::GradientReducer::GradientReducer(Distributed& group, std::vector<torch::Tensor> params,
                                              int64_t bucketBytes)
    : impl_(new Impl)
{
    impl_->group = &group;
    impl_->params = std::move(params);
    const size_t n = impl_->params.size();
    impl_->bucketOf.assign(n, 0);
    impl_->slotOf.assign(n, 0);
    impl_->arrived.assign(n, false);
    int64_t bytes = bucketBytes;
    for (size_t k = n; k-- > 0;)
    {
        const torch::Tensor& p = impl_->params[k];
        if (impl_->params[k].scalar_type() != impl_->params.back().scalar_type() ||
            impl_->params[k].device() != impl_->params.back().device())
            throw std::runtime_error("GradientReducer: all parameters must share one dtype and device");
        const int64_t pb = p.numel() * int64_t(p.element_size());
        if (impl_->buckets.empty() || bytes + pb > bucketBytes)
        {
            impl_->buckets.emplace_back();
            bytes = 0;
        }
        Impl::Bucket& b = impl_->buckets.back();
        const int64_t off = b.offsets.empty() ? 0 : b.offsets.back() + impl_->params[b.params.back()].numel();
        impl_->bucketOf[k] = impl_->buckets.size() - 1;
        impl_->slotOf[k] = b.params.size();
        b.params.push_back(k);
        b.offsets.push_back(off);
        bytes += pb;
    }
    for (auto& b : impl_->buckets)
    {
        const torch::Tensor& last = impl_->params[b.params.back()];
        b.flat = torch::zeros({b.offsets.back() + last.numel()}, last.options().requires_grad(false));
    }
    if (group.active())
        for (size_t k = 0; k < n; ++k)
        {
            Impl* impl = impl_.get();
            impl_->params[k].register_hook([impl, k](const torch::Tensor& g) { impl->ready(k, g); });
        }
}

Distributed::GradientReducer::~GradientReducer() = default;

size_t Distributed::GradientReducer::buckets() const
{
    return impl_->buckets.size();
}

void Distributed::GradientReducer::prepare()
{
    std::lock_guard<std::mutex> lk(impl_->m);
    std::fill(impl_->arrived.begin(), impl_->arrived.end(), false);
    for (auto& b : impl_->buckets)
    {
        b.missing = b.params.size();
        b.work.reset();
    }
    impl_->nextLaunch = 0;
}

void Distributed::GradientReducer::finish()
{
    Distributed& g = *impl_->group;
    if (!g.active())
        return;
    {
        // A parameter the graph did not reach has no gradient on any process (same graph
        // everywhere): it contributes zeros, and its bucket still goes out in order.
        std::lock_guard<std::mutex> lk(impl_->m);
        for (size_t i = 0; i < impl_->params.size(); ++i)
            if (!impl_->arrived[i])
            {
                Impl::Bucket& b = impl_->buckets[impl_->bucketOf[i]];
                b.flat.narrow(0, b.offsets[impl_->slotOf[i]], impl_->params[i].numel()).zero_();
                impl_->arrived[i] = true;
                --b.missing;
            }
        impl_->launchReady();
    }
    torch::NoGradGuard noGrad;
    for (auto& b : impl_->buckets)
    {
        try
        {
            b.work->wait(toMs(g.cfg_.timeoutSeconds));
        }
        catch (const std::exception& e)
        {
            g.check("gradient all-reduce", e);
        }
        for (size_t s = 0; s < b.params.size(); ++s)
        {
            torch::Tensor& p = impl_->params[b.params[s]];
            const auto sum = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
            if (p.grad().defined())
                p.mutable_grad().copy_(sum);
            else
                p.mutable_grad() = sum.clone();
        }
    }
}

}  // namespace sfnet
