// This file is part of OpenCV project.
// It is subject to the license terms in the LICENSE file found in the top-level directory
// of this distribution and at http://opencv.org/license.html.

// Writes the small made-up images of the benchmark fixtures (the annotation files next
// to them are hand-written). Only the image sizes matter to the tests; the drawing gives
// a person looking at a "worst pairs" picture something to see. Re-run after changing a size:
//   g++ -std=c++17 -O2 make_fixtures.cpp -o /tmp/make_fixtures $(pkg-config --cflags --libs opencv4)
//   /tmp/make_fixtures test_data/semflow/benchmarks

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

// A smooth background and a filled ellipse (the "object"), different per image.
void write(const std::string& root, const std::string& rel, int w, int h, int seed)
{
    cv::Mat img(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b((uchar)(40 + 3 * x + seed * 17), (uchar)(60 + 4 * y),
                                                (uchar)(90 + seed * 29));
    cv::ellipse(img, cv::Point(w / 2, h / 2), cv::Size(w / 3, h / 4), 15.0 * seed, 0, 360,
                cv::Scalar(20, 200 - 10 * seed, 240), cv::FILLED);
    const std::filesystem::path path = std::filesystem::path(root) / rel;
    std::filesystem::create_directories(path.parent_path());
    std::vector<int> params = {cv::IMWRITE_JPEG_QUALITY, 90};
    if (!cv::imwrite(path.string(), img, params))
        std::fprintf(stderr, "failed to write %s\n", path.string().c_str());
}

// A JPEG whose EXIF Orientation tag says 6 ("rotate 90 degrees clockwise to display"):
// w x h stored pixels, the left half red and the right half blue, so a reader that applies
// the rotation returns an h x w image. The APP1 segment is written by hand: OpenCV's
// encoder writes no EXIF.
void writeExifOrientation6(const std::string& root, const std::string& rel, int w, int h)
{
    cv::Mat img(h, w, CV_8UC3, cv::Scalar(0, 0, 255));
    img(cv::Rect(w / 2, 0, w - w / 2, h)).setTo(cv::Scalar(255, 0, 0));
    std::vector<uchar> jpeg;
    cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
    // "Exif\0\0", then a big-endian TIFF header, one IFD with one entry: tag 0x0112
    // (Orientation), type 3 (SHORT), count 1, value 6; no next IFD.
    const uchar app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
                          'M', 'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,
                          0x00, 0x01,
                          0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x00};
    jpeg.insert(jpeg.begin() + 2, app1, app1 + sizeof(app1));  // right after SOI
    const std::filesystem::path path = std::filesystem::path(root) / rel;
    std::filesystem::create_directories(path.parent_path());
    std::FILE* f = std::fopen(path.string().c_str(), "wb");
    if (!f || std::fwrite(jpeg.data(), 1, jpeg.size(), f) != jpeg.size())
        std::fprintf(stderr, "failed to write %s\n", path.string().c_str());
    if (f)
        std::fclose(f);
}

}  // namespace

int main(int argc, char** argv)
{
    const std::string root = argc > 1 ? argv[1] : ".";
    // PF-PASCAL (SFNet / WeakAlign layout: CSVs next to PF-dataset-PASCAL/JPEGImages).
    write(root, "pf-pascal/PF-dataset-PASCAL/JPEGImages/2009_000001.jpg", 40, 30, 1);
    write(root, "pf-pascal/PF-dataset-PASCAL/JPEGImages/2009_000002.jpg", 50, 20, 2);
    write(root, "pf-pascal/PF-dataset-PASCAL/JPEGImages/2010_000003.jpg", 32, 32, 3);
    // PF-WILLOW (CSV next to PF-dataset/<class>/).
    write(root, "pf-willow/PF-dataset/car(G)/car_001.png", 48, 36, 4);
    write(root, "pf-willow/PF-dataset/car(G)/car_002.png", 48, 36, 5);
    write(root, "pf-willow/PF-dataset/duck(S)/duck_001.png", 30, 40, 6);
    write(root, "pf-willow/PF-dataset/duck(S)/duck_002.png", 30, 40, 7);
    // SPair-71k (JPEGImages/<category>/).
    write(root, "spair/JPEGImages/aeroplane/2008_000008.jpg", 60, 40, 8);
    write(root, "spair/JPEGImages/aeroplane/2008_000015.jpg", 50, 50, 9);
    write(root, "spair/JPEGImages/cat/2009_000020.jpg", 40, 40, 10);
    write(root, "spair/JPEGImages/cat/2009_000021.jpg", 40, 40, 11);
    // EXIF-rotated (annotations refer to the stored pixels, not the displayed ones).
    writeExifOrientation6(root, "exif/orientation6_48x24.jpg", 48, 24);
    return 0;
}
