// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Shared by the libFuzzer targets: the entry points under test read files, so the fuzzer's
// bytes go to one temporary file per process, rewritten for every input.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace semflow_fuzz
{
//! Writes data to a per-process file ending in @p suffix and returns its path.
inline const std::string& writeInput(const uint8_t* data, size_t size, const char* suffix)
{
    static const std::string path = [&] {
        const char* dir = std::getenv("TMPDIR");
        return std::string(dir && *dir ? dir : "/tmp") + "/semflow_fuzz_" + std::to_string(::getpid()) + suffix;
    }();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        std::abort();
    if (size && std::fwrite(data, 1, size, f) != size)
        std::abort();
    std::fclose(f);
    return path;
}
}  // namespace semflow_fuzz
