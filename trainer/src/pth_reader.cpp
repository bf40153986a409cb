// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// What torch.save means by its files (pth_parser.hpp): the zip and legacy formats, the fixed
// list of Python globals that are understood, storages and tensors, and the flattening of
// the object graph into named arrays. The zip container is in pth_zip.cpp, the pickle
// machine in pth_pickle.cpp.
#include "pth_parser.hpp"

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
namespace pth
{
namespace
{

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

// Overflow-checked arithmetic on non-negative int64 values.
bool mulOverflows(int64_t a, int64_t b, int64_t& r)
{
    return __builtin_mul_overflow(a, b, &r);
}
bool addOverflows(int64_t a, int64_t b, int64_t& r)
{
    return __builtin_add_overflow(a, b, &r);
}

std::string globalName(const std::string& module, const std::string& name)
{
    return module + "." + name;
}

}  // namespace

PthParser::PthParser(const std::vector<uint8_t>& buf, const std::string& file) : buf_(buf), file_(file)
{
    // Shared singletons: a pickle of a million 'N' opcodes must not cost a million objects.
    pool_.push_back({Kind::None, 0, 0});
    pool_.push_back({Kind::Bool, 0, 1});
    pool_.push_back({Kind::Bool, 0, 0});
}

PthContents PthParser::parse()
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

void PthParser::fail(const std::string& msg) const
{
    throw std::runtime_error(file_ + ": " + msg);
}

uint32_t PthParser::parseZip()
{
    zip_ = std::make_unique<ZipArchive>(buf_, file_);
    const ZipEntry* pkl = nullptr;
    for (const ZipEntry& z : zip_->entries())
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
    torchScript_ = zip_->find(prefix_ + "constants.pkl") != nullptr;
    if (const ZipEntry* bo = zip_->find(prefix_ + "byteorder"))
    {
        const auto r = zip_->data(*bo);
        const std::string order(reinterpret_cast<const char*>(buf_.data() + r.first), r.second);
        if (order == "big")
            bigEndian_ = true;
        else if (order != "little")
            fail("unknown byte order '" + printable(order) + "' in " + prefix_ + "byteorder");
    }
    const auto r = zip_->data(*pkl);
    legacy_ = false;
    return runPickle(r.first, r.first + r.second, pkl->name, true);
}

uint32_t PthParser::parseLegacy()
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

uint32_t PthParser::resolveGlobal(const std::string& module, const std::string& name)
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

// torch.save's persistent id of a storage.
uint32_t PthParser::persistentLoad(uint32_t pid)
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
            const ZipEntry* z = zip_->find(prefix_ + "data/" + key);
            if (!z)
                failAt("storage '" + printable(key) + "' has no entry '" + printable(prefix_) +
                       "data/" + printable(key) + "' in the archive");
            const auto r = zip_->data(*z);
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

uint32_t PthParser::makeTensor(const std::vector<uint32_t>& a, bool hasDType)
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

// REDUCE: callable(*args) for the callables that are understood.
uint32_t PthParser::call(uint32_t callable, uint32_t argsObj)
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

uint32_t PthParser::newObj(uint32_t cls)
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

std::string PthParser::describe(uint32_t o) const
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

std::string PthParser::keyName(uint32_t k) const
{
    const Obj& ob = pool_[k];
    if (ob.kind == Kind::Str)
        return strs_[ob.ref];
    return describe(k);
}

void PthParser::flattenRoot(uint32_t root, PthContents& out)
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

void PthParser::flatten(uint32_t o, const std::string& name, int depth, PthContents& out)
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

NamedArray PthParser::materialise(const TensorInfo& t, const std::string& name)
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

}  // namespace pth

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
    pth::PthParser parser(bytes, displayName);
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