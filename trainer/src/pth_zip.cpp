// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The zip container of torch.save files (pth_zip.hpp).
#include "pth_zip.hpp"

#include <cstring>
#include <stdexcept>

namespace sfnet
{
namespace pth
{

std::string printable(const std::string& s, size_t maxLen)
{
    std::string out;
    for (size_t i = 0; i < s.size() && out.size() < maxLen; ++i)
    {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f)
        {
            out += static_cast<char>(c);
        }
        else if (c >= 0x80)
        {
            out += static_cast<char>(c);  // UTF-8 passes through
        }
        else
        {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (out.size() >= maxLen)
        out += "...";
    return out;
}

// Catches storage bytes damaged after writing, which would otherwise load as silently wrong
// weights. Slicing-by-8: a ResNet-101 file is 170 MB.
uint32_t crc32(const uint8_t* p, size_t n)
{
    static const std::vector<uint32_t> table = [] {
        std::vector<uint32_t> t(8 * 256);
        for (uint32_t i = 0; i < 256; ++i)
        {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s)
                t[s * 256 + i] = (t[(s - 1) * 256 + i] >> 8) ^ t[t[(s - 1) * 256 + i] & 0xffu];
        return t;
    }();
    const uint32_t* t = table.data();
    uint32_t c = 0xffffffffu;
    for (; n >= 8; n -= 8, p += 8)
    {
        const uint32_t lo = rdU32(p) ^ c, hi = rdU32(p + 4);
        c = t[7 * 256 + (lo & 0xffu)] ^ t[6 * 256 + ((lo >> 8) & 0xffu)] ^ t[5 * 256 + ((lo >> 16) & 0xffu)] ^
            t[4 * 256 + (lo >> 24)] ^ t[3 * 256 + (hi & 0xffu)] ^ t[2 * 256 + ((hi >> 8) & 0xffu)] ^
            t[256 + ((hi >> 16) & 0xffu)] ^ t[hi >> 24];
    }
    for (; n > 0; --n, ++p)
        c = t[(c ^ *p) & 0xffu] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

void ZipArchive::fail(const std::string& msg) const
{
    throw std::runtime_error(file_ + ": " + msg);
}

ZipArchive::ZipArchive(const std::vector<uint8_t>& buf, const std::string& file) : buf_(buf), file_(file)
{
    const size_t n = buf_.size();
    const uint8_t* b = buf_.data();
    if (n < 22)
        fail("truncated zip archive (" + std::to_string(n) + " bytes)");
    // End of central directory: the last signature whose comment fits the file.
    size_t eocd = std::string::npos;
    const size_t lowest = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (size_t pos = n - 22 + 1; pos-- > lowest;)
    {
        if (rdU32(b + pos) == 0x06054b50u && pos + 22 + rdU16(b + pos + 20) <= n)
        {
            eocd = pos;
            break;
        }
    }
    if (eocd == std::string::npos)
        fail("zip archive without an end-of-central-directory record (file truncated?)");
    uint64_t entries = rdU16(b + eocd + 10);
    uint64_t cdSize = rdU32(b + eocd + 12);
    uint64_t cdOffset = rdU32(b + eocd + 16);
    size_t cdLimit = eocd;  // the central directory ends before this
    if (rdU16(b + eocd + 4) != 0 || rdU16(b + eocd + 6) != 0)
        fail("multi-disk zip archives are not supported");
    if (eocd >= 20 && rdU32(b + eocd - 20) == 0x07064b50u)
    {
        // ZIP64 locator -> ZIP64 end of central directory (torch always writes one).
        const uint64_t z64 = rdU64(b + eocd - 20 + 8);
        if (z64 > eocd - 20 || eocd - 20 - z64 < 56)
            fail("bad ZIP64 end-of-central-directory offset " + std::to_string(z64));
        if (rdU32(b + z64) != 0x06064b50u)
            fail("bad ZIP64 end-of-central-directory signature at byte " + std::to_string(z64));
        entries = rdU64(b + z64 + 32);
        cdSize = rdU64(b + z64 + 40);
        cdOffset = rdU64(b + z64 + 48);
        cdLimit = static_cast<size_t>(z64);
    }
    if (cdOffset > cdLimit || cdSize > cdLimit - cdOffset)
        fail("zip central directory (offset " + std::to_string(cdOffset) + ", size " +
             std::to_string(cdSize) + ") lies outside the file");
    if (entries > cdSize / 46)
        fail("zip central directory claims " + std::to_string(entries) +
             " entries but has room for " + std::to_string(cdSize / 46));

    size_t pos = static_cast<size_t>(cdOffset);
    const size_t end = static_cast<size_t>(cdOffset + cdSize);
    for (uint64_t e = 0; e < entries; ++e)
    {
        if (end - pos < 46 || rdU32(b + pos) != 0x02014b50u)
            fail("damaged zip central directory entry " + std::to_string(e) + " at byte " +
                 std::to_string(pos));
        ZipEntry z;
        z.flags = rdU16(b + pos + 8);
        z.method = rdU16(b + pos + 10);
        z.crc = rdU32(b + pos + 16);
        z.compressedSize = rdU32(b + pos + 20);
        z.size = rdU32(b + pos + 24);
        const size_t nameLen = rdU16(b + pos + 28);
        const size_t extraLen = rdU16(b + pos + 30);
        const size_t commentLen = rdU16(b + pos + 32);
        z.localHeader = rdU32(b + pos + 42);
        if (end - pos - 46 < nameLen + extraLen + commentLen)
            fail("zip central directory entry " + std::to_string(e) + " overruns the directory");
        z.name.assign(reinterpret_cast<const char*>(b + pos + 46), nameLen);
        // ZIP64 extended information: only the fields saturated in the fixed record.
        const uint8_t* x = b + pos + 46 + nameLen;
        size_t xl = extraLen;
        while (xl >= 4)
        {
            const uint16_t id = rdU16(x);
            const size_t sz = rdU16(x + 2);
            if (sz > xl - 4)
                fail("damaged extra field of zip entry '" + printable(z.name) + "'");
            if (id == 0x0001)
            {
                const uint8_t* f = x + 4;
                size_t left = sz;
                auto take = [&](uint64_t& v) {
                    if (left < 8)
                        fail("short ZIP64 field in zip entry '" + printable(z.name) + "'");
                    v = rdU64(f);
                    f += 8;
                    left -= 8;
                };
                if (z.size == 0xffffffffu)
                    take(z.size);
                if (z.compressedSize == 0xffffffffu)
                    take(z.compressedSize);
                if (z.localHeader == 0xffffffffu)
                    take(z.localHeader);
            }
            x += 4 + sz;
            xl -= 4 + sz;
        }
        if (!index_.emplace(z.name, entries_.size()).second)
            fail("zip archive lists '" + printable(z.name) + "' twice");
        entries_.push_back(std::move(z));
        pos += 46 + nameLen + extraLen + commentLen;
    }
}

const ZipEntry* ZipArchive::find(const std::string& name) const
{
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
}

std::pair<size_t, size_t> ZipArchive::data(const ZipEntry& z) const
{
    const std::string nm = "zip entry '" + printable(z.name) + "'";
    if (z.flags & 1u)
        fail(nm + " is encrypted");
    if (z.method != 0)
        fail(nm + " is compressed (method " + std::to_string(z.method) +
             "); torch.save writes uncompressed entries -- was the file re-zipped? "
             "Re-create it with torch.save, or re-zip with 'zip -0'");
    if (z.compressedSize != z.size)
        fail(nm + " is stored but its sizes disagree (" + std::to_string(z.compressedSize) +
             " vs " + std::to_string(z.size) + ")");
    const size_t n = buf_.size();
    const uint8_t* b = buf_.data();
    if (z.localHeader > n || n - z.localHeader < 30 || rdU32(b + z.localHeader) != 0x04034b50u)
        fail(nm + ": bad local header at byte " + std::to_string(z.localHeader));
    const size_t lh = static_cast<size_t>(z.localHeader);
    const size_t nameLen = rdU16(b + lh + 26);
    const size_t extraLen = rdU16(b + lh + 28);
    const size_t data = lh + 30 + nameLen + extraLen;
    if (data > n || n - data < z.size)
        fail(nm + " (" + std::to_string(z.size) + " bytes at byte " + std::to_string(data) +
             ") runs past the end of the file (truncated?)");
    if (nameLen != z.name.size() || std::memcmp(b + lh + 30, z.name.data(), nameLen) != 0)
        fail(nm + ": local header names a different file");
    if (crc32(b + data, static_cast<size_t>(z.size)) != z.crc)
        fail(nm + " fails its CRC-32 check (the file is damaged)");
    return {data, static_cast<size_t>(z.size)};
}

}  // namespace pth
}  // namespace sfnet
