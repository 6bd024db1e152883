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

void write_npy(const std::string& path, const Array& a);
Array read_npy(const std::string& path); // float32 ('<f4') C-order files only

// 2-D arrays (1-D: one column). header, when not empty, is written as the first line.
void write_csv(const std::string& path, const Array& a, const std::string& header = {});

} // namespace statescope::analysis
