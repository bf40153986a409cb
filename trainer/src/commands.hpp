// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Entry points of the `sfnet` subcommands. argv[0] is the subcommand name.
// Each returns the process exit code; errors may also be thrown as std::exception.
namespace sfnet
{
int cmdTrain(int argc, char** argv);     // train_cmd.cpp
int cmdImport(int argc, char** argv);    // import_cmd.cpp
int cmdExport(int argc, char** argv);    // export_cmd.cpp
int cmdGenerate(int argc, char** argv);  // generate_cmd.cpp
}  // namespace sfnet
