// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// Published weights -> SFNet modules: the key matching shared by every backbone (whose
// ImportRules say which keys to skip) and the SFNet authors' adaptation-layer checkpoint.
// The files are parsed by pth_reader (LibTorch cannot read OrderedDict state dicts nor the
// legacy format).

#include "import.hpp"

#include <map>
#include <stdexcept>
#include <string>

namespace sfnet
{
namespace
{
std::string shapeOf(const torch::Tensor& t)
{
    return shapeToString(t.sizes().vec());
}

// Lists at most a few items of a long list, so errors stay readable.
std::string listSome(const std::vector<std::string>& items, size_t most = 12)
{
    std::string s;
    for (size_t i = 0; i < items.size() && i < most; ++i)
        s += "\n  " + items[i];
    if (items.size() > most)
        s += "\n  ... and " + std::to_string(items.size() - most) + " more";
    return s;
}

// What loading one module will do; built (and validated) before anything is written, so a
// failed import leaves the model untouched.
struct LoadPlan
{
    ImportReport report;
    std::vector<std::pair<torch::Tensor, const NamedArray*>> copies;
    std::vector<torch::Tensor> zeroed;
};

void apply(LoadPlan& plan)
{
    torch::NoGradGuard noGrad;
    for (auto& c : plan.copies)
        c.first.copy_(toTensor(*c.second));
    for (auto& z : plan.zeroed)
        z.zero_();
}

// Matches `entries` (file key -> array) against every parameter and buffer of `module`.
LoadPlan planModule(torch::nn::Module& module, std::map<std::string, const NamedArray*> entries,
                    const std::string& source, const std::string& what)
{
    LoadPlan plan;
    ImportReport& report = plan.report;
    auto& copies = plan.copies;
    auto& zeroed = plan.zeroed;
    // DataParallel checkpoints prefix every key with "module.".
    bool allPrefixed = !entries.empty();
    for (const auto& e : entries)
        allPrefixed = allPrefixed && e.first.rfind("module.", 0) == 0;
    if (allPrefixed)
    {
        std::map<std::string, const NamedArray*> stripped;
        for (const auto& e : entries)
            stripped[e.first.substr(7)] = e.second;
        entries.swap(stripped);
        report.notes.push_back("stripped the 'module.' prefix (nn.DataParallel) from the keys of " + what);
    }

    std::vector<std::pair<std::string, torch::Tensor>> targets;
    for (const auto& p : module.named_parameters(true))
        targets.emplace_back(p.key(), p.value());
    for (const auto& b : module.named_buffers(true))
        targets.emplace_back(b.key(), b.value());

    std::vector<std::string> missing, mismatched, unexpected;
    size_t found = 0;
    for (const auto& t : targets)
    {
        auto it = entries.find(t.first);
        if (it == entries.end())
        {
            // BatchNorm's counter appeared in PyTorch 0.4.1; load_state_dict fills it with 0.
            const std::string tail = ".num_batches_tracked";
            if (t.first.size() > tail.size() &&
                t.first.compare(t.first.size() - tail.size(), tail.size(), tail) == 0)
                zeroed.push_back(t.second);
            else
                missing.push_back(t.first + " " + shapeOf(t.second));
            continue;
        }
        ++found;
        const NamedArray& a = *it->second;
        const bool wantFloat = t.second.is_floating_point();
        if (a.shape != t.second.sizes().vec())
            mismatched.push_back(t.first + ": the file has " + shapeToString(a.shape) + ", the model needs " +
                                 shapeOf(t.second));
        else if (wantFloat != isFloatingPoint(a.dtype))
            mismatched.push_back(t.first + ": the file has " + pthDTypeName(a.dtype) + " values, the model needs " +
                                 (wantFloat ? "floating-point" : "integer") + " ones");
        else
            copies.emplace_back(t.second, &a);
        entries.erase(it);
    }
    for (const auto& e : entries)
        unexpected.push_back(e.first + " " + shapeToString(e.second->shape));

    std::string err;
    if (found == 0 && !targets.empty())
    {
        std::vector<std::string> have;
        for (const auto& e : entries)
            have.push_back(e.first);
        err += "\nnone of the keys of " + what + " are in the file (expected keys like '" +
               targets.front().first + "'); the file has:" + listSome(have, 6);
    }
    else
    {
        if (!missing.empty())
            err += "\nmissing keys (model shape):" + listSome(missing);
        if (!mismatched.empty())
            err += "\nkeys with the wrong shape or type:" + listSome(mismatched);
        if (!unexpected.empty())
            err += "\nunexpected keys, not in " + what + " (file shape):" + listSome(unexpected);
    }
    if (!err.empty())
        throw std::runtime_error(source + ": does not match " + what + ":" + err);

    report.loaded = copies.size();
    if (!zeroed.empty())
        report.notes.push_back(std::to_string(zeroed.size()) + " num_batches_tracked buffers of " + what +
                               " are not in the file (saved before PyTorch 0.4.1): set to 0");
    return plan;
}

}  // namespace

torch::Tensor toTensor(const NamedArray& a)
{
    if (isFloatingPoint(a.dtype))
        return torch::from_blob(const_cast<float*>(a.f32.data()), a.shape, torch::kFloat32).clone();
    return torch::from_blob(const_cast<int64_t*>(a.i64.data()), a.shape, torch::kInt64).clone();
}

ImportReport importBackboneWeights(SFNet& model, const PthContents& weights, const std::string& source)
{
    const ImportRules rules = model->backbone().importRules();
    std::map<std::string, const NamedArray*> entries;
    std::vector<std::string> ignored;
    for (const NamedArray& a : weights.tensors)
    {
        bool skip = false;
        for (const std::string& u : rules.unusedPrefixes)
            skip = skip || a.name.rfind(u, 0) == 0 || a.name.rfind("module." + u, 0) == 0;
        if (skip)
            ignored.push_back(a.name);
        else
            entries[a.name] = &a;
    }
    LoadPlan plan = planModule(model->backbone(), entries, source,
                               "the " + model->config().backbone + " backbone (" + rules.layout + ")");
    apply(plan);
    ImportReport r = plan.report;
    if (!ignored.empty())
    {
        std::string names;
        for (const std::string& n : ignored)
            names += (names.empty() ? "" : ", ") + n;
        r.notes.push_back("ignored " + names + " (" + rules.unusedWhat + "; SFNet does not use it)");
    }
    return r;
}

ImportReport importAuthorsAdaptation(SFNet& model, const PthContents& weights, const std::string& source)
{
    std::map<std::string, const NamedArray*> level3, level4;
    std::vector<std::string> ignored;
    std::map<std::string, int> topLevel;
    for (const NamedArray& a : weights.tensors)
    {
        if (a.name.rfind("state_dict1.", 0) == 0)
            level3[a.name.substr(12)] = &a;
        else if (a.name.rfind("state_dict2.", 0) == 0)
            level4[a.name.substr(12)] = &a;
        else
            ignored.push_back(a.name);
        topLevel[a.name.substr(0, a.name.find('.'))]++;
    }
    for (const auto& o : weights.others)
        topLevel[o.first.substr(0, o.first.find('.'))]++;
    if (level3.empty() || level4.empty())
    {
        std::string have;
        for (const auto& k : topLevel)
            have += (have.empty() ? "'" : ", '") + k.first + "'";
        throw std::runtime_error(source + ": not the SFNet authors' checkpoint: expected a dict with tensors "
                                 "under 'state_dict1' (level-3 adaptation) and 'state_dict2' (level 4); "
                                 "the file's top-level keys are " +
                                 (have.empty() ? std::string("(none)") : have) +
                                 (level3.empty() && level4.empty() && topLevel.count("conv1")
                                      ? " -- this looks like a torchvision state dict: pass it with --resnet"
                                      : ""));
    }
    // Both levels are validated before either is written.
    LoadPlan p3 = planModule(*model->adaptation3(), level3, source, "adap_layer_feat3 (from 'state_dict1')");
    LoadPlan p4 = planModule(*model->adaptation4(), level4, source, "adap_layer_feat4 (from 'state_dict2')");
    apply(p3);
    apply(p4);
    const ImportReport& r3 = p3.report;
    const ImportReport& r4 = p4.report;
    ImportReport r;
    r.loaded = r3.loaded + r4.loaded;
    r.notes = r3.notes;
    r.notes.insert(r.notes.end(), r4.notes.begin(), r4.notes.end());
    if (!ignored.empty())
        r.notes.push_back("ignored " + std::to_string(ignored.size()) +
                          " other tensors of the checkpoint (e.g. '" + ignored.front() + "')");
    for (const auto& o : weights.others)
        r.notes.push_back("ignored " + o.first + " = " + o.second);
    return r;
}

}  // namespace sfnet
