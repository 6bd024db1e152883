// What the views show, computed from a timeline: one frame (the focused head at one token: its
// state, attention maps over the window, transition spectrum, and the overview of every head) and
// the curves and trajectory of one layer and head over the whole sequence. The app's engine
// worker and `statescope-cli export` both compute through these, so a figure exported from the
// command line shows the numbers the window shows.
#pragma once
#include "statescope/frames/frame.h"
#include "statescope/timeline.h"

#include <functional>

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

private:
    // Scan inputs of `layer` for tokens first .. last and the whole state after `last`, reusing
    // the previous window where it overlaps.
    const ScanInputs& layer_window(Timeline& timeline, int layer, int64_t first, int64_t last, SequenceState& after);

    struct WindowCache {
        int layer = -1;
        int64_t first = 0, last = -1;
        ScanInputs in;          // tokens first .. last
        SequenceState after;    // at position last + 1
    };
    WindowCache window_;
};

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
