#!/usr/bin/env python
# This file is part of OpenCV project.
# It is subject to the license terms in the LICENSE file found in the top-level directory
# of this distribution and at http://opencv.org/license.html.
"""Python bindings of the semflow module, checked against independent references.

Runs under pytest, or OpenCV's own runner (modules/python/test/test.py). Test data is found
the OpenCV way, under OPENCV_TEST_DATA_PATH (this repository's test_data/ is such a tree);
tests that need it skip when it is absent. The comparison with C++ runs the C++ demo given
by SEMFLOW_DEMO_BIN (scripts/build_opencv.sh builds it against the same OpenCV) and skips,
saying so, without it.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import cv2 as cv

try:
    from tests_common import NewOpenCVTests
except ImportError:  # outside OpenCV's test tree: the same interface, on unittest
    class NewOpenCVTests(unittest.TestCase):
        def find_file(self, filename, searchPaths=(), required=True):
            for path in searchPaths:
                if path and os.path.isfile(os.path.join(path, filename)):
                    return os.path.join(path, filename)
            if required:
                self.fail("File " + filename + " not found")
            self.skipTest("File " + filename + " not found")


def data_roots():
    return [os.environ.get("OPENCV_TEST_DATA_PATH")]


class SemflowTestCase(NewOpenCVTests):
    def data(self, relative):
        """semflow/<relative> in the test data tree; skips the test when it is absent."""
        return self.find_file("semflow/" + relative, data_roots(), required=False)

    def model(self):
        return self.data("models/semflow_tiny.onnx")

    def demo_pair(self):
        src = cv.imread(self.data("demo/source.png"), cv.IMREAD_COLOR)
        tgt = cv.imread(self.data("demo/target.png"), cv.IMREAD_COLOR)
        self.assertIsNotNone(src)
        self.assertIsNotNone(tgt)
        return src, tgt

    def assertRaisesMessage(self, needle, fn, *args, **kwargs):
        with self.assertRaises(cv.error) as ctx:
            fn(*args, **kwargs)
        self.assertIn(needle, str(ctx.exception))


def naive_correlation(fs, ft, normalize=True, relu=True):
    """[N,C,Hs,Ws] x [N,C,Ht,Wt] -> [N,Ht*Wt,Hs,Ws], in float64."""
    fs = fs.astype(np.float64)
    ft = ft.astype(np.float64)
    if normalize:
        fs = fs / np.sqrt((fs ** 2).sum(axis=1, keepdims=True) + 1e-6)
        ft = ft / np.sqrt((ft ** 2).sum(axis=1, keepdims=True) + 1e-6)
    n, c, hs, ws = fs.shape
    ht, wt = ft.shape[2:]
    out = np.einsum("ncj,nci->nji", ft.reshape(n, c, ht * wt), fs.reshape(n, c, hs * ws))
    if relu:
        out = np.maximum(out, 0)
    return out.reshape(n, ht * wt, hs, ws)


def naive_kernel_soft_argmax(corr, wt, ht, beta, sigma, normalize=True):
    """The formula of layers.hpp, one source position at a time."""
    corr = corr.astype(np.float64)
    n, hw, hs, ws = corr.shape
    if normalize:
        corr = corr / np.sqrt((corr ** 2).sum(axis=1, keepdims=True) + 1e-6)
    ys, xs = np.divmod(np.arange(hw), wt)
    xn = -1 + 2.0 * xs / (wt - 1)
    yn = -1 + 2.0 * ys / (ht - 1)
    grid = np.zeros((n, 2, hs, ws))
    for b in range(n):
        for y in range(hs):
            for x in range(ws):
                c = corr[b, :, y, x]
                j = int(np.argmax(c))
                k = np.exp(-((xs - xs[j]) ** 2 + (ys - ys[j]) ** 2) / (2.0 * sigma ** 2))
                z = beta * k * c
                m = np.exp(z - z.max())
                m /= m.sum()
                grid[b, 0, y, x] = (m * xn).sum()
                grid[b, 1, y, x] = (m * yn).sum()
    return grid


class semflow_layers_test(SemflowTestCase):
    def test_correlation_matches_a_naive_product(self):
        rng = np.random.default_rng(3)
        fs = rng.uniform(-1, 1, (2, 6, 3, 5)).astype(np.float32)
        ft = rng.uniform(-1, 1, (2, 6, 4, 2)).astype(np.float32)
        for normalize in (True, False):
            for relu in (True, False):
                corr = cv.semflow.correlation(fs, ft, normalize=normalize, relu=relu)
                self.assertEqual(corr.shape, (2, 8, 3, 5))
                ref = naive_correlation(fs, ft, normalize, relu)
                self.assertLessEqual(np.abs(corr - ref).max(), 1e-5)

    def test_kernel_soft_argmax_matches_the_formula(self):
        rng = np.random.default_rng(5)
        corr = rng.uniform(0, 1, (1, 4 * 3, 2, 3)).astype(np.float32)
        grid = cv.semflow.kernelSoftArgmax(corr, (4, 3), beta=50.0, sigma=5.0)
        self.assertEqual(grid.shape, (1, 2, 2, 3))
        ref = naive_kernel_soft_argmax(corr, 4, 3, 50.0, 5.0)
        self.assertLessEqual(np.abs(grid - ref).max(), 1e-5)

    def test_hand_made_graph_loads_after_register_layers(self):
        # test_data/semflow/onnx/ops_c24_b30_s4.onnx (make_onnx_fixtures.py, the one generator of
        # the hand-made graphs the C++ tests read too): Correlation, then KernelSoftArgmax with
        # beta 30, sigma 4; every size symbolic except the 24 channels.
        path = self.data("onnx/ops_c24_b30_s4.onnx")
        cv.semflow.registerLayers()
        cv.semflow.registerLayers()  # any number of times
        net = cv.dnn.readNetFromONNX(path)
        rng = np.random.default_rng(17)
        fs = rng.uniform(-1, 1, (2, 24, 5, 7)).astype(np.float32)
        ft = rng.uniform(-1, 1, (2, 24, 6, 4)).astype(np.float32)
        net.setInput(fs, "source")
        net.setInput(ft, "target")
        grid = net.forward("grid")
        ref = naive_kernel_soft_argmax(naive_correlation(fs, ft), 4, 6, 30.0, 4.0)
        self.assertEqual(grid.shape, ref.shape)
        self.assertLessEqual(np.abs(grid - ref).max(), 1e-5)

    def test_bad_layer_inputs_raise_the_cpp_message(self):
        a = np.zeros((1, 4, 2, 2), np.float32)
        b = np.zeros((1, 5, 2, 2), np.float32)
        self.assertRaisesMessage("semflow Correlation: source and target features must have the "
                                 "same channel count, got 4 and 5", cv.semflow.correlation, a, b)
        self.assertRaisesMessage("semflow correlation: source features must be CV_32F, got CV_64FC1",
                                 cv.semflow.correlation, a.astype(np.float64), b)
        corr = np.zeros((1, 6, 2, 2), np.float32)
        self.assertRaisesMessage("the correlation has 6 channels but the target grid is 4x4",
                                 cv.semflow.kernelSoftArgmax, corr, (4, 4))


class semflow_flow_utils_test(SemflowTestCase):
    def test_warp_image_is_remap_by_position_plus_flow(self):
        rng = np.random.default_rng(7)
        img = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
        flow = rng.uniform(-3, 3, (12, 16, 2)).astype(np.float32)
        out = cv.semflow.warpImage(img, flow)
        gx, gy = np.meshgrid(np.arange(16, dtype=np.float32), np.arange(12, dtype=np.float32))
        ref = cv.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv.INTER_LINEAR,
                       borderMode=cv.BORDER_CONSTANT)
        np.testing.assert_array_equal(out, ref)

    def test_warp_labels_and_transfer_mask_against_numpy(self):
        rng = np.random.default_rng(9)
        labels = rng.integers(0, 50, (9, 11), dtype=np.int32)
        flow = np.zeros((9, 11, 2), np.float32)
        flow[..., 0] = 1.4   # rounds to one pixel right
        flow[..., 1] = -0.6  # and one up
        out = cv.semflow.warpLabels(labels, flow, fill=-7)
        ref = np.full_like(labels, -7)
        ref[1:, :-1] = labels[:-1, 1:]  # dst(y, x) = labels(y - 1, x + 1)
        np.testing.assert_array_equal(out, ref)
        mask = (rng.random((9, 11)) > 0.5).astype(np.uint8) * 200
        flow[..., 0] = 2.0  # whole pixels: the bilinear sample is the mask value itself
        flow[..., 1] = -1.0
        moved = cv.semflow.transferMask(mask, flow)
        ref = np.zeros((9, 11), np.uint8)
        ref[1:, :-2] = np.where(mask[:-1, 2:] > 0, 255, 0)
        np.testing.assert_array_equal(moved, ref)

    def test_transfer_keypoints_adds_the_flow(self):
        flow = np.zeros((10, 10, 2), np.float32)
        flow[..., 0] = 2.5
        flow[..., 1] = -1.0
        pts = cv.semflow.transferKeypoints([(1, 2), (7.5, 3.25)], flow)
        self.assertEqual((pts.shape, pts.dtype), ((2, 2), np.float32))
        np.testing.assert_allclose(pts, [[3.5, 1.0], [10.0, 2.25]], atol=1e-6)

    def test_transfer_keypoints_takes_any_numeric_points_array(self):
        flow = np.zeros((10, 10, 2), np.float32)
        flow[..., 0] = 2.5
        flow[..., 1] = -1.0
        expected = np.array([[3.5, 1.0], [9.5, 2.0], [2.5, 8.0]], np.float32)
        base = np.array([[1, 2], [7, 3], [0, 9]])
        for dtype in (np.int64, np.int32, np.uint8, np.float64, np.float32):
            for layout in ((3, 2), (3, 1, 2)):
                pts = cv.semflow.transferKeypoints(base.astype(dtype).reshape(layout), flow)
                self.assertEqual((pts.shape, pts.dtype), ((3, 2), np.float32), (dtype, layout))
                np.testing.assert_array_equal(pts, expected)
        wide = np.zeros((3, 4), np.float64)  # a strided view: columns 1..2 of a wider array
        wide[:, 1:3] = base
        np.testing.assert_array_equal(cv.semflow.transferKeypoints(wide[:, 1:3], flow), expected)
        # No points: an empty tuple, as cv2 returns every empty vector (len() and iteration work).
        self.assertEqual(cv.semflow.transferKeypoints(np.zeros((0, 2), np.int64), flow), ())
        self.assertRaisesMessage("points must be N points: an (N, 2) or (N, 1, 2) array",
                                 cv.semflow.transferKeypoints, np.zeros((3, 3), np.float32), flow)
        self.assertRaisesMessage("point 1 is not finite", cv.semflow.transferKeypoints,
                                 np.array([[1, 2], [np.nan, 3]]), flow)

    def test_flow_to_color_and_draw_flow_matches(self):
        white = cv.semflow.flowToColor(np.zeros((4, 5, 2), np.float32))
        self.assertEqual(white.shape, (4, 5, 3))
        self.assertTrue((white == 255).all())
        src = np.zeros((40, 30, 3), np.uint8)
        tgt = np.zeros((20, 50, 3), np.uint8)
        out = cv.semflow.drawFlowMatches(src, tgt, np.zeros((40, 30, 2), np.float32), step=8)
        self.assertEqual(out.shape, (40, 80, 3))
        self.assertRaisesMessage("drawFlowMatches: step must be >= 1, got 0",
                                 cv.semflow.drawFlowMatches, src, tgt,
                                 np.zeros((40, 30, 2), np.float32), step=0)
        self.assertRaisesMessage("warpImage: the image is empty", cv.semflow.warpImage,
                                 np.zeros((0, 0), np.uint8), np.zeros((4, 4, 2), np.float32))


class semflow_semantic_flow_test(SemflowTestCase):
    def test_create_and_settings(self):
        sf = cv.SemanticFlow.create(self.model())
        self.assertIsInstance(sf, cv.DenseOpticalFlow)
        self.assertEqual(tuple(sf.getInputSize()), (320, 320))
        self.assertTrue(sf.getPadBorder())
        sf.setBeta(30.0)
        sf.setSigma(3.0)
        self.assertEqual(sf.getBeta(), 30.0)
        self.assertEqual(sf.getSigma(), 3.0)
        sf.setPreferableBackend(cv.dnn.DNN_BACKEND_OPENCV)
        sf.setPreferableTarget(cv.dnn.DNN_TARGET_CPU)
        self.assertEqual(sf.getPreferableBackend(), cv.dnn.DNN_BACKEND_OPENCV)
        self.assertEqual(sf.getPreferableTarget(), cv.dnn.DNN_TARGET_CPU)
        sf.setStrictBackend(True)
        self.assertTrue(sf.getStrictBackend())
        sf.setConsistencyTolerance(0.1)
        self.assertAlmostEqual(sf.getConsistencyTolerance(), 0.1, places=6)
        self.assertEqual(sf.getResizeFilter(), cv.semflow.RESIZE_AREA_OR_LINEAR)
        sf.setResizeFilter(cv.semflow.RESIZE_ANTIALIASED_BILINEAR)
        self.assertEqual(sf.getResizeFilter(), cv.semflow.RESIZE_ANTIALIASED_BILINEAR)
        self.assertRaisesMessage("expected semflow::RESIZE_AREA_OR_LINEAR (0)", sf.setResizeFilter, 7)

    def test_hand_made_graphs_give_their_settings_and_errors(self):
        # Committed hand-made SFNet graphs (test_data/semflow/onnx/, make_onnx_fixtures.py):
        # the settings are the graph nodes' (beta 30, sigma 3 here), and a graph without the
        # SFNet interface is refused by name.
        sf = cv.SemanticFlow.create(self.data("onnx/hand_sfnet_b30_s3.onnx"))
        self.assertEqual(sf.getBeta(), 30.0)
        self.assertEqual(sf.getSigma(), 3.0)
        self.assertRaisesMessage("has no graph output 'feat4_target'", cv.SemanticFlow.create,
                                 self.data("onnx/hand_sfnet_drop_feat4_target.onnx"))

    def test_calc_variants_agree(self):
        src, tgt = self.demo_pair()
        sf = cv.SemanticFlow.create(self.model())
        flow = sf.calc(src, tgt, None)
        self.assertEqual(flow.shape, src.shape[:2] + (2,))
        self.assertEqual(flow.dtype, np.float32)
        s2t, t2s, conf = sf.calcBidirectional(src, tgt)
        self.assertLessEqual(np.abs(s2t - flow).max(), 1e-6)
        self.assertEqual(t2s.shape, tgt.shape[:2] + (2,))
        self.assertEqual(conf.shape, src.shape[:2])
        self.assertTrue(((conf >= 0) & (conf <= 1)).all())
        flows = sf.calcBatch([src, tgt], [tgt, src])
        # A tuple of arrays, as cv2 returns every vector of arrays (cv2.split, dnn.Net.forward).
        self.assertIsInstance(flows, tuple)
        self.assertEqual(len(flows), 2)
        self.assertLessEqual(np.abs(flows[0] - flow).max(), 1e-4)  # the C++ test's tolerance
        self.assertLessEqual(np.abs(flows[1] - t2s).max(), 1e-4)
        many = sf.calcOneToMany(src, [tgt, src])
        self.assertIsInstance(many, tuple)
        self.assertEqual(len(many), 2)
        self.assertLessEqual(np.abs(many[0] - flow).max(), 1e-3)  # the C++ test's tolerance

    def test_same_flow_as_the_cpp_demo(self):
        demo = os.environ.get("SEMFLOW_DEMO_BIN")
        if not demo or not os.path.isfile(demo):
            self.skipTest("SEMFLOW_DEMO_BIN does not name the C++ semflow_demo built against this "
                          "cv2's OpenCV (scripts/build_opencv.sh builds it)")
        src_path, tgt_path, model = self.data("demo/source.png"), self.data("demo/target.png"), self.model()
        out = tempfile.mkdtemp(prefix="semflow_py_")
        subprocess.run([demo, src_path, tgt_path, "--model=" + model, "--out=" + out, "--runs=1"],
                       check=True, stdout=subprocess.DEVNULL)
        cpp = cv.readOpticalFlow(os.path.join(out, "flow.flo"))
        self.assertIsNotNone(cpp)
        src = cv.imread(src_path, cv.IMREAD_COLOR)
        tgt = cv.imread(tgt_path, cv.IMREAD_COLOR)
        sf = cv.SemanticFlow.create(model)
        flow = sf.calc(src, tgt, None)
        self.assertEqual(flow.shape, cpp.shape)
        self.assertLessEqual(np.abs(flow - cpp).max(), 1e-6)

    def test_create_prints_nothing_at_the_default_log_level(self):
        # OpenCV 4.7 to 5.0's ONNX importer warns once per node of a custom domain (39 lines for
        # the default model) although it then uses the registered layers; create() silences that
        # at the default level only (5.1's importer no longer warns). Each run in its own
        # process, to read what C++ prints.
        model = self.data("models/semflow_effnet_lite0.onnx")
        code = "import sys, cv2; cv2.SemanticFlow.create(sys.argv[1]); print('created')"

        def run(**env):
            e = dict(os.environ)
            e.pop("OPENCV_LOG_LEVEL", None)
            e.update(env)
            return subprocess.run([sys.executable, "-c", code, model], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, check=True, env=e)
        quiet = run()
        self.assertEqual(quiet.stdout.strip(), "created")
        self.assertEqual(quiet.stderr, "")
        major, minor = (int(v) for v in cv.__version__.split(".")[:2])
        # A level the user chose is left alone: the importer's messages are there to see
        # (OpenCV logs warnings to stderr and INFO lines to stdout).
        loud = run(OPENCV_LOG_LEVEL="INFO")
        if (4, 7) <= (major, minor) < (5, 1):
            self.assertIn("missing dispatch map for domain='org.opencv.semflow'", loud.stderr)
        elif (major, minor) >= (5, 1):
            self.assertIn("domain='org.opencv.semflow'", loud.stdout)

    def test_help_shows_the_flow_convention_and_the_accepted_images(self):
        # OpenCV's generator gives no class its own __doc__ (cv2.DenseOpticalFlow's is None too),
        # so what help() must say lives in the method docs.
        doc = cv.SemanticFlow.calc.__doc__
        for needle in ("source(p) matches", "target(p + flow(p))", "CV_8U (0..255)", "CV_64F in [0, 1]"):
            self.assertIn(needle, doc)

    def test_backend_numbers_and_the_cuda_fallback_warning(self):
        sf = cv.SemanticFlow.create(self.model())
        self.assertRaisesMessage("12345 is not a cv::dnn::Backend", sf.setPreferableBackend, 12345)
        self.assertRaisesMessage("77 is not a cv::dnn::Target", sf.setPreferableTarget, 77)
        self.assertEqual(sf.getPreferableBackend(), cv.dnn.DNN_BACKEND_OPENCV)
        # The usual two calls ask for one pair: one warning, not two.
        code = ("import sys, cv2; sf = cv2.SemanticFlow.create(sys.argv[1]); "
                "sf.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA); sf.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA); "
                "print(sf.getPreferableBackend())")
        env = dict(os.environ)
        env.pop("OPENCV_LOG_LEVEL", None)
        r = subprocess.run([sys.executable, "-c", code, self.model()], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, check=True, env=env)
        if r.stdout.strip() == str(cv.dnn.DNN_BACKEND_CUDA):
            self.skipTest("this cv2 runs CUDA here: nothing falls back")
        self.assertEqual(r.stdout.strip(), str(cv.dnn.DNN_BACKEND_OPENCV))
        self.assertEqual(r.stderr.count("falling back to DNN_BACKEND_OPENCV"), 1, r.stderr)

    def test_python_demo_writes_the_tutorials_files(self):
        demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "..",
                            "samples", "python", "semflow_demo.py")
        if not os.path.isfile(demo):
            self.skipTest("samples/python/semflow_demo.py is not beside this test (not the semflow repo)")
        out = tempfile.mkdtemp(prefix="semflow_pydemo_")
        src, tgt = self.data("demo/source.png"), self.data("demo/target.png")
        subprocess.run([sys.executable, demo, src, tgt, "--model", self.model(), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        self.assertEqual(sorted(os.listdir(out)), ["confidence.png", "flow.flo", "flow_color.png",
                                                   "matches.png", "warped_source.png"])
        # matches.png draws only the confident matches: recomputed here from the confidence.
        source, target = cv.imread(src), cv.imread(tgt)
        sf = cv.SemanticFlow.create(self.model())
        flow, back, conf = sf.calcBidirectional(source, target)
        confident = cv.semflow.drawFlowMatches(source, target, flow, step=24, mask=(conf > 0.5).astype(np.uint8))
        every = cv.semflow.drawFlowMatches(source, target, flow, step=24)
        written = cv.imread(os.path.join(out, "matches.png"))
        self.assertTrue(0 < (conf > 0.5).mean() < 1, "the pair must have both kinds of match")
        self.assertEqual(np.abs(written.astype(int) - confident).max(), 0)
        self.assertGreater(np.abs(written.astype(int) - every).max(), 0)
        warped = cv.imread(os.path.join(out, "warped_source.png"))
        self.assertEqual(warped.shape, target.shape)  # the source in the target's frame

    def test_paths_and_float64_images_as_numpy_users_pass_them(self):
        import pathlib
        major, minor = (int(v) for v in cv.__version__.split(".")[:2])
        src, tgt = self.demo_pair()
        sf = cv.SemanticFlow.create(self.model())
        if (major, minor) >= (4, 8):  # os.PathLike arguments: CV_WRAP_FILE_PATH
            sf_path = cv.SemanticFlow.create(pathlib.Path(self.model()))
            self.assertEqual(np.abs(sf_path.calc(src, tgt, None) - sf.calc(src, tgt, None)).max(), 0)
            csv = pathlib.Path(self.data("photo_pairs/test_pairs_pf_pascal.csv"))
            self.assertEqual(len(cv.semflow.loadPFPascalPairs(csv, csv.parent)),
                             len(cv.semflow.loadPFPascalPairs(str(csv), str(csv.parent))))
        # float64 in [0, 1] (scikit-image's img_as_float) gives the float32 image's flow.
        s32, t32 = src.astype(np.float32) / 255, tgt.astype(np.float32) / 255
        f32 = sf.calc(s32, t32, None)
        f64 = sf.calc(s32.astype(np.float64), t32.astype(np.float64), None)
        self.assertEqual(np.abs(f32 - f64).max(), 0)
        # What NumPy users get wrong is named: a batch axis, int arrays, 0..255 floats.
        self.assertRaisesMessage("got a 4-D array of CV_8UC1, shape [1 x %d x %d x 3]" % src.shape[:2],
                                 sf.calc, src[None], tgt, None)
        self.assertRaisesMessage("NumPy int32 and int64 arrays arrive as CV_32S", sf.calc,
                                 src.astype(np.int64), tgt, None)
        self.assertRaisesMessage("is CV_64F, so its values must lie in [0, 1]", sf.calc,
                                 src.astype(np.float64), tgt, None)

    def test_bad_inputs_raise_the_cpp_message(self):
        self.assertRaisesMessage("no model file given", cv.SemanticFlow.create, "")
        self.assertRaisesMessage("missing or unreadable", cv.SemanticFlow.create,
                                 "/nonexistent/dir/model.onnx")
        sf = cv.SemanticFlow.create(self.model())
        src, _ = self.demo_pair()
        self.assertRaisesMessage("source image is empty", sf.calc, np.zeros((0, 0, 3), np.uint8), src, None)
        self.assertRaisesMessage("got CV_16UC3", sf.calc, np.zeros((32, 32, 3), np.uint16), src, None)
        self.assertRaisesMessage("must lie in [0, 1]", sf.calc, src.astype(np.float32), src, None)


class semflow_benchmark_test(SemflowTestCase):
    def test_pf_pascal_loader_reads_the_csv(self):
        csv = self.data("benchmarks/pf-pascal/test_pairs_pf_pascal.csv")
        pairs = cv.semflow.loadPFPascalPairs(csv)
        with open(csv) as f:
            rows = [line.strip().split(",") for line in f.readlines()[1:] if line.strip()]
        self.assertEqual(len(pairs), len(rows))
        first = pairs[0]
        self.assertEqual(first.category, "aeroplane")  # class 1
        self.assertTrue(first.sourceImage.endswith(rows[0][0]))
        xa, ya, xb, yb = ([float(v) for v in rows[0][c].split(";")] for c in range(3, 7))
        valid = [min(v) >= 0 for v in zip(xa, ya, xb, yb)]  # -1 pads a missing keypoint
        self.assertEqual(list(np.asarray(first.valid).reshape(-1) != 0), valid)
        self.assertEqual(first.numValid(), sum(valid))
        src = np.asarray(first.sourceKeypoints).reshape(-1, 2)[valid]
        tgt = np.asarray(first.targetKeypoints).reshape(-1, 2)[valid]
        np.testing.assert_allclose(src, np.array([xa, ya]).T[valid])
        np.testing.assert_allclose(tgt, np.array([xb, yb]).T[valid])

    def spair_root(self):
        layout = self.data("benchmarks/spair/Layout/large/test.txt")  # find_file wants a file
        return os.path.dirname(os.path.dirname(os.path.dirname(layout)))

    def test_pf_pascal_lpck_and_flip_columns(self):
        csv = self.data("benchmarks/pf-pascal/bbox_test_pairs_pf_pascal.csv")
        with open(csv) as f:
            rows = [line.strip().split(",") for line in f.readlines()[1:] if line.strip()]
        pairs = cv.semflow.loadPFPascalPairs(csv)
        self.assertEqual([p.sourceLpck for p in pairs], [float(r[7]) for r in rows])
        self.assertTrue(all(p.targetLpck < 0 for p in pairs))  # the CSVs give the source's only
        self.assertTrue(pairs[0].targetImage.endswith(rows[0][1]))
        self.assertIn("bbox_test_pairs_pf_pascal.csv:2", pairs[0].annotation)
        train = self.data("benchmarks/pf-pascal/train_pairs_pf_pascal.csv")
        with open(train) as f:
            flips = [line.strip().split(",")[3] == "1" for line in f.readlines()[1:] if line.strip()]
        self.assertEqual([p.flip for p in cv.semflow.loadPFPascalPairs(train)], flips)

    def test_pf_willow_spair_and_by_name_loaders(self):
        csv = self.data("benchmarks/pf-willow/test_pairs_pf.csv")
        with open(csv) as f:
            row = f.readlines()[1].strip().split(",")
        willow = cv.semflow.loadPFWillowPairs(csv)
        self.assertEqual(willow[0].category, "car(G)")  # the folder of image A
        xy = np.array([float(v) for v in row[2:]]).reshape(4, 10)  # xA, yA, xB, yB
        np.testing.assert_allclose(np.asarray(willow[0].sourceKeypoints).reshape(-1, 2), xy[:2].T)
        np.testing.assert_allclose(np.asarray(willow[0].targetKeypoints).reshape(-1, 2), xy[2:].T)

        root = self.spair_root()
        name = "000001-2008_000008-2008_000015:aeroplane.json"
        path = os.path.join(root, "PairAnnotation", "test", name)
        with open(path) as f:
            ann = json.load(f)
        pair = cv.semflow.loadSPairAnnotation(path, os.path.join(root, "JPEGImages"))
        self.assertEqual(pair.category, ann["category"])
        self.assertTrue(pair.sourceImage.endswith(os.path.join("aeroplane", ann["src_imname"])))
        np.testing.assert_allclose(np.asarray(pair.sourceKeypoints).reshape(-1, 2), ann["src_kps"])
        np.testing.assert_allclose(np.asarray(pair.targetKeypoints).reshape(-1, 2), ann["trg_kps"])
        x1, y1, x2, y2 = ann["src_bndbox"]
        np.testing.assert_allclose(pair.sourceBox, (x1, y1, x2 - x1, y2 - y1))
        x1, y1, x2, y2 = ann["trg_bndbox"]
        np.testing.assert_allclose(pair.targetBox, (x1, y1, x2 - x1, y2 - y1))
        self.assertEqual(tuple(pair.sourceSize), tuple(ann["src_imsize"][:2]))

        by_name = cv.semflow.loadBenchmark("spair", root, "test")
        direct = cv.semflow.loadSPairPairs(root, "test")
        self.assertEqual([(p.sourceImage, p.targetImage) for p in by_name],
                         [(p.sourceImage, p.targetImage) for p in direct])
        self.assertEqual(len(by_name), 2)
        empty = cv.semflow.KeypointPair()
        self.assertEqual(empty.numValid(), 0)
        self.assertLess(empty.sourceLpck, 0)
        self.assertFalse(empty.flip)

    def test_resize_keypoint_pair_scales_per_axis(self):
        pair = cv.semflow.loadSPairPairs(self.spair_root(), "test")[0]
        (ws, hs), (wt, ht) = pair.sourceSize, pair.targetSize
        out = cv.semflow.resizeKeypointPair(pair, (2 * ws, hs), (wt, 3 * ht))
        self.assertEqual(tuple(out.sourceSize), (2 * ws, hs))
        src = np.asarray(pair.sourceKeypoints).reshape(-1, 2)
        tgt = np.asarray(pair.targetKeypoints).reshape(-1, 2)
        np.testing.assert_allclose(np.asarray(out.sourceKeypoints).reshape(-1, 2), src * [2, 1], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(out.targetKeypoints).reshape(-1, 2), tgt * [1, 3], rtol=1e-6)
        np.testing.assert_allclose(out.targetBox, np.multiply(pair.targetBox, [1, 3, 1, 3]), rtol=1e-6)
        self.assertLess(out.sourceLpck, 0)

    def test_pair_pck_and_summary_match_numpy(self):
        pairs = cv.semflow.loadSPairPairs(self.spair_root(), "test")
        protocol = cv.semflow.PCKProtocol()  # alphas 0.05, 0.1, 0.15
        protocol.threshold = cv.semflow.PCK_THRESHOLD_BBOX
        alphas = np.asarray(protocol.alphas, np.float64).reshape(-1)
        results = []
        for i, p in enumerate(pairs):
            flow = np.zeros((p.sourceSize[1], p.sourceSize[0], 2), np.float32)
            r = cv.semflow.evaluatePairPCK(p, flow, protocol, index=i)
            valid = np.asarray(p.valid).reshape(-1) != 0
            src = np.asarray(p.sourceKeypoints).reshape(-1, 2)[valid]
            tgt = np.asarray(p.targetKeypoints).reshape(-1, 2)[valid]
            L = max(p.targetBox[2], p.targetBox[3])  # the target object's box
            err = np.linalg.norm(src - tgt, axis=1)
            self.assertEqual((r.index, r.category, r.numKeypoints), (i, p.category, int(valid.sum())))
            self.assertAlmostEqual(r.referenceLength, L, places=5)
            np.testing.assert_allclose(np.asarray(r.predicted).reshape(-1, 2), src)  # the zero flow
            np.testing.assert_allclose(np.asarray(r.groundTruth).reshape(-1, 2), tgt)
            np.testing.assert_allclose(np.asarray(r.normalizedErrors).reshape(-1), err / L, rtol=1e-6)
            correct = [int((err <= a * L).sum()) for a in alphas]
            self.assertEqual(list(np.asarray(r.correct).reshape(-1)), correct)
            self.assertAlmostEqual(r.pck(1), correct[1] / valid.sum())
            results.append(r)
        summary = cv.semflow.summarizePCK(results, protocol, "spair test")
        self.assertEqual(summary.dataset, "spair test")
        self.assertEqual(summary.protocol.threshold, cv.semflow.PCK_THRESHOLD_BBOX)
        self.assertEqual(summary.skippedPairs, 0)
        self.assertEqual(len(summary.pairs), len(pairs))
        self.assertEqual([c.category for c in summary.classes], sorted(p.category for p in pairs))
        per_pair = np.array([[r.pck(a) for a in range(len(alphas))] for r in results])
        np.testing.assert_allclose(np.asarray(summary.overall.perPair).reshape(-1), per_pair.mean(axis=0))
        # One pair per class here: the class mean is the mean of the classes' per-pair PCK.
        np.testing.assert_allclose(np.asarray(summary.classMean).reshape(-1),
                                   np.mean([np.asarray(c.perPair).reshape(-1) for c in summary.classes], axis=0))
        self.assertEqual(summary.overall.pairs, len(pairs))

    def test_pck_of_the_zero_flow_matches_numpy(self):
        layout = self.data("benchmarks/spair/Layout/large/test.txt")  # find_file wants a file
        root = os.path.dirname(os.path.dirname(os.path.dirname(layout)))
        pairs = cv.semflow.loadSPairPairs(root, "test")
        self.assertGreater(len(pairs), 0)
        protocol = cv.semflow.PCKProtocol()
        protocol.alphas = [0.05, 0.1, 0.2]
        protocol.threshold = cv.semflow.PCK_THRESHOLD_IMAGE
        protocol.direction = cv.semflow.TRANSFER_SOURCE_TO_TARGET
        flows = [np.zeros((p.sourceSize[1], p.sourceSize[0], 2), np.float32) for p in pairs]
        result = cv.semflow.computePCK(pairs, flows, protocol, "spair test")
        correct = np.zeros(3)
        total = 0
        for p in pairs:
            src = np.asarray(p.sourceKeypoints).reshape(-1, 2)
            tgt = np.asarray(p.targetKeypoints).reshape(-1, 2)
            valid = np.asarray(p.valid).reshape(-1) != 0
            err = np.linalg.norm(src[valid] - tgt[valid], axis=1)
            L = max(p.targetSize)
            for a, alpha in enumerate(protocol.alphas):
                correct[a] += (err <= alpha * L).sum()
            total += valid.sum()
        self.assertEqual(result.overall.keypoints, total)
        np.testing.assert_allclose(result.overall.perKeypoint, correct / total, atol=1e-12)
        self.assertIn("spair test", result.describe())

    def test_protocol_choices_are_the_enum_constants(self):
        # The C++ name parsers (parsePCKThreshold, ...) are for command-line tools; in Python the
        # constants name the choices, with the C++ numbers, and describe() states them in words.
        self.assertEqual([cv.semflow.PCK_THRESHOLD_IMAGE, cv.semflow.PCK_THRESHOLD_IMAGE_SQUARE,
                          cv.semflow.PCK_THRESHOLD_BBOX, cv.semflow.PCK_THRESHOLD_BBOX_KEYPOINTS], [0, 1, 2, 3])
        self.assertEqual([cv.semflow.TRANSFER_SOURCE_TO_TARGET, cv.semflow.TRANSFER_TARGET_TO_SOURCE], [0, 1])
        protocol = cv.semflow.PCKProtocol()
        np.testing.assert_allclose(np.asarray(protocol.alphas).reshape(-1), [0.05, 0.1, 0.15], rtol=1e-6)
        self.assertEqual(protocol.threshold, cv.semflow.PCK_THRESHOLD_IMAGE)
        self.assertEqual(protocol.direction, cv.semflow.TRANSFER_SOURCE_TO_TARGET)
        protocol.threshold = cv.semflow.PCK_THRESHOLD_BBOX_KEYPOINTS
        protocol.direction = cv.semflow.TRANSFER_TARGET_TO_SOURCE
        self.assertIn("threshold 'bbox-kp'", protocol.describe())
        self.assertIn("calc(target, source)", protocol.describe())


if __name__ == "__main__":
    NewOpenCVTests.bootstrap()
