// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The checkpoint reader's pickle machine (pth_parser.hpp): the opcodes of pickle protocols
// 0-5 that torch.save can produce, run over the object pool. Globals, persistent ids and
// calls go to the parser's torch semantics in pth_reader.cpp.
#include "pth_parser.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace sfnet
{
namespace pth
{

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
void PthParser::failAt(const std::string& msg) const
{
    fail(msg + " (in " + what_ + ", opcode at byte " + std::to_string(opPos_) + ")");
}

uint32_t PthParser::add(Kind k, uint32_t ref, int64_t num)
{
    if (pool_.size() >= std::numeric_limits<uint32_t>::max() - 1)
        failAt("too many objects");
    pool_.push_back({k, ref, num});
    return static_cast<uint32_t>(pool_.size() - 1);
}

uint32_t PthParser::addStr(Kind k, std::string s)
{
    strs_.push_back(std::move(s));
    return add(k, static_cast<uint32_t>(strs_.size() - 1));
}

uint32_t PthParser::addSeq(Kind k, std::vector<uint32_t> items)
{
    seqs_.push_back({std::move(items)});
    return add(k, static_cast<uint32_t>(seqs_.size() - 1));
}

uint32_t PthParser::addInt(int64_t v)
{
    return add(Kind::Int, 0, v);
}

uint32_t PthParser::addFloat(double d)
{
    int64_t bits;
    std::memcpy(&bits, &d, 8);
    return add(Kind::Float, 0, bits);
}

// Integer from little-endian two's complement bytes (LONG1/LONG4).
uint32_t PthParser::addLong(const uint8_t* p, size_t n)
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

uint32_t PthParser::newDict(const std::vector<uint32_t>& items)
{
    return addSeq(Kind::Dict, items);
}

int64_t PthParser::asInt(uint32_t o, const char* what) const
{
    const Obj& ob = pool_[o];
    if (ob.kind != Kind::Int && ob.kind != Kind::Bool)
        failAt(std::string(what) + " must be an int, got " + kindName(ob.kind));
    return ob.num;
}

const std::string& PthParser::asStr(uint32_t o, const char* what) const
{
    const Obj& ob = pool_[o];
    if (ob.kind != Kind::Str)
        failAt(std::string(what) + " must be a str, got " + kindName(ob.kind));
    return strs_[ob.ref];
}

const std::vector<uint32_t>& PthParser::asTuple(uint32_t o, const char* what) const
{
    const Obj& ob = pool_[o];
    if (ob.kind != Kind::Tuple && ob.kind != Kind::List)
        failAt(std::string(what) + " must be a tuple, got " + kindName(ob.kind));
    return seqs_[ob.ref].items;
}

const GlobalInfo* PthParser::asGlobal(uint32_t o) const
{
    const Obj& ob = pool_[o];
    return ob.kind == Kind::Global ? &globals_[ob.ref] : nullptr;
}

uint32_t PthParser::runPickleAt(size_t& pos, const std::string& what, bool allowPersistent)
{
    if (pos >= buf_.size())
        fail("file ends before " + what + " (byte " + std::to_string(pos) + ")");
    return runPickle(pos, buf_.size(), what, allowPersistent, &pos);
}

uint32_t PthParser::runPickle(size_t begin, size_t end, const std::string& what, bool allowPersistent,
                              size_t* endPos)
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

}  // namespace pth
}  // namespace sfnet
