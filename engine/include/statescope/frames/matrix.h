// The plain value the heatmaps draw: a row-major matrix of floats. Views never see the engine.
#pragma once
#include <cstddef>
#include <vector>

namespace statescope::frames {

struct Matrix {
    int rows = 0, cols = 0;
    std::vector<float> values;

    Matrix() = default;
    Matrix(int r, int c) : rows(r), cols(c), values(size_t(r) * size_t(c), 0.0f) {}
    Matrix(int r, int c, std::vector<float> v) : rows(r), cols(c), values(std::move(v)) {}
    bool empty() const { return rows == 0 || cols == 0; }
    float at(int r, int c) const { return values[size_t(r) * cols + c]; }
    float& at(int r, int c) { return values[size_t(r) * cols + c]; }
};

} // namespace statescope::frames
