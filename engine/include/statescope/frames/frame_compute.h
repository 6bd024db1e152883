// What the views show, computed from a timeline: one frame (the focused head at one token: its
// state, attention maps over the window, transition spectrum, and the overview of every head) and
// the curves and trajectory of one layer and head over the whole sequence. The app's engine
// worker and `statescope-cli export` both compute through these, so a figure exported from the
// command line shows the numbers the window shows.
#pragma once
#include "statescope/frames/frame.h"
#include "statescope/timeline.h"

#include <functional>
#include <span>
#include <string>

namespace statescope::frames {

// Computes frames for one timeline, keeping the last window's scan inputs: stepping forward costs
// one token of forward and changing the head none (the forward pass, not the analyses, is what a
// frame of a large model spends).
class FrameComputer {
public:
    // The frame `r` asks for (head and token clamped into range; session and generation copied).
    // Throws Error for a layer that does not exist or an empty sequence.
    FrameResult compute(Timeline& timeline, const FrameRequest& r);
    // Forget the kept window: call whenever the timeline's tokens change.
    void reset() { window_ = {}; }
    // How a token id reads (the model's tokenizer), for the prediction's top tokens; ids only without one.
    void set_labeler(std::function<std::string(int32_t)> label) { label_ = std::move(label); }

private:
    // Scan inputs of `layer` for tokens first .. last, the whole state and the logits after `last`, reusing
    // the previous window where it overlaps.
    const ScanInputs& layer_window(Timeline& timeline, int layer, int64_t first, int64_t last, SequenceState& after,
                                   Tensor& last_logits);

    struct WindowCache {
        int layer = -1;
        int64_t first = 0, last = -1;
        ScanInputs in;          // tokens first .. last
        SequenceState after;    // at position last + 1
        Tensor logits;          // after token last
    };
    WindowCache window_;
    std::function<std::string(int32_t)> label_;
};

// What a recurrent layer does to its inputs before the recurrence, in a sentence for the plots:
// "before the recurrence: q, k, v through a short convolution of width 4 (a key at token t mixes
// tokens t-3..t, so a peak can sit up to 3 tokens after the token it stands for); q, k: silu,
// L2-normalised". Empty when the layer does nothing the views should explain.
std::string describe_inputs(const LayerInfo& layer);

// The softmax of `logits` (computed in double, shifted by the maximum), its `k` most probable ids
// in order, its entropy, and the logit, probability and rank of `target` (rank 1 is the most
// probable; equal logits share the better rank). Labels are left empty.
Prediction predict(std::span<const float> logits, int32_t target, int k);

// Per token, the next token the prediction is judged against: the task's target where the task
// sets one (task_targets non-empty: -1 where it scores nothing), else the token that really
// follows (-1 after the last).
std::vector<int32_t> prediction_targets(const std::vector<int32_t>& tokens, const std::vector<int32_t>& task_targets);

// The prediction after every token: one forward pass over the sequence in pieces (`check` runs
// between them), keeping only the argmax and the target's probability per token.
PredictionCurve predict_sequence(Timeline& timeline, const std::vector<int32_t>& targets, bool task_targets,
                                 const std::function<void()>& check = {});

// The curves (state norm of every head, effective rank, attention entropies) and the state
// trajectory of one layer and head over the whole sequence; for softmax-attention layers the
// attention entropy curves of the real map. `check` runs between pieces of the work and may throw
// to abandon it (the worker does when a newer request is waiting). Throws Error for a layer that
// does not exist.
SequenceResult compute_sequence(Timeline& timeline, const SequenceRequest& r, const std::function<void()>& check = {});

// Shrinks a K x V state to at most `max_side` cells a side for thumbnails, keeping in each block
// the entry of largest magnitude (averaging would cancel signed entries).
Matrix downsample(const float* S, int K, int V, int max_side);

} // namespace statescope::frames
