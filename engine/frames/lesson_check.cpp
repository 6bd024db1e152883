#include "statescope/frames/lesson_check.h"

#include "statescope/analysis/attention_map.h"
#include "statescope/analysis/spectrum.h"
#include "statescope/analysis/state_stats.h"
#include "statescope/error.h"
#include "statescope/task.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace statescope::lessons {

namespace {

std::string fixed(double x, int digits = 4) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return buf;
}

// One forward pass over the step's sequence, keeping what the claims read: logits, the scan
// inputs of one layer and its state after every token.
struct Run : ForwardObserver {
    int layer = 0;
    int H = 0, K = 0, V = 0; // the layer's state sizes
    ScanInputs in;
    bool have_scan = false;
    std::vector<Tensor> states; // [token] -> the state after it, [H, K, V]
    Tensor logits;

    bool wants_layer(int l) const override { return l == layer; }
    void on_scan(int, int64_t first, const ScanInputs& s, const float*) override {
        require(first == 0, "the lesson checker expects one scan over the whole sequence");
        in = s;
        have_scan = true;
    }
    bool wants_state(int, int64_t) const override { return true; }
    // The observer's position is the index of the token just consumed.
    void on_state(int, int64_t token, const float* S) override {
        if (states.size() <= size_t(token)) states.resize(size_t(token) + 1);
        states[size_t(token)] = Tensor({H, K, V}, std::vector<float>(S, S + size_t(H) * K * V));
    }
};

struct Context {
    const Model& model;
    std::vector<int32_t> tokens, targets;
    std::optional<task::Spec> spec;
    std::string where; // "claim 'text'" for errors
    [[noreturn]] void fail(const std::string& m) const { throw Error(where + ": " + m); }
};

std::vector<int64_t> select_tokens(const Context& c, const Step& step, const Claim& claim, int64_t step_token) {
    const int64_t T = int64_t(c.tokens.size());
    std::vector<int64_t> out;
    const TokenSelection& s = claim.tokens;
    switch (s.kind) {
    case TokenSelection::Kind::StepToken: out.push_back(claim.token.value_or(step_token)); break;
    case TokenSelection::Kind::All:
        for (int64_t t = 0; t < T; ++t) out.push_back(t);
        break;
    case TokenSelection::Kind::List: out = s.list; break;
    case TokenSelection::Kind::Role: {
        if (s.role == "scored" || s.role == "query") {
            if (c.targets.empty()) c.fail("role '" + s.role + "' needs a task sample as the sequence");
            for (int64_t t = 0; t < T; ++t)
                if (c.targets[size_t(t)] >= 0) out.push_back(t);
            break;
        }
        if (!c.spec) c.fail("role '" + s.role + "' needs a model with a task.json");
        const task::Spec& p = *c.spec;
        bool before_separator = true;
        for (int64_t t = 0; t < T; ++t) {
            const int32_t id = c.tokens[size_t(t)];
            bool match = false;
            if (s.role == "key") match = p.kind == task::Kind::Mqar && id >= p.key_first && id < p.key_first + p.keys;
            else if (s.role == "value") match = p.kind == task::Kind::Mqar && id >= p.value_first && id < p.value_first + p.values;
            else if (s.role == "zero") match = p.kind == task::Kind::RunningParity && id == p.zero;
            else if (s.role == "one") match = p.kind == task::Kind::RunningParity && id == p.one;
            else if (p.kind == task::Kind::S3Composition && (s.role == "identity" || s.role == "transposition" || s.role == "cycle")) {
                // From the composition table: x o x = e for the identity and the transpositions.
                const bool valid = id >= 0 && size_t(id) < p.table.size() && size_t(id) < p.table[size_t(id)].size();
                const bool involution = valid && p.table[size_t(id)][size_t(id)] == p.identity;
                if (s.role == "identity") match = id == p.identity;
                else if (s.role == "transposition") match = involution && id != p.identity;
                else match = valid && !involution;
            } else if (p.kind == task::Kind::SelectiveCopy) {
                if (id == p.separator) before_separator = false;
                if (s.role == "separator") match = id == p.separator;
                else if (s.role == "noise") match = id == p.noise;
                else if (s.role == "data") match = before_separator && id >= p.data_first && id < p.data_first + p.data;
            }
            if (match) out.push_back(t);
        }
        break;
    }
    }
    if (out.empty()) c.fail("selects no token");
    for (int64_t t : out)
        if (t < 0 || t >= T) c.fail("token " + std::to_string(t) + " is outside the sequence (" + std::to_string(T) + " tokens)");
    (void)step;
    return out;
}

analysis::DenseMatrix transition_of(const ScanInputs& in, int64_t t, int head) { return analysis::transition(in, int(t), head); }

// Eigenvector of `m` whose eigenvalue is nearest `value`, normalised (real part: the transitions
// the lessons look at have real eigenvectors for their real eigenvalues).
Eigen::VectorXd eigenvector_near(const analysis::DenseMatrix& m, std::complex<double> value) {
    Eigen::MatrixXd A(m.n, m.n);
    for (int r = 0; r < m.n; ++r)
        for (int c = 0; c < m.n; ++c) A(r, c) = m.at(r, c);
    Eigen::EigenSolver<Eigen::MatrixXd> es(A);
    int best = 0;
    for (int i = 1; i < m.n; ++i)
        if (std::abs(es.eigenvalues()[i] - value) < std::abs(es.eigenvalues()[best] - value)) best = i;
    Eigen::VectorXd v = es.eigenvectors().col(best).real();
    return v / std::max(v.norm(), 1e-300);
}

// A claim over several tokens holds when every token's value lies within the bounds; the value
// reported is the worst token's (the smallest for a lower bound, the largest for an upper one,
// the one out of bounds when there are both).
void worst_per_token(const std::vector<double>& v, const std::vector<int64_t>& tokens, const Claim& c, double& value, std::string& detail) {
    size_t lo = 0, hi = 0;
    for (size_t i = 1; i < v.size(); ++i) {
        if (v[i] < v[lo]) lo = i;
        if (v[i] > v[hi]) hi = i;
    }
    size_t w = c.at_least ? lo : hi;
    if (c.at_least && c.at_most && v[lo] >= *c.at_least) w = hi;
    value = v[w];
    detail = tokens.size() == 1 ? "token " + std::to_string(tokens[w])
                                : "worst of " + std::to_string(tokens.size()) + " tokens at token " + std::to_string(tokens[w]);
}

} // namespace

bool within_bounds(const Claim& claim, double value) {
    return (!claim.at_least || value >= *claim.at_least) && (!claim.at_most || value <= *claim.at_most);
}

ClaimChecker::ClaimChecker() = default;
ClaimChecker::~ClaimChecker() = default;

const Model& ClaimChecker::model(const std::string& path) {
    auto it = models_.find(path);
    if (it == models_.end()) it = models_.emplace(path, load_model(path)).first;
    return *it->second;
}

ClaimResult ClaimChecker::check(const Step& step, const Claim& claim) {
    const std::string model_path = claim.model.empty() ? step.model : claim.model;
    Step s = step;
    s.model = model_path;
    Context c{model(model_path), {}, {}, std::nullopt, std::string(claim_kind_name(claim.kind)) + " claim \"" + claim.text + "\""};
    if (task::has_task(model_path)) c.spec = task::load_task(model_path);
    const ModelInfo& info = c.model.info();
    const int layer = claim.layer.value_or(step.layer);
    if (layer < 0 || layer >= info.num_layers)
        c.fail("layer " + std::to_string(layer) + " does not exist (the model has " + std::to_string(info.num_layers) + ")");
    const LayerInfo& L = info.layers[size_t(layer)];
    const int head = claim.head.value_or(step.head);
    if (head < 0 || head >= L.heads) c.fail("head " + std::to_string(head) + " does not exist (layer " + std::to_string(layer) + " has " + std::to_string(L.heads) + ")");
    const int window = claim.window.value_or(step.window);

    double value = 0;
    std::string detail;
    if (claim.kind == ClaimKind::TaskAccuracy) {
        if (!c.spec) c.fail("the model has no task.json");
        task::Score score;
        for (int64_t i = 0; i < claim.samples; ++i) {
            const task::Sample smp = task::sample(*c.spec, {claim.seed + uint64_t(i), claim.size});
            SequenceState st = c.model.initial_state();
            const ForwardResult r = c.model.forward(smp.tokens, st);
            task::add_score(smp, r.logits, score);
        }
        value = claim.last_only ? score.last_accuracy() : score.accuracy();
        detail = std::to_string(claim.samples) + " samples, " + task::size_name(c.spec->kind) + " " +
                 std::to_string(claim.size ? claim.size : c.spec->default_size);
    } else {
        frames::TokenInput input = step_input(s);
        if (input.text) input = frames::TokenCodec(model_path).encode(input);
        c.tokens = input.ids;
        c.targets = input.targets;
        const int64_t T = int64_t(c.tokens.size());
        const int64_t step_token = std::clamp<int64_t>(step.token.value_or(T - 1), 0, T - 1);
        const std::vector<int64_t> sel = select_tokens(c, s, claim, step_token);

        Run run;
        run.layer = layer;
        run.H = L.heads;
        run.K = L.key_dim;
        run.V = L.value_dim;
        SequenceState st = c.model.initial_state();
        ForwardOptions fo;
        fo.observer = &run;
        run.logits = c.model.forward(c.tokens, st, fo).logits;
        const bool needs_scan = claim.kind != ClaimKind::PredictionAccuracy;
        if (needs_scan && !run.have_scan) c.fail("layer " + std::to_string(layer) + " is not a recurrent layer");
        const ScanInputs& in = run.in;

        switch (claim.kind) {
        case ClaimKind::AttentionPeak: {
            int hits = 0;
            std::string misses;
            for (int64_t t : sel) {
                const int64_t first = std::max<int64_t>(0, t - window + 1);
                const ScanInputs w = analysis::token_slice(in, int(first), int(t - first + 1));
                const analysis::AttentionMap m = analysis::exact_attention(w, head);
                const int row = m.rows - 1;
                int best = 0;
                for (int col = 1; col < m.cols; ++col)
                    if (m.at(row, col) > m.at(row, best)) best = col;
                const int64_t peak = first + best / m.substeps;
                int64_t expected = claim.at.value_or(-1);
                if (claim.stored_key_offset) {
                    const int32_t id = c.tokens[size_t(t)];
                    const auto it = std::find(c.tokens.begin(), c.tokens.begin() + t, id);
                    if (it == c.tokens.begin() + t) c.fail("token " + std::to_string(t) + "'s id occurs nowhere before it");
                    expected = int64_t(it - c.tokens.begin()) + *claim.stored_key_offset;
                }
                if (peak == expected) ++hits;
                else if (misses.size() < 200)
                    misses += " t" + std::to_string(t) + ": peak " + std::to_string(peak) + " not " + std::to_string(expected) + ";";
            }
            value = double(hits) / double(sel.size());
            detail = std::to_string(hits) + " of " + std::to_string(sel.size()) + " rows peak where claimed" + (misses.empty() ? "" : " (" + misses + ")");
            break;
        }
        case ClaimKind::PredictionAccuracy: {
            if (c.targets.empty()) c.fail("needs a task sample as the sequence");
            const int64_t vocab = run.logits.shape[1];
            int hits = 0, scored = 0;
            for (int64_t t : sel) {
                if (c.targets[size_t(t)] < 0) continue;
                const float* row = run.logits.ptr() + size_t(t) * vocab;
                const int64_t arg = std::max_element(row, row + vocab) - row;
                ++scored;
                if (arg == c.targets[size_t(t)]) ++hits;
            }
            if (!scored) c.fail("none of the selected tokens has a target");
            value = double(hits) / scored;
            detail = std::to_string(hits) + " of " + std::to_string(scored) + " predictions are the target";
            break;
        }
        case ClaimKind::EigenvalueDistance:
        case ClaimKind::MinEigenvalueReal:
        case ClaimKind::MaxEigenvalueImag:
        case ClaimKind::SpectralRadius:
        case ClaimKind::HalfLife:
        case ClaimKind::StateNorm: {
            // One value per token; the claim is about every selected token.
            std::vector<double> per_token;
            for (int64_t t : sel) {
                double q = 0;
                if (claim.kind == ClaimKind::StateNorm) {
                    const size_t n = size_t(L.key_dim) * L.value_dim;
                    q = analysis::frobenius_norm(run.states.at(size_t(t)).ptr() + size_t(head) * n, n);
                } else {
                    // The eigenvalues of A_t, or of the product over the window ending at t.
                    std::vector<std::complex<double>> eig;
                    double radius = 0, half_life = 0;
                    if (claim.of_window) {
                        const analysis::Spectrum sp = analysis::window_spectrum(in, int(std::max<int64_t>(0, t - window + 1)), int(t), head);
                        eig = sp.eigenvalues;
                        radius = sp.radius;
                        half_life = sp.half_life;
                    } else {
                        eig = analysis::eigenvalues(transition_of(in, t, head));
                        radius = analysis::spectral_radius(eig);
                        half_life = analysis::half_life_tokens(radius);
                    }
                    q = claim.kind == ClaimKind::MaxEigenvalueImag ? 0.0 : std::numeric_limits<double>::infinity();
                    for (const auto& e : eig) {
                        if (claim.kind == ClaimKind::EigenvalueDistance) q = std::min(q, std::abs(e - claim.value));
                        else if (claim.kind == ClaimKind::MinEigenvalueReal) q = std::min(q, e.real());
                        else if (claim.kind == ClaimKind::MaxEigenvalueImag) q = std::max(q, std::abs(e.imag()));
                    }
                    if (claim.kind == ClaimKind::SpectralRadius) q = radius;
                    if (claim.kind == ClaimKind::HalfLife) q = half_life;
                }
                per_token.push_back(q);
            }
            worst_per_token(per_token, sel, claim, value, detail);
            if (claim.of_window) detail += ", product over the window of " + std::to_string(window) + " tokens";
            break;
        }
        case ClaimKind::MeanEigenvalueModulus: {
            double sum = 0;
            int64_t n = 0;
            for (int64_t t : sel)
                for (int h = claim.all_heads ? 0 : head; h < (claim.all_heads ? L.heads : head + 1); ++h)
                    for (const auto& e : analysis::eigenvalues(transition_of(in, t, h))) {
                        sum += std::abs(e);
                        ++n;
                    }
            value = sum / double(n);
            detail = "mean over " + std::to_string(sel.size()) + " tokens" + (claim.all_heads ? " and " + std::to_string(L.heads) + " heads" : "");
            break;
        }
        case ClaimKind::EigenvectorCosine: {
            const Eigen::VectorXd a = eigenvector_near(transition_of(in, sel[0], head), claim.value);
            const Eigen::VectorXd b = eigenvector_near(transition_of(in, sel[1], head), claim.value);
            value = std::abs(a.dot(b));
            detail = "tokens " + std::to_string(sel[0]) + " and " + std::to_string(sel[1]);
            break;
        }
        case ClaimKind::TaskAccuracy: break;
        }
    }
    ClaimResult r;
    r.value = value;
    r.holds = within_bounds(claim, value);
    std::string bounds;
    if (claim.at_least) bounds += "at least " + fixed(*claim.at_least);
    if (claim.at_most) bounds += std::string(bounds.empty() ? "" : ", ") + "at most " + fixed(*claim.at_most);
    r.measured = fixed(value) + " (claimed " + bounds + "; " + detail + ")";
    return r;
}

} // namespace statescope::lessons
