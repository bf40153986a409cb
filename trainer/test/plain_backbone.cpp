// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// A backbone that lives in one file outside the trainer's sources: the proof that adding an
// architecture is one file plus one registration (doc/adding_a_backbone.md walks through it).
// Five stride-2 convolutions with BatchNorm and ReLU; the fourth gives the stride-16 level, the
// fifth the stride-32 one. Its weights would come from a state dict with the same keys plus a
// `head.` classifier, which the import ignores. The parity and import tests loop over every
// registered backbone, this one included.

#include "backbone.hpp"
#include "onnx_graph.hpp"
#include "test_util.hpp"

namespace sfnet_test
{
namespace
{
using namespace sfnet;

class PlainConvBackbone : public Backbone
{
public:
    PlainConvBackbone()
    {
        const int64_t widths[] = {3, 8, 16, 16, 24, 32};
        for (int i = 0; i < 5; ++i)
        {
            convs_.push_back(register_module(
                "conv" + std::to_string(i),
                torch::nn::Conv2d(torch::nn::Conv2dOptions(widths[i], widths[i + 1], 3).stride(2).padding(1).bias(false))));
            bns_.push_back(register_module("bn" + std::to_string(i), torch::nn::BatchNorm2d(widths[i + 1])));
        }
    }

    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x) override
    {
        torch::Tensor y = x, f3;
        for (size_t i = 0; i < convs_.size(); ++i)
        {
            y = torch::relu(bns_[i](convs_[i](y)));
            if (i == 3)
                f3 = y;
        }
        return {f3, y};
    }
    int64_t channels3() const override { return 24; }
    int64_t channels4() const override { return 32; }
    InputNormalization inputNormalization() const override { return {{0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}}; }

    std::pair<std::string, std::string> exportOnnx(OnnxGraphBuilder& g, const std::string& input,
                                                   const std::string& p) override
    {
        std::string y = input, f3;
        for (size_t i = 0; i < convs_.size(); ++i)
        {
            const std::string n = std::to_string(i);
            y = g.unary("Relu", g.convBn(y, *convs_[i], bns_[i].get(), p + ".conv" + n, p + ".bn" + n),
                        p + ".relu" + n);
            if (i == 3)
                f3 = y;
        }
        return {f3, y};
    }
    ImportRules importRules() const override { return {"plain layout", {"head."}, "the classifier"}; }

private:
    std::vector<torch::nn::Conv2d> convs_;
    std::vector<torch::nn::BatchNorm2d> bns_;
};
}  // namespace

const std::vector<std::string>& everyBackboneForTests()
{
    static const std::vector<std::string> names = [] {
        registerBackbone({"test_plain", "a five-convolution test backbone",
                          [] { return std::make_shared<PlainConvBackbone>(); }});
        return knownBackbones();
    }();
    return names;
}

}  // namespace sfnet_test
