// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "onnx_graph.hpp"

#include "backbone.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace sfnet
{
const char* const kSemflowOnnxDomain = "org.opencv.semflow";

std::string formatNumber(double v)
{
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    return buf;
}

OnnxGraphBuilder::OnnxGraphBuilder(onnx::GraphProto* graph, bool foldBatchNorm, bool fp16Weights)
    : g_(graph), fold_(foldBatchNorm), fp16_(fp16Weights)
{
}

std::string OnnxGraphBuilder::initializer(const std::string& name, const torch::Tensor& value)
{
    const torch::Tensor t = value.detach().to(torch::kCPU, torch::kFloat).contiguous();
    if (!torch::isfinite(t).all().item<bool>())
        throw std::runtime_error("cannot export: '" + name + "' holds NaN or Inf values (a diverged training run?)");
    if (fp16_)
    {
        // FP16 storage: the initializer "<name>.fp16" and a Cast to FLOAT named <name>, so
        // that the graph stays well typed (every consumer still sees a float tensor).
        const double maxAbs = t.numel() ? t.abs().max().item<double>() : 0.0;
        if (maxAbs > 65504.0)
            throw std::runtime_error("cannot export with --fp16: '" + name + "' holds " + formatNumber(maxAbs) +
                                     ", beyond FP16's largest finite value 65504");
        const torch::Tensor h = t.to(torch::kHalf).contiguous();
        onnx::TensorProto* p = g_->add_initializer();
        p->set_name(name + ".fp16");
        p->set_data_type(onnx::TensorProto::FLOAT16);
        for (int64_t d : h.sizes())
            p->add_dims(d);
        p->set_raw_data(std::string(static_cast<const char*>(h.data_ptr()),
                                    static_cast<size_t>(h.numel()) * sizeof(uint16_t)));
        attr(node("Cast", {name + ".fp16"}, {name}), "to", static_cast<int64_t>(onnx::TensorProto::FLOAT));
        return name;
    }
    return float32Initializer(name, t);
}

std::string OnnxGraphBuilder::float32Initializer(const std::string& name, const torch::Tensor& t)
{
    onnx::TensorProto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : t.sizes())
        p->add_dims(d);
    p->set_raw_data(std::string(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * sizeof(float)));
    return name;
}

std::string OnnxGraphBuilder::constant(const std::string& name, const std::vector<float>& values,
                                       const std::vector<int64_t>& dims)
{
    // FP32 also with fp16Weights: a handful of numbers, and a Resize's scales behind a Cast is no
    // constant to an importer that reads it before folding casts (OpenCV 5.1 then fails at run time).
    for (float v : values)
        if (!std::isfinite(v))
            throw std::runtime_error("cannot export: '" + name + "' holds NaN or Inf values");
    return float32Initializer(name, torch::tensor(values).reshape(dims));
}

std::string OnnxGraphBuilder::int64Constant(const std::string& name, const std::vector<int64_t>& values)
{
    onnx::TensorProto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::INT64);
    p->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values)
        p->add_int64_data(v);
    return name;
}

onnx::NodeProto* OnnxGraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                        const std::vector<std::string>& outputs, const std::string& domain)
{
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(outputs.at(0));
    if (!domain.empty())
        n->set_domain(domain);
    for (const auto& i : inputs)
        n->add_input(i);
    for (const auto& o : outputs)
        n->add_output(o);
    return n;
}

namespace
{
onnx::AttributeProto* newAttr(onnx::NodeProto* n, const std::string& name, onnx::AttributeProto::AttributeType type)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
}
}  // namespace

void OnnxGraphBuilder::attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v)
{
    auto* a = newAttr(n, name, onnx::AttributeProto::INTS);
    for (int64_t x : v)
        a->add_ints(x);
}
void OnnxGraphBuilder::attr(onnx::NodeProto* n, const std::string& name, int64_t v)
{
    newAttr(n, name, onnx::AttributeProto::INT)->set_i(v);
}
void OnnxGraphBuilder::attr(onnx::NodeProto* n, const std::string& name, float v)
{
    newAttr(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
}
void OnnxGraphBuilder::attr(onnx::NodeProto* n, const std::string& name, const std::string& v)
{
    newAttr(n, name, onnx::AttributeProto::STRING)->set_s(v);
}

std::string OnnxGraphBuilder::unary(const std::string& op, const std::string& x, const std::string& out)
{
    node(op, {x}, {out});
    return out;
}

std::string OnnxGraphBuilder::add(const std::string& a, const std::string& b, const std::string& out)
{
    node("Add", {a, b}, {out});
    return out;
}

std::string OnnxGraphBuilder::convBn(const std::string& x, torch::nn::Conv2dImpl& conv,
                                     torch::nn::BatchNorm2dImpl* bn, const std::string& convName,
                                     const std::string& bnName, std::vector<int64_t> pads)
{
    const torch::Tensor w = conv.weight.detach();
    const int64_t k = w.size(2);
    const int64_t stride = (*conv.options.stride())[0];
    if (pads.empty())
        pads.assign(4, k / 2);
    std::vector<std::string> inputs = {x};
    std::string out = convName;
    if (bn && fold_)
    {
        torch::NoGradGuard noGrad;
        // Fold in double: the product of two float roundings would show in the parity test.
        const torch::Tensor scale = bn->weight.detach().to(torch::kDouble) /
                                    torch::sqrt(bn->running_var.to(torch::kDouble) + bn->options.eps());
        const torch::Tensor wf = w.to(torch::kDouble) * scale.view({-1, 1, 1, 1});
        torch::Tensor b0 = conv.bias.defined() ? conv.bias.detach().to(torch::kDouble) : torch::zeros_like(scale);
        const torch::Tensor bf =
            (b0 - bn->running_mean.to(torch::kDouble)) * scale + bn->bias.detach().to(torch::kDouble);
        inputs.push_back(initializer(convName + ".weight", wf));
        inputs.push_back(initializer(convName + ".bias", bf));
        out = convName + "+bn";
    }
    else
    {
        inputs.push_back(initializer(convName + ".weight", w));
        if (conv.bias.defined())
            inputs.push_back(initializer(convName + ".bias", conv.bias));
    }
    onnx::NodeProto* n = node("Conv", inputs, {out});
    // OpenCV's importer needs kernel_shape even though ONNX can infer it from W.
    attr(n, "kernel_shape", std::vector<int64_t>{k, w.size(3)});
    attr(n, "strides", std::vector<int64_t>{stride, stride});
    attr(n, "pads", pads);
    attr(n, "dilations", std::vector<int64_t>{1, 1});
    attr(n, "group", static_cast<int64_t>(conv.options.groups()));
    if (!bn || fold_)
        return out;

    onnx::NodeProto* b = node("BatchNormalization",
                              {out, initializer(bnName + ".weight", bn->weight), initializer(bnName + ".bias", bn->bias),
                               initializer(bnName + ".running_mean", bn->running_mean),
                               initializer(bnName + ".running_var", bn->running_var)},
                              {bnName});
    attr(b, "epsilon", static_cast<float>(bn->options.eps()));
    attr(b, "momentum", static_cast<float>(1.0 - bn->options.momentum().value_or(0.1)));
    return bnName;
}

std::string OnnxGraphBuilder::relu6(const std::string& x, const std::string& out)
{
    onnx::NodeProto* n = node("ConstantClip", {x}, {out}, kSemflowOnnxDomain);
    attr(n, "min", 0.f);
    attr(n, "max", 6.f);
    return out;
}

std::vector<int64_t> OnnxGraphBuilder::samePads(int64_t k, int64_t s)
{
    const auto p = samePadding(2 * s * 8, k, s);  // any multiple of 2s gives the same pads
    return {p.first, p.first, p.second, p.second};
}

}  // namespace sfnet
