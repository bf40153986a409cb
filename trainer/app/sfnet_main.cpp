// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet`: one CLI with subcommands; each lives in its own source file.
#include "commands.hpp"

#include <cstring>
#include <exception>
#include <iostream>

namespace
{
struct Command
{
    const char* name;
    int (*run)(int, char**);
    const char* help;
};

const Command kCommands[] = {
    {"train", sfnet::cmdTrain, "train the adaptation layers on images with foreground masks"},
    {"import", sfnet::cmdImport, "import torchvision ResNet weights and/or the SFNet authors' checkpoint"},
    {"export", sfnet::cmdExport, "write the inference graph as ONNX for cv::SemanticFlow"},
    {"generate", sfnet::cmdGenerate, "write a procedurally generated image+mask dataset to disk"},
};

void usage(std::ostream& os)
{
    os << "usage: sfnet <command> [options]   (sfnet <command> --help for details)\n\ncommands:\n";
    for (const Command& c : kCommands)
        os << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.help << "\n";
}
}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))
    {
        usage(argc < 2 ? std::cerr : std::cout);
        return argc < 2 ? 2 : 0;
    }
    for (const Command& c : kCommands)
    {
        if (std::strcmp(argv[1], c.name) == 0)
        {
            try
            {
                return c.run(argc - 1, argv + 1);
            }
            catch (const std::exception& e)
            {
                std::cerr << "sfnet " << c.name << ": error: " << e.what() << "\n";
                return 1;
            }
            catch (...)  // not a std::exception: still a clean error, never std::terminate
            {
                std::cerr << "sfnet " << c.name << ": error: unexpected non-standard exception\n";
                return 1;
            }
        }
    }
    std::cerr << "sfnet: unknown command '" << argv[1] << "'\n";
    usage(std::cerr);
    return 2;
}
