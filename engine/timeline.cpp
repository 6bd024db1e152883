#include "statescope/timeline.h"

#include "statescope/error.h"

#include <algorithm>
#include <string>
#include <utility>

namespace statescope {

namespace {

// Longest slice of tokens one forward call gets when nothing asks for finer steps: bounds the
// activation memory of a pass over a long sequence, observed ones included (the model keeps
// observed calls whole; Mamba-1's scan inputs take ~1 MB per token and layer at 2.8B).
constexpr int64_t kMaxSlice = 512;

// Copies the scan inputs (or attention tensors) of one layer as the model reports them.
class WindowObserver : public ForwardObserver {
public:
    explicit WindowObserver(int layer) : layer_(layer) {}
    bool wants_layer(int layer) const override { return layer == layer_; }
    void on_scan(int, int64_t first, const ScanInputs& in, const float* S0) override {
        if (scan_.has_value()) throw Error("layer " + std::to_string(layer_) + " reported two scans in one call");
        scan_.emplace();
        scan_->first = first;
        scan_->in = in;
        const size_t n = size_t(in.H) * in.K * in.V;
        scan_->S0 = Tensor({in.H, in.K, in.V}, std::vector<float>(S0, S0 + n));
    }
    void on_attention(int, int64_t first, const Tensor& q, const Tensor& k, const Tensor& v) override {
        attention_ = AttentionWindow{first, q, k, v};
    }
    std::optional<LayerWindow> scan_;
    std::optional<AttentionWindow> attention_;

private:
    int layer_;
};

class StateVisitor : public ForwardObserver {
public:
    StateVisitor(int layer, const std::function<void(int64_t, const float*)>& visit) : layer_(layer), visit_(visit) {}
    bool wants_layer(int layer) const override { return layer == layer_; }
    bool wants_state(int layer, int64_t) const override { return layer == layer_; }
    // The observer's position is the index of the token just consumed: the state after it is
    // the timeline's position index + 1.
    void on_state(int, int64_t token_index, const float* S) override { visit_(token_index + 1, S); }

private:
    int layer_;
    const std::function<void(int64_t, const float*)>& visit_;
};

} // namespace

Timeline::Timeline(const Model& model, TimelineOptions options)
    : model_(model), options_(options), interval_(std::max<int64_t>(1, options.min_interval)) {
    end_ = model_.initial_state();
    checkpoints_.emplace(0, end_);
}

size_t Timeline::checkpoint_bytes() const {
    size_t n = 0;
    for (const auto& [pos, st] : checkpoints_) n += st.bytes();
    return n;
}

void Timeline::check_position(int64_t position, const char* what) const {
    if (position < 0 || position > length())
        throw Error(std::string(what) + ": position " + std::to_string(position) + " is outside the sequence [0, " +
                    std::to_string(length()) + "]");
}

void Timeline::append(std::span<const int32_t> tokens, const Progress& progress) {
    const int vocab = model_.info().vocab_size;
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            throw Error("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(length() + int64_t(i)) +
                        " is out of range for a vocabulary of " + std::to_string(vocab));
    const int64_t old_length = length();
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    try {
        // Stop at every checkpoint boundary on the way and keep the state there.
        SequenceState st = end_;
        while (st.position < length()) {
            const int64_t next = std::min(length(), (st.position / interval_ + 1) * interval_);
            run_to(st, next);
            if (st.position % interval_ == 0) {
                keep_checkpoint(st);
                // Within the loop: a long append of a growing state (a KV cache) must never hold
                // more than the budget, not only after it finished.
                enforce_budget();
            }
            if (progress) progress(st.position - old_length, int64_t(tokens.size()));
        }
        end_ = std::move(st);
    } catch (...) {
        tokens_.resize(size_t(old_length));
        for (auto it = checkpoints_.upper_bound(old_length); it != checkpoints_.end();) it = checkpoints_.erase(it);
        throw;
    }
    enforce_budget();
}

void Timeline::truncate(int64_t new_length) {
    check_position(new_length, "truncate");
    if (new_length == length()) return;
    tokens_.resize(size_t(new_length));
    for (auto it = checkpoints_.upper_bound(new_length); it != checkpoints_.end();) it = checkpoints_.erase(it);
    if (cursor_ && cursor_->position > new_length) cursor_.reset();
    SequenceState st = start_before(new_length);
    run_to(st, new_length);
    end_ = std::move(st);
}

int64_t Timeline::set_tokens(std::span<const int32_t> tokens, const Progress& progress) {
    const int vocab = model_.info().vocab_size;
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            throw Error("token id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                        " is out of range for a vocabulary of " + std::to_string(vocab));
    const int64_t before = tokens_computed_;
    size_t common = 0;
    while (common < tokens.size() && common < tokens_.size() && tokens[common] == tokens_[common]) ++common;
    // What truncation drops is set aside, not copied, so that a run that throws (a cancelled
    // edit) can put the old sequence back at no cost instead of recomputing it.
    std::vector<int32_t> old_tokens = tokens_;
    SequenceState old_end; // truncate() recomputes the end from a checkpoint, never from a later end
    if (common < tokens_.size()) old_end = std::exchange(end_, SequenceState{});
    std::map<int64_t, SequenceState> dropped;
    for (auto it = checkpoints_.upper_bound(int64_t(common)); it != checkpoints_.end();) dropped.insert(checkpoints_.extract(it++));
    try {
        truncate(int64_t(common));
        append(tokens.subspan(common), progress);
    } catch (...) {
        // append() already removed its own checkpoints; a budget it enforced meanwhile may have
        // widened the interval, which only leaves the restored checkpoints denser than needed.
        tokens_ = std::move(old_tokens);
        for (auto it = checkpoints_.upper_bound(int64_t(common)); it != checkpoints_.end();) it = checkpoints_.erase(it);
        checkpoints_.merge(dropped);
        if (common < tokens_.size()) end_ = std::move(old_end);
        cursor_.reset();
        enforce_budget();
        throw;
    }
    return tokens_computed_ - before;
}

void Timeline::keep_checkpoint(const SequenceState& state) {
    checkpoints_.insert_or_assign(state.position, state);
}

void Timeline::enforce_budget() {
    // Doubling the interval halves the checkpoints; position 0 (a multiple of everything) stays.
    while (checkpoints_.size() > 1 && checkpoint_bytes() > options_.checkpoint_budget_bytes) {
        interval_ *= 2;
        for (auto it = checkpoints_.begin(); it != checkpoints_.end();)
            it = (it->first % interval_ == 0) ? std::next(it) : checkpoints_.erase(it);
    }
}

SequenceState Timeline::start_before(int64_t position) const {
    auto it = checkpoints_.upper_bound(position);
    --it; // position 0 is always present, so some checkpoint is <= position
    const SequenceState* best = &it->second;
    if (cursor_ && cursor_->position <= position && cursor_->position > best->position) best = &*cursor_;
    if (end_.position <= position && end_.position > best->position) best = &end_;
    return *best;
}

void Timeline::run_to(SequenceState& state, int64_t position, ForwardObserver* observer) {
    ForwardOptions opts;
    opts.all_logits = false;
    opts.observer = observer;
    while (state.position < position) {
        const int64_t n = std::min(position - state.position, kMaxSlice);
        model_.forward(std::span<const int32_t>(tokens_.data() + state.position, size_t(n)), state, opts);
        tokens_computed_ += n;
    }
}

SequenceState Timeline::state_at(int64_t position) {
    check_position(position, "state_at");
    SequenceState st = start_before(position);
    run_to(st, position);
    cursor_ = st;
    return st;
}

Tensor Timeline::layer_state(int layer, int64_t position) {
    if (layer < 0 || layer >= model_.info().num_layers)
        throw Error("layer " + std::to_string(layer) + " does not exist (the model has " +
                    std::to_string(model_.info().num_layers) + ")");
    SequenceState st = state_at(position);
    return std::move(st.layers[size_t(layer)].recurrent);
}

namespace {
void check_window(const Model& m, int layer, int64_t first, int64_t last, int64_t length) {
    if (layer < 0 || layer >= m.info().num_layers)
        throw Error("layer " + std::to_string(layer) + " does not exist (the model has " +
                    std::to_string(m.info().num_layers) + ")");
    if (first < 0 || last < first || last >= length)
        throw Error("window [" + std::to_string(first) + ", " + std::to_string(last) + "] is not inside the " +
                    std::to_string(length) + " tokens of the sequence");
}
} // namespace

SequenceState Timeline::forward_window(int64_t first, int64_t last, ForwardObserver& observer, Tensor* last_logits) {
    SequenceState st = start_before(first);
    run_to(st, first);
    ForwardOptions opts;
    opts.all_logits = false;
    opts.observer = &observer;
    ForwardResult r = model_.forward(std::span<const int32_t>(tokens_.data() + first, size_t(last - first + 1)), st, opts);
    if (last_logits) *last_logits = std::move(r.logits);
    return st;
}

LayerWindow Timeline::scan_window(int layer, int64_t first, int64_t last, SequenceState* after, Tensor* last_logits) {
    check_window(model_, layer, first, last, length());
    if (model_.info().layers[size_t(layer)].mixer != MixerKind::Recurrent)
        throw Error("layer " + std::to_string(layer) + " is a softmax-attention layer and has no scan inputs");
    WindowObserver obs(layer);
    SequenceState st = forward_window(first, last, obs, last_logits);
    if (!obs.scan_) throw Error("layer " + std::to_string(layer) + " reported no scan inputs");
    cursor_ = st;
    if (after) *after = std::move(st);
    return std::move(*obs.scan_);
}

AttentionWindow Timeline::attention_window(int layer, int64_t first, int64_t last, SequenceState* after, Tensor* last_logits) {
    check_window(model_, layer, first, last, length());
    if (model_.info().layers[size_t(layer)].mixer != MixerKind::SoftmaxAttention)
        throw Error("layer " + std::to_string(layer) + " is recurrent; use its scan inputs");
    WindowObserver obs(layer);
    SequenceState st = forward_window(first, last, obs, last_logits);
    if (!obs.attention_) throw Error("layer " + std::to_string(layer) + " reported no attention tensors");
    cursor_ = st;
    if (after) *after = std::move(st);
    return std::move(*obs.attention_);
}

void Timeline::visit_states(int layer, int64_t from, int64_t to,
                            const std::function<void(int64_t position, const float* S)>& visit) {
    check_position(from, "visit_states");
    check_position(to, "visit_states");
    if (to <= from) return;
    SequenceState st = start_before(from);
    run_to(st, from);
    StateVisitor obs(layer, visit);
    run_to(st, to, &obs);
    cursor_ = std::move(st);
}

} // namespace statescope
