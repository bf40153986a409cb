// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Option parsing shared by the `sfnet` subcommands. Values are parsed strictly: the whole
// string must be a number, otherwise std::invalid_argument names the option and the value.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sfnet
{
/// Walks argv[1..]: next() moves to the following option, value() consumes its argument.
class OptionReader
{
public:
    OptionReader(int argc, char** argv) : argc_(argc), argv_(argv) {}

    bool next()
    {
        if (++i_ >= argc_)
            return false;
        option_ = argv_[i_];
        return true;
    }
    const std::string& option() const { return option_; }
    std::string value()
    {
        if (i_ + 1 >= argc_)
            throw std::invalid_argument(option_ + " needs a value");
        return argv_[++i_];
    }

private:
    int argc_;
    char** argv_;
    int i_ = 0;
    std::string option_;
};

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

/// An integer option stored in an int: out-of-range values are errors, never truncated.
inline int parseInt32(const std::string& opt, const std::string& v)
{
    const int64_t i = parseInt(opt, v);
    if (i < -2147483647LL - 1 || i > 2147483647LL)
        throw std::invalid_argument(opt + " is out of range (at most 2147483647), got '" + v + "'");
    return int(i);
}
}  // namespace sfnet
