// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// A minimal reader of the ONNX protobuf wire format: just enough of ModelProto to tell a
// truncated or foreign file from an ONNX model, list the graph's inputs and outputs, and
// read metadata_props, without linking protobuf into the module.

#ifndef OPENCV_SEMFLOW_SRC_ONNX_MODEL_INFO_HPP
#define OPENCV_SEMFLOW_SRC_ONNX_MODEL_INFO_HPP

#include <map>
#include <string>
#include <vector>

namespace cv {
namespace semflow {

struct OnnxModelInfo
{
    long long irVersion = 0;
    std::vector<std::string> inputs;   //!< GraphProto.input names (may include initializers)
    std::vector<std::string> outputs;  //!< GraphProto.output names
    std::map<std::string, std::string> metadata;  //!< ModelProto.metadata_props
};

/** Parses the top level of an ONNX ModelProto. Returns false and sets `why` when the bytes
are not a complete ModelProto with an ir_version and a graph. */
bool readOnnxModelInfo(const unsigned char* data, size_t size, OnnxModelInfo& info, std::string& why);

}  // namespace semflow
}  // namespace cv

#endif
