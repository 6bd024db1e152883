// Writing (and reading back) numeric arrays for export: NumPy .npy (format 1.0, little-endian
// float32, C order) and CSV (one matrix row per line). Used by the app's "export data" and by tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace statescope::analysis {

struct Array {
    std::vector<int64_t> shape;
    std::vector<float> values; // C order
};

// `comment`, when not empty, describes the array (what it is, where it came from). The format has
// no field for that, so it goes into the header as a Python comment after the dictionary: the
// header stays a valid Python literal, which is what numpy.load reads (line breaks are replaced).
void write_npy(const std::string& path, const Array& a, const std::string& comment = {});
Array read_npy(const std::string& path); // float32 ('<f4') C-order files only
// The header text of a .npy file (the dictionary and any comment), for tests and tools.
std::string read_npy_header(const std::string& path);

// 2-D arrays (1-D: one column). `comment`, when not empty, is the first line, after "# " (as
// numpy.loadtxt, pandas and R skip it); `header`, when not empty, the next one.
void write_csv(const std::string& path, const Array& a, const std::string& header = {},
               const std::string& comment = {});

} // namespace statescope::analysis
