// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// PCK (percentage of correct keypoints) with every protocol choice explicit: papers on the
// same benchmark differ in the threshold length, the transfer direction and the averaging,
// and a number is only meaningful together with those choices.

#include "precomp.hpp"

#include "opencv2/semflow/benchmark.hpp"
#include "opencv2/semflow/flow_utils.hpp"
#ifdef HAVE_OPENCV_IMGCODECS
#include "opencv2/imgcodecs.hpp"
#endif

#include "input_limits.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

namespace cv {
namespace semflow {

PCKThreshold parsePCKThreshold(const String& name)
{
    if (name == "image") return PCK_THRESHOLD_IMAGE;
    if (name == "image-square") return PCK_THRESHOLD_IMAGE_SQUARE;
    if (name == "bbox") return PCK_THRESHOLD_BBOX;
    if (name == "bbox-kp") return PCK_THRESHOLD_BBOX_KEYPOINTS;
    CV_Error(Error::StsBadArg, "unknown PCK threshold '" + name + "': expected image, image-square, bbox or bbox-kp");
}

String pckThresholdName(PCKThreshold threshold)
{
    switch (threshold)
    {
    case PCK_THRESHOLD_IMAGE: return "image";
    case PCK_THRESHOLD_IMAGE_SQUARE: return "image-square";
    case PCK_THRESHOLD_BBOX: return "bbox";
    case PCK_THRESHOLD_BBOX_KEYPOINTS: return "bbox-kp";
    }
    CV_Error(Error::StsBadArg, "invalid PCKThreshold value " + std::to_string((int)threshold));
}

TransferDirection parseTransferDirection(const String& name)
{
    if (name == "s2t") return TRANSFER_SOURCE_TO_TARGET;
    if (name == "t2s") return TRANSFER_TARGET_TO_SOURCE;
    CV_Error(Error::StsBadArg, "unknown transfer direction '" + name + "': expected s2t or t2s");
}

String transferDirectionName(TransferDirection direction)
{
    switch (direction)
    {
    case TRANSFER_SOURCE_TO_TARGET: return "s2t";
    case TRANSFER_TARGET_TO_SOURCE: return "t2s";
    }
    CV_Error(Error::StsBadArg, "invalid TransferDirection value " + std::to_string((int)direction));
}

namespace {

std::string fmtAlpha(float a)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", (double)a);
    return buf;
}

void checkProtocol(const PCKProtocol& p)
{
    if (p.alphas.empty())
        CV_Error(Error::StsBadArg, "the PCK protocol needs at least one alpha");
    for (float a : p.alphas)
        if (!(a > 0) || !std::isfinite(a))
            CV_Error(Error::StsBadArg, "PCK alphas must be positive, got " + fmtAlpha(a));
    pckThresholdName(p.threshold);
    transferDirectionName(p.direction);
}

}  // namespace

String PCKProtocol::describe() const
{
    const bool s2t = direction == TRANSFER_SOURCE_TO_TARGET;
    const char* dst = s2t ? "target" : "source";
    std::string s = "PCK@{";
    for (size_t i = 0; i < alphas.size(); ++i)
        s += (i ? "," : "") + fmtAlpha(alphas[i]);
    s += "}: ";
    s += s2t ? "source keypoints moved by the source-sized flow calc(source, target), scored in the target image"
             : "target keypoints moved by the target-sized flow calc(target, source), scored in the source image";
    s += "; correct iff ";
    switch (threshold)
    {
    case PCK_THRESHOLD_IMAGE:
        s += std::string("|error| <= alpha * max(width, height) of the ") + dst + " image (threshold 'image')";
        break;
    case PCK_THRESHOLD_IMAGE_SQUARE:
        s += std::string("sqrt((dx/W)^2 + (dy/H)^2) <= alpha with W x H the ") + dst +
             " image size, i.e. measured after resizing it to a square (threshold 'image-square')";
        break;
    case PCK_THRESHOLD_BBOX:
        s += std::string("|error| <= alpha * max side of the ") + dst +
             " object's annotated bounding box (threshold 'bbox')";
        break;
    case PCK_THRESHOLD_BBOX_KEYPOINTS:
        s += std::string("|error| <= alpha * max side of the extent of the ") + dst +
             " keypoints (threshold 'bbox-kp')";
        break;
    }
    s += "; reported averaged per pair and per keypoint";
    return s;
}

double PairPCK::pck(size_t alphaIndex) const
{
    CV_Assert(alphaIndex < correct.size());
    return numKeypoints > 0 ? (double)correct[alphaIndex] / numKeypoints : 0.0;
}

PairPCK evaluatePairPCK(const KeypointPair& pair, InputArray flow_, const PCKProtocol& protocol, int index)
try
{
    checkProtocol(protocol);
    const bool s2t = protocol.direction == TRANSFER_SOURCE_TO_TARGET;
    const char* fromName = s2t ? "source" : "target";
    const char* dstName = s2t ? "target" : "source";
    const std::string where = pair.annotation.empty() ? std::string("pair ") + std::to_string(index) : pair.annotation;

    Mat flow = flow_.getMat();
    if (flow.empty() || flow.type() != CV_32FC2 || flow.dims != 2)
        CV_Error(Error::StsBadArg, where + ": expected a 2-D CV_32FC2 flow, got " +
                                   (flow.empty() ? std::string("an empty array") : typeToString(flow.type())));
    const Size fromSize = s2t ? pair.sourceSize : pair.targetSize;
    if (!fromSize.empty() && fromSize != flow.size())
        CV_Error(Error::StsBadArg, cv::format("%s: the flow is %dx%d but the %s image is %dx%d; for %s transfer the "
                                              "flow must be calc(%s, %s) at the %s image size",
                                              where.c_str(), flow.cols, flow.rows, fromName, fromSize.width,
                                              fromSize.height, transferDirectionName(protocol.direction).c_str(),
                                              fromName, dstName, fromName));
    if (pair.sourceKeypoints.size() != pair.targetKeypoints.size() || pair.valid.size() != pair.sourceKeypoints.size())
        CV_Error(Error::StsBadArg, where + ": sourceKeypoints, targetKeypoints and valid must have the same length");

    PairPCK r;
    r.index = index;
    r.category = pair.category;
    r.sourceImage = pair.sourceImage;
    r.targetImage = pair.targetImage;
    r.correct.assign(protocol.alphas.size(), 0);

    std::vector<Point2f> from;
    for (size_t i = 0; i < pair.valid.size(); ++i)
        if (pair.valid[i])
        {
            from.push_back(s2t ? pair.sourceKeypoints[i] : pair.targetKeypoints[i]);
            r.groundTruth.push_back(s2t ? pair.targetKeypoints[i] : pair.sourceKeypoints[i]);
        }
    r.numKeypoints = (int)from.size();
    if (from.empty())
        return r;
    transferKeypoints(from, flow, r.predicted);  // bilinear, border-clamped (flow_utils)

    const Size dstSize = s2t ? pair.targetSize : pair.sourceSize;
    double L = 0;
    switch (protocol.threshold)
    {
    case PCK_THRESHOLD_IMAGE:
    case PCK_THRESHOLD_IMAGE_SQUARE:
        if (dstSize.empty())
            CV_Error(Error::StsBadArg, where + ": the " + dstName + " image size is needed for the '" +
                                       pckThresholdName(protocol.threshold) + "' threshold; set KeypointPair::" +
                                       dstName + "Size");
        L = protocol.threshold == PCK_THRESHOLD_IMAGE ? (double)std::max(dstSize.width, dstSize.height) : 0.0;
        break;
    case PCK_THRESHOLD_BBOX:
    {
        const Rect2f box = s2t ? pair.targetBox : pair.sourceBox;
        const float lpck = s2t ? pair.targetLpck : pair.sourceLpck;
        if (box.width > 0 || box.height > 0)
            L = std::max(box.width, box.height);
        else if (lpck > 0)
            L = lpck;
        else
            CV_Error(Error::StsBadArg, where + ": the 'bbox' threshold needs the " + dstName +
                                       " object's bounding box, which this annotation lacks" +
                                       (s2t && pair.sourceLpck > 0
                                            ? std::string(" (PF-PASCAL bbox CSVs give only the source's L_pck: use "
                                                          "direction t2s)")
                                            : std::string(" (use the 'bbox-kp' threshold)")));
        break;
    }
    case PCK_THRESHOLD_BBOX_KEYPOINTS:
    {
        float x0 = FLT_MAX, y0 = FLT_MAX, x1 = -FLT_MAX, y1 = -FLT_MAX;
        for (const Point2f& g : r.groundTruth)
        {
            x0 = std::min(x0, g.x); x1 = std::max(x1, g.x);
            y0 = std::min(y0, g.y); y1 = std::max(y1, g.y);
        }
        L = std::max(x1 - x0, y1 - y0);
        break;
    }
    }
    r.referenceLength = L;

    for (size_t k = 0; k < r.predicted.size(); ++k)
    {
        const double dx = (double)r.predicted[k].x - r.groundTruth[k].x;
        const double dy = (double)r.predicted[k].y - r.groundTruth[k].y;
        const double dist = std::sqrt(dx * dx + dy * dy);
        double e;
        if (protocol.threshold == PCK_THRESHOLD_IMAGE_SQUARE)
            e = std::sqrt((dx / dstSize.width) * (dx / dstSize.width) + (dy / dstSize.height) * (dy / dstSize.height));
        else
            e = L > 0 ? dist / L : (dist == 0 ? 0.0 : std::numeric_limits<double>::infinity());
        // A non-finite flow at a keypoint (NaN, inf) is a miss at every alpha (the comparisons
        // below are false); its error is +inf, not NaN, so that sorting and means stay defined.
        if (std::isnan(e))
            e = std::numeric_limits<double>::infinity();
        r.normalizedErrors.push_back(e);
        for (size_t a = 0; a < protocol.alphas.size(); ++a)
        {
            const double alpha = protocol.alphas[a];
            // Compare as the reference scripts do, dist <= alpha * L, so that exact ties agree.
            const bool ok = protocol.threshold == PCK_THRESHOLD_IMAGE_SQUARE ? e <= alpha : dist <= alpha * L;
            r.correct[a] += ok ? 1 : 0;
        }
    }
    return r;
}
SEMFLOW_CATCH_STD("evaluatePairPCK", pair.annotation)

PCKResult summarizePCK(const std::vector<PairPCK>& pairs, const PCKProtocol& protocol, const String& dataset)
{
    checkProtocol(protocol);
    const size_t nA = protocol.alphas.size();
    PCKResult res;
    res.protocol = protocol;
    res.dataset = dataset;
    res.pairs = pairs;

    struct Acc { int pairs = 0, kps = 0; std::vector<double> pairSum; std::vector<long long> correct; };
    std::map<std::string, Acc> byClass;
    Acc all;
    auto add = [&](Acc& acc, const PairPCK& p) {
        acc.pairSum.resize(nA, 0.0);
        acc.correct.resize(nA, 0);
        acc.pairs += 1;
        acc.kps += p.numKeypoints;
        for (size_t a = 0; a < nA; ++a)
        {
            acc.pairSum[a] += p.pck(a);
            acc.correct[a] += p.correct[a];
        }
    };
    for (const PairPCK& p : pairs)
    {
        if (p.correct.size() != nA)
            CV_Error(Error::StsBadArg, "a pair result has " + std::to_string(p.correct.size()) +
                                       " alpha counts but the protocol has " + std::to_string(nA) + " alphas");
        if (p.numKeypoints == 0)
        {
            res.skippedPairs++;
            continue;
        }
        add(byClass[p.category], p);
        add(all, p);
    }
    auto row = [&](const std::string& name, const Acc& acc) {
        PCKRow r;
        r.category = name;
        r.pairs = acc.pairs;
        r.keypoints = acc.kps;
        r.perPair.assign(nA, 0.0);
        r.perKeypoint.assign(nA, 0.0);
        for (size_t a = 0; a < nA && acc.pairs > 0; ++a)
        {
            r.perPair[a] = acc.pairSum[a] / acc.pairs;
            r.perKeypoint[a] = (double)acc.correct[a] / acc.kps;
        }
        return r;
    };
    res.classMean.assign(nA, 0.0);
    for (const auto& kv : byClass)
    {
        res.classes.push_back(row(kv.first, kv.second));
        for (size_t a = 0; a < nA; ++a)
            res.classMean[a] += res.classes.back().perPair[a] / byClass.size();
    }
    res.overall = row("all", all);
    return res;
}

PCKResult computePCK(const std::vector<KeypointPair>& pairs, const std::vector<Mat>& flows,
                     const PCKProtocol& protocol, const String& dataset)
try
{
    if (pairs.size() != flows.size())
        CV_Error(Error::StsBadArg, "computePCK: got " + std::to_string(pairs.size()) + " pairs but " +
                                   std::to_string(flows.size()) + " flows");
    std::vector<PairPCK> results;
    for (size_t i = 0; i < pairs.size(); ++i)
        results.push_back(evaluatePairPCK(pairs[i], flows[i], protocol, (int)i));
    return summarizePCK(results, protocol, dataset);
}
SEMFLOW_CATCH_STD("computePCK", std::string())

PCKResult evaluateBenchmark(const std::vector<KeypointPair>& pairs, const FlowFunction& computeFlow,
                            const PCKProtocol& protocol, const String& dataset,
                            const std::function<void(int, int)>& progress)
{
    checkProtocol(protocol);
    if (!computeFlow)
        CV_Error(Error::StsBadArg, "evaluateBenchmark needs a flow function");
#ifndef HAVE_OPENCV_IMGCODECS
    CV_UNUSED(pairs);
    CV_UNUSED(dataset);
    CV_UNUSED(progress);
    CV_Error(Error::StsNotImplemented, "evaluateBenchmark reads images and needs OpenCV built with imgcodecs; "
                                       "compute the flows yourself and call computePCK()");
#else
    std::vector<PairPCK> results;
    const int total = (int)pairs.size();
    for (int i = 0; i < total; ++i)
    {
        KeypointPair p = pairs[i];
        // Annotations give positions in the stored pixels: an EXIF rotation must not be applied.
        const int flags = IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION;
        Mat src = imread(p.sourceImage, flags), trg = imread(p.targetImage, flags);
        for (int side = 0; side < 2; ++side)
        {
            const Mat& img = side == 0 ? src : trg;
            const std::string& path = side == 0 ? p.sourceImage : p.targetImage;
            Size& known = side == 0 ? p.sourceSize : p.targetSize;
            if (img.empty())
                CV_Error(Error::StsObjectNotFound, "cannot read the image '" + path + "' of " + p.annotation);
            if (!known.empty() && known != img.size())
                CV_Error(Error::StsBadSize, cv::format("%s: the annotation says '%s' is %dx%d but the file is %dx%d",
                                                       p.annotation.c_str(), path.c_str(), known.width, known.height,
                                                       img.cols, img.rows));
            known = img.size();
        }
        Mat flow;
        if (protocol.direction == TRANSFER_SOURCE_TO_TARGET)
            computeFlow(src, trg, flow);
        else
            computeFlow(trg, src, flow);
        results.push_back(evaluatePairPCK(p, flow, protocol, i));
        if (progress)
            progress(i + 1, total);
    }
    return summarizePCK(results, protocol, dataset);
#endif
}

String PCKResult::describe() const
{
    return (dataset.empty() ? std::string() : dataset + ": ") + protocol.describe();
}

}  // namespace semflow
}  // namespace cv
