// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

#include "perf_precomp.hpp"

#ifdef SEMFLOW_STANDALONE_TESTS
SEMFLOW_PERF_STANDALONE_MAIN()
#else
CV_PERF_TEST_MAIN(semflow)
#endif
