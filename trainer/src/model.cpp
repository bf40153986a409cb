// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

#include "model.hpp"

#include <algorithm>
#include <cmath>
#include "atomic_file.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace sfnet
{
namespace
{
const double kEps = 1e-6;

// First line of a c10::Error message (the rest is a C++ backtrace nobody can act on).
std::string firstLine(const std::string& s)
{
    return s.substr(0, s.find('\n'));
}

std::string shapeString(at::IntArrayRef sizes)
{
    std::ostringstream os;
    os << sizes;
    return os.str();
}
}  // namespace

// ---------------------------------------------------------------------------------------
// SFNet

SFNetImpl::SFNetImpl(const ModelConfig& cfg) : cfg_(cfg)
{
    backbone_ = register_module("backbone", makeBackbone(cfg.backbone));
    adap3_ = register_module("adap_layer_feat3", AdaptationLayer(backbone_->channels3(), 5));
    adap4_ = register_module("adap_layer_feat4", AdaptationLayer(backbone_->channels4(), 3));
    setBackboneTrainable(false);
    train(true);
}

void SFNetImpl::setConfig(const ModelConfig& cfg)
{
    if (cfg.backbone != cfg_.backbone)
        throw std::runtime_error("cannot change the backbone of a model from '" + cfg_.backbone +
                                 "' to '" + cfg.backbone + "'");
    cfg_ = cfg;
}

void SFNetImpl::setBackboneTrainable(bool trainable)
{
    backboneTrainable_ = trainable;
    for (auto& p : backbone_->parameters())
        p.set_requires_grad(trainable);
}

void SFNetImpl::train(bool on)
{
    torch::nn::Module::train(on);
    // SFNet keeps the backbone's BatchNorm statistics fixed, even when fine-tuning it.
    if (backbone_)
        backbone_->eval();
}

std::pair<torch::Tensor, torch::Tensor> SFNetImpl::backboneFeatures(const torch::Tensor& normalized)
{
    return backbone_->forward(normalized);
}

std::vector<torch::Tensor> SFNetImpl::adaptationParameters()
{
    std::vector<torch::Tensor> p = adap3_->parameters();
    for (auto& t : adap4_->parameters())
        p.push_back(t);
    return p;
}

std::vector<torch::Tensor> SFNetImpl::backboneParameters()
{
    return backbone_->parameters();
}

std::pair<torch::Tensor, torch::Tensor> SFNetImpl::features(const torch::Tensor& images)
{
    if (images.dim() != 4 || images.size(1) != 3)
        throw std::runtime_error("SFNet expects images as [B,3,H,W] RGB, got " +
                                 shapeString(images.sizes()));
    if (images.size(2) % 32 != 0 || images.size(3) % 32 != 0 || images.size(2) == 0 ||
        images.size(3) == 0)
        throw std::runtime_error("SFNet expects image sides that are positive multiples of 32, got " +
                                 std::to_string(images.size(2)) + "x" +
                                 std::to_string(images.size(3)) + " (HxW)");
    auto opts = images.options();
    const InputNormalization norm = backbone_->inputNormalization();
    const torch::Tensor mean = torch::tensor(norm.mean, opts).view({1, 3, 1, 1});
    const torch::Tensor stdev = torch::tensor(norm.stdev, opts).view({1, 3, 1, 1});
    auto feats = backboneFeatures((images - mean) / stdev);
    torch::Tensor f3 = adap3_->forward(feats.first);
    torch::Tensor f4 = adap4_->forward(feats.second);
    f4 = torch::nn::functional::interpolate(
        f4, torch::nn::functional::InterpolateFuncOptions()
                .size(std::vector<int64_t>{f4.size(2) * 2, f4.size(3) * 2})
                .mode(torch::kBilinear)
                .align_corners(true));
    return {f3, f4};
}

SFNetImpl::Output SFNetImpl::forward(const torch::Tensor& source, const torch::Tensor& target,
                                     bool hardArgmax)
{
    if (!source.sizes().equals(target.sizes()))
        throw std::runtime_error("SFNet expects source and target of the same shape, got " +
                                 shapeString(source.sizes()) + " and " +
                                 shapeString(target.sizes()));
    const int64_t n = source.size(0);
    auto feats = features(torch::cat({source, target}, 0));
    const torch::Tensor f3s = feats.first.narrow(0, 0, n), f3t = feats.first.narrow(0, n, n);
    const torch::Tensor f4s = feats.second.narrow(0, 0, n), f4t = feats.second.narrow(0, n, n);
    const int64_t h = f3s.size(2), w = f3s.size(3);

    Output out;
    out.corrS2T = correlation(f3s, f3t) * correlation(f4s, f4t);
    // Cosine correlation is symmetric in its arguments: target-to-source is the transpose.
    out.corrT2S =
        out.corrS2T.reshape({n, h * w, h * w}).transpose(1, 2).reshape({n, h * w, h, w});
    const double beta = hardArgmax ? 0.0 : cfg_.beta;
    out.gridS2T = kernelSoftArgmax(out.corrS2T, h, w, beta, cfg_.sigma, true);
    out.gridT2S = kernelSoftArgmax(out.corrT2S, h, w, beta, cfg_.sigma, true);
    return out;
}

// ---------------------------------------------------------------------------------------
// Operators (modules/semflow/doc/onnx_ops.md)

torch::Tensor correlation(const torch::Tensor& fs, const torch::Tensor& ft, bool normalize,
                          bool relu)
{
    if (fs.dim() != 4 || ft.dim() != 4 || fs.size(0) != ft.size(0) || fs.size(1) != ft.size(1))
        throw std::runtime_error("correlation expects [N,C,Hs,Ws] and [N,C,Ht,Wt] with equal N "
                                 "and C, got " +
                                 shapeString(fs.sizes()) + " and " + shapeString(ft.sizes()));
    const int64_t n = fs.size(0), c = fs.size(1);
    torch::Tensor a = fs, b = ft;
    if (normalize)
    {
        // Normalising the features (small) is cheaper than scaling the volume (large).
        a = fs / torch::sqrt(fs.pow(2).sum(1, true) + kEps);
        b = ft / torch::sqrt(ft.pow(2).sum(1, true) + kEps);
    }
    torch::Tensor corr = torch::bmm(b.reshape({n, c, -1}).transpose(1, 2), a.reshape({n, c, -1}));
    if (relu)
        corr = torch::relu(corr);
    return corr.view({n, -1, fs.size(2), fs.size(3)});
}

namespace
{
// -1 + 2x/(len-1) for x = 0..len-1; 0 when len == 1 (align_corners=True).
torch::Tensor normalisedCoords(int64_t len, const torch::TensorOptions& opts)
{
    if (len == 1)
        return torch::zeros({1}, opts);
    return torch::arange(len, opts) * (2.0 / double(len - 1)) - 1.0;
}
}  // namespace

torch::Tensor identityGrid(int64_t h, int64_t w, const torch::TensorOptions& options)
{
    torch::TensorOptions opts = options.dtype(torch::kFloat);
    torch::Tensor x = normalisedCoords(w, opts).view({1, w}).expand({h, w});
    torch::Tensor y = normalisedCoords(h, opts).view({h, 1}).expand({h, w});
    return torch::stack({x, y}, 0).unsqueeze(0);
}

torch::Tensor kernelSoftArgmax(const torch::Tensor& corr, int64_t ht, int64_t wt, double beta,
                               double sigma, bool normalize)
{
    if (corr.dim() != 4 || ht <= 0 || wt <= 0 || corr.size(1) != ht * wt)
        throw std::runtime_error("kernelSoftArgmax expects a correlation volume [N,Ht*Wt,Hs,Ws] "
                                 "with Ht*Wt = " +
                                 std::to_string(ht) + "*" + std::to_string(wt) + ", got " +
                                 shapeString(corr.sizes()));
    const int64_t n = corr.size(0), hs = corr.size(2), ws = corr.size(3);
    const auto opts = corr.options();
    torch::Tensor c = corr;
    if (normalize)
        c = c / torch::sqrt(c.pow(2).sum(1, true) + kEps);

    const torch::Tensor xn = normalisedCoords(wt, opts), yn = normalisedCoords(ht, opts);
    // argmax returns the first maximal index, as the spec's tie rule requires.
    const torch::Tensor best = c.argmax(1);  // [N,Hs,Ws]
    const torch::Tensor bx = best.remainder(wt), by = best.div(wt, "floor");
    if (beta <= 0)
        return torch::stack({xn.index({bx}), yn.index({by})}, 1);

    torch::Tensor logits;
    if (sigma > 0)
    {
        // Separable window: [N,Wt,Hs,Ws] + [N,Ht,Hs,Ws] exponentials, then one volume for the
        // window (beta folded into the small factor) and one for the logits.
        const double inv = -1.0 / (2.0 * sigma * sigma);
        auto window1d = [&](int64_t len, const torch::Tensor& centre) {
            return torch::exp(
                (torch::arange(len, opts).view({1, len, 1, 1}) - centre.unsqueeze(1).to(opts.dtype())).pow(2) *
                inv);
        };
        const torch::Tensor gx = window1d(wt, bx) * beta, gy = window1d(ht, by);
        logits = c * (gy.unsqueeze(2) * gx.unsqueeze(1)).view({n, ht * wt, hs, ws});
    }
    else
    {
        logits = c * beta;
    }
    const torch::Tensor m = torch::softmax(logits, 1).view({n, ht, wt, hs, ws});
    const torch::Tensor gridX = (m.sum(1) * xn.view({1, wt, 1, 1})).sum(1);
    const torch::Tensor gridY = (m.sum(2) * yn.view({1, ht, 1, 1})).sum(1);
    return torch::stack({gridX, gridY}, 1);
}

// ---------------------------------------------------------------------------------------
// Checkpoints

namespace
{
// Keys of the config inside a checkpoint (underscores: TorchScript attribute names).
const char* const kFormatKey = "semflow_format";
const int64_t kFormatVersion = 1;

ModelConfig readConfig(torch::serialize::InputArchive& ar, const std::string& path)
{
    c10::IValue v;
    if (!ar.try_read(kFormatKey, v) || !v.isInt())
        throw std::runtime_error("'" + path +
                                 "' is not a semflow checkpoint (no semflow_format key); "
                                 "use `sfnet import` to convert torchvision/SFNet weights");
    if (v.toInt() != kFormatVersion)
        throw std::runtime_error("'" + path + "' has checkpoint format " +
                                 std::to_string(v.toInt()) + ", this build reads format " +
                                 std::to_string(kFormatVersion));
    ModelConfig cfg;
    auto need = [&](const char* key) {
        c10::IValue x;
        if (!ar.try_read(key, x))
            throw std::runtime_error("checkpoint '" + path + "' lacks the key '" + key + "'");
        return x;
    };
    try
    {
        cfg.backbone = need("semflow_backbone").toStringRef();
        cfg.beta = need("semflow_beta").toDouble();
        cfg.sigma = need("semflow_sigma").toDouble();
        cfg.trainHeight = need("semflow_train_height").toInt();
        cfg.trainWidth = need("semflow_train_width").toInt();
    }
    catch (const c10::Error& e)
    {
        throw std::runtime_error("checkpoint '" + path + "' has a malformed config: " + firstLine(e.what()));
    }
    return cfg;
}

void openArchive(torch::serialize::InputArchive& ar, const std::string& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw std::runtime_error("checkpoint '" + path + "' is a directory, expected a file");
    std::ifstream probe(path, std::ios::binary);
    if (!probe)
        throw std::runtime_error("cannot open checkpoint '" + path + "' (missing or unreadable)");
    probe.close();
    try
    {
        ar.load_from(path, torch::kCPU);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("cannot read checkpoint '" + path +
                                 "': truncated, corrupt or not a LibTorch archive (" +
                                 firstLine(e.what()) + ")");
    }
}
}  // namespace

void saveModel(SFNet& model, const std::string& path, const ArchiveWriter& extra)
{
    const ModelConfig& cfg = model->config();
    torch::serialize::OutputArchive ar;
    try
    {
        ar.write(kFormatKey, c10::IValue(kFormatVersion));
        ar.write("semflow_backbone", c10::IValue(cfg.backbone));
        ar.write("semflow_beta", c10::IValue(cfg.beta));
        ar.write("semflow_sigma", c10::IValue(cfg.sigma));
        ar.write("semflow_train_height", c10::IValue(cfg.trainHeight));
        ar.write("semflow_train_width", c10::IValue(cfg.trainWidth));
        model->save(ar);
        if (extra)
            extra(ar);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("cannot write checkpoint '" + path + "': " + firstLine(e.what()));
    }
    // Streamed straight into the file (no second copy of the weights in memory); a kill at
    // any moment leaves the previous checkpoint intact (atomic_file.hpp).
    writeFileAtomically(path, [&](int fd) {
        try
        {
            ar.save_to([&](const void* data, size_t n) {
                writeAll(fd, data, n, path + ".tmp");
                return n;
            });
        }
        catch (const std::runtime_error&)
        {
            throw;
        }
        catch (const std::exception& e)
        {
            throw std::runtime_error("cannot write checkpoint '" + path + "': " + firstLine(e.what()));
        }
    });
}

ModelConfig loadModelConfig(const std::string& path)
{
    torch::serialize::InputArchive ar;
    openArchive(ar, path);
    return readConfig(ar, path);
}

SFNet loadModel(const std::string& path, const ArchiveReader& extra)
{
    torch::serialize::InputArchive ar;
    openArchive(ar, path);
    SFNet model(readConfig(ar, path));

    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& p : model->named_parameters())
        expected[p.key()] = p.value().sizes().vec();
    for (const auto& b : model->named_buffers())
        expected[b.key()] = b.value().sizes().vec();
    try
    {
        torch::NoGradGuard noGrad;
        model->load(ar);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("checkpoint '" + path + "' does not match a '" +
                                 model->config().backbone + "' SFNet: " + firstLine(e.what()));
    }
    // Module::load replaces tensors wholesale; a file with the right keys but wrong shapes
    // would otherwise load silently.
    auto check = [&](const std::string& key, const torch::Tensor& t) {
        if (!t.sizes().equals(expected[key]))
            throw std::runtime_error("checkpoint '" + path + "': '" + key + "' has shape " +
                                     shapeString(t.sizes()) + ", expected " +
                                     shapeString(expected[key]));
    };
    for (const auto& p : model->named_parameters())
        check(p.key(), p.value());
    for (const auto& b : model->named_buffers())
        check(b.key(), b.value());
    if (extra)
        extra(ar);
    model->train(true);
    return model;
}

}  // namespace sfnet
