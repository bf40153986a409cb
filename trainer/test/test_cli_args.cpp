// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The option table of the `sfnet` subcommands: one declaration parses argv and writes --help.

#include "cli_args.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace
{
using namespace sfnet;

struct Parsed
{
    int count = 0;
    bool flag = false;
    std::string path;
    double x = 0;
    int rc = -100;
    bool pathGiven = false, countGiven = false, countGivenInValidation = false;
};

// Parses @p args with a small table; the validation refuses count 13.
Parsed parseWith(std::vector<std::string> args, std::string* help = nullptr)
{
    Parsed p;
    CommandLine cl("demo", "usage: sfnet demo [options]\n\n");
    cl.option("--count", "N", "how many", storeInt(p.count));
    cl.flag("--flag", "a switch", [&] { p.flag = true; });
    cl.section("more:");
    cl.option("--path, -p", "PATH", "where\nsecond line", store(p.path));
    cl.option("--x", "X",
              "a long help text that goes on and on past the hundredth column of the terminal so that it has to "
              "wrap onto a second line",
              storeDouble(p.x));
    if (help)
        *help = cl.help();
    args.insert(args.begin(), "demo");
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(&a[0]);
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    p.rc = cl.parse(int(argv.size()), argv.data(), [&] {
        p.countGivenInValidation = cl.given("--count");
        if (p.count == 13)
            throw std::invalid_argument("--count may not be 13");
    });
    testing::internal::GetCapturedStdout();
    testing::internal::GetCapturedStderr();
    p.pathGiven = cl.given("--path");
    p.countGiven = cl.given("--count");
    return p;
}

TEST(CommandLine, parsesValuesFlagsAndAliases)
{
    const Parsed p = parseWith({"--count", "7", "--flag", "-p", "dir", "--x", "-0.5"});
    EXPECT_EQ(p.rc, -1);
    EXPECT_EQ(p.count, 7);
    EXPECT_TRUE(p.flag);
    EXPECT_EQ(p.path, "dir");
    EXPECT_EQ(p.x, -0.5);
    EXPECT_EQ(parseWith({"--path", "a"}).path, "a");
    EXPECT_FALSE(parseWith({}).flag);
}

TEST(CommandLine, knowsWhichOptionsWereGivenUnderAnySpelling)
{
    const Parsed a = parseWith({"-p", "dir"});
    EXPECT_TRUE(a.pathGiven) << "-p is a spelling of --path";
    EXPECT_FALSE(a.countGiven);
    EXPECT_FALSE(a.countGivenInValidation);
    const Parsed b = parseWith({"--count", "0"});
    EXPECT_TRUE(b.countGiven) << "given, even with the default's value";
    EXPECT_TRUE(b.countGivenInValidation) << "the validation sees it";
    EXPECT_FALSE(b.pathGiven);
}

TEST(CommandLine, usageErrorsExitTwoAndHelpExitsZero)
{
    EXPECT_EQ(parseWith({"--help"}).rc, 0);
    EXPECT_EQ(parseWith({"-h"}).rc, 0);
    EXPECT_EQ(parseWith({"--bogus"}).rc, 2);
    EXPECT_EQ(parseWith({"--count"}).rc, 2);            // no value
    EXPECT_EQ(parseWith({"--count", "7x"}).rc, 2);      // not a whole number
    EXPECT_EQ(parseWith({"--count", "99999999999"}).rc, 2);  // beyond an int
    EXPECT_EQ(parseWith({"--count", "13"}).rc, 2);      // the validation
    EXPECT_EQ(parseWith({"--flag", "yes"}).rc, 2);      // a flag takes no value: "yes" is an unknown option
}

TEST(CommandLine, helpIsGeneratedFromTheTable)
{
    std::string help;
    parseWith({}, &help);
    std::istringstream in(help);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);)
        lines.push_back(l);
    ASSERT_GE(lines.size(), 9u) << help;
    EXPECT_EQ(lines[0], "usage: sfnet demo [options]");
    EXPECT_EQ(lines[2], "  --count N            how many");
    EXPECT_EQ(lines[3], "  --flag               a switch");
    EXPECT_EQ(lines[4], "more:");
    EXPECT_EQ(lines[5], "  --path, -p PATH      where");
    EXPECT_EQ(lines[6], "                       second line");
    EXPECT_EQ(lines[7].rfind("  --x X                a long help text", 0), 0u) << lines[7];
    for (const std::string& l : lines)
        EXPECT_LE(l.size(), 100u) << l;
    EXPECT_NE(help.find("wrap onto a second line"), std::string::npos) << help;
}
}  // namespace
