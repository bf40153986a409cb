// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "opencv2/semflow/semantic_flow.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "opencv2/core/utils/filesystem.hpp"
#include "opencv2/core/utils/logger.hpp"
#include "opencv2/semflow/layers.hpp"

#include "border_protocol.hpp"
#include "flow_internal.hpp"
#include "input_limits.hpp"
#include "layers_internal.hpp"
#include "onnx_model_info.hpp"
#include "sfnet_graph.hpp"

namespace cv {

namespace {

// OpenCV 4.7 and later's ONNX importer warns "missing dispatch map for domain=
// 'org.opencv.semflow'" once per node of a custom domain, although it then creates the
// registered layers as intended: 39 warnings per create() for the default model. At the
// default level (WARNING) the level is raised to ERROR for the import only, and restored
// after it, also when it throws; a level the user chose (more verbose or quieter) is left
// alone. The level is process-wide: another thread's warning during the import is lost too.
struct QuietCustomDomainWarnings
{
    const utils::logging::LogLevel saved;
    QuietCustomDomainWarnings() : saved(utils::logging::getLogLevel())
    {
        if (saved == utils::logging::LOG_LEVEL_WARNING)
            utils::logging::setLogLevel(utils::logging::LOG_LEVEL_ERROR);
    }
    ~QuietCustomDomainWarnings()
    {
        if (saved == utils::logging::LOG_LEVEL_WARNING)
            utils::logging::setLogLevel(saved);
    }
};

const char* const kInputs[] = {"source", "target"};
const char* const kGridOutputs[] = {"grid_s2t", "grid_t2s"};
const char* const kFeatureOutputs[] = {"feat3_source", "feat3_target", "feat4_source", "feat4_target"};
const int kStride = 16;       // feature stride of the graph's outputs
const int kMaxBatch = 8;      // pairs per network run in calcBatch and calcOneToMany (bounds activation memory)

String expectedInterface()
{
    return "expected graph inputs 'source', 'target' and outputs 'grid_s2t', 'grid_t2s', "
           "'feat3_source', 'feat3_target', 'feat4_source', 'feat4_target' (doc/onnx_ops.md)";
}

// A [1, C, H, W] view of item n of a contiguous 4-D blob.
Mat blobItem(const Mat& blob, int n)
{
    CV_Assert(blob.dims == 4 && blob.isContinuous() && n < blob.size[0]);
    const int sz[4] = {1, blob.size[1], blob.size[2], blob.size[3]};
    return Mat(4, sz, blob.type(), (void*)blob.ptr<float>(n));
}

std::vector<Mat> getMatVector(InputArrayOfArrays arr, const char* what)
{
    if (arr.empty())
        return std::vector<Mat>();
    const _InputArray::KindFlag k = arr.kind();
    if (k != _InputArray::STD_VECTOR_MAT && k != _InputArray::STD_ARRAY_MAT && k != _InputArray::STD_VECTOR_UMAT)
        CV_Error(Error::StsBadArg, format("SemanticFlow: %s must be a vector of images", what));
    std::vector<Mat> v;
    arr.getMatVector(v);
    return v;
}

void writeFlows(const std::vector<Mat>& flows, OutputArrayOfArrays out)
{
    if (out.kind() != _InputArray::STD_VECTOR_MAT)
        CV_Error(Error::StsBadArg, "SemanticFlow: flows must be a std::vector<cv::Mat>");
    out.create((int)flows.size(), 1, CV_32FC2, -1, true);
    for (size_t i = 0; i < flows.size(); i++)
        out.getMatRef((int)i) = flows[i];
}

bool pairAvailable(int backend, int target)
{
    if (backend == dnn::DNN_BACKEND_DEFAULT)
        backend = dnn::DNN_BACKEND_OPENCV;
    for (const auto& bt : dnn::getAvailableBackends())
        if (bt.first == backend && bt.second == target)
            return true;
    // Some builds list OpenCV/CPU only implicitly.
    return backend == dnn::DNN_BACKEND_OPENCV && target == dnn::DNN_TARGET_CPU;
}

}  // namespace

class SemanticFlowImpl CV_FINAL : public SemanticFlow
{
public:
    SemanticFlowImpl(const String& model, Size inputSize, bool padBorder, float beta, float sigma,
                     int backend, int target)
        : modelPath_(model), inputSize_(inputSize), pad_(padBorder), betaOverride_(beta), sigmaOverride_(sigma)
    {
        if (inputSize.width <= 0 || inputSize.height <= 0 || inputSize.width % 32 || inputSize.height % 32 ||
            inputSize.width < 64 || inputSize.height < 64)
            CV_Error(Error::StsBadArg,
                     format("SemanticFlow: inputSize must have sides that are multiples of 32 and at "
                            "least 64, got %dx%d", inputSize.width, inputSize.height));
        if (inputSize.width > semflow::detail::kMaxInputSide || inputSize.height > semflow::detail::kMaxInputSide)
            CV_Error(Error::StsOutOfRange,
                     format("SemanticFlow: inputSize %dx%d is too large: at most %d per side (the correlation "
                            "volume grows with the fourth power of the side)", inputSize.width,
                            inputSize.height, semflow::detail::kMaxInputSide));
        checkFloatParam(beta, "beta");
        checkFloatParam(sigma, "sigma");
        load(model);
        requestedBackend_ = backend;
        requestedTarget_ = target;
        applyBackend();
    }

    void calc(InputArray source, InputArray target, InputOutputArray flow) CV_OVERRIDE
    try
    {
        std::vector<Mat> s2t, t2s;
        run({source.getMat()}, {target.getMat()}, false, s2t, t2s);
        s2t[0].copyTo(flow);
    }
    SEMFLOW_CATCH_STD("SemanticFlow::calc", modelPath_)

    void calcBidirectional(InputArray sourceIn, InputArray targetIn, OutputArray flowS2T,
                           OutputArray flowT2S, OutputArray confidence) CV_OVERRIDE
    try
    {
        Mat source = sourceIn.getMat(), target = targetIn.getMat();
        std::vector<Mat> s2t, t2s;
        run({source}, {target}, true, s2t, t2s);
        if (confidence.needed())
            consistency(s2t[0], t2s[0], confidence);
        s2t[0].copyTo(flowS2T);
        t2s[0].copyTo(flowT2S);
    }
    SEMFLOW_CATCH_STD("SemanticFlow::calcBidirectional", modelPath_)

    void calcBatch(InputArrayOfArrays sources_, InputArrayOfArrays targets_, OutputArrayOfArrays flows) CV_OVERRIDE
    try
    {
        std::vector<Mat> sources = getMatVector(sources_, "sources"), targets = getMatVector(targets_, "targets");
        if (sources.size() != targets.size())
            CV_Error(Error::StsBadArg,
                     format("SemanticFlow::calcBatch: got %d sources but %d targets",
                            (int)sources.size(), (int)targets.size()));
        std::vector<Mat> all;
        for (size_t b = 0; b < sources.size(); b += kMaxBatch)
        {
            const size_t e = std::min(sources.size(), b + kMaxBatch);
            std::vector<Mat> s2t, t2s;
            run(std::vector<Mat>(sources.begin() + b, sources.begin() + e),
                std::vector<Mat>(targets.begin() + b, targets.begin() + e), false, s2t, t2s);
            all.insert(all.end(), s2t.begin(), s2t.end());
        }
        writeFlows(all, flows);
    }
    SEMFLOW_CATCH_STD("SemanticFlow::calcBatch", modelPath_)

    void calcOneToMany(InputArray source_, InputArrayOfArrays targets_, OutputArrayOfArrays flows) CV_OVERRIDE
    try
    {
        Mat source = source_.getMat();
        std::vector<Mat> targets = getMatVector(targets_, "targets");
        if (targets.empty())
        {
            writeFlows(std::vector<Mat>(), flows);
            return;
        }
        // Every input is checked before the first network run, so a bad target fails fast.
        semflow::detail::checkInputImage(source, "source");
        for (size_t i = 0; i < targets.size(); i++)
            semflow::detail::checkInputImage(targets[i], format("target #%d", (int)i).c_str());

        // Every image goes through the feature extractor once, in runs of at most 2 * kMaxBatch
        // images: the first half of a run feeds the graph's 'source' input, the second half
        // its 'target' input (the last image is repeated when the count is odd). Only the
        // source's features outlive a run; each target is matched within its run, so memory
        // does not grow with the number of targets (beyond the output flows).
        const std::vector<String> names(std::begin(kFeatureOutputs), std::end(kFeatureOutputs));
        Mat s3, s4;
        std::vector<Mat> result;
        result.reserve(targets.size());
        size_t next = 0;
        while (next < targets.size())
        {
            std::vector<Mat> run;
            std::vector<int> index;  // target of each image of the run, -1 for the source
            if (s3.empty())
            {
                run.push_back(semflow::detail::preprocessImage(source, inputSize_, pad_, "source", resizeFilter_));
                index.push_back(-1);
            }
            for (; run.size() < 2 * kMaxBatch && next < targets.size(); next++)
            {
                run.push_back(semflow::detail::preprocessImage(targets[next], inputSize_, pad_,
                                                      format("target #%d", (int)next).c_str(), resizeFilter_));
                index.push_back((int)next);
            }
            if (run.size() % 2)
                run.push_back(run.back());
            const size_t half = run.size() / 2;
            std::vector<Mat> outs;
            forward(std::vector<Mat>(run.begin(), run.begin() + half),
                    std::vector<Mat>(run.begin() + half, run.end()), names, outs);
            run.clear();
            // outs: feat3_source, feat3_target, feat4_source, feat4_target.
            auto features = [&](int level, size_t k) {
                const bool first = k < half;
                return blobItem(outs[(level == 3 ? 0 : 2) + (first ? 0 : 1)], (int)(first ? k : k - half));
            };
            for (size_t k = 0; k < index.size(); k++)
            {
                if (index[k] < 0)
                {
                    s3 = features(3, k).clone();
                    s4 = features(4, k).clone();
                    continue;
                }
                const Mat grid = matchFeatures(s3, s4, features(3, k), features(4, k));
                Mat flow;
                semflow::detail::gridToFlow(grid.ptr<float>(), grid.size[2], grid.size[3], pad_, source.size(),
                                   targets[index[k]].size(), flow);
                result.push_back(flow);
            }
        }
        writeFlows(result, flows);
    }
    SEMFLOW_CATCH_STD("SemanticFlow::calcOneToMany", modelPath_)

    void collectGarbage() CV_OVERRIDE {}

    void setPreferableBackend(dnn::Backend backendId) CV_OVERRIDE
    {
        requestBackend(backendId, requestedTarget_, strict_);
    }
    void setPreferableTarget(dnn::Target targetId) CV_OVERRIDE
    {
        requestBackend(requestedBackend_, targetId, strict_);
    }
    dnn::Backend getPreferableBackend() const CV_OVERRIDE { return static_cast<dnn::Backend>(backend_); }
    dnn::Target getPreferableTarget() const CV_OVERRIDE { return static_cast<dnn::Target>(target_); }
    void setStrictBackend(bool strict) CV_OVERRIDE
    {
        requestBackend(requestedBackend_, requestedTarget_, strict);
    }

    // A rejected request (strict mode) leaves the previous, working settings in place.
    void requestBackend(int backendId, int targetId, bool strict)
    {
        const int oldBackend = requestedBackend_, oldTarget = requestedTarget_;
        const bool oldStrict = strict_;
        requestedBackend_ = backendId;
        requestedTarget_ = targetId;
        strict_ = strict;
        try
        {
            applyBackend();
        }
        catch (...)
        {
            requestedBackend_ = oldBackend;
            requestedTarget_ = oldTarget;
            strict_ = oldStrict;
            throw;
        }
    }
    bool getStrictBackend() const CV_OVERRIDE { return strict_; }

    void setBeta(float beta) CV_OVERRIDE { checkFloatParam(beta, "beta"); betaOverride_ = beta; }
    float getBeta() const CV_OVERRIDE { return betaOverride_ >= 0.f ? betaOverride_ : graph_.softArgmax.beta; }
    void setSigma(float sigma) CV_OVERRIDE { checkFloatParam(sigma, "sigma"); sigmaOverride_ = sigma; }
    float getSigma() const CV_OVERRIDE { return sigmaOverride_ >= 0.f ? sigmaOverride_ : graph_.softArgmax.sigma; }
    void setConsistencyTolerance(float alpha) CV_OVERRIDE
    {
        if (!(alpha > 0.f) || !std::isfinite(alpha))
            CV_Error(Error::StsOutOfRange, format("SemanticFlow: the consistency tolerance must be a "
                                                  "positive fraction of the image size, got %g", alpha));
        alpha_ = alpha;
    }
    float getConsistencyTolerance() const CV_OVERRIDE { return alpha_; }
    Size getInputSize() const CV_OVERRIDE { return inputSize_; }
    bool getPadBorder() const CV_OVERRIDE { return pad_; }
    void setResizeFilter(semflow::ResizeFilter filter) CV_OVERRIDE
    {
        if (filter != semflow::RESIZE_AREA_OR_LINEAR && filter != semflow::RESIZE_ANTIALIASED_BILINEAR)
            CV_Error(Error::StsBadArg,
                     format("SemanticFlow::setResizeFilter: expected semflow::RESIZE_AREA_OR_LINEAR (0) or "
                            "semflow::RESIZE_ANTIALIASED_BILINEAR (1), got %d", (int)filter));
        resizeFilter_ = filter;
    }
    semflow::ResizeFilter getResizeFilter() const CV_OVERRIDE { return static_cast<semflow::ResizeFilter>(resizeFilter_); }

private:
    static void checkFloatParam(float v, const char* name)
    {
        if (!std::isfinite(v))
            CV_Error(Error::StsBadArg, format("SemanticFlow: %s must be finite (negative = the model's value)", name));
    }

    void load(const String& path)
    {
        if (path.empty())
            CV_Error(Error::StsBadArg, "SemanticFlow: no model file given (expected the path of an SFNet ONNX model)");
        if (utils::fs::isDirectory(path))
            CV_Error(Error::StsBadArg, format("SemanticFlow: model path '%s' is a directory, not an ONNX file",
                                              path.c_str()));
        const int64 size =
            semflow::detail::checkInputFile(path, "SemanticFlow", "model file", semflow::detail::kMaxModelBytes);
        semflow::OnnxModelInfo info;
        {
            std::ifstream file(path, std::ios::binary);
            if (!file)
                CV_Error(Error::StsObjectNotFound,
                         format("SemanticFlow: cannot open model file '%s' (missing or unreadable)", path.c_str()));
            // One read into a buffer of the file's size: a growing buffer costs seconds on a
            // 682 MB model and leaves glibc's raised mmap threshold holding ~250 MB after the
            // import (doc/benchmarks.md, "Memory: where the 1.6 GB go").
            std::vector<char> bytes((size_t)std::max<int64>(size, 0));
            if (!bytes.empty())
            {
                file.read(bytes.data(), (std::streamsize)bytes.size());
                bytes.resize((size_t)std::max<std::streamsize>(file.gcount(), 0));
            }
            if (bytes.empty())
                CV_Error(Error::StsParseError,
                         format("SemanticFlow: model file '%s' is empty (or not a regular file)", path.c_str()));
            // A structural pre-check before OpenCV's importer sees the bytes: OpenCV 4.6's
            // importer dereferences a node input that no earlier node produces (a crash that
            // fuzz_onnx_model found), so such graphs are refused here with a clear error. The
            // bytes are released before the import, so they do not add to its peak memory.
            std::string why;
            if (!semflow::readOnnxModelInfo((const unsigned char*)bytes.data(), bytes.size(), info, why))
                CV_Error(Error::StsParseError,
                         format("SemanticFlow: model file '%s' is not a readable ONNX model: %s",
                                path.c_str(), why.c_str()));
        }
        semflow::registerLayers();
        try
        {
            QuietCustomDomainWarnings quiet;
#if CV_VERSION_MAJOR == 5 && CV_VERSION_MINOR == 0
            // OpenCV 5.0's new engine does not take these graphs (measured: its parser gives up,
            // naming no unsupported operation, and the default ENGINE_AUTO then warns and parses
            // the file a second time with the classic engine), and it runs on the CPU only. The
            // classic engine is asked for directly. (5.1 has the new engine only.)
            net_ = dnn::readNetFromONNX(path, dnn::ENGINE_CLASSIC);
#else
            net_ = dnn::readNetFromONNX(path);
#endif
        }
        catch (const cv::Exception& e)
        {
            const auto w = info.metadata.find("semflow.weights");
            if (w != info.metadata.end() && w->second == "float16")
                CV_Error(Error::StsNotImplemented,
                         format("SemanticFlow: '%s' stores its weights as FP16 (sfnet export --fp16), which the "
                                "ONNX importer of OpenCV %s cannot load (4.6 rejects FLOAT16 initializers or the Cast "
                                "of a constant weight; OpenCV 4.14 loads them); export the model without --fp16. "
                                "The importer said: %s",
                                path.c_str(), CV_VERSION, e.what()));
            CV_Error(Error::StsParseError,
                     format("SemanticFlow: '%s' is not a readable ONNX model for this OpenCV: OpenCV's ONNX "
                            "importer rejected it (a truncated or damaged file, another format, or an "
                            "operator this OpenCV version lacks): %s", path.c_str(), e.what()));
        }
        if (net_.empty())  // OpenCV 5.1's importer warns and returns an empty network where 4.x throws
            CV_Error(Error::StsParseError,
                     format("SemanticFlow: '%s' is not a readable ONNX model for this OpenCV: OpenCV's ONNX "
                            "importer rejected it and produced an empty network (an operator this OpenCV "
                            "version lacks, or a damaged graph)", path.c_str()));
        // The graph's inputs and outputs as the file lists them (both engines), then, for the
        // classic engine, which addresses an output by the name of the layer that makes it.
        const bool newEngine = semflow::newEngine(net_);
        const auto listed = [](const std::vector<std::string>& names, const String& name) {
            return std::find(names.begin(), names.end(), name) != names.end();
        };
        for (const char* name : kInputs)
            if (!listed(info.inputs, name))
                CV_Error(Error::StsBadArg,
                         format("SemanticFlow: ONNX model '%s' has no graph input '%s'; %s",
                                path.c_str(), name, expectedInterface().c_str()));
        std::vector<String> outputs(std::begin(kGridOutputs), std::end(kGridOutputs));
        outputs.insert(outputs.end(), std::begin(kFeatureOutputs), std::end(kFeatureOutputs));
        for (const String& name : outputs)
            if (!listed(info.outputs, name) || (!newEngine && net_.getLayerId(name) < 0))
                CV_Error(Error::StsBadArg,
                         format("SemanticFlow: ONNX model '%s' has no graph output '%s' that OpenCV can "
                                "address (it must be the first output of the node that makes it); %s",
                                path.c_str(), name.c_str(), expectedInterface().c_str()));
        // What the graph's matching runs with: the override decision, getBeta()/getSigma()
        // and the recomputation from the feature outputs all use these.
        graph_ = semflow::readSfnetGraphSettings(net_, path);
#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR >= 7)
        // OpenCV 4.14 (measured; its convolution engine dates from 4.7) computes wrong outputs
        // once the input shape changes (calcBatch or calcOneToMany after calc, or back) when
        // it has fused a BatchNorm into the convolution before it: up to 46 px off on the tiny
        // model, test one_batch_size_after_another_gives_the_same_flows. Graphs with the
        // BatchNorm folded at export (sfnet export --fold-bn) are not affected; for the others
        // layer fusion stays off, which is correct at some cost in speed. That is the classic
        // engine's fusion; OpenCV 5.1's engine passes that test fused, and its
        // Net::enableFusion(false) would clear the whole imported network.
        if (!newEngine && semflow::hasConvolutionBatchNorm(net_))
        {
            CV_LOG_INFO(NULL, "SemanticFlow: '" << path << "' keeps BatchNorm after its convolutions; layer "
                        "fusion is off (OpenCV " CV_VERSION " fuses them wrongly when the batch size changes); "
                        "`sfnet export --fold-bn` gives a graph that runs fused");
            net_.enableFusion(false);
        }
#endif
    }

    void applyBackend()
    {
        // A number that is no cv::dnn::Backend / Target at all is a mistake, not a request to
        // fall back: the values of the enums (0 .. DNN_BACKEND_CANN = 8, the two internal
        // Inference Engine ones; 0 .. DNN_TARGET_CPU_FP16 = 10), and whatever this OpenCV lists
        // as available (a backend newer than this list).
        bool backendKnown = (requestedBackend_ >= 0 && requestedBackend_ <= 8) ||
                            requestedBackend_ == 1000000 || requestedBackend_ == 1000001;  // internal IE ids
        bool targetKnown = requestedTarget_ >= 0 && requestedTarget_ <= 10;
        if (!backendKnown || !targetKnown)  // the list is only needed outside the enums' ranges
            for (const auto& p : dnn::getAvailableBackends())
            {
                backendKnown |= p.first == requestedBackend_;
                targetKnown |= p.second == requestedTarget_;
            }
        if (!backendKnown)
            CV_Error(Error::StsOutOfRange,
                     format("SemanticFlow: %d is not a cv::dnn::Backend (e.g. cv::dnn::DNN_BACKEND_OPENCV = %d, "
                            "DNN_BACKEND_CUDA = %d)", requestedBackend_, (int)dnn::DNN_BACKEND_OPENCV,
                            (int)dnn::DNN_BACKEND_CUDA));
        if (!targetKnown)
            CV_Error(Error::StsOutOfRange,
                     format("SemanticFlow: %d is not a cv::dnn::Target (e.g. cv::dnn::DNN_TARGET_CPU = %d, "
                            "DNN_TARGET_CUDA = %d)", requestedTarget_, (int)dnn::DNN_TARGET_CPU,
                            (int)dnn::DNN_TARGET_CUDA));
        int backend = requestedBackend_, target = requestedTarget_;
        // A CUDA target only makes sense with the CUDA backend and vice versa; pairing them
        // implicitly saves users from the common half-configured case.
        const bool cudaTarget = target == dnn::DNN_TARGET_CUDA || target == dnn::DNN_TARGET_CUDA_FP16;
        if (backend == dnn::DNN_BACKEND_CUDA && !cudaTarget)
            target = dnn::DNN_TARGET_CUDA;
        // OpenCV 5.1's engine runs a graph on CUDA only when every operation has a CUDA
        // implementation (semflow's layers have none, so it would run the whole graph on the
        // CPU) and takes no other back-end or target yet: there the CPU is the only pair.
        const bool newEngine = semflow::newEngine(net_);
        const bool cpu = (backend == dnn::DNN_BACKEND_OPENCV || backend == dnn::DNN_BACKEND_DEFAULT) &&
                         target == dnn::DNN_TARGET_CPU;
        if (!pairAvailable(backend, target) || (newEngine && !cpu))
        {
            const String msg =
                newEngine ? format("SemanticFlow: OpenCV " CV_VERSION "'s DNN engine runs semflow graphs on "
                                   "DNN_BACKEND_OPENCV / DNN_TARGET_CPU only (on CUDA only when every operation "
                                   "has a CUDA implementation, and semflow's layers have none); the pair (%d, %d) "
                                   "is not available", backend, target)
                          : format("SemanticFlow: the DNN backend/target pair (%d, %d) is not available "
                                   "in this OpenCV build or on this machine", backend, target);
            if (strict_)
                CV_Error(Error::StsNotImplemented,
                         msg + " (strict backend mode; call setStrictBackend(false) to fall back to the CPU)");
            // Once per pair: setPreferableBackend(CUDA) then setPreferableTarget(CUDA) ask for
            // the same pair twice.
            if (warnedPair_ != std::make_pair(backend, target))
                CV_LOG_WARNING(NULL, msg << "; falling back to DNN_BACKEND_OPENCV / DNN_TARGET_CPU");
            warnedPair_ = std::make_pair(backend, target);
            backend = dnn::DNN_BACKEND_OPENCV;
            target = dnn::DNN_TARGET_CPU;
        }
        else
            warnedPair_ = std::make_pair(-1, -1);
        net_.setPreferableBackend(backend);
        if (!newEngine)  // the CPU is its only target, and without CUDA it warns at any request
            net_.setPreferableTarget(target);
        backend_ = backend;
        target_ = target;
    }

    bool overridden() const
    {
        const bool beta = betaOverride_ >= 0.f && betaOverride_ != graph_.softArgmax.beta;
        const bool sigma = sigmaOverride_ >= 0.f && sigmaOverride_ != graph_.softArgmax.sigma;
        return beta || sigma;
    }

    void forward(const std::vector<Mat>& sources, const std::vector<Mat>& targets,
                 const std::vector<String>& names, std::vector<Mat>& outs)
    {
        Mat bs = dnn::blobFromImages(sources), bt = dnn::blobFromImages(targets);
        net_.setInput(bs, kInputs[0]);
        net_.setInput(bt, kInputs[1]);
        net_.forward(outs, names);
        CV_Assert(outs.size() == names.size());
        const int Hg = inputSize_.height / kStride, Wg = inputSize_.width / kStride;
        for (size_t i = 0; i < outs.size(); i++)
        {
            const Mat& o = outs[i];
            if (o.dims != 4 || o.type() != CV_32F || o.size[0] != (int)sources.size() || o.size[2] != Hg ||
                o.size[3] != Wg || (i < 2 && names[i].compare(0, 4, "grid") == 0 && o.size[1] != 2))
                CV_Error(Error::StsUnmatchedSizes,
                         format("SemanticFlow: model output '%s' has shape %s, expected [%d, %s, %d, %d] "
                                "for input %dx%d (doc/onnx_ops.md)", names[i].c_str(),
                                semflow::shapeString(dnn::shape(o)).c_str(), (int)sources.size(),
                                names[i].compare(0, 4, "grid") == 0 ? "2" : "C", Hg, Wg,
                                inputSize_.width, inputSize_.height));
        }
    }

    // Correlation of both levels, product, kernel soft argmax: the graph's own matching
    // with the graph's settings, except beta and sigma, which are this instance's.
    Mat matchFeatures(const Mat& s3, const Mat& s4, const Mat& t3, const Mat& t4) const
    {
        const semflow::CorrelationSettings& c = graph_.correlation;
        Mat c3, c4, grid;
        semflow::correlation(s3, t3, c3, c.normalize, c.relu);
        semflow::correlation(s4, t4, c4, c.normalize, c.relu);
        multiply(c3, c4, c3);
        semflow::kernelSoftArgmax(c3, Size(t3.size[3], t3.size[2]), grid, getBeta(), getSigma(),
                                  graph_.softArgmax.normalize);
        return grid;
    }

    // Runs the network on the pairs and converts the grids to flows at the images' sizes.
    void run(const std::vector<Mat>& sources, const std::vector<Mat>& targets, bool both,
             std::vector<Mat>& s2t, std::vector<Mat>& t2s)
    {
        if (sources.empty())
            CV_Error(Error::StsBadArg, "SemanticFlow: no image pairs given");
        std::vector<Mat> ps, pt;
        for (size_t i = 0; i < sources.size(); i++)
        {
            const bool single = sources.size() == 1;
            ps.push_back(semflow::detail::preprocessImage(sources[i], inputSize_, pad_, single ? "source" : format("source #%d", (int)i).c_str(), resizeFilter_));
            pt.push_back(semflow::detail::preprocessImage(targets[i], inputSize_, pad_, single ? "target" : format("target #%d", (int)i).c_str(), resizeFilter_));
        }
        const bool viaFeatures = overridden();
        std::vector<String> names;
        if (viaFeatures)
            names.assign(std::begin(kFeatureOutputs), std::end(kFeatureOutputs));
        else
            names.assign(std::begin(kGridOutputs), std::end(kGridOutputs));
        std::vector<Mat> outs;
        forward(ps, pt, names, outs);

        Mat gs2t, gt2s;
        if (viaFeatures)
        {
            gs2t = matchFeatures(outs[0], outs[2], outs[1], outs[3]);
            if (both)
                gt2s = matchFeatures(outs[1], outs[3], outs[0], outs[2]);
        }
        else
        {
            gs2t = outs[0];
            gt2s = outs[1];
        }
        const int Hg = gs2t.size[2], Wg = gs2t.size[3];
        s2t.resize(sources.size());
        t2s.resize(both ? sources.size() : 0);
        for (size_t i = 0; i < sources.size(); i++)
        {
            semflow::detail::gridToFlow(gs2t.ptr<float>((int)i), Hg, Wg, pad_, sources[i].size(), targets[i].size(), s2t[i]);
            if (both)
                semflow::detail::gridToFlow(gt2s.ptr<float>((int)i), Hg, Wg, pad_, targets[i].size(), sources[i].size(), t2s[i]);
        }
    }

    void consistency(const Mat& s2t, const Mat& t2s, OutputArray conf_) const
    {
        conf_.create(s2t.size(), CV_32FC1);
        Mat conf = conf_.getMat();
        const float L = (float)std::max(s2t.cols, s2t.rows), tol = alpha_ * L;
        const float k = 1.f / (2.f * tol * tol);
        for (int y = 0; y < s2t.rows; y++)
        {
            const Point2f* f = s2t.ptr<Point2f>(y);
            float* c = conf.ptr<float>(y);
            for (int x = 0; x < s2t.cols; x++)
            {
                const float qx = x + f[x].x, qy = y + f[x].y;
                if (!(qx >= 0.f && qy >= 0.f && qx <= t2s.cols - 1 && qy <= t2s.rows - 1))
                {
                    c[x] = 0.f;
                    continue;
                }
                const Point2f e = f[x] + semflow::sampleFlowBilinear(t2s, qx, qy);
                c[x] = std::exp(-(e.x * e.x + e.y * e.y) * k);
            }
        }
    }

    dnn::Net net_;
    semflow::SfnetGraphSettings graph_;
    String modelPath_;  // named in the errors of calc*()
    Size inputSize_;
    bool pad_;
    int resizeFilter_ = semflow::RESIZE_AREA_OR_LINEAR;
    float betaOverride_, sigmaOverride_;
    int requestedBackend_ = dnn::DNN_BACKEND_OPENCV, requestedTarget_ = dnn::DNN_TARGET_CPU;
    std::pair<int, int> warnedPair_{-1, -1};  // the last unavailable pair a warning was logged for
    int backend_ = dnn::DNN_BACKEND_OPENCV, target_ = dnn::DNN_TARGET_CPU;
    bool strict_ = false;
    float alpha_ = 0.05f;
};

Ptr<SemanticFlow> SemanticFlow::create(const String& model, Size inputSize, bool padBorder, float beta,
                                       float sigma, dnn::Backend backend, dnn::Target target)
{
    try
    {
        return makePtr<SemanticFlowImpl>(model, inputSize, padBorder, beta, sigma, backend, target);
    }
    SEMFLOW_CATCH_STD("SemanticFlow::create", model)
}

}  // namespace cv
