// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// ONNX export of an SFNet (modules/semflow/doc/onnx_ops.md, "The SFNet inference graph").
// Includes the ONNX protobuf headers and LibTorch: trainer sources only.

#include "model.hpp"
#include "onnx_graph.hpp"

#include <onnx/onnx_pb.h>

#include <string>

namespace sfnet
{

/** @brief How the graph is written. */
struct ExportOptions
{
    /// Fold every BatchNorm into the preceding convolution (smaller, faster graph);
    /// otherwise BatchNormalization nodes are kept.
    bool foldBatchNorm = false;
    /// Store every weight as FP16 (half the file) behind a Cast to FLOAT; metadata
    /// semflow.weights = float16. OpenCV 4.14 loads such graphs, 4.6 does not.
    bool fp16Weights = false;
};

/** @brief Registers the schemas of org.opencv.semflow (Correlation, KernelSoftArgmax,
version 1) with ONNX's OpSchemaRegistry, once, thread-safe.

Without them onnx::checker accepts any node of an unknown domain without looking at it;
with them it verifies the nodes' inputs, outputs and attributes, and shape inference
knows the output shapes. buildOnnxModel calls it.
*/
void registerOnnxSchemas();

/** @brief Builds the inference graph of @p model (its current weights, eval-mode
semantics: BatchNorm uses the running statistics) and runs onnx::checker on it.

beta and sigma come from the model's config. Throws std::runtime_error when the
checker rejects the graph (a bug) or the model holds non-finite weights.
*/
onnx::ModelProto buildOnnxModel(SFNet& model, const ExportOptions& options = {});

/** @brief buildOnnxModel, then writes it to @p path atomically (path + ".tmp", rename).
Throws std::runtime_error when the file cannot be written. */
void exportOnnx(SFNet& model, const std::string& path, const ExportOptions& options = {});

}  // namespace sfnet
