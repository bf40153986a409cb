// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// ONNX export: the graph contract of modules/semflow/doc/onnx_ops.md, onnx::checker, and parity of the
// exported file run by OpenCV DNN (with the semflow layers) against the LibTorch model.

#include "backbones/efficientnet_lite.hpp"
#include "commands.hpp"
#include "export.hpp"
#include "test_util.hpp"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <opencv2/dnn.hpp>
#include <opencv2/semflow.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

namespace
{
using namespace sfnet;
using namespace sfnet_test;

SFNet randomModel(const std::string& backbone, uint64_t seed, double beta = 50, double sigma = 5)
{
    torch::manual_seed(seed);
    ModelConfig cfg;
    cfg.backbone = backbone;
    cfg.beta = beta;
    cfg.sigma = sigma;
    SFNet model(cfg);
    randomizeBatchNorm(*model);
    model->eval();
    return model;
}

std::map<std::string, std::string> metadata(const onnx::ModelProto& m)
{
    std::map<std::string, std::string> out;
    for (const auto& p : m.metadata_props())
        out[p.key()] = p.value();
    return out;
}

std::vector<std::string> dims(const onnx::ValueInfoProto& vi)
{
    std::vector<std::string> out;
    for (const auto& d : vi.type().tensor_type().shape().dim())
        out.push_back(d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
    return out;
}

onnx::ModelProto readModel(const std::string& path)
{
    onnx::ModelProto m;
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
    return m;
}

// ---- graph contract --------------------------------------------------------------------------

TEST(SfnetExport, graphFollowsTheContract)
{
    SFNet model = randomModel("tiny", 1, 40, 3);
    const onnx::ModelProto m = buildOnnxModel(model);
    const int64_t c3 = model->channels3(), c4 = model->channels4();

    std::map<std::string, int64_t> opsets;
    for (const auto& o : m.opset_import())
        opsets[o.domain()] = o.version();
    EXPECT_EQ(opsets[""], 11);
    EXPECT_EQ(opsets["org.opencv.semflow"], 1);

    const onnx::GraphProto& g = m.graph();
    ASSERT_EQ(g.input_size(), 2);
    EXPECT_EQ(g.input(0).name(), "source");
    EXPECT_EQ(g.input(1).name(), "target");
    EXPECT_EQ(dims(g.input(0)), (std::vector<std::string>{"N", "3", "H", "W"}));
    EXPECT_EQ(dims(g.input(1)), (std::vector<std::string>{"N", "3", "H", "W"}));

    const std::vector<std::pair<std::string, std::vector<std::string>>> outputs = {
        {"grid_s2t", {"N", "2", "h", "w"}},
        {"grid_t2s", {"N", "2", "h", "w"}},
        {"feat3_source", {"N", std::to_string(c3), "h", "w"}},
        {"feat3_target", {"N", std::to_string(c3), "h", "w"}},
        {"feat4_source", {"N", std::to_string(c4), "h", "w"}},
        {"feat4_target", {"N", std::to_string(c4), "h", "w"}}};
    ASSERT_EQ(g.output_size(), int(outputs.size()));
    for (int i = 0; i < g.output_size(); ++i)
    {
        EXPECT_EQ(g.output(i).name(), outputs[i].first);
        EXPECT_EQ(dims(g.output(i)), outputs[i].second) << outputs[i].first;
    }

    std::map<std::string, int> ops;
    for (const auto& n : g.node())
    {
        ops[n.domain() + ":" + n.op_type()]++;
        if (n.op_type() == "Conv")
        {
            bool hasKernel = false;
            for (const auto& a : n.attribute())
                hasKernel |= a.name() == "kernel_shape";
            EXPECT_TRUE(hasKernel) << n.name();
        }
        if (n.op_type() == "Resize")
        {
            EXPECT_EQ(n.input_size(), 3) << "opset-11 Resize with roi and scales";
        }
        if (n.op_type() == "KernelSoftArgmax")
        {
            EXPECT_EQ(n.input(1), n.output(0) == "grid_s2t" ? "feat3_target" : "feat3_source");
            for (const auto& a : n.attribute())
            {
                if (a.name() == "beta")
                {
                    EXPECT_EQ(a.f(), 40.f);
                }
                if (a.name() == "sigma")
                {
                    EXPECT_EQ(a.f(), 3.f);
                }
            }
        }
    }
    EXPECT_EQ(ops["org.opencv.semflow:Correlation"], 4);
    EXPECT_EQ(ops["org.opencv.semflow:KernelSoftArgmax"], 2);
    EXPECT_EQ(ops[":Mul"], 2);
    EXPECT_EQ(ops[":Split"], 2);
    EXPECT_EQ(ops[":Reshape"], 6);  // 2 splitPairs: [2N,C,h,w] -> [2,N*C,h,w] -> 2 x [N,C,h,w]
    EXPECT_EQ(ops[":Concat"], 1);

    // Unfolded: one BatchNormalization per BatchNorm2d module, plus the input normalisation.
    int bnModules = 0;
    for (auto& mod : model->modules(false))
        bnModules += mod->as<torch::nn::BatchNorm2d>() != nullptr;
    EXPECT_EQ(ops[":BatchNormalization"], bnModules + 1);

    auto meta = metadata(m);
    EXPECT_EQ(meta["semflow.backbone"], "tiny");
    EXPECT_EQ(meta["semflow.beta"], "40");
    EXPECT_EQ(meta["semflow.sigma"], "3");
    EXPECT_EQ(meta["semflow.train_height"], "320");
    EXPECT_EQ(meta["semflow.train_width"], "320");
    EXPECT_EQ(meta["semflow.feature_stride"], "16");
    EXPECT_EQ(meta["semflow.trainer_version"], SEMFLOW_VERSION);

    const onnx::ModelProto folded = buildOnnxModel(model, ExportOptions{true});
    int foldedBn = 0;
    for (const auto& n : folded.graph().node())
        foldedBn += n.op_type() == "BatchNormalization";
    EXPECT_EQ(foldedBn, 1) << "only the input normalisation stays a BatchNormalization";
}

// --fp16: every weight becomes "<name>.fp16" (FLOAT16, rounded to half as LibTorch rounds
// them) behind a Cast named <name>, so that the checker (run by buildOnnxModel) still sees a
// well-typed graph; the file is about half the size. The graph's own constants (the input
// normalisation, the Resize's roi and scales) stay FLOAT initializers: OpenCV 5.1 needs the
// Resize's scales as a constant, not behind a Cast.
TEST(SfnetExport, fp16WeightsHalveTheFileBehindCastNodes)
{
    SFNet model = randomModel("tiny", 9, 0, 3);
    ExportOptions o32{true}, o16{true, true};
    const onnx::ModelProto m32 = buildOnnxModel(model, o32), m16 = buildOnnxModel(model, o16);
    std::map<std::string, const onnx::TensorProto*> half;
    for (const auto& init : m16.graph().initializer())
        if (init.data_type() == onnx::TensorProto::FLOAT16)
            half[init.name()] = &init;
    const std::set<std::string> constants = {"preprocess.scale", "preprocess.bias", "preprocess.mean",
                                              "preprocess.var", "upsample.roi", "upsample.scales"};
    std::map<std::string, const onnx::TensorProto*> kept;
    for (const auto& init : m16.graph().initializer())
        if (init.data_type() == onnx::TensorProto::FLOAT)
            kept[init.name()] = &init;
    int floats = 0;
    for (const auto& init : m32.graph().initializer())
    {
        if (init.data_type() != onnx::TensorProto::FLOAT)
            continue;
        if (constants.count(init.name()))
        {
            ASSERT_TRUE(kept.count(init.name())) << init.name() << " should stay a FLOAT initializer";
            EXPECT_EQ(kept[init.name()]->raw_data(), init.raw_data()) << init.name();
            EXPECT_FALSE(half.count(init.name() + ".fp16")) << init.name();
            continue;
        }
        ++floats;
        ASSERT_TRUE(half.count(init.name() + ".fp16")) << init.name();
        const onnx::TensorProto& h = *half[init.name() + ".fp16"];
        ASSERT_EQ(h.raw_data().size() * 2, init.raw_data().size()) << init.name();
        const torch::Tensor f = torch::from_blob(const_cast<char*>(init.raw_data().data()),
                                                 {int64_t(init.raw_data().size() / 4)}, torch::kFloat);
        const torch::Tensor expect = f.to(torch::kHalf).contiguous();
        // An empty initializer has no data pointer at all: memcmp must not
        // see it (a null argument is undefined even for 0 bytes; UBSan, doc/reliability.md).
        if (expect.numel() > 0)
            EXPECT_EQ(std::memcmp(expect.data_ptr(), h.raw_data().data(), h.raw_data().size()), 0) << init.name();
    }
    EXPECT_EQ(kept.size(), constants.size());
    EXPECT_EQ(int(half.size()), floats);
    int casts = 0;
    for (const auto& n : m16.graph().node())
        casts += n.op_type() == "Cast";
    EXPECT_EQ(casts, floats);
    EXPECT_EQ(metadata(m16)["semflow.weights"], "float16");
    EXPECT_EQ(metadata(m32).count("semflow.weights"), 0u);
    const double ratio = double(m16.ByteSizeLong()) / double(m32.ByteSizeLong());
    EXPECT_GT(ratio, 0.45);
    EXPECT_LT(ratio, 0.55);

    // Beyond FP16's range: refused, naming the tensor.
    {
        torch::NoGradGuard g;
        model->named_parameters()["adap_layer_feat4.conv2.0.weight"].mul_(0).add_(1e6);
    }
    try
    {
        buildOnnxModel(model, o16);
        ADD_FAILURE() << "a weight of 1e6 was exported as FP16";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("beyond FP16's largest finite value"), std::string::npos) << e.what();
    }
}

TEST(SfnetExport, shapeInferenceAgreesWithTheDeclaredOutputs)
{
    SFNet model = randomModel("tiny", 2);
    onnx::ModelProto m = buildOnnxModel(model);
    // Strict mode: any node whose inputs contradict its schema throws.
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
    std::map<std::string, const onnx::ValueInfoProto*> inferred;
    for (const auto& vi : m.graph().value_info())
        inferred[vi.name()] = &vi;
    // The custom ops' schemas let inference reach the grids and the correlation volumes.
    ASSERT_TRUE(inferred.count("corr_s2t"));
    EXPECT_EQ(dims(*inferred["corr_s2t"]).size(), 4u);
    ASSERT_TRUE(inferred.count("corr3_t2s"));
    EXPECT_EQ(inferred["corr3_t2s"]->type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
    for (const auto& out : m.graph().output())
        EXPECT_EQ(out.type().tensor_type().shape().dim_size(), 4) << out.name();
}

TEST(SfnetExport, checkerVerifiesTheCustomNodes)
{
    // Without registered schemas onnx::checker skips nodes of unknown domains; with them
    // a malformed semflow node is rejected.
    SFNet model = randomModel("tiny", 3);
    const onnx::ModelProto good = buildOnnxModel(model);
    EXPECT_NO_THROW(onnx::checker::check_model(good));

    auto findNode = [](onnx::ModelProto& m, const std::string& op) {
        for (auto& n : *m.mutable_graph()->mutable_node())
            if (n.op_type() == op)
                return &n;
        return static_cast<onnx::NodeProto*>(nullptr);
    };
    onnx::ModelProto wrongAttrType = good;
    for (auto& a : *findNode(wrongAttrType, "KernelSoftArgmax")->mutable_attribute())
        if (a.name() == "beta")
        {
            a.set_type(onnx::AttributeProto::INT);
            a.set_i(50);
        }
    EXPECT_THROW(onnx::checker::check_model(wrongAttrType), onnx::checker::ValidationError);

    onnx::ModelProto unknownAttr = good;
    auto* a = findNode(unknownAttr, "Correlation")->add_attribute();
    a->set_name("stride");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(2);
    EXPECT_THROW(onnx::checker::check_model(unknownAttr), onnx::checker::ValidationError);

    onnx::ModelProto missingInput = good;
    findNode(missingInput, "Correlation")->mutable_input()->RemoveLast();
    EXPECT_THROW(onnx::checker::check_model(missingInput), onnx::checker::ValidationError);

    onnx::ModelProto noOpset = good;
    noOpset.mutable_opset_import()->RemoveLast();
    EXPECT_THROW(onnx::checker::check_model(noOpset), onnx::checker::ValidationError);
}

TEST(SfnetExport, nonFiniteWeightsAreRefused)
{
    SFNet model = randomModel("tiny", 4);
    {
        torch::NoGradGuard noGrad;
        model->adaptation3()->conv1->ptr(0)->as<torch::nn::Conv2d>()->weight[0][0][0][0] = NAN;
    }
    try
    {
        buildOnnxModel(model);
        FAIL() << "expected an exception";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("adap_layer_feat3.conv1.0.weight"), std::string::npos) << e.what();
    }
}

// ---- parity: LibTorch vs OpenCV DNN on the exported file ----------------------------------

struct ParityCase
{
    std::string backbone;
    bool foldBn;
    double beta;
};

void expectParity(const ParityCase& pc)
{
    SFNet model = randomModel(pc.backbone, 11, pc.beta, 5);
    const std::string path = tempPath(pc.backbone + ".onnx");
    ExportOptions opts;
    opts.foldBatchNorm = pc.foldBn;
    exportOnnx(model, path, opts);

    cv::semflow::registerLayers();
    cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
    std::remove(path.c_str());
    ASSERT_FALSE(net.empty());
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    const std::vector<std::string> names = {"grid_s2t",     "grid_t2s",     "feat3_source",
                                            "feat3_target", "feat4_source", "feat4_target"};
    struct Shape { int64_t n, h, w; };
    // Two sizes, a batch of two, and back to the first size: one Net, symbolic N/H/W.
    for (const Shape& s : {Shape{1, 64, 64}, Shape{2, 96, 128}, Shape{1, 64, 64}})
    {
        SCOPED_TRACE(pc.backbone + (pc.foldBn ? " folded" : " unfolded") + " beta " + std::to_string(pc.beta) +
                     " at " + std::to_string(s.n) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w));
        const torch::Tensor src = torch::rand({s.n, 3, s.h, s.w}), tgt = torch::rand({s.n, 3, s.h, s.w});
        net.setInput(toBlob(src), "source");
        net.setInput(toBlob(tgt), "target");
        std::vector<cv::Mat> outs;
        net.forward(outs, names);
        ASSERT_EQ(outs.size(), names.size());

        torch::NoGradGuard noGrad;
        const auto ref = model->forward(src, tgt);
        const auto fs = model->features(src), ft = model->features(tgt);
        const torch::Tensor grids[] = {ref.gridS2T, ref.gridT2S};
        // Parity of degenerate grids (all at the centroid) would prove nothing.
        EXPECT_GT((ref.gridS2T.max() - ref.gridS2T.min()).item<float>(), 0.5f);
        double worstGrid = 0, worstFeat = 0;
        for (int i = 0; i < 2; ++i)
        {
            const torch::Tensor got = fromBlob(outs[i]);
            ASSERT_EQ(got.sizes(), grids[i].sizes()) << names[i];
            const double d = maxAbsDiff(got, grids[i]);
            EXPECT_LE(d, 1e-4) << names[i];
            worstGrid = std::max(worstGrid, d);
        }
        const torch::Tensor feats[] = {fs.first, ft.first, fs.second, ft.second};
        for (int i = 0; i < 4; ++i)
        {
            const torch::Tensor got = fromBlob(outs[2 + i]);
            ASSERT_EQ(got.sizes(), feats[i].sizes()) << names[2 + i];
            const double d = maxRelDiff(got, feats[i]);
            EXPECT_LE(d, 1e-4) << names[2 + i];
            worstFeat = std::max(worstFeat, d);
        }
        std::printf("[ parity   ] %s%s beta %g, %lldx3x%lldx%lld: grids max abs diff %.2e, features max rel diff %.2e\n",
                    pc.backbone.c_str(), pc.foldBn ? " folded" : "", pc.beta, (long long)s.n, (long long)s.h,
                    (long long)s.w, worstGrid, worstFeat);
    }
}

// Every registered backbone, the test's own one-file backbone included (plain_backbone.cpp):
// its exportOnnx() must compute what its forward() computes, in OpenCV, with BatchNorm folded (what
// `sfnet export` writes by default).
class EveryBackboneParity : public ::testing::TestWithParam<std::string>
{
};

TEST_P(EveryBackboneParity, foldedBatchNorm)
{
    expectParity({GetParam(), true, 50});
}

INSTANTIATE_TEST_SUITE_P(SfnetExport, EveryBackboneParity, ::testing::ValuesIn(everyBackboneForTests()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// BatchNormalization nodes kept, and the hard argmax, on one backbone of each family.
TEST(SfnetExportParity, tiny)
{
    expectParity({"tiny", false, 50});
}

TEST(SfnetExportParity, tinyHardArgmax)
{
    expectParity({"tiny", false, 0});
}

TEST(SfnetExportParity, resnet18)
{
    expectParity({"resnet18", false, 50});
}

// Depthwise convolutions, ReLU6 as ConstantClip, and TensorFlow "SAME" pads that are asymmetric on
// every stride-2 convolution ([0,0,1,1] for 3x3, [1,1,2,2] for 5x5) in OpenCV's importer.
TEST(SfnetExportParity, efficientnetLite0)
{
    expectParity({"efficientnet_lite0", false, 50});
}

// EfficientNet-Lite's ReLU6 is one org.opencv.semflow.ConstantClip(0, 6) node per activation,
// and OpenCV fuses every one of them into the convolution before it: the Net skips the clamp's
// own layer, whose profile entry stays exactly 0 (its numbers: the parity tests above).
TEST(SfnetExport, efficientNetRelu6IsOneClampThatOpenCVFuses)
{
    SFNet model = randomModel("efficientnet_lite0", 13, 50, 5);
    const onnx::ModelProto m = buildOnnxModel(model, ExportOptions{true});
    int expected = 1;  // the stem
    for (const auto& b : backboneAs<EfficientNetLiteBackbone>(model).blocks)
        expected += b->expandConv ? 2 : 1;
    std::map<std::string, int> ops;
    for (const auto& n : m.graph().node())
    {
        ops[n.domain() + ":" + n.op_type()]++;
        if (n.op_type() != "ConstantClip")
            continue;
        std::map<std::string, float> bounds;
        for (const auto& a : n.attribute())
            bounds[a.name()] = a.f();
        EXPECT_EQ(bounds, (std::map<std::string, float>{{"max", 6.f}, {"min", 0.f}})) << n.name();
    }
    EXPECT_EQ(ops["org.opencv.semflow:ConstantClip"], expected);
    EXPECT_EQ(ops[":Sub"], 0);
    EXPECT_EQ(ops[":Relu"], 4) << "only the adaptation layers' ReLUs";

    const std::string path = tempPath("lite0_clip.onnx");
    exportOnnx(model, path, ExportOptions{true});
    cv::semflow::registerLayers();
    cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
    std::remove(path.c_str());
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    net.setInput(toBlob(torch::rand({1, 3, 64, 64})), "source");
    net.setInput(toBlob(torch::rand({1, 3, 64, 64})), "target");
    std::vector<cv::Mat> outs;
    net.forward(outs, std::vector<std::string>{"grid_s2t", "grid_t2s"});
    std::vector<double> timings;
    net.getPerfProfile(timings);
    int clamps = 0;
    for (const std::string& name : net.getLayerNames())
    {
        const int id = net.getLayerId(name);
        if (net.getLayer(id)->type != "ReLU6")
            continue;
        ++clamps;
        ASSERT_LT(size_t(id - 1), timings.size());
        EXPECT_EQ(timings[id - 1], 0.0) << name << " was not fused into its convolution";
    }
    EXPECT_EQ(clamps, expected);
}

TEST(SfnetExportParity, semanticFlowReadsTheExportedModel)
{
    // The other half of the pipeline: cv::SemanticFlow takes beta/sigma from the exported nodes and
    // an image matched against itself under the hard argmax has zero flow.
    SFNet model = randomModel("tiny", 12, 0, 3);
    const std::string path = tempPath("semantic_flow.onnx");
    exportOnnx(model, path);
    cv::Ptr<cv::SemanticFlow> sf = cv::SemanticFlow::create(path, cv::Size(128, 96), false);
    std::remove(path.c_str());
    EXPECT_EQ(sf->getBeta(), 0.f);
    EXPECT_EQ(sf->getSigma(), 3.f);
    cv::Mat img(96, 128, CV_8UC3), flow;
    cv::theRNG().state = 12;
    cv::randu(img, 0, 256);
    sf->calc(img, img, flow);
    ASSERT_EQ(flow.type(), CV_32FC2);
    ASSERT_EQ(flow.size(), img.size());
    EXPECT_LE(cv::norm(flow, cv::NORM_INF), 1e-3);
    cv::Mat flipped;
    cv::flip(img, flipped, 1);
    sf->calc(img, flipped, flow);
    EXPECT_GT(cv::norm(flow, cv::NORM_INF), 8.0) << "a different target must move the flow";
}

// ---- the `sfnet export` command ------------------------------------------------------------

int runExport(std::vector<std::string> args)
{
    args.insert(args.begin(), "export");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(&a[0]);
    argv.push_back(nullptr);
    return cmdExport(static_cast<int>(args.size()), argv.data());
}

TEST(SfnetExportCommand, writesACheckedFileFromACheckpoint)
{
    SFNet model = randomModel("tiny", 5, 30, 4);
    const std::string ckpt = tempPath("export.pt"), onnxPath = tempPath("export.onnx");
    saveModel(model, ckpt);
    // --keep-bn: the convolution weights stay the checkpoint's own (folding rescales them).
    ASSERT_EQ(runExport({"--checkpoint", ckpt, "--output", onnxPath, "--sigma", "2", "--keep-bn"}), 0);
    const onnx::ModelProto m = readModel(onnxPath);
    EXPECT_NO_THROW(onnx::checker::check_model(m));
    auto meta = metadata(m);
    EXPECT_EQ(meta["semflow.beta"], "30");
    EXPECT_EQ(meta["semflow.sigma"], "2");
    EXPECT_EQ(meta["semflow.backbone"], "tiny");

    // The weights in the file are the checkpoint's.
    bool found = false;
    const torch::Tensor w = model->named_parameters()["adap_layer_feat4.conv2.0.weight"];
    for (const auto& init : m.graph().initializer())
        if (init.name() == "adap_layer_feat4.conv2.0.weight")
        {
            found = true;
            ASSERT_EQ(init.raw_data().size(), size_t(w.numel()) * 4);
            EXPECT_EQ(std::memcmp(init.raw_data().data(), w.contiguous().data_ptr(), init.raw_data().size()), 0);
        }
    EXPECT_TRUE(found);
    std::remove(ckpt.c_str());
    std::remove(onnxPath.c_str());
}

// The command folds BatchNorm by default (the graph both OpenCVs load best); --keep-bn keeps
// one BatchNormalization node per BatchNorm2d module (plus the input normalisation's).
TEST(SfnetExportCommand, foldsBatchNormByDefaultAndKeepsItOnRequest)
{
    SFNet model = randomModel("tiny", 6, 30, 4);
    int bnModules = 0;
    for (auto& mod : model->modules(false))
        bnModules += mod->as<torch::nn::BatchNorm2d>() != nullptr;
    ASSERT_GT(bnModules, 0);
    const std::string ckpt = tempPath("fold.pt"), folded = tempPath("fold.onnx"), kept = tempPath("keep.onnx");
    saveModel(model, ckpt);
    ASSERT_EQ(runExport({"--checkpoint", ckpt, "--output", folded}), 0);
    ASSERT_EQ(runExport({"--checkpoint", ckpt, "--output", kept, "--keep-bn"}), 0);
    auto countBn = [](const onnx::ModelProto& m) {
        int n = 0;
        for (const auto& node : m.graph().node())
            n += node.op_type() == "BatchNormalization";
        return n;
    };
    EXPECT_EQ(countBn(readModel(folded)), 1);
    EXPECT_EQ(countBn(readModel(kept)), bnModules + 1);
    // --fp16 on the command line: the metadata says so (the graph itself: fp16Weights test).
    const std::string half = tempPath("half.onnx");
    ASSERT_EQ(runExport({"--checkpoint", ckpt, "--output", half, "--fp16"}), 0);
    EXPECT_EQ(metadata(readModel(half))["semflow.weights"], "float16");
    std::remove(half.c_str());
    for (const std::string& p : {ckpt, folded, kept})
        std::remove(p.c_str());
}

TEST(SfnetExportCommand, randomInitIsSeeded)
{
    const std::string a = tempPath("a.onnx"), b = tempPath("b.onnx"), c = tempPath("c.onnx");
    ASSERT_EQ(runExport({"--backbone", "tiny", "--random-init", "--seed", "3", "--fold-bn", "--output", a}), 0);
    ASSERT_EQ(runExport({"--backbone", "tiny", "--random-init", "--seed", "3", "--fold-bn", "--output", b}), 0);
    ASSERT_EQ(runExport({"--backbone", "tiny", "--random-init", "--seed", "4", "--fold-bn", "--output", c}), 0);
    const onnx::ModelProto ma = readModel(a), mb = readModel(b), mc = readModel(c);
    EXPECT_EQ(ma.SerializeAsString(), mb.SerializeAsString());
    EXPECT_NE(ma.SerializeAsString(), mc.SerializeAsString());
    for (const std::string& p : {a, b, c})
        std::remove(p.c_str());
}

TEST(SfnetExportCommand, badUsageExitsWithTwo)
{
    const std::string out = tempPath("bad.onnx");
    EXPECT_EQ(runExport({"--backbone", "tiny", "--random-init"}), 2);  // no --output
    EXPECT_EQ(runExport({"--output", out}), 2);                        // no source of weights
    EXPECT_EQ(runExport({"--checkpoint", "x.pt", "--random-init", "--backbone", "tiny", "--output", out}), 2);
    EXPECT_EQ(runExport({"--random-init", "--output", out}), 2);  // no backbone
    EXPECT_EQ(runExport({"--backbone", "tiny", "--random-init", "--output", out, "--beta", "fifty"}), 2);
    EXPECT_EQ(runExport({"--backbone", "tiny", "--random-init", "--output", out, "--bogus"}), 2);
    EXPECT_EQ(runExport({"--backbone", "tiny", "--random-init", "--output"}), 2);
    std::ifstream f(out);
    EXPECT_FALSE(f.good()) << "nothing may be written on a usage error";
}

TEST(SfnetExportCommand, badInputsThrowActionableErrors)
{
    const std::string out = tempPath("bad.onnx");
    EXPECT_THROW(runExport({"--backbone", "vgg", "--random-init", "--output", out}), std::runtime_error);
    const std::string corrupt = tempPath("corrupt.pt");
    {
        std::ofstream f(corrupt, std::ios::binary);
        f << "PK\x03\x04 this is not a checkpoint";
    }
    try
    {
        runExport({"--checkpoint", corrupt, "--output", out});
        FAIL() << "expected an exception";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find(corrupt), std::string::npos) << e.what();
    }
    EXPECT_THROW(runExport({"--backbone", "tiny", "--random-init", "--output", "/nonexistent_dir_semflow/m.onnx"}),
                 std::runtime_error);
    std::remove(corrupt.c_str());
}

}  // namespace
