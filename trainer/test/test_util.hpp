// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Helpers shared by the trainer tests: tensor <-> cv::Mat blobs, temporary files,
// non-trivial BatchNorm statistics for random-weight models.

#include "model.hpp"
#include "pth_reader.hpp"

#include <opencv2/core.hpp>

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

namespace sfnet_test
{

//! A contiguous float CPU tensor as an N-D CV_32F blob (deep copy).
inline cv::Mat toBlob(const torch::Tensor& t)
{
    const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    std::vector<int> sizes(c.sizes().begin(), c.sizes().end());
    return cv::Mat(static_cast<int>(sizes.size()), sizes.data(), CV_32F, c.data_ptr()).clone();
}

//! An N-D CV_32F blob as a float tensor (deep copy).
inline torch::Tensor fromBlob(const cv::Mat& m)
{
    CV_Assert(m.type() == CV_32F && m.isContinuous());
    std::vector<int64_t> sizes(m.size.p, m.size.p + m.dims);
    return torch::from_blob(m.data, sizes, torch::kFloat).clone();
}

//! max |a - b|
inline double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

//! max |a - b| / max |b|: features of random-weight backbones span orders of magnitude.
inline double maxRelDiff(const torch::Tensor& a, const torch::Tensor& ref)
{
    return maxAbsDiff(a, ref) / std::max(1e-30, ref.to(torch::kDouble).abs().max().item<double>());
}

//! A unique path under /tmp (the file is not created).
inline std::string tempPath(const std::string& stem)
{
    static int counter = 0;
    return "/tmp/sfnet_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + stem;
}

//! Gives every BatchNorm non-trivial affine parameters and running statistics, so that
//! export parity tests exercise the normalisation (fresh layers are the identity).
inline void randomizeBatchNorm(torch::nn::Module& model)
{
    torch::NoGradGuard noGrad;
    for (auto& m : model.modules(false))
    {
        if (auto* bn = m->as<torch::nn::BatchNorm2d>())
        {
            bn->weight.uniform_(0.5, 1.5);
            bn->bias.uniform_(-0.2, 0.2);
            bn->running_mean.normal_(0.0, 0.2);
            bn->running_var.uniform_(0.5, 2.0);
        }
    }
}

//! Every parameter and buffer of @p m with its name, in the module's order.
inline std::vector<std::pair<std::string, torch::Tensor>> stateOf(sfnet::SFNet& m)
{
    std::vector<std::pair<std::string, torch::Tensor>> s;
    for (const auto& p : m->named_parameters())
        s.emplace_back(p.key(), p.value());
    for (const auto& b : m->named_buffers())
        s.emplace_back(b.key(), b.value());
    return s;
}

/** Every registered backbone name, after registering the test's own one-file backbone
"test_plain" (plain_backbone.cpp). The parity and import tests loop over it. */
const std::vector<std::string>& everyBackboneForTests();

/// A tensor as the torch.save reader returns it (float32 or int64, shape kept): state dicts for import tests.
inline sfnet::NamedArray namedArrayOf(const std::string& name, const torch::Tensor& t)
{
    sfnet::NamedArray a;
    a.name = name;
    a.shape = t.sizes().vec();
    const torch::Tensor c = t.detach().contiguous();
    if (c.is_floating_point())
    {
        a.dtype = sfnet::PthDType::Float32;
        a.f32.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    }
    else
    {
        a.dtype = sfnet::PthDType::Int64;
        a.i64.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    }
    return a;
}

/// The model's backbone as its concrete class (tests that check one architecture's layout).
template <class B>
B& backboneAs(sfnet::SFNet& model)
{
    return dynamic_cast<B&>(model->backbone());
}

}  // namespace sfnet_test
