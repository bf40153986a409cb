// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "onnx_model_info.hpp"

#include <cstdint>
#include <set>

namespace cv {
namespace semflow {

namespace {

// Field numbers from onnx.proto (ONNX 1.x, stable since IR version 3).
enum
{
    kModelIrVersion = 1, kModelGraph = 7, kModelMetadataProps = 14,
    kGraphNode = 1, kGraphInitializer = 5, kGraphInput = 11, kGraphOutput = 12, kGraphSparseInitializer = 15,
    kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4,
    kTensorName = 8, kSparseTensorValues = 1,
    kValueInfoName = 1,
    kEntryKey = 1, kEntryValue = 2
};

enum WireType { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct Reader
{
    const unsigned char* p;
    const unsigned char* end;

    bool varint(uint64_t& v)
    {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (p >= end)
                return false;
            const unsigned char b = *p++;
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                return true;
        }
        return false;
    }

    // Reads one field header and its payload; a length-delimited payload is returned in
    // [sub, subEnd) without being parsed. False on malformed or truncated input.
    bool field(uint32_t& number, int& wire, uint64_t& value, const unsigned char*& sub,
               const unsigned char*& subEnd)
    {
        uint64_t key;
        if (!varint(key))
            return false;
        number = (uint32_t)(key >> 3);
        wire = (int)(key & 7);
        if (number == 0)
            return false;
        switch (wire)
        {
        case kVarint:
            return varint(value);
        case kFixed64:
            if (end - p < 8) return false;
            p += 8;
            return true;
        case kFixed32:
            if (end - p < 4) return false;
            p += 4;
            return true;
        case kLengthDelimited:
            if (!varint(value) || value > (uint64_t)(end - p))
                return false;
            sub = p;
            subEnd = p + value;
            p = subEnd;
            return true;
        default:  // groups (3, 4) are not used by ONNX; 6, 7 do not exist
            return false;
        }
    }
};

// All strings of field `wanted` (a repeated string field), in order.
bool readStrings(const unsigned char* b, const unsigned char* e, uint32_t wanted, std::vector<std::string>& out)
{
    Reader r{b, e};
    while (r.p < r.end)
    {
        uint32_t num; int wire; uint64_t v; const unsigned char* s = nullptr; const unsigned char* se = nullptr;
        if (!r.field(num, wire, v, s, se))
            return false;
        if (num == wanted && wire == kLengthDelimited)
            out.emplace_back((const char*)s, se - s);
    }
    return true;
}

// The last string of field `wanted` (protobuf: a repeated scalar read as singular keeps the last).
bool readString(const unsigned char* b, const unsigned char* e, uint32_t wanted, std::string& out)
{
    std::vector<std::string> all;
    if (!readStrings(b, e, wanted, all))
        return false;
    if (!all.empty())
        out = std::move(all.back());
    return true;
}

struct GraphNode
{
    std::string name, op;
    std::vector<std::string> inputs, outputs;
};

// Counts the entries of a repeated numeric field that may be packed (one length-delimited
// blob) or not (one entry per field). elemBytes: 4 or 8 for fixed32/fixed64, 0 for varints.
bool countRepeated(const unsigned char* b, const unsigned char* e, uint32_t wanted, int elemBytes, uint64_t& count)
{
    Reader r{b, e};
    while (r.p < r.end)
    {
        uint32_t num; int wire; uint64_t v; const unsigned char* s = nullptr; const unsigned char* se = nullptr;
        if (!r.field(num, wire, v, s, se))
            return false;
        if (num != wanted)
            continue;
        if (wire != kLengthDelimited)
            count++;
        else if (elemBytes > 0)
        {
            if ((se - s) % elemBytes)
                return false;
            count += (uint64_t)(se - s) / elemBytes;
        }
        else
        {
            Reader vr{s, se};
            while (vr.p < vr.end)
            {
                uint64_t x;
                if (!vr.varint(x))
                    return false;
                count++;
            }
        }
    }
    return true;
}

// An initializer whose data does not hold product(dims) elements: OpenCV 4.6's importer
// copies product(dims) elements anyway (found by fuzz_onnx_model: a heap-buffer-overflow
// read for dims [43, 3, 1, 1] over 24 floats).
bool checkTensorData(const unsigned char* b, const unsigned char* e, std::string& why)
{
    enum { kDims = 1, kDataType = 2, kFloatData = 4, kInt32Data = 5, kStringData = 6, kInt64Data = 7,
           kRawData = 9, kDoubleData = 10, kUint64Data = 11, kDataLocation = 14 };
    std::string name;
    if (!readString(b, e, kTensorName, name))
        return false;
    uint64_t dataType = 0, location = 0, rawBytes = 0;
    bool haveRaw = false;
    std::vector<uint64_t> dims;
    Reader r{b, e};
    while (r.p < r.end)
    {
        uint32_t num; int wire; uint64_t v; const unsigned char* s = nullptr; const unsigned char* se = nullptr;
        if (!r.field(num, wire, v, s, se))
            return false;
        if (num == kDataType && wire == kVarint) dataType = v;
        else if (num == kDataLocation && wire == kVarint) location = v;
        else if (num == kRawData && wire == kLengthDelimited) { haveRaw = true; rawBytes = (uint64_t)(se - s); }
        else if (num == kDims && wire == kVarint) dims.push_back(v);
        else if (num == kDims && wire == kLengthDelimited)
        {
            Reader dr{s, se};
            while (dr.p < dr.end)
            {
                uint64_t d;
                if (!dr.varint(d))
                    return false;
                dims.push_back(d);
            }
        }
    }
    if (location != 0)
        return true;  // external data: not read from this file
    uint64_t numel = 1;
    for (uint64_t d : dims)
    {
        if ((int64_t)d < 0 || (d > 0 && numel > ((uint64_t)1 << 40) / d))
        {
            why = "initializer '" + name + "' has a negative or absurdly large dimension";
            return false;
        }
        numel *= d;
    }
    // Element sizes of TensorProto.DataType; 0 = not checked (STRING, complex, unknown).
    static const int kSize[17] = {0, 4, 1, 1, 2, 2, 4, 8, 0, 1, 2, 8, 4, 8, 0, 0, 2};
    const int esz = dataType < 17 ? kSize[dataType] : 0;
    if (esz == 0)
        return true;
    uint64_t have = 0;
    bool ok = true;
    if (haveRaw)
        have = rawBytes / esz, ok = rawBytes % esz == 0;
    else if (dataType == 1)
        ok = countRepeated(b, e, kFloatData, 4, have);
    else if (dataType == 11)
        ok = countRepeated(b, e, kDoubleData, 8, have);
    else if (dataType == 7)
        ok = countRepeated(b, e, kInt64Data, 0, have);
    else if (dataType == 12 || dataType == 13)
        ok = countRepeated(b, e, kUint64Data, 0, have);
    else
        ok = countRepeated(b, e, kInt32Data, 0, have);
    if (!ok || have != numel)
    {
        why = "initializer '" + name + "' declares " + std::to_string((unsigned long long)numel) +
              " elements but holds " + std::to_string((unsigned long long)have);
        return false;
    }
    return true;
}

// ONNX requires the nodes in topological order: each input a graph input, an initializer or
// the output of an earlier node. OpenCV 4.6's importer dereferences a missing producer
// (found by fuzz_onnx_model: a crash, not an error), so a dangling input is rejected here.
bool checkNodeOrder(const std::vector<GraphNode>& nodes, std::set<std::string> defined,
                    const std::vector<std::string>& outputs, std::string& why)
{
    for (size_t k = 0; k < nodes.size(); k++)
    {
        const GraphNode& n = nodes[k];
        for (const std::string& in : n.inputs)
            if (!in.empty() && !defined.count(in))
            {
                why = "node #" + std::to_string(k) + " (" + n.op + (n.name.empty() ? "" : " '" + n.name + "'") + ") reads '" + in +
                      "', which no graph input, initializer or earlier node defines";
                return false;
            }
        defined.insert(n.outputs.begin(), n.outputs.end());
    }
    for (const std::string& out : outputs)
        if (!defined.count(out))
        {
            why = "graph output '" + out + "' is produced by no node";
            return false;
        }
    return true;
}

}  // namespace

bool readOnnxModelInfo(const unsigned char* data, size_t size, OnnxModelInfo& info, std::string& why)
{
    info = OnnxModelInfo();
    Reader r{data, data + size};
    bool haveGraph = false;
    while (r.p < r.end)
    {
        uint32_t num; int wire; uint64_t v; const unsigned char* s = nullptr; const unsigned char* se = nullptr;
        if (!r.field(num, wire, v, s, se))
        {
            why = "the protobuf stream ends in the middle of a field or holds an invalid field "
                  "(truncated or not an ONNX file)";
            return false;
        }
        if (num == kModelIrVersion)
        {
            if (wire != kVarint) { why = "ir_version is not an integer (not an ONNX file)"; return false; }
            info.irVersion = (long long)v;
        }
        else if (num == kModelGraph)
        {
            if (wire != kLengthDelimited) { why = "the graph field is malformed (not an ONNX file)"; return false; }
            haveGraph = true;
            std::vector<GraphNode> nodes;
            std::set<std::string> defined;
            Reader g{s, se};
            while (g.p < g.end)
            {
                uint32_t gn; int gw; uint64_t gv; const unsigned char* gs = nullptr; const unsigned char* gse = nullptr;
                if (!g.field(gn, gw, gv, gs, gse))
                {
                    why = "the graph is malformed (truncated or not an ONNX file)";
                    return false;
                }
                if ((gn == kGraphInput || gn == kGraphOutput) && gw == kLengthDelimited)
                {
                    std::string name;
                    if (!readString(gs, gse, kValueInfoName, name))
                    {
                        why = "a graph input/output entry is malformed";
                        return false;
                    }
                    (gn == kGraphInput ? info.inputs : info.outputs).push_back(name);
                    if (gn == kGraphInput)
                        defined.insert(name);
                }
                else if (gn == kGraphNode && gw == kLengthDelimited)
                {
                    GraphNode n;
                    if (!readStrings(gs, gse, kNodeInput, n.inputs) || !readStrings(gs, gse, kNodeOutput, n.outputs) ||
                        !readString(gs, gse, kNodeName, n.name) || !readString(gs, gse, kNodeOpType, n.op))
                    {
                        why = "a graph node is malformed";
                        return false;
                    }
                    nodes.push_back(std::move(n));
                }
                else if ((gn == kGraphInitializer || gn == kGraphSparseInitializer) && gw == kLengthDelimited)
                {
                    std::string name;
                    bool ok = true;
                    if (gn == kGraphInitializer)
                    {
                        ok = readString(gs, gse, kTensorName, name);
                        if (ok && !checkTensorData(gs, gse, why))
                        {
                            if (why.empty())  // found by fuzz_onnx_model: a rejection must say why
                                why = "a graph initializer is malformed";
                            return false;
                        }
                    }
                    else
                    {
                        std::string values;
                        ok = readString(gs, gse, kSparseTensorValues, values) &&
                             readString((const unsigned char*)values.data(),
                                        (const unsigned char*)values.data() + values.size(), kTensorName, name);
                    }
                    if (!ok)
                    {
                        why = "a graph initializer is malformed";
                        return false;
                    }
                    defined.insert(name);
                }
            }
            if (!checkNodeOrder(nodes, defined, info.outputs, why))
                return false;
        }
        else if (num == kModelMetadataProps && wire == kLengthDelimited)
        {
            std::string key, value;
            if (!readString(s, se, kEntryKey, key) || !readString(s, se, kEntryValue, value))
            {
                why = "a metadata_props entry is malformed";
                return false;
            }
            info.metadata[key] = value;
        }
    }
    if (info.irVersion <= 0 || info.irVersion > 1000)
    {
        why = "it has no valid ir_version (not an ONNX model)";
        return false;
    }
    if (!haveGraph)
    {
        why = "it has no graph (not an ONNX model, or truncated before the graph)";
        return false;
    }
    return true;
}

}  // namespace semflow
}  // namespace cv
