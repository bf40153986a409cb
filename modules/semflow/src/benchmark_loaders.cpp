// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Loaders of the published annotation layouts of PF-PASCAL, PF-WILLOW and SPair-71k.
// Every malformed input is reported with the file and line it came from: these files are
// edited by hand and converted between tools, and a silently skipped row would change the
// benchmark number without anyone noticing.

#include "precomp.hpp"

#include "opencv2/semflow/benchmark.hpp"
#include "opencv2/core/utils/filesystem.hpp"

#include "input_limits.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <climits>
#include <cfloat>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace cv {
namespace semflow {

int KeypointPair::numValid() const
{
    return (int)std::count_if(valid.begin(), valid.end(), [](uchar v) { return v != 0; });
}

namespace {

const char* const kPascalClasses[20] = {
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor"};

[[noreturn]] void fail(const std::string& where, const std::string& what)
{
    CV_Error(Error::StsParseError, where + ": " + what);
}

std::string at(const std::string& file, int line)
{
    return file + ":" + std::to_string(line);
}

std::string trim(const std::string& s)
{
    size_t b = 0, e = s.size();
    while (b < e && std::isspace((unsigned char)s[b])) ++b;
    while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
    return s.substr(b, e - b);
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return (char)std::tolower(c); });
    return s;
}

// Splits one CSV record. Fields may be double-quoted (pandas quotes fields that contain
// the separator); a quote inside a quoted field is written twice.
std::vector<std::string> splitCsv(const std::string& line, const std::string& where)
{
    std::vector<std::string> fields;
    std::string cur;
    bool quoted = false, wasQuoted = false;
    for (size_t i = 0; i < line.size(); ++i)
    {
        char c = line[i];
        if (quoted)
        {
            if (c == '"')
            {
                if (i + 1 < line.size() && line[i + 1] == '"') { cur += '"'; ++i; }
                else quoted = false;
            }
            else cur += c;
        }
        else if (c == '"')
        {
            if (!trim(cur).empty())
                fail(where, "a quote in the middle of an unquoted field");
            cur.clear();
            quoted = wasQuoted = true;
        }
        else if (c == ',')
        {
            fields.push_back(wasQuoted ? cur : trim(cur));
            cur.clear();
            wasQuoted = false;
        }
        else if (!(wasQuoted && std::isspace((unsigned char)c)))
        {
            if (wasQuoted)
                fail(where, "text after the closing quote of a field");
            cur += c;
        }
    }
    if (quoted)
        fail(where, "unterminated quoted field");
    fields.push_back(wasQuoted ? cur : trim(cur));
    return fields;
}

// Reads a whole text file as lines (without the line terminator, '\r' included).
std::vector<std::string> readLines(const std::string& file, const char* what)
{
    detail::checkInputFile(file, "semflow benchmark loader", what, detail::kMaxAnnotationBytes);
    std::ifstream in(file, std::ios::binary);
    if (!in)
        CV_Error(Error::StsObjectNotFound, std::string("cannot open the ") + what + " '" + file + "'");
    std::vector<std::string> lines;
    std::string line;
    int64 bytes = 0;
    while (std::getline(in, line))
    {
        bytes += (int64)line.size() + 1;
        if (bytes > detail::kMaxAnnotationBytes || lines.size() >= detail::kMaxAnnotationLines)
            CV_Error(Error::StsOutOfRange,
                     format("the %s '%s' is longer than the %lld bytes or %lld lines accepted", what,
                            file.c_str(), (long long)detail::kMaxAnnotationBytes,
                            (long long)detail::kMaxAnnotationLines));
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        lines.push_back(line);
    }
    if (!lines.empty() && lines[0].size() >= 3 && (unsigned char)lines[0][0] == 0xEF &&
        (unsigned char)lines[0][1] == 0xBB && (unsigned char)lines[0][2] == 0xBF)
        lines[0] = lines[0].substr(3);  // UTF-8 byte order mark written by spreadsheet tools
    return lines;
}

// A number, strictly: the whole field must parse; "nan" is accepted (missing keypoint).
double parseNumber(const std::string& field, const std::string& where, const std::string& name)
{
    std::string s = trim(field);
    if (s.empty())
        fail(where, "empty " + name);
    std::string l = lower(s);
    if (l == "nan" || l == "-nan")
        return std::numeric_limits<double>::quiet_NaN();
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    // Coordinates end up as float: anything beyond float's range is as malformed as text.
    if (end != s.c_str() + s.size() || errno == ERANGE || std::isinf(v) || std::fabs(v) > FLT_MAX)
        fail(where, "expected a number for " + name + ", got '" + s + "'");
    return v;
}

std::vector<double> parseList(const std::string& field, const std::string& where, const std::string& name)
{
    std::vector<double> values;
    std::string s = trim(field);
    if (s.empty())
        return values;
    // One trailing ';' is tolerated (an artefact of some converters); an empty item elsewhere is an error.
    if (s.back() == ';')
        s.pop_back();
    std::stringstream ss(s);
    std::string item;
    int k = 0;
    while (std::getline(ss, item, ';'))
        values.push_back(parseNumber(item, where, name + "[" + std::to_string(k++) + "]"));
    if (!s.empty() && s.back() == ';')
        fail(where, name + " has an empty coordinate at the end");
    return values;
}

const size_t kMaxPathLength = 4096;  // PATH_MAX on Linux

bool isMissing(double x, double y)
{
    return std::isnan(x) || std::isnan(y) || (x == -1 && y == -1);
}

// Path helpers on strings: OpenCV's in-tree builds may be C++11, so no std::filesystem.
bool isSep(char c)
{
    return c == '/' || c == '\\';
}

std::string joinPath(const std::string& a, const std::string& b)
{
    if (a.empty())
        return b;
    return isSep(a.back()) ? a + b : a + "/" + b;
}

std::vector<std::string> pathParts(const std::string& p)
{
    std::vector<std::string> parts;
    std::string cur;
    for (char c : p)
    {
        if (isSep(c))
        {
            if (!cur.empty() && cur != ".")
                parts.push_back(cur);
            cur.clear();
        }
        else
            cur += c;
    }
    if (!cur.empty() && cur != ".")
        parts.push_back(cur);
    return parts;
}

bool fileExists(const std::string& p)
{
    return utils::fs::exists(p);
}

// Root + relative image path; if that does not exist but the path without its leading
// directories does, that one (the CSV lists "PF-dataset-PASCAL/JPEGImages/x.jpg" while the
// user points at the PF-dataset-PASCAL folder itself).
std::string resolveImage(const std::string& root, const std::string& rel, const std::string& where)
{
    // Also bounds the quadratic search below.
    if (rel.size() > kMaxPathLength)
        fail(where, format("image path of %d characters; at most %d are accepted", (int)rel.size(),
                           (int)kMaxPathLength));
    if (!rel.empty() && isSep(rel[0]))
        return rel;
    const std::string full = joinPath(root, rel);
    if (fileExists(full))
        return full;
    const std::vector<std::string> parts = pathParts(rel);
    for (size_t skip = 1; skip < parts.size(); ++skip)
    {
        std::string candidate = root;
        for (size_t i = skip; i < parts.size(); ++i)
            candidate = joinPath(candidate, parts[i]);
        if (fileExists(candidate))
            return candidate;
    }
    return full;  // reported when the image is read
}

std::string defaultRoot(const std::string& csvFile, const std::string& imageRoot)
{
    if (!imageRoot.empty())
        return imageRoot;
    size_t k = csvFile.find_last_of("/\\");
    if (k == std::string::npos)
        return ".";
    return k == 0 ? std::string("/") : csvFile.substr(0, k);
}

Rect2f parseBox(const std::string& field, const std::string& where, const std::string& name)
{
    std::vector<double> v = parseList(field, where, name);
    if (v.empty())
        return Rect2f();
    if (v.size() != 4)
        fail(where, name + " must be x1;y1;x2;y2, got " + std::to_string(v.size()) + " values");
    if (!std::isfinite(v[0] + v[1] + v[2] + v[3]))
        fail(where, name + " must be four finite numbers");
    if (v[2] < v[0] || v[3] < v[1])
        fail(where, name + " has x2 < x1 or y2 < y1");
    return Rect2f((float)v[0], (float)v[1], (float)(v[2] - v[0]), (float)(v[3] - v[1]));
}

// The class column: a 1-based PASCAL VOC class number or a class name. Anything that reads
// as a number must be an integer in 1..20 (no wrap-around: "4294967297" is not class 1).
std::string pascalCategory(const std::string& cls, const std::string& where)
{
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(cls.c_str(), &end);
    const bool numeric = end == cls.c_str() + cls.size() && end != cls.c_str() && !std::isnan(v);
    if (!numeric)
        return cls;
    if (errno == ERANGE || !(v >= 1 && v <= 20) || v != std::floor(v))
        fail(where, "class index " + cls + " is not an integer in 1..20 (PASCAL VOC classes, 1-based)");
    return kPascalClasses[(int)v - 1];
}

}  // namespace

std::vector<KeypointPair> loadPFPascalPairs(const String& csvFile, const String& imageRoot)
try
{
    const std::vector<std::string> lines = readLines(csvFile, "PF-PASCAL pair list");
    const std::string root = defaultRoot(csvFile, imageRoot);
    if (lines.empty() || trim(lines[0]).empty())
        fail(at(csvFile, 1), "empty file; expected a header row "
                             "'source_image,target_image,class,XA,YA,XB,YB'");

    std::vector<std::string> header = splitCsv(lines[0], at(csvFile, 1));
    std::map<std::string, int> col;
    for (size_t i = 0; i < header.size(); ++i)
        col[lower(header[i])] = (int)i;
    auto find = [&](std::initializer_list<const char*> names) {
        for (const char* n : names)
        {
            auto it = col.find(n);
            if (it != col.end())
                return it->second;
        }
        return -1;
    };
    const int cSrc = find({"source_image"}), cTrg = find({"target_image"}), cCls = find({"class"});
    const int cXA = find({"xa"}), cYA = find({"ya"}), cXB = find({"xb"}), cYB = find({"yb"});
    const int cLpck = find({"l_pck", "lpck"}), cFlip = find({"flip"});
    const int cBoxA = find({"source_bbox", "bboxa", "bbox_a"}), cBoxB = find({"target_bbox", "bboxb", "bbox_b"});
    if (cSrc < 0 || cTrg < 0 || cCls < 0)
        fail(at(csvFile, 1), "the header must name the columns source_image, target_image and class "
                             "(got '" + lines[0] + "')");
    const int nKp = (cXA >= 0) + (cYA >= 0) + (cXB >= 0) + (cYB >= 0);
    if (nKp != 0 && nKp != 4)
        fail(at(csvFile, 1), "keypoint columns must be all of XA, YA, XB, YB or none");

    std::vector<KeypointPair> pairs;
    for (size_t ln = 1; ln < lines.size(); ++ln)
    {
        const std::string where = at(csvFile, (int)ln + 1);
        if (trim(lines[ln]).empty())
            continue;
        std::vector<std::string> f = splitCsv(lines[ln], where);
        if (f.size() != header.size())
            fail(where, "expected " + std::to_string(header.size()) + " columns as in the header, got " +
                        std::to_string(f.size()));
        KeypointPair p;
        p.annotation = where;
        if (f[cSrc].empty() || f[cTrg].empty())
            fail(where, "empty image name");
        p.sourceImage = resolveImage(root, f[cSrc], where);
        p.targetImage = resolveImage(root, f[cTrg], where);

        const std::string cls = f[cCls];
        if (cls.empty())
            fail(where, "empty class");
        p.category = pascalCategory(cls, where);

        if (nKp == 4)
        {
            std::vector<double> xa = parseList(f[cXA], where, "XA"), ya = parseList(f[cYA], where, "YA");
            std::vector<double> xb = parseList(f[cXB], where, "XB"), yb = parseList(f[cYB], where, "YB");
            if (xa.size() > detail::kMaxKeypoints)
                fail(where, format("%d keypoints; at most %d per pair are accepted", (int)xa.size(),
                                   (int)detail::kMaxKeypoints));
            if (xa.size() != ya.size() || xb.size() != yb.size() || xa.size() != xb.size())
                fail(where, "XA, YA, XB, YB must list the same number of coordinates, got " +
                            std::to_string(xa.size()) + ", " + std::to_string(ya.size()) + ", " +
                            std::to_string(xb.size()) + ", " + std::to_string(yb.size()));
            for (size_t i = 0; i < xa.size(); ++i)
            {
                bool ok = !isMissing(xa[i], ya[i]) && !isMissing(xb[i], yb[i]);
                p.sourceKeypoints.emplace_back(ok ? (float)xa[i] : -1.f, ok ? (float)ya[i] : -1.f);
                p.targetKeypoints.emplace_back(ok ? (float)xb[i] : -1.f, ok ? (float)yb[i] : -1.f);
                p.valid.push_back(ok ? 1 : 0);
            }
        }
        if (cLpck >= 0)
        {
            double l = parseNumber(f[cLpck], where, "L_pck");
            if (!(l > 0))
                fail(where, "L_pck must be positive, got '" + f[cLpck] + "'");
            p.sourceLpck = (float)l;
        }
        if (cFlip >= 0)
        {
            double v = parseNumber(f[cFlip], where, "flip");
            if (v != 0 && v != 1)
                fail(where, "flip must be 0 or 1, got '" + f[cFlip] + "'");
            p.flip = v == 1;
        }
        if (cBoxA >= 0)
            p.sourceBox = parseBox(f[cBoxA], where, header[cBoxA]);
        if (cBoxB >= 0)
            p.targetBox = parseBox(f[cBoxB], where, header[cBoxB]);
        pairs.push_back(std::move(p));
    }
    return pairs;
}
SEMFLOW_CATCH_STD("loadPFPascalPairs", csvFile)

std::vector<KeypointPair> loadPFWillowPairs(const String& csvFile, const String& imageRoot)
try
{
    const int kPoints = 10, kColumns = 2 + 4 * kPoints;
    const std::vector<std::string> lines = readLines(csvFile, "PF-WILLOW pair list");
    const std::string root = defaultRoot(csvFile, imageRoot);
    if (lines.empty() || trim(lines[0]).empty())
        fail(at(csvFile, 1), "empty file; expected a header row (imageA, imageB, then 40 coordinates)");
    {
        std::vector<std::string> header = splitCsv(lines[0], at(csvFile, 1));
        if ((int)header.size() != kColumns)
            fail(at(csvFile, 1), "expected a header of " + std::to_string(kColumns) +
                                 " columns (imageA, imageB, 10 x and 10 y of A, 10 x and 10 y of B), got " +
                                 std::to_string(header.size()));
    }
    std::vector<KeypointPair> pairs;
    for (size_t ln = 1; ln < lines.size(); ++ln)
    {
        const std::string where = at(csvFile, (int)ln + 1);
        if (trim(lines[ln]).empty())
            continue;
        std::vector<std::string> f = splitCsv(lines[ln], where);
        if ((int)f.size() != kColumns)
            fail(where, "expected " + std::to_string(kColumns) + " columns (imageA, imageB, 40 coordinates), got " +
                        std::to_string(f.size()));
        KeypointPair p;
        p.annotation = where;
        if (f[0].empty() || f[1].empty())
            fail(where, "empty image name");
        const std::vector<std::string> partsA = pathParts(f[0]);
        p.category = partsA.size() >= 2 ? partsA[partsA.size() - 2] : std::string();
        if (p.category.empty())
            fail(where, "imageA '" + f[0] + "' has no class folder (expected e.g. PF-dataset/car(G)/name.png)");
        p.sourceImage = resolveImage(root, f[0], where);
        p.targetImage = resolveImage(root, f[1], where);
        double v[4 * kPoints];
        for (int k = 0; k < 4 * kPoints; ++k)
        {
            static const char* names[4] = {"xA", "yA", "xB", "yB"};
            v[k] = parseNumber(f[2 + k], where, std::string(names[k / kPoints]) + std::to_string(k % kPoints + 1));
        }
        for (int i = 0; i < kPoints; ++i)
        {
            double xa = v[i], ya = v[kPoints + i], xb = v[2 * kPoints + i], yb = v[3 * kPoints + i];
            bool ok = !isMissing(xa, ya) && !isMissing(xb, yb);
            p.sourceKeypoints.emplace_back((float)xa, (float)ya);
            p.targetKeypoints.emplace_back((float)xb, (float)yb);
            p.valid.push_back(ok ? 1 : 0);
        }
        pairs.push_back(std::move(p));
    }
    return pairs;
}
SEMFLOW_CATCH_STD("loadPFWillowPairs", csvFile)

namespace {

double nodeNumber(const FileNode& n, const std::string& where, const std::string& name)
{
    if (n.isInt())
        return (double)(int)n;
    if (n.isReal())
        return (double)n;
    if (n.isString())  // some converters write numbers as strings
        return parseNumber((std::string)n, where, name);
    fail(where, name + " must be a number");
}

std::vector<double> nodeNumbers(const FileNode& n, const std::string& where, const std::string& name,
                                int expected)
{
    if (n.empty() || n.isNone())
        fail(where, "missing key '" + name + "'");
    if (!n.isSeq())
        fail(where, name + " must be a list");
    std::vector<double> v;
    for (size_t i = 0; i < n.size(); ++i)
        v.push_back(nodeNumber(n[(int)i], where, name + "[" + std::to_string(i) + "]"));
    if (expected >= 0 && (int)v.size() < expected)
        fail(where, name + " must have " + std::to_string(expected) + " values, got " + std::to_string(v.size()));
    return v;
}

std::vector<Point2f> nodePoints(const FileNode& n, const std::string& where, const std::string& name,
                                std::vector<uchar>& ok)
{
    if (n.empty() || n.isNone())
        fail(where, "missing key '" + name + "'");
    if (!n.isSeq())
        fail(where, name + " must be a list of [x, y]");
    if (n.size() > detail::kMaxKeypoints)
        fail(where, format("%s has %d keypoints; at most %d are accepted", name.c_str(), (int)n.size(),
                           (int)detail::kMaxKeypoints));
    std::vector<Point2f> pts;
    for (size_t i = 0; i < n.size(); ++i)
    {
        std::string item = name + "[" + std::to_string(i) + "]";
        FileNode e = n[(int)i];
        if (!e.isSeq() || e.size() != 2)
            fail(where, item + " must be [x, y]");
        double x = nodeNumber(e[0], where, item), y = nodeNumber(e[1], where, item);
        ok.push_back(isMissing(x, y) ? 0 : 1);
        pts.emplace_back((float)x, (float)y);
    }
    return pts;
}

std::string nodeString(const FileNode& n, const std::string& where, const std::string& name)
{
    if (n.empty() || n.isNone())
        fail(where, "missing key '" + name + "'");
    if (!n.isString() || ((std::string)n).empty())
        fail(where, name + " must be a non-empty string");
    return (std::string)n;
}

}  // namespace

namespace {

// OpenCV's JSON reader stores an integer literal with a C cast to int, so 4294967297 reads
// as 1 without a word. Integer literals outside int's range are rejected here, before it.
void checkJsonIntegers(const std::string& file)
{
    const std::vector<std::string> lines = readLines(file, "SPair-71k pair annotation");
    bool inString = false;
    for (size_t ln = 0; ln < lines.size(); ++ln)
    {
        const std::string& l = lines[ln];
        for (size_t i = 0; i < l.size(); ++i)
        {
            const char c = l[i];
            if (inString)
            {
                if (c == '\\')
                    ++i;
                else if (c == '"')
                    inString = false;
                continue;
            }
            if (c == '"')
            {
                inString = true;
                continue;
            }
            if (!(std::isdigit((unsigned char)c) || c == '-' || c == '+'))
                continue;
            size_t e = i;
            while (e < l.size() && (std::isdigit((unsigned char)l[e]) || std::strchr("+-.eE", l[e])))
                ++e;
            const std::string token = l.substr(i, e - i);
            i = e - 1;
            if (token.find_first_of(".eE") != std::string::npos)
                continue;  // read as a double
            errno = 0;
            const long long v = std::strtoll(token.c_str(), nullptr, 10);
            if (errno == ERANGE || v > INT_MAX || v < INT_MIN)
                fail(at(file, (int)ln + 1), "the integer " + token + " is outside the 32-bit range "
                                            "(write it as a decimal number if it is meant)");
        }
    }
}

}  // namespace

KeypointPair loadSPairAnnotation(const String& jsonFile, const String& imageRoot)
try
{
    if (!fileExists(jsonFile))
        CV_Error(Error::StsObjectNotFound, "SPair-71k pair annotation '" + jsonFile + "' does not exist");
    detail::checkInputFile(jsonFile, "loadSPairAnnotation", "SPair-71k pair annotation", detail::kMaxAnnotationBytes);
    checkJsonIntegers(jsonFile);
    FileStorage st;
    try
    {
        st.open(jsonFile, FileStorage::READ | FileStorage::FORMAT_JSON);
    }
    catch (const cv::Exception& e)
    {
        // OpenCV's JSON parser puts "<file>(<line>): <what>" in the function field.
        CV_Error(Error::StsParseError, "SPair-71k pair annotation is not valid JSON: " + e.func +
                                           (e.err.empty() ? std::string() : " (" + e.err + ")"));
    }
    if (!st.isOpened())
        CV_Error(Error::StsParseError, "cannot read the SPair-71k pair annotation '" + jsonFile + "'");
    const std::string where = jsonFile;
    FileNode r = st.root();
    if (!r.isMap())
        fail(where, "expected a JSON object at the top level");

    KeypointPair p;
    p.annotation = jsonFile;
    p.category = nodeString(r["category"], where, "category");
    const std::string src = nodeString(r["src_imname"], where, "src_imname");
    const std::string trg = nodeString(r["trg_imname"], where, "trg_imname");
    p.sourceImage = joinPath(joinPath(imageRoot, p.category), src);
    p.targetImage = joinPath(joinPath(imageRoot, p.category), trg);

    std::vector<uchar> okS, okT;
    p.sourceKeypoints = nodePoints(r["src_kps"], where, "src_kps", okS);
    p.targetKeypoints = nodePoints(r["trg_kps"], where, "trg_kps", okT);
    if (p.sourceKeypoints.size() != p.targetKeypoints.size())
        fail(where, "src_kps has " + std::to_string(p.sourceKeypoints.size()) + " points but trg_kps has " +
                    std::to_string(p.targetKeypoints.size()));
    for (size_t i = 0; i < okS.size(); ++i)
        p.valid.push_back(okS[i] && okT[i] ? 1 : 0);

    for (int side = 0; side < 2; ++side)
    {
        const std::string key = side == 0 ? "src_bndbox" : "trg_bndbox";
        std::vector<double> b = nodeNumbers(r[key], where, key, 4);
        if (b.size() != 4 || !std::isfinite(b[0] + b[1] + b[2] + b[3]) || std::fabs(b[0]) > FLT_MAX ||
            std::fabs(b[1]) > FLT_MAX || std::fabs(b[2]) > FLT_MAX || std::fabs(b[3]) > FLT_MAX ||
            b[2] < b[0] || b[3] < b[1])
            fail(where, key + " must be [x1, y1, x2, y2], finite, with x1 <= x2 and y1 <= y2");
        (side == 0 ? p.sourceBox : p.targetBox) =
            Rect2f((float)b[0], (float)b[1], (float)(b[2] - b[0]), (float)(b[3] - b[1]));

        const std::string sizeKey = side == 0 ? "src_imsize" : "trg_imsize";
        FileNode sz = r[sizeKey];
        if (!sz.empty() && !sz.isNone())
        {
            std::vector<double> s = nodeNumbers(sz, where, sizeKey, 2);
            if (!(s[0] >= 1 && s[1] >= 1 && s[0] <= INT_MAX && s[1] <= INT_MAX))  // also rejects NaN
                fail(where, sizeKey + " must be [width, height, channels] with positive sides");
            (side == 0 ? p.sourceSize : p.targetSize) = Size((int)s[0], (int)s[1]);
        }
    }
    return p;
}
SEMFLOW_CATCH_STD("loadSPairAnnotation", jsonFile)

std::vector<KeypointPair> loadSPairPairs(const String& root, const String& split, const String& layout)
try
{
    const std::string sp = split == "train" ? std::string("trn") : std::string(split);
    const std::string layoutFile = joinPath(joinPath(joinPath(root, "Layout"), layout), sp + ".txt");
    const std::vector<std::string> lines = readLines(layoutFile, "SPair-71k layout file");
    const std::string annDir = joinPath(joinPath(root, "PairAnnotation"), sp);
    const std::string imageRoot = joinPath(root, "JPEGImages");
    std::vector<KeypointPair> pairs;
    for (size_t ln = 0; ln < lines.size(); ++ln)
    {
        const std::string name = trim(lines[ln]);
        if (name.empty())
            continue;
        const std::string where = at(layoutFile, (int)ln + 1);
        // "<id>-<source>-<target>:<category>"
        const size_t colon = name.rfind(':');
        if (colon == std::string::npos || std::count(name.begin(), name.begin() + colon, '-') < 2)
            fail(where, "expected '<id>-<source>-<target>:<category>', got '" + name + "'");
        const std::string json = joinPath(annDir, name + ".json");
        if (!fileExists(json))
            fail(where, "the pair annotation '" + json + "' does not exist");
        KeypointPair p = loadSPairAnnotation(json, imageRoot);
        if (p.category != name.substr(colon + 1))
            fail(where, "the layout names category '" + name.substr(colon + 1) + "' but " + json +
                        " says '" + p.category + "'");
        pairs.push_back(std::move(p));
    }
    return pairs;
}
SEMFLOW_CATCH_STD("loadSPairPairs", root)

KeypointPair resizeKeypointPair(const KeypointPair& pair, Size sourceSize, Size targetSize)
{
    if (pair.sourceSize.empty() || pair.targetSize.empty())
        CV_Error(Error::StsBadArg, "resizeKeypointPair: the pair's sourceSize and targetSize must be set (" +
                                   pair.annotation + ")");
    if (sourceSize.empty() || targetSize.empty())
        CV_Error(Error::StsBadArg, "resizeKeypointPair: the new sizes must be positive");
    KeypointPair r = pair;
    const float sxs = (float)sourceSize.width / pair.sourceSize.width;
    const float sys = (float)sourceSize.height / pair.sourceSize.height;
    const float sxt = (float)targetSize.width / pair.targetSize.width;
    const float syt = (float)targetSize.height / pair.targetSize.height;
    for (size_t i = 0; i < r.valid.size(); ++i)
    {
        if (!r.valid[i])
            continue;
        r.sourceKeypoints[i] = Point2f(r.sourceKeypoints[i].x * sxs, r.sourceKeypoints[i].y * sys);
        r.targetKeypoints[i] = Point2f(r.targetKeypoints[i].x * sxt, r.targetKeypoints[i].y * syt);
    }
    r.sourceBox = Rect2f(r.sourceBox.x * sxs, r.sourceBox.y * sys, r.sourceBox.width * sxs, r.sourceBox.height * sys);
    r.targetBox = Rect2f(r.targetBox.x * sxt, r.targetBox.y * syt, r.targetBox.width * sxt, r.targetBox.height * syt);
    r.sourceLpck = r.targetLpck = -1.f;
    r.sourceSize = sourceSize;
    r.targetSize = targetSize;
    return r;
}

std::vector<KeypointPair> loadBenchmark(const String& dataset, const String& root, const String& split)
try
{
    const std::string d = lower(dataset);
    if (d == "spair" || d == "spair-71k" || d == "spair71k")
        return loadSPairPairs(root, split);

    std::vector<std::string> candidates;
    if (d == "pf-pascal" || d == "pfpascal" || d == "pf_pascal")
    {
        std::vector<std::string> names = {split};
        if (split == "train") names.push_back("trn");
        if (split == "trn") names.push_back("train");
        for (const std::string& s : names)
            candidates.push_back("bbox_" + s + "_pairs_pf_pascal.csv");
        for (const std::string& s : names)
            candidates.push_back(s + "_pairs_pf_pascal.csv");
        for (const std::string& s : names)
            candidates.push_back(s + "_pairs.csv");
    }
    else if (d == "pf-willow" || d == "pfwillow" || d == "pf_willow")
    {
        if (split != "test")
            CV_Error(Error::StsBadArg, "PF-WILLOW has only a 'test' split, got '" + split + "'");
        candidates = {"test_pairs_pf.csv", "test_pairs.csv"};
    }
    else
        CV_Error(Error::StsBadArg, "unknown dataset '" + dataset + "': expected pf-pascal, pf-willow or spair");

    for (const std::string& c : candidates)
    {
        const std::string file = joinPath(root, c);
        if (fileExists(file))
            return d.find("willow") != std::string::npos ? loadPFWillowPairs(file, root)
                                                          : loadPFPascalPairs(file, root);
    }
    std::string tried;
    for (const std::string& c : candidates)
        tried += (tried.empty() ? "" : ", ") + c;
    CV_Error(Error::StsObjectNotFound, "no " + dataset + " pair list for split '" + split + "' in '" + root +
                                       "' (looked for " + tried + ")");
}
SEMFLOW_CATCH_STD("loadBenchmark", root)

}  // namespace semflow
}  // namespace cv
