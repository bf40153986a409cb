// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Both operators loaded from ONNX files written here with the ONNX protobuf library.
// Needs libonnx, which OpenCV's own test system does not have: standalone builds only.

#include "test_precomp.hpp"

#ifdef SEMFLOW_HAVE_ONNX

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "test_onnx_builder.hpp"

#include <cstdio>
#include <fstream>

namespace opencv_test { namespace {

// source [N,C,Hs,Ws], target [N,C,Ht,Wt] -> corr -> grid; every size symbolic except C.
// With `constantTarget`, the size carrier of KernelSoftArgmax is an initializer instead.
onnx::ModelProto makeModel(int C, float beta, float sigma, bool constantCarrier = false, Size carrier = Size())
{
    onnx::ModelProto model;
    model.set_ir_version(onnx::IR_VERSION_2019_3_18);  // IR 6: what opset 11 pairs with
    model.set_producer_name("semflow-test");
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(11);
    opset = model.add_opset_import();
    opset->set_domain(kSemflowDomain);
    opset->set_version(1);

    onnx::GraphProto* g = model.mutable_graph();
    g->set_name("semflow_ops");
    setShape(g->add_input(), "source", {"N", std::to_string(C), "Hs", "Ws"});
    setShape(g->add_input(), "target", {"N", std::to_string(C), "Ht", "Wt"});

    onnx::NodeProto* corr = addNode(g, "Correlation", {"source", "target"}, "corr", kSemflowDomain);
    setAttr(corr, "normalize", (int64_t)1);
    setAttr(corr, "relu", (int64_t)1);
    std::string carrierName = "target";
    if (constantCarrier)
    {
        carrierName = "grid_size";
        onnx::TensorProto* t = g->add_initializer();
        t->set_name(carrierName);
        t->set_data_type(onnx::TensorProto::FLOAT);
        t->add_dims(1);
        t->add_dims(1);
        t->add_dims(carrier.height);
        t->add_dims(carrier.width);
        for (int i = 0; i < carrier.area(); i++)
            t->add_float_data(0.f);
    }
    onnx::NodeProto* ksa = addNode(g, "KernelSoftArgmax", {"corr", carrierName}, "grid", kSemflowDomain);
    setAttr(ksa, "beta", beta);
    setAttr(ksa, "sigma", sigma);
    setAttr(ksa, "normalize", (int64_t)1);

    setShape(g->add_output(), "grid", {"N", "2", "Hs", "Ws"});
    return model;
}

std::string writeModel(const onnx::ModelProto& model, const std::string& name)
{
    std::string path = cv::tempfile(name.c_str());
    std::ofstream f(path, std::ios::binary);
    EXPECT_TRUE(model.SerializeToOstream(&f));
    return path;
}

Mat randomBlob(const std::vector<int>& shape, RNG& rng)
{
    Mat m((int)shape.size(), shape.data(), CV_32F);
    rng.fill(m, RNG::UNIFORM, -1.f, 1.f);
    return m;
}

Mat reference(const Mat& fs, const Mat& ft, float beta, float sigma)
{
    Mat corr, grid;
    semflow::correlation(fs, ft, corr);
    semflow::kernelSoftArgmax(corr, Size(ft.size[3], ft.size[2]), grid, beta, sigma);
    return grid;
}

TEST(Semflow_ONNX, both_ops_load_and_serve_several_sizes_in_one_net)
{
    onnx::ModelProto model = makeModel(24, 30.f, 4.f);
    ASSERT_NO_THROW(onnx::checker::check_model(model));
    const std::string path = writeModel(model, ".onnx");

    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(path);
    std::remove(path.c_str());
    RNG rng(17);
    // Batch 2, unequal non-square grids, then other sizes, then the first again.
    const std::vector<std::vector<int>> sizes = {{2, 5, 7, 6, 4}, {1, 10, 10, 10, 10}, {2, 5, 7, 6, 4}};
    for (const auto& s : sizes)
    {
        Mat fs = randomBlob({s[0], 24, s[1], s[2]}, rng), ft = randomBlob({s[0], 24, s[3], s[4]}, rng);
        net.setInput(fs, "source");
        net.setInput(ft, "target");
        Mat grid = net.forward("grid");
        ASSERT_EQ(dnn::shape(grid), dnn::shape(reference(fs, ft, 30.f, 4.f)));
        // The public functions are pinned to naive loops in test_layers.cpp.
        EXPECT_LE(cv::norm(grid, reference(fs, ft, 30.f, 4.f), NORM_INF), 1e-6);
    }
}

TEST(Semflow_ONNX, constant_size_carrier_arrives_as_blob)
{
    const Size tgrid(4, 3);
    onnx::ModelProto model = makeModel(8, 50.f, 5.f, true, tgrid);
    const std::string path = writeModel(model, ".onnx");
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(path);
    std::remove(path.c_str());
    RNG rng(4);
    Mat fs = randomBlob({1, 8, 2, 5}, rng), ft = randomBlob({1, 8, tgrid.height, tgrid.width}, rng);
    net.setInput(fs, "source");
    net.setInput(ft, "target");
    EXPECT_LE(cv::norm(net.forward("grid"), reference(fs, ft, 50.f, 5.f), NORM_INF), 1e-6);
}

TEST(Semflow_ONNX, empty_size_carrier_is_an_error_not_a_crash)
{
    // A constant carrier with a zero-sized dimension: the grid size is unknown at import
    // time and must be refused at run time (it once reached a division by Wt = 0).
    onnx::ModelProto model = makeModel(8, 50.f, 5.f, true, Size(0, 3));
    const std::string path = writeModel(model, ".onnx");
    semflow::registerLayers();
    RNG rng(6);
    EXPECT_THROW(
        {
            dnn::Net net = dnn::readNetFromONNX(path);
            net.setInput(randomBlob({1, 8, 2, 2}, rng), "source");
            net.setInput(randomBlob({1, 8, 3, 1}, rng), "target");
            net.forward("grid");
        },
        cv::Exception);
    std::remove(path.c_str());
}

TEST(Semflow_ONNX, attribute_defaults_follow_the_spec)
{
    onnx::ModelProto model = makeModel(8, 0.f, 0.f);
    // Drop every attribute: defaults are normalize=1, relu=1, beta=50, sigma=5.
    for (auto& node : *model.mutable_graph()->mutable_node())
        node.clear_attribute();
    const std::string path = writeModel(model, ".onnx");
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(path);
    std::remove(path.c_str());
    RNG rng(8);
    Mat fs = randomBlob({1, 8, 3, 3}, rng), ft = randomBlob({1, 8, 3, 4}, rng);
    net.setInput(fs, "source");
    net.setInput(ft, "target");
    EXPECT_LE(cv::norm(net.forward("grid"), reference(fs, ft, 50.f, 5.f), NORM_INF), 1e-6);
}

TEST(Semflow_ONNX, truncated_and_foreign_files_raise)
{
    const std::string good = writeModel(makeModel(8, 50.f, 5.f), ".onnx");
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::remove(good.c_str());
    ASSERT_GT(bytes.size(), 40u);

    semflow::registerLayers();
    const std::string truncated = cv::tempfile(".onnx");
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), bytes.size() / 2);
    EXPECT_THROW(dnn::readNetFromONNX(truncated), cv::Exception);
    std::remove(truncated.c_str());

    const std::string foreign = cv::tempfile(".onnx");
    std::ofstream(foreign, std::ios::binary) << "P5\n4 4\n255\n" << std::string(16, '\x7f');
    EXPECT_THROW(dnn::readNetFromONNX(foreign), cv::Exception);
    std::remove(foreign.c_str());
}

}}  // namespace

#endif  // SEMFLOW_HAVE_ONNX
