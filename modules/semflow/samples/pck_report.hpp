// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// How the evaluation sample (eval.cpp) presents a cv::semflow::PCKResult: a fixed-width table,
// JSON and CSV. These were PCKResult::table(), toJSON() and toCSV() of the module until
// issue 19: report formats belong to the tool that writes the reports, not to the library's
// API (and its Python bindings). Header-only and C++11 like semflow_sample_utils.hpp, so that
// OpenCV's ocv_add_samples builds the sample from its one .cpp; the repository's samples test
// (samples/test/test_pck_report.cpp) checks the output.

#ifndef OPENCV_SEMFLOW_SAMPLES_PCK_REPORT_HPP
#define OPENCV_SEMFLOW_SAMPLES_PCK_REPORT_HPP

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/semflow/benchmark.hpp"

namespace semflow_samples {
namespace pck_report_detail {

inline std::string fmtAlpha(float a)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", (double)a);
    return buf;
}

inline std::string jsonEscape(const std::string& s)
{
    std::string o = "\"";
    for (size_t i = 0; i < s.size(); ++i)
    {
        const unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { o += '\\'; o += (char)c; }
        else if (c == '\n') o += "\\n";
        else if (c == '\t') o += "\\t";
        else if (c < 0x20) o += cv::format("\\u%04x", c);
        else o += (char)c;
    }
    return o + "\"";
}

inline std::string num(double v)
{
    if (!std::isfinite(v))
        return "null";
    return cv::format("%.6g", v);
}

inline std::string csvField(const std::string& s)
{
    if (s.find_first_of(",\"\n") == std::string::npos)
        return s;
    std::string o = "\"";
    for (size_t i = 0; i < s.size(); ++i)
        o += s[i] == '"' ? std::string("\"\"") : std::string(1, s[i]);
    return o + "\"";
}

inline std::string jsonArray(const std::vector<double>& v)
{
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + num(v[i]);
    return s + "]";
}

inline std::string jsonRow(const cv::semflow::PCKRow& r)
{
    return "{\"category\": " + jsonEscape(r.category) + ", \"pairs\": " + std::to_string(r.pairs) +
           ", \"keypoints\": " + std::to_string(r.keypoints) + ", \"pck_per_pair\": " + jsonArray(r.perPair) +
           ", \"pck_per_keypoint\": " + jsonArray(r.perKeypoint) + "}";
}

}  // namespace pck_report_detail

/** A fixed-width table: the result's describe() line, then one line per class, then "all"
(per pair and per keypoint) and "class mean", in percent. */
inline std::string pckTable(const cv::semflow::PCKResult& r)
{
    using namespace pck_report_detail;
    std::ostringstream o;
    o << r.describe() << "\n";
    o << cv::format("%-16s %6s %7s", "class", "pairs", "kps");
    for (size_t i = 0; i < r.protocol.alphas.size(); ++i)
        o << cv::format(" %9s", ("@" + fmtAlpha(r.protocol.alphas[i])).c_str());
    o << "   (PCK %; class rows averaged per pair)\n";
    struct Line
    {
        std::ostringstream& o;
        void operator()(const std::string& name, int nPairs, int kps, const std::vector<double>& v) const
        {
            o << cv::format("%-16s %6d %7d", name.c_str(), nPairs, kps);
            for (size_t i = 0; i < v.size(); ++i)
                o << cv::format(" %9.2f", 100.0 * v[i]);
            o << "\n";
        }
    } line{o};
    for (size_t i = 0; i < r.classes.size(); ++i)
        line(r.classes[i].category, r.classes[i].pairs, r.classes[i].keypoints, r.classes[i].perPair);
    line("all (per pair)", r.overall.pairs, r.overall.keypoints, r.overall.perPair);
    line("all (per kp)", r.overall.pairs, r.overall.keypoints, r.overall.perKeypoint);
    line("class mean", (int)r.classes.size(), r.overall.keypoints, r.classMean);
    if (r.skippedPairs > 0)
        o << r.skippedPairs << " pair(s) without a keypoint annotated in both images were not scored\n";
    return o.str();
}

/** The whole result as JSON: dataset, protocol (with its names and description), overall,
class mean, skipped pairs, classes and every pair. Non-finite numbers are written as null. */
inline std::string pckJSON(const cv::semflow::PCKResult& r)
{
    using namespace pck_report_detail;
    const cv::semflow::PCKProtocol& protocol = r.protocol;
    std::ostringstream o;
    o << "{\n  \"dataset\": " << jsonEscape(r.dataset) << ",\n";
    o << "  \"protocol\": {\"alphas\": [";
    for (size_t i = 0; i < protocol.alphas.size(); ++i)
        o << (i ? ", " : "") << fmtAlpha(protocol.alphas[i]);
    o << "], \"threshold\": " << jsonEscape(cv::semflow::pckThresholdName(protocol.threshold))
      << ", \"direction\": " << jsonEscape(cv::semflow::transferDirectionName(protocol.direction))
      << ", \"description\": " << jsonEscape(protocol.describe()) << "},\n";
    o << "  \"overall\": " << jsonRow(r.overall) << ",\n";
    o << "  \"class_mean\": " << jsonArray(r.classMean) << ",\n";
    o << "  \"skipped_pairs\": " << r.skippedPairs << ",\n";
    o << "  \"classes\": [";
    for (size_t i = 0; i < r.classes.size(); ++i)
        o << (i ? ",\n    " : "\n    ") << jsonRow(r.classes[i]);
    o << "\n  ],\n  \"pairs\": [";
    for (size_t i = 0; i < r.pairs.size(); ++i)
    {
        const cv::semflow::PairPCK& p = r.pairs[i];
        std::vector<double> pck;
        for (size_t a = 0; a < p.correct.size(); ++a)
            pck.push_back(p.pck(a));
        o << (i ? ",\n    " : "\n    ") << "{\"index\": " << p.index << ", \"category\": " << jsonEscape(p.category)
          << ", \"source\": " << jsonEscape(p.sourceImage) << ", \"target\": " << jsonEscape(p.targetImage)
          << ", \"keypoints\": " << p.numKeypoints << ", \"reference_length\": " << num(p.referenceLength)
          << ", \"pck\": " << jsonArray(pck) << "}";
    }
    o << "\n  ]\n}\n";
    return o.str();
}

/** The per-class table as CSV: category,pairs,keypoints, the per-pair then the per-keypoint
PCK for each alpha, then threshold,direction (the protocol on every row, so that rows pasted
into another table keep it); the classes, then "all". */
inline std::string pckCSV(const cv::semflow::PCKResult& r)
{
    using namespace pck_report_detail;
    const cv::semflow::PCKProtocol& protocol = r.protocol;
    std::ostringstream o;
    o << "category,pairs,keypoints";
    for (size_t i = 0; i < protocol.alphas.size(); ++i)
        o << ",pck_per_pair@" << fmtAlpha(protocol.alphas[i]);
    for (size_t i = 0; i < protocol.alphas.size(); ++i)
        o << ",pck_per_keypoint@" << fmtAlpha(protocol.alphas[i]);
    o << ",threshold,direction\n";
    const std::string tail = "," + cv::semflow::pckThresholdName(protocol.threshold) + "," +
                             cv::semflow::transferDirectionName(protocol.direction);
    std::vector<const cv::semflow::PCKRow*> rows;
    for (size_t i = 0; i < r.classes.size(); ++i)
        rows.push_back(&r.classes[i]);
    rows.push_back(&r.overall);
    for (size_t i = 0; i < rows.size(); ++i)
    {
        const cv::semflow::PCKRow& row = *rows[i];
        o << csvField(row.category) << "," << row.pairs << "," << row.keypoints;
        for (size_t k = 0; k < row.perPair.size(); ++k) o << "," << num(row.perPair[k]);
        for (size_t k = 0; k < row.perKeypoint.size(); ++k) o << "," << num(row.perKeypoint[k]);
        o << tail << "\n";
    }
    return o.str();
}

}  // namespace semflow_samples

#endif  // OPENCV_SEMFLOW_SAMPLES_PCK_REPORT_HPP
