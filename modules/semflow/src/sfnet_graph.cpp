// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "sfnet_graph.hpp"

#include <vector>

namespace cv {
namespace semflow {

namespace {

[[noreturn]] void fail(const String& path, const String& what)
{
    CV_Error(Error::StsBadArg, format("SemanticFlow: in '%s', %s (doc/onnx_ops.md, \"The SFNet inference "
                                      "graph\")", path.c_str(), what.c_str()));
}

int layerId(const dnn::Net& net, const Ptr<dnn::Layer>& layer)
{
    return net.getLayerId(layer->name);
}

// The KernelSoftArgmax layer that produces graph output `output`: the layer of that name
// itself, or the one behind the Identity layers some importers put on graph outputs.
int softArgmaxBehind(const dnn::Net& net, const String& output, const String& path)
{
    int id = net.getLayerId(output);
    CV_Assert(id >= 0);  // checked by the caller
    for (int hops = 0; hops < 8; hops++)
    {
        const Ptr<dnn::Layer> l = net.getLayer(id);
        if (l->type == kSoftArgmaxType)
            return id;
        const std::vector<Ptr<dnn::Layer>> in = net.getLayerInputs(id);
        if (l->type != "Identity" || in.size() != 1)
            fail(path, format("graph output '%s' is made by a '%s' layer, not by a %s node",
                              output.c_str(), l->type.c_str(), kSoftArgmaxType));
        id = layerId(net, in[0]);
    }
    fail(path, format("graph output '%s' is not made by a %s node", output.c_str(), kSoftArgmaxType));
}

}  // namespace

SfnetGraphSettings readSfnetGraphSettings(const dnn::Net& net, const String& path)
{
    SfnetGraphSettings result;
    std::vector<CorrelationSettings> correlations;
    const char* const grids[] = {"grid_s2t", "grid_t2s"};
    for (int g = 0; g < 2; g++)
    {
        const int ksa = softArgmaxBehind(net, grids[g], path);
        SoftArgmaxSettings s;
        if (!getSoftArgmaxSettings(*net.getLayer(ksa), s))
            fail(path, format("the %s layer behind '%s' is not semflow's (was another layer registered "
                              "under that name?)", kSoftArgmaxType, grids[g]));
        if (g == 0)
            result.softArgmax = s;
        else if (s.beta != result.softArgmax.beta || s.sigma != result.softArgmax.sigma ||
                 s.normalize != result.softArgmax.normalize)
            fail(path, format("the KernelSoftArgmax nodes of grid_s2t and grid_t2s differ (beta %g / %g, "
                              "sigma %g / %g, normalize %d / %d); cv::SemanticFlow needs one setting for "
                              "both directions", result.softArgmax.beta, s.beta, result.softArgmax.sigma,
                              s.sigma, (int)result.softArgmax.normalize, (int)s.normalize));

        // Its first input: the product of the two levels' correlations.
        const std::vector<Ptr<dnn::Layer>> in = net.getLayerInputs(ksa);
        const std::vector<Ptr<dnn::Layer>> levels =
            in.empty() ? std::vector<Ptr<dnn::Layer>>() : net.getLayerInputs(layerId(net, in[0]));
        if (levels.size() != 2 || levels[0]->type != kCorrelationType || levels[1]->type != kCorrelationType)
            fail(path, format("the KernelSoftArgmax node of '%s' does not take the product of two %s "
                              "nodes", grids[g], kCorrelationType));
        for (const Ptr<dnn::Layer>& l : levels)
        {
            CorrelationSettings c;
            if (!getCorrelationSettings(*l, c))
                fail(path, format("the %s layer '%s' is not semflow's", kCorrelationType, l->name.c_str()));
            correlations.push_back(c);
        }
    }
    result.correlation = correlations[0];
    for (const CorrelationSettings& c : correlations)
        if (c.normalize != result.correlation.normalize || c.relu != result.correlation.relu)
            fail(path, "the Correlation nodes differ in 'normalize' or 'relu'; cv::SemanticFlow needs one "
                       "setting for both levels and directions");
    return result;
}

bool hasConvolutionBatchNorm(const dnn::Net& net)
{
    for (const String& name : net.getLayerNames())
    {
        const int id = net.getLayerId(name);
        if (net.getLayer(id)->type != "BatchNorm")
            continue;
        const std::vector<Ptr<dnn::Layer>> in = net.getLayerInputs(id);
        if (in.size() == 1 && in[0]->type == "Convolution")
            return true;
    }
    return false;
}

}  // namespace semflow
}  // namespace cv
