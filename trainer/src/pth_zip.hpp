// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Internal to the checkpoint reader (pth_reader.hpp): the zip container of torch.save's
// current format. Stored (uncompressed) entries only, as torch.save writes them; ZIP64
// aware. The archive is a view of a byte buffer that must outlive it; every offset and
// length read from the file is bounds-checked, and a damaged archive is a
// std::runtime_error that names the file.

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sfnet
{
namespace pth
{

// Little-endian reads; the caller has checked that the bytes exist.
inline uint16_t rdU16(const uint8_t* p)
{
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t rdU32(const uint8_t* p)
{
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t rdU64(const uint8_t* p)
{
    return static_cast<uint64_t>(rdU32(p)) | (static_cast<uint64_t>(rdU32(p + 4)) << 32);
}

/** @brief Keeps messages readable whatever bytes the file puts into a name: control bytes
become \\xNN escapes, UTF-8 passes through, and the result is cut after maxLen characters. */
std::string printable(const std::string& s, size_t maxLen = 80);

/** @brief CRC-32 (IEEE, as zip uses it). */
uint32_t crc32(const uint8_t* p, size_t n);

/** @brief One central-directory entry. */
struct ZipEntry
{
    std::string name;
    uint64_t localHeader = 0;
    uint64_t size = 0;  // uncompressed == compressed for stored entries
    uint64_t compressedSize = 0;
    uint32_t crc = 0;
    uint16_t method = 0;
    uint16_t flags = 0;
};

/** @brief The central directory of a zip archive held in memory. */
class ZipArchive
{
public:
    /** @brief Reads the central directory of `buf`; `file` names the archive in messages. */
    ZipArchive(const std::vector<uint8_t>& buf, const std::string& file);

    /** @brief Entries in directory order. */
    const std::vector<ZipEntry>& entries() const { return entries_; }

    /** @brief The entry called `name`, or nullptr. */
    const ZipEntry* find(const std::string& name) const;

    /** @brief Where a stored, intact entry's bytes lie: [first, first + second) of the buffer.
    Throws for an encrypted, compressed, truncated or damaged (CRC-32) entry. */
    std::pair<size_t, size_t> data(const ZipEntry& z) const;

private:
    [[noreturn]] void fail(const std::string& msg) const;

    const std::vector<uint8_t>& buf_;
    std::string file_;
    std::vector<ZipEntry> entries_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace pth
}  // namespace sfnet
