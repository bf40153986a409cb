// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Internal to the checkpoint reader (pth_reader.hpp), included only by its three sources:
//  - pth_zip.cpp:    the zip container (pth_zip.hpp);
//  - pth_pickle.cpp: a restricted pickle machine that builds an inert object graph (no
//                    Python semantics are executed) in one flat pool addressed by index, so
//                    cyclic or deeply nested pickles cannot cause recursion or leaks;
//  - pth_reader.cpp: what torch.save means by it: the two file formats, the globals that are
//                    understood, storages and tensors, and the flattening into NamedArrays.

#include "pth_reader.hpp"
#include "pth_zip.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sfnet
{
namespace pth
{

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

/** @brief Python's name for a kind of object, for messages. */
const char* kindName(Kind k);

/** @brief Parses one torch.save file held in memory. */
class PthParser
{
public:
    /** `buf` must outlive the parser; `file` names it in messages. */
    PthParser(const std::vector<uint8_t>& buf, const std::string& file);

    /** @brief Every tensor and plain value of the file; throws std::runtime_error. */
    PthContents parse();

private:
    [[noreturn]] void fail(const std::string& msg) const;
    /// fail() with the pickle and the opcode being run.
    [[noreturn]] void failAt(const std::string& msg) const;

    // ---- file formats (pth_reader.cpp); each returns the root object
    uint32_t parseZip();
    uint32_t parseLegacy();

    // ---- pickle machine (pth_pickle.cpp)
    uint32_t add(Kind k, uint32_t ref = 0, int64_t num = 0);
    uint32_t addStr(Kind k, std::string s);
    uint32_t addSeq(Kind k, std::vector<uint32_t> items = {});
    uint32_t addInt(int64_t v);
    uint32_t addFloat(double d);
    uint32_t addLong(const uint8_t* p, size_t n);
    uint32_t newDict(const std::vector<uint32_t>& items = {});
    int64_t asInt(uint32_t o, const char* what) const;
    const std::string& asStr(uint32_t o, const char* what) const;
    const std::vector<uint32_t>& asTuple(uint32_t o, const char* what) const;
    const GlobalInfo* asGlobal(uint32_t o) const;
    /// Runs the pickle in [begin, end) of the buffer; its end goes to *endPos when given.
    uint32_t runPickle(size_t begin, size_t end, const std::string& what, bool allowPersistent,
                       size_t* endPos = nullptr);
    /// The legacy format's pickles follow each other: runs the one at pos, advances pos.
    uint32_t runPickleAt(size_t& pos, const std::string& what, bool allowPersistent);

    // ---- what the machine calls out to: torch's meaning of globals (pth_reader.cpp)
    uint32_t resolveGlobal(const std::string& module, const std::string& name);  // GLOBAL
    uint32_t persistentLoad(uint32_t pid);                                       // BINPERSID
    uint32_t call(uint32_t callable, uint32_t argsObj);                          // REDUCE
    uint32_t newObj(uint32_t cls);                                               // NEWOBJ
    uint32_t makeTensor(const std::vector<uint32_t>& a, bool hasDType);

    // ---- flattening into named arrays (pth_reader.cpp)
    std::string describe(uint32_t o) const;
    std::string keyName(uint32_t k) const;
    void flattenRoot(uint32_t root, PthContents& out);
    void flatten(uint32_t o, const std::string& name, int depth, PthContents& out);
    NamedArray materialise(const TensorInfo& t, const std::string& name);

    const std::vector<uint8_t>& buf_;
    std::string file_;

    // zip format
    std::unique_ptr<ZipArchive> zip_;
    std::string prefix_;  // the archive's top folder, "<name>/"

    // object pool
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

    // flattening
    size_t visitBudget_ = 0;
    std::unordered_set<uint32_t> onPath_;  // containers being flattened (cycle detection)
    uint64_t outputBudget_ = 0;            // elements that may still be materialised
};

}  // namespace pth
}  // namespace sfnet
