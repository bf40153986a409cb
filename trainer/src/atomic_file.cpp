// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "atomic_file.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sfnet
{
namespace
{
std::string errnoText()
{
    return std::strerror(errno);
}

long writeDelayMicroseconds()
{
    static const long delay = [] {
        const char* v = std::getenv("SFNET_CHECKPOINT_WRITE_DELAY_US");
        return v ? std::max(0L, std::strtol(v, nullptr, 10)) : 0L;
    }();
    return delay;
}

std::string parentDir(const std::string& path)
{
    const size_t k = path.find_last_of('/');
    if (k == std::string::npos)
        return ".";
    return k == 0 ? std::string("/") : path.substr(0, k);
}
}  // namespace

void writeAll(int fd, const void* data, size_t n, const std::string& path)
{
    const char* p = static_cast<const char*>(data);
    while (n > 0)
    {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0)
        {
            if (errno == EINTR)
                continue;
            throw std::runtime_error("cannot write '" + path + "': " + errnoText());
        }
        p += w;
        n -= size_t(w);
        if (const long us = writeDelayMicroseconds())
            std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
}

void writeFileAtomically(const std::string& path, const std::function<void(int fd)>& fill)
{
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error("cannot open '" + tmp + "' for writing: " + errnoText());
    try
    {
        fill(fd);
        if (::fsync(fd) != 0)
            throw std::runtime_error("cannot flush '" + tmp + "' to disk: " + errnoText());
    }
    catch (...)
    {
        ::close(fd);
        std::remove(tmp.c_str());
        throw;
    }
    if (::close(fd) != 0)
    {
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot write '" + tmp + "': " + errnoText());
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
    {
        const std::string why = errnoText();
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + why);
    }
    // The rename lives in the directory: without this a crash may bring back the old file.
    const int dfd = ::open(parentDir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
    {
        ::fsync(dfd);
        ::close(dfd);
    }
}
}  // namespace sfnet
