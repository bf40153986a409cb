// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// The training loop: gradients go where they should, resuming is exact, and a short run
// on generated data learns correspondences the identity flow does not have.

#include "commands.hpp"
#include "data.hpp"
#include "export.hpp"
#include "losses.hpp"
#include "model.hpp"
#include "train.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/semflow/benchmark.hpp>
#include <opencv2/semflow/flow_utils.hpp>
#include <opencv2/semflow/semantic_flow.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace
{
fs::path freshDir(const std::string& name)
{
    fs::path d = fs::temp_directory_path() / ("sfnet_test_train_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    return d;
}

torch::Tensor toTensor(const cv::Mat& rgb)
{
    return torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kFloat).permute({2, 0, 1}).clone().unsqueeze(0);
}

struct Pck
{
    double model = 0, identity = 0;
    int64_t points = 0;
};

// PCK@alpha (alpha * image side) of the S2T grid on held-out synthesised pairs: every
// foreground cell centre of the source is transferred with the predicted grid and
// compared with the generator's true correspondence (the two drawn affines).
Pck heldOutPck(sfnet::SFNet& model, int size, int pairs, double alpha)
{
    torch::NoGradGuard ng;
    model->eval();
    sfnet::AugmentParams ap;
    ap.size = size;
    Pck r;
    int64_t okModel = 0, okId = 0;
    for (int i = 0; i < pairs; ++i)
    {
        const auto g = sfnet::generateImage(4242, uint64_t(i), size);  // a set never trained on
        const auto pr = sfnet::synthesizePair({g.image, g.mask}, ap, sfnet::mixSeed(77, uint64_t(i)));
        const auto out = model->forward(toTensor(pr.source), toTensor(pr.target));
        const auto grid = out.gridS2T[0];
        const int64_t h = grid.size(1), w = grid.size(2);
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
            {
                if (pr.maskS.at<float>(int(y), int(x)) == 0)
                    continue;
                const cv::Point2d s(double(x) / (w - 1) * (size - 1), double(y) / (h - 1) * (size - 1));
                const cv::Point2d truth = sfnet::pairCorrespondence(pr, size, s);
                const cv::Point2d pred((grid[0][y][x].item<double>() + 1) / 2 * (size - 1),
                                       (grid[1][y][x].item<double>() + 1) / 2 * (size - 1));
                okModel += cv::norm(pred - truth) <= alpha * size;
                okId += cv::norm(s - truth) <= alpha * size;
                ++r.points;
            }
    }
    r.model = double(okModel) / double(r.points);
    r.identity = double(okId) / double(r.points);
    return r;
}

int runCommand(int (*cmd)(int, char**), std::vector<std::string> args)
{
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(&a[0]);
    return cmd(int(argv.size()), argv.data());
}

}  // namespace

TEST(Training, GradientsReachTheAdaptationLayersOnly)
{
    torch::manual_seed(0);
    sfnet::ModelConfig cfg;
    cfg.backbone = "tiny";
    sfnet::SFNet model(cfg);
    model->train();
    const auto src = torch::rand({2, 3, 64, 64}), tgt = torch::rand({2, 3, 64, 64});
    const auto out = model->forward(src, tgt);
    const auto m = (torch::rand({2, 1, 4, 4}) > 0.3).to(torch::kFloat);
    const auto loss = sfnet::sfnetLoss(out.gridS2T, out.gridT2S, m, m);
    loss.total.backward();
    size_t adapted = 0;
    for (const auto& p : model->adaptationParameters())
    {
        ASSERT_TRUE(p.grad().defined());
        EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
        ++adapted;
    }
    EXPECT_EQ(adapted, 16u);  // 2 levels x 2 steps x (conv w, b, bn w, b)
    for (const auto& p : model->backboneParameters())
    {
        EXPECT_FALSE(p.requires_grad());
        EXPECT_FALSE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0);
    }
}

TEST(Training, ResumeGivesTheSameWeightsAsAnUninterruptedRun)
{
    sfnet::TrainOptions o;
    o.data = "synthetic:20";
    o.backbone = "tiny";
    o.size = 64;
    o.batch = 4;  // 5 batches per epoch
    o.epochs = 2;
    o.lr = 1e-3;
    o.lrStep = 1;  // the lr changes between epochs: resuming must restore it
    o.seed = 11;
    o.workers = 2;
    o.progress = false;
    const fs::path a = freshDir("full"), b = freshDir("split");
    o.output = a.string();
    const auto full = sfnet::train(o);
    EXPECT_EQ(full.iterations, 10);
    EXPECT_EQ(full.epochsCompleted, 2);

    o.output = b.string();
    o.maxIters = 3;  // stop in the middle of epoch 0
    const auto part = sfnet::train(o);
    EXPECT_EQ(part.iterations, 3);
    o.maxIters = -1;
    o.resume = true;
    o.workers = 1;  // thread count must not matter
    const auto rest = sfnet::train(o);
    EXPECT_EQ(rest.startIteration, 3);
    EXPECT_EQ(rest.iterations, 10);

    auto ma = sfnet::loadModel((a / "checkpoint.pt").string());
    auto mb = sfnet::loadModel((b / "checkpoint.pt").string());
    const auto sa = sfnet_test::stateOf(ma), sb = sfnet_test::stateOf(mb);
    ASSERT_EQ(sa.size(), sb.size());
    size_t changed = 0;
    sfnet::ModelConfig cfg;
    cfg.backbone = "tiny";
    torch::manual_seed(11);
    sfnet::SFNet init(cfg);
    const auto s0 = sfnet_test::stateOf(init);
    for (size_t i = 0; i < sa.size(); ++i)
    {
        ASSERT_EQ(sa[i].first, sb[i].first);
        EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
        changed += !torch::equal(sa[i].second, s0[i].second);
    }
    EXPECT_GT(changed, 10u);  // training did move the adaptation layers

    // The log has one line per iteration of both runs, plus the header.
    std::ifstream log(b / "log.tsv");
    size_t lines = 0;
    for (std::string l; std::getline(log, l);)
        ++lines;
    EXPECT_EQ(lines, 11u);
    fs::remove_all(a);
    fs::remove_all(b);
}

TEST(Training, ResumeRefusesANegativeIteration)
{
    // A damaged checkpoint.pt whose training state says iteration -3: resuming from it must
    // stop with the reason, not quietly start again at iteration 0.
    sfnet::TrainOptions o;
    o.data = "synthetic:8";
    o.backbone = "tiny";
    o.size = 64;
    o.batch = 4;
    o.epochs = 1;
    o.progress = false;
    o.resume = true;
    const fs::path d = freshDir("negative_iteration");
    fs::create_directories(d);
    o.output = d.string();
    sfnet::ModelConfig cfg;
    cfg.backbone = "tiny";
    sfnet::SFNet model(cfg);
    sfnet::saveModel(model, (d / "checkpoint.pt").string(), [](torch::serialize::OutputArchive& ar) {
        ar.write("train_iteration", c10::IValue(int64_t(-3)));
    });
    try
    {
        sfnet::train(o);
        ADD_FAILURE() << "resumed from iteration -3";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("is damaged: train_iteration is -3, below 0"), std::string::npos) << e.what();
    }
    fs::remove_all(d);
}

TEST(Training, ShortRunOnGeneratedDataLearnsCorrespondence)
{
    sfnet::TrainOptions o;
    o.data = "synthetic:400";
    o.backbone = "tiny";
    o.trainBackbone = true;
    o.size = 128;
    o.batch = 8;
    o.epochs = 1;  // 50 iterations
    o.lr = 1e-3;
    o.seed = 1;
    o.workers = 2;
    o.progress = false;
    const fs::path d = freshDir("learn");
    o.output = d.string();

    torch::manual_seed(o.seed);  // the same initial weights train() starts from
    sfnet::ModelConfig cfg;
    cfg.backbone = "tiny";
    sfnet::SFNet init(cfg);
    const Pck before = heldOutPck(init, o.size, 24, 0.1);

    const auto s = sfnet::train(o);
    auto model = sfnet::loadModel((d / "checkpoint.pt").string());
    const Pck after = heldOutPck(model, o.size, 24, 0.1);
    std::cout << "loss " << s.firstLoss << " -> " << s.lastLoss << " in " << s.seconds << " s; PCK@0.1 identity "
              << after.identity << ", untrained " << before.model << ", trained " << after.model << " ("
              << after.points << " points)\n";
    EXPECT_LT(s.lastLoss, 0.8 * s.firstLoss);
    EXPECT_GT(after.model, after.identity + 0.1);
    EXPECT_GT(after.model, before.model + 0.1);
    fs::remove_all(d);
}

TEST(Training, RejectsBadOptionsClearly)
{
    sfnet::TrainOptions o;
    o.data = "synthetic:8";
    o.backbone = "tiny";
    o.size = 64;
    o.progress = false;
    const fs::path d = freshDir("bad");
    o.output = d.string();
    auto expectError = [&](sfnet::TrainOptions x, const std::string& fragment) {
        try
        {
            sfnet::train(x);
            ADD_FAILURE() << "no error for " << fragment;
        }
        catch (const std::runtime_error& e)
        {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        }
    };
    auto x = o;
    x.size = 100;
    expectError(x, "--size");
    x = o;
    x.data = "imagenet:/tmp";
    expectError(x, "voc:DIR");
    x = o;
    x.resume = true;
    expectError(x, "no checkpoint");
    x = o;
    x.backbone = "vgg16";
    expectError(x, "unknown backbone");
    x = o;
    x.device = "tpu";
    expectError(x, "--device");
    if (!torch::cuda::is_available())
    {
        x = o;
        x.device = "cuda";
        expectError(x, "CUDA");
    }
    fs::remove_all(d);
}

// `sfnet generate` writes what the folder reader and the module's PF-PASCAL loader read,
// and the keypoints in the CSV are the generator's.
TEST(GenerateCommand, WritesAFolderDatasetAndKeypointPairs)
{
    const fs::path d = freshDir("generate");
    ASSERT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--output", d.string(), "--count", "12", "--size", "96",
                                              "--seed", "5", "--pairs", "6"}),
              0);
    auto src = sfnet::openFolder(d.string());
    ASSERT_EQ(src->size(), 12u);
    sfnet::MaskedImage mi;
    std::string err;
    ASSERT_TRUE(src->load(3, mi, err)) << err;
    const auto g3 = sfnet::generateImage(5, 3, 96);
    EXPECT_EQ(cv::norm(mi.image, g3.image, cv::NORM_INF), 0.0);  // PNG is lossless
    EXPECT_EQ(cv::norm(mi.mask, g3.mask, cv::NORM_INF), 0.0);

    const auto pairs = cv::semflow::loadPFPascalPairs((d / "pairs.csv").string(), d.string());
    ASSERT_EQ(pairs.size(), 6u);
    for (const auto& p : pairs)
    {
        EXPECT_EQ(p.numValid(), sfnet::kGeneratedKeypoints);
        const int a = std::stoi(fs::path(p.sourceImage).stem().string()), b = std::stoi(fs::path(p.targetImage).stem().string());
        EXPECT_NE(a, b);
        const auto ga = sfnet::generateImage(5, uint64_t(a), 96), gb = sfnet::generateImage(5, uint64_t(b), 96);
        EXPECT_EQ(ga.shapeClass, gb.shapeClass);
        for (int k = 0; k < sfnet::kGeneratedKeypoints; ++k)
        {
            EXPECT_NEAR(p.sourceKeypoints[k].x, ga.keypoints[k].x, 0.006);
            EXPECT_NEAR(p.sourceKeypoints[k].y, ga.keypoints[k].y, 0.006);
            EXPECT_NEAR(p.targetKeypoints[k].x, gb.keypoints[k].x, 0.006);
            EXPECT_NEAR(p.targetKeypoints[k].y, gb.keypoints[k].y, 0.006);
        }
    }
    EXPECT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--output", d.string(), "--count", "0"}), 2);
    EXPECT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--count", "3"}), 2);
    EXPECT_EQ(runCommand(sfnet::cmdTrain, {"train", "--output", d.string()}), 2);  // no --data
    EXPECT_EQ(runCommand(sfnet::cmdTrain, {"train", "--data", "synthetic", "--output", d.string(), "--epochs", "x"}), 2);
    fs::remove_all(d);
}

// A short tiny-backbone run on generated data that validates on `valCsv` after every epoch.
sfnet::TrainOptions tinyValidatedRun(const std::string& data, int size, int epochs, const fs::path& valCsv,
                                     const fs::path& output)
{
    sfnet::TrainOptions o;
    o.data = data;
    o.backbone = "tiny";
    o.size = size;
    o.batch = 8;
    o.epochs = epochs;
    o.lr = 1e-3;
    o.progress = false;
    o.valPairs = valCsv.string();
    o.output = output.string();
    return o;
}

// With validation pairs, every epoch is scored with the module's PCK and the best model
// is kept in best.pt.
TEST(Training, ValidationKeepsTheBestCheckpoint)
{
    const fs::path v = freshDir("valset"), d = freshDir("val");
    ASSERT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--output", v.string(), "--count", "8", "--size", "80",
                                              "--seed", "9", "--pairs", "4"}),
              0);
    sfnet::TrainOptions o = tinyValidatedRun("synthetic:16", 64, 2, v / "pairs.csv", d);
    const auto s = sfnet::train(o);
    ASSERT_TRUE(fs::exists(d / "best.pt"));
    std::ifstream vl(d / "val.tsv");
    std::string header, line;
    std::getline(vl, header);
    EXPECT_EQ(header.substr(0, 9), "iteration");
    double best = -1;
    int rows = 0;
    while (std::getline(vl, line))
    {
        std::istringstream ss(line);
        double it, ep, np, p05, p10, p15;
        ASSERT_TRUE(bool(ss >> it >> ep >> np >> p05 >> p10 >> p15)) << line;
        EXPECT_EQ(np, 4);
        EXPECT_LE(p05, p10);
        EXPECT_LE(p10, p15);
        best = std::max(best, p10);
        ++rows;
    }
    EXPECT_EQ(rows, 2);
    EXPECT_DOUBLE_EQ(s.bestPck, best);
    EXPECT_GE(best, 0.0);
    EXPECT_LE(best, 1.0);
    EXPECT_EQ(sfnet::loadModel((d / "best.pt").string())->config().backbone, "tiny");

    o.valPairs = (v / "missing.csv").string();
    EXPECT_ANY_THROW(sfnet::train(o));
    fs::remove_all(v);
    fs::remove_all(d);
}

// The two validation protocols against cv::SemanticFlow on the exported best model: plain
// is SemanticFlow without the border protocol, authors is SemanticFlow with padBorder and
// RESIZE_ANTIALIASED_BILINEAR (the authors' padded, PIL-resized evaluation). The same
// training (validation draws no random numbers), scored both ways; each val.tsv row must
// be what the module's evaluateBenchmark gives on the ONNX export of best.pt, to val.tsv's 6 digits (the grids
// agree to ~1e-6, far inside a PCK threshold; both runs' best epoch is their only epoch).
TEST(Training, ValidationProtocolsAreSemanticFlowsProtocols)
{
    const fs::path v = freshDir("valproto_set");
    ASSERT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--output", v.string(), "--count", "8", "--size", "120",
                                              "--seed", "5", "--pairs", "6"}),
              0);
    const auto pairs = cv::semflow::loadPFPascalPairs((v / "pairs.csv").string(), "");
    ASSERT_EQ(pairs.size(), 6u);
    std::vector<double> plainRow;
    for (const std::string protocol : {"plain", "authors"})
    {
        const fs::path d = freshDir("valproto_" + protocol);
        sfnet::TrainOptions o = tinyValidatedRun("synthetic:8", 96, 1, v / "pairs.csv", d);
        o.valProtocol = protocol;
        sfnet::train(o);
        std::ifstream vl(d / "val.tsv");
        std::string header, line;
        std::getline(vl, header);
        ASSERT_TRUE(bool(std::getline(vl, line)));
        std::istringstream ss(line);
        double it, ep, np;
        std::vector<double> row(3);
        ASSERT_TRUE(bool(ss >> it >> ep >> np >> row[0] >> row[1] >> row[2])) << line;

        sfnet::SFNet best = sfnet::loadModel((d / "best.pt").string());
        const std::string onnx = (d / "best.onnx").string();
        sfnet::exportOnnx(best, onnx);
        const bool authors = protocol == "authors";
        cv::Ptr<cv::SemanticFlow> sf = cv::SemanticFlow::create(onnx, cv::Size(96, 96), authors);
        if (authors)
            sf->setResizeFilter(cv::semflow::RESIZE_ANTIALIASED_BILINEAR);
        cv::semflow::PCKProtocol proto;
        proto.threshold = cv::semflow::PCK_THRESHOLD_IMAGE;
        proto.direction = cv::semflow::TRANSFER_TARGET_TO_SOURCE;
        const auto ref = cv::semflow::evaluateBenchmark(
            pairs, [&](const cv::Mat& from, const cv::Mat& to, cv::Mat& flow) { sf->calc(from, to, flow); }, proto,
            protocol);
        ASSERT_EQ(ref.overall.perPair.size(), 3u);
        for (int k = 0; k < 3; ++k)
            EXPECT_NEAR(row[size_t(k)], ref.overall.perPair[size_t(k)], 1e-6) << protocol << " alpha #" << k;  // val.tsv: 6 digits
        if (authors)
            EXPECT_NE(row, plainRow) << "the protocols scored alike: the option did nothing";
        else
            plainRow = row;
        fs::remove_all(d);
    }
    fs::remove_all(v);
}

// MultiStepLR semantics: epochs are 0-based, the lr drops from milestone epoch m on; the
// single-step form is the milestone list {step, 2 step, ...}.
TEST(Training, LearningRateMilestones)
{
    sfnet::TrainOptions o;
    o.lr = 1.0;
    o.lrGamma = 0.5;
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 29), 1.0);  // the paper: x0.2 at epoch 30
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 30), 0.5);
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 60), 0.25);
    o.lrMilestones = sfnet::parseMilestones("30,35");
    ASSERT_EQ(o.lrMilestones, (std::vector<int>{30, 35}));
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 0), 1.0);
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 29), 1.0);
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 30), 0.5);
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 34), 0.5);
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 35), 0.25);
    EXPECT_DOUBLE_EQ(sfnet::learningRateAt(o, 39), 0.25);
    for (const char* bad : {"", "30,", ",30", "35,30", "30,30", "0", "a", "30;35", "-1"})
        EXPECT_THROW(sfnet::parseMilestones(bad), std::invalid_argument) << bad;

    // The CLI takes the list, and refuses it together with --lr-step.
    const fs::path d = freshDir("milestones");
    EXPECT_EQ(runCommand(sfnet::cmdTrain, {"train", "--data", "synthetic:4", "--output", d.string(), "--lr-step",
                                           "3", "--lr-milestones", "3,4"}),
              2);
    EXPECT_EQ(runCommand(sfnet::cmdTrain, {"train", "--data", "synthetic:4", "--output", d.string(),
                                           "--lr-milestones", "4,3"}),
              2);
    // The log shows the schedule: 2 images, batch 1 -> 2 iterations per epoch, drop at 1 and 2.
    EXPECT_EQ(runCommand(sfnet::cmdTrain, {"train", "--data", "synthetic:2", "--backbone", "tiny", "--size", "64",
                                           "--batch", "1", "--epochs", "3", "--lr", "0.001", "--lr-gamma", "0.5",
                                           "--lr-milestones", "1,2", "--no-progress", "--output", d.string()}),
              0);
    std::ifstream log(d / "log.tsv");
    std::string line;
    std::getline(log, line);
    std::vector<double> lrs;
    while (std::getline(log, line))
    {
        std::istringstream ls(line);
        std::string f[4];
        ls >> f[0] >> f[1] >> f[2] >> f[3];
        lrs.push_back(std::stod(f[3]));
    }
    ASSERT_EQ(lrs.size(), 6u);
    const double want[6] = {1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4};
    for (size_t i = 0; i < 6; ++i)
        EXPECT_NEAR(lrs[i], want[i], 1e-9) << i;
    fs::remove_all(d);
}

// The recipe switches are checked and their bad values refused with a clean message.
TEST(Training, RecipeOptionsAreValidated)
{
    const fs::path d = freshDir("recipe");
    for (const auto& kv : std::vector<std::pair<std::string, std::string>>{{"--smoothness", "both"},
                                                                           {"--mask-shrink", "nearest"},
                                                                           {"--bn-stats", "global"},
                                                                           {"--bn-init", "zeros"}})
    {
        sfnet::TrainOptions o;
        o.data = "synthetic:2";
        o.output = d.string();
        if (kv.first == "--smoothness")
            o.smoothness = kv.second;
        else if (kv.first == "--mask-shrink")
            o.maskShrink = kv.second;
        else if (kv.first == "--bn-stats")
            o.bnStats = kv.second;
        else
            o.bnInit = kv.second;
        try
        {
            sfnet::train(o);
            ADD_FAILURE() << kv.first << " " << kv.second << " was accepted";
        }
        catch (const std::runtime_error& e)
        {
            EXPECT_NE(std::string(e.what()).find(kv.first), std::string::npos) << e.what();
        }
    }
    sfnet::TrainOptions o;
    o.data = "synthetic:2";
    o.output = d.string();
    o.worldSize = 2;
    o.rank = 2;
    EXPECT_THROW(sfnet::train(o), std::runtime_error);
    fs::remove_all(d);
}

// The exact identity (sfnet import --identity-adaptation) gets no gradient at all: every
// step is ReLU(0 * x + 0) and ReLU's derivative at 0 is 0. Training from it is refused with
// the reason; --identity-weight starts from a near-identity that does learn.
TEST(Training, ExactIdentityAdaptationIsRefusedAndNearIdentityLearns)
{
    torch::manual_seed(3);
    sfnet::ModelConfig cfg;
    cfg.backbone = "tiny";
    sfnet::SFNet model(cfg);
    model->adaptation3()->setIdentity();
    model->adaptation4()->setIdentity();
    ASSERT_TRUE(model->adaptation3()->isExactIdentity());
    model->train();
    {
        const auto out = model->forward(torch::rand({2, 3, 64, 64}), torch::rand({2, 3, 64, 64}));
        const auto m = (torch::rand({2, 1, 4, 4}) > 0.3).to(torch::kFloat);
        sfnet::sfnetLoss(out.gridS2T, out.gridT2S, m, m).total.backward();
        for (const auto& p : model->adaptationParameters())  // the reason for the refusal
            EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0);
    }
    const fs::path d = freshDir("identity");
    fs::create_directories(d);
    const std::string init = (d / "identity.pt").string();
    sfnet::saveModel(model, init);

    sfnet::TrainOptions o;
    o.data = "synthetic:8";
    o.init = init;
    o.size = 64;
    o.batch = 4;
    o.epochs = 1;
    o.lr = 1e-3;
    o.progress = false;
    o.output = (d / "run").string();
    try
    {
        sfnet::train(o);
        ADD_FAILURE() << "training from the exact identity was accepted";
    }
    catch (const std::runtime_error& e)
    {
        EXPECT_NE(std::string(e.what()).find("--identity-weight"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(d / "run" / "checkpoint.pt"));

    o.identityWeight = 0.01;
    sfnet::train(o);
    auto trained = sfnet::loadModel((d / "run" / "checkpoint.pt").string());
    EXPECT_FALSE(trained->adaptation3()->isExactIdentity());
    // Every adaptation parameter moved away from its start (conv weights, BatchNorm weights
    // from 0.01, biases from 0).
    auto start = sfnet::loadModel(init);
    start->adaptation3()->setBatchNormWeight(0.01);
    start->adaptation4()->setBatchNormWeight(0.01);
    const auto a = start->adaptationParameters(), b = trained->adaptationParameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        EXPECT_FALSE(torch::equal(a[i], b[i])) << "adaptation parameter " << i << " did not change";
    fs::remove_all(d);
}

// `sfnet generate --composite`: the hand-placed keypoints are carried through each placement
// (a red pixel placed in two cut-outs is where pairs.csv says, in both images of every pair,
// plain and cluttered), and bad keypoint lists end with a message and exit code 1.
TEST(GenerateCommand, CompositePairsCarryTheKeypointsThroughThePlacement)
{
    const fs::path d = freshDir("composite_gen");
    const fs::path stamps = d / "stamps" / "animals";
    fs::create_directories(stamps);
    // Two 90x60 cut-outs of one kind: an opaque grey body with one red pixel at a known place.
    const cv::Point red[2] = {{30, 20}, {61, 44}};
    for (int k = 0; k < 2; ++k)
    {
        cv::Mat rgba(60, 90, CV_8UC4, cv::Scalar(0, 0, 0, 0));
        rgba(cv::Rect(5, 5, 80, 50)).setTo(cv::Scalar(128, 128, 128, 255));
        for (int dy = -1; dy <= 1; ++dy)  // 3x3, so that resampling keeps its centre red
            for (int dx = -1; dx <= 1; ++dx)
                rgba.at<cv::Vec4b>(red[k].y + dy, red[k].x + dx) = cv::Vec4b(0, 0, 255, 255);
        ASSERT_TRUE(cv::imwrite((stamps / ("a" + std::to_string(k) + ".png")).string(), rgba));
    }
    const fs::path csv = d / "kp.csv";
    std::ofstream(csv) << "image,kind,X,Y\n"
                       << "animals/a0.png,thing," << red[0].x << ";-1;10," << red[0].y << ";-1;10\n"
                       << "animals/a1.png,thing," << red[1].x << ";50;12," << red[1].y << ";30;12\n";
    const fs::path bgList = d / "bgs.txt";
    cv::Mat bg(200, 260, CV_8UC3);
    cv::randu(bg, 0, 100);  // darker than the red pixel's red channel, never as red
    cv::imwrite((d / "bg.png").string(), bg);
    std::ofstream(bgList) << (d / "bg.png").string() << "\n";
    for (const bool cluttered : {false, true})
    {
        const fs::path out = d / (cluttered ? "clutter" : "plain");
        std::vector<std::string> args = {"generate", "--composite", csv.string(), "--stamps-root", (d / "stamps").string(),
                                         "--pairs", "6", "--size", "128", "--seed", "3", "--output", out.string()};
        if (cluttered)
            args.insert(args.end(), {"--backgrounds", bgList.string()});
        ASSERT_EQ(runCommand(sfnet::cmdGenerate, args), 0);
        const auto pairs = cv::semflow::loadPFPascalPairs((out / "test_pairs.csv").string());
        ASSERT_EQ(pairs.size(), 6u);
        for (const auto& p : pairs)
        {
            ASSERT_EQ(p.sourceKeypoints.size(), 2u);  // the -1 keypoint is dropped from every pair
            const cv::Mat a = cv::imread(p.sourceImage), b = cv::imread(p.targetImage);
            for (const auto& [img, kp] : {std::make_pair(a, p.sourceKeypoints[0]), std::make_pair(b, p.targetKeypoints[0])})
            {
                const cv::Vec3b v = img.at<cv::Vec3b>(cvRound(kp.y), cvRound(kp.x));
                EXPECT_GT(v[2], 150) << p.sourceImage << " at " << kp;
                EXPECT_LT(v[1], 100) << p.sourceImage << " at " << kp;
            }
            // The box column is the object's mask box, which holds every keypoint.
            for (const cv::Point2f& k : p.sourceKeypoints)
            {
                EXPECT_GE(k.x, p.sourceBox.x - 1.f);
                EXPECT_LE(k.x, p.sourceBox.x + p.sourceBox.width + 1.f);
                EXPECT_GE(k.y, p.sourceBox.y - 1.f);
                EXPECT_LE(k.y, p.sourceBox.y + p.sourceBox.height + 1.f);
            }
            const cv::Mat m = cv::imread((out / "masks" / fs::path(p.sourceImage).filename()).string(), cv::IMREAD_GRAYSCALE);
            ASSERT_FALSE(m.empty());
            EXPECT_EQ(m.at<uint8_t>(cvRound(p.sourceKeypoints[0].y), cvRound(p.sourceKeypoints[0].x)), 255);
        }
    }
    std::ofstream(csv) << "image,kind,X,Y\nanimals/a0.png,thing,1;x,2;3\n";
    EXPECT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--composite", csv.string(), "--stamps-root",
                                              (d / "stamps").string(), "--pairs", "1", "--output", (d / "bad").string()}),
              1);
    std::ofstream(csv) << "image,kind,X,Y\nanimals/missing.png,thing,1,2\nanimals/a0.png,thing,1,2\n";
    EXPECT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--composite", csv.string(), "--stamps-root",
                                              (d / "stamps").string(), "--pairs", "1", "--output", (d / "bad").string()}),
              1);
    EXPECT_EQ(runCommand(sfnet::cmdGenerate, {"generate", "--composite", csv.string(), "--output", (d / "bad").string()}),
              2);  // no --pairs
    fs::remove_all(d);
}

// The composite and near-identity options are range-checked before anything runs, each
// error naming its flag; through the CLI the same values end with exit code 1 and the message.
TEST(Training, CompositeOptionsAreValidated)
{
    const fs::path d = freshDir("composite_opts");
    const std::vector<std::pair<std::string, std::function<void(sfnet::TrainOptions&)>>> bad = {
        {"--composites", [](sfnet::TrainOptions& o) { o.compositesPerObject = 0; }},
        {"--distractors", [](sfnet::TrainOptions& o) { o.maxDistractors = 9; }},
        {"--distractors", [](sfnet::TrainOptions& o) { o.maxDistractors = -1; }},
        {"--other-background", [](sfnet::TrainOptions& o) { o.otherBackground = 1.5; }},
        {"--other-background", [](sfnet::TrainOptions& o) { o.otherBackground = std::nan(""); }},
        {"--identity-weight", [](sfnet::TrainOptions& o) { o.identityWeight = -0.1; }},
        {"--identity-weight", [](sfnet::TrainOptions& o) { o.identityWeight = 2; }}};
    for (const auto& [flag, set] : bad)
    {
        sfnet::TrainOptions o;
        o.data = "synthetic:2";
        o.output = d.string();
        set(o);
        try
        {
            sfnet::train(o);
            ADD_FAILURE() << flag << " out of range was accepted";
        }
        catch (const std::runtime_error& e)
        {
            EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
        }
    }
    // The real program: a clean message and exit code 1 (bad value) or 2 (bad usage).
    fs::create_directories(d);
    auto run = [&](const std::string& args) {
        const std::string log = (d / "cli.txt").string();
        const int status = std::system((std::string(SFNET_BINARY) + " train --data synthetic:2 --output " + d.string() +
                                        " " + args + " >" + log + " 2>&1").c_str());
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str());
    };
    const auto r1 = run("--other-background 7");
    EXPECT_EQ(r1.first, 1);
    EXPECT_NE(r1.second.find("--other-background must be a probability in [0, 1]"), std::string::npos) << r1.second;
    const auto r2 = run("--composites x");
    EXPECT_EQ(r2.first, 2);
    EXPECT_NE(r2.second.find("--composites"), std::string::npos) << r2.second;
    fs::remove_all(d);
}
