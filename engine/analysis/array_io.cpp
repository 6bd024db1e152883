#include "statescope/analysis/array_io.h"

#include "statescope/error.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace statescope::analysis {

namespace {
int64_t element_count(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// One line: a comment must not end the header (npy) or start a data row (CSV).
std::string one_line(std::string s) {
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}
} // namespace

void write_npy(const std::string& path, const Array& a, const std::string& comment) {
    require(element_count(a.shape) == int64_t(a.values.size()), path + ": array shape does not match its values");
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < a.shape.size(); ++i) dict += std::to_string(a.shape[i]) + (a.shape.size() == 1 ? "," : i + 1 < a.shape.size() ? ", " : "");
    dict += "), }";
    if (!comment.empty()) dict += "  # " + one_line(comment);
    // Version 1.0 stores the header length in 16 bits.
    require(dict.size() < 65000, path + ": the description is too long for a .npy header");
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64
    // and ended by a newline, as the format asks.
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::ofstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open for writing");
    const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
    f.write(magic, 8);
    const uint16_t len = uint16_t(dict.size());
    const char len_bytes[2] = {char(len & 0xff), char(len >> 8)};
    f.write(len_bytes, 2);
    f.write(dict.data(), std::streamsize(dict.size()));
    f.write(reinterpret_cast<const char*>(a.values.data()), std::streamsize(a.values.size() * sizeof(float)));
    if (!f) throw Error(path + ": write failed");
}

namespace {
std::string read_header(std::ifstream& f, const std::string& path) {
    if (!f) throw Error(path + ": cannot open");
    char head[10];
    f.read(head, 10);
    if (!f || std::memcmp(head, "\x93NUMPY", 6) != 0 || head[6] != 1) throw Error(path + ": not a version 1 .npy file");
    const size_t len = size_t(uint8_t(head[8])) | size_t(uint8_t(head[9])) << 8;
    std::string dict(len, '\0');
    f.read(dict.data(), std::streamsize(len));
    if (!f) throw Error(path + ": truncated header");
    return dict;
}
} // namespace

std::string read_npy_header(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return read_header(f, path);
}

Array read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    const std::string dict = read_header(f, path);
    if (dict.find("'descr': '<f4'") == std::string::npos) throw Error(path + ": only little-endian float32 is read");
    if (dict.find("'fortran_order': False") == std::string::npos) throw Error(path + ": only C order is read");
    const size_t open = dict.find("'shape': (");
    const size_t close = dict.find(')', open);
    if (open == std::string::npos || close == std::string::npos) throw Error(path + ": header has no shape");
    Array a;
    std::stringstream dims(dict.substr(open + 10, close - open - 10));
    std::string item;
    while (std::getline(dims, item, ','))
        if (item.find_first_not_of(' ') != std::string::npos) a.shape.push_back(std::stoll(item));
    a.values.resize(size_t(element_count(a.shape)));
    f.read(reinterpret_cast<char*>(a.values.data()), std::streamsize(a.values.size() * sizeof(float)));
    if (!f) throw Error(path + ": fewer values than the shape needs");
    return a;
}

void write_csv(const std::string& path, const Array& a, const std::string& header, const std::string& comment) {
    require(a.shape.size() == 1 || a.shape.size() == 2, path + ": CSV export needs a 1-D or 2-D array");
    require(element_count(a.shape) == int64_t(a.values.size()), path + ": array shape does not match its values");
    const int64_t rows = a.shape[0], cols = a.shape.size() == 2 ? a.shape[1] : 1;
    std::ofstream f(path);
    if (!f) throw Error(path + ": cannot open for writing");
    if (!comment.empty()) f << "# " << one_line(comment) << '\n';
    if (!header.empty()) f << header << '\n';
    char buf[32];
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
            std::snprintf(buf, sizeof buf, "%.9g", double(a.values[size_t(r * cols + c)]));
            f << (c ? "," : "") << buf;
        }
        f << '\n';
    }
    if (!f) throw Error(path + ": write failed");
}

} // namespace statescope::analysis
