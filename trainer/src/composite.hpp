// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Composite training images: photo cut-outs (RGBA PNGs, alpha = exact mask) pasted onto
// random crops of background photographs, optionally with distractor cut-outs behind the
// object. Each composite is one masked image, which the paper's pair recipe
// (synthesizePair) turns into a training pair like any VOC image.
//
// OpenCV only, no LibTorch (part of the trainer's I/O library).

#include "data.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sfnet
{

/** @brief A photo cut-out: colour and its alpha, cropped to the alpha's bounding box. */
struct Cutout
{
    cv::Mat bgr;    ///< CV_8UC3
    cv::Mat alpha;  ///< CV_8UC1, 0..255, same size
    /// Pixel (x, y) of the file is pixel ((x - offset.x + 0.5) * scale - 0.5, same for y) here.
    cv::Point2d offset;
    double scale = 1;  ///< see offset

    /** @brief A pixel of the file in this cut-out's pixels. */
    cv::Point2d fromFile(const cv::Point2d& p) const
    {
        return {(p.x - offset.x + 0.5) * scale - 0.5, (p.y - offset.y + 0.5) * scale - 0.5};
    }
};

/** @brief Reads an RGBA (or grey + alpha) image as a Cutout.

@param maxSide the cut-out is shrunk (INTER_AREA) so that its longer side is at most this
@throws std::runtime_error naming the file when it is missing, cannot be decoded, has no
alpha channel, or its alpha is empty.
*/
Cutout readCutout(const std::string& path, int maxSide = 512);

/** @brief Reads a background photograph, shrunk so that its shorter side is at most
@p maxShortSide. @throws std::runtime_error naming the file when it cannot be read. */
cv::Mat readBackground(const std::string& path, int maxShortSide = 720);

/** @brief How composites are drawn. */
struct CompositeParams
{
    int size = 320;              ///< side of the square composite
    double minScale = 0.45;      ///< object's longer side, as a fraction of size (minimum)
    double maxScale = 0.85;      ///< ... (maximum)
    double minCrop = 0.4;        ///< background crop side / the photo's shorter side (minimum)
    int maxDistractors = 2;      ///< 0..maxDistractors distractor cut-outs (uniform count)
    double minDistractorScale = 0.2;   ///< distractor's longer side / size (minimum)
    double maxDistractorScale = 0.45;  ///< ... (maximum)
    double flipProb = 0.5;       ///< horizontal flip of the object (and of each distractor)
    /// Probability that an item also carries MaskedImage::otherBackground: the object at the
    /// same place on another background crop with other distractors, from which the pair's
    /// target view is made (so that the background cannot be matched).
    double otherBackgroundProb = 0;
};

/** @brief One composite. */
struct CompositeImage
{
    cv::Mat image;             ///< CV_8UC3 BGR, size x size
    cv::Mat mask;              ///< CV_8UC1 1/0: the object only (distractors are background)
    cv::Matx23d objectToImage; ///< cut-out pixel (of the Cutout as read) -> composite pixel
    cv::Rect box;              ///< bounding box of the mask
};

/** @brief A random crop of @p photo, resized to size x size, randomly flipped. */
cv::Mat randomBackgroundCrop(const cv::Mat& photo, int size, double minCrop, cv::RNG& rng);

/** @brief A plain background: one random colour with faint low-frequency variation. */
cv::Mat plainBackground(int size, cv::RNG& rng);

/** @brief Pastes @p distractors (each at a random place, scale and flip) and then
@p object (random scale in [minScale, maxScale], flip, position keeping it whole inside)
onto a copy of @p background (size x size, CV_8UC3), alpha-blended.
@param placement when given, the object goes exactly there (cut-out pixel -> image pixel)
instead of at a random place: the same object on another background.
@throws std::runtime_error if the background is not size x size CV_8UC3. */
CompositeImage compositeOnto(const cv::Mat& background, const Cutout& object,
                             const std::vector<const Cutout*>& distractors, const CompositeParams& p,
                             cv::RNG& rng, const cv::Matx23d* placement = nullptr);

/** @brief Reads a list of file paths, one per line ('#' starts a comment, blank lines are
skipped); relative paths are taken relative to the list's folder.
@throws std::runtime_error if the list cannot be read, is empty, or names a missing file
(the message names it). */
std::vector<std::string> readPathList(const std::string& listPath);

/** @brief `count` composites, item i made from object i % objects.size() on a random
background with random distractors, deterministic in (seed, i). Cut-outs and backgrounds
are decoded once, on first use, and kept in memory.

An unreadable cut-out or background makes load() fail with a message naming the file.
@throws std::runtime_error if a list is empty, count is 0, or the parameters are out of range.
*/
std::shared_ptr<ImageSource> openComposite(const std::vector<std::string>& objects,
                                           const std::vector<std::string>& backgrounds, size_t count,
                                           uint64_t seed, const CompositeParams& params);

/** @brief Opens `composite:DIR`: DIR/objects.txt and DIR/backgrounds.txt (readPathList).
@param perObject composites per object (the item count is perObject * objects). */
std::shared_ptr<ImageSource> openCompositeFolder(const std::string& dir, int perObject, uint64_t seed,
                                                 const CompositeParams& params);

}  // namespace sfnet
