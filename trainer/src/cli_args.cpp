// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "cli_args.hpp"

#include <iostream>
#include <sstream>

namespace sfnet
{
namespace
{
const size_t kHelpColumn = 23;  // where the help text starts: "  " + label, padded
const size_t kWidth = 100;      // help lines wrap before this column

std::vector<std::string> splitNames(const std::string& names)
{
    std::vector<std::string> out;
    std::string cur;
    for (char c : names + ",")
    {
        if (c == ',')
        {
            if (!cur.empty())
                out.push_back(cur);
            cur.clear();
        }
        else if (c != ' ')
            cur += c;
    }
    return out;
}
}  // namespace

CommandLine::CommandLine(std::string name, std::string preamble) : name_(std::move(name)), preamble_(std::move(preamble))
{
}

CommandLine& CommandLine::section(const std::string& title)
{
    entries_.push_back({{}, "", title, {}, false});
    return *this;
}

CommandLine& CommandLine::option(const std::string& names, const std::string& arg, const std::string& help, Setter set)
{
    entries_.push_back({splitNames(names), names + (arg.empty() ? "" : " " + arg), help, std::move(set), true});
    return *this;
}

CommandLine& CommandLine::flag(const std::string& names, const std::string& help, std::function<void()> set)
{
    entries_.push_back({splitNames(names), names, help,
                        [set = std::move(set)](const std::string&, const std::string&) { set(); }, false});
    return *this;
}

CommandLine& CommandLine::epilogue(const std::string& text)
{
    epilogue_ = text;
    return *this;
}

std::string CommandLine::help() const
{
    std::ostringstream os;
    os << preamble_;
    for (const Entry& e : entries_)
    {
        if (e.names.empty())
        {
            os << e.help << "\n";
            continue;
        }
        // A label too long for the column gets a line of its own; help lines wrap at kWidth.
        std::string first = "  " + e.label;
        if (first.size() + 1 < kHelpColumn)
            first += std::string(kHelpColumn - first.size(), ' ');
        else
        {
            os << first << "\n";
            first = std::string(kHelpColumn, ' ');
        }
        std::vector<std::string> lines;
        std::istringstream in(e.help);
        for (std::string text; std::getline(in, text);)
        {
            const size_t indent = text.find_first_not_of(' ') == std::string::npos ? 0 : text.find_first_not_of(' ');
            while (kHelpColumn + text.size() > kWidth)
            {
                const size_t cut = text.rfind(' ', kWidth - kHelpColumn);
                if (cut == std::string::npos || cut <= indent)
                    break;  // one word longer than the column: left as it is
                lines.push_back(text.substr(0, cut));
                text = std::string(indent == 0 ? 0 : indent + 2, ' ') + text.substr(cut + 1);
            }
            lines.push_back(text);
        }
        for (size_t i = 0; i < lines.size(); ++i)
            os << (i == 0 ? first : std::string(kHelpColumn, ' ')) << lines[i] << "\n";
    }
    os << epilogue_;
    return os.str();
}

int CommandLine::parse(int argc, char** argv, const std::function<void()>& validate)
{
    given_.clear();
    try
    {
        for (OptionReader args(argc, argv); args.next();)
        {
            const std::string a = args.option();
            if (a == "--help" || a == "-h")
            {
                std::cout << help();
                return 0;
            }
            const Entry* match = nullptr;
            for (const Entry& e : entries_)
                for (const std::string& n : e.names)
                    if (n == a)
                        match = &e;
            if (!match)
                throw std::invalid_argument("unknown option '" + a + "'");
            match->set(a, match->takesValue ? args.value() : std::string());
            given_.push_back(match);
        }
        if (validate)
            validate();
    }
    catch (const std::invalid_argument& e)
    {
        std::cerr << "sfnet " << name_ << ": " << e.what() << "\n\n" << help();
        return 2;
    }
    return -1;
}

bool CommandLine::given(const std::string& name) const
{
    return std::any_of(given_.begin(), given_.end(), [&](const Entry* e) {
        return std::find(e->names.begin(), e->names.end(), name) != e->names.end();
    });
}

CommandLine::Setter store(std::string& target)
{
    return [&target](const std::string&, const std::string& v) { target = v; };
}

CommandLine::Setter storeInt(int& target)
{
    return [&target](const std::string& o, const std::string& v) { target = parseInt32(o, v); };
}

CommandLine::Setter storeInt(int64_t& target)
{
    return [&target](const std::string& o, const std::string& v) { target = parseInt(o, v); };
}

CommandLine::Setter storeDouble(double& target)
{
    return [&target](const std::string& o, const std::string& v) { target = parseDouble(o, v); };
}

}  // namespace sfnet
