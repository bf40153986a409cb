// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// The org.opencv.semflow.* cv::dnn layers and the functions behind them.

#include "precomp.hpp"
#include "layers_internal.hpp"
#include "layers_kernels.hpp"
#include "opencv2/dnn/all_layers.hpp"
#include "input_limits.hpp"

#include <mutex>

namespace cv {
namespace semflow {

const char* const kCorrelationType = "org.opencv.semflow.Correlation";
const char* const kSoftArgmaxType = "org.opencv.semflow.KernelSoftArgmax";
const char* const kConstantClipType = "org.opencv.semflow.ConstantClip";

std::string shapeString(const dnn::MatShape& s)
{
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++)
        r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

namespace {

dnn::MatShape blobShape(const Mat& m)
{
    return dnn::MatShape(m.size.p, m.size.p + m.dims);
}

// The ONNX importer computes shapes while reading the file, with 0 for symbolic
// dimensions; a size is checked only once both sides are known.
bool known(int d) { return d > 0; }

void checkCorrelationShapes(const dnn::MatShape& s, const dnn::MatShape& t)
{
    if (s.size() != 4 || t.size() != 4)
        CV_Error(Error::StsBadSize,
                 "semflow Correlation: expected two 4-D feature blobs [N, C, H, W], got " +
                     shapeString(s) + " and " + shapeString(t));
    if (known(s[0]) && known(t[0]) && s[0] != t[0])
        CV_Error(Error::StsUnmatchedSizes,
                 cv::format("semflow Correlation: source and target batch sizes differ (%d vs %d)",
                            s[0], t[0]));
    if (known(s[1]) && known(t[1]) && s[1] != t[1])
        CV_Error(Error::StsUnmatchedSizes,
                 cv::format("semflow Correlation: source and target features must have the same "
                            "channel count, got %d and %d", s[1], t[1]));
}

dnn::MatShape correlationShape(const dnn::MatShape& s, const dnn::MatShape& t)
{
    checkCorrelationShapes(s, t);
    // Every factor is bounded by the feature blobs, but their product is not: check it in
    // 64 bits before it overflows the int of a MatShape.
    const int64 n = std::max(s[0], 1), cells = (int64)std::max(t[2], 1) * std::max(t[3], 1),
                area = (int64)std::max(s[2], 1) * std::max(s[3], 1);
    if (cells > detail::kMaxBlobElements / area || n * cells * area > detail::kMaxBlobElements)
        CV_Error(Error::StsOutOfRange,
                 cv::format("semflow Correlation: features %s and %s give a correlation volume of %s "
                            "elements, more than the %lld accepted", shapeString(s).c_str(), shapeString(t).c_str(),
                            cv::format("%lld x %lld x %lld", (long long)n, (long long)cells, (long long)area).c_str(),
                            (long long)detail::kMaxBlobElements));
    return dnn::MatShape{s[0], t[2] * t[3], s[2], s[3]};
}

// The output blob the network allocated for a layer must be CV_32F: the kernels write floats.
// (cv::dnn::Net::quantize() keeps these layers FP32 and gives them float blobs; this guards
// against any network that would not, instead of writing through a float pointer.)
void checkOutputBlob(const Mat& m, const char* op)
{
    if (m.type() != CV_32F)
        CV_Error(Error::StsUnsupportedFormat,
                 cv::format("semflow %s: the network gave this layer a %s output blob; the semflow "
                            "layers compute in FP32 only (a cv::dnn::Net::quantize()d network is not "
                            "supported)", op, typeToString(m.type()).c_str()));
}

void checkNonEmpty(const Mat& m, const char* op, const char* what)
{
    if (m.empty() || m.total() == 0)
        CV_Error(Error::StsBadArg, cv::format("semflow %s: %s is empty", op, what));
    if (m.type() != CV_32F)
        CV_Error(Error::StsUnsupportedFormat,
                 cv::format("semflow %s: %s must be CV_32F, got %s", op, what,
                            typeToString(m.type()).c_str()));
    for (int d = 0; d < m.dims; d++)
        if (m.size[d] <= 0)
            CV_Error(Error::StsBadSize,
                     cv::format("semflow %s: %s has a zero-sized dimension %s", op, what,
                                shapeString(blobShape(m)).c_str()));
}

// Target grid (Ht, Wt) for KernelSoftArgmax: from the size carrier's last two dimensions,
// or, without one, the source grid itself.
Size softArgmaxTargetGrid(const dnn::MatShape& corr, const dnn::MatShape* carrier)
{
    if (corr.size() != 4)
        CV_Error(Error::StsBadSize,
                 "semflow KernelSoftArgmax: expected a 4-D correlation blob [N, Ht*Wt, Hs, Ws], got " +
                     shapeString(corr));
    Size t;
    if (carrier)
    {
        if (carrier->size() < 2)
            CV_Error(Error::StsBadSize,
                     "semflow KernelSoftArgmax: the size input must have at least 2 dimensions "
                     "(.., Ht, Wt), got " + shapeString(*carrier));
        t = Size((*carrier)[carrier->size() - 1], (*carrier)[carrier->size() - 2]);
    }
    else
    {
        t = Size(corr[3], corr[2]);
    }
    if (known(t.width) && known(t.height) && known(corr[1]) && (int64)t.width * t.height != corr[1])
        CV_Error(Error::StsUnmatchedSizes,
                 cv::format("semflow KernelSoftArgmax: the correlation has %d channels but the target "
                            "grid is %dx%d (%lld cells)%s", corr[1], t.height, t.width,
                            (long long)t.width * t.height,
                            carrier ? "" : "; pass the target features as the second input"));
    return t;
}

void checkSoftArgmaxParams(float beta, float sigma, const char* op)
{
    if (cvIsNaN(beta) || cvIsInf(beta) || cvIsNaN(sigma) || cvIsInf(sigma))
        CV_Error(Error::StsBadArg,
                 cv::format("semflow %s: beta and sigma must be finite, got %g and %g", op, beta, sigma));
}

// True when two blobs share memory: an output that aliases an input must be computed
// elsewhere first, since the kernels read their inputs after they start writing.
bool overlaps(const Mat& a, const Mat& b)
{
    return a.datastart < b.dataend && b.datastart < a.dataend;
}

class CorrelationLayer CV_FINAL : public dnn::Layer
{
public:
    explicit CorrelationLayer(const dnn::LayerParams& params) : Layer(params)
    {
        setParamsFrom(params);
        type = kCorrelationType;  // also when an importer looked it up by its bare name (OpenCV 5.1)
        normalize_ = params.get<int>("normalize", 1) != 0;
        relu_ = params.get<int>("relu", 1) != 0;
    }

    static Ptr<dnn::Layer> create(dnn::LayerParams& params)
    {
        return makePtr<CorrelationLayer>(params);
    }

    bool supportBackend(int backendId) CV_OVERRIDE
    {
        return backendId == dnn::DNN_BACKEND_OPENCV;
    }

    bool getMemoryShapes(const std::vector<dnn::MatShape>& inputs, const int,
                         std::vector<dnn::MatShape>& outputs,
                         std::vector<dnn::MatShape>&) const CV_OVERRIDE
    {
        std::vector<dnn::MatShape> all = withBlobs(inputs);
        if (all.size() != 2)
            CV_Error(Error::StsBadArg,
                     cv::format("semflow Correlation: expected 2 inputs (source and target features), "
                                "got %d", (int)all.size()));
        outputs.assign(1, correlationShape(all[0], all[1]));
        return false;
    }

    void forward(InputArrayOfArrays inputsArr, OutputArrayOfArrays outputsArr,
                 OutputArrayOfArrays internalsArr) CV_OVERRIDE
    {
        if (inputsArr.depth() == CV_16S || inputsArr.depth() == CV_16F)  // FP16 targets: compute in FP32 and convert back
        {
            forward_fallback(inputsArr, outputsArr, internalsArr);
            return;
        }
        std::vector<Mat> inputs, outputs;
        inputsArr.getMatVector(inputs);
        outputsArr.getMatVector(outputs);
        for (const Mat& b : blobs)
            inputs.push_back(b);
        CV_Assert(inputs.size() == 2 && outputs.size() == 1);
        checkNonEmpty(inputs[0], "Correlation", "source features");
        checkNonEmpty(inputs[1], "Correlation", "target features");
        checkCorrelationShapes(blobShape(inputs[0]), blobShape(inputs[1]));
        checkOutputBlob(outputs[0], "Correlation");
        detail::correlationForward(inputs[0], inputs[1], outputs[0], normalize_, relu_);
    }

    int64 getFLOPS(const std::vector<dnn::MatShape>& inputs,
                   const std::vector<dnn::MatShape>& outputs) const CV_OVERRIDE
    {
        std::vector<dnn::MatShape> all = withBlobs(inputs);
        if (all.size() != 2 || outputs.empty())
            return 0;
        return 2 * (int64)dnn::total(outputs[0]) * all[0][1];
    }

    CorrelationSettings settings() const
    {
        CorrelationSettings s;
        s.normalize = normalize_;
        s.relu = relu_;
        return s;
    }

private:
    std::vector<dnn::MatShape> withBlobs(const std::vector<dnn::MatShape>& inputs) const
    {
        std::vector<dnn::MatShape> all(inputs);
        for (const Mat& b : blobs)
            all.push_back(blobShape(b));
        return all;
    }

    bool normalize_, relu_;
};

class KernelSoftArgmaxLayer CV_FINAL : public dnn::Layer
{
public:
    explicit KernelSoftArgmaxLayer(const dnn::LayerParams& params) : Layer(params)
    {
        setParamsFrom(params);
        type = kSoftArgmaxType;
        beta_ = params.get<float>("beta", 50.f);
        sigma_ = params.get<float>("sigma", 5.f);
        normalize_ = params.get<int>("normalize", 1) != 0;
        checkSoftArgmaxParams(beta_, sigma_, "KernelSoftArgmax");
    }

    static Ptr<dnn::Layer> create(dnn::LayerParams& params)
    {
        return makePtr<KernelSoftArgmaxLayer>(params);
    }

    bool supportBackend(int backendId) CV_OVERRIDE
    {
        return backendId == dnn::DNN_BACKEND_OPENCV;
    }

    bool getMemoryShapes(const std::vector<dnn::MatShape>& inputs, const int,
                         std::vector<dnn::MatShape>& outputs,
                         std::vector<dnn::MatShape>&) const CV_OVERRIDE
    {
        std::vector<dnn::MatShape> all(inputs);
        for (const Mat& b : blobs)
            all.push_back(blobShape(b));
        if (all.empty() || all.size() > 2)
            CV_Error(Error::StsBadArg,
                     cv::format("semflow KernelSoftArgmax: expected 1 or 2 inputs (correlation, "
                                "optional target-size carrier), got %d", (int)all.size()));
        softArgmaxTargetGrid(all[0], all.size() == 2 ? &all[1] : nullptr);
        outputs.assign(1, dnn::MatShape{all[0][0], 2, all[0][2], all[0][3]});
        return false;
    }

    void forward(InputArrayOfArrays inputsArr, OutputArrayOfArrays outputsArr,
                 OutputArrayOfArrays internalsArr) CV_OVERRIDE
    {
        if (inputsArr.depth() == CV_16S || inputsArr.depth() == CV_16F)
        {
            forward_fallback(inputsArr, outputsArr, internalsArr);
            return;
        }
        std::vector<Mat> inputs, outputs;
        inputsArr.getMatVector(inputs);
        outputsArr.getMatVector(outputs);
        for (const Mat& b : blobs)
            inputs.push_back(b);
        CV_Assert(!inputs.empty() && outputs.size() == 1);
        checkNonEmpty(inputs[0], "KernelSoftArgmax", "correlation");
        checkOutputBlob(outputs[0], "KernelSoftArgmax");
        dnn::MatShape carrier;
        if (inputs.size() > 1)
            carrier = blobShape(inputs[1]);
        Size t = softArgmaxTargetGrid(blobShape(inputs[0]), inputs.size() > 1 ? &carrier : nullptr);
        // At run time every size is known: an empty size carrier is an error, not "unknown".
        if (t.width <= 0 || t.height <= 0 || (int64)t.width * t.height != inputs[0].size[1])
            CV_Error(Error::StsBadSize,
                     cv::format("semflow KernelSoftArgmax: the target grid %dx%d does not match the "
                                "correlation's %d channels", t.height, t.width, inputs[0].size[1]));
        detail::kernelSoftArgmaxForward(inputs[0], t.height, t.width, outputs[0], beta_, sigma_,
                                        normalize_);
    }

    SoftArgmaxSettings settings() const
    {
        SoftArgmaxSettings s;
        s.beta = beta_;
        s.sigma = sigma_;
        s.normalize = normalize_;
        return s;
    }

private:
    float beta_, sigma_;
    bool normalize_;
};

Mat continuousBlob(InputArray a)
{
    Mat m = a.getMat();
    return m.isContinuous() ? m : m.clone();
}

}  // namespace

bool getCorrelationSettings(const dnn::Layer& layer, CorrelationSettings& settings)
{
    const CorrelationLayer* l = dynamic_cast<const CorrelationLayer*>(&layer);
    if (l)
        settings = l->settings();
    return l != nullptr;
}

bool getSoftArgmaxSettings(const dnn::Layer& layer, SoftArgmaxSettings& settings)
{
    const KernelSoftArgmaxLayer* l = dynamic_cast<const KernelSoftArgmaxLayer*>(&layer);
    if (l)
        settings = l->settings();
    return l != nullptr;
}

static Ptr<dnn::Layer> createConstantClip(dnn::LayerParams& params)
{
    if (!params.has("min") || !params.has("max"))
        CV_Error(Error::StsBadArg, "semflow ConstantClip '" + params.name +
                                       "': needs both float attributes, 'min' and 'max'");
    const float lo = params.get<float>("min"), hi = params.get<float>("max");
    if (!(lo <= hi))  // also false for a NaN bound
        CV_Error(Error::StsOutOfRange,
                 cv::format("semflow ConstantClip '%s': needs min <= max, got min = %g, max = %g",
                            params.name.c_str(), lo, hi));
    // OpenCV's own clamp layer, which a convolution before it fuses on every backend.
    dnn::LayerParams p;
    p.name = params.name;
    p.type = "ReLU6";
    p.set("min_value", lo);
    p.set("max_value", hi);
    return dnn::ReLU6Layer::create(p);
}

#if CV_VERSION_MAJOR > 5 || (CV_VERSION_MAJOR == 5 && CV_VERSION_MINOR >= 1)
// OpenCV 5.1's ONNX importer (the new engine, its only one) looks an operator of a custom domain
// up by its bare op_type: "Correlation", not "org.opencv.semflow.Correlation" as 4.x and 5.0 do
// (its own comment says it prefixes the domain; the code does not). "Correlation" is also
// OpenCV's own FlowNet correlation from Caffe, which cannot be built without kernel_size; a node
// that carries one is OpenCV's, any other is semflow's, which has no such attribute.
static Ptr<dnn::Layer> createCorrelationByAttributes(dnn::LayerParams& params)
{
    if (params.has("kernel_size"))
        return dnn::CorrelationLayer::create(params);
    return CorrelationLayer::create(params);
}
#endif

void registerLayers()
{
    static std::once_flag once;
    std::call_once(once, [] {
        dnn::LayerFactory::registerLayer(kCorrelationType, CorrelationLayer::create);
        dnn::LayerFactory::registerLayer(kSoftArgmaxType, KernelSoftArgmaxLayer::create);
        dnn::LayerFactory::registerLayer(kConstantClipType, createConstantClip);
#if CV_VERSION_MAJOR > 5 || (CV_VERSION_MAJOR == 5 && CV_VERSION_MINOR >= 1)
        dnn::LayerFactory::registerLayer("Correlation", createCorrelationByAttributes);
        dnn::LayerFactory::registerLayer("KernelSoftArgmax", KernelSoftArgmaxLayer::create);
        dnn::LayerFactory::registerLayer("ConstantClip", createConstantClip);
#endif
    });
}

void correlation(InputArray source, InputArray target, OutputArray corr, bool normalize, bool relu)
try
{
    Mat s = continuousBlob(source), t = continuousBlob(target);
    checkNonEmpty(s, "correlation", "source features");
    checkNonEmpty(t, "correlation", "target features");
    dnn::MatShape out = correlationShape(blobShape(s), blobShape(t));
    corr.create((int)out.size(), out.data(), CV_32F);
    Mat o = corr.getMat();
    // correlation(a, b, a) with C == Ht*Wt keeps a's buffer as the output.
    if (overlaps(o, s) || overlaps(o, t) || !o.isContinuous())
    {
        Mat tmp((int)out.size(), out.data(), CV_32F);
        detail::correlationForward(s, t, tmp, normalize, relu);
        tmp.copyTo(o);
        return;
    }
    detail::correlationForward(s, t, o, normalize, relu);
}
SEMFLOW_CATCH_STD("semflow::correlation", std::string())

void kernelSoftArgmax(InputArray corr, Size targetSize, OutputArray grid, float beta, float sigma,
                      bool normalize)
try
{
    Mat c = continuousBlob(corr);
    checkNonEmpty(c, "kernelSoftArgmax", "correlation");
    checkSoftArgmaxParams(beta, sigma, "kernelSoftArgmax");
    if (targetSize.width <= 0 || targetSize.height <= 0)
        CV_Error(Error::StsBadSize,
                 cv::format("semflow kernelSoftArgmax: target grid size must be positive, got %dx%d",
                            targetSize.width, targetSize.height));
    dnn::MatShape carrier{targetSize.height, targetSize.width};
    softArgmaxTargetGrid(blobShape(c), &carrier);
    int out[] = {c.size[0], 2, c.size[2], c.size[3]};
    grid.create(4, out, CV_32F);
    Mat g = grid.getMat();
    if (overlaps(g, c) || !g.isContinuous())  // e.g. kernelSoftArgmax(c, size, c), 2-cell grid
    {
        Mat tmp(4, out, CV_32F);
        detail::kernelSoftArgmaxForward(c, targetSize.height, targetSize.width, tmp, beta, sigma,
                                        normalize);
        tmp.copyTo(g);
        return;
    }
    detail::kernelSoftArgmaxForward(c, targetSize.height, targetSize.width, g, beta, sigma,
                                    normalize);
}
SEMFLOW_CATCH_STD("semflow::kernelSoftArgmax", std::string())

}  // namespace semflow
}  // namespace cv
