// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_BENCHMARK_HPP
#define OPENCV_SEMFLOW_BENCHMARK_HPP

#include "opencv2/core.hpp"

#ifndef CV_WRAP_FILE_PATH
// OpenCV before 4.8: path arguments are plain strings in Python (4.8+ also takes os.PathLike).
#define CV_WRAP_FILE_PATH
#endif

#include <functional>
#include <string>
#include <vector>

namespace cv {
namespace semflow {

//! @addtogroup semflow
//! @{

/** @brief One annotated image pair of a keypoint-correspondence benchmark.

Keypoint i of the source matches keypoint i of the target. Coordinates are pixels of the
original images, exactly as the annotation gives them (no 0/1-based shift is applied:
every published evaluation script uses them as they are). A keypoint that is not
annotated in one of the two images (PF-PASCAL's `-1` padding, a `nan`) has
`valid[i] == 0` and does not count.
*/
struct CV_EXPORTS_W_SIMPLE KeypointPair
{
    //! An empty pair (no images, no keypoints), for the Python bindings.
    CV_WRAP KeypointPair() {}
    CV_PROP_RW String sourceImage;                    //!< path of the source image (root already joined)
    CV_PROP_RW String targetImage;                    //!< path of the target image (root already joined)
    CV_PROP_RW String category;                       //!< object class, e.g. "aeroplane", "car(G)"
    CV_PROP_RW std::vector<Point2f> sourceKeypoints;  //!< keypoints in the source image
    CV_PROP_RW std::vector<Point2f> targetKeypoints;  //!< keypoints in the target image, same length
    CV_PROP_RW std::vector<uchar> valid;              //!< 1 where keypoint i is annotated in both images
    /** Object bounding box in the source image as (x1, y1, x2 - x1, y2 - y1);
        width and height 0 when the annotation has none. */
    CV_PROP_RW Rect2f sourceBox;
    CV_PROP_RW Rect2f targetBox;                      //!< same for the target image
    /** PCK reference length given by the annotation for the source image (the `L_pck`
        column of SFNet's `bbox_*_pairs_pf_pascal.csv`: the larger side of the source
        object's bounding box); negative when absent. */
    CV_PROP_RW float sourceLpck = -1.f;
    CV_PROP_RW float targetLpck = -1.f;               //!< same for the target image; negative when absent
    CV_PROP_RW Size sourceSize;                       //!< source image size if known (SPair gives it), else empty
    CV_PROP_RW Size targetSize;                       //!< target image size if known, else empty
    CV_PROP_RW bool flip = false;                     //!< PF-PASCAL training lists: the pair is meant to be mirrored
    CV_PROP_RW String annotation;                     //!< where the pair came from, "file:line", for messages

    //! Number of keypoints annotated in both images.
    CV_WRAP int numValid() const;
};

/** @brief Reads a PF-PASCAL pair list (CSV with a header row).

Columns are found by header name (case-insensitive), so every published variant loads:
- `source_image,target_image,class,XA,YA,XB,YB` (WeakAlign / NC-Net / SFNet
  `{val,test}_pairs_pf_pascal.csv`): coordinate lists separated by `;`;
- the same with an `L_pck` column (SFNet's `bbox_{val,test}_pairs_pf_pascal.csv`);
- `source_image,target_image,class,flip` (training lists): pairs without keypoints;
- optional box columns `source_bbox`/`target_bbox` (or `bboxA`/`bboxB`) holding `x1;y1;x2;y2`.

`class` is the 1-based PASCAL VOC class index (1 = aeroplane ... 20 = tvmonitor) or a class
name. A keypoint at (-1, -1) or with a `nan` coordinate in either image is marked invalid.

@param csvFile path of the CSV file.
@param imageRoot directory the image paths of the CSV are relative to; empty = the CSV's
       directory. When `root/path` does not exist but `root/path` minus its leading
       directories does (the CSV sits inside `PF-dataset-PASCAL/`), the shorter one is used.
@throws cv::Exception naming the file and line of a malformed row.
*/
CV_EXPORTS_W std::vector<KeypointPair> loadPFPascalPairs(CV_WRAP_FILE_PATH const String& csvFile,
                                                       CV_WRAP_FILE_PATH const String& imageRoot = String());

/** @brief Reads the PF-WILLOW pair list (`test_pairs_pf.csv`).

Layout (header row, then one pair per row): imageA, imageB, the 10 x then the 10 y
coordinates of image A, then the 10 x and 10 y of image B (42 columns). The class is
the name of the folder holding imageA (`car(G)`, `duck(S)`, ...). Image A is the source.
@param csvFile path of the CSV file.
@param imageRoot as for loadPFPascalPairs().
@throws cv::Exception naming the file and line of a malformed row.
*/
CV_EXPORTS_W std::vector<KeypointPair> loadPFWillowPairs(CV_WRAP_FILE_PATH const String& csvFile,
                                                       CV_WRAP_FILE_PATH const String& imageRoot = String());

/** @brief Reads one SPair-71k pair annotation (`PairAnnotation/<split>/<name>.json`).

Uses `src_imname`, `trg_imname`, `category`, `src_kps`, `trg_kps` (lists of [x, y], only the
keypoints visible in both images), `src_bndbox`, `trg_bndbox` ([x1, y1, x2, y2]) and, when
present, `src_imsize`/`trg_imsize` ([w, h, c]). Images are `<imageRoot>/<category>/<name>`.
@throws cv::Exception naming the file (and line, for JSON syntax errors).
*/
CV_EXPORTS_W KeypointPair loadSPairAnnotation(CV_WRAP_FILE_PATH const String& jsonFile,
                                             CV_WRAP_FILE_PATH const String& imageRoot);

/** @brief Reads a SPair-71k split: `Layout/<layout>/<split>.txt` lists the pair names, each
annotated by `PairAnnotation/<split>/<name>.json`, images under `JPEGImages/<category>/`.
@param root the `SPair-71k` directory.
@param split `trn`, `val` or `test` (`train` is accepted for `trn`).
@param layout `large` (the benchmark) or `small`.
@throws cv::Exception naming the file and line of a malformed entry.
*/
CV_EXPORTS_W std::vector<KeypointPair> loadSPairPairs(CV_WRAP_FILE_PATH const String& root, const String& split,
                                                    const String& layout = "large");

/** @brief Loads a benchmark split by its standard file names.

- `pf-pascal`: the first that exists of `bbox_<split>_pairs_pf_pascal.csv`,
  `<split>_pairs_pf_pascal.csv`, `<split>_pairs.csv` in @p root (`trn`/`train` both accepted);
- `pf-willow`: `test_pairs_pf.csv` or `test_pairs.csv` in @p root (split must be `test`);
- `spair`: loadSPairPairs(root, split).
@throws cv::Exception listing the files it looked for when none exists.
*/
CV_EXPORTS_W std::vector<KeypointPair> loadBenchmark(const String& dataset, CV_WRAP_FILE_PATH const String& root,
                                                   const String& split);

/** @brief The same pair in images resized to other sizes (e.g. the network input size).

Keypoints and boxes are scaled per axis by new/old size; the `L_pck` values are dropped
(set negative) because a length has no single scale under anisotropic resizing. Use it to
score flows computed at a working resolution: PCK with PCK_THRESHOLD_IMAGE_SQUARE is exactly
invariant under this resizing (errors are normalised per axis), the other thresholds are not.
@param pair a pair whose sourceSize and targetSize are set.
@param sourceSize the new source size.
@param targetSize the new target size.
*/
CV_EXPORTS_W KeypointPair resizeKeypointPair(const KeypointPair& pair, Size sourceSize, Size targetSize);

/** @brief What the PCK threshold length L is measured on. */
enum PCKThreshold
{
    /** L = max(width, height) of the image the error is measured in. */
    PCK_THRESHOLD_IMAGE = 0,
    /** Errors measured after resizing that image to a square (SCNet, WeakAlign, SFNet's
        PF-PASCAL protocol): correct iff sqrt((dx/W)^2 + (dy/H)^2) <= alpha. */
    PCK_THRESHOLD_IMAGE_SQUARE = 1,
    /** L = max side of the object's annotated bounding box in that image (SPair-71k; the
        `L_pck` column of SFNet's PF-PASCAL bbox CSVs when no box is given). */
    PCK_THRESHOLD_BBOX = 2,
    /** L = max side of the extent of the valid keypoints in that image (what PF-WILLOW
        papers, SFNet included, call "bounding box"). */
    PCK_THRESHOLD_BBOX_KEYPOINTS = 3
};

/** @brief Which way keypoints are transferred through the flow. */
enum TransferDirection
{
    /** Source keypoints move by the source-sized flow of calc(source, target); the error is
        measured against the target keypoints, in the target image. */
    TRANSFER_SOURCE_TO_TARGET = 0,
    /** Target keypoints move by the target-sized flow of calc(target, source); the error is
        measured against the source keypoints, in the source image (SFNet's protocol). */
    TRANSFER_TARGET_TO_SOURCE = 1
};

/** @brief A complete PCK protocol: every choice that makes two numbers comparable. */
struct CV_EXPORTS_W_SIMPLE PCKProtocol
{
    //! The defaults: alphas 0.05, 0.1, 0.15 (set in the body: the bindings generator cannot
    //! parse a brace initializer), image threshold, source to target.
    //! The default protocol: the thresholds above, alphas 0.05, 0.1 and 0.15.
    CV_WRAP PCKProtocol() { alphas = std::vector<float>{0.05f, 0.1f, 0.15f}; }
    CV_PROP_RW std::vector<float> alphas;                           //!< PCK@alpha for each
    CV_PROP_RW PCKThreshold threshold = PCK_THRESHOLD_IMAGE;         //!< what L is
    CV_PROP_RW TransferDirection direction = TRANSFER_SOURCE_TO_TARGET; //!< transfer direction

    //! One sentence saying exactly what is computed.
    CV_WRAP String describe() const;
};

/** @name Protocol names
The names command-line tools and reports use for the protocol choices (`--threshold bbox`,
`"direction": "t2s"`). C++ only: in Python the enum constants (cv.semflow.PCK_THRESHOLD_BBOX,
...) name the choices, and PCKProtocol::describe() states them in words.
@{ */
//! Parses "image", "image-square", "bbox", "bbox-kp" (cv::Exception otherwise).
CV_EXPORTS PCKThreshold parsePCKThreshold(const String& name);
//! The name parsePCKThreshold() accepts.
CV_EXPORTS String pckThresholdName(PCKThreshold threshold);
//! Parses "s2t" or "t2s" (cv::Exception otherwise).
CV_EXPORTS TransferDirection parseTransferDirection(const String& name);
//! The name parseTransferDirection() accepts.
CV_EXPORTS String transferDirectionName(TransferDirection direction);
/** @} */

/** @brief The PCK outcome of one pair. */
struct CV_EXPORTS_W_SIMPLE PairPCK
{
    CV_PROP_RW int index = -1;                     //!< index of the pair in the evaluated list
    CV_PROP_RW String category;                    //!< the pair's class
    CV_PROP_RW String sourceImage;                 //!< copied from the pair, for reports
    CV_PROP_RW String targetImage;                 //!< copied from the pair, for reports
    CV_PROP_RW int numKeypoints = 0;               //!< valid keypoints that were scored
    /** L in pixels of the image the error is measured in (0 for PCK_THRESHOLD_IMAGE_SQUARE,
        whose per-axis normalisation has no single length). */
    CV_PROP_RW double referenceLength = 0;
    CV_PROP_RW std::vector<int> correct;           //!< correct keypoints, one count per alpha
    CV_PROP_RW std::vector<Point2f> predicted;     //!< transferred valid keypoints, in scoring order
    CV_PROP_RW std::vector<Point2f> groundTruth;   //!< their annotated positions
    CV_PROP_RW std::vector<double> normalizedErrors; //!< distance / L per scored keypoint (+inf where the flow is not finite)

    //! correct[a] / numKeypoints (0 when there are no keypoints).
    CV_WRAP double pck(size_t alphaIndex) const;
};

/** @brief Scores one pair given its flow.

@param pair the annotation. The size of the image the flow starts from is taken from the
       pair (sourceSize or targetSize) if set, else from the flow; the size of the image the
       error is measured in is needed for the image thresholds.
@param flow CV_32FC2: for TRANSFER_SOURCE_TO_TARGET the flow of calc(source, target) at the
       source size; for TRANSFER_TARGET_TO_SOURCE the flow of calc(target, source) at the
       target size.
@param protocol alphas, threshold, direction.
@param index stored in the result.
@throws cv::Exception when the flow has the wrong type or size, or the threshold needs
        something the pair lacks (a box, an image size).
*/
CV_EXPORTS_W PairPCK evaluatePairPCK(const KeypointPair& pair, InputArray flow,
                                   const PCKProtocol& protocol, int index = -1);

/** @brief PCK of one group of pairs (one class, or all). */
struct CV_EXPORTS_W_SIMPLE PCKRow
{
    CV_PROP_RW String category;                    //!< class name, or "all"
    CV_PROP_RW int pairs = 0;                      //!< pairs with at least one valid keypoint
    CV_PROP_RW int keypoints = 0;                  //!< valid keypoints
    CV_PROP_RW std::vector<double> perPair;        //!< mean over pairs of the pair's PCK, one per alpha
    CV_PROP_RW std::vector<double> perKeypoint;    //!< correct keypoints / keypoints, one per alpha
};

/** @brief A benchmark result: the protocol it used, per class and overall. */
struct CV_EXPORTS_W_SIMPLE PCKResult
{
    CV_PROP_RW PCKProtocol protocol;               //!< how the numbers were computed
    CV_PROP_RW String dataset;                     //!< free label, e.g. "pf-pascal test"
    CV_PROP_RW std::vector<PCKRow> classes;        //!< one row per class, sorted by name
    CV_PROP_RW PCKRow overall;                     //!< all pairs together
    CV_PROP_RW std::vector<double> classMean;      //!< mean over classes of perPair, one per alpha
    CV_PROP_RW int skippedPairs = 0;               //!< pairs without any valid keypoint (not scored)
    CV_PROP_RW std::vector<PairPCK> pairs;         //!< the per-pair outcomes

    //! The protocol description, prefixed with the dataset label.
    CV_WRAP String describe() const;
    // Report formats (a table, JSON, CSV) are the evaluation tool's, not the library's:
    // modules/semflow/samples/pck_report.hpp (doc/design.md, "The public API").
};

/** @brief Aggregates per-pair outcomes into the per-class and overall tables. */
CV_EXPORTS_W PCKResult summarizePCK(const std::vector<PairPCK>& pairs, const PCKProtocol& protocol,
                                  const String& dataset = String());

/** @brief Scores flows already computed for a list of pairs (e.g. by a training loop).

flows[i] belongs to pairs[i], in the direction @p protocol names; see evaluatePairPCK().
*/
CV_EXPORTS_W PCKResult computePCK(const std::vector<KeypointPair>& pairs,
                                const std::vector<Mat>& flows, const PCKProtocol& protocol,
                                const String& dataset = String());

/** @brief Computes a flow from image `from` to image `to`: CV_32FC2 at the size of `from`,
`from(p)` matching `to(p + flow(p))`, e.g. cv::SemanticFlow::calc. */
typedef std::function<void(const Mat& from, const Mat& to, Mat& flow)> FlowFunction;

/** @brief Reads each pair's images, computes the flow in the protocol's direction and scores it.

Images are read in colour with cv::imread; a missing or unreadable image is a cv::Exception
naming the file and the annotation. For TRANSFER_TARGET_TO_SOURCE the function is called as
computeFlow(target, source, flow).
@param pairs the annotated pairs (sizes are filled in from the images).
@param computeFlow the flow method under test.
@param protocol alphas, threshold, direction.
@param dataset label stored in the result.
@param progress called after each pair with (done, total); may be empty.
*/
CV_EXPORTS PCKResult evaluateBenchmark(const std::vector<KeypointPair>& pairs,
                                       const FlowFunction& computeFlow,
                                       const PCKProtocol& protocol,
                                       const String& dataset = String(),
                                       const std::function<void(int, int)>& progress = nullptr);

//! @}

}  // namespace semflow
}  // namespace cv

#endif  // OPENCV_SEMFLOW_BENCHMARK_HPP
