// The values that cross between the UI thread and the engine worker (Qt-free, so that
// `statescope-cli export` and headless tests use them too): requests stamped with a
// session (which model) and a generation (which request of that kind), and immutable results.
// The controller drops any result whose stamps are not the latest; the worker skips requests that
// a newer one has superseded before it started them.
#pragma once
#include "statescope/frames/matrix.h"
#include "statescope/frames/token_input.h"
#include "statescope/frames/view_data.h"
#include "statescope/model.h"
#include "statescope/sampling.h"

#include <cstdint>
#include <string>
#include <vector>

namespace statescope::frames {

struct LoadRequest {
    uint64_t session = 0;
    std::string path;              // model folder or its config.json
    TokenInput input;              // the sequence to run (text is tokenized for this model)
    // An edited prompt for the open model: keep the model and the timeline, and rerun only what
    // follows the unchanged prefix.
    bool keep_model = false;
};

struct ModelSummary {
    uint64_t session = 0;
    std::string path;
    ModelInfo info;
    std::vector<int32_t> tokens;
    std::vector<std::string> labels;
    std::string tokens_from;       // how the tokens were made (TokenInput::description)
    std::vector<int32_t> targets;  // per token: what the model should predict there (a task sample), -1: nothing
    int64_t checkpoint_interval = 0;
    size_t checkpoint_bytes = 0, end_state_bytes = 0; // memory of the checkpoints; of one state at the end
    double load_ms = 0, run_ms = 0;
    int64_t tokens_run = 0;        // tokens the model ran for this load or edit
    bool generating = false;       // more generated tokens will follow
    std::string backend;           // where the model runs: "CPU" or "Vulkan: <device>", and why not a GPU
};

// How far a load has got, from the work itself: the phase, and for "running" the tokens of the
// sequence run through the model so far (Timeline::append's progress).
struct LoadProgress {
    uint64_t session = 0;
    std::string phase;             // "opening", "tokenizing", "running"
    int64_t done = 0, total = 0;   // tokens; 0 of 0 outside "running"
};

// Keep tokens 0 .. keep - 1 and continue the sequence with `count` generated tokens.
struct ContinueRequest {
    uint64_t session = 0;
    int64_t keep = 0;
    int count = 16;
    SamplingOptions sampling;  // greedy by default
};

struct FrameRequest {
    uint64_t session = 0, generation = 0;
    int64_t token = 0;  // show the state after this token (index into the sequence)
    int layer = 0, head = 0;
    int window = 32;    // tokens of the attention map and of the transition product
    // Compute from the nearest checkpoint, ignoring the timeline's cursor and the kept window: the
    // frame is then the same bits whatever was shown before (a bookmark's jump, a reopened
    // session).
    bool from_checkpoint = false;
};

struct FrameResult {
    uint64_t session = 0, generation = 0;
    int64_t token = 0;
    int layer = 0, head = 0;
    bool recurrent = true;
    Matrix state;                  // focused head: S (K x V), or its key cache (D x P) for softmax layers
    double state_norm = 0, effective_rank = 0;
    int64_t window_first = 0;      // token index of the attention maps' first row and column
    int substeps = 1;
    Matrix exact, softmax;         // attention maps over the window
    double exact_entropy = 0, softmax_entropy = 0; // of the current token's row, in nats
    EigenData eigen;
    OverviewData overview;
    double compute_ms = 0;
};

struct SequenceRequest {
    uint64_t session = 0, generation = 0;
    int layer = 0, head = 0;
    int window = 32;    // for the attention-entropy curve
};

struct SequenceResult {
    uint64_t session = 0, generation = 0;
    int layer = 0, head = 0;
    CurveData curves;
    TrajectoryData trajectory;
    double compute_ms = 0;
};

} // namespace statescope::frames
