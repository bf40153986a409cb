// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The multi-threaded pair loader, deterministic in (seed, epoch, batch).

#include "data.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace sfnet
{

uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b)
{
    auto split = [](uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    uint64_t h = split(seed);
    h = split(h ^ a);
    h = split(h ^ (b * 0xd1b54a32d192ed03ull));
    return h ? h : 0x2545f4914f6cdd1dull;  // cv::RNG treats state 0 specially
}


struct PairLoader::Impl
{
    std::shared_ptr<ImageSource> source;
    AugmentParams params;
    int batchSize = 1;
    uint64_t seed = 0;
    int shard = 0, shards = 1;

    std::mutex m;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    bool stop = false;
    std::vector<std::thread> threads;

    std::atomic<int64_t> skipped{0};
    std::mutex warnMutex;
    std::set<size_t> warned;

    mutable std::mutex orderMutex;
    mutable int64_t orderEpoch = -1;
    mutable std::vector<size_t> order;

    struct Pending
    {
        int64_t epoch, b;
        std::vector<std::future<std::optional<PairSample>>> items;
    };
    std::deque<Pending> pending;

    void workerLoop()
    {
        for (;;)
        {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> lk(m);
                cv.wait(lk, [&] { return stop || !jobs.empty(); });
                if (stop)
                    return;
                job = std::move(jobs.front());
                jobs.pop_front();
            }
            job();
        }
    }

    std::optional<PairSample> make(size_t item, uint64_t sampleSeed)
    {
        MaskedImage mi;
        std::string err;
        bool ok = false;
        try
        {
            ok = source->load(item, mi, err);
            if (ok)
                return synthesizePair(mi, params, sampleSeed);
        }
        catch (const std::exception& e)
        {
            ok = false;
            err = std::string("cannot use ") + source->name(item) + ": " + e.what();
        }
        ++skipped;
        std::lock_guard<std::mutex> lk(warnMutex);
        if (warned.insert(item).second)
            std::cerr << "\nwarning: skipping " << source->name(item) << ": " << err << "\n";
        return std::nullopt;
    }

    Pending submit(int64_t epoch, int64_t b, const PairLoader& self)
    {
        Pending p{epoch, b, {}};
        const int64_t n = int64_t(source->size());
        const int64_t k0 = b * batchSize, len = std::min(n, k0 + batchSize) - k0;
        const int64_t lo = k0 + len * shard / shards, hi = k0 + len * (shard + 1) / shards;
        std::lock_guard<std::mutex> lk(m);
        for (int64_t k = lo; k < hi; ++k)
        {
            const size_t item = self.itemAt(epoch, k);
            const uint64_t s = mixSeed(seed, uint64_t(epoch), uint64_t(k));
            auto task = std::make_shared<std::packaged_task<std::optional<PairSample>()>>(
                [this, item, s] { return make(item, s); });
            p.items.push_back(task->get_future());
            jobs.emplace_back([task] { (*task)(); });
        }
        cv.notify_all();
        return p;
    }
};

PairLoader::PairLoader(std::shared_ptr<ImageSource> source, const AugmentParams& params, int batchSize,
                       int workers, uint64_t seed, int shard, int shards)
    : impl_(new Impl)
{
    if (shards < 1 || shard < 0 || shard >= shards)
        throw std::runtime_error("PairLoader: shard " + std::to_string(shard) + " of " + std::to_string(shards) +
                                 " is not a valid shard");
    if (!source || source->size() == 0)
        throw std::runtime_error("PairLoader: the data source is empty");
    if (batchSize < 1)
        throw std::runtime_error("PairLoader: the batch size must be >= 1");
    if (workers < 1)
        throw std::runtime_error("PairLoader: at least one worker is needed");
    impl_->source = std::move(source);
    impl_->params = params;
    impl_->batchSize = batchSize;
    impl_->seed = seed;
    impl_->shard = shard;
    impl_->shards = shards;
    for (int i = 0; i < workers; ++i)
        impl_->threads.emplace_back([this] { impl_->workerLoop(); });
}

PairLoader::~PairLoader()
{
    {
        std::lock_guard<std::mutex> lk(impl_->m);
        impl_->stop = true;
        impl_->jobs.clear();  // unstarted tasks: their futures see broken_promise, nobody waits
    }
    impl_->cv.notify_all();
    for (auto& t : impl_->threads)
        t.join();
}

int64_t PairLoader::batchesPerEpoch() const
{
    const int64_t n = int64_t(impl_->source->size());
    return (n + impl_->batchSize - 1) / impl_->batchSize;
}

size_t PairLoader::itemAt(int64_t epoch, int64_t k) const
{
    std::lock_guard<std::mutex> lk(impl_->orderMutex);
    if (impl_->orderEpoch != epoch)
    {
        auto& o = impl_->order;
        o.resize(impl_->source->size());
        std::iota(o.begin(), o.end(), size_t(0));
        cv::RNG rng(mixSeed(impl_->seed, uint64_t(epoch), 0x5eedull));
        for (size_t i = o.size(); i > 1; --i)
            std::swap(o[i - 1], o[size_t(rng.uniform(0, int(i)))]);
        impl_->orderEpoch = epoch;
    }
    return impl_->order.at(size_t(k));
}

std::vector<PairSample> PairLoader::batch(int64_t epoch, int64_t b, bool prefetchNext)
{
    if (b < 0 || b >= batchesPerEpoch())
        throw std::runtime_error("PairLoader: batch index out of range");
    auto& pend = impl_->pending;
    std::optional<Impl::Pending> cur;
    while (!pend.empty())
    {
        Impl::Pending p = std::move(pend.front());
        pend.pop_front();
        if (p.epoch == epoch && p.b == b)
        {
            cur = std::move(p);
            break;
        }
        for (auto& f : p.items)  // a batch nobody asked for (a jump): let it finish, drop it
            f.wait();
    }
    if (!cur)
        cur = impl_->submit(epoch, b, *this);
    if (prefetchNext)
    {
        int64_t ne = epoch, nb = b + 1;
        if (nb >= batchesPerEpoch())
        {
            ne = epoch + 1;
            nb = 0;
        }
        pend.push_back(impl_->submit(ne, nb, *this));
    }

    std::vector<PairSample> out;
    for (auto& f : cur->items)
    {
        std::optional<PairSample> s = f.get();
        if (s)
            out.push_back(std::move(*s));
    }
    return out;
}

int64_t PairLoader::skipped() const
{
    return impl_->skipped.load();
}

const AugmentParams& PairLoader::params() const
{
    return impl_->params;
}

}  // namespace sfnet
