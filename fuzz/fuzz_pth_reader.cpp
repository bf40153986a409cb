// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// torch.save files, zip and legacy formats (the seed corpus has both): readPthBytes must
// return or throw std::runtime_error, and what it returns must be self-consistent.

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "pth_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::vector<uint8_t> bytes(data, data + size);
    try
    {
        const sfnet::PthContents c = sfnet::readPthBytes(bytes, "fuzz.pth");
        for (const sfnet::NamedArray& t : c.tensors)
        {
            const size_t n = size_t(t.numel());
            if (t.f32.size() + t.i64.size() != n || (!t.f32.empty() && !t.i64.empty()))
                __builtin_trap();
        }
    }
    catch (const std::runtime_error&)
    {
    }
    return 0;
}
