// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.

// `sfnet export`: checkpoint (or random weights) -> ONNX graph for cv::SemanticFlow.

#include "cli_args.hpp"
#include "commands.hpp"
#include "export.hpp"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

namespace sfnet
{

int cmdExport(int argc, char** argv)
{
    std::string checkpoint, output, backbone;
    bool foldBn = true, fp16 = false, randomInit = false;
    double beta = 0, sigma = 0;
    int64_t seed = 0;
    CommandLine cl("export",
                   "usage: sfnet export --checkpoint CKPT.pt --output MODEL.onnx [options]\n"
                   "       sfnet export --backbone NAME --random-init [--seed N] --output MODEL.onnx [options]\n"
                   "\n"
                   "Writes the SFNet inference graph (modules/semflow/doc/onnx_ops.md) for cv::SemanticFlow / "
                   "cv::dnn.\n"
                   "\n");
    cl.option("--checkpoint", "PATH", "a checkpoint written by `sfnet train` or `sfnet import`", store(checkpoint));
    cl.option("--output, -o", "PATH", "the ONNX file to write (written atomically)", store(output));
    cl.flag("--keep-bn",
            "keep BatchNormalization nodes (default: fold every BatchNorm into\n"
            "its convolution, which OpenCV loads with one copy of the weights\n"
            "and fuses correctly after a batch-size change; doc/benchmarks.md)",
            [&] { foldBn = false; });
    cl.flag("--fold-bn", "fold (the default; accepted for scripts that spell it out)", [&] { foldBn = true; });
    cl.flag("--fp16",
            "store the weights as FP16 (half the file, faster to load) behind Cast\n"
            "nodes; OpenCV 4.14 loads it (flows within ~0.003 px of FP32 on\n"
            "ResNet-101), OpenCV 4.6 cannot (cv::SemanticFlow says so)",
            [&] { fp16 = true; });
    cl.option("--beta", "B",
              "kernel soft argmax temperature (default: the checkpoint's, 50);\n"
              "<= 0 exports the hard argmax",
              storeDouble(beta));
    cl.option("--sigma", "S", "Gaussian window width in feature cells (default: the checkpoint's, 5)",
              storeDouble(sigma));
    cl.option("--backbone", "NAME", "with --random-init: " + backboneNamesForHelp(), store(backbone));
    cl.flag("--random-init", "export randomly initialised weights (tests, benchmarks)", [&] { randomInit = true; });
    cl.option("--seed", "N", "seed for --random-init (default 0)", storeInt(seed));
    const int rc = cl.parse(argc, argv, [&] {
        if (output.empty())
            throw std::invalid_argument("--output is required");
        if (checkpoint.empty() == !randomInit)
            throw std::invalid_argument("give either --checkpoint or --random-init (exactly one)");
        if (randomInit && backbone.empty())
            throw std::invalid_argument("--random-init needs --backbone");
        if (!checkpoint.empty() && !backbone.empty())
            throw std::invalid_argument("--backbone is taken from the checkpoint; drop it");
    });
    if (rc >= 0)
        return rc;

    SFNet model{nullptr};
    if (randomInit)
    {
        torch::manual_seed(static_cast<uint64_t>(seed));
        ModelConfig cfg;
        cfg.backbone = backbone;
        model = SFNet(cfg);
    }
    else
    {
        model = loadModel(checkpoint);
    }
    ModelConfig cfg = model->config();
    if (cl.given("--beta"))
        cfg.beta = beta;
    if (cl.given("--sigma"))
        cfg.sigma = sigma;
    model->setConfig(cfg);
    model->eval();

    ExportOptions opts;
    opts.foldBatchNorm = foldBn;
    opts.fp16Weights = fp16;
    exportOnnx(model, output, opts);

    std::FILE* f = std::fopen(output.c_str(), "rb");
    long size = 0;
    if (f)
    {
        std::fseek(f, 0, SEEK_END);
        size = std::ftell(f);
        std::fclose(f);
    }
    std::cout << "wrote " << output << " (" << cfg.backbone << ", " << (size / 1e6) << " MB, "
              << (foldBn ? "BatchNorm folded" : "BatchNorm kept") << (fp16 ? ", FP16 weights" : "") << ", beta " << cfg.beta
              << ", sigma " << cfg.sigma << ", onnx::checker passed)\n";
    return 0;
}

}  // namespace sfnet
