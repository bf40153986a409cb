// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Training data for SFNet: image + binary foreground mask sources (PASCAL VOC 2012,
// a plain folder, a procedural generator), the paper's pair synthesis (one image ->
// two jittered, affinely warped copies with truncation-aware masks at the feature grid)
// and a multi-threaded, deterministic batch loader.
//
// OpenCV only, no LibTorch: the loop (train.cpp) turns cv::Mat into tensors.

#include <opencv2/core.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sfnet
{

/** @brief One training image and its foreground. */
struct MaskedImage
{
    cv::Mat image;  ///< CV_8UC3, BGR (as cv::imread gives it)
    cv::Mat mask;   ///< CV_8UC1, same size, 1 = foreground, 0 = background
    /// Optional (composites): the same object at the same place on another background, with
    /// other distractors; synthesizePair makes the target view from it instead of from image.
    cv::Mat otherBackground;
};

/** @brief A list of images with foreground masks, read lazily (thread-safe).

load() may be called from several threads at once. A file that cannot be read or
decoded, or whose mask does not match its image, makes load() return false with a
message in @p error; it never throws for bad data.
*/
class ImageSource
{
public:
    virtual ~ImageSource() = default;
    /** @brief Number of items. */
    virtual size_t size() const = 0;
    /** @brief A name for item i (file stem), for messages. */
    virtual std::string name(size_t i) const = 0;
    /** @brief Reads item i; false (and a reason in @p error) when it is unreadable. */
    virtual bool load(size_t i, MaskedImage& out, std::string& error) const = 0;
};

/** @brief PASCAL VOC 2012 segmentation data.

Reads `<root>/ImageSets/Segmentation/<imageSet>.txt`, then for each listed name
`<root>/JPEGImages/<name>.jpg` and `<root>/<maskDir>/<name>.png`, where maskDir is
"SegmentationClass" (default) or "SegmentationObject".

Foreground = every labelled object pixel: label != 0 (background) and != 255 (void).
VOC draws its void band (255) along every object boundary and over ambiguous regions;
it is treated as background, so objects lose about half of that 5-pixel band, which is
far below one feature cell (16 px). The PNGs are palette images, which OpenCV expands to
colours: black is background and (224,224,192) is void; grey-level PNGs holding raw
labels are handled too.

@param exclude names to leave out (file stems, e.g. "2008_000123"); see readNameList.
@throws std::runtime_error if the root, the list or the mask folder is missing.
*/
std::shared_ptr<ImageSource> openVoc(const std::string& root, const std::string& imageSet = "trainval",
                                     const std::string& maskDir = "SegmentationClass",
                                     const std::vector<std::string>& exclude = {});

/** @brief A plain folder: `<root>/images/<name>.<jpg|jpeg|png|bmp>` with
`<root>/masks/<name>.png` (any non-zero mask value is foreground).

Images without a mask are skipped at open time (counted in @p missingMasks when given).
`sfnet generate` writes this layout.
@throws std::runtime_error if the folders are missing or hold no image with a mask.
*/
std::shared_ptr<ImageSource> openFolder(const std::string& root, size_t* missingMasks = nullptr);

/** @brief Procedurally generated images (see generateImage): items 0..count-1 of @p seed. */
std::shared_ptr<ImageSource> openSynthetic(size_t count, uint64_t seed = 0, int imageSize = 256);

/** @brief How `composite:DIR` data is drawn (see composite.hpp). */
struct CompositeSpec
{
    int perObject = 8;       ///< composites per cut-out: the item count is perObject * cut-outs
    int maxDistractors = 2;  ///< 0..maxDistractors distractor cut-outs per composite
    double otherBackground = 0;  ///< probability that a pair's two views have different backgrounds
    uint64_t seed = 0;       ///< which composites (fixed for the whole run)
};

/** @brief Parses a `--data` value: "voc:DIR", "folder:DIR", "composite:DIR", "synthetic" or
"synthetic:N".

@param vocSet, vocMaskDir, exclude passed to openVoc.
@param imageSize side of the generated images and of the composites.
@param composite how composites are drawn (composite:DIR only).
@throws std::runtime_error with the accepted forms on anything else.
*/
std::shared_ptr<ImageSource> openDataSpec(const std::string& spec, const std::string& vocSet = "trainval",
                                          const std::string& vocMaskDir = "SegmentationClass",
                                          const std::vector<std::string>& exclude = {},
                                          int imageSize = 256, const CompositeSpec& composite = {});

/** @brief Reads a list of image names to exclude.

Accepts one name per line or a CSV such as PF-PASCAL's pair list: every comma- or
whitespace-separated field counts, reduced to its file stem
("PF-dataset-PASCAL/JPEGImages/2009_003054.jpg" -> "2009_003054"). Header words and
numbers simply match nothing.
@throws std::runtime_error if the file cannot be read.
*/
std::vector<std::string> readNameList(const std::string& path);

/** @brief Number of procedural shape classes. */
constexpr int kGeneratedClasses = 4;
/** @brief Keypoints per generated object (same semantic order for every instance of a class). */
constexpr int kGeneratedKeypoints = 8;

/** @brief One procedurally generated image. */
struct GeneratedImage
{
    cv::Mat image;                       ///< CV_8UC3 BGR, size x size
    cv::Mat mask;                        ///< CV_8UC1 exact foreground (1/0) of the object
    int shapeClass = 0;                  ///< 0..kGeneratedClasses-1
    std::vector<cv::Point2f> keypoints;  ///< kGeneratedKeypoints semantic points, pixels
};

/** @brief Draws item @p index of the generated set @p seed (deterministic).

Each image holds one object of one of kGeneratedClasses classes on a textured
background with a few distractor blobs. A class is a fixed layout of coloured parts
(body, head, eyes, stripes, ...) drawn through a random per-instance affine map (scale,
rotation, aspect, shear, position), with per-instance colour and texture variation, so two
instances of a class correspond part by part; the keypoints are the same template points
through the instance map. The mask is exactly the union of the object's drawn parts.
*/
GeneratedImage generateImage(uint64_t seed, uint64_t index, int size = 256);

/** @brief How the warped masks are shrunk to the feature grid before thresholding. */
enum class MaskShrink
{
    /// PIL's antialiased bilinear resize (what the SFNet authors' code uses): a triangle
    /// filter stretched to the scale factor, so about 2 cells wide at 320 -> 20.
    Antialiased,
    /// cv::INTER_AREA: the mean over each cell's 16x16 box.
    Area
};

/** @brief PIL's antialiased bilinear resize (`Image.resize(size, BILINEAR)`) of a
single-channel float mask: cv::semflow::resizeAntialiased (the module's, which
cv::SemanticFlow uses with semflow::RESIZE_ANTIALIASED_BILINEAR), restricted to CV_32FC1.
@param src CV_32FC1, non-empty
@param dsize target size, both sides > 0
@throws cv::Exception on other input.
*/
cv::Mat resizeAntialiasedBilinear(const cv::Mat& src, cv::Size dsize);

/** @brief Pair synthesis parameters (doc/design.md, "Training"). */
struct AugmentParams
{
    int size = 320;              ///< square input side, multiple of 32
    int stride = 16;             ///< feature stride: masks come at size/stride
    double affineSigma = 0.15;   ///< std of the 6 normalised affine parameters around identity
    double jitter = 0.1;         ///< brightness, contrast, saturation and hue jitter strength
    double hflipProb = 0.5;      ///< probability of flipping the image (both copies)
    double maskThreshold = 0.1;  ///< feature-grid masks are binarised at this level
    MaskShrink maskShrink = MaskShrink::Antialiased;  ///< the authors' shrink by default
};

/** @brief A training pair made from one image. */
struct PairSample
{
    cv::Mat source, target;  ///< CV_32FC3, RGB in [0,1], size x size (zero where warped out of view)
    cv::Mat maskS, maskT;    ///< CV_32FC1 0/1 at the feature grid (size/stride)
    /// The normalised affines (align_corners=true coordinates, row-major 2x3): pixel p of
    /// the source shows the (flipped, resized) original at thetaS * (p, 1); same for target.
    cv::Matx23d thetaS, thetaT;
};

/** @brief The paper's pair synthesis (deterministic in @p seed).

Resize to size x size, horizontal flip with probability hflipProb, two independent colour
jitters (random order of brightness/contrast/saturation/hue, as torchvision), each copy
warped by its own affine I + N(0, affineSigma^2) on the 6 normalised parameters (output
pixel p samples the input at theta * p, bilinear, zeros outside). The mask is resized,
restricted to the part of the object visible in BOTH views (so truncated pixels are zero
in both), warped like each copy, shrunk to the feature grid (params.maskShrink) and binarised
(> maskThreshold). When in.otherBackground is set, the target copy is made from it (same
object, same place, another background), so only the object can be matched.
*/
PairSample synthesizePair(const MaskedImage& in, const AugmentParams& params, uint64_t seed);

/** @brief True source->target correspondence of a PairSample: where source pixel
(x, y) (pixels of the size x size input) lands in the target (pixels). */
cv::Point2d pairCorrespondence(const PairSample& pair, int size, cv::Point2d sourcePixel);

/** @brief 64-bit mix of (seed, a, b) (splitmix64); the loader's per-sample seeds. */
uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b = 0);

/** @brief Multi-threaded batch loader whose output depends only on (seed, epoch, batch).

The epoch's order is a permutation drawn from (seed, epoch); item k of the epoch is
synthesised with seed mixSeed(seed, epoch, k). Workers read and synthesise samples in
parallel and the next batch is prepared while the caller trains on the current one,
but scheduling never changes the result. Unreadable items are skipped with a warning on
stderr (once per item) and counted; their batch is simply smaller. The last batch of an
epoch may be smaller too (no item is dropped).

With shards > 1 (data-parallel training), batch b of the epoch is still the global batch
of batchSize items, and this loader returns only its contiguous part: positions
[k0 + len * shard / shards, k0 + len * (shard + 1) / shards) of the len items of the batch
starting at k0. The shards of all ranks together are exactly the unsharded batch.
*/
class PairLoader
{
public:
    /** @param batchSize global batch size (all shards together)
    @param workers number of worker threads (>= 1)
    @param shard, shards this loader's part of every batch (0 <= shard < shards). */
    PairLoader(std::shared_ptr<ImageSource> source, const AugmentParams& params, int batchSize,
               int workers, uint64_t seed, int shard = 0, int shards = 1);
    ~PairLoader();
    PairLoader(const PairLoader&) = delete;
    PairLoader& operator=(const PairLoader&) = delete;

    /** @brief Batches per epoch: ceil(source size / batch size). */
    int64_t batchesPerEpoch() const;
    /** @brief Samples of batch @p b of epoch @p epoch (blocks until ready). With
    @p prefetchNext the following batch is started in the background. */
    std::vector<PairSample> batch(int64_t epoch, int64_t b, bool prefetchNext = true);
    /** @brief Item index in the source of position k of epoch @p epoch. */
    size_t itemAt(int64_t epoch, int64_t k) const;
    /** @brief Number of load failures so far (each failing read counts). */
    int64_t skipped() const;
    const AugmentParams& params() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sfnet
