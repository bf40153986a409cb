// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Writing ONNX nodes from LibTorch modules: what the exporter and every backbone's
// exportOnnx() share. Includes the ONNX protobuf headers and LibTorch: trainer sources only.

#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sfnet
{

/// Domain of the custom operators (modules/semflow/doc/onnx_ops.md).
extern const char* const kSemflowOnnxDomain;

/** @brief Appends nodes and initializers to an ONNX graph.

Names follow the PyTorch module paths (`backbone.layer3.0.conv1.weight`), so a graph can be
read against the checkpoint it came from. Every weight passes through initializer(), which
refuses NaN and Inf, and stores FP16 behind a Cast when asked.
*/
class OnnxGraphBuilder
{
public:
    /** @param graph the graph to append to.
    @param foldBatchNorm fold each BatchNorm into the convolution before it (convBn()).
    @param fp16Weights store weights (initializer()) as FP16, each behind a Cast to FLOAT. */
    OnnxGraphBuilder(onnx::GraphProto* graph, bool foldBatchNorm, bool fp16Weights = false);

    /** @brief A float initializer named @p name (a tensor of any dtype or device, copied).
    Returns the name consumers read. Throws std::runtime_error on NaN/Inf, or on values
    beyond FP16's range with fp16Weights. */
    std::string initializer(const std::string& name, const torch::Tensor& value);
    /** @brief A float initializer from a value list reshaped to @p dims: the graph's own
    constants (input normalisation, a Resize's roi and scales), stored as FLOAT also with
    fp16Weights. Throws std::runtime_error on NaN/Inf. */
    std::string constant(const std::string& name, const std::vector<float>& values, const std::vector<int64_t>& dims);
    /// A 1-D INT64 initializer (shapes for Reshape).
    std::string int64Constant(const std::string& name, const std::vector<int64_t>& values);

    /// A node named after its first output.
    onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& domain = "");
    static void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v);
    static void attr(onnx::NodeProto* n, const std::string& name, int64_t v);
    static void attr(onnx::NodeProto* n, const std::string& name, float v);
    static void attr(onnx::NodeProto* n, const std::string& name, const std::string& v);

    /// One-input node, e.g. unary("Relu", x, out). Returns @p out.
    std::string unary(const std::string& op, const std::string& x, const std::string& out);
    /// Element-wise a + b. Returns @p out.
    std::string add(const std::string& a, const std::string& b, const std::string& out);

    /** @brief Conv (+ BatchNorm in eval semantics, folded or as its own node).

    @p convName / @p bnName are the PyTorch module paths, used to name initializers and outputs.
    @p bn may be null. @p pads is ONNX's [top, left, bottom, right]; empty: kernel/2 on every
    side (PyTorch's usual `padding=k//2`). Returns the output's name. */
    std::string convBn(const std::string& x, torch::nn::Conv2dImpl& conv, torch::nn::BatchNorm2dImpl* bn,
                       const std::string& convName, const std::string& bnName, std::vector<int64_t> pads = {});

    /** @brief min(max(x, 0), 6) as org.opencv.semflow.ConstantClip(0, 6), which
    cv::semflow::registerLayers() maps to OpenCV's ReLU6 layer, fused into the convolution before
    it. Not the standard Clip: at opset 11 its bounds are inputs, which OpenCV 4.6's importer
    rejects (it reads only Clip-6's attributes). doc/benchmarks.md measures the four-layer
    Relu(x) - Relu(x - 6) it replaced. */
    std::string relu6(const std::string& x, const std::string& out);

    /** @brief TensorFlow "SAME" pads ([top, left, bottom, right]) of a k x k, stride-s
    convolution whose input sides are multiples of 2s. For such sizes the total k - s is the
    same, so constant pads serve every input the graph accepts (H and W multiples of 32 give
    every EfficientNet convolution even sides). */
    static std::vector<int64_t> samePads(int64_t k, int64_t s);

private:
    onnx::GraphProto* g_;
    bool fold_;
    bool fp16_;

    std::string float32Initializer(const std::string& name, const torch::Tensor& t);
};

/// %.9g: enough digits to read a float back exactly.
std::string formatNumber(double v);

}  // namespace sfnet
