// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "export.hpp"

#include "atomic_file.hpp"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <vector>

#ifndef SEMFLOW_VERSION
#define SEMFLOW_VERSION "unknown"
#endif

namespace sfnet
{
const char* const kSemflowOnnxDomain = "org.opencv.semflow";

namespace
{
// ONNX 1.6: the first IR version that pairs with opset 11.
const int64_t kIrVersion = 6;
const int64_t kOpset = 11;

// --------------------------------------------------------------------------------------
// Operator schemas (modules/semflow/doc/onnx_ops.md is normative; these make onnx::checker and shape
// inference understand the nodes instead of skipping them).

void inferCorrelation(onnx::InferenceContext& ctx)
{
    onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
    if (!onnx::hasInputShape(ctx, 0) || !onnx::hasInputShape(ctx, 1))
        return;
    const auto& s = onnx::getInputShape(ctx, 0);
    const auto& t = onnx::getInputShape(ctx, 1);
    if (s.dim_size() != 4 || t.dim_size() != 4)
        fail_shape_inference("Correlation expects 4-D inputs [N,C,H,W]");
    auto* out = onnx::getOutputShape(ctx, 0);
    *out->add_dim() = s.dim(0);
    auto* hw = out->add_dim();
    if (t.dim(2).has_dim_value() && t.dim(3).has_dim_value())
        hw->set_dim_value(t.dim(2).dim_value() * t.dim(3).dim_value());
    *out->add_dim() = s.dim(2);
    *out->add_dim() = s.dim(3);
}

void inferKernelSoftArgmax(onnx::InferenceContext& ctx)
{
    onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
    if (!onnx::hasInputShape(ctx, 0))
        return;
    const auto& c = onnx::getInputShape(ctx, 0);
    if (c.dim_size() != 4)
        fail_shape_inference("KernelSoftArgmax expects a 4-D correlation [N,Ht*Wt,Hs,Ws]");
    auto* out = onnx::getOutputShape(ctx, 0);
    *out->add_dim() = c.dim(0);
    out->add_dim()->set_dim_value(2);
    *out->add_dim() = c.dim(2);
    *out->add_dim() = c.dim(3);
}

void registerSchemasOnce()
{
    auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance();
    if (!ranges.Map().count(kSemflowOnnxDomain))
        ranges.AddDomainToVersion(kSemflowOnnxDomain, 1, 1);

    if (!onnx::OpSchemaRegistry::Schema("Correlation", 1, kSemflowOnnxDomain))
    {
        onnx::OpSchema s("Correlation", __FILE__, __LINE__);
        s.SetDomain(kSemflowOnnxDomain)
            .SinceVersion(1)
            .SetDoc("Dense cosine correlation: C[n, yt*Wt+xt, ys, xs] = ReLU(<fs_hat, ft_hat>), "
                    "features L2-normalised over channels (eps 1e-6). See modules/semflow/doc/onnx_ops.md.")
            .Input(0, "source", "source features [N, C, Hs, Ws]", "T")
            .Input(1, "target", "target features [N, C, Ht, Wt]", "T")
            .Output(0, "correlation", "[N, Ht*Wt, Hs, Ws], channel = target index", "T")
            .Attr("normalize", "L2-normalise feature vectors over channels first",
                  onnx::AttributeProto::INT, static_cast<int64_t>(1))
            .Attr("relu", "clamp negative correlations to 0", onnx::AttributeProto::INT,
                  static_cast<int64_t>(1))
            .TypeConstraint("T", {"tensor(float)"}, "float32 tensors")
            .TypeAndShapeInferenceFunction(inferCorrelation);
        onnx::OpSchemaRegistry::OpSchemaRegisterOnce registerCorrelation(s);
    }
    if (!onnx::OpSchemaRegistry::Schema("KernelSoftArgmax", 1, kSemflowOnnxDomain))
    {
        onnx::OpSchema s("KernelSoftArgmax", __FILE__, __LINE__);
        s.SetDomain(kSemflowOnnxDomain)
            .SinceVersion(1)
            .SetDoc("Kernel soft argmax over a correlation volume: for every source position the "
                    "expected normalised target position (x, y) under softmax(beta * k * c), k a "
                    "Gaussian window (sigma) around the argmax. See modules/semflow/doc/onnx_ops.md.")
            .Input(0, "correlation", "[N, Ht*Wt, Hs, Ws]", "T")
            .Input(1, "target_grid", "any [*, *, Ht, Wt] tensor giving the target grid size",
                   "T", onnx::OpSchema::Optional)
            .Output(0, "grid", "[N, 2, Hs, Ws], normalised (x, y), align_corners=True", "T")
            .Attr("beta", "softmax temperature; <= 0 selects the hard argmax",
                  onnx::AttributeProto::FLOAT, 50.0f)
            .Attr("sigma", "Gaussian window width in target cells; <= 0 disables it",
                  onnx::AttributeProto::FLOAT, 5.0f)
            .Attr("normalize", "L2-normalise each correlation column over target positions first",
                  onnx::AttributeProto::INT, static_cast<int64_t>(1))
            .TypeConstraint("T", {"tensor(float)"}, "float32 tensors")
            .TypeAndShapeInferenceFunction(inferKernelSoftArgmax);
        onnx::OpSchemaRegistry::OpSchemaRegisterOnce registerKsa(s);
    }
    if (!onnx::OpSchemaRegistry::Schema("ConstantClip", 1, kSemflowOnnxDomain))
    {
        onnx::OpSchema s("ConstantClip", __FILE__, __LINE__);
        s.SetDomain(kSemflowOnnxDomain)
            .SinceVersion(1)
            .SetDoc("y = min(max(x, min), max) element-wise, the bounds as attributes (ai.onnx Clip-6). "
                    "See modules/semflow/doc/onnx_ops.md.")
            .Input(0, "input", "any tensor", "T")
            .Output(0, "output", "same shape as the input", "T")
            .Attr("min", "lower bound", onnx::AttributeProto::FLOAT)
            .Attr("max", "upper bound, >= min", onnx::AttributeProto::FLOAT)
            .TypeConstraint("T", {"tensor(float)"}, "float32 tensors")
            .TypeAndShapeInferenceFunction(onnx::propagateShapeAndTypeFromFirstInput);
        onnx::OpSchemaRegistry::OpSchemaRegisterOnce registerClip(s);
    }
}

// --------------------------------------------------------------------------------------
// Graph construction

void setShape(onnx::ValueInfoProto* vi, const std::vector<std::string>& dims,
              const std::string& doc)
{
    vi->set_doc_string(doc);
    auto* tensor = vi->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = tensor->mutable_shape();
    for (const std::string& d : dims)
    {
        auto* dim = shape->add_dim();
        if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
            dim->set_dim_value(std::stoll(d));
        else
            dim->set_dim_param(d);
    }
}

std::string formatNumber(double v)
{
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    return buf;
}

class GraphBuilder
{
public:
    GraphBuilder(onnx::GraphProto* graph, bool foldBn, bool fp16 = false) : g_(graph), fold_(foldBn), fp16_(fp16) {}

    std::string initializer(const std::string& name, const torch::Tensor& value)
    {
        const torch::Tensor t = value.detach().to(torch::kCPU, torch::kFloat).contiguous();
        if (!torch::isfinite(t).all().item<bool>())
            throw std::runtime_error("cannot export: '" + name +
                                     "' holds NaN or Inf values (a diverged training run?)");
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
        onnx::TensorProto* p = g_->add_initializer();
        p->set_name(name);
        p->set_data_type(onnx::TensorProto::FLOAT);
        for (int64_t d : t.sizes())
            p->add_dims(d);
        p->set_raw_data(std::string(static_cast<const char*>(t.data_ptr()),
                                    static_cast<size_t>(t.numel()) * sizeof(float)));
        return name;
    }

    std::string constant(const std::string& name, const std::vector<float>& values,
                         const std::vector<int64_t>& dims)
    {
        return initializer(name, torch::tensor(values).reshape(dims));
    }

    onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& domain = "")
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

    static void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (int64_t x : v)
            a->add_ints(x);
    }
    static void attr(onnx::NodeProto* n, const std::string& name, int64_t v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void attr(onnx::NodeProto* n, const std::string& name, float v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    static void attr(onnx::NodeProto* n, const std::string& name, const std::string& v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(v);
    }

    std::string unary(const std::string& op, const std::string& x, const std::string& out)
    {
        node(op, {x}, {out});
        return out;
    }

    std::string add(const std::string& a, const std::string& b, const std::string& out)
    {
        node("Add", {a, b}, {out});
        return out;
    }

    // Conv (+ BatchNorm, folded or as its own node). `convName`/`bnName` are the PyTorch
    // module paths, used to name initializers and node outputs.
    // `pads` is ONNX's [top, left, bottom, right]; empty: k/2 on every side, which is what
    // every ResNet and adaptation convolution uses (7x7: 3, 5x5: 2, 3x3: 1, 1x1: 0).
    std::string convBn(const std::string& x, torch::nn::Conv2dImpl& conv,
                       torch::nn::BatchNorm2dImpl* bn, const std::string& convName,
                       const std::string& bnName, std::vector<int64_t> pads = {})
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
            const torch::Tensor scale =
                bn->weight.detach().to(torch::kDouble) /
                torch::sqrt(bn->running_var.to(torch::kDouble) + bn->options.eps());
            const torch::Tensor wf = w.to(torch::kDouble) * scale.view({-1, 1, 1, 1});
            torch::Tensor b0 = conv.bias.defined() ? conv.bias.detach().to(torch::kDouble)
                                                   : torch::zeros_like(scale);
            const torch::Tensor bf = (b0 - bn->running_mean.to(torch::kDouble)) * scale +
                                     bn->bias.detach().to(torch::kDouble);
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
                                  {out, initializer(bnName + ".weight", bn->weight),
                                   initializer(bnName + ".bias", bn->bias),
                                   initializer(bnName + ".running_mean", bn->running_mean),
                                   initializer(bnName + ".running_var", bn->running_var)},
                                  {bnName});
        attr(b, "epsilon", static_cast<float>(bn->options.eps()));
        attr(b, "momentum", static_cast<float>(1.0 - bn->options.momentum().value_or(0.1)));
        return bnName;
    }

    std::string block(const std::string& x, ResidualBlockImpl& b, const std::string& p)
    {
        std::string y = unary("Relu", convBn(x, *b.conv1, b.bn1.get(), p + ".conv1", p + ".bn1"),
                              p + ".relu1");
        y = convBn(y, *b.conv2, b.bn2.get(), p + ".conv2", p + ".bn2");
        if (b.bottleneck)
            y = convBn(unary("Relu", y, p + ".relu2"), *b.conv3, b.bn3.get(), p + ".conv3",
                       p + ".bn3");
        std::string shortcut = x;
        if (b.downsample)
            shortcut = convBn(x, *b.downsample->ptr(0)->as<torch::nn::Conv2d>(),
                              b.downsample->ptr(1)->as<torch::nn::BatchNorm2d>(),
                              p + ".downsample.0", p + ".downsample.1");
        return unary("Relu", add(y, shortcut, p + ".add"), p + ".out");
    }

    // ReLU6 as org.opencv.semflow.ConstantClip(0, 6), which cv::semflow::registerLayers() maps to OpenCV's
    // ReLU6 layer, fused into the convolution before it. Not the standard Clip: opset 11 gives
    // its bounds as inputs, which OpenCV 4.6's importer rejects (it reads only the attributes
    // of Clip-6). doc/benchmarks.md measures the four-layer Relu(x) - Relu(x - 6) it replaces.
    std::string relu6(const std::string& x, const std::string& out)
    {
        onnx::NodeProto* n = node("ConstantClip", {x}, {out}, kSemflowOnnxDomain);
        attr(n, "min", 0.f);
        attr(n, "max", 6.f);
        return out;
    }

    // TensorFlow "SAME" pads of a stride-s convolution for input sides that are multiples of
    // 2s (every EfficientNet convolution sees an even side when H and W are multiples of 32):
    // then the total k - s is the same for every such size, so constant pads serve all of them.
    static std::vector<int64_t> samePads(int64_t k, int64_t s)
    {
        const auto p = samePadding(2 * s * 8, k, s);  // any multiple of 2s gives the same pads
        return {p.first, p.first, p.second, p.second};
    }

    std::string mbconv(const std::string& x, MBConvBlockImpl& b, const std::string& p)
    {
        std::string y = x;
        if (b.expandConv)
            y = relu6(convBn(y, *b.expandConv, b.bn0.get(), p + "._expand_conv", p + "._bn0"),
                      p + ".relu0");
        y = relu6(convBn(y, *b.depthwiseConv, b.bn1.get(), p + "._depthwise_conv", p + "._bn1",
                         samePads(b.kernel, b.stride)),
                  p + ".relu1");
        y = convBn(y, *b.projectConv, b.bn2.get(), p + "._project_conv", p + "._bn2");
        return b.skip ? add(y, x, p + ".add") : y;
    }

    std::string adaptation(const std::string& x, AdaptationLayerImpl& a, const std::string& p)
    {
        std::string y = x;
        int i = 1;
        for (torch::nn::Sequential* step : {&a.conv1, &a.conv2})
        {
            const std::string s = p + ".conv" + std::to_string(i++);
            const std::string r =
                unary("Relu",
                      convBn(y, *(*step)->ptr(0)->as<torch::nn::Conv2d>(),
                             (*step)->ptr(1)->as<torch::nn::BatchNorm2d>(), s + ".0", s + ".1"),
                      s + ".2");
            y = add(y, r, s + ".add");
        }
        return y;
    }

    // [2N, C, h, w] -> its first N images and its last N, without a Split of the batch axis:
    // Reshape to [2, N*C, h, w], Split axis 0 in two, Reshape each back to [N, C, h, w].
    // OpenCV 4.14 infers shapes while importing; its Add/Sum of two tensors whose batch size
    // is symbolic reports a batch axis that a 2-way Split rejects ("splits > 0 &&
    // inpShape[axis_rw] % splits == 0", slice_layer.cpp), while the leading 2 here is exact.
    // Both reshapes only relabel the same contiguous memory, so the values are unchanged.
    void splitPairs(const std::string& x, int64_t channels, const std::string& first,
                    const std::string& second)
    {
        node("Reshape", {x, int64Constant(x + ".pairs_shape", {2, -1, 0, 0})}, {x + ".pairs"});
        onnx::NodeProto* split = node("Split", {x + ".pairs"}, {first + ".pair", second + ".pair"});
        attr(split, "axis", static_cast<int64_t>(0));
        const std::string shape = int64Constant(x + ".batch_shape", {-1, channels, 0, 0});
        node("Reshape", {first + ".pair", shape}, {first});
        node("Reshape", {second + ".pair", shape}, {second});
    }

private:
    std::string int64Constant(const std::string& name, const std::vector<int64_t>& values)
    {
        onnx::TensorProto* p = g_->add_initializer();
        p->set_name(name);
        p->set_data_type(onnx::TensorProto::INT64);
        p->add_dims(static_cast<int64_t>(values.size()));
        for (int64_t v : values)
            p->add_int64_data(v);
        return name;
    }

    onnx::GraphProto* g_;
    bool fold_;
    bool fp16_;
};
}  // namespace

void registerOnnxSchemas()
{
    static std::once_flag once;
    std::call_once(once, registerSchemasOnce);
}

onnx::ModelProto buildOnnxModel(SFNet& model, const ExportOptions& options)
{
    registerOnnxSchemas();
    torch::NoGradGuard noGrad;
    const ModelConfig& cfg = model->config();
    const int64_t c3 = model->channels3(), c4 = model->channels4();

    onnx::ModelProto m;
    m.set_ir_version(kIrVersion);
    m.set_producer_name("semflow sfnet export");
    m.set_producer_version(SEMFLOW_VERSION);
    m.set_domain("org.opencv.semflow");
    m.set_model_version(1);
    m.set_doc_string("SFNet (Lee et al., CVPR 2019) dense semantic flow; see modules/semflow/doc/onnx_ops.md");
    auto* opsetDefault = m.add_opset_import();
    opsetDefault->set_domain("");
    opsetDefault->set_version(kOpset);
    auto* opsetSemflow = m.add_opset_import();
    opsetSemflow->set_domain(kSemflowOnnxDomain);
    opsetSemflow->set_version(1);
    auto meta = [&](const std::string& key, const std::string& value) {
        auto* p = m.add_metadata_props();
        p->set_key(key);
        p->set_value(value);
    };
    meta("semflow.backbone", cfg.backbone);
    meta("semflow.beta", formatNumber(cfg.beta));
    meta("semflow.sigma", formatNumber(cfg.sigma));
    meta("semflow.train_height", std::to_string(cfg.trainHeight));
    meta("semflow.train_width", std::to_string(cfg.trainWidth));
    meta("semflow.feature_stride", "16");
    meta("semflow.trainer_version", SEMFLOW_VERSION);
    if (options.fp16Weights)
        meta("semflow.weights", "float16");

    onnx::GraphProto* g = m.mutable_graph();
    g->set_name("sfnet_" + cfg.backbone);
    setShape(g->add_input(), {"N", "3", "H", "W"}, "");
    g->mutable_input(0)->set_name("source");
    g->mutable_input(0)->set_doc_string("source images, RGB in [0,1], H and W multiples of 32");
    setShape(g->add_input(), {"N", "3", "H", "W"}, "");
    g->mutable_input(1)->set_name("target");
    g->mutable_input(1)->set_doc_string("target images, RGB in [0,1], same size as source");

    GraphBuilder b(g, options.foldBatchNorm, options.fp16Weights);

    // Both images through the backbone as one batch of 2N.
    GraphBuilder::attr(b.node("Concat", {"source", "target"}, {"images"}), "axis",
                       static_cast<int64_t>(0));
    // The backbone's mean/std as one BatchNormalization: (x - mean) / sqrt(var + eps) with
    // var = std^2, eps = 0. OpenCV 4.6 turns Sub/Div by a [1,3,1,1] constant into a Scale layer
    // that fails a shape assertion at run time when the input's shape is symbolic.
    const InputNormalization inNorm = inputNormalization(cfg.backbone);
    std::vector<float> mean, var;
    for (int c = 0; c < 3; ++c)
    {
        mean.push_back(static_cast<float>(inNorm.mean[c]));
        var.push_back(static_cast<float>(inNorm.stdev[c] * inNorm.stdev[c]));
    }
    onnx::NodeProto* norm = b.node(
        "BatchNormalization",
        {"images", b.constant("preprocess.scale", {1.f, 1.f, 1.f}, {3}),
         b.constant("preprocess.bias", {0.f, 0.f, 0.f}, {3}), b.constant("preprocess.mean", mean, {3}),
         b.constant("preprocess.var", var, {3})},
        {"images_normalized"});
    GraphBuilder::attr(norm, "epsilon", 0.f);

    std::string x, f3;
    if (model->resnet())
    {
        ResNetImpl& net = *model->resnet();
        x = b.unary("Relu",
                    b.convBn("images_normalized", *net.conv1, net.bn1.get(), "backbone.conv1", "backbone.bn1"),
                    "backbone.relu");
        onnx::NodeProto* pool = b.node("MaxPool", {x}, {"backbone.maxpool"});
        GraphBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{3, 3});
        GraphBuilder::attr(pool, "strides", std::vector<int64_t>{2, 2});
        GraphBuilder::attr(pool, "pads", std::vector<int64_t>{1, 1, 1, 1});
        x = "backbone.maxpool";
        for (size_t l = 0; l < net.layers.size(); ++l)
        {
            for (size_t i = 0; i < net.layers[l].size(); ++i)
                x = b.block(x, *net.layers[l][i],
                            "backbone.layer" + std::to_string(l + 1) + "." + std::to_string(i));
            if (l == 2)
                f3 = x;
        }
    }
    else
    {
        EfficientNetLiteImpl& net = *model->efficientNet();
        const int64_t stemStride = (*net.convStem->options.stride())[0];
        x = b.relu6(b.convBn("images_normalized", *net.convStem, net.bn0.get(), "backbone._conv_stem",
                             "backbone._bn0", GraphBuilder::samePads(net.convStem->weight.size(2), stemStride)),
                    "backbone.relu0");
        for (size_t i = 0; i < net.blocks.size(); ++i)
        {
            x = b.mbconv(x, *net.blocks[i], "backbone._blocks." + std::to_string(i));
            if (int64_t(i) == net.level3Block)
                f3 = x;
        }
    }
    const std::string f4 = x;

    const std::string a3 = b.adaptation(f3, *model->adaptation3(), "adap_layer_feat3");
    const std::string a4 = b.adaptation(f4, *model->adaptation4(), "adap_layer_feat4");
    onnx::NodeProto* up =
        b.node("Resize",
               {a4, b.constant("upsample.roi", {}, {0}), b.constant("upsample.scales", {1, 1, 2, 2}, {4})},
               {"feat4"});
    GraphBuilder::attr(up, "mode", std::string("linear"));
    GraphBuilder::attr(up, "coordinate_transformation_mode", std::string("align_corners"));

    b.splitPairs(a3, c3, "feat3_source", "feat3_target");
    b.splitPairs("feat4", c4, "feat4_source", "feat4_target");

    auto direction = [&](const std::string& from, const std::string& to, const std::string& tag) {
        for (const char* level : {"3", "4"})
        {
            onnx::NodeProto* c = b.node("Correlation",
                                        {std::string("feat") + level + "_" + from,
                                         std::string("feat") + level + "_" + to},
                                        {std::string("corr") + level + "_" + tag}, kSemflowOnnxDomain);
            GraphBuilder::attr(c, "normalize", static_cast<int64_t>(1));
            GraphBuilder::attr(c, "relu", static_cast<int64_t>(1));
        }
        b.node("Mul", {"corr3_" + tag, "corr4_" + tag}, {"corr_" + tag});
        onnx::NodeProto* k = b.node("KernelSoftArgmax", {"corr_" + tag, "feat3_" + to},
                                    {"grid_" + tag}, kSemflowOnnxDomain);
        GraphBuilder::attr(k, "beta", static_cast<float>(cfg.beta));
        GraphBuilder::attr(k, "sigma", static_cast<float>(cfg.sigma));
        GraphBuilder::attr(k, "normalize", static_cast<int64_t>(1));
    };
    direction("source", "target", "s2t");
    direction("target", "source", "t2s");

    // OpenCV 4.6's importer asserts on graph outputs without a shape.
    const std::string c3s = std::to_string(c3), c4s = std::to_string(c4);
    const char* gridDoc = "matched position (x, y) normalised over the other image's feature grid "
                          "(align_corners=True), one per feature cell; h = H/16, w = W/16";
    auto output = [&](const std::string& name, const std::vector<std::string>& dims,
                      const std::string& doc) {
        onnx::ValueInfoProto* vi = g->add_output();
        vi->set_name(name);
        setShape(vi, dims, doc);
    };
    output("grid_s2t", {"N", "2", "h", "w"}, std::string("source to target: ") + gridDoc);
    output("grid_t2s", {"N", "2", "h", "w"}, std::string("target to source: ") + gridDoc);
    output("feat3_source", {"N", c3s, "h", "w"}, "adapted level-3 features of the source");
    output("feat3_target", {"N", c3s, "h", "w"}, "adapted level-3 features of the target");
    output("feat4_source", {"N", c4s, "h", "w"},
           "adapted level-4 features of the source, upsampled x2 (bilinear, align_corners)");
    output("feat4_target", {"N", c4s, "h", "w"},
           "adapted level-4 features of the target, upsampled x2 (bilinear, align_corners)");

    try
    {
        onnx::checker::check_model(m);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error(std::string("the exported graph fails onnx::checker: ") + e.what());
    }
    return m;
}

void exportOnnx(SFNet& model, const std::string& path, const ExportOptions& options)
{
    const onnx::ModelProto m = buildOnnxModel(model, options);
    writeFileAtomically(path, [&](int fd) {
        if (!m.SerializeToFileDescriptor(fd))
            throw std::runtime_error("cannot write '" + path + ".tmp' (disk full?)");
    });
}

}  // namespace sfnet
