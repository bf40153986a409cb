// This file is part of semflow. It is subject to the license terms in the LICENSE file
// found in the top-level directory of this distribution.
#pragma once

// Reads test_data/semflow/weights/expected.txt, the values make_weight_fixtures.py recorded with
// PyTorch for each checkpoint fixture (format: see write_expected() in that script).

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sfnet_test
{

inline std::string weightsDir()
{
    return std::string(SEMFLOW_TEST_DATA_DIR) + "/semflow/weights/";
}

struct ExpectedTensor
{
    std::string name, dtype;
    std::vector<int64_t> shape;
    bool full = false;
    std::vector<double> values;  // full: every value, row-major
    double sum = 0, weightedSum = 0;  // otherwise
};

struct ExpectedFile
{
    std::string format;
    std::vector<ExpectedTensor> tensors;
};

inline double parseNumber(const std::string& s)
{
    if (s == "nan")
        return std::nan("");
    if (s == "inf")
        return INFINITY;
    if (s == "-inf")
        return -INFINITY;
    std::istringstream is(s);
    is.imbue(std::locale::classic());
    double d;
    is >> d;
    if (!is)
        throw std::runtime_error("expected.txt: bad number '" + s + "'");
    return d;
}

inline std::map<std::string, ExpectedFile> readExpected()
{
    const std::string path = weightsDir() + "expected.txt";
    std::ifstream f(path);
    if (!f)
        throw std::runtime_error("cannot open " + path);
    std::map<std::string, ExpectedFile> files;
    ExpectedFile* cur = nullptr;
    std::string line;
    while (std::getline(f, line))
    {
        std::istringstream is(line);
        std::string tag;
        is >> tag;
        if (tag == "file")
        {
            std::string name;
            is >> name;
            cur = &files[name];
            is >> cur->format;
        }
        else if (tag == "tensor")
        {
            if (!cur)
                throw std::runtime_error("expected.txt: tensor before file");
            ExpectedTensor t;
            size_t ndim;
            is >> t.name >> t.dtype >> ndim;
            t.shape.resize(ndim);
            for (auto& d : t.shape)
                is >> d;
            std::string kind;
            is >> kind;
            if (kind == "full")
            {
                t.full = true;
                size_t n;
                is >> n;
                t.values.resize(n);
                for (auto& v : t.values)
                {
                    std::string s;
                    is >> s;
                    v = parseNumber(s);
                }
            }
            else if (kind == "sums")
            {
                std::string a, b;
                is >> a >> b;
                t.sum = parseNumber(a);
                t.weightedSum = parseNumber(b);
            }
            else
            {
                throw std::runtime_error("expected.txt: bad line '" + line.substr(0, 60) + "'");
            }
            if (!is)
                throw std::runtime_error("expected.txt: short line '" + line.substr(0, 60) + "'");
            cur->tensors.push_back(std::move(t));
        }
    }
    return files;
}

/** The two checksums of make_weight_fixtures.py's checksums(), over row-major values. */
template <typename T>
void checksums(const T* v, size_t n, double& sum, double& weighted, double& absSum)
{
    sum = weighted = absSum = 0;
    for (size_t i = 0; i < n; ++i)
    {
        const double x = static_cast<double>(v[i]);
        sum += x;
        weighted += x * static_cast<double>((i % 101) + 1);
        absSum += std::fabs(x) * static_cast<double>((i % 101) + 1);
    }
}

}  // namespace sfnet_test
