// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet import` on fixtures in torchvision's and the SFNet authors' layouts (written by
// test_data/semflow/weights/make_weight_fixtures.py): every value lands in the parameter of the
// same name, checked against checksums PyTorch computed; bad files are named by key.
#include "backbones/resnet.hpp"
#include "commands.hpp"
#include "import.hpp"
#include "test_util.hpp"
#include "weight_fixtures.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include <unistd.h>

using namespace sfnet;
using sfnet_test::backboneAs;
using sfnet_test::weightsDir;

namespace
{

namespace fs = std::filesystem;

class ImportTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() /
               ("sfnet_import_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override
    {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string tmp(const std::string& name) const
    {
        return (dir_ / name).string();
    }

    // Runs `sfnet import ARGS...` in-process; returns the exit code.
    static int runImport(std::vector<std::string> args)
    {
        args.insert(args.begin(), "import");
        std::vector<char*> argv;
        for (std::string& a : args)
            argv.push_back(&a[0]);
        return cmdImport(static_cast<int>(argv.size()), argv.data());
    }

    fs::path dir_;
};

std::map<std::string, torch::Tensor> stateOf(SFNet& model)
{
    std::map<std::string, torch::Tensor> m;
    for (const auto& p : model->named_parameters(true))
        m[p.key()] = p.value();
    for (const auto& b : model->named_buffers(true))
        m[b.key()] = b.value();
    return m;
}

// Compares a model tensor with PyTorch's checksums of the file's tensor.
void expectChecksums(const torch::Tensor& t, const sfnet_test::ExpectedTensor& e, const std::string& what)
{
    ASSERT_FALSE(e.full) << what;
    EXPECT_EQ(t.sizes().vec(), e.shape) << what;
    const torch::Tensor d = t.detach().to(torch::kFloat64).contiguous();
    double sum, weighted, absWeighted;
    sfnet_test::checksums(d.data_ptr<double>(), static_cast<size_t>(d.numel()), sum, weighted, absWeighted);
    if (!t.is_floating_point())
    {
        EXPECT_EQ(sum, e.sum) << what;  // integers: exact
        EXPECT_EQ(weighted, e.weightedSum) << what;
        return;
    }
    // float32 values summed in double in two different orders: ~1e-13 relative apart.
    const double tol = 1e-10 * absWeighted + 1e-12;
    EXPECT_NEAR(sum, e.sum, tol) << what;
    EXPECT_NEAR(weighted, e.weightedSum, tol) << what;
}

std::string errorOf(const std::function<void()>& f)
{
    try
    {
        f();
    }
    catch (const std::runtime_error& e)
    {
        return e.what();
    }
    return "";
}

PthContents tinyTorchvision()
{
    return readPth(weightsDir() + "tiny_torchvision.pth");
}

SFNet tinyModel()
{
    ModelConfig cfg;
    cfg.backbone = "tiny";
    return SFNet(cfg);
}

NamedArray* findMutable(PthContents& c, const std::string& name)
{
    for (NamedArray& a : c.tensors)
        if (a.name == name)
            return &a;
    return nullptr;
}

}  // namespace

TEST_F(ImportTest, BothFilesLandInTheRightParameters)
{
    const std::string out = tmp("tiny_imported.pt");
    ASSERT_EQ(runImport({"--backbone", "tiny", "--resnet", weightsDir() + "tiny_torchvision.pth", "--sfnet",
                         weightsDir() + "tiny_sfnet_authors.pth", "--beta", "40", "--output", out}),
              0);
    SFNet model = loadModel(out);  // the trainer's own checkpoint, read back
    EXPECT_EQ(model->config().backbone, "tiny");
    EXPECT_EQ(model->config().beta, 40.0);
    const auto state = stateOf(model);
    const auto expected = sfnet_test::readExpected();

    std::set<std::string> covered;
    for (const auto& e : expected.at("tiny_torchvision.pth").tensors)
    {
        if (e.name.rfind("fc.", 0) == 0)
            continue;  // the classifier is not part of SFNet
        const std::string name = "backbone." + e.name;
        ASSERT_TRUE(state.count(name)) << name;
        expectChecksums(state.at(name), e, name);
        covered.insert(name);
    }
    for (const auto& e : expected.at("tiny_sfnet_authors.pth").tensors)
    {
        const bool l3 = e.name.rfind("state_dict1.", 0) == 0;
        ASSERT_TRUE(l3 || e.name.rfind("state_dict2.", 0) == 0) << e.name;
        const std::string name = (l3 ? "adap_layer_feat3." : "adap_layer_feat4.") + e.name.substr(12);
        ASSERT_TRUE(state.count(name)) << name;
        expectChecksums(state.at(name), e, name);
        covered.insert(name);
    }
    // Every parameter and buffer of the model came from one of the files.
    std::vector<std::string> notCovered;
    for (const auto& s : state)
        if (!covered.count(s.first))
            notCovered.push_back(s.first);
    EXPECT_TRUE(notCovered.empty()) << notCovered.size() << " model tensors not imported, e.g. " << notCovered[0];
}

TEST_F(ImportTest, InitCheckpointKeepsWhatIsNotImported)
{
    const std::string first = tmp("backbone_only.pt"), second = tmp("both.pt");
    ASSERT_EQ(runImport({"--backbone", "tiny", "--resnet", weightsDir() + "tiny_torchvision.pth", "--output", first}), 0);
    ASSERT_EQ(runImport({"--init-checkpoint", first, "--sfnet", weightsDir() + "tiny_sfnet_authors.pth", "--output",
                         second}),
              0);
    SFNet a = loadModel(first), b = loadModel(second);
    const auto sa = stateOf(a), sb = stateOf(b);
    EXPECT_TRUE(torch::equal(sa.at("backbone.layer4.0.conv2.weight"), sb.at("backbone.layer4.0.conv2.weight")));
    EXPECT_FALSE(torch::equal(sa.at("adap_layer_feat4.conv2.0.weight"), sb.at("adap_layer_feat4.conv2.0.weight")));
    // The authors' value, straight from the reader.
    const PthContents authors = readPth(weightsDir() + "tiny_sfnet_authors.pth");
    const NamedArray* w = authors.find("state_dict2.conv2.0.weight");
    ASSERT_TRUE(w);
    EXPECT_TRUE(torch::equal(sb.at("adap_layer_feat4.conv2.0.weight"), toTensor(*w)));
    EXPECT_EQ(sb.at("adap_layer_feat3.conv1.1.num_batches_tracked").item<int64_t>(),
              authors.find("state_dict1.conv1.1.num_batches_tracked")->i64[0]);
    // The checkpoint decides the backbone; a different --backbone is a mistake.
    const std::string err = errorOf([&] {
        runImport({"--init-checkpoint", first, "--backbone", "resnet18", "--sfnet",
                   weightsDir() + "tiny_sfnet_authors.pth", "--output", tmp("z.pt")});
    });
    EXPECT_NE(err.find("--backbone resnet18 contradicts " + first + ", which holds a tiny model"), std::string::npos)
        << err;
}

TEST_F(ImportTest, WrongShapeIsNamedWithBothShapes)
{
    PthContents c = tinyTorchvision();
    NamedArray* w = findMutable(c, "layer3.0.conv1.weight");  // [64, 32, 3, 3]
    ASSERT_TRUE(w);
    w->shape = {64, 32, 9, 1};
    SFNet model = tinyModel();
    const torch::Tensor before = backboneAs<ResNetBackbone>(model).conv1->weight.clone();
    const std::string err = errorOf([&] { importBackboneWeights(model, c, "bad.pth"); });
    EXPECT_NE(err.find("bad.pth"), std::string::npos) << err;
    EXPECT_NE(err.find("layer3.0.conv1.weight: the file has [64, 32, 9, 1], the model needs [64, 32, 3, 3]"),
              std::string::npos)
        << err;
    // Validation happens before any copy.
    EXPECT_TRUE(torch::equal(before, backboneAs<ResNetBackbone>(model).conv1->weight));
}

TEST_F(ImportTest, MissingAndUnexpectedKeysAreNamed)
{
    PthContents c = tinyTorchvision();
    findMutable(c, "layer2.0.bn1.running_var")->name = "layer2.0.bn1.running_varx";
    SFNet model = tinyModel();
    const std::string err = errorOf([&] { importBackboneWeights(model, c, "bad.pth"); });
    EXPECT_NE(err.find("missing keys (model shape):\n  layer2.0.bn1.running_var [32]"), std::string::npos) << err;
    EXPECT_NE(err.find("unexpected keys"), std::string::npos) << err;
    EXPECT_NE(err.find("layer2.0.bn1.running_varx [32]"), std::string::npos) << err;
}

TEST_F(ImportTest, OldFilesWithoutBatchCountersAndDataParallelPrefixLoad)
{
    PthContents c = tinyTorchvision();
    std::vector<NamedArray> kept;
    for (NamedArray& a : c.tensors)
        if (a.name.find("num_batches_tracked") == std::string::npos)
        {
            a.name = "module." + a.name;
            kept.push_back(a);
        }
    c.tensors = kept;
    SFNet model = tinyModel();
    backboneAs<ResNetBackbone>(model).bn1->num_batches_tracked.fill_(5);
    const ImportReport r = importBackboneWeights(model, c, "old.pth");
    EXPECT_EQ(backboneAs<ResNetBackbone>(model).bn1->num_batches_tracked.item<int64_t>(), 0);
    EXPECT_TRUE(torch::equal(backboneAs<ResNetBackbone>(model).conv1->weight, toTensor(*c.find("module.conv1.weight"))));
    std::string notes;
    for (const std::string& n : r.notes)
        notes += n + "\n";
    EXPECT_NE(notes.find("module."), std::string::npos) << notes;
    EXPECT_NE(notes.find("num_batches_tracked"), std::string::npos) << notes;
    EXPECT_NE(notes.find("ignored module.fc.weight, module.fc.bias"), std::string::npos) << notes;
}

TEST_F(ImportTest, WrongFilesAndBackbonesFailClearly)
{
    const std::string tv = weightsDir() + "tiny_torchvision.pth";
    const std::string authors = weightsDir() + "tiny_sfnet_authors.pth";
    const std::string out = tmp("x.pt");
    // A tiny state dict into resnet18: shape mismatch reported per key.
    std::string err = errorOf([&] { runImport({"--backbone", "resnet18", "--resnet", tv, "--output", out}); });
    EXPECT_NE(err.find("conv1.weight: the file has [16, 3, 7, 7], the model needs [64, 3, 7, 7]"), std::string::npos)
        << err;
    // The two files swapped.
    err = errorOf([&] { runImport({"--backbone", "tiny", "--sfnet", tv, "--output", out}); });
    EXPECT_NE(err.find("not the SFNet authors' checkpoint"), std::string::npos) << err;
    EXPECT_NE(err.find("pass it with --resnet"), std::string::npos) << err;
    err = errorOf([&] { runImport({"--backbone", "tiny", "--resnet", authors, "--output", out}); });
    EXPECT_NE(err.find("none of the keys of the tiny backbone"), std::string::npos) << err;
    EXPECT_NE(err.find("state_dict1.conv1.0.weight"), std::string::npos) << err;
    // Adaptation layers of another backbone: the level-3 conv has 64 channels in tiny.
    err = errorOf([&] { runImport({"--backbone", "resnet18", "--sfnet", authors, "--output", out}); });
    EXPECT_NE(err.find("conv1.0.weight: the file has [64, 64, 5, 5], the model needs [256, 256, 5, 5]"),
              std::string::npos)
        << err;
    EXPECT_FALSE(fs::exists(out));
    // Usage errors: exit code 2, nothing thrown.
    EXPECT_EQ(runImport({"--backbone", "tiny", "--resnet", tv}), 2);
    EXPECT_EQ(runImport({"--backbone", "tiny", "--output", out}), 2);
    EXPECT_EQ(runImport({"--resnet", tv, "--output", out}), 2);
    EXPECT_EQ(runImport({"--backbone", "tiny", "--resnet", tv, "--output", out, "--bogus"}), 2);
    // A file that is not a checkpoint.
    err = errorOf([&] { runImport({"--backbone", "tiny", "--resnet", weightsDir() + "expected.txt", "--output", out}); });
    EXPECT_NE(err.find("expected.txt: not a PyTorch checkpoint"), std::string::npos) << err;
}

TEST_F(ImportTest, ImportedModelComputesWhatPyTorchComputes)
{
    // make_weight_fixtures.py ran the same two files through torchvision's ResNet
    // structure and the authors' adaptation layers in PyTorch (reference_forward).
    const std::string out = tmp("tiny_imported.pt");
    ASSERT_EQ(runImport({"--backbone", "tiny", "--resnet", weightsDir() + "tiny_torchvision.pth", "--sfnet",
                         weightsDir() + "tiny_sfnet_authors.pth", "--output", out}),
              0);
    SFNet model = loadModel(out);
    model->eval();
    // x[i] = ((37 i) mod 101) / 50 - 1 over the flat index, double then float, like the script.
    std::vector<float> xs(3 * 64 * 64);
    for (size_t i = 0; i < xs.size(); ++i)
        xs[i] = static_cast<float>(static_cast<double>((i * 37) % 101) / 50.0 - 1.0);
    const torch::Tensor x = torch::from_blob(xs.data(), {1, 3, 64, 64}, torch::kFloat32).clone();
    torch::NoGradGuard noGrad;
    const auto f = model->backboneFeatures(x);
    const std::map<std::string, torch::Tensor> got = {
        {"f3", f.first},
        {"f4", f.second},
        {"adapted3", model->adaptation3()->forward(f.first)},
        {"adapted4", model->adaptation4()->forward(f.second)}};
    const auto expected = sfnet_test::readExpected().at("tiny_forward");
    ASSERT_EQ(expected.tensors.size(), 4u);
    for (const auto& e : expected.tensors)
    {
        ASSERT_TRUE(got.count(e.name)) << e.name;
        const torch::Tensor t = got.at(e.name).contiguous();
        ASSERT_EQ(t.sizes().vec(), e.shape) << e.name;
        double maxAbs = 0, maxErr = 0;
        for (size_t i = 0; i < e.values.size(); ++i)
        {
            maxAbs = std::max(maxAbs, std::fabs(e.values[i]));
            maxErr = std::max(maxErr, std::fabs(t.data_ptr<float>()[i] - e.values[i]));
        }
        ASSERT_GT(maxAbs, 0.1) << e.name;  // a meaningful signal, not all zeros
        // Same float32 maths in PyTorch and LibTorch; only summation order may differ.
        EXPECT_LE(maxErr, 1e-5 * maxAbs) << e.name << ": max |LibTorch - PyTorch| = " << maxErr << ", max |ref| = "
                                         << maxAbs;
    }
}

namespace
{
// Every registered backbone, the test's one-file backbone included: a state dict with the
// backbone's own keys plus one key under each of its unused prefixes (a classifier) lands
// parameter by parameter and buffer by buffer; the unused keys are reported, not loaded.
class EveryBackboneImport : public ::testing::TestWithParam<std::string>
{
};

TEST_P(EveryBackboneImport, publishedKeysLandInTheirParameters)
{
    const std::string name = GetParam();
    torch::manual_seed(21);
    const std::shared_ptr<Backbone> source = makeBackbone(name);
    sfnet_test::randomizeBatchNorm(*source);
    PthContents file;
    for (const auto& p : source->named_parameters())
        file.tensors.push_back(sfnet_test::namedArrayOf(p.key(), p.value()));
    for (const auto& b : source->named_buffers())
        file.tensors.push_back(sfnet_test::namedArrayOf(b.key(), b.value().fill_(7)));  // counters too
    const size_t ownKeys = file.tensors.size();
    const ImportRules rules = source->importRules();
    for (const std::string& prefix : rules.unusedPrefixes)
        file.tensors.push_back(sfnet_test::namedArrayOf(prefix + "weight", torch::ones({3, 2})));

    SFNet model(ModelConfig{name});
    EXPECT_FALSE(torch::equal(model->backbone().named_parameters().front().value(),
                              source->named_parameters().front().value()))
        << "the model must start from other weights, or the test proves nothing";
    const ImportReport r = importBackboneWeights(model, file, name + ".pth");
    EXPECT_EQ(r.loaded, ownKeys);
    const auto params = model->backbone().named_parameters();
    for (const auto& p : source->named_parameters())
        EXPECT_TRUE(torch::equal(params[p.key()], p.value())) << p.key();
    const auto buffers = model->backbone().named_buffers();
    for (const auto& b : source->named_buffers())
        EXPECT_TRUE(torch::equal(buffers[b.key()], b.value())) << b.key();
    std::string notes;
    for (const std::string& n : r.notes)
        notes += n + "\n";
    for (const std::string& prefix : rules.unusedPrefixes)
        EXPECT_NE(notes.find(prefix + "weight"), std::string::npos) << notes;
    EXPECT_NE(notes.find(rules.unusedWhat), std::string::npos) << notes;
}

INSTANTIATE_TEST_SUITE_P(SfnetImport, EveryBackboneImport, ::testing::ValuesIn(sfnet_test::everyBackboneForTests()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
}  // namespace
