// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The backbone registry. Each file under backbones/ defines one function that appends its
// variants; the list below names them, one line per file. The list is explicit rather than
// self-registering through static objects: the trainer is a static library, and the linker
// drops an object file that nothing references, registration and all.

#include "backbone.hpp"

#include <algorithm>
#include <stdexcept>

// One line per backbone file.
#define SEMFLOW_BACKBONE_FILES(X)                                                                             \
    X(addResNetBackbones)           /* backbones/resnet.cpp: resnet101, resnet50, resnet18, tiny */          \
    X(addEfficientNetLiteBackbones) /* backbones/efficientnet_lite.cpp: efficientnet_lite0, 1, 2 */

namespace sfnet
{
#define SEMFLOW_DECLARE_BACKBONE_FILE(fn) void fn(std::vector<BackboneInfo>& registry);
SEMFLOW_BACKBONE_FILES(SEMFLOW_DECLARE_BACKBONE_FILE)
#undef SEMFLOW_DECLARE_BACKBONE_FILE

namespace
{
std::vector<BackboneInfo>& mutableRegistry()
{
    static std::vector<BackboneInfo> registry = [] {
        std::vector<BackboneInfo> r;
#define SEMFLOW_CALL_BACKBONE_FILE(fn) fn(r);
        SEMFLOW_BACKBONE_FILES(SEMFLOW_CALL_BACKBONE_FILE)
#undef SEMFLOW_CALL_BACKBONE_FILE
        return r;
    }();
    return registry;
}
}  // namespace

const std::vector<BackboneInfo>& backboneRegistry()
{
    return mutableRegistry();
}

std::vector<std::string> knownBackbones()
{
    std::vector<std::string> names;
    for (const BackboneInfo& b : backboneRegistry())
        names.push_back(b.name);
    return names;
}

std::string backboneNamesForHelp()
{
    const std::vector<std::string> names = knownBackbones();
    std::string s;
    for (size_t i = 0; i < names.size(); ++i)
        s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    return s;
}

std::shared_ptr<Backbone> makeBackbone(const std::string& name)
{
    for (const BackboneInfo& b : backboneRegistry())
        if (b.name == name)
            return b.create();
    std::string known;
    for (const std::string& k : knownBackbones())
        known += (known.empty() ? "" : ", ") + k;
    throw std::runtime_error("unknown backbone '" + name + "' (expected one of: " + known + ")");
}

void registerBackbone(BackboneInfo info)
{
    if (info.name.empty() || !info.create)
        throw std::runtime_error("registerBackbone needs a name and a create function");
    std::vector<BackboneInfo>& r = mutableRegistry();
    if (std::any_of(r.begin(), r.end(), [&](const BackboneInfo& b) { return b.name == info.name; }))
        throw std::runtime_error("a backbone named '" + info.name + "' is already registered");
    r.push_back(std::move(info));
}

std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t k, int64_t s)
{
    const int64_t out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
    return {total / 2, total - total / 2};
}

}  // namespace sfnet
