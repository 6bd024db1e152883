#include "statescope/analysis/lenses.h"

#include "statescope/analysis/state_stats.h"
#include "statescope/error.h"

#include <cmath>
#include <string>

namespace statescope::analysis {

namespace {

// The causal part of row `row`: its first (row + 1) * substeps columns.
int causal_columns(const AttentionMap& map, int row) {
    if (row < 0 || row >= map.rows)
        throw Error("attention row " + std::to_string(row) + " is out of range: the map has " + std::to_string(map.rows) + " rows");
    return std::min(map.cols, (row + 1) * map.substeps);
}

double abs_sum(const float* w, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += std::abs(double(w[i]));
    return s;
}

const float* row_ptr(const AttentionMap& map, int row) { return map.weights.data() + size_t(row) * map.cols; }

AttentionMap map_of(const ScanInputs& in, int head, bool softmax) {
    return softmax ? softmax_attention(in, head) : exact_attention(in, head);
}

ScanInputs with_query_scaled(const ScanInputs& in, int head, float factor) {
    ScanInputs out = in;
    for (int t = 0; t < out.T; ++t) {
        float* q = out.q_at(t, head);
        for (int i = 0; i < out.K; ++i) q[i] *= factor;
    }
    return out;
}

} // namespace

double spikiness(const AttentionMap& map, int row) {
    const int n = causal_columns(map, row);
    if (n < 2 || abs_sum(row_ptr(map, row), n) == 0) return 0;
    return 1.0 - row_entropy(row_ptr(map, row), n) / std::log(double(n));
}

double mean_attention_distance(const AttentionMap& map, int row) {
    const int n = causal_columns(map, row);
    const float* w = row_ptr(map, row);
    const double total = abs_sum(w, n);
    if (total == 0) return 0;
    double d = 0;
    for (int c = 0; c < n; ++c) d += std::abs(double(w[c])) * double(row - c / map.substeps);
    return d / total;
}

double first_token_share(const AttentionMap& map, int row) {
    const int n = causal_columns(map, row);
    const float* w = row_ptr(map, row);
    const double total = abs_sum(w, n);
    return total == 0 ? 0 : abs_sum(w, std::min(n, map.substeps)) / total;
}

double map_effective_rank(const AttentionMap& map) {
    if (map.rows == 0 || map.cols == 0) return 0;
    return effective_rank(singular_values(map.weights.data(), map.rows, map.cols));
}

double query_magnitude_effect(const ScanInputs& in, int head, int row, bool softmax) {
    const AttentionMap once = map_of(in, head, softmax), twice = map_of(with_query_scaled(in, head, 2.0f), head, softmax);
    const int n = causal_columns(once, row);
    return row_entropy(row_ptr(twice, row), n) - row_entropy(row_ptr(once, row), n);
}

LensCurves lens_curves(const ScanInputs& in, int head, bool softmax) {
    const AttentionMap map = map_of(in, head, softmax), doubled = map_of(with_query_scaled(in, head, 2.0f), head, softmax);
    LensCurves c;
    for (int t = 0; t < map.rows; ++t) {
        c.spikiness.push_back(spikiness(map, t));
        c.distance.push_back(mean_attention_distance(map, t));
        c.first_share.push_back(first_token_share(map, t));
        const int n = causal_columns(map, t);
        c.magnitude_effect.push_back(row_entropy(row_ptr(doubled, t), n) - row_entropy(row_ptr(map, t), n));
    }
    c.effective_rank = map_effective_rank(map);
    return c;
}

} // namespace statescope::analysis
