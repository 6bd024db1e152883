#include "engine_worker.h"

#include "analysis/attention_map.h"
#include "analysis/spectrum.h"
#include "analysis/state_stats.h"
#include "core/error.h"
#include "generate.h"

#include <QElapsedTimer>
#include <algorithm>
#include <cmath>

namespace statescope::app {

namespace {

// Thrown inside long computations when a newer request has arrived; never reaches the UI.
struct Superseded {};
// Thrown inside the sequence pass when a frame is waiting: the pass is posted again behind it.
struct YieldToFrame {};

// Overview thumbnails: enough to see structure, few enough to draw every layer and head.
constexpr int kThumbnailSide = 24;
constexpr int kOverviewMaxHeads = 256; // Mamba-1 has a head per channel; the rest via the head box
// The trajectory keeps at most this many floats of flattened states (subsampling tokens).
constexpr size_t kTrajectoryFloats = size_t(16) << 20;
constexpr int kTrajectoryMaxPoints = 2048;
// Tokens per scan window when computing the attention-entropy curve.
constexpr int64_t kEntropyChunk = 512;

views::Matrix to_matrix(const analysis::AttentionMap& m) { return views::Matrix(m.rows, m.cols, m.weights); }

views::Matrix head_state(const Tensor& S, int head) {
    const int K = int(S.shape[1]), V = int(S.shape[2]);
    const float* p = S.ptr() + size_t(head) * K * V;
    return views::Matrix(K, V, std::vector<float>(p, p + size_t(K) * V));
}

views::OverviewData overview_of(const ModelInfo& info, const SequenceState& st) {
    views::OverviewData o;
    for (size_t l = 0; l < info.layers.size(); ++l) {
        const LayerInfo& L = info.layers[l];
        o.layer_notes.push_back(QString::fromStdString(L.mixer_name.empty() ? transition_name(L.transition) : L.mixer_name));
        std::vector<views::OverviewCell> row;
        const int heads = std::min(L.heads, kOverviewMaxHeads);
        const Tensor& S = st.layers[l].recurrent;
        for (int h = 0; h < heads; ++h) {
            views::OverviewCell c;
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

} // namespace

views::Matrix downsample(const float* S, int K, int V, int max_side) {
    const int bk = (K + max_side - 1) / max_side, bv = (V + max_side - 1) / max_side;
    views::Matrix m((K + bk - 1) / bk, (V + bv - 1) / bv);
    for (int r = 0; r < K; ++r)
        for (int c = 0; c < V; ++c) {
            float& cell = m.at(r / bk, c / bv);
            const float v = S[size_t(r) * V + c];
            if (std::abs(v) > std::abs(cell)) cell = v;
        }
    return m;
}

EngineWorker::~EngineWorker() = default;

std::shared_ptr<ModelSummary> EngineWorker::summary(uint64_t session, const QString& tokens_from) const {
    auto s = std::make_shared<ModelSummary>();
    s->session = session;
    s->path = path_;
    s->info = model_->info();
    s->tokens = timeline_->tokens();
    for (int32_t id : s->tokens) s->labels.push_back(codec_->label(id));
    s->tokens_from = tokens_from;
    s->checkpoint_interval = timeline_->interval();
    s->checkpoint_bytes = timeline_->checkpoint_bytes();
    s->end_state_bytes = timeline_->state_at(timeline_->length()).bytes();
    return s;
}

void EngineWorker::load(const LoadRequest& r) {
    if (stale(r.session)) return;
    if (r.keep_model && model_ && timeline_ && r.path == path_) {
        try {
            QElapsedTimer clock;
            clock.start();
            const TokenInput input = codec_->encode(r.input);
            const int64_t ran = timeline_->set_tokens(input.ids); // unchanged if it throws
            tokens_from_ = input.description;
            session_ = r.session;
            window_ = {};
            auto s = summary(r.session, tokens_from_);
            s->run_ms = double(clock.nsecsElapsed()) / 1e6;
            s->tokens_run = ran;
            callbacks_.loaded(s);
        } catch (const std::exception& e) {
            callbacks_.failed(r.session, 0, "load", QString::fromStdString(e.what()));
        }
        return;
    }
    try {
        QElapsedTimer clock;
        clock.start();
        auto model = load_model(r.path.toStdString());
        auto codec = std::make_unique<TokenCodec>(r.path);
        const double load_ms = double(clock.nsecsElapsed()) / 1e6;
        clock.restart();
        const TokenInput input = codec->encode(r.input);
        auto timeline = std::make_unique<Timeline>(*model);
        timeline->append(input.ids);
        const double run_ms = double(clock.nsecsElapsed()) / 1e6;
        // Only a model that loaded and ran replaces the current one.
        timeline_ = std::move(timeline);
        model_ = std::move(model);
        codec_ = std::move(codec);
        path_ = r.path;
        tokens_from_ = input.description;
        session_ = r.session;
        window_ = {};
        auto s = summary(r.session, tokens_from_);
        s->load_ms = load_ms;
        s->run_ms = run_ms;
        s->tokens_run = int64_t(input.ids.size());
        callbacks_.loaded(s);
    } catch (const std::exception& e) {
        callbacks_.failed(r.session, 0, "load", QString::fromStdString(e.what()));
    }
}

void EngineWorker::continue_sequence(const ContinueRequest& r) {
    if (stale(r.session)) return;
    try {
        require(model_ && timeline_ && timeline_->length() > 0, "there is no sequence to continue");
        const int64_t keep = std::clamp<int64_t>(r.keep, 1, timeline_->length());
        Generation g;
        g.session = r.session;
        g.remaining = std::max(1, r.count);
        g.sampler = std::make_unique<Sampler>(r.sampling); // throws for options out of range
        // The state before the kept sequence's last token, and that token's logits.
        g.state = timeline_->state_at(keep - 1);
        ForwardOptions last_only;
        last_only.all_logits = false;
        const int32_t last = timeline_->tokens()[size_t(keep - 1)];
        g.logits = model_->forward(std::span<const int32_t>(&last, 1), g.state, last_only).logits.data;
        if (codec_) g.stop_ids = codec_->stop_ids();
        g.base_description = tokens_from_;
        timeline_->truncate(keep);
        window_ = {};
        session_ = r.session;
        stop_generation = false;
        generation_ = std::move(g);
        generate_step(r.session);
    } catch (const std::exception& e) {
        callbacks_.failed(r.session, 0, "load", QString::fromStdString(e.what()));
    }
}

void EngineWorker::generate_step(uint64_t session) {
    Generation& g = generation_;
    if (g.session != session || stale(session) || g.remaining <= 0) return;
    try {
        QElapsedTimer clock;
        clock.start();
        const int32_t id = g.sampler->next(g.logits);
        ForwardOptions last_only;
        last_only.all_logits = false;
        g.logits = model_->forward(std::span<const int32_t>(&id, 1), g.state, last_only).logits.data;
        timeline_->append(std::span<const int32_t>(&id, 1));
        --g.remaining;
        ++g.done;
        const bool stop = stop_generation.exchange(false) ||
                          std::find(g.stop_ids.begin(), g.stop_ids.end(), id) != g.stop_ids.end();
        if (stop) g.remaining = 0;
        auto s = summary(session, g.base_description + QString(" + %1 generated").arg(g.done));
        s->run_ms = double(clock.nsecsElapsed()) / 1e6;
        s->tokens_run = 2; // the sampled token's forward, and the timeline's
        s->generating = g.remaining > 0;
        callbacks_.loaded(s);
        if (g.remaining > 0)
            QMetaObject::invokeMethod(this, [this, session] { generate_step(session); }, Qt::QueuedConnection);
    } catch (const std::exception& e) {
        g.remaining = 0;
        callbacks_.failed(session, 0, "load", QString::fromStdString(e.what()));
    }
}

const ScanInputs& EngineWorker::layer_window(int layer, int64_t first, int64_t last, SequenceState& after) {
    WindowCache& c = window_;
    const bool reusable = c.layer == layer && c.last >= 0 && first >= c.first && last >= c.last && first <= c.last + 1;
    if (!reusable) {
        const LayerWindow w = timeline_->scan_window(layer, first, last, &c.after);
        c.layer = layer;
        c.first = first;
        c.last = last;
        c.in = w.in;
    } else {
        if (last > c.last) {
            SequenceState ext_after;
            const LayerWindow ext = timeline_->scan_window(layer, c.last + 1, last, &ext_after);
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
    return c.in;
}

void EngineWorker::frame(const FrameRequest& r) {
    frame_seen_ = std::max(frame_seen_, r.generation);
    if (stale(r.session) || r.session != session_ || r.generation < latest_frame.load()) return;
    try {
        QElapsedTimer clock;
        clock.start();
        const ModelInfo& info = model_->info();
        require(r.layer >= 0 && r.layer < info.num_layers, "layer " + std::to_string(r.layer) + " does not exist");
        require(timeline_->length() > 0, "the sequence is empty");
        const LayerInfo& L = info.layers[size_t(r.layer)];
        auto f = std::make_shared<FrameResult>();
        f->session = r.session;
        f->generation = r.generation;
        f->layer = r.layer;
        f->head = std::clamp(r.head, 0, L.heads - 1);
        f->token = std::clamp<int64_t>(r.token, 0, timeline_->length() - 1);
        f->window_first = std::max<int64_t>(0, f->token - std::max(1, r.window) + 1);
        f->recurrent = L.mixer == MixerKind::Recurrent;
        SequenceState after;
        if (f->recurrent) {
            const ScanInputs& in = layer_window(r.layer, f->window_first, f->token, after);
            const int T = in.T, h = f->head;
            f->state = head_state(after.layers[size_t(r.layer)].recurrent, h);
            const auto sv = analysis::singular_values(f->state.values.data(), f->state.rows, f->state.cols);
            f->effective_rank = analysis::effective_rank(sv);
            f->state_norm = analysis::frobenius_norm(f->state.values.data(), f->state.values.size());
            f->substeps = in.substeps;
            const auto exact = analysis::exact_attention(in, h);
            const auto soft = analysis::softmax_attention(in, h);
            const int n = T * in.substeps;
            f->exact_entropy = analysis::row_entropy(&exact.weights[size_t(T - 1) * exact.cols], n);
            f->softmax_entropy = analysis::row_entropy(&soft.weights[size_t(T - 1) * soft.cols], n);
            f->exact = to_matrix(exact);
            f->softmax = to_matrix(soft);
            views::EigenData& e = f->eigen;
            e.token_index = f->token;
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
            const AttentionWindow w = timeline_->attention_window(r.layer, f->window_first, f->token, &after);
            const int D = int(w.k.shape[2]), kv_heads = int(w.k.shape[1]), P = int(w.k.shape[0]);
            const int kvh = f->head / std::max(1, int(w.q.shape[1]) / kv_heads);
            // A softmax layer's memory is its key cache: show the focused head's keys, one column
            // per cached position (it grows with the sequence where a recurrent state does not).
            f->state = views::Matrix(D, P);
            for (int p = 0; p < P; ++p)
                for (int i = 0; i < D; ++i) f->state.at(i, p) = w.k.data[(size_t(p) * kv_heads + kvh) * D + i];
            f->state_norm = analysis::frobenius_norm(f->state.values.data(), f->state.values.size());
            const auto soft = analysis::softmax_attention_cached(w.q, w.k, f->head, 1.0 / std::sqrt(double(D)));
            f->softmax = to_matrix(soft);
            f->exact = f->softmax;
            f->softmax_entropy = f->exact_entropy = analysis::row_entropy(&soft.weights[size_t(soft.rows - 1) * soft.cols], soft.cols);
        }
        f->overview = overview_of(info, after);
        f->compute_ms = double(clock.nsecsElapsed()) / 1e6;
        callbacks_.frame(f);
    } catch (const std::exception& e) {
        callbacks_.failed(r.session, r.generation, "frame", QString::fromStdString(e.what()));
    }
}

void EngineWorker::sequence(const SequenceRequest& r) {
    if (stale(r.session) || r.session != session_ || r.generation < latest_sequence.load()) return;
    try {
        QElapsedTimer clock;
        clock.start();
        const ModelInfo& info = model_->info();
        require(r.layer >= 0 && r.layer < info.num_layers, "layer " + std::to_string(r.layer) + " does not exist");
        const LayerInfo& L = info.layers[size_t(r.layer)];
        auto s = std::make_shared<SequenceResult>();
        s->session = r.session;
        s->generation = r.generation;
        s->layer = r.layer;
        s->head = std::clamp(r.head, 0, L.heads - 1);
        s->curves.layer = r.layer;
        s->curves.focused_head = s->head;
        s->trajectory.layer = r.layer;
        s->trajectory.head = s->head;
        if (L.mixer == MixerKind::Recurrent) {
            const int64_t n = timeline_->length();
            const int K = L.key_dim, V = L.value_dim, H = L.heads;
            const size_t per_head = size_t(K) * V;
            s->curves.max_rank = std::min(K, V);
            s->curves.norms.assign(size_t(H), std::vector<float>(size_t(n)));
            s->curves.effective_rank.resize(size_t(n));
            const int64_t stride = std::max<int64_t>({1, (n + kTrajectoryMaxPoints - 1) / kTrajectoryMaxPoints,
                                                      int64_t((size_t(n) * per_head + kTrajectoryFloats - 1) / kTrajectoryFloats)});
            std::vector<float> points;
            timeline_->visit_states(r.layer, 0, n, [&](int64_t position, const float* S) {
                if (r.generation < latest_sequence.load() || stale(r.session)) throw Superseded{};
                if (latest_frame.load() > frame_seen_) throw YieldToFrame{};
                const size_t t = size_t(position - 1); // state after token t
                for (int h = 0; h < H; ++h) s->curves.norms[size_t(h)][t] = float(analysis::frobenius_norm(S + h * per_head, per_head));
                const float* Sh = S + size_t(s->head) * per_head;
                s->curves.effective_rank[t] = float(analysis::effective_rank(analysis::singular_values(Sh, K, V)));
                if (int64_t(t) % stride == 0 || int64_t(t) == n - 1) {
                    points.insert(points.end(), Sh, Sh + per_head);
                    s->trajectory.tokens.push_back(int64_t(t));
                }
            });
            // Attention entropy of every token's row over the window, in chunks of tokens so that
            // the scan inputs held at once stay small; a chunk starts `window` tokens early so
            // that its first rows see their whole window.
            const int W = std::max(1, r.window);
            s->curves.window = W;
            s->curves.exact_entropy.resize(size_t(n));
            s->curves.softmax_entropy.resize(size_t(n));
            for (int64_t c = 0; c < n; c += kEntropyChunk) {
                if (r.generation < latest_sequence.load() || stale(r.session)) throw Superseded{};
                if (latest_frame.load() > frame_seen_) throw YieldToFrame{};
                const int64_t lo = std::max<int64_t>(0, c - W + 1), hi = std::min<int64_t>(n, c + kEntropyChunk) - 1;
                const LayerWindow lw = timeline_->scan_window(r.layer, lo, hi);
                const auto exact = analysis::windowed_row_entropies(lw.in, s->head, W, false);
                const auto soft = analysis::windowed_row_entropies(lw.in, s->head, W, true);
                for (int64_t t = c; t <= hi; ++t) {
                    s->curves.exact_entropy[size_t(t)] = float(exact[size_t(t - lo)]);
                    s->curves.softmax_entropy[size_t(t)] = float(soft[size_t(t - lo)]);
                }
            }

            const int np = int(s->trajectory.tokens.size());
            const analysis::Projection p = analysis::pca(points, np, int(per_head), 3);
            s->trajectory.coords.assign(size_t(np) * 3, 0.0);
            for (int i = 0; i < np; ++i)
                for (int k = 0; k < p.dims; ++k) s->trajectory.coords[size_t(i) * 3 + k] = p.coords[size_t(i) * p.dims + k];
            for (int k = 0; k < p.dims; ++k)
                s->trajectory.explained.push_back(p.total_variance > 0 ? p.variance[size_t(k)] / p.total_variance : 0.0);
        }
        s->compute_ms = double(clock.nsecsElapsed()) / 1e6;
        callbacks_.sequence(s);
    } catch (const YieldToFrame&) {
        // The position moved while the curves were computing: show the frame first (the user is
        // looking at it), then start the curves again from the queue's end.
        QMetaObject::invokeMethod(this, [this, r] { sequence(r); }, Qt::QueuedConnection);
    } catch (const Superseded&) {
        // A newer request is queued behind this one.
    } catch (const std::exception& e) {
        callbacks_.failed(r.session, r.generation, "sequence", QString::fromStdString(e.what()));
    }
}

} // namespace statescope::app
