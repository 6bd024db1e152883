// Attention maps of one head over a window of tokens.
//
// The exact map of a recurrent layer is what its recurrence implies, with no approximation:
//     o_t = sum_{s <= t, j} W[t, (s, j)] v_{s,j}  (+ the contribution of the state before the window)
//     W[t, (s, j)] = beta_{s,j} q_t^T F(t) ... F(s, j+1) k_{s,j}
// (core/scan.h's attention form, one head). Weights can be negative and need not sum to one.
// The softmax map applies softmax to the same scores q_t . k_s (any query scale the family folds
// into q included), the picture a softmax-attention layer with these q and k would give.
#pragma once
#include "statescope/scan.h"

#include <vector>

namespace statescope::analysis {

// Row-major [rows, cols] matrix of an attention map. Row t is the window's t-th token; column
// s * substeps + j is micro-step j of the window's s-th token. Zero above the causal diagonal.
struct AttentionMap {
    int rows = 0, cols = 0, substeps = 1;
    std::vector<float> weights;
    float at(int r, int c) const { return weights[size_t(r) * cols + c]; }
};

// The inputs of one head as a single-head ScanInputs (H = 1).
ScanInputs head_slice(const ScanInputs& in, int head);
// The inputs of tokens first .. first + count - 1 (all heads).
ScanInputs token_slice(const ScanInputs& in, int first, int count);
// a's tokens followed by b's (same kind and sizes): extends a window by the tokens after it.
ScanInputs token_concat(const ScanInputs& a, const ScanInputs& b);

// The exact attention map of `head` over all of in's tokens (cost O(T^2 K)).
AttentionMap exact_attention(const ScanInputs& in, int head);

// softmax_s(scale * q_t . k_{s,j}) over s <= t and all micro-steps.
AttentionMap softmax_attention(const ScanInputs& in, int head, double scale = 1.0);

// Softmax attention of a softmax layer: q [T, heads, D] for the window's tokens, k [P, kv_heads, D]
// for the whole cache, the window's first token at cache position P - T. Heads share kv heads in
// groups of heads / kv_heads (GQA). Columns are the window's tokens only; `scale` multiplies q . k.
AttentionMap softmax_attention_cached(const Tensor& q, const Tensor& k, int head, double scale);

// Attention entropies of a softmax layer's real rows (q, k and scale as softmax_attention_cached),
// one per window token: of the whole causal row (every cached position up to the token's own:
// the distribution the layer really uses), and of the same row restricted to the last `window`
// positions and renormalised (comparable with windowed_row_entropies of recurrent layers).
struct SoftmaxRowEntropies {
    std::vector<double> whole, windowed;
};
SoftmaxRowEntropies softmax_row_entropies(const Tensor& q, const Tensor& k, int head, double scale, int window);

// Shannon entropy in nats of one row over its causal part (columns 0 .. n-1), of the distribution
// |w_i| / sum |w| (for a softmax row this is the usual attention entropy). 0 for an all-zero row.
double row_entropy(const float* row, int n);

// For every token t of `in`, the entropy (as row_entropy) of its attention row restricted to the
// `window` tokens ending at t: exact (softmax = false) or softmax of q . k (softmax = true).
// Costs O(T window K), computed block by block, never the whole T x T map.
std::vector<double> windowed_row_entropies(const ScanInputs& in, int head, int window, bool softmax);

} // namespace statescope::analysis
