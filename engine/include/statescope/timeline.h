// A token sequence run through one Model, with random access to its state at any position.
//
// Keeping every state of a long sequence is out of the question (a 1.3B model holds ~25 MB of
// state per token), so the timeline keeps SequenceState checkpoints every `interval` tokens and
// recomputes anything else by restoring the nearest checkpoint at or before the position and
// running forward from there. The interval is chosen so that the checkpoints fit a byte budget:
// it starts at TimelineOptions::min_interval and doubles (dropping every other checkpoint) when
// the sequence grows past what the budget holds. A cursor (the last state computed) makes
// stepping forward one token cost one token of forward.
//
// Positions count tokens consumed: the state "at position p" is the state after tokens
// 0 .. p-1, so position 0 is the initial state and position length() the state after the last token.
// Not thread-safe: one thread (the app's engine worker) owns a Timeline.
#pragma once
#include "statescope/model.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace statescope {

struct TimelineOptions {
    size_t checkpoint_budget_bytes = size_t(256) << 20; // memory the checkpoints may hold
    int64_t min_interval = 16;                          // densest checkpoint spacing, in tokens
};

// What one recurrent layer saw over a window of tokens: its common-form scan inputs (token index
// 0 of `in` is position `first`) and its state before the window.
struct LayerWindow {
    int64_t first = 0;
    ScanInputs in;   // T = number of tokens in the window
    Tensor S0;       // [H, K, V] state before token `first`
};

// What one softmax-attention layer saw: queries of the window's tokens and the whole key/value
// cache up to the window's last token (post-RoPE, as ForwardObserver::on_attention gives them).
struct AttentionWindow {
    int64_t first = 0;
    Tensor q;        // [T, heads, D]
    Tensor k, v;     // [P, kv_heads, D], P = first + T
};

class Timeline {
public:
    explicit Timeline(const Model& model, TimelineOptions options = {});

    const Model& model() const { return model_; }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int64_t length() const { return int64_t(tokens_.size()); }
    int64_t interval() const { return interval_; }
    size_t checkpoint_count() const { return checkpoints_.size(); }
    size_t checkpoint_bytes() const;

    // Called during a long run with the tokens run so far of `total`, after every piece (at most
    // one checkpoint interval): the last call has done == total. It may throw to abandon the run
    // (the app's Cancel); the timeline is then as it was before the call.
    using Progress = std::function<void(int64_t done, int64_t total)>;

    // Runs the model over more tokens (throws Error for an id out of range; the timeline is then
    // unchanged, as it is when `progress` throws).
    void append(std::span<const int32_t> tokens, const Progress& progress = {});
    // Drops every token from position `length` on.
    void truncate(int64_t length);
    // Replaces the sequence (an edited prompt), keeping the work of the longest common prefix:
    // checkpoints inside it stay, and only the tokens after the nearest kept state are run.
    // Returns how many tokens the model ran. Throws Error for an id out of range; whatever it
    // throws (`progress` abandoning the run included), the sequence stays as it was.
    // `progress` counts the tokens after the unchanged prefix.
    int64_t set_tokens(std::span<const int32_t> tokens, const Progress& progress = {});
    // Tokens run through the model since construction: the cost of everything asked so far.
    int64_t tokens_computed() const { return tokens_computed_; }

    // The whole sequence state at `position` (0 <= position <= length()).
    SequenceState state_at(int64_t position);
    // Layer `layer`'s recurrent state [H, K, V] at `position` (empty for softmax layers).
    Tensor layer_state(int layer, int64_t position);

    // Scan inputs of recurrent layer `layer` for the tokens at positions first .. last (inclusive).
    // When `after` is given it receives the whole state at position last + 1, and `last_logits`
    // the logits [1, vocab] after token `last` (both computed anyway).
    LayerWindow scan_window(int layer, int64_t first, int64_t last, SequenceState* after = nullptr, Tensor* last_logits = nullptr);
    // The same for a softmax-attention layer.
    AttentionWindow attention_window(int layer, int64_t first, int64_t last, SequenceState* after = nullptr,
                                     Tensor* last_logits = nullptr);

    // Calls visit(position, S) with layer `layer`'s state [H, K, V] at every position in
    // (from, to], in order; S is valid during the call only. Costs one forward pass over the range.
    void visit_states(int layer, int64_t from, int64_t to,
                      const std::function<void(int64_t position, const float* S)>& visit);

    // Drops the cursor, so that the next computation starts from a checkpoint. What a position
    // shows then depends only on the sequence, not on where the viewer was before: a saved
    // session reopened elsewhere gives the same bits (forward passes over different slices may
    // round differently).
    void forget_cursor() { cursor_.reset(); }

private:
    void check_position(int64_t position, const char* what) const;
    // A copy of the best starting point at or before `position` (checkpoint or cursor).
    SequenceState start_before(int64_t position) const;
    // Runs tokens [state.position, position) through the model, in slices of at most interval_.
    void run_to(SequenceState& state, int64_t position, ForwardObserver* observer = nullptr);
    // Tokens [first, last] in one forward call with `observer` (so that a layer reports the
    // window as one scan or one attention call); returns the state after `last`.
    SequenceState forward_window(int64_t first, int64_t last, ForwardObserver& observer, Tensor* last_logits = nullptr);
    void keep_checkpoint(const SequenceState& state);
    void enforce_budget();

    const Model& model_;
    TimelineOptions options_;
    int64_t interval_;
    std::vector<int32_t> tokens_;
    std::map<int64_t, SequenceState> checkpoints_; // position -> state; position 0 always present
    SequenceState end_;                           // state at length()
    std::optional<SequenceState> cursor_;          // the last state state_at() computed
    int64_t tokens_computed_ = 0;
};

} // namespace statescope
