// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The .pth reader against files written by PyTorch itself (make_weight_fixtures.py), plus
// damaged and hostile inputs, which must all end in a std::runtime_error naming the file.
#include "pth_reader.hpp"
#include "weight_fixtures.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

using namespace sfnet;
using sfnet_test::weightsDir;

namespace
{

std::vector<uint8_t> readFile(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << path;
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Exact comparison: the reader converts to float32 exactly like PyTorch does (float16,
// bfloat16 widen exactly; float64 rounds to nearest).
void expectSameValue(float got, double want, const std::string& what)
{
    if (std::isnan(want))
    {
        EXPECT_TRUE(std::isnan(got)) << what;
        return;
    }
    const float w = static_cast<float>(want);
    EXPECT_EQ(got, w) << what;
    EXPECT_EQ(std::signbit(got), std::signbit(w)) << what;  // -0.0 stays -0.0
}

void expectMatches(const PthContents& got, const sfnet_test::ExpectedFile& want, const std::string& file)
{
    EXPECT_EQ(got.format, want.format) << file;
    ASSERT_EQ(got.tensors.size(), want.tensors.size()) << file;
    for (size_t i = 0; i < want.tensors.size(); ++i)
    {
        const NamedArray& a = got.tensors[i];
        const sfnet_test::ExpectedTensor& e = want.tensors[i];
        const std::string what = file + " " + e.name;
        EXPECT_EQ(a.name, e.name) << file << " tensor #" << i;
        EXPECT_EQ(pthDTypeName(a.dtype), e.dtype) << what;
        EXPECT_EQ(a.shape, e.shape) << what;
        const bool fp = isFloatingPoint(a.dtype);
        EXPECT_EQ(fp ? a.f32.size() : a.i64.size(), static_cast<size_t>(a.numel())) << what;
        EXPECT_TRUE(fp ? a.i64.empty() : a.f32.empty()) << what;
        ASSERT_TRUE(e.full) << what;
        ASSERT_EQ(static_cast<size_t>(a.numel()), e.values.size()) << what;
        for (size_t k = 0; k < e.values.size(); ++k)
        {
            if (fp)
                expectSameValue(a.f32[k], e.values[k], what + "[" + std::to_string(k) + "]");
            else
                EXPECT_EQ(a.i64[k], static_cast<int64_t>(e.values[k])) << what << "[" << k << "]";
        }
    }
}

// ---- a tiny pickle assembler for hand-made hostile files --------------------------------

struct Pk
{
    std::string b = std::string("\x80\x02", 2);
    Pk& raw(const std::string& s)
    {
        b += s;
        return *this;
    }
    Pk& op(char c)
    {
        b += c;
        return *this;
    }
    Pk& u32(uint32_t v)
    {
        for (int i = 0; i < 4; ++i)
            b += static_cast<char>((v >> (8 * i)) & 0xff);
        return *this;
    }
    Pk& str(const std::string& s)
    {
        op('X').u32(static_cast<uint32_t>(s.size()));
        b += s;
        return *this;
    }
    Pk& i32(int32_t v)
    {
        return op('J').u32(static_cast<uint32_t>(v));
    }
    Pk& i64(int64_t v)  // LONG1 with 8 bytes
    {
        b += '\x8a';
        b += '\x08';
        for (int i = 0; i < 8; ++i)
            b += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
        return *this;
    }
    Pk& global(const std::string& m, const std::string& n)
    {
        b += 'c' + m + '\n' + n + '\n';
        return *this;
    }
    Pk& ints(const std::vector<int64_t>& v)  // a tuple of ints
    {
        op('(');
        for (int64_t x : v)
            i64(x);
        return op('t');
    }
    std::string done() const
    {
        return b + ".";
    }
};

// {'w': tensor} whose storage is key "k0" of `numel` elements of `storageType`.
std::string tensorDict(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                       int64_t offset, int64_t numel, const std::string& storageType = "FloatStorage")
{
    Pk p;
    p.op('}').str("w").global("torch._utils", "_rebuild_tensor_v2");
    p.op('(').op('(').str("storage").global("torch", storageType).str("k0").str("cpu").i64(numel);
    p.op('N').op('t').op('Q');
    p.i64(offset).ints(sizes).ints(strides).op('\x89').op('N').op('t').op('R').op('s');
    return p.done();
}

// A legacy-format file: header pickles, the object pickle, the key list, the storages.
std::vector<uint8_t> legacyFile(const std::string& objectPickle, const std::vector<std::string>& keys,
                                const std::vector<std::pair<int64_t, std::string>>& storages)
{
    std::string s;
    s += std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
    s += std::string("\x80\x02M\xe9\x03.", 6);
    s += Pk().op('}').op('(').str("little_endian").op('\x88').op('u').done();
    s += objectPickle;
    Pk k;
    k.op(']').op('(');
    for (const std::string& key : keys)
        k.str(key);
    s += k.op('e').done();
    for (const auto& st : storages)
    {
        for (int i = 0; i < 8; ++i)
            s += static_cast<char>((static_cast<uint64_t>(st.first) >> (8 * i)) & 0xff);
        s += st.second;
    }
    return std::vector<uint8_t>(s.begin(), s.end());
}

std::string floats(const std::vector<float>& v)
{
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// Runs the reader and returns the error message ("" when it succeeded).
std::string errorOf(const std::vector<uint8_t>& bytes, const std::string& name = "hostile.pth")
{
    try
    {
        readPthBytes(bytes, name);
    }
    catch (const std::runtime_error& e)
    {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(PthReader, EveryFixtureDecodesToWhatPyTorchWrote)
{
    const auto expected = sfnet_test::readExpected();
    const char* files[] = {"reader_zip.pth",    "reader_legacy.pth",   "reader_bigendian.pth",
                           "nested_zip_p4.pth", "nested_legacy.pth",   "legacy_storage_view.pth"};
    for (const char* f : files)
    {
        SCOPED_TRACE(f);
        ASSERT_TRUE(expected.count(f));
        expectMatches(readPth(weightsDir() + f), expected.at(f), f);
    }
}

TEST(PthReader, ViewsSharingAStorageKeepTheirOffsetsAndStrides)
{
    for (const char* f : {"reader_zip.pth", "reader_legacy.pth"})
    {
        SCOPED_TRACE(f);
        const PthContents c = readPth(weightsDir() + f);
        const NamedArray* base = c.find("layer1.0.conv2.weight");  // [3, 5]
        const NamedArray* tr = c.find("layer1.0.conv1.weight");    // its transpose
        ASSERT_TRUE(base && tr);
        ASSERT_EQ(base->shape, (std::vector<int64_t>{3, 5}));
        ASSERT_EQ(tr->shape, (std::vector<int64_t>{5, 3}));
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 5; ++j)
                EXPECT_EQ(tr->f32[j * 3 + i], base->f32[i * 5 + j]);
        // line[3:7] and line[1::3] of one 10-element storage overlap in line[4].
        const NamedArray* slice = c.find("layer1.0.bn1.running_mean");
        const NamedArray* step = c.find("layer1.0.bn1.running_var");
        ASSERT_TRUE(slice && step);
        ASSERT_EQ(slice->shape, (std::vector<int64_t>{4}));
        ASSERT_EQ(step->shape, (std::vector<int64_t>{3}));
        EXPECT_EQ(step->f32[1], slice->f32[1]);
        EXPECT_NE(step->f32[0], slice->f32[0]);
        // Broadcast view (stride 0 along dim 1): every row is constant.
        const NamedArray* bc = c.find("layer2.0.bn1.weight");
        ASSERT_TRUE(bc);
        ASSERT_EQ(bc->shape, (std::vector<int64_t>{3, 4}));
        for (int i = 0; i < 3; ++i)
            for (int j = 1; j < 4; ++j)
                EXPECT_EQ(bc->f32[i * 4 + j], bc->f32[i * 4]);
        const NamedArray* nbt = c.find("bn1.num_batches_tracked");
        ASSERT_TRUE(nbt);
        EXPECT_TRUE(nbt->shape.empty());
        EXPECT_EQ(nbt->dtype, PthDType::Int64);
        ASSERT_EQ(nbt->i64.size(), 1u);
        EXPECT_EQ(nbt->i64[0], 7);
    }
}

TEST(PthReader, LegacyStorageViewsByHand)
{
    // root[i] = 0.5 i - 1 (12 elements); view1 = root[2:8], view2 = root[8:12];
    // a = view1 as_strided((2,2), (1,2), offset 1), b = view2, c = view1.
    const PthContents c = readPth(weightsDir() + "legacy_storage_view.pth");
    ASSERT_EQ(c.tensors.size(), 3u);
    EXPECT_EQ(c.tensors[0].name, "a");
    EXPECT_EQ(c.tensors[0].f32, (std::vector<float>{0.5f, 1.5f, 1.0f, 2.0f}));
    EXPECT_EQ(c.tensors[1].f32, (std::vector<float>{3.0f, 3.5f, 4.0f, 4.5f}));
    EXPECT_EQ(c.tensors[2].f32, (std::vector<float>{0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 2.5f}));
}

TEST(PthReader, NestedCheckpointKeysAndPlainValues)
{
    for (const char* f : {"nested_zip_p4.pth", "nested_legacy.pth"})
    {
        SCOPED_TRACE(f);
        const PthContents c = readPth(weightsDir() + f);
        std::vector<std::string> names;
        for (const NamedArray& a : c.tensors)
            names.push_back(a.name);
        EXPECT_EQ(names, (std::vector<std::string>{
                             "state_dict1.conv1.0.weight", "state_dict1.conv1.0.bias",
                             "state_dict1.conv1.1.num_batches_tracked", "state_dict2.conv1.0.weight",
                             "flags.2"}));
        EXPECT_EQ(c.find("state_dict1.conv1.1.num_batches_tracked")->i64,
                  (std::vector<int64_t>{123456789012}));
        EXPECT_EQ(c.find("flags.2")->i64, (std::vector<int64_t>{0, 1, 2}));
        const std::vector<std::pair<std::string, std::string>> others = {
            {"epoch", "40"},     {"best_pck", "0.8125"}, {"name", "'sfnet'"},
            {"flags.0", "True"}, {"flags.1", "None"},    {"shape.0", "2"},
            {"shape.1", "3"},    {"args", "<argparse.Namespace>"}};
        EXPECT_EQ(c.others, others);
    }
}

TEST(PthReader, MissingAndNonCheckpointFilesAreNamed)
{
    try
    {
        readPth(weightsDir() + "no_such_file.pth");
        FAIL() << "no exception";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("no_such_file.pth: cannot open"), std::string::npos) << e.what();
    }
    const std::string text = "just some text, not a checkpoint\n";
    EXPECT_NE(errorOf(std::vector<uint8_t>(text.begin(), text.end()), "notes.txt").find("notes.txt: not a PyTorch checkpoint"),
              std::string::npos);
    EXPECT_NE(errorOf({}, "empty.pth").find("empty.pth: "), std::string::npos);
    // A pickle that is not torch's (no magic number).
    const std::string plain = Pk().op('}').done();
    EXPECT_NE(errorOf(std::vector<uint8_t>(plain.begin(), plain.end())).find("magic number"), std::string::npos);
}

TEST(PthReader, EveryTruncationIsACleanError)
{
    for (const char* f : {"reader_zip.pth", "reader_legacy.pth", "nested_zip_p4.pth",
                          "nested_legacy.pth", "reader_bigendian.pth", "legacy_storage_view.pth"})
    {
        SCOPED_TRACE(f);
        const std::vector<uint8_t> full = readFile(weightsDir() + f);
        ASSERT_EQ(errorOf(full, f), "");
        for (size_t len = 0; len < full.size(); ++len)
        {
            const std::string err = errorOf(std::vector<uint8_t>(full.begin(), full.begin() + len), f);
            ASSERT_EQ(err.rfind(std::string(f) + ": ", 0), 0u) << "length " << len << ": '" << err << "'";
        }
    }
}

TEST(PthReader, RandomCorruptionNeverCrashes)
{
    // Either a clean std::runtime_error or a successful parse (a changed float inside a
    // legacy pickle is still a valid file); anything else fails or crashes the test.
    std::mt19937 rng(12345);
    int errors = 0, total = 0;
    for (const char* f : {"reader_zip.pth", "reader_legacy.pth", "nested_zip_p4.pth", "nested_legacy.pth"})
    {
        const std::vector<uint8_t> full = readFile(weightsDir() + f);
        for (int trial = 0; trial < 1500; ++trial)
        {
            std::vector<uint8_t> bad = full;
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int k = 0; k < flips; ++k)
                bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
            std::string err;
            try
            {
                readPthBytes(bad, f);
            }
            catch (const std::runtime_error& e)
            {
                err = e.what();
                ++errors;
            }
            ++total;
            if (!err.empty())
                ASSERT_EQ(err.rfind(std::string(f) + ": ", 0), 0u) << err;
        }
    }
    EXPECT_GT(errors, total / 4);  // most damage is noticed
}

TEST(PthReader, ZipDamageIsCaughtByTheCrc)
{
    const std::vector<uint8_t> full = readFile(weightsDir() + "reader_zip.pth");
    const PthContents good = readPthBytes(full, "reader_zip.pth");
    // The first float of conv1.weight lies at the start of the storage entry "data/0".
    const float v0 = good.tensors[0].f32[0];
    size_t at = std::string::npos;
    for (size_t i = 0; i + 4 <= full.size(); ++i)
        if (std::memcmp(full.data() + i, &v0, 4) == 0)
            at = i;
    ASSERT_NE(at, std::string::npos);
    std::vector<uint8_t> bad = full;
    bad[at + 1] ^= 0x10;
    EXPECT_NE(errorOf(bad, "reader_zip.pth").find("CRC-32"), std::string::npos);
}

TEST(PthReader, CompressedZipEntryIsRejectedWithAHint)
{
    std::vector<uint8_t> bad = readFile(weightsDir() + "reader_zip.pth");
    // Mark every central-directory entry as deflated (method 8).
    int patched = 0;
    for (size_t i = 0; i + 46 <= bad.size(); ++i)
        if (bad[i] == 'P' && bad[i + 1] == 'K' && bad[i + 2] == 1 && bad[i + 3] == 2)
        {
            bad[i + 10] = 8;
            ++patched;
        }
    ASSERT_GT(patched, 2);
    const std::string err = errorOf(bad, "deflated.pth");
    EXPECT_NE(err.find("is compressed (method 8)"), std::string::npos) << err;
}

TEST(PthReader, HandMadeLegacyFileIsRead)
{
    // The assembler itself must produce files the reader accepts, or the hostile cases
    // below would prove nothing.
    const auto ok = legacyFile(tensorDict({2, 2}, {1, 2}, 1, 5), {"k0"}, {{5, floats({0, 1, 2, 3, 4})}});
    const PthContents c = readPthBytes(ok, "ok.pth");
    ASSERT_EQ(c.tensors.size(), 1u);
    EXPECT_EQ(c.tensors[0].name, "w");
    EXPECT_EQ(c.tensors[0].f32, (std::vector<float>{1, 3, 2, 4}));
}

TEST(PthReader, HostileTensorsAreRejected)
{
    const std::string data = floats({0, 1, 2, 3, 4});
    struct Case
    {
        std::vector<uint8_t> bytes;
        const char* expect;
    };
    const Case cases[] = {
        {legacyFile(tensorDict({2, 3}, {3, 1}, 0, 5), {"k0"}, {{5, data}}), "reaches element 5 of a storage with 5"},
        {legacyFile(tensorDict({100000, 100000}, {0, 0}, 0, 5), {"k0"}, {{5, data}}), "refusing to expand"},
        {legacyFile(tensorDict({int64_t(1) << 62, 4}, {1, 1}, 0, 5), {"k0"}, {{5, data}}), "impossible shape"},
        {legacyFile(tensorDict({2}, {-1}, 1, 5), {"k0"}, {{5, data}}), "negative tensor size or stride"},
        {legacyFile(tensorDict({2}, {1, 1}, 0, 5), {"k0"}, {{5, data}}), "1 sizes but 2 strides"},
        {legacyFile(tensorDict({2}, {1}, 0, 5), {"k0"}, {{4, floats({0, 1, 2, 3})}}), "holds 4 elements, but the pickle says 5"},
        {legacyFile(tensorDict({2}, {1}, 0, 5), {}, {}), "has no data in the file"},
        {legacyFile(tensorDict({2}, {1}, 0, 5), {"k0"}, {{5, data.substr(0, 12)}}), "truncated inside the data of storage 'k0'"},
        {legacyFile(tensorDict({2}, {1}, 0, 1000000), {"k0"}, {{5, data}}), "more than the file could hold"},
        {legacyFile(tensorDict({2}, {1}, 0, 5, "ComplexFloatStorage"), {"k0"}, {{5, data}}), "unsupported Python global 'torch.ComplexFloatStorage'"},
    };
    for (const Case& c : cases)
    {
        const std::string err = errorOf(c.bytes);
        EXPECT_EQ(err.rfind("hostile.pth: ", 0), 0u) << err;
        EXPECT_NE(err.find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << err;
    }
}

TEST(PthReader, HostilePicklesAreRejected)
{
    auto file = [](const std::string& objectPickle) { return legacyFile(objectPickle, {}, {}); };
    std::string deep = std::string("\x80\x02", 2) + std::string(300, ']') + std::string(299, 'a') + ".";
    // t_{k+1} = (t_k, t_k): 2^60 leaves if the shared graph were expanded.
    std::string bomb = std::string("\x80\x02]", 3);
    for (int k = 0; k < 60; ++k)
        bomb += "2\x86";
    bomb += ".";
    struct Case
    {
        std::string pickle;
        const char* expect;
    };
    const Case cases[] = {
        {Pk().global("os", "system").str("rm -rf /").op('\x85').op('R').done(), "unsupported Python global 'os.system'"},
        {Pk().global("torch.nn.modules.conv", "Conv2d").done(), "save model.state_dict()"},
        {Pk().global("__torch__.Net", "Net").done(), "TorchScript"},
        {Pk().raw("\xff").done(), "unknown pickle opcode 0xff"},
        {Pk().op('a').done(), "stack underflow"},
        {Pk().op(']').op('h').raw("\x07").done(), "memo key 7 not defined"},
        {Pk().op('X').u32(0xffffffffu).done(), "truncated"},
        {Pk().raw("\x80\x09").op('N').done(), "unsupported pickle protocol 9"},
        {Pk().op('N').op('}').op('s').done(), "stack underflow"},
        {Pk().op('N').op('N').op('N').op('s').done(), "SETITEM(S) on a None"},
        {Pk().op(']').op('q').raw(std::string(1, '\0')).op('h').raw(std::string(1, '\0')).op('a').done(), "cyclic: '0' contains itself"},
        {deep, "nested deeper than 100 levels"},
        {bomb, "shares containers too often"},
        {Pk().op('(').str("module").op('t').op('Q').done(), "persistent id of kind 'module'"},
        {Pk().op('N').op('Q').done(), "persistent id must be a tuple"},
    };
    for (const Case& c : cases)
    {
        const std::string err = errorOf(file(c.pickle));
        EXPECT_EQ(err.rfind("hostile.pth: ", 0), 0u) << err;
        EXPECT_NE(err.find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << err;
    }
    // A pickle without STOP at the end of the file.
    std::vector<uint8_t> noStop = file(Pk().op('N').done());
    noStop.resize(noStop.size() - Pk().op(']').op('(').op('e').done().size() - 1);
    EXPECT_NE(errorOf(noStop).find("no STOP opcode"), std::string::npos) << errorOf(noStop);
}
