// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Strict option-value parsing shared by the `sfnet` subcommands: the whole string must
// be a number, otherwise std::invalid_argument names the option and the value.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sfnet
{
inline double parseDouble(const std::string& opt, const std::string& v)
{
    try
    {
        size_t used = 0;
        const double d = std::stod(v, &used);
        if (used == v.size())
            return d;
    }
    catch (const std::exception&)
    {
    }
    throw std::invalid_argument(opt + " expects a number, got '" + v + "'");
}

inline int64_t parseInt(const std::string& opt, const std::string& v)
{
    try
    {
        size_t used = 0;
        const long long i = std::stoll(v, &used);
        if (used == v.size())
            return i;
    }
    catch (const std::exception&)
    {
    }
    throw std::invalid_argument(opt + " expects an integer, got '" + v + "'");
}
}  // namespace sfnet
