// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#ifndef OPENCV_SEMFLOW_SEMANTIC_FLOW_HPP
#define OPENCV_SEMFLOW_SEMANTIC_FLOW_HPP

#include "opencv2/core.hpp"

#ifndef CV_WRAP_FILE_PATH
// OpenCV before 4.8: path arguments are plain strings in Python (4.8+ also takes os.PathLike).
#define CV_WRAP_FILE_PATH
#endif
#include "opencv2/dnn/dnn.hpp"
#include "opencv2/video/tracking.hpp"

namespace cv {

//! @addtogroup semflow
//! @{

namespace semflow {
/** How SemanticFlow resizes an image to the network's input size (SemanticFlow::setResizeFilter). */
enum ResizeFilter
{
    /** cv::INTER_AREA when both sides shrink, cv::INTER_LINEAR otherwise (the default). */
    RESIZE_AREA_OR_LINEAR = 0,
    /** cv::semflow::resizeAntialiased: PIL's antialiased bilinear filter, as in SFNet's
        authors' evaluation code. */
    RESIZE_ANTIALIASED_BILINEAR = 1
};
}  // namespace semflow

/** @brief Dense semantic flow (SFNet) between two images of the same object category.

A cv::DenseOpticalFlow whose flow field matches *semantically* corresponding pixels of two
images of different object instances (two cats, two cars), computed by an SFNet
@cite Lee2019SFNet ONNX model (see @ref semflow_onnx_ops, `modules/semflow/doc/onnx_ops.md`,
"The SFNet inference graph") with OpenCV DNN.

**Flow convention** (the one of cv::DenseOpticalFlow): `flow` is CV_32FC2 at the size of the
first image, in pixels, channel 0 = dx, channel 1 = dy, and `source(p)` corresponds to
`target(p + flow(p))`, where `target` coordinates are pixels of the target image (which may
have a different size). cv::semflow::warpImage(target, flow) brings the target into the
source's frame.

**Input images**: CV_8U (0..255), or CV_32F or CV_64F already scaled to [0, 1] (values
outside, NaN or infinity raise cv::Exception; CV_64F, as scikit-image's `img_as_float` gives,
is converted to CV_32F, what the network computes in), with 1 (gray), 3 (BGR, as cv::imread
returns it) or 4 (BGRA, alpha ignored) channels, any size; source and target may differ in
size. Anything else raises cv::Exception naming what was received (in Python: the shape of an
array that is not one image, such as a `(1, H, W, 3)` batch). The network itself sees RGB.

**Preprocessing and the border protocol** (SFNet's own evaluation protocol). Let the model
input size be (W, H) = inputSize and the feature grid (Wg, Hg) = (W/16, H/16).
- `padBorder = true`: each image is resized to (W-32, H-32) (by default cv::INTER_AREA when
  shrinking, cv::INTER_LINEAR otherwise; see setResizeFilter()) and zero-padded by 16 pixels on every side. The outermost ring
  of cells of the output grid (which sees the padding) is dropped, the remaining
  (Wg-2, Hg-2) grid is scaled by (Wg/(Wg-2), Hg/(Hg-2)) so that it spans the unpadded area,
  upsampled bilinearly (align_corners=True) to the source image size, and converted to target
  pixels by `x_t = (g_x + 1) (W_t - 1) / 2`, `y_t = (g_y + 1) (H_t - 1) / 2`.
  The flow is `(x_t, y_t) - (x_s, y_s)`.
- `padBorder = false`: each image is resized to (W, H); the full (Wg, Hg) grid is upsampled
  (align_corners=True) to the source size and converted to target pixels the same way.

**Performance**: source and target are run through the network as one batch. For many pairs
use calcBatch(); to match one image against many, calcOneToMany() computes the source's
features once. An instance is not thread-safe (one network per instance); use one instance
per thread.

**Backends**: setPreferableBackend()/setPreferableTarget() forward to cv::dnn::Net. A
backend/target pair that this OpenCV build cannot run (e.g. cv::dnn::DNN_BACKEND_CUDA on a build
without CUDA, or a machine without a CUDA device) falls back to DNN_BACKEND_OPENCV /
DNN_TARGET_CPU with a logged warning; with setStrictBackend(true) it raises cv::Exception
instead. The custom layers (correlation, kernel soft argmax) run on the CPU on every backend.
On OpenCV 5.1, whose only DNN engine runs a graph on CUDA only when every layer has a CUDA
implementation and takes no other backend yet, DNN_BACKEND_OPENCV / DNN_TARGET_CPU is the only
pair: any other falls back (or raises in strict mode) in the same way.
*/
class CV_EXPORTS_W SemanticFlow : public DenseOpticalFlow
{
public:
    /** @brief Loads an SFNet ONNX model.

    @param model path to the ONNX file (inputs `source`, `target`; outputs `grid_s2t`,
           `grid_t2s`, `feat3_source`, `feat3_target`, `feat4_source`, `feat4_target`).
    @param inputSize network input size; both sides must be multiples of 32, at least 64.
    @param padBorder apply SFNet's border protocol (see the class description).
    @param beta kernel soft argmax temperature; a negative value keeps the model's (the `beta`
           of the graph's KernelSoftArgmax nodes, 50 where a node has none; the file's
           metadata is not consulted); 0 selects the hard argmax.
    @param sigma Gaussian window width in feature cells; negative keeps the model's (the
           nodes' `sigma`, 5 where absent); 0 disables the window.
    @param backend the cv::dnn::Backend to ask for (see setPreferableBackend()).
    @param target the cv::dnn::Target to ask for (see setPreferableTarget()).

    Raises cv::Exception saying which problem it found when the file is missing, empty,
    truncated or not an ONNX model, cannot be read by OpenCV's ONNX importer, lacks one of the
    expected inputs/outputs, or does not make its grids as the specification describes
    (KernelSoftArgmax of the product of two Correlations, with the same settings in both
    directions). Registers the semflow layers (cv::semflow::registerLayers).
    */
    CV_WRAP static Ptr<SemanticFlow> create(CV_WRAP_FILE_PATH const String& model, Size inputSize = Size(320, 320),
                                            bool padBorder = true, float beta = -1.f,
                                            float sigma = -1.f,
                                            dnn::Backend backend = dnn::DNN_BACKEND_OPENCV,
                                            dnn::Target target = dnn::DNN_TARGET_CPU);

    /** @brief Computes the source-to-target flow.

    @param source first image: CV_8U (0..255), or CV_32F / CV_64F in [0, 1], with 1, 3 (BGR)
           or 4 channels, any size.
    @param target second image, the same kinds; its size may differ from the source's.
    @param flow output CV_32FC2 flow at the source's size, in pixels: source(p) matches
           target(p + flow(p)), channel 0 = dx, channel 1 = dy. Any initial content is ignored.
           The class description gives the preprocessing (SFNet's border protocol).
    */
    CV_WRAP virtual void calc(InputArray source, InputArray target, InputOutputArray flow) CV_OVERRIDE = 0;

    /** @brief Computes both directions and a forward-backward consistency confidence in one
    network run.

    @param source first image.
    @param target second image.
    @param flowS2T CV_32FC2 at the source's size: source(p) matches target(p + flowS2T(p)).
    @param flowT2S CV_32FC2 at the target's size: target(q) matches source(q + flowT2S(q)).
    @param confidence optional CV_32FC1 at the source's size, in [0, 1]:
           `exp(-e^2 / (2 (a L)^2))` with the round-trip error
           `e = |flowS2T(p) + flowT2S(p + flowS2T(p))|` (flowT2S sampled bilinearly),
           `L = max(source width, source height)` and `a` = getConsistencyTolerance();
           0 where `p + flowS2T(p)` falls outside the target image.
    */
    CV_WRAP virtual void calcBidirectional(InputArray source, InputArray target,
                                           OutputArray flowS2T, OutputArray flowT2S,
                                           OutputArray confidence = noArray()) = 0;

    /** @brief Computes the source-to-target flow of many pairs, batching them through the
    network.

    @param sources source images (a vector of Mat); sizes and types may vary.
    @param targets target images, as many as sources.
    @param flows output vector of CV_32FC2 flows, flows[i] for (sources[i], targets[i]); the
           same result as calc() on each pair.
    */
    CV_WRAP virtual void calcBatch(InputArrayOfArrays sources, InputArrayOfArrays targets,
                                   OutputArrayOfArrays flows) = 0;

    /** @brief Matches one source image against many targets, computing the source's features
    only once.

    All images go through the network's feature extractor once each; the correlation and
    kernel soft argmax then run per target with cv::semflow::correlation and
    cv::semflow::kernelSoftArgmax, with the settings of the graph's own nodes (or the beta and
    sigma overrides). The result equals calc(source, targets[i]). Only the source's features
    are kept between network runs, so memory does not grow with the number of targets
    (beyond the output flows). Every image is checked before the first run.

    @param source the source image.
    @param targets target images (a vector of Mat).
    @param flows output vector of CV_32FC2 flows at the source's size, one per target.
    */
    CV_WRAP virtual void calcOneToMany(InputArray source, InputArrayOfArrays targets,
                                       OutputArrayOfArrays flows) = 0;

    /** @brief Asks the network to use a computation backend.

    A backend this build cannot run falls back to DNN_BACKEND_OPENCV / DNN_TARGET_CPU with a
    logged warning, or raises cv::Exception in strict mode (see setStrictBackend()). A value
    that is no cv::dnn::Backend (e.g. a cast integer; from Python any int arrives as one)
    raises cv::Exception.
    */
    CV_WRAP virtual void setPreferableBackend(dnn::Backend backendId) = 0;
    /** @brief Asks the network to use a target device; see setPreferableBackend() for what
    happens when the pair is unavailable or the value is no cv::dnn::Target. */
    CV_WRAP virtual void setPreferableTarget(dnn::Target targetId) = 0;
    /** @brief The backend in effect (after any fallback). */
    CV_WRAP virtual dnn::Backend getPreferableBackend() const = 0;
    /** @brief The target in effect (after any fallback). */
    CV_WRAP virtual dnn::Target getPreferableTarget() const = 0;
    /** @brief Strict mode: an unavailable backend/target raises cv::Exception instead of
    falling back to the CPU. Turning it on re-checks the last requested pair. Default: off. */
    CV_WRAP virtual void setStrictBackend(bool strict) = 0;
    /** @brief Whether strict backend mode is on. */
    CV_WRAP virtual bool getStrictBackend() const = 0;

    /** @brief Sets the kernel soft argmax temperature; negative restores the model's value,
    0 selects the hard argmax. A value different from the graph's makes the network's
    correlation/soft argmax be recomputed from its feature outputs (with the graph's other
    settings). */
    CV_WRAP virtual void setBeta(float beta) = 0;
    /** @brief The temperature in effect: the override, or the graph's. */
    CV_WRAP virtual float getBeta() const = 0;
    /** @brief Sets the Gaussian window width in feature cells; negative restores the model's
    value, 0 disables the window. */
    CV_WRAP virtual void setSigma(float sigma) = 0;
    /** @brief The window width in effect. */
    CV_WRAP virtual float getSigma() const = 0;

    /** @brief Sets `a` of the confidence of calcBidirectional(), as a fraction of the source
    image's larger side (default 0.05, the PCK@0.05 radius). Must be positive. */
    CV_WRAP virtual void setConsistencyTolerance(float alpha) = 0;
    /** @brief The confidence tolerance `a`. */
    CV_WRAP virtual float getConsistencyTolerance() const = 0;

    /** @brief The network input size. */
    CV_WRAP virtual Size getInputSize() const = 0;
    /** @brief Whether SFNet's border protocol is applied. */
    CV_WRAP virtual bool getPadBorder() const = 0;

    /** @brief Chooses how images are resized to the network's input size.
    Default: semflow::RESIZE_AREA_OR_LINEAR.
    semflow::RESIZE_ANTIALIASED_BILINEAR reproduces the resize of SFNet's authors' evaluation
    code (PIL's bilinear filter); doc/evaluation.md gives its measured effect. Raises
    cv::Exception for a value that is no cv::semflow::ResizeFilter. */
    CV_WRAP virtual void setResizeFilter(semflow::ResizeFilter filter) = 0;
    /** @brief The resize filter in effect. */
    CV_WRAP virtual semflow::ResizeFilter getResizeFilter() const = 0;
};

//! @}

}  // namespace cv

#endif  // OPENCV_SEMFLOW_SEMANTIC_FLOW_HPP
