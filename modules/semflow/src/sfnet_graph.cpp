// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "precomp.hpp"

#include "sfnet_graph.hpp"

#include <map>
#include <vector>

namespace cv {
namespace semflow {

namespace {

[[noreturn]] void fail(const String& path, const String& what)
{
    CV_Error(Error::StsBadArg, format("SemanticFlow: in '%s', %s (doc/onnx_ops.md, \"The SFNet inference "
                                      "graph\")", path.c_str(), what.c_str()));
}

// The imported graph as nodes and edges, the same for both of OpenCV's engines: the classic
// one (4.x, and 5.0's ENGINE_CLASSIC) names a layer after its first output and lists the
// layers that feed it; the new one (5.x) keeps a program of operations over named tensors.
struct GraphView
{
    struct Node
    {
        Ptr<dnn::Layer> layer;
        std::vector<int> inputs;  // producing nodes, in input order (graph inputs and constants left out)
    };
    std::vector<Node> nodes;
    std::map<String, int> producer;  // tensor (classic: layer) name -> node

    explicit GraphView(const dnn::Net& net)
    {
#if CV_VERSION_MAJOR >= 5
        if (newEngine(net))
        {
            const Ptr<dnn::Graph> g = net.getMainGraph();
            std::map<int, int> madeBy;  // argument index -> node
            for (const auto& op : g->prog())
            {
                Node n;
                n.layer = op.template dynamicCast<dnn::Layer>();
                if (!n.layer)  // 5.1's program holds LayerInfo; its importer makes Layers
                    CV_Error(Error::StsInternal,
                             "SemanticFlow: the imported graph has an operation that is not a cv::dnn::Layer");
                for (const dnn::Arg& a : op->inputs)
                {
                    const auto it = madeBy.find(a.idx);
                    if (it != madeBy.end())
                        n.inputs.push_back(it->second);
                }
                for (const dnn::Arg& a : op->outputs)
                {
                    madeBy[a.idx] = (int)nodes.size();
                    producer[net.argName(a)] = (int)nodes.size();
                }
                nodes.push_back(n);
            }
            return;
        }
#endif
        std::map<int, int> nodeOf;  // layer id -> node
        for (const String& name : net.getLayerNames())
        {
            const int id = net.getLayerId(name);
            Node n;
            n.layer = net.getLayer(id);
            for (const Ptr<dnn::Layer>& in : net.getLayerInputs(id))
            {
                const auto it = nodeOf.find(net.getLayerId(in->name));
                if (it != nodeOf.end())
                    n.inputs.push_back(it->second);
            }
            nodeOf[id] = (int)nodes.size();
            producer[name] = (int)nodes.size();
            nodes.push_back(n);
        }
    }

    const String& type(int node) const { return nodes[(size_t)node].layer->type; }
};

// The KernelSoftArgmax node that produces graph output `output`: the node that makes it, or
// the one behind the Identity nodes some importers put on graph outputs.
int softArgmaxBehind(const GraphView& g, const String& output, const String& path)
{
    const auto it = g.producer.find(output);
    if (it == g.producer.end())
        fail(path, format("no node makes graph output '%s'", output.c_str()));
    int id = it->second;
    for (int hops = 0; hops < 8; hops++)
    {
        if (g.type(id) == kSoftArgmaxType)
            return id;
        const std::vector<int>& in = g.nodes[(size_t)id].inputs;
        if (g.type(id) != "Identity" || in.size() != 1)
            fail(path, format("graph output '%s' is made by a '%s' layer, not by a %s node",
                              output.c_str(), g.type(id).c_str(), kSoftArgmaxType));
        id = in[0];
    }
    fail(path, format("graph output '%s' is not made by a %s node", output.c_str(), kSoftArgmaxType));
}

}  // namespace

SfnetGraphSettings readSfnetGraphSettings(const dnn::Net& net, const String& path)
{
    const GraphView g(net);
    SfnetGraphSettings result;
    std::vector<CorrelationSettings> correlations;
    const char* const grids[] = {"grid_s2t", "grid_t2s"};
    for (int k = 0; k < 2; k++)
    {
        const int ksa = softArgmaxBehind(g, grids[k], path);
        SoftArgmaxSettings s;
        if (!getSoftArgmaxSettings(*g.nodes[(size_t)ksa].layer, s))
            fail(path, format("the %s layer behind '%s' is not semflow's (was another layer registered "
                              "under that name?)", kSoftArgmaxType, grids[k]));
        if (k == 0)
            result.softArgmax = s;
        else if (s.beta != result.softArgmax.beta || s.sigma != result.softArgmax.sigma ||
                 s.normalize != result.softArgmax.normalize)
            fail(path, format("the KernelSoftArgmax nodes of grid_s2t and grid_t2s differ (beta %g / %g, "
                              "sigma %g / %g, normalize %d / %d); cv::SemanticFlow needs one setting for "
                              "both directions", result.softArgmax.beta, s.beta, result.softArgmax.sigma,
                              s.sigma, (int)result.softArgmax.normalize, (int)s.normalize));

        // Its first input: the product of the two levels' correlations.
        const std::vector<int>& in = g.nodes[(size_t)ksa].inputs;
        const std::vector<int> levels = in.empty() ? std::vector<int>() : g.nodes[(size_t)in[0]].inputs;
        if (levels.size() != 2 || g.type(levels[0]) != kCorrelationType || g.type(levels[1]) != kCorrelationType)
            fail(path, format("the KernelSoftArgmax node of '%s' does not take the product of two %s "
                              "nodes", grids[k], kCorrelationType));
        for (int l : levels)
        {
            CorrelationSettings c;
            if (!getCorrelationSettings(*g.nodes[(size_t)l].layer, c))
                fail(path, format("the %s layer '%s' is not semflow's", kCorrelationType,
                                  g.nodes[(size_t)l].layer->name.c_str()));
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

bool newEngine(const dnn::Net& net)
{
#if CV_VERSION_MAJOR >= 5
    return !net.getMainGraph().empty();
#else
    CV_UNUSED(net);
    return false;
#endif
}

bool hasConvolutionBatchNorm(const dnn::Net& net)
{
    const GraphView g(net);
    for (const GraphView::Node& n : g.nodes)
        if (n.layer->type == "BatchNorm" && n.inputs.size() == 1 && g.type(n.inputs[0]) == "Convolution")
            return true;
    return false;
}

}  // namespace semflow
}  // namespace cv
