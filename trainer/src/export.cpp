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

// [2N, C, h, w] -> its first N images and its last N, without a Split of the batch axis:
// Reshape to [2, N*C, h, w], Split axis 0 in two, Reshape each back to [N, C, h, w].
// OpenCV 4.14 infers shapes while importing; its Add/Sum of two tensors whose batch size
// is symbolic reports a batch axis that a 2-way Split rejects ("splits > 0 &&
// inpShape[axis_rw] % splits == 0", slice_layer.cpp), while the leading 2 here is exact.
// Both reshapes only relabel the same contiguous memory, so the values are unchanged.
void splitPairs(OnnxGraphBuilder& b, const std::string& x, int64_t channels, const std::string& first,
                const std::string& second)
{
    b.node("Reshape", {x, b.int64Constant(x + ".pairs_shape", {2, -1, 0, 0})}, {x + ".pairs"});
    onnx::NodeProto* split = b.node("Split", {x + ".pairs"}, {first + ".pair", second + ".pair"});
    OnnxGraphBuilder::attr(split, "axis", static_cast<int64_t>(0));
    const std::string shape = b.int64Constant(x + ".batch_shape", {-1, channels, 0, 0});
    b.node("Reshape", {first + ".pair", shape}, {first});
    b.node("Reshape", {second + ".pair", shape}, {second});
}
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

    OnnxGraphBuilder b(g, options.foldBatchNorm, options.fp16Weights);

    // Both images through the backbone as one batch of 2N.
    OnnxGraphBuilder::attr(b.node("Concat", {"source", "target"}, {"images"}), "axis",
                       static_cast<int64_t>(0));
    // The backbone's mean/std as one BatchNormalization: (x - mean) / sqrt(var + eps) with
    // var = std^2, eps = 0. OpenCV 4.6 turns Sub/Div by a [1,3,1,1] constant into a Scale layer
    // that fails a shape assertion at run time when the input's shape is symbolic.
    const InputNormalization inNorm = model->backbone().inputNormalization();
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
    OnnxGraphBuilder::attr(norm, "epsilon", 0.f);

    const auto levels = model->backbone().exportOnnx(b, "images_normalized", "backbone");
    const std::string f3 = levels.first, f4 = levels.second;

    const std::string a3 = model->adaptation3()->exportOnnx(b, f3, "adap_layer_feat3");
    const std::string a4 = model->adaptation4()->exportOnnx(b, f4, "adap_layer_feat4");
    onnx::NodeProto* up =
        b.node("Resize",
               {a4, b.constant("upsample.roi", {}, {0}), b.constant("upsample.scales", {1, 1, 2, 2}, {4})},
               {"feat4"});
    OnnxGraphBuilder::attr(up, "mode", std::string("linear"));
    OnnxGraphBuilder::attr(up, "coordinate_transformation_mode", std::string("align_corners"));

    splitPairs(b, a3, c3, "feat3_source", "feat3_target");
    splitPairs(b, "feat4", c4, "feat4_source", "feat4_target");

    auto direction = [&](const std::string& from, const std::string& to, const std::string& tag) {
        for (const char* level : {"3", "4"})
        {
            onnx::NodeProto* c = b.node("Correlation",
                                        {std::string("feat") + level + "_" + from,
                                         std::string("feat") + level + "_" + to},
                                        {std::string("corr") + level + "_" + tag}, kSemflowOnnxDomain);
            OnnxGraphBuilder::attr(c, "normalize", static_cast<int64_t>(1));
            OnnxGraphBuilder::attr(c, "relu", static_cast<int64_t>(1));
        }
        b.node("Mul", {"corr3_" + tag, "corr4_" + tag}, {"corr_" + tag});
        onnx::NodeProto* k = b.node("KernelSoftArgmax", {"corr_" + tag, "feat3_" + to},
                                    {"grid_" + tag}, kSemflowOnnxDomain);
        OnnxGraphBuilder::attr(k, "beta", static_cast<float>(cfg.beta));
        OnnxGraphBuilder::attr(k, "sigma", static_cast<float>(cfg.sigma));
        OnnxGraphBuilder::attr(k, "normalize", static_cast<int64_t>(1));
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
