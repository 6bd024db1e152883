// Principal components of a trajectory (e.g. one head's state, flattened, at every token): the
// few directions along which it moves most, for the 3D view.
#pragma once
#include <vector>

namespace statescope::analysis {

struct Projection {
    int points = 0, dims = 0;
    std::vector<double> coords;    // [points, dims] coordinates along the principal axes
    std::vector<double> variance;  // [dims] variance along each axis (decreasing)
    double total_variance = 0;     // sum over all directions, for "explained" fractions
};

// rows: [n, d] row-major, one point per row. Returns the centred points projected on the top
// `dims` principal axes (fewer when n or d is smaller; axes of zero variance give zero coordinates).
// Each axis's sign is fixed so that its largest-magnitude loading is positive (stable pictures).
Projection pca(const std::vector<float>& rows, int n, int d, int dims = 3);

} // namespace statescope::analysis
