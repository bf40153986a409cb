// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Parses `torch.save` files: a small zip reader (stored entries only, ZIP64 aware), a
// restricted pickle machine that builds an inert object graph (no Python semantics are
// executed: only a fixed list of globals is understood), and the storage/tensor
// bookkeeping of both serialization formats. All objects live in one flat pool addressed
// by index, so cyclic or deeply nested pickles cannot cause recursion or leaks.
#include "pth_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace sfnet
{

namespace
{

// ---------------------------------------------------------------------------------------
// small helpers

// Keeps messages readable whatever bytes the file puts into a name.
std::string printable(const std::string& s, size_t maxLen = 80)
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

uint16_t rdU16(const uint8_t* p)
{
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t rdU32(const uint8_t* p)
{
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rdU64(const uint8_t* p)
{
    return static_cast<uint64_t>(rdU32(p)) | (static_cast<uint64_t>(rdU32(p + 4)) << 32);
}

size_t elementSize(PthDType t)
{
    switch (t)
    {
    case PthDType::Float64:
    case PthDType::Int64: return 8;
    case PthDType::Float32:
    case PthDType::Int32: return 4;
    case PthDType::Float16:
    case PthDType::BFloat16:
    case PthDType::Int16: return 2;
    case PthDType::Int8:
    case PthDType::UInt8:
    case PthDType::Bool: return 1;
    }
    return 1;
}

float halfToFloat(uint16_t h)
{
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0)
    {
        if (mant == 0)
        {
            bits = sign;
        }
        else  // subnormal half: normalise into a float exponent
        {
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u))
            {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    }
    else if (exp == 31)
    {
        bits = sign | 0x7f800000u | (mant << 13);
    }
    else
    {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// CRC-32 (IEEE, as zip uses it); catches storage bytes damaged after writing, which would
// otherwise load as silently wrong weights. Slicing-by-8: a ResNet-101 file is 170 MB.
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

// Overflow-checked arithmetic on non-negative int64 values.
bool mulOverflows(int64_t a, int64_t b, int64_t& r)
{
    return __builtin_mul_overflow(a, b, &r);
}
bool addOverflows(int64_t a, int64_t b, int64_t& r)
{
    return __builtin_add_overflow(a, b, &r);
}

// ---------------------------------------------------------------------------------------
// zip

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

// ---------------------------------------------------------------------------------------
// object pool of the pickle machine

enum class Kind : uint8_t
{
    None,
    Bool,
    Int,
    BigInt,  // more than 64 bits; canonical little-endian two's complement bytes in strs
    Float,
    Str,
    Bytes,
    Tuple,
    List,
    Dict,  // items interleaved key, value; duplicate keys resolved when flattening
    Set,
    Global,
    Storage,
    Tensor,
    Opaque  // an instance of an inert class (argparse.Namespace, numpy scalar, ...)
};

struct Obj
{
    Kind kind;
    uint32_t ref;  // index into strs / seqs / globals / storages / tensors
    int64_t num;   // Int/Bool value, Float bits
};

enum class GlobalId
{
    OrderedDict,
    RebuildTensor,
    RebuildTensorV2,
    RebuildTensorV3,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    TensorClass,
    StorageType,
    UntypedStorage,
    DType,
    TorchSize,
    CodecsEncode,
    Set,
    FrozenSet,
    Inert
};

struct GlobalInfo
{
    GlobalId id;
    PthDType dtype;
    std::string name;
};

struct StorageInfo
{
    std::string key;
    PthDType dtype = PthDType::UInt8;
    int64_t numel = 0;       // in elements of dtype
    int64_t root = -1;       // legacy storage views: index of the root storage
    int64_t viewOffset = 0;  // in elements, into the root
    bool resolved = false;   // legacy roots get their bytes after the object pickle
    uint64_t byteOffset = 0;
    bool bigEndian = false;
};

struct TensorInfo
{
    uint32_t storage = 0;
    PthDType dtype = PthDType::Float32;
    int64_t offset = 0;
    std::vector<int64_t> sizes, strides;
};

struct Seq
{
    std::vector<uint32_t> items;
};

constexpr int kMaxNesting = 100;

const char* kindName(Kind k)
{
    switch (k)
    {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    case Kind::Opaque: return "object";
    }
    return "?";
}

class PthParser
{
public:
    PthParser(const std::vector<uint8_t>& buf, const std::string& file) : buf_(buf), file_(file)
    {
        // Shared singletons: a pickle of a million 'N' opcodes must not cost a million objects.
        pool_.push_back({Kind::None, 0, 0});
        pool_.push_back({Kind::Bool, 0, 1});
        pool_.push_back({Kind::Bool, 0, 0});
    }

    PthContents parse()
    {
        PthContents out;
        uint32_t root;
        if (buf_.size() >= 4 && buf_[0] == 'P' && buf_[1] == 'K' && buf_[2] == 3 && buf_[3] == 4)
        {
            out.format = "zip";
            root = parseZip();
        }
        else
        {
            out.format = "legacy";
            root = parseLegacy();
        }
        flattenRoot(root, out);
        return out;
    }

private:
    [[noreturn]] void fail(const std::string& msg) const
    {
        throw std::runtime_error(file_ + ": " + msg);
    }

    // ----------------------------------------------------------------- zip container
    std::vector<ZipEntry> zipEntries_;
    std::unordered_map<std::string, size_t> zipIndex_;
    std::string prefix_;

    void readZipDirectory()
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
            if (!zipIndex_.emplace(z.name, zipEntries_.size()).second)
                fail("zip archive lists '" + printable(z.name) + "' twice");
            zipEntries_.push_back(std::move(z));
            pos += 46 + nameLen + extraLen + commentLen;
        }
    }

    // Bytes of a stored, intact entry: [offset, offset + size) of buf_.
    std::pair<size_t, size_t> zipData(const ZipEntry& z)
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

    uint32_t parseZip()
    {
        readZipDirectory();
        const ZipEntry* pkl = nullptr;
        for (const ZipEntry& z : zipEntries_)
        {
            const size_t slash = z.name.find('/');
            if (slash != std::string::npos && z.name.compare(slash, std::string::npos, "/data.pkl") == 0)
            {
                if (pkl)
                    fail("zip archive holds two pickles ('" + printable(pkl->name) + "', '" +
                         printable(z.name) + "')");
                pkl = &z;
                prefix_ = z.name.substr(0, slash + 1);
            }
        }
        if (!pkl)
            fail("zip archive without '<name>/data.pkl': not a file written by torch.save");
        torchScript_ = zipIndex_.count(prefix_ + "constants.pkl") > 0;
        auto bo = zipIndex_.find(prefix_ + "byteorder");
        if (bo != zipIndex_.end())
        {
            const auto r = zipData(zipEntries_[bo->second]);
            const std::string order(reinterpret_cast<const char*>(buf_.data() + r.first), r.second);
            if (order == "big")
                bigEndian_ = true;
            else if (order != "little")
                fail("unknown byte order '" + printable(order) + "' in " + prefix_ + "byteorder");
        }
        const auto r = zipData(*pkl);
        legacy_ = false;
        return runPickle(r.first, r.first + r.second, pkl->name, true);
    }

    // ----------------------------------------------------------------- legacy format
    uint32_t parseLegacy()
    {
        if (buf_.size() >= 262 && std::memcmp(buf_.data() + 257, "ustar", 5) == 0)
            fail("this is the tar-based checkpoint format of PyTorch <= 0.1.10, which is not "
                 "supported; load and re-save it with a newer PyTorch");
        size_t pos = 0;
        uint32_t magic;
        try
        {
            magic = runPickleAt(pos, "the magic number pickle", false);
        }
        catch (const std::runtime_error& e)
        {
            fail(std::string("not a PyTorch checkpoint: neither a zip archive nor torch's legacy "
                             "format (") +
                 e.what() + ")");
        }
        static const uint8_t kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
        const Obj& m = pool_[magic];
        if (m.kind != Kind::BigInt || strs_[m.ref] != std::string(reinterpret_cast<const char*>(kMagic), 10))
            fail("not a PyTorch checkpoint: the file starts with a pickle, but not with torch's "
                 "magic number");
        const uint32_t proto = runPickleAt(pos, "the protocol version pickle", false);
        if (pool_[proto].kind != Kind::Int || pool_[proto].num != 1001)
            fail("unsupported legacy protocol version (expected 1001)");
        const uint32_t sysInfo = runPickleAt(pos, "the sys_info pickle", false);
        if (pool_[sysInfo].kind != Kind::Dict)
            fail("legacy sys_info is not a dict");
        {
            const Seq& s = seqs_[pool_[sysInfo].ref];
            bool found = false;
            for (size_t i = 0; i + 1 < s.items.size(); i += 2)
            {
                const Obj& k = pool_[s.items[i]];
                if (k.kind == Kind::Str && strs_[k.ref] == "little_endian")
                {
                    const Obj& v = pool_[s.items[i + 1]];
                    if (v.kind != Kind::Bool)
                        fail("legacy sys_info['little_endian'] is not a bool");
                    bigEndian_ = v.num == 0;
                    found = true;
                }
            }
            if (!found)
                fail("legacy sys_info lacks 'little_endian'");
        }
        legacy_ = true;
        const uint32_t root = runPickleAt(pos, "the object pickle", true);
        const uint32_t keys = runPickleAt(pos, "the storage key list", false);
        if (pool_[keys].kind != Kind::List && pool_[keys].kind != Kind::Tuple)
            fail("legacy storage key list is a " + std::string(kindName(pool_[keys].kind)));
        const std::vector<uint32_t> keyItems = seqs_[pool_[keys].ref].items;
        std::unordered_set<std::string> seen;
        for (uint32_t k : keyItems)
        {
            if (pool_[k].kind != Kind::Str)
                fail("legacy storage key is a " + std::string(kindName(pool_[k].kind)));
            const std::string& key = strs_[pool_[k].ref];
            if (!seen.insert(key).second)
                fail("storage '" + printable(key) + "' is listed twice");
            auto it = storageByKey_.find(key);
            if (it == storageByKey_.end())
                fail("storage '" + printable(key) + "' has data but no tensor refers to it");
            StorageInfo& s = storages_[it->second];
            if (buf_.size() - pos < 8)
                fail("truncated before the data of storage '" + printable(key) + "' (byte " +
                     std::to_string(pos) + ")");
            uint64_t numel = rdU64(buf_.data() + pos);
            if (bigEndian_)
                numel = __builtin_bswap64(numel);
            pos += 8;
            if (numel != static_cast<uint64_t>(s.numel))
                fail("storage '" + printable(key) + "' holds " + std::to_string(numel) +
                     " elements, but the pickle says " + std::to_string(s.numel));
            const uint64_t nbytes = numel * elementSize(s.dtype);
            if (buf_.size() - pos < nbytes)
                fail("truncated inside the data of storage '" + printable(key) + "' (needs " +
                     std::to_string(nbytes) + " bytes at byte " + std::to_string(pos) + ", " +
                     std::to_string(buf_.size() - pos) + " left)");
            s.byteOffset = pos;
            s.resolved = true;
            pos += static_cast<size_t>(nbytes);
        }
        return root;
    }

    // ----------------------------------------------------------------- pickle machine
    std::vector<Obj> pool_;
    std::vector<std::string> strs_;
    std::vector<Seq> seqs_;
    std::vector<GlobalInfo> globals_;
    std::vector<StorageInfo> storages_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, uint32_t> storageByKey_;
    bool legacy_ = false;
    bool bigEndian_ = false;
    bool torchScript_ = false;

    // Context of the pickle being run, for messages.
    std::string what_;
    size_t opPos_ = 0;

    [[noreturn]] void failAt(const std::string& msg) const
    {
        fail(msg + " (in " + what_ + ", opcode at byte " + std::to_string(opPos_) + ")");
    }

    uint32_t add(Kind k, uint32_t ref = 0, int64_t num = 0)
    {
        if (pool_.size() >= std::numeric_limits<uint32_t>::max() - 1)
            failAt("too many objects");
        pool_.push_back({k, ref, num});
        return static_cast<uint32_t>(pool_.size() - 1);
    }
    uint32_t addStr(Kind k, std::string s)
    {
        strs_.push_back(std::move(s));
        return add(k, static_cast<uint32_t>(strs_.size() - 1));
    }
    uint32_t addSeq(Kind k, std::vector<uint32_t> items = {})
    {
        seqs_.push_back({std::move(items)});
        return add(k, static_cast<uint32_t>(seqs_.size() - 1));
    }
    uint32_t addInt(int64_t v)
    {
        return add(Kind::Int, 0, v);
    }
    uint32_t addFloat(double d)
    {
        int64_t bits;
        std::memcpy(&bits, &d, 8);
        return add(Kind::Float, 0, bits);
    }

    // Integer from little-endian two's complement bytes (LONG1/LONG4).
    uint32_t addLong(const uint8_t* p, size_t n)
    {
        std::string bytes(reinterpret_cast<const char*>(p), n);
        while (bytes.size() > 1)
        {
            const uint8_t last = static_cast<uint8_t>(bytes.back());
            const uint8_t prev = static_cast<uint8_t>(bytes[bytes.size() - 2]);
            if ((last == 0 && !(prev & 0x80)) || (last == 0xff && (prev & 0x80)))
                bytes.pop_back();
            else
                break;
        }
        if (bytes.empty())
            return addInt(0);
        if (bytes.size() <= 8)
        {
            uint64_t v = 0;
            for (size_t i = 0; i < bytes.size(); ++i)
                v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
            if (static_cast<uint8_t>(bytes.back()) & 0x80)
                for (size_t i = bytes.size(); i < 8; ++i)
                    v |= static_cast<uint64_t>(0xff) << (8 * i);
            int64_t s;
            std::memcpy(&s, &v, 8);
            return addInt(s);
        }
        return addStr(Kind::BigInt, std::move(bytes));
    }

    uint32_t runPickleAt(size_t& pos, const std::string& what, bool allowPersistent)
    {
        if (pos >= buf_.size())
            fail("file ends before " + what + " (byte " + std::to_string(pos) + ")");
        return runPickle(pos, buf_.size(), what, allowPersistent, &pos);
    }

    static std::string globalName(const std::string& module, const std::string& name)
    {
        return module + "." + name;
    }

    uint32_t resolveGlobal(const std::string& module, const std::string& name)
    {
        static const std::map<std::string, PthDType> storageTypes = {
            {"FloatStorage", PthDType::Float32}, {"DoubleStorage", PthDType::Float64},
            {"HalfStorage", PthDType::Float16},  {"BFloat16Storage", PthDType::BFloat16},
            {"LongStorage", PthDType::Int64},    {"IntStorage", PthDType::Int32},
            {"ShortStorage", PthDType::Int16},   {"CharStorage", PthDType::Int8},
            {"ByteStorage", PthDType::UInt8},    {"BoolStorage", PthDType::Bool}};
        static const std::map<std::string, PthDType> dtypes = {
            {"float32", PthDType::Float32}, {"float", PthDType::Float32},
            {"float64", PthDType::Float64}, {"double", PthDType::Float64},
            {"float16", PthDType::Float16}, {"half", PthDType::Float16},
            {"bfloat16", PthDType::BFloat16}, {"int64", PthDType::Int64},
            {"long", PthDType::Int64},      {"int32", PthDType::Int32},
            {"int", PthDType::Int32},       {"int16", PthDType::Int16},
            {"short", PthDType::Int16},     {"int8", PthDType::Int8},
            {"uint8", PthDType::UInt8},     {"bool", PthDType::Bool}};
        static const std::map<std::string, GlobalId> known = {
            {"collections.OrderedDict", GlobalId::OrderedDict},
            {"torch._utils._rebuild_tensor", GlobalId::RebuildTensor},
            {"torch._utils._rebuild_tensor_v2", GlobalId::RebuildTensorV2},
            {"torch._utils._rebuild_tensor_v3", GlobalId::RebuildTensorV3},
            {"torch._utils._rebuild_parameter", GlobalId::RebuildParameter},
            {"torch._utils._rebuild_parameter_with_state", GlobalId::RebuildParameterWithState},
            {"torch._tensor._rebuild_from_type_v2", GlobalId::RebuildFromTypeV2},
            {"torch.Tensor", GlobalId::TensorClass},
            {"torch._tensor.Tensor", GlobalId::TensorClass},
            {"torch.nn.parameter.Parameter", GlobalId::TensorClass},
            {"torch.UntypedStorage", GlobalId::UntypedStorage},
            {"torch.Size", GlobalId::TorchSize},
            {"_codecs.encode", GlobalId::CodecsEncode},
            {"builtins.set", GlobalId::Set},
            {"__builtin__.set", GlobalId::Set},
            {"builtins.frozenset", GlobalId::FrozenSet},
            {"__builtin__.frozenset", GlobalId::FrozenSet},
            // Harmless objects that training scripts like to put next to the weights;
            // they become opaque placeholders and are never needed for tensors.
            {"argparse.Namespace", GlobalId::Inert},
            {"torch.device", GlobalId::Inert},
            {"numpy.core.multiarray.scalar", GlobalId::Inert},
            {"numpy.core.multiarray._reconstruct", GlobalId::Inert},
            {"numpy._core.multiarray.scalar", GlobalId::Inert},
            {"numpy._core.multiarray._reconstruct", GlobalId::Inert},
            {"numpy.ndarray", GlobalId::Inert},
            {"numpy.dtype", GlobalId::Inert},
            {"builtins.slice", GlobalId::Inert},
            {"builtins.complex", GlobalId::Inert},
            {"builtins.bytearray", GlobalId::Inert},
            {"__builtin__.bytearray", GlobalId::Inert}};

        const std::string full = globalName(module, name);
        GlobalInfo g{GlobalId::Inert, PthDType::UInt8, full};
        auto it = known.find(full);
        if (it != known.end())
        {
            g.id = it->second;
        }
        else if ((module == "torch" || module == "torch.cuda") && storageTypes.count(name))
        {
            g.id = GlobalId::StorageType;
            g.dtype = storageTypes.at(name);
        }
        else if (module == "torch" && dtypes.count(name))
        {
            g.id = GlobalId::DType;
            g.dtype = dtypes.at(name);
        }
        else
        {
            std::string hint;
            if (torchScript_ || module.rfind("__torch__", 0) == 0)
                hint = "; this is a TorchScript archive (torch.jit.save) -- save the model's "
                       "state_dict() with torch.save instead";
            else if (module.rfind("torch.nn", 0) == 0 || module == "__main__" ||
                     module.find("model") != std::string::npos)
                hint = "; the file pickles a whole model object -- save model.state_dict() "
                       "with torch.save instead";
            else if (name.find("Storage") != std::string::npos)
                hint = "; storages of this element type are not supported";
            else if (module == "torch._utils")
                hint = "; only dense tensors are supported (no quantized or sparse tensors)";
            failAt("unsupported Python global '" + printable(full) +
                   "': the reader only understands tensors, OrderedDict and plain values" + hint);
        }
        globals_.push_back(std::move(g));
        return add(Kind::Global, static_cast<uint32_t>(globals_.size() - 1));
    }

    int64_t asInt(uint32_t o, const char* what) const
    {
        const Obj& ob = pool_[o];
        if (ob.kind != Kind::Int && ob.kind != Kind::Bool)
            failAt(std::string(what) + " must be an int, got " + kindName(ob.kind));
        return ob.num;
    }
    const std::string& asStr(uint32_t o, const char* what) const
    {
        const Obj& ob = pool_[o];
        if (ob.kind != Kind::Str)
            failAt(std::string(what) + " must be a str, got " + kindName(ob.kind));
        return strs_[ob.ref];
    }
    const std::vector<uint32_t>& asTuple(uint32_t o, const char* what) const
    {
        const Obj& ob = pool_[o];
        if (ob.kind != Kind::Tuple && ob.kind != Kind::List)
            failAt(std::string(what) + " must be a tuple, got " + kindName(ob.kind));
        return seqs_[ob.ref].items;
    }
    const GlobalInfo* asGlobal(uint32_t o) const
    {
        const Obj& ob = pool_[o];
        return ob.kind == Kind::Global ? &globals_[ob.ref] : nullptr;
    }

    // torch.save's persistent id of a storage.
    uint32_t persistentLoad(uint32_t pid)
    {
        const std::vector<uint32_t>& t = asTuple(pid, "persistent id");
        if (t.empty())
            failAt("empty persistent id");
        const std::string& tag = asStr(t[0], "persistent id tag");
        if (tag != "storage")
            failAt("persistent id of kind '" + printable(tag) +
                   "' (a pickled module's source?) is not supported; save a state_dict instead");
        if (t.size() != (legacy_ ? 6u : 5u))
            failAt("storage persistent id has " + std::to_string(t.size()) + " fields, expected " +
                   (legacy_ ? "6" : "5"));
        const GlobalInfo* type = asGlobal(t[1]);
        if (!type || (type->id != GlobalId::StorageType && type->id != GlobalId::UntypedStorage))
            failAt("storage persistent id without a storage type");
        const PthDType dtype = type->dtype;
        const std::string key = asStr(t[2], "storage key");
        asStr(t[3], "storage location");  // e.g. "cuda:0": everything is read to the CPU
        const int64_t numel = asInt(t[4], "storage size");
        if (numel < 0)
            failAt("negative storage size");
        if (static_cast<uint64_t>(numel) > buf_.size())  // cannot fit in the file
            failAt("storage '" + printable(key) + "' claims " + std::to_string(numel) +
                   " elements, more than the file could hold");

        uint32_t root;
        auto it = storageByKey_.find(key);
        if (it != storageByKey_.end())
        {
            const StorageInfo& s = storages_[it->second];
            if (s.dtype != dtype || s.numel != numel)
                failAt("storage '" + printable(key) + "' is referenced with two different types or sizes");
            root = it->second;
        }
        else
        {
            StorageInfo s;
            s.key = key;
            s.dtype = dtype;
            s.numel = numel;
            s.bigEndian = bigEndian_;
            if (!legacy_)
            {
                auto z = zipIndex_.find(prefix_ + "data/" + key);
                if (z == zipIndex_.end())
                    failAt("storage '" + printable(key) + "' has no entry '" + printable(prefix_) +
                           "data/" + printable(key) + "' in the archive");
                const auto r = zipData(zipEntries_[z->second]);
                if (r.second != static_cast<uint64_t>(numel) * elementSize(dtype))
                    failAt("storage '" + printable(key) + "' should hold " + std::to_string(numel) +
                           " x " + std::to_string(elementSize(dtype)) + " bytes, its entry has " +
                           std::to_string(r.second));
                s.byteOffset = r.first;
                s.resolved = true;
            }
            storages_.push_back(s);
            root = static_cast<uint32_t>(storages_.size() - 1);
            storageByKey_[key] = root;
        }
        if (legacy_ && pool_[t[5]].kind != Kind::None)
        {
            // Pre-1.0 storage views: (view_key, offset, size) into the root storage.
            const std::vector<uint32_t>& v = asTuple(t[5], "storage view metadata");
            if (v.size() != 3)
                failAt("storage view metadata must have 3 fields");
            const std::string viewKey = asStr(v[0], "storage view key");
            const int64_t off = asInt(v[1], "storage view offset");
            const int64_t size = asInt(v[2], "storage view size");
            if (off < 0 || size < 0 || off > storages_[root].numel || size > storages_[root].numel - off)
                failAt("storage view [" + std::to_string(off) + ", +" + std::to_string(size) +
                       ") lies outside its storage of " + std::to_string(storages_[root].numel) +
                       " elements");
            auto vit = storageByKey_.find(viewKey);
            if (vit != storageByKey_.end())
                return add(Kind::Storage, vit->second);
            StorageInfo s;
            s.key = viewKey;
            s.dtype = dtype;
            s.numel = size;
            s.root = root;
            s.viewOffset = off;
            storages_.push_back(s);
            const uint32_t idx = static_cast<uint32_t>(storages_.size() - 1);
            storageByKey_[viewKey] = idx;
            return add(Kind::Storage, idx);
        }
        return add(Kind::Storage, root);
    }

    uint32_t makeTensor(const std::vector<uint32_t>& a, bool hasDType)
    {
        const Obj& so = pool_[a[0]];
        if (so.kind != Kind::Storage)
            failAt(std::string("tensor rebuild expects a storage, got ") + kindName(so.kind));
        TensorInfo t;
        t.storage = so.ref;
        t.dtype = storages_[so.ref].dtype;
        t.offset = asInt(a[1], "storage offset");
        for (uint32_t s : asTuple(a[2], "tensor size"))
            t.sizes.push_back(asInt(s, "tensor size"));
        for (uint32_t s : asTuple(a[3], "tensor stride"))
            t.strides.push_back(asInt(s, "tensor stride"));
        if (hasDType)
        {
            const GlobalInfo* g = asGlobal(a[6]);
            if (!g || g->id != GlobalId::DType)
                failAt("_rebuild_tensor_v3 expects a torch dtype");
            t.dtype = g->dtype;
        }
        if (t.sizes.size() != t.strides.size())
            failAt("tensor has " + std::to_string(t.sizes.size()) + " sizes but " +
                   std::to_string(t.strides.size()) + " strides");
        if (t.sizes.size() > 64)
            failAt("tensor has more than 64 dimensions");
        if (t.offset < 0)
            failAt("negative storage offset");
        for (size_t i = 0; i < t.sizes.size(); ++i)
            if (t.sizes[i] < 0 || t.strides[i] < 0)
                failAt("negative tensor size or stride");
        tensors_.push_back(std::move(t));
        return add(Kind::Tensor, static_cast<uint32_t>(tensors_.size() - 1));
    }

    uint32_t newDict(const std::vector<uint32_t>& items = {})
    {
        return addSeq(Kind::Dict, items);
    }

    // REDUCE: callable(*args) for the callables that are understood.
    uint32_t call(uint32_t callable, uint32_t argsObj)
    {
        const GlobalInfo* g = asGlobal(callable);
        if (!g)
            failAt(std::string("cannot call a ") + kindName(pool_[callable].kind));
        const std::vector<uint32_t> a = asTuple(argsObj, "call arguments");
        auto need = [&](size_t lo, size_t hi) {
            if (a.size() < lo || a.size() > hi)
                failAt(printable(g->name) + " called with " + std::to_string(a.size()) + " arguments");
        };
        switch (g->id)
        {
        case GlobalId::OrderedDict:
        {
            need(0, 1);
            if (a.empty())
                return newDict();
            std::vector<uint32_t> items;
            for (uint32_t pair : asTuple(a[0], "OrderedDict items"))
            {
                const std::vector<uint32_t>& kv = asTuple(pair, "OrderedDict item");
                if (kv.size() != 2)
                    failAt("OrderedDict item is not a pair");
                items.push_back(kv[0]);
                items.push_back(kv[1]);
            }
            return newDict(items);
        }
        case GlobalId::RebuildTensor: need(4, 4); return makeTensor(a, false);
        case GlobalId::RebuildTensorV2: need(6, 7); return makeTensor(a, false);
        case GlobalId::RebuildTensorV3: need(7, 8); return makeTensor(a, true);
        case GlobalId::RebuildParameter:
        case GlobalId::RebuildParameterWithState:
            need(g->id == GlobalId::RebuildParameter ? 3 : 4, g->id == GlobalId::RebuildParameter ? 3 : 4);
            if (pool_[a[0]].kind != Kind::Tensor)
                failAt("a Parameter must wrap a tensor");
            return a[0];
        case GlobalId::RebuildFromTypeV2:
        {
            need(4, 4);
            const GlobalInfo* type = asGlobal(a[1]);
            if (!type || type->id != GlobalId::TensorClass)
                failAt("only plain tensors and parameters are supported, not tensor subclasses");
            const GlobalInfo* fn = asGlobal(a[0]);
            if (!fn || fn->id == GlobalId::RebuildFromTypeV2)
                failAt("bad _rebuild_from_type_v2 function");
            const uint32_t r = call(a[0], a[2]);
            if (pool_[r].kind != Kind::Tensor)
                failAt("_rebuild_from_type_v2 did not rebuild a tensor");
            return r;
        }
        case GlobalId::TorchSize:
            need(1, 1);
            return addSeq(Kind::Tuple, asTuple(a[0], "torch.Size argument"));
        case GlobalId::CodecsEncode:
        {
            // Protocol 2 pickles Python 3 bytes as _codecs.encode(str, 'latin1').
            need(2, 2);
            const std::string& enc = asStr(a[1], "encoding");
            if (enc != "latin1" && enc != "latin-1")
                failAt("unsupported encoding '" + printable(enc) + "'");
            const std::string& s = asStr(a[0], "encoded text");
            std::string out;
            for (size_t i = 0; i < s.size(); ++i)
            {
                const uint8_t c = static_cast<uint8_t>(s[i]);
                if (c < 0x80)
                {
                    out += static_cast<char>(c);
                }
                else if ((c & 0xe0) == 0xc0 && i + 1 < s.size() && c <= 0xc3)
                {
                    out += static_cast<char>(((c & 0x1f) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3f));
                    ++i;
                }
                else
                {
                    failAt("text is not latin-1");
                }
            }
            return addStr(Kind::Bytes, std::move(out));
        }
        case GlobalId::Set:
        case GlobalId::FrozenSet:
            need(0, 1);
            return addSeq(Kind::Set, a.empty() ? std::vector<uint32_t>() : asTuple(a[0], "set items"));
        case GlobalId::Inert: return addStr(Kind::Opaque, g->name);
        default: break;
        }
        failAt("cannot call '" + printable(g->name) + "'");
    }

    uint32_t newObj(uint32_t cls)
    {
        const GlobalInfo* g = asGlobal(cls);
        if (!g)
            failAt(std::string("NEWOBJ on a ") + kindName(pool_[cls].kind));
        switch (g->id)
        {
        case GlobalId::OrderedDict: return newDict();
        case GlobalId::Set:
        case GlobalId::FrozenSet: return addSeq(Kind::Set);
        case GlobalId::Inert: return addStr(Kind::Opaque, g->name);
        default: break;
        }
        failAt("cannot instantiate '" + printable(g->name) + "'");
    }

    uint32_t runPickle(size_t begin, size_t end, const std::string& what, bool allowPersistent,
                       size_t* endPos = nullptr)
    {
        what_ = what;
        const uint8_t* b = buf_.data();
        size_t p = begin;
        std::vector<uint32_t> stack;
        std::vector<size_t> marks;
        std::unordered_map<uint32_t, uint32_t> memo;

        auto need = [&](size_t n) {
            if (end - p < n)
                failAt("truncated: needs " + std::to_string(n) + " more bytes, " +
                       std::to_string(end - p) + " left");
        };
        auto pop = [&]() -> uint32_t {
            if (stack.empty() || (!marks.empty() && marks.back() == stack.size()))
                failAt("stack underflow");
            const uint32_t v = stack.back();
            stack.pop_back();
            return v;
        };
        auto top = [&]() -> uint32_t {
            if (stack.empty() || (!marks.empty() && marks.back() == stack.size()))
                failAt("stack underflow");
            return stack.back();
        };
        auto popMark = [&]() -> std::vector<uint32_t> {
            if (marks.empty())
                failAt("missing MARK");
            const size_t m = marks.back();
            marks.pop_back();
            std::vector<uint32_t> items(stack.begin() + static_cast<std::ptrdiff_t>(m), stack.end());
            stack.resize(m);
            return items;
        };
        auto line = [&]() -> std::string {
            const void* nl = std::memchr(b + p, '\n', end - p);
            if (!nl)
                failAt("truncated: unterminated text argument");
            const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - (b + p));
            std::string s(reinterpret_cast<const char*>(b + p), len);
            p += len + 1;
            return s;
        };
        auto u8 = [&]() {
            need(1);
            return b[p++];
        };
        auto u16 = [&]() {
            need(2);
            const uint16_t v = rdU16(b + p);
            p += 2;
            return v;
        };
        auto u32 = [&]() {
            need(4);
            const uint32_t v = rdU32(b + p);
            p += 4;
            return v;
        };
        auto u64 = [&]() {
            need(8);
            const uint64_t v = rdU64(b + p);
            p += 8;
            return v;
        };
        auto bytes = [&](uint64_t n) {
            if (n > end - p)
                failAt("truncated: a " + std::to_string(n) + "-byte string, " +
                       std::to_string(end - p) + " bytes left");
            std::string s(reinterpret_cast<const char*>(b + p), static_cast<size_t>(n));
            p += static_cast<size_t>(n);
            return s;
        };
        auto parseInt = [&](const std::string& s) -> int64_t {
            std::string t = s;
            if (!t.empty() && t.back() == 'L')
                t.pop_back();
            int64_t v = 0;
            const char* first = t.data();
            if (!t.empty() && t[0] == '+')
                ++first;
            const auto r = std::from_chars(first, t.data() + t.size(), v);
            if (r.ec != std::errc() || r.ptr != t.data() + t.size() || first == t.data() + t.size())
                failAt("bad integer literal '" + printable(s) + "'");
            return v;
        };
        auto memoGet = [&](uint32_t idx) {
            auto it = memo.find(idx);
            if (it == memo.end())
                failAt("memo key " + std::to_string(idx) + " not defined");
            stack.push_back(it->second);
        };
        auto setItems = [&](uint32_t dict, const std::vector<uint32_t>& kv) {
            if (pool_[dict].kind != Kind::Dict)
                failAt(std::string("SETITEM(S) on a ") + kindName(pool_[dict].kind));
            if (kv.size() % 2)
                failAt("SETITEMS with an odd number of items");
            auto& items = seqs_[pool_[dict].ref].items;
            items.insert(items.end(), kv.begin(), kv.end());
        };
        auto appendItems = [&](uint32_t list, const std::vector<uint32_t>& v, Kind want) {
            if (pool_[list].kind != want)
                failAt(std::string("cannot add items to a ") + kindName(pool_[list].kind));
            auto& items = seqs_[pool_[list].ref].items;
            items.insert(items.end(), v.begin(), v.end());
        };

        for (;;)
        {
            opPos_ = p;
            if (p >= end)
                failAt("truncated: no STOP opcode");
            const uint8_t op = b[p++];
            switch (op)
            {
            case 0x80:  // PROTO
            {
                const uint8_t v = u8();
                if (v > 5)
                    failAt("unsupported pickle protocol " + std::to_string(v));
                break;
            }
            case 0x95:  // FRAME: framing is only a read-ahead hint
            {
                const uint64_t n = u64();
                if (n > end - p)
                    failAt("frame of " + std::to_string(n) + " bytes runs past the end");
                break;
            }
            case '.':  // STOP
            {
                const uint32_t r = pop();
                if (endPos)
                    *endPos = p;
                return r;
            }
            case '(': marks.push_back(stack.size()); break;
            case '0': pop(); break;
            case '1': popMark(); break;
            case '2': stack.push_back(top()); break;
            case 'N': stack.push_back(0); break;
            case 0x88: stack.push_back(1); break;  // NEWTRUE
            case 0x89: stack.push_back(2); break;  // NEWFALSE
            case 'I':                              // INT (text)
            {
                const std::string s = line();
                if (s == "01")
                    stack.push_back(1);
                else if (s == "00")
                    stack.push_back(2);
                else
                    stack.push_back(addInt(parseInt(s)));
                break;
            }
            case 'L': stack.push_back(addInt(parseInt(line()))); break;  // LONG (text)
            case 'J':                                                     // BININT
            {
                const uint32_t v = u32();
                int32_t s;
                std::memcpy(&s, &v, 4);
                stack.push_back(addInt(s));
                break;
            }
            case 'K': stack.push_back(addInt(u8())); break;   // BININT1
            case 'M': stack.push_back(addInt(u16())); break;  // BININT2
            case 0x8a:                                        // LONG1
            {
                const size_t n = u8();
                need(n);
                stack.push_back(addLong(b + p, n));
                p += n;
                break;
            }
            case 0x8b:  // LONG4
            {
                const uint32_t n = u32();
                need(n);
                stack.push_back(addLong(b + p, n));
                p += n;
                break;
            }
            case 'F':  // FLOAT (text)
            {
                const std::string s = line();
                double d = 0;
                const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
                if (r.ec != std::errc() || r.ptr != s.data() + s.size())
                    failAt("bad float literal '" + printable(s) + "'");
                stack.push_back(addFloat(d));
                break;
            }
            case 'G':  // BINFLOAT, big-endian
            {
                uint64_t v = u64();
                v = __builtin_bswap64(v);
                double d;
                std::memcpy(&d, &v, 8);
                stack.push_back(addFloat(d));
                break;
            }
            case 'X': stack.push_back(addStr(Kind::Str, bytes(u32()))); break;   // BINUNICODE
            case 0x8c: stack.push_back(addStr(Kind::Str, bytes(u8()))); break;  // SHORT_BINUNICODE
            case 0x8d: stack.push_back(addStr(Kind::Str, bytes(u64()))); break; // BINUNICODE8
            // Python 2 str: torch.load decodes them as text too.
            case 'T': stack.push_back(addStr(Kind::Str, bytes(u32()))); break;  // BINSTRING
            case 'U': stack.push_back(addStr(Kind::Str, bytes(u8()))); break;   // SHORT_BINSTRING
            case 'B': stack.push_back(addStr(Kind::Bytes, bytes(u32()))); break;   // BINBYTES
            case 'C': stack.push_back(addStr(Kind::Bytes, bytes(u8()))); break;    // SHORT_BINBYTES
            case 0x8e: stack.push_back(addStr(Kind::Bytes, bytes(u64()))); break;  // BINBYTES8
            case 0x96: stack.push_back(addStr(Kind::Bytes, bytes(u64()))); break;  // BYTEARRAY8
            case ')': stack.push_back(addSeq(Kind::Tuple)); break;                 // EMPTY_TUPLE
            case 't': stack.push_back(addSeq(Kind::Tuple, popMark())); break;      // TUPLE
            case 0x85:                                                             // TUPLE1
            {
                const uint32_t a = pop();
                stack.push_back(addSeq(Kind::Tuple, {a}));
                break;
            }
            case 0x86:  // TUPLE2
            {
                const uint32_t b2 = pop();
                const uint32_t a = pop();
                stack.push_back(addSeq(Kind::Tuple, {a, b2}));
                break;
            }
            case 0x87:  // TUPLE3
            {
                const uint32_t c = pop();
                const uint32_t b2 = pop();
                const uint32_t a = pop();
                stack.push_back(addSeq(Kind::Tuple, {a, b2, c}));
                break;
            }
            case ']': stack.push_back(addSeq(Kind::List)); break;             // EMPTY_LIST
            case 'l': stack.push_back(addSeq(Kind::List, popMark())); break;  // LIST
            case 'a':                                                         // APPEND
            {
                const uint32_t v = pop();
                appendItems(top(), {v}, Kind::List);
                break;
            }
            case 'e':  // APPENDS
            {
                const std::vector<uint32_t> v = popMark();
                appendItems(top(), v, Kind::List);
                break;
            }
            case '}': stack.push_back(newDict()); break;  // EMPTY_DICT
            case 'd':                                      // DICT
            {
                const std::vector<uint32_t> kv = popMark();
                if (kv.size() % 2)
                    failAt("DICT with an odd number of items");
                stack.push_back(newDict(kv));
                break;
            }
            case 's':  // SETITEM
            {
                const uint32_t v = pop();
                const uint32_t k = pop();
                setItems(top(), {k, v});
                break;
            }
            case 'u':  // SETITEMS
            {
                const std::vector<uint32_t> kv = popMark();
                setItems(top(), kv);
                break;
            }
            case 0x8f: stack.push_back(addSeq(Kind::Set)); break;  // EMPTY_SET
            case 0x90:                                              // ADDITEMS
            {
                const std::vector<uint32_t> v = popMark();
                appendItems(top(), v, Kind::Set);
                break;
            }
            case 0x91: stack.push_back(addSeq(Kind::Set, popMark())); break;  // FROZENSET
            case 'g': memoGet(static_cast<uint32_t>(parseInt(line()))); break;  // GET
            case 'h': memoGet(u8()); break;                                      // BINGET
            case 'j': memoGet(u32()); break;                                     // LONG_BINGET
            case 'p':                                                            // PUT
            {
                const int64_t idx = parseInt(line());
                if (idx < 0 || idx > std::numeric_limits<uint32_t>::max())
                    failAt("bad memo index");
                memo[static_cast<uint32_t>(idx)] = top();
                break;
            }
            case 'q': memo[u8()] = top(); break;   // BINPUT
            case 'r': memo[u32()] = top(); break;  // LONG_BINPUT
            case 0x94:                             // MEMOIZE
                memo[static_cast<uint32_t>(memo.size())] = top();
                break;
            case 'c':  // GLOBAL
            {
                const std::string module = line();
                const std::string name = line();
                stack.push_back(resolveGlobal(module, name));
                break;
            }
            case 0x93:  // STACK_GLOBAL
            {
                const uint32_t n = pop();
                const uint32_t m = pop();
                const std::string name = asStr(n, "global name");
                const std::string module = asStr(m, "global module");
                stack.push_back(resolveGlobal(module, name));
                break;
            }
            case 'R':  // REDUCE
            {
                const uint32_t args = pop();
                const uint32_t fn = pop();
                stack.push_back(call(fn, args));
                break;
            }
            case 0x81:  // NEWOBJ
            {
                pop();  // the arguments do not matter for the classes accepted
                const uint32_t cls = pop();
                stack.push_back(newObj(cls));
                break;
            }
            case 0x92:  // NEWOBJ_EX
            {
                pop();
                pop();
                const uint32_t cls = pop();
                stack.push_back(newObj(cls));
                break;
            }
            case 'b':  // BUILD
            {
                const uint32_t state = pop();
                const Obj& target = pool_[top()];
                // OrderedDict attributes (a state dict's _metadata) and the state of inert
                // objects carry nothing the weights need.
                if (target.kind == Kind::Dict)
                {
                    const Kind sk = pool_[state].kind;
                    if (sk != Kind::Dict && sk != Kind::Tuple && sk != Kind::None)
                        failAt(std::string("BUILD on a dict with a ") + kindName(sk) + " state");
                }
                else if (target.kind != Kind::Opaque && target.kind != Kind::Tensor)
                {
                    failAt(std::string("BUILD on a ") + kindName(target.kind));
                }
                break;
            }
            case 'Q':  // BINPERSID
            {
                if (!allowPersistent)
                    failAt("persistent id outside the object pickle");
                const uint32_t pid = pop();
                stack.push_back(persistentLoad(pid));
                break;
            }
            case 'P': failAt("text persistent ids (PERSID) are not used by torch.save");
            case 'S':
            case 'V':
                failAt("protocol-0 text strings are not supported (torch.save writes protocol 2)");
            case 'i':
            case 'o': failAt("protocol-0/1 class instances (INST/OBJ) are not supported");
            case 0x82:
            case 0x83:
            case 0x84: failAt("pickle extension codes (EXT1/2/4) are not supported");
            case 0x97:
            case 0x98: failAt("out-of-band pickle buffers are not supported");
            default:
            {
                static const char* hex = "0123456789abcdef";
                failAt(std::string("unknown pickle opcode 0x") + hex[op >> 4] + hex[op & 15]);
            }
            }
        }
    }

    // ----------------------------------------------------------------- flattening
    size_t visitBudget_ = 0;
    std::unordered_set<uint32_t> onPath_;  // containers being flattened (cycle detection)
    uint64_t outputBudget_ = 0;  // elements that may still be materialised

    std::string describe(uint32_t o) const
    {
        const Obj& ob = pool_[o];
        switch (ob.kind)
        {
        case Kind::None: return "None";
        case Kind::Bool: return ob.num ? "True" : "False";
        case Kind::Int: return std::to_string(ob.num);
        case Kind::BigInt: return "<int of " + std::to_string(strs_[ob.ref].size() * 8) + " bits>";
        case Kind::Float:
        {
            double d;
            std::memcpy(&d, &ob.num, 8);
            char text[64];
            const auto r = std::to_chars(text, text + sizeof(text), d);  // shortest round trip
            return std::string(text, r.ptr);
        }
        case Kind::Str: return "'" + printable(strs_[ob.ref], 60) + "'";
        case Kind::Bytes: return "<" + std::to_string(strs_[ob.ref].size()) + " bytes>";
        case Kind::Opaque: return "<" + printable(strs_[ob.ref]) + ">";
        case Kind::Global: return "<" + printable(globals_[ob.ref].name) + ">";
        case Kind::Storage: return "<storage>";
        default: return std::string("<") + kindName(ob.kind) + ">";
        }
    }

    std::string keyName(uint32_t k) const
    {
        const Obj& ob = pool_[k];
        if (ob.kind == Kind::Str)
            return strs_[ob.ref];
        return describe(k);
    }

    void flattenRoot(uint32_t root, PthContents& out)
    {
        size_t refs = 0;
        for (const Seq& s : seqs_)
            refs += s.items.size();
        visitBudget_ = refs + 1;  // enough for any tree; stops exponential shared DAGs
        // Decoded data may exceed the stored data only modestly (tied weights, broadcast
        // views); a hostile file cannot make us allocate far more than its own size.
        outputBudget_ = 2 * static_cast<uint64_t>(buf_.size()) + (uint64_t(1) << 24);
        flatten(root, "", 0, out);
        std::unordered_set<std::string> names;
        for (const NamedArray& a : out.tensors)
            if (!names.insert(a.name).second)
                fail("two tensors are both named '" + printable(a.name) + "' after flattening");
    }

    void flatten(uint32_t o, const std::string& name, int depth, PthContents& out)
    {
        if (depth > kMaxNesting)
            fail("containers nested deeper than " + std::to_string(kMaxNesting) + " levels (at '" +
                 printable(name) + "')");
        if (visitBudget_ == 0)
            fail("the object graph shares containers too often to be flattened");
        --visitBudget_;
        auto child = [&](const std::string& key) { return name.empty() ? key : name + "." + key; };
        const Obj& ob = pool_[o];
        const bool container = ob.kind == Kind::Dict || ob.kind == Kind::List ||
                               ob.kind == Kind::Tuple || ob.kind == Kind::Set;
        if (container)
        {
            if (onPath_.count(o))
                fail("the object graph is cyclic: '" + printable(name) + "' contains itself");
            onPath_.insert(o);
        }
        switch (ob.kind)
        {
        case Kind::Dict:
        {
            // Python semantics for repeated keys: first position, last value.
            const std::vector<uint32_t>& items = seqs_[ob.ref].items;
            std::unordered_map<std::string, size_t> last;
            std::vector<std::string> order;
            for (size_t i = 0; i + 1 < items.size(); i += 2)
            {
                std::string k = keyName(items[i]);
                auto r = last.emplace(k, i);
                if (r.second)
                    order.push_back(std::move(k));
                else
                    r.first->second = i;
            }
            for (const std::string& k : order)
                flatten(items[last[k] + 1], child(k), depth + 1, out);
            break;
        }
        case Kind::List:
        case Kind::Tuple:
        case Kind::Set:
        {
            const std::vector<uint32_t>& items = seqs_[ob.ref].items;
            for (size_t i = 0; i < items.size(); ++i)
                flatten(items[i], child(std::to_string(i)), depth + 1, out);
            break;
        }
        case Kind::Tensor: out.tensors.push_back(materialise(tensors_[ob.ref], name)); break;
        default: out.others.emplace_back(name, describe(o)); break;
        }
        if (container)
            onPath_.erase(o);
    }

    NamedArray materialise(const TensorInfo& t, const std::string& name)
    {
        const std::string tn = "tensor '" + printable(name) + "'";
        // The storage the tensor refers to; a legacy storage view is a sub-range of a root.
        const StorageInfo& own = storages_[t.storage];
        const StorageInfo& root = own.root >= 0 ? storages_[static_cast<size_t>(own.root)] : own;
        if (!root.resolved)
            fail(tn + ": storage '" + printable(root.key) + "' has no data in the file");
        const size_t es = elementSize(t.dtype);
        const size_t ownStart = static_cast<size_t>(root.byteOffset) +
                                static_cast<size_t>(own.viewOffset) * elementSize(own.dtype);
        const int64_t ownBytes = own.numel * static_cast<int64_t>(elementSize(own.dtype));
        const int64_t avail = ownBytes / static_cast<int64_t>(es);  // elements of t.dtype

        NamedArray a;
        a.name = name;
        a.dtype = t.dtype;
        a.shape = t.sizes;
        int64_t numel = 1;
        int64_t maxIndex = t.offset;
        for (size_t d = 0; d < t.sizes.size(); ++d)
        {
            if (t.sizes[d] == 0)
            {
                numel = 0;
                break;
            }
            int64_t span;
            if (mulOverflows(numel, t.sizes[d], numel) || mulOverflows(t.sizes[d] - 1, t.strides[d], span) ||
                addOverflows(maxIndex, span, maxIndex))
                fail(tn + " has an impossible shape " + shapeToString(t.sizes));
        }
        if (numel == 0)
            return a;
        if (maxIndex >= avail)
            fail(tn + " (shape " + shapeToString(t.sizes) + ", offset " + std::to_string(t.offset) +
                 ") reaches element " + std::to_string(maxIndex) + " of a storage with " +
                 std::to_string(avail));
        if (numel > std::max<int64_t>(avail, int64_t(1) << 24) || static_cast<uint64_t>(numel) > outputBudget_)
            fail(tn + " has " + std::to_string(numel) + " elements but its storage only " +
                 std::to_string(avail) + ": refusing to expand it");
        outputBudget_ -= static_cast<uint64_t>(numel);

        const uint8_t* base = buf_.data() + ownStart;
        const bool swap = root.bigEndian && es > 1;
        const bool fp = isFloatingPoint(t.dtype);
        if (fp)
            a.f32.resize(static_cast<size_t>(numel));
        else
            a.i64.resize(static_cast<size_t>(numel));

        auto load = [&](int64_t index, size_t outIdx) {
            const uint8_t* p = base + static_cast<size_t>(index) * es;
            uint8_t tmp[8];
            if (swap)
            {
                for (size_t k = 0; k < es; ++k)
                    tmp[k] = p[es - 1 - k];
                p = tmp;
            }
            switch (t.dtype)
            {
            case PthDType::Float32: std::memcpy(&a.f32[outIdx], p, 4); break;
            case PthDType::Float64:
            {
                double d;
                std::memcpy(&d, p, 8);
                a.f32[outIdx] = static_cast<float>(d);
                break;
            }
            case PthDType::Float16: a.f32[outIdx] = halfToFloat(rdU16(p)); break;
            case PthDType::BFloat16:
            {
                const uint32_t bits = static_cast<uint32_t>(rdU16(p)) << 16;
                std::memcpy(&a.f32[outIdx], &bits, 4);
                break;
            }
            case PthDType::Int64:
            {
                int64_t v;
                std::memcpy(&v, p, 8);
                a.i64[outIdx] = v;
                break;
            }
            case PthDType::Int32:
            {
                int32_t v;
                std::memcpy(&v, p, 4);
                a.i64[outIdx] = v;
                break;
            }
            case PthDType::Int16:
            {
                int16_t v;
                std::memcpy(&v, p, 2);
                a.i64[outIdx] = v;
                break;
            }
            case PthDType::Int8: a.i64[outIdx] = static_cast<int8_t>(p[0]); break;
            case PthDType::UInt8: a.i64[outIdx] = p[0]; break;
            case PthDType::Bool: a.i64[outIdx] = p[0] != 0; break;
            }
        };

        // Row-major walk over the view; contiguous little-endian float32 is a single copy.
        bool contiguous = true;
        int64_t expect = 1;
        for (size_t d = t.sizes.size(); d-- > 0;)
        {
            if (t.sizes[d] != 1 && t.strides[d] != expect)
                contiguous = false;
            expect *= t.sizes[d];
        }
        if (contiguous && t.dtype == PthDType::Float32 && !swap)
        {
            std::memcpy(a.f32.data(), base + static_cast<size_t>(t.offset) * 4, static_cast<size_t>(numel) * 4);
            return a;
        }
        const size_t nd = t.sizes.size();
        std::vector<int64_t> idx(nd, 0);
        int64_t src = t.offset;
        for (int64_t i = 0; i < numel; ++i)
        {
            load(src, static_cast<size_t>(i));
            for (size_t d = nd; d-- > 0;)
            {
                if (++idx[d] < t.sizes[d])
                {
                    src += t.strides[d];
                    break;
                }
                src -= (t.sizes[d] - 1) * t.strides[d];
                idx[d] = 0;
            }
        }
        return a;
    }

    const std::vector<uint8_t>& buf_;
    std::string file_;
};

}  // namespace

const char* pthDTypeName(PthDType t)
{
    switch (t)
    {
    case PthDType::Float32: return "float32";
    case PthDType::Float64: return "float64";
    case PthDType::Float16: return "float16";
    case PthDType::BFloat16: return "bfloat16";
    case PthDType::Int64: return "int64";
    case PthDType::Int32: return "int32";
    case PthDType::Int16: return "int16";
    case PthDType::Int8: return "int8";
    case PthDType::UInt8: return "uint8";
    case PthDType::Bool: return "bool";
    }
    return "?";
}

bool isFloatingPoint(PthDType t)
{
    return t == PthDType::Float32 || t == PthDType::Float64 || t == PthDType::Float16 ||
           t == PthDType::BFloat16;
}

int64_t NamedArray::numel() const
{
    int64_t n = 1;
    for (int64_t s : shape)
        n *= s;
    return n;
}

const NamedArray* PthContents::find(const std::string& name) const
{
    for (const NamedArray& a : tensors)
        if (a.name == name)
            return &a;
    return nullptr;
}

std::string shapeToString(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

PthContents readPthBytes(const std::vector<uint8_t>& bytes, const std::string& displayName)
{
    PthParser parser(bytes, displayName);
    return parser.parse();
}

PthContents readPth(const std::string& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw std::runtime_error(path + ": is a directory, expected a torch.save file");
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw std::runtime_error(path + ": cannot open the file");
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    if (size < 0)
        throw std::runtime_error(path + ": cannot determine the file size");
    // Far above any published ResNet/SFNet checkpoint (ResNet-101: 171 MB); bounds the buffer.
    const std::streamoff kMaxBytes = std::streamoff(8) << 30;
    if (size > kMaxBytes)
        throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, more than the " +
                                 std::to_string(kMaxBytes) + " accepted for a checkpoint");
    f.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
        throw std::runtime_error(path + ": read error");
    return readPthBytes(bytes, path);
}

}  // namespace sfnet
