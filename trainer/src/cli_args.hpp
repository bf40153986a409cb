// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Option parsing shared by the `sfnet` subcommands: each command declares its options once, in
// a CommandLine table, which parses argv and generates the --help text. Values are parsed
// strictly: the whole string must be a number, otherwise std::invalid_argument names the option
// and the value.

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <algorithm>
#include <vector>

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

/** @brief One subcommand's options: parsing and help text from the same table.

@code
    CommandLine cl("export", "usage: sfnet export --checkpoint CKPT.pt --output MODEL.onnx [options]\n\n...");
    cl.option("--output, -o", "PATH", "the ONNX file to write", store(output));
    cl.flag("--fp16", "store the weights as FP16", [&] { fp16 = true; });
    if (int rc = cl.parse(argc, argv, [&] { if (output.empty()) throw std::invalid_argument("--output is required"); }); rc >= 0)
        return rc;
@endcode
*/
class CommandLine
{
public:
    /// Receives the option as written (for messages) and its value.
    using Setter = std::function<void(const std::string& option, const std::string& value)>;

    /// @p name: the subcommand ("train"); @p preamble: the usage lines and description above the options.
    CommandLine(std::string name, std::string preamble);

    /// Starts a titled group of options in the help text ("model:").
    CommandLine& section(const std::string& title);
    /// An option with a value. @p names: comma-separated spellings ("--output, -o"); @p help:
    /// lines separated by '\n', indented under the first.
    CommandLine& option(const std::string& names, const std::string& arg, const std::string& help, Setter set);
    /// An option without a value.
    CommandLine& flag(const std::string& names, const std::string& help, std::function<void()> set);
    /// Text printed after the options.
    CommandLine& epilogue(const std::string& text);

    /// The --help text: the preamble, then every option with its help, aligned.
    std::string help() const;

    /** @brief Parses argv[1..], then runs @p validate (which may throw std::invalid_argument).
    @return -1 to go on; 0 after printing --help; 2 after a usage error (an unknown option, a
    missing or malformed value, a failed validation), printed as "sfnet NAME: message" and the
    help on stderr. */
    int parse(int argc, char** argv, const std::function<void()>& validate = {});

    /// Whether the last parse() met the option, under any of its spellings (@p name is one).
    bool given(const std::string& name) const;

private:
    struct Entry
    {
        std::vector<std::string> names;
        std::string label;  // "--output, -o PATH"; empty for a section title line
        std::string help;
        Setter set;
        bool takesValue = false;
    };
    std::string name_, preamble_, epilogue_;
    std::vector<Entry> entries_;
    std::vector<const Entry*> given_;
};

/// Setters for CommandLine::option.
CommandLine::Setter store(std::string& target);
CommandLine::Setter storeInt(int& target);
CommandLine::Setter storeInt(int64_t& target);
CommandLine::Setter storeDouble(double& target);
}  // namespace sfnet
