// The plain data each view draws, computed by frame_compute.h and carried by the frame and
// sequence results: per-token curves, transition spectra, the overview of every head and the
// state trajectory. No Qt here: the engine worker, `statescope-cli export` and headless tests
// make and read these; the views (views/) only draw them.
#pragma once
#include "statescope/frames/matrix.h"

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

namespace statescope::frames {

// Per-token curves over the whole sequence for the focused layer (CurvesView).
struct CurveData {
    std::vector<std::vector<float>> norms; // [head][token]: ||S||_F after each token
    std::vector<float> effective_rank;     // [token], focused head
    // [token], focused head: entropy (nats) of the token's attention row over the `window` tokens
    // ending at it, of the exact map and of the softmax map of the same q . k.
    std::vector<float> exact_entropy, softmax_entropy;
    // [token], focused head of a softmax-attention layer: entropy (nats) of its whole causal
    // attention row, the distribution the layer really uses (softmax_entropy then holds the same
    // row over the last `window` positions, renormalised).
    std::vector<float> row_entropy;
    bool softmax_layer = false;
    int window = 0;
    int focused_head = 0;
    int layer = 0;
    int max_rank = 0;                      // min(K, V): the rank axis' top
};

// What the model predicts after one token: the softmax of its logits, the k most probable next
// tokens, and where the expected next token (the task's target, else the token that really
// follows) stands among them (PredictionView).
struct Prediction {
    int64_t token_index = -1;            // the logits after this token
    int64_t vocab = 0;
    std::vector<int32_t> top_ids;        // most probable first (ties: lower id first)
    std::vector<float> top_probs, top_logits;
    std::vector<std::string> top_labels; // the ids' text, where the caller has a tokenizer
    double entropy = 0;                  // of the whole distribution, in nats
    int32_t target = -1;                 // the expected next token; -1: none here
    bool task_target = false;            // the target comes from the task (else: the next token)
    float target_logit = 0, target_prob = 0;
    int64_t target_rank = 0;             // 1: the most probable; 0: no target
    std::string target_label;
};

// The prediction after every token of the sequence (PredictionView's curve, TokenStrip's marks).
struct PredictionCurve {
    std::vector<int32_t> predicted;      // [token] argmax of the logits after it
    std::vector<float> predicted_prob;   // [token] its probability
    std::vector<int32_t> targets;        // [token] the expected next token, -1: none
    std::vector<float> target_prob;      // [token] its probability, NaN where there is none
    bool task_targets = false;           // targets from the task (else the tokens that follow)
};

// Eigenvalues of this token's transition and of the product over the window (EigenView).
struct EigenData {
    std::vector<std::complex<double>> token;   // eigenvalues of A_t
    std::vector<std::complex<double>> window;  // eigenvalues of A_t ... A_s
    std::vector<double> window_rates;          // |mu|^(1/window_tokens) of each, in the same order
    int window_tokens = 0;
    int64_t token_index = -1;
    double token_radius = 0, token_half_life = 0;
    double window_radius = 0, window_rate = 0, window_half_life = 0;
    std::string transition;                    // "delta rule", ...
};

// Every layer and head at a glance (OverviewGrid).
struct OverviewCell {
    Matrix thumbnail;  // downsampled state (empty for layers without a recurrent state)
    float norm = 0;    // ||S||_F of the full state
};

struct OverviewData {
    std::vector<std::vector<OverviewCell>> cells; // [layer][head]
    std::vector<std::string> layer_notes;         // per layer, e.g. "GLA" or "softmax attention"
};

// The focused head's state after every token projected on its top three principal components
// (TrajectoryView).
struct TrajectoryData {
    std::vector<double> coords;      // [points, 3]
    std::vector<int64_t> tokens;     // token index of each point
    std::vector<double> explained;   // fraction of the variance along each axis
    int layer = 0, head = 0;
};

} // namespace statescope::frames
