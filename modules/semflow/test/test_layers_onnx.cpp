// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Both operators loaded from small ONNX graphs. Standalone, the graphs are written here with
// the ONNX protobuf library; OpenCV's own test system has no libonnx, so in-tree the same
// tests read the committed copies in test_data/semflow/onnx/ (written by make_onnx_fixtures.py
// there), which the standalone build checks against the builder byte for byte.

#include "test_precomp.hpp"

#ifdef SEMFLOW_HAVE_ONNX
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "test_onnx_builder.hpp"
#endif

#include <cstdio>
#include <fstream>
#include <iterator>

namespace opencv_test { namespace {

// The committed fixture that holds makeModel(C, beta, sigma, ...)'s graph.
std::string opsFixtureName(int C, float beta, float sigma, bool constantCarrier, Size carrier,
                           bool attributes)
{
    if (!attributes)
        return cv::format("ops_c%d_no_attributes.onnx", C);
    std::string name = cv::format("ops_c%d_b%g_s%g", C, beta, sigma);
    if (constantCarrier)
        name += cv::format("_carrier%dx%d", carrier.width, carrier.height);
    return name + ".onnx";
}

#ifdef SEMFLOW_HAVE_ONNX

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

onnx::ModelProto makeModel(int C, float beta, float sigma, bool constantCarrier, Size carrier,
                           bool attributes)
{
    onnx::ModelProto model = makeModel(C, beta, sigma, constantCarrier, carrier);
    if (!attributes)
        for (auto& node : *model.mutable_graph()->mutable_node())
            node.clear_attribute();
    return model;
}
#endif

// The graph of makeModel(...) as a file: written here (standalone) or the committed fixture
// (in-tree, skipping when the test data is absent). Only a file written here is removed.
struct OpsModelFile
{
    std::string path;
    bool owned = false;
    OpsModelFile(int C, float beta, float sigma, bool constantCarrier = false, Size carrier = Size(),
                 bool attributes = true)
    {
#ifdef SEMFLOW_HAVE_ONNX
        onnx::ModelProto model = makeModel(C, beta, sigma, constantCarrier, carrier, attributes);
        if (!constantCarrier || carrier.area() > 0)
            onnx::checker::check_model(model);
        path = cv::tempfile(".onnx");
        owned = true;
        std::ofstream f(path, std::ios::binary);
        EXPECT_TRUE(model.SerializeToOstream(&f));
#else
        path = semflowTestData("onnx/" + opsFixtureName(C, beta, sigma, constantCarrier, carrier, attributes));
#endif
    }
    ~OpsModelFile()
    {
        if (owned)
            std::remove(path.c_str());
    }
};

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
    OpsModelFile file(24, 30.f, 4.f);
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(file.path);
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
    OpsModelFile file(8, 50.f, 5.f, true, tgrid);
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(file.path);
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
    OpsModelFile file(8, 50.f, 5.f, true, Size(0, 3));
    semflow::registerLayers();
    RNG rng(6);
    EXPECT_THROW(
        {
            dnn::Net net = dnn::readNetFromONNX(file.path);
            net.setInput(randomBlob({1, 8, 2, 2}, rng), "source");
            net.setInput(randomBlob({1, 8, 3, 1}, rng), "target");
            net.forward("grid");
        },
        cv::Exception);
}

TEST(Semflow_ONNX, attribute_defaults_follow_the_spec)
{
    // No attribute at all: defaults are normalize=1, relu=1, beta=50, sigma=5.
    OpsModelFile file(8, 0.f, 0.f, false, Size(), false);
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(file.path);
    RNG rng(8);
    Mat fs = randomBlob({1, 8, 3, 3}, rng), ft = randomBlob({1, 8, 3, 4}, rng);
    net.setInput(fs, "source");
    net.setInput(ft, "target");
    EXPECT_LE(cv::norm(net.forward("grid"), reference(fs, ft, 50.f, 5.f), NORM_INF), 1e-6);
}

TEST(Semflow_ONNX, truncated_and_foreign_files_raise)
{
    std::string bytes;
    {
        OpsModelFile good(8, 50.f, 5.f);
        std::ifstream in(good.path, std::ios::binary);
        bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
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

#ifdef SEMFLOW_HAVE_ONNX
// The committed copies that the in-tree tests read are exactly what the builder writes.
TEST(Semflow_ONNX, committed_fixtures_match_the_builder)
{
    SEMFLOW_REQUIRE_TEST_DATA("onnx");
    struct Case { int C; float beta, sigma; bool constantCarrier; Size carrier; bool attributes; };
    const Case cases[] = {{24, 30.f, 4.f, false, Size(), true},  {8, 50.f, 5.f, false, Size(), true},
                          {8, 50.f, 5.f, true, Size(4, 3), true}, {8, 50.f, 5.f, true, Size(0, 3), true},
                          {8, 0.f, 0.f, false, Size(), false}};
    for (const Case& c : cases)
    {
        const std::string name = opsFixtureName(c.C, c.beta, c.sigma, c.constantCarrier, c.carrier, c.attributes);
        std::ifstream in(semflowTestData("onnx/" + name), std::ios::binary);
        const std::string committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string built =
            makeModel(c.C, c.beta, c.sigma, c.constantCarrier, c.carrier, c.attributes).SerializeAsString();
        EXPECT_EQ(committed, built) << name << ": regenerate with test_data/semflow/onnx/make_onnx_fixtures.py";
    }
}
#endif

}}  // namespace
