// State surgery and activation patching on a model's recurrent states.
//
// A sequence's memory is a value (statescope/model.h: SequenceState), so an intervention is an
// edit of that value between two forward() calls: the tokens after it are then computed from the
// edited state exactly as from any other. Activation patching is the recurrent counterpart of
// causal tracing: run a clean and a corrupted input of the same length, and at one position copy
// one head's state (or a whole layer's) from the clean run into the corrupted one, continue the
// corrupted input from there, and read how much of the clean prediction comes back.
#pragma once
#include "statescope/model.h"

#include <cstdint>
#include <span>
#include <vector>

namespace statescope::analysis {

// One head's recurrent state S ([K, V]) of one layer. Each throws Error naming the layer or head
// when it is out of range or the layer has no recurrent state (softmax attention).
void zero_head(SequenceState& state, int layer, int head);
void scale_head(SequenceState& state, int layer, int head, float factor);
void copy_head(const SequenceState& from, SequenceState& to, int layer, int head);
// Everything a layer carries between tokens: the recurrent state, short-convolution windows,
// token shifts, a softmax layer's key and value cache. The two states must come from one model
// at the same position.
void copy_layer(const SequenceState& from, SequenceState& to, int layer);
// The layer as a fresh sequence holds it (all zeros), aux tensors included.
void reset_layer(const Model& model, SequenceState& state, int layer);

struct PatchingRequest {
    std::vector<int32_t> clean, corrupt; // the same length T >= 2
    // The state is patched after token `position` has been consumed (so it changes the
    // predictions from token position + 1 on); 0 <= position <= T - 2.
    int64_t position = 0;
    int32_t target = 0;                  // the token whose logit is read at the last position
};

struct PatchingResult {
    double clean_logit = 0, corrupt_logit = 0; // the target's logit at the last position
    // [layer][head]: the target's logit with that head's state patched from the clean run.
    // Softmax layers have no per-head recurrent state: their rows are empty.
    std::vector<std::vector<double>> head_logit;
    std::vector<double> layer_logit; // [layer]: the whole layer's state patched
    // How much of the clean logit a patched logit brings back: 0 = the corrupted run's, 1 = the
    // clean run's; NaN when clean and corrupted logits are equal (nothing to restore).
    double restored(double logit) const;
};

// One forward of the suffix per head and per layer. Throws Error for unequal lengths, a position
// or target out of range.
PatchingResult activation_patching(const Model& model, const PatchingRequest& request);

// The last position at which clean and corrupt differ (the usual place to patch), or -1.
int64_t last_difference(std::span<const int32_t> clean, std::span<const int32_t> corrupt);

} // namespace statescope::analysis
