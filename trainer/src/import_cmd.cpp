// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet import`: torchvision ResNet weights and the SFNet authors' checkpoint -> the
// trainer's own checkpoint. The files are parsed by pth_reader (LibTorch cannot read
// OrderedDict state dicts nor the legacy format); this file maps keys onto the model.

#include "cli_args.hpp"
#include "commands.hpp"
#include "import.hpp"

#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

namespace sfnet
{
namespace
{
void printReport(const ImportReport& r, const std::string& source, const std::string& what)
{
    std::cout << "imported " << r.loaded << " tensors from " << source << " into " << what << "\n";
    for (const std::string& n : r.notes)
        std::cout << "  note: " << n << "\n";
}
}  // namespace

int cmdImport(int argc, char** argv)
{
    std::string backbone, resnet, sfnetPath, init, output;
    bool identity = false;
    double beta = 0, sigma = 0;
    int trainSize = 0;  // 0: keep the model's
    std::string weightsHelp = "the backbone's published ImageNet state dict -> the backbone\n"
                              "(the classifier's keys are ignored with a note):";
    for (const BackboneInfo& b : backboneRegistry())
        weightsHelp += "\n  " + b.name + ": " + b.summary;
    CommandLine cl("import",
                   "usage: sfnet import --backbone NAME [--backbone-weights FILE.pth] [--sfnet SFNET.pth] --output CKPT.pt\n"
                   "       sfnet import --init-checkpoint CKPT.pt [--backbone-weights ...] [--sfnet ...] --output CKPT.pt\n"
                   "\n"
                   "Imports published PyTorch weights (files written by torch.save, zip or pre-1.6 format)\n"
                   "into a semflow checkpoint for `sfnet train` / `sfnet export`.\n"
                   "\n");
    cl.option("--backbone", "NAME", backboneNamesForHelp(), store(backbone));
    cl.option("--backbone-weights, --resnet", "PATH", weightsHelp, store(resnet));
    cl.option("--sfnet", "PATH",
              "the SFNet authors' checkpoint ({'state_dict1', 'state_dict2'})\n"
              "-> the level-3 and level-4 adaptation layers",
              store(sfnetPath));
    cl.flag("--identity-adaptation",
            "make both adaptation layers the identity (an untrained baseline\n"
            "that matches raw backbone features; training starts from it)",
            [&] { identity = true; });
    cl.option("--init-checkpoint", "PATH", "start from this semflow checkpoint instead of random weights", store(init));
    cl.option("--beta", "B", "kernel soft argmax temperature stored in the checkpoint (default 50, or the init's)",
              storeDouble(beta));
    cl.option("--sigma", "S", "its Gaussian window width (default 5, or the init checkpoint's)",
              storeDouble(sigma));
    cl.option("--train-size", "S",
              "the square training resolution the weights were trained at,\n"
              "recorded in the checkpoint and the exported model's metadata\n"
              "(default 320, or the init checkpoint's); a multiple of 32 in [64, 2048]",
              [&](const std::string& o, const std::string& v) {
                  trainSize = parseInt32(o, v);
                  if (trainSize < 64 || trainSize > 2048 || trainSize % 32 != 0)  // as sfnet train --size
                      throw std::invalid_argument("--train-size must be a multiple of 32 in [64, 2048], got " +
                                                  std::to_string(trainSize));
              });
    cl.option("--output, -o", "PATH", "the checkpoint to write (atomically)", store(output));
    const int rc = cl.parse(argc, argv, [&] {
        if (output.empty())
            throw std::invalid_argument("--output is required");
        if (resnet.empty() && sfnetPath.empty())
            throw std::invalid_argument("nothing to import: give --backbone-weights (--resnet) and/or --sfnet");
        if (identity && !sfnetPath.empty())
            throw std::invalid_argument("--identity-adaptation and --sfnet both set the adaptation layers: give one");
        if (init.empty() && backbone.empty())
            throw std::invalid_argument("--backbone is required (or --init-checkpoint)");
    });
    if (rc >= 0)
        return rc;

    // Parse the inputs first: a bad file should fail before a big model is built.
    PthContents resnetWeights, sfnetWeights;
    if (!resnet.empty())
        resnetWeights = readPth(resnet);
    if (!sfnetPath.empty())
        sfnetWeights = readPth(sfnetPath);

    SFNet model{nullptr};
    if (!init.empty())
    {
        model = loadModel(init);
        if (!backbone.empty() && backbone != model->config().backbone)
            throw std::runtime_error("--backbone " + backbone + " contradicts " + init + ", which holds a " +
                                     model->config().backbone + " model");
    }
    else
    {
        torch::manual_seed(0);  // whatever is not imported is initialised reproducibly
        ModelConfig cfg;
        cfg.backbone = backbone;
        model = SFNet(cfg);
    }
    ModelConfig cfg = model->config();
    if (cl.given("--beta"))
        cfg.beta = beta;
    if (cl.given("--sigma"))
        cfg.sigma = sigma;
    if (trainSize > 0)
        cfg.trainHeight = cfg.trainWidth = trainSize;
    model->setConfig(cfg);

    if (!resnet.empty())
        printReport(importBackboneWeights(model, resnetWeights, resnet), resnet,
                    "the " + cfg.backbone + " backbone");
    else if (init.empty())
        std::cout << "warning: no --backbone-weights: the backbone keeps random weights\n";
    resnetWeights = PthContents();  // the model holds its own copy now
    if (!sfnetPath.empty())
        printReport(importAuthorsAdaptation(model, sfnetWeights, sfnetPath), sfnetPath, "the adaptation layers");
    else if (identity)
    {
        model->adaptation3()->setIdentity();
        model->adaptation4()->setIdentity();
        std::cout << "adaptation layers set to the identity\n";
    }
    else if (init.empty())
        std::cout << "note: no --sfnet: the adaptation layers are random (train them with `sfnet train`)\n";
    sfnetWeights = PthContents();

    saveModel(model, output);
    std::cout << "wrote " << output << " (backbone " << cfg.backbone << ", beta " << cfg.beta << ", sigma "
              << cfg.sigma << ")\n";
    return 0;
}

}  // namespace sfnet
