// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_TEST_ONNX_BUILDER_HPP
#define OPENCV_SEMFLOW_TEST_ONNX_BUILDER_HPP

// Small helpers for the tests that write ONNX graphs with libonnx (standalone builds only).

#include <onnx/onnx_pb.h>

#include <cctype>
#include <string>
#include <vector>

namespace opencv_test {

const char* const kSemflowDomain = "org.opencv.semflow";

//! Names a float tensor value and gives it a shape; a dimension is a number or a symbol.
inline void setShape(onnx::ValueInfoProto* vi, const std::string& name,
                     const std::vector<std::string>& dims)
{
    vi->set_name(name);
    auto* tensor = vi->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = tensor->mutable_shape();
    for (const std::string& d : dims)
    {
        auto* dim = shape->add_dim();
        if (!d.empty() && std::isdigit((unsigned char)d[0]))
            dim->set_dim_value(std::stoll(d));
        else
            dim->set_dim_param(d);
    }
}

//! Appends a node whose name is its (single) output.
inline onnx::NodeProto* addNode(onnx::GraphProto* g, const std::string& op,
                                const std::vector<std::string>& in, const std::string& out,
                                const std::string& domain = "")
{
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_domain(domain);
    n->set_name(out);
    for (const std::string& s : in)
        n->add_input(s);
    n->add_output(out);
    return n;
}

inline void setAttr(onnx::NodeProto* n, const std::string& name, float v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
}

inline void setAttr(onnx::NodeProto* n, const std::string& name, int64_t v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

inline void setAttr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v)
        a->add_ints(x);
}

}  // namespace opencv_test

#endif
