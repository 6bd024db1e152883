// A saved investigation: which model, which sequence and where it came from, where the viewer
// stands, how the views are set, and what the user marked, wrote down and pinned. Stored as an
// SQLite database (a `.statescope` file) with a versioned, add-only schema; the GUI, the CLI
// (`statescope-cli session ...`) and lessons read and write it through this interface. No Qt.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace statescope::session {

// The schema this build writes. Files with a lower version are migrated on open (tables and
// columns are only ever added); files with a higher one are refused, naming both versions.
constexpr int kSchemaVersion = 1;

// How the checkpoint was identified when the session was saved: its location, and a hash of its
// config.json and safetensors headers (the index and every shard's header for sharded ones), so
// a moved or changed checkpoint is recognised.
struct ModelRef {
    std::string path;
    std::string identity; // model_identity(path) at save time
};

// A run of the token sequence and how it was made.
struct SequencePart {
    int64_t first = 0, count = 0; // token indices first .. first + count - 1
    std::string source;           // "prompt", "ids", "generation", "task"
    std::string settings;         // JSON: sampling settings and seed, task seed, ... ("" for none)
};

struct ViewSettings {
    std::string view;             // "state", "attention", "attention-softmax", ...
    std::string scale;            // "per-frame", "symlog", "fixed"
    double fixed_limit = 0;       // the limit of a fixed scale
};

struct Bookmark {
    std::string name;             // unique within a session
    int64_t token = 0;
    int layer = 0, head = 0;
    std::string view;             // the view it shows
    std::string notes;            // Markdown
};

struct Annotation {
    int64_t token = 0;
    std::string text;
};

// A layer's state at a token, kept for later comparison. Stored as float32 values.
struct PinnedState {
    std::string name;             // unique within a session
    int layer = 0;
    int64_t token = 0;
    std::vector<int64_t> shape;   // e.g. [H, K, V]
    std::vector<float> values;    // product of shape values
};

struct Session {
    ModelRef model;
    std::vector<int32_t> tokens;
    std::string text;             // the sequence's text where it has one
    std::vector<SequencePart> parts;
    int64_t token = 0;            // position: the state after this token
    int layer = 0, head = 0;
    int window = 32;
    std::vector<ViewSettings> views;
    std::string layout;           // the window's panel layout, opaque to the engine
    std::vector<Bookmark> bookmarks;
    std::vector<Annotation> annotations;
    std::vector<PinnedState> pinned;
    std::string lesson;           // the open lesson ("" for none) and its step
    int lesson_step = 0;
};

// Writes the session to `path` in one transaction: after a crash at any moment the file holds
// either the previous save or this one, whole. Creates the file if needed; refuses (Error naming
// the file) a file that is not a Statescope session or has a newer schema. Another process saving
// the same file at the same time waits for it (up to a few seconds), then is refused.
void save(const std::string& path, const Session& session);

// Reads a session; throws Error naming the file and what is wrong (not SQLite, another
// program's database, a newer schema, missing tables or columns, values out of range, a pinned
// state whose data does not match its shape).
Session load(const std::string& path);

// The identity of the checkpoint in `dir` (a folder or its config.json): a hex hash of
// config.json and the safetensors headers (for other weight formats, such as PyTorch
// checkpoints: of the config and every tensor's name, dtype and shape). Throws Error naming the
// file it cannot read.
std::string model_identity(const std::string& dir);

// A few lines describing the session, for `statescope-cli session info`.
std::string describe(const Session& session);

} // namespace statescope::session
