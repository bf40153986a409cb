// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Reader for PyTorch checkpoint files written by `torch.save`, without LibTorch.
//
// LibTorch cannot be used for this: `torch::pickle_load` (1.13) turns every
// collections.OrderedDict -- i.e. every state dict -- into None, and it cannot read the
// pre-1.6 "legacy" format at all. The reader parses untrusted bytes: every length and
// offset is bounds-checked, and anything it does not understand is rejected with a
// std::runtime_error that names the file and the problem.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sfnet
{

/** @brief Element type of a tensor as stored in the checkpoint. */
enum class PthDType
{
    Float32,
    Float64,
    Float16,
    BFloat16,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    Bool
};

/** @brief Lower-case PyTorch name of a dtype ("float32", "int64", ...). */
const char* pthDTypeName(PthDType t);

/** @brief True for float32/float64/float16/bfloat16. */
bool isFloatingPoint(PthDType t);

/** @brief One tensor of a checkpoint, decoded into contiguous row-major memory.

Floating-point tensors (any precision) are converted to float32 into `f32`; integer and
bool tensors are widened to int64 into `i64`. Exactly one of the two is filled (both are
empty for a tensor with zero elements).
*/
struct NamedArray
{
    /** Key path, nested containers joined with '.', e.g. "state_dict1.conv1.0.weight".
        List/tuple elements are named by their index. A checkpoint that is a bare tensor
        gives the empty name. */
    std::string name;
    PthDType dtype = PthDType::Float32;  //!< type as stored in the file
    std::vector<int64_t> shape;          //!< sizes; empty for a 0-d tensor
    std::vector<float> f32;              //!< values of a floating-point tensor
    std::vector<int64_t> i64;            //!< values of an integer or bool tensor

    /** @brief Number of elements (product of shape; 1 for a 0-d tensor). */
    int64_t numel() const;
};

/** @brief Everything a checkpoint holds, flattened. */
struct PthContents
{
    /** "zip" (torch.save since PyTorch 1.6) or "legacy" (the older pickle sequence). */
    std::string format;
    /** Tensors in the order the file's containers list them (depth first). */
    std::vector<NamedArray> tensors;
    /** Leaves that are not tensors, as (name, short description), e.g. ("epoch", "40"),
        ("args", "<argparse.Namespace>"). Informational. */
    std::vector<std::pair<std::string, std::string>> others;

    /** @brief The tensor called `name`, or nullptr. */
    const NamedArray* find(const std::string& name) const;
};

/** @brief Reads a checkpoint written by `torch.save` (zip or legacy format).

@param path file to read.
@throws std::runtime_error naming the file and what is wrong when the file cannot be read,
is not a torch checkpoint, is damaged, or holds objects other than tensors, containers and
plain values (e.g. a pickled nn.Module: save its state_dict() instead).
*/
PthContents readPth(const std::string& path);

/** @brief Same as readPth() on bytes already in memory.
@param bytes the file contents.
@param displayName how error messages refer to the data (usually the file name).
*/
PthContents readPthBytes(const std::vector<uint8_t>& bytes, const std::string& displayName);

/** @brief "[64, 3, 7, 7]" -- for messages. */
std::string shapeToString(const std::vector<int64_t>& shape);

}  // namespace sfnet
