// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Both operators loaded from small ONNX graphs: the committed files
// test_data/semflow/onnx/ops_*.onnx, written by the one generator make_onnx_fixtures.py there
// (ops_model()), read by the standalone and the in-tree tests alike.

#include "test_precomp.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>

namespace opencv_test { namespace {

// A graph source [N,C,Hs,Ws], target [N,C,Ht,Wt] -> Correlation -> KernelSoftArgmax -> grid,
// every size symbolic except C: test_data/semflow/onnx/<name>, where ops_c<C>_b<beta>_s<sigma>
// has both nodes' attributes written (normalize = relu = 1), _carrier<W>x<H> makes the
// KernelSoftArgmax size carrier a zero initializer of that size instead of `target`, and
// ops_c8_no_attributes has nodes without any attribute.
std::string opsModel(const std::string& name)
{
    return semflowTestData("onnx/" + name);
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
    const std::string file = opsModel("ops_c24_b30_s4.onnx");
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(file);
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
    const std::string file = opsModel("ops_c8_b50_s5_carrier4x3.onnx");  // tgrid
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(file);
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
    const std::string file = opsModel("ops_c8_b50_s5_carrier0x3.onnx");
    semflow::registerLayers();
    RNG rng(6);
    EXPECT_THROW(
        {
            dnn::Net net = dnn::readNetFromONNX(file);
            net.setInput(randomBlob({1, 8, 2, 2}, rng), "source");
            net.setInput(randomBlob({1, 8, 3, 1}, rng), "target");
            net.forward("grid");
        },
        cv::Exception);
}

TEST(Semflow_ONNX, attribute_defaults_follow_the_spec)
{
    // No attribute at all: defaults are normalize=1, relu=1, beta=50, sigma=5.
    const std::string file = opsModel("ops_c8_no_attributes.onnx");
    semflow::registerLayers();
    dnn::Net net = dnn::readNetFromONNX(file);
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
        std::ifstream in(opsModel("ops_c8_b50_s5.onnx"), std::ios::binary);
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

#if CV_VERSION_MAJOR >= 5
using Shape = cv::MatShape;  // OpenCV 5 moved it out of cv::dnn
#else
using Shape = cv::dnn::MatShape;
#endif

std::vector<int> dims(const Shape& s)
{
    return std::vector<int>(s.begin(), s.end());
}

// OpenCV 5.1's ONNX importer looks semflow's nodes up by their bare names, so registerLayers()
// also registers "Correlation" there, the name of OpenCV's own FlowNet correlation (Caffe).
// A node with FlowNet's kernel_size must still get OpenCV's layer, on every version: its
// output has (2 * 2 + 1)^2 = 25 displacement channels, semflow's one per target cell (36).
TEST(Semflow_ONNX, registering_keeps_opencvs_flownet_correlation)
{
    semflow::registerLayers();
    const std::vector<Shape> in = {Shape{1, 8, 6, 6}, Shape{1, 8, 6, 6}};
    std::vector<Shape> out, internals;

    dnn::LayerParams flownet;
    flownet.name = "flownet_corr";
    flownet.type = "Correlation";
    flownet.set("kernel_size", 1);
    flownet.set("max_displacement", 2);
    flownet.set("pad", 2);
    Ptr<dnn::Layer> l = dnn::LayerFactory::createLayerInstance("Correlation", flownet);
    ASSERT_FALSE(l.empty());
    l->getMemoryShapes(in, 1, out, internals);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(dims(out[0]), (std::vector<int>{1, 25, 6, 6}));

    dnn::LayerParams ours;
    ours.name = "semflow_corr";
    ours.type = "org.opencv.semflow.Correlation";
    l = dnn::LayerFactory::createLayerInstance("org.opencv.semflow.Correlation", ours);
    ASSERT_FALSE(l.empty());
    EXPECT_EQ(l->type, "org.opencv.semflow.Correlation");
    l->getMemoryShapes(in, 1, out, internals);
    EXPECT_EQ(dims(out[0]), (std::vector<int>{1, 36, 6, 6}));
#if CV_VERSION_MAJOR > 5 || (CV_VERSION_MAJOR == 5 && CV_VERSION_MINOR >= 1)
    ours.type = "Correlation";  // as 5.1's importer names it
    l = dnn::LayerFactory::createLayerInstance("Correlation", ours);
    ASSERT_FALSE(l.empty());
    EXPECT_EQ(l->type, "org.opencv.semflow.Correlation");
    l->getMemoryShapes(in, 1, out, internals);
    EXPECT_EQ(dims(out[0]), (std::vector<int>{1, 36, 6, 6}));
#endif
}

}}  // namespace
