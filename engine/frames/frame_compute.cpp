#include "statescope/frames/frame_compute.h"

#include "statescope/analysis/attention_map.h"
#include "statescope/analysis/pca.h"
#include "statescope/analysis/spectrum.h"
#include "statescope/analysis/state_stats.h"
#include "statescope/error.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace statescope::frames {

namespace {

// Overview thumbnails: enough to see structure, few enough to draw every layer and head.
constexpr int kThumbnailSide = 24;
constexpr int kOverviewMaxHeads = 256; // Mamba-1 has a head per channel; the rest via the head box
// The trajectory keeps at most this many floats of flattened states (subsampling tokens).
constexpr size_t kTrajectoryFloats = size_t(16) << 20;
constexpr int kTrajectoryMaxPoints = 2048;
// Tokens per scan (or attention) window when computing the attention-entropy curves.
constexpr int64_t kEntropyChunk = 512;

Matrix to_matrix(const analysis::AttentionMap& m) { return Matrix(m.rows, m.cols, m.weights); }

Matrix head_state(const Tensor& S, int head) {
    const int K = int(S.shape[1]), V = int(S.shape[2]);
    const float* p = S.ptr() + size_t(head) * K * V;
    return Matrix(K, V, std::vector<float>(p, p + size_t(K) * V));
}

OverviewData overview_of(const ModelInfo& info, const SequenceState& st) {
    OverviewData o;
    for (size_t l = 0; l < info.layers.size(); ++l) {
        const LayerInfo& L = info.layers[l];
        o.layer_notes.push_back(L.mixer_name.empty() ? transition_name(L.transition) : L.mixer_name);
        std::vector<OverviewCell> row;
        const int heads = std::min(L.heads, kOverviewMaxHeads);
        const Tensor& S = st.layers[l].recurrent;
        for (int h = 0; h < heads; ++h) {
            OverviewCell c;
            if (L.mixer == MixerKind::Recurrent && !S.data.empty()) {
                const float* p = S.ptr() + size_t(h) * L.key_dim * L.value_dim;
                c.thumbnail = downsample(p, L.key_dim, L.value_dim, kThumbnailSide);
                c.norm = float(analysis::frobenius_norm(p, size_t(L.key_dim) * L.value_dim));
            }
            row.push_back(std::move(c));
        }
        o.cells.push_back(std::move(row));
    }
    return o;
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void check_layer(const ModelInfo& info, int layer) {
    require(layer >= 0 && layer < info.num_layers,
            "layer " + std::to_string(layer) + " does not exist (the model has " + std::to_string(info.num_layers) + ")");
}

} // namespace

std::string describe_inputs(const LayerInfo& L) {
    std::string s;
    if (L.conv_width > 1) {
        const int w = L.conv_width - 1;
        s = L.conv_inputs + " through a short convolution of width " + std::to_string(L.conv_width) + " (a key at token t mixes tokens t-" +
            std::to_string(w) + "..t, so a peak can sit up to " + std::to_string(w) + " token" + (w == 1 ? "" : "s") +
            " after the token it stands for)";
    }
    if (!L.qk_inputs.empty()) s += (s.empty() ? "" : "; ") + std::string("q, k: ") + L.qk_inputs;
    return s.empty() ? s : "before the recurrence: " + s;
}

Prediction predict(std::span<const float> logits, int32_t target, int k) {
    Prediction p;
    const int64_t n = int64_t(logits.size());
    p.vocab = n;
    if (n == 0) return p;
    double mx = -INFINITY;
    for (float l : logits)
        if (std::isfinite(l)) mx = std::max(mx, double(l));
    if (!std::isfinite(mx)) mx = 0;
    double z = 0;
    for (float l : logits) z += std::isfinite(l) ? std::exp(double(l) - mx) : 0.0;
    const double log_z = mx + std::log(z);
    auto prob = [&](float l) { return std::isfinite(l) ? std::exp(double(l) - log_z) : 0.0; };
    for (float l : logits) {
        const double q = prob(l);
        if (q > 0) p.entropy -= q * (double(l) - log_z);
    }
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[size_t(i)] = int32_t(i);
    const int64_t top = std::clamp<int64_t>(k, 0, n);
    auto before = [&](int32_t a, int32_t b) {
        const float la = logits[size_t(a)], lb = logits[size_t(b)];
        return la > lb || (la == lb && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + top, order.end(), before);
    for (int64_t i = 0; i < top; ++i) {
        const int32_t id = order[size_t(i)];
        p.top_ids.push_back(id);
        p.top_logits.push_back(logits[size_t(id)]);
        p.top_probs.push_back(float(prob(logits[size_t(id)])));
    }
    if (target >= 0 && target < n) {
        p.target = target;
        p.target_logit = logits[size_t(target)];
        p.target_prob = float(prob(p.target_logit));
        p.target_rank = 1;
        for (float l : logits) p.target_rank += l > p.target_logit;
    }
    return p;
}

std::vector<int32_t> prediction_targets(const std::vector<int32_t>& tokens, const std::vector<int32_t>& task_targets) {
    std::vector<int32_t> t(tokens.size(), -1);
    if (!task_targets.empty()) {
        std::copy_n(task_targets.begin(), std::min(task_targets.size(), t.size()), t.begin());
        return t;
    }
    for (size_t i = 0; i + 1 < tokens.size(); ++i) t[i] = tokens[i + 1];
    return t;
}

PredictionCurve predict_sequence(Timeline& timeline, const std::vector<int32_t>& targets, bool task_targets,
                                 const std::function<void()>& check) {
    const Model& model = timeline.model();
    const std::vector<int32_t>& tokens = timeline.tokens();
    const size_t n = tokens.size();
    PredictionCurve c;
    c.task_targets = task_targets;
    c.predicted.resize(n);
    c.predicted_prob.resize(n);
    c.targets.assign(n, -1);
    std::copy_n(targets.begin(), std::min(targets.size(), n), c.targets.begin());
    c.target_prob.assign(n, NAN);
    SequenceState state = model.initial_state();
    for (size_t first = 0; first < n; first += size_t(kEntropyChunk)) {
        if (check) check();
        const size_t count = std::min(n - first, size_t(kEntropyChunk));
        const Tensor logits = model.forward(std::span<const int32_t>(tokens.data() + first, count), state).logits;
        const size_t vocab = size_t(logits.shape.back());
        for (size_t i = 0; i < count; ++i) {
            const std::span<const float> row(logits.data.data() + i * vocab, vocab);
            const size_t t = first + i;
            const Prediction p = predict(row, c.targets[t], 1);
            c.predicted[t] = p.top_ids.empty() ? -1 : p.top_ids[0];
            c.predicted_prob[t] = p.top_probs.empty() ? 0.0f : p.top_probs[0];
            if (p.target >= 0) c.target_prob[t] = p.target_prob;
        }
    }
    return c;
}

Matrix downsample(const float* S, int K, int V, int max_side) {
    const int bk = (K + max_side - 1) / max_side, bv = (V + max_side - 1) / max_side;
    Matrix m((K + bk - 1) / bk, (V + bv - 1) / bv);
    for (int r = 0; r < K; ++r)
        for (int c = 0; c < V; ++c) {
            float& cell = m.at(r / bk, c / bv);
            const float v = S[size_t(r) * V + c];
            if (std::abs(v) > std::abs(cell)) cell = v;
        }
    return m;
}

const ScanInputs& FrameComputer::layer_window(Timeline& timeline, int layer, int64_t first, int64_t last,
                                              SequenceState& after, Tensor& last_logits) {
    WindowCache& c = window_;
    const bool reusable = c.layer == layer && c.last >= 0 && first >= c.first && last >= c.last && first <= c.last + 1;
    if (!reusable) {
        const LayerWindow w = timeline.scan_window(layer, first, last, &c.after, &c.logits);
        c.layer = layer;
        c.first = first;
        c.last = last;
        c.in = w.in;
    } else {
        if (last > c.last) {
            SequenceState ext_after;
            const LayerWindow ext = timeline.scan_window(layer, c.last + 1, last, &ext_after, &c.logits);
            c.in = analysis::token_concat(c.in, ext.in);
            c.after = std::move(ext_after);
            c.last = last;
        }
        if (first > c.first) {
            c.in = analysis::token_slice(c.in, int(first - c.first), int(c.last - first + 1));
            c.first = first;
        }
    }
    after = c.after;
    last_logits = c.logits;
    return c.in;
}

FrameResult FrameComputer::compute(Timeline& timeline, const FrameRequest& r) {
    const auto start = std::chrono::steady_clock::now();
    const ModelInfo& info = timeline.model().info();
    check_layer(info, r.layer);
    require(timeline.length() > 0, "the sequence is empty");
    const LayerInfo& L = info.layers[size_t(r.layer)];
    FrameResult f;
    f.session = r.session;
    f.generation = r.generation;
    f.layer = r.layer;
    f.head = std::clamp(r.head, 0, L.heads - 1);
    f.token = std::clamp<int64_t>(r.token, 0, timeline.length() - 1);
    f.window_first = std::max<int64_t>(0, f.token - std::max(1, r.window) + 1);
    f.recurrent = L.mixer == MixerKind::Recurrent;
    f.conv_width = L.conv_width;
    f.inputs = describe_inputs(L);
    SequenceState after;
    Tensor logits; // after the token: what the model predicts next
    if (f.recurrent) {
        const ScanInputs& in = layer_window(timeline, r.layer, f.window_first, f.token, after, logits);
        const int T = in.T, h = f.head;
        f.state = head_state(after.layers[size_t(r.layer)].recurrent, h);
        const auto sv = analysis::singular_values(f.state.values.data(), f.state.rows, f.state.cols);
        f.effective_rank = analysis::effective_rank(sv);
        f.state_norm = analysis::frobenius_norm(f.state.values.data(), f.state.values.size());
        f.substeps = in.substeps;
        const auto exact = analysis::exact_attention(in, h);
        const auto soft = analysis::softmax_attention(in, h);
        const int n = T * in.substeps;
        f.exact_entropy = analysis::row_entropy(&exact.weights[size_t(T - 1) * exact.cols], n);
        f.softmax_entropy = analysis::row_entropy(&soft.weights[size_t(T - 1) * soft.cols], n);
        f.exact = to_matrix(exact);
        f.softmax = to_matrix(soft);
        EigenData& e = f.eigen;
        e.token_index = f.token;
        e.transition = transition_name(L.transition);
        e.token = analysis::eigenvalues(analysis::transition(in, T - 1, h));
        e.token_radius = analysis::spectral_radius(e.token);
        e.token_half_life = analysis::half_life_tokens(e.token_radius);
        const analysis::Spectrum s = analysis::window_spectrum(in, 0, T - 1, h);
        e.window = s.eigenvalues;
        e.window_rates = s.rates;
        e.window_tokens = s.tokens;
        e.window_radius = s.radius;
        e.window_rate = s.rate_per_token;
        e.window_half_life = s.half_life;
    } else {
        const AttentionWindow w = timeline.attention_window(r.layer, f.window_first, f.token, &after, &logits);
        const int D = int(w.k.shape[2]), kv_heads = int(w.k.shape[1]), P = int(w.k.shape[0]);
        const int kvh = f.head / std::max(1, int(w.q.shape[1]) / kv_heads);
        // A softmax layer's memory is its key cache: show the focused head's keys, one column
        // per cached position (it grows with the sequence where a recurrent state does not).
        f.state = Matrix(D, P);
        for (int p = 0; p < P; ++p)
            for (int i = 0; i < D; ++i) f.state.at(i, p) = w.k.data[(size_t(p) * kv_heads + kvh) * D + i];
        f.state_norm = analysis::frobenius_norm(f.state.values.data(), f.state.values.size());
        const auto soft = analysis::softmax_attention_cached(w.q, w.k, f.head, 1.0 / std::sqrt(double(D)));
        f.softmax = to_matrix(soft);
        f.exact = f.softmax;
        f.softmax_entropy = f.exact_entropy = analysis::row_entropy(&soft.weights[size_t(soft.rows - 1) * soft.cols], soft.cols);
    }
    f.overview = overview_of(info, after);
    {
        f.prediction = predict(logits.data, r.target, r.top_k);
        f.prediction.token_index = f.token;
        f.prediction.task_target = r.task_target;
        if (label_) {
            for (int32_t top : f.prediction.top_ids) f.prediction.top_labels.push_back(label_(top));
            if (f.prediction.target >= 0) f.prediction.target_label = label_(f.prediction.target);
        }
    }
    f.compute_ms = elapsed_ms(start);
    return f;
}

SequenceResult compute_sequence(Timeline& timeline, const SequenceRequest& r, const std::function<void()>& check) {
    const auto start = std::chrono::steady_clock::now();
    auto checkpoint = [&] {
        if (check) check();
    };
    const ModelInfo& info = timeline.model().info();
    check_layer(info, r.layer);
    const LayerInfo& L = info.layers[size_t(r.layer)];
    SequenceResult s;
    s.session = r.session;
    s.generation = r.generation;
    s.layer = r.layer;
    s.head = std::clamp(r.head, 0, L.heads - 1);
    s.curves.layer = r.layer;
    s.curves.focused_head = s.head;
    s.trajectory.layer = r.layer;
    s.trajectory.head = s.head;
    if (L.mixer == MixerKind::Recurrent) {
        const int64_t n = timeline.length();
        const int K = L.key_dim, V = L.value_dim, H = L.heads;
        const size_t per_head = size_t(K) * V;
        s.curves.max_rank = std::min(K, V);
        s.curves.norms.assign(size_t(H), std::vector<float>(size_t(n)));
        s.curves.effective_rank.resize(size_t(n));
        const int64_t stride = std::max<int64_t>({1, (n + kTrajectoryMaxPoints - 1) / kTrajectoryMaxPoints,
                                                  int64_t((size_t(n) * per_head + kTrajectoryFloats - 1) / kTrajectoryFloats)});
        std::vector<float> points;
        timeline.visit_states(r.layer, 0, n, [&](int64_t position, const float* S) {
            checkpoint();
            const size_t t = size_t(position - 1); // state after token t
            for (int h = 0; h < H; ++h) s.curves.norms[size_t(h)][t] = float(analysis::frobenius_norm(S + h * per_head, per_head));
            const float* Sh = S + size_t(s.head) * per_head;
            s.curves.effective_rank[t] = float(analysis::effective_rank(analysis::singular_values(Sh, K, V)));
            if (int64_t(t) % stride == 0 || int64_t(t) == n - 1) {
                points.insert(points.end(), Sh, Sh + per_head);
                s.trajectory.tokens.push_back(int64_t(t));
            }
        });
        // Attention entropy of every token's row over the window, in chunks of tokens so that
        // the scan inputs held at once stay small; a chunk starts `window` tokens early so
        // that its first rows see their whole window.
        const int W = std::max(1, r.window);
        s.curves.window = W;
        s.curves.exact_entropy.resize(size_t(n));
        s.curves.softmax_entropy.resize(size_t(n));
        for (int64_t c = 0; c < n; c += kEntropyChunk) {
            checkpoint();
            const int64_t lo = std::max<int64_t>(0, c - W + 1), hi = std::min<int64_t>(n, c + kEntropyChunk) - 1;
            const LayerWindow lw = timeline.scan_window(r.layer, lo, hi);
            const auto exact = analysis::windowed_row_entropies(lw.in, s.head, W, false);
            const auto soft = analysis::windowed_row_entropies(lw.in, s.head, W, true);
            for (int64_t t = c; t <= hi; ++t) {
                s.curves.exact_entropy[size_t(t)] = float(exact[size_t(t - lo)]);
                s.curves.softmax_entropy[size_t(t)] = float(soft[size_t(t - lo)]);
            }
        }

        const int np = int(s.trajectory.tokens.size());
        const analysis::Projection p = analysis::pca(points, np, int(per_head), 3);
        s.trajectory.coords.assign(size_t(np) * 3, 0.0);
        for (int i = 0; i < np; ++i)
            for (int k = 0; k < p.dims; ++k) s.trajectory.coords[size_t(i) * 3 + k] = p.coords[size_t(i) * p.dims + k];
        for (int k = 0; k < p.dims; ++k)
            s.trajectory.explained.push_back(p.total_variance > 0 ? p.variance[size_t(k)] / p.total_variance : 0.0);
    } else {
        // A softmax layer has no state to follow (and no trajectory); what it does is its
        // attention: the entropy of each token's real row over every position it sees, and over
        // the last `window` of them, in chunks of queries against the cache up to the chunk's end.
        const int64_t n = timeline.length();
        const int W = std::max(1, r.window);
        s.curves.softmax_layer = true;
        s.curves.window = W;
        s.curves.row_entropy.resize(size_t(n));
        s.curves.softmax_entropy.resize(size_t(n));
        for (int64_t c = 0; c < n; c += kEntropyChunk) {
            checkpoint();
            const int64_t hi = std::min<int64_t>(n, c + kEntropyChunk) - 1;
            const AttentionWindow w = timeline.attention_window(r.layer, c, hi);
            const double scale = 1.0 / std::sqrt(double(w.k.shape[2])); // as the frame's map
            const auto e = analysis::softmax_row_entropies(w.q, w.k, s.head, scale, W);
            for (int64_t t = c; t <= hi; ++t) {
                s.curves.row_entropy[size_t(t)] = float(e.whole[size_t(t - c)]);
                s.curves.softmax_entropy[size_t(t)] = float(e.windowed[size_t(t - c)]);
            }
        }
    }
    if (r.predictions) s.prediction = predict_sequence(timeline, r.targets, r.task_targets, checkpoint);
    s.compute_ms = elapsed_ms(start);
    return s;
}

} // namespace statescope::frames
