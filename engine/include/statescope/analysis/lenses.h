// Lenses from the papers that study linear attention and state-space models: numbers computed
// from one head's attention map (exact or softmax, statescope/analysis/attention_map.h) that each
// paper used to explain what these layers do. docs/lenses.md gives each one's formula, its paper
// and how to read it. Rows are weighed by |w| (exact maps can be signed) and cover the causal part
// only: row t has t + 1 tokens (times the substeps), columns s * substeps + j.
#pragma once
#include "statescope/analysis/attention_map.h"
#include "statescope/scan.h"

#include <vector>

namespace statescope::analysis {

// Spikiness of row t (Hedgehog, Zhang et al. 2024: softmax attention is "spiky", linear attention
// is not): 1 - H(p) / ln(n) for p = |w| / sum |w| over the row's n causal entries; 1 when all the
// weight is on one token, 0 when it is spread evenly; 0 for a row of one entry or all zeros.
double spikiness(const AttentionMap& map, int row);

// Mean attention distance of row t (locality; Qin et al. 2022 "The Devil in Linear Transformer",
// InLine, Han et al. 2024): sum_s p_s (t - s) in tokens; 0 for an all-zero row.
double mean_attention_distance(const AttentionMap& map, int row);

// Share of the first token in row t (Stuffed Mamba, Chen et al. 2024: how much of the oldest input
// is left as the sequence grows): sum_j |w[t, (0, j)]| / sum |w[t, :]|.
double first_token_share(const AttentionMap& map, int row);

// Effective rank (Roy & Vetterli) of the whole map as a rows x cols matrix: exp of the entropy of
// its normalised singular values. A linear-attention map has rank <= K (Breaking the Low-Rank
// Dilemma of Linear Attention, Fan et al. 2025); a softmax map is usually full rank.
double map_effective_rank(const AttentionMap& map);

// Magnitude sensitivity of row t (Rectifying Magnitude Neglect in Linear Attention, MALA, Fan et
// al. 2025): how the row's distribution changes when the query is doubled, as the entropy
// difference H(row of 2q) - H(row of q) in nats. For an exact (linear) map the weights scale with
// q and the distribution does not change: 0. For softmax, a longer query sharpens the row: < 0.
double query_magnitude_effect(const ScanInputs& in, int head, int row, bool softmax);

// All the lenses of one head over a window, per row, for curves and the command line.
struct LensCurves {
    std::vector<double> spikiness, distance, first_share, magnitude_effect;
    double effective_rank = 0;
};
LensCurves lens_curves(const ScanInputs& in, int head, bool softmax);

} // namespace statescope::analysis
