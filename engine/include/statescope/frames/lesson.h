// Lessons: guided walks through the demonstration models (data/lessons/*.json), for a teacher in
// front of a class. A lesson is an ordered list of steps; each step says which model and sequence
// to show, where to put the cursor (token, layer, head), which view to focus and what to point
// at, with narration (Markdown) and an optional question for the class. Every statement a step
// makes about the model is also written as a claim: a quantity the engine measures (an
// attention peak, an eigenvalue, an accuracy) and the bounds it must lie in, so that a test
// (tests/test_lessons.cpp) checks the narration against the shipped models.
//
// The format (every key but "title" and "steps" optional; a step inherits model, sequence,
// layer, head, window and view from the step before it):
//   { "title": "...", "summary": "...",
//     "steps": [ { "title": "...", "model": "assets/models/mqar-deltanet",
//                  "sequence": {"task": {"seed": 1, "size": 8}} | {"text": "..."} | {"ids": [1, 2]},
//                  "token": 17, "layer": 0, "head": 0, "window": 32,
//                  "view": "overview|state|attention|spectrum|curves|trajectory|prediction|attention-row",
//                  "panels": ["state", "spectrum"],   (what presenter mode shows; default its own set)
//                  "highlight": {"token": 3} | {"cell": [row, col]} | {"eigenvalue": [re, im]},
//                  "narration": "Markdown", "question": "...",
//                  "claims": [ {"kind": "...", "text": "what the narration says", ...} ] } ] }
// Model paths are relative to the source tree (or install) root the loader is given.
#pragma once
#include "statescope/frames/token_input.h"

#include <complex>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace statescope::lessons {

enum class View { Overview, State, Attention, Spectrum, Curves, Trajectory, Prediction, AttentionRow };
const char* view_name(View v);

struct Highlight {
    enum class Kind { None, Token, Cell, Eigenvalue };
    Kind kind = Kind::None;
    int64_t token = 0;              // Token: a position of the sequence
    int row = 0, col = 0;           // Cell: a cell of the focused view's map (state: key, value)
    std::complex<double> eigenvalue; // Eigenvalue: a point of the complex plane
};

struct SequenceSpec {
    enum class Kind { Text, Ids, Task };
    Kind kind = Kind::Task;
    std::string text;
    std::vector<int32_t> ids;
    uint64_t seed = 1;  // Task: the sample's seed and size (0: the task's default)
    int64_t size = 0;
};

// Which tokens a claim measures: the step's token, every token, a list, or the tokens of one
// role of the model's task ("query": MQAR's second-half keys, "key", "value"; parity's "zero",
// "one"; selective copying's "data", "noise", "separator"; S3's "identity", "transposition",
// "cycle" (3-cycles); "scored": every position the task scores).
struct TokenSelection {
    enum class Kind { StepToken, All, List, Role };
    Kind kind = Kind::StepToken;
    std::vector<int64_t> list;
    std::string role;
};

// What a claim measures. The first three and the mean are one number for all the selected
// tokens; the per-token kinds (distance .. state norm) hold when every selected token is within
// the bounds, and report the worst token.
enum class ClaimKind {
    AttentionPeak,        // fraction of the tokens whose exact-attention row peaks where expected
    PredictionAccuracy,   // fraction of the tokens whose argmax is the task's target
    TaskAccuracy,         // accuracy of fresh task samples (statescope-cli task)
    EigenvalueDistance,   // per token: distance from `value` to A_t's nearest eigenvalue
    MinEigenvalueReal,    // per token: smallest real part of A_t's eigenvalues
    MaxEigenvalueImag,    // per token: largest |imaginary part| (rotation) of A_t's eigenvalues
    SpectralRadius,       // per token: spectral radius of A_t, or of the window's product ("of": "window")
    HalfLife,             // per token: half-life in tokens of A_t's radius, or of the window's product
    MeanEigenvalueModulus,// mean over the tokens (and heads) of the mean |eigenvalue| of A_t
    EigenvectorCosine,    // |cos| between the eigenvectors nearest `value` at two tokens
    StateNorm,            // per token: ||S||_F of the head after the token
};
const char* claim_kind_name(ClaimKind k);

struct Claim {
    ClaimKind kind = ClaimKind::AttentionPeak;
    std::string text;                 // the statement, as the narration makes it
    // Where: defaults are the step's.
    std::optional<int64_t> token;
    std::optional<int> layer, head, window;
    TokenSelection tokens;
    bool all_heads = false;           // MeanEigenvalueModulus: average over every head of the layer
    // AttentionPeak: the expected column, absolute (`at`) or relative to the earlier position of
    // the query's own token id (`at_stored_key`: offset from where that key was stored).
    std::optional<int64_t> at, stored_key_offset;
    // EigenvalueDistance, EigenvectorCosine: the point of the complex plane.
    std::complex<double> value;
    bool of_window = false;           // the eigenvalue kinds: the window's product, not A_t
    // TaskAccuracy: another model (resolved path; default the step's), sample size, count, seed,
    // and whether to score the last position only.
    std::string model;
    int64_t size = 0, samples = 200;
    uint64_t seed = 1000;
    bool last_only = false;
    // The bounds the quantity must lie in (at least one is given).
    std::optional<double> at_least, at_most;
};

struct Step {
    std::string title;
    std::string model;       // resolved path of the model folder
    std::string model_name;  // as written in the lesson ("assets/models/mqar-deltanet")
    SequenceSpec sequence;
    std::optional<int64_t> token; // default: the last token
    int layer = 0, head = 0, window = 32;
    View view = View::Attention;
    std::vector<View> panels; // presenter mode's panels for this step (the view always); empty: its own set
    Highlight highlight;
    std::string narration, question;
    std::vector<Claim> claims;
};

struct Lesson {
    std::string name;   // file name without .json
    std::string path;
    std::string title, summary;
    std::vector<Step> steps;
};

// Reads a lesson file. `root` is the folder model paths are relative to. Throws Error naming the
// file, the step (1-based, with its title) and the key at fault; a model folder that does not
// exist is an error too.
Lesson load_lesson(const std::string& path, const std::string& root);
// The lesson files of a folder (*.json), sorted by name (lessons number themselves: 01-...).
std::vector<std::string> lesson_files(const std::string& dir);

// The sequence a step runs, as the app's token input (a task sample with its targets, ids, or
// text to tokenize for the model). Throws Error naming the model's task file when broken.
frames::TokenInput step_input(const Step& step);

} // namespace statescope::lessons
