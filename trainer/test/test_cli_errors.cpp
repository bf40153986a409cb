// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The `sfnet` CLI on hostile arguments: a directory where a file belongs, integers that do
// not fit, sizes beyond the bound. Each must end the real process with a clean message
// naming the argument and a non-zero exit code (1 for a failed command, 2 for bad usage),
// never a crash, std::terminate or a silently truncated value.

#include "pth_reader.hpp"
#include "model.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace
{
struct Result
{
    int code = -1;
    std::string output;
};

Result runSfnet(const std::string& args)
{
    const std::string out = (fs::temp_directory_path() / ("sfnet_cli_" + std::to_string(::getpid()) + ".txt")).string();
    const int status = std::system((std::string(SFNET_BINARY) + " " + args + " >" + out + " 2>&1").c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::ifstream in(out);
    std::stringstream ss;
    ss << in.rdbuf();
    r.output = ss.str();
    std::remove(out.c_str());
    return r;
}
}  // namespace

TEST(CliErrors, ADirectoryWhereAFileBelongsIsNamedInTheError)
{
    const fs::path dir = fs::temp_directory_path() / ("sfnet_cli_dir_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string d = dir.string();
    try
    {
        sfnet::readPth(d);
        ADD_FAILURE() << "readPth accepted a directory";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find(d + ": is a directory"), std::string::npos) << e.what();
    }
    try
    {
        sfnet::loadModel(d);
        ADD_FAILURE() << "loadModel accepted a directory";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("'" + d + "' is a directory"), std::string::npos) << e.what();
    }
    Result r = runSfnet("import --backbone tiny --resnet " + d + " --output " + d + "/out.pt");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(d + ": is a directory"), std::string::npos) << r.output;
    r = runSfnet("export --checkpoint " + d + " --output " + d + "/out.onnx");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("'" + d + "' is a directory"), std::string::npos) << r.output;
    fs::remove_all(dir);
}

TEST(CliErrors, IntegersThatDoNotFitAndOversizedInputsAreRejected)
{
    const std::string out = (fs::temp_directory_path() / ("sfnet_cli_never_" + std::to_string(::getpid()))).string();
    // 2^32 + 1 used to be truncated to 1 epoch without a word.
    Result r = runSfnet("train --data synthetic:4 --output " + out + " --epochs 4294967297");
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("--epochs is out of range"), std::string::npos) << r.output;
    r = runSfnet("train --data synthetic:4 --output " + out + " --size 99999999999999999999");
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("--size expects an integer"), std::string::npos) << r.output;
    r = runSfnet("train --data synthetic:4 --backbone tiny --output " + out + " --size 4096");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("--size must be at most 2048"), std::string::npos) << r.output;
    r = runSfnet("train --data synthetic:4 --backbone tiny --output " + out + " --val-protocol bogus");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("--val-protocol must be plain or authors, got 'bogus'"), std::string::npos) << r.output;
    // sfnet import --train-size: the bounds of sfnet train --size, checked before any file is read.
    for (const char* bad : {"100", "32", "4096"})
    {
        r = runSfnet(std::string("import --backbone tiny --resnet /nonexistent.pth --train-size ") + bad +
                     " --output " + out + "/x.pt");
        EXPECT_EQ(r.code, 2) << r.output;
        EXPECT_NE(r.output.find("--train-size must be a multiple of 32 in [64, 2048], got " + std::string(bad)),
                  std::string::npos) << r.output;
    }
    EXPECT_FALSE(fs::exists(out));  // rejected before anything is written
}
