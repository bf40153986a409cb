// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Crash-safe file replacement for checkpoints and exported models: a reader (or a resumed
// run after SIGKILL or a power cut) sees either the old complete file or the new complete
// file, never a prefix of one.

#include <cstddef>
#include <functional>
#include <string>

namespace sfnet
{
/** @brief Replaces @p path atomically. @p fill writes the new content into the open file
descriptor it is given (use writeAll()); the content goes to `path + ".tmp"`, is flushed to
the disk with fsync, renamed over @p path, and the directory is fsynced so that the rename
itself survives a crash. On any error the temporary file is removed and std::runtime_error
names the file.

Fault injection for tests: when the environment variable SFNET_CHECKPOINT_WRITE_DELAY_US is
a positive number, writeAll() sleeps that many microseconds after every piece it writes, so
that a test can kill the process while a file is half-written. */
void writeFileAtomically(const std::string& path, const std::function<void(int fd)>& fill);

/** @brief Writes all @p n bytes to @p fd (retrying short writes and EINTR), or throws
std::runtime_error naming @p path. */
void writeAll(int fd, const void* data, size_t n, const std::string& path);
}  // namespace sfnet
