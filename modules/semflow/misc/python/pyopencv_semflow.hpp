// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Names the Python bindings generator uses for vectors of semflow's wrapped structs.
#ifdef HAVE_OPENCV_SEMFLOW
typedef std::vector<cv::semflow::KeypointPair> vector_KeypointPair;
typedef std::vector<cv::semflow::PairPCK> vector_PairPCK;
typedef std::vector<cv::semflow::PCKRow> vector_PCKRow;
#endif
