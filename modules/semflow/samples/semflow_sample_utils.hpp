// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Small helpers shared by the semflow samples (header-only, C++11, so that OpenCV's
// ocv_add_samples builds each sample from its one .cpp). The repository's samples test
// (samples/test/test_sample_utils.cpp) checks them directly.

#ifndef OPENCV_SEMFLOW_SAMPLE_UTILS_HPP
#define OPENCV_SEMFLOW_SAMPLE_UTILS_HPP

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/core/utility.hpp"
#include "opencv2/core/utils/logger.hpp"
#include "opencv2/imgcodecs.hpp"

namespace semflow_samples {

/** Tells cv::samples::findFile where the bundled data is: the data folders this build was
configured with (SEMFLOW_SAMPLES_DATA_DIRS, '|'-separated; absent in an OpenCV source build),
and the `semflow/` subfolder of OPENCV_SAMPLES_DATA_PATH (opencv_extra's testdata layout). */
inline void addBundledDataSearchPaths()
{
#ifdef SEMFLOW_SAMPLES_DATA_DIRS
    std::stringstream dirs(SEMFLOW_SAMPLES_DATA_DIRS);
    std::string dir;
    while (std::getline(dirs, dir, '|'))
        if (!dir.empty())
            cv::samples::addSamplesDataSearchPath(dir);  // ignored when it does not exist
#endif
    cv::samples::addSamplesDataSearchSubDirectory("semflow");
}

/** `path` as given when it exists, else where cv::samples::findFile finds it, else `path`
(so that the caller's "cannot read" message names what the user typed). */
inline std::string findData(const std::string& path)
{
    if (path.empty())
        return path;
    const std::string found = cv::samples::findFile(path, /*required=*/false, /*silentMode=*/true);
    return found.empty() ? path : found;
}

/** An image whose pixels are the file's own: keypoint annotations refer to the stored pixel
grid, so the EXIF orientation that IMREAD_COLOR applies would move them. */
inline cv::Mat readImageAsStored(const std::string& path)
{
    return cv::imread(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
}

/** Parses "x,y;x,y;..." (blanks allowed around numbers, one trailing ';' allowed). Every item
must be exactly two finite numbers: "1,2,3", "1,2x" or "1;2" fail, with `error` saying which
item is wrong. Returns false and leaves `pts` empty on failure. */
inline bool parsePointList(const std::string& text, std::vector<cv::Point2f>& pts, std::string& error)
{
    pts.clear();
    std::vector<cv::Point2f> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ';'))
    {
        const char* s = item.c_str();
        float v[2];
        bool ok = true;
        for (int k = 0; k < 2 && ok; k++)
        {
            char* end = nullptr;
            errno = 0;
            v[k] = std::strtof(s, &end);
            ok = end != s && errno == 0 && std::isfinite(v[k]);
            s = end;
            while (ok && (*s == ' ' || *s == '\t'))
                s++;
            if (ok && k == 0)
                ok = *s++ == ',';
        }
        if (!ok || *s != '\0')
        {
            error = "item '" + item + "' is not 'x,y' (two finite numbers)";
            return false;
        }
        out.push_back(cv::Point2f(v[0], v[1]));
    }
    if (out.empty())
    {
        error = "no point given";
        return false;
    }
    pts.swap(out);
    return true;
}

/** The inputs every pair sample takes: positional `@source`, `@target` and option `model`,
each resolved with findData. */
struct PairInputs
{
    std::string source, target, model;
};

/** The common start of a pair sample: prints `about` and the usage and returns false on
--help; otherwise adds the bundled data search paths and resolves the three inputs. */
inline bool startPairSample(cv::CommandLineParser& parser, const char* about, PairInputs& in)
{
    parser.about(about);
    if (parser.has("help"))
    {
        parser.printMessage();
        return false;
    }
    addBundledDataSearchPaths();
    in.source = findData(parser.get<std::string>("@source"));
    in.target = findData(parser.get<std::string>("@target"));
    in.model = findData(parser.get<std::string>("model"));
    return true;
}

/** Sets the log level for a scope and restores the one before it, whatever it was
(OPENCV_LOG_LEVEL from the environment included), also when an exception leaves the scope. */
class ScopedLogLevel
{
public:
    explicit ScopedLogLevel(cv::utils::logging::LogLevel level) : previous_(cv::utils::logging::setLogLevel(level))
    {
    }
    ~ScopedLogLevel() { cv::utils::logging::setLogLevel(previous_); }

private:
    ScopedLogLevel(const ScopedLogLevel&);
    ScopedLogLevel& operator=(const ScopedLogLevel&);
    cv::utils::logging::LogLevel previous_;
};

}  // namespace semflow_samples

#endif  // OPENCV_SEMFLOW_SAMPLE_UTILS_HPP
