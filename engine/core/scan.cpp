#include "statescope/scan.h"

#include "statescope/error.h"

#include <cmath>
#include <vector>

namespace statescope {

const char* transition_name(TransitionKind k) {
    switch (k) {
    case TransitionKind::Identity: return "identity (no decay)";
    case TransitionKind::Scalar: return "scalar decay";
    case TransitionKind::Diagonal: return "vector decay";
    case TransitionKind::DeltaRule: return "delta rule";
    case TransitionKind::DiagPlusRankOne: return "diagonal plus rank one";
    }
    return "?";
}

void ScanInputs::allocate(TransitionKind kind_, int T_, int H_, int K_, int V_, int substeps_, bool with_beta) {
    kind = kind_; T = T_; H = H_; K = K_; V = V_; substeps = substeps_;
    q = Tensor({T, H, K});
    k = Tensor({T, substeps, H, K});
    v = Tensor({T, substeps, H, V});
    beta = with_beta ? Tensor({T, substeps, H}) : Tensor();
    log_decay = Tensor();
    a = Tensor();
    b = Tensor();
    bonus = Tensor();
}

void ScanInputs::check() const {
    auto expect = [](const Tensor& t, size_t n, const char* name) {
        if (t.data.size() != n)
            throw Error(std::string("scan input '") + name + "' has " + std::to_string(t.data.size()) +
                        " values, expected " + std::to_string(n));
    };
    size_t TH = size_t(T) * H;
    expect(q, TH * K, "q");
    expect(k, TH * substeps * K, "k");
    expect(v, TH * substeps * V, "v");
    if (!beta.data.empty()) expect(beta, TH * substeps, "beta");
    if (!bonus.data.empty()) {
        expect(bonus, size_t(H) * K, "bonus");
        if (substeps != 1)
            throw Error("scan input 'bonus' needs one micro-step per token, not " + std::to_string(substeps));
    }
    switch (kind) {
    case TransitionKind::Identity: break;
    case TransitionKind::Scalar: expect(log_decay, TH, "log_decay"); break;
    case TransitionKind::Diagonal: expect(log_decay, TH * K, "log_decay"); break;
    case TransitionKind::DeltaRule: if (!log_decay.data.empty()) expect(log_decay, TH, "log_decay"); break;
    case TransitionKind::DiagPlusRankOne:
        expect(log_decay, TH * K, "log_decay");
        expect(a, TH * K, "a");
        expect(b, TH * K, "b");
        break;
    }
}

namespace {

// Applies micro-step j's transition factor to S (K x V) in place. tmp has room for V values.
template <typename Real>
void apply_factor(const ScanInputs& in, int t, int j, int h, Real* S, Real* tmp, int V) {
    const int K = in.K;
    const size_t th = size_t(t) * in.H + h;
    switch (in.kind) {
    case TransitionKind::Identity: return;
    case TransitionKind::Scalar: {
        if (j != 0) return;
        Real g = std::exp(Real(in.log_decay.data[th]));
        for (int i = 0; i < K * V; ++i) S[i] *= g;
        return;
    }
    case TransitionKind::Diagonal: {
        if (j != 0) return;
        const float* g = in.log_decay.ptr() + th * K;
        for (int r = 0; r < K; ++r) {
            Real d = std::exp(Real(g[r]));
            for (int c = 0; c < V; ++c) S[r * V + c] *= d;
        }
        return;
    }
    case TransitionKind::DeltaRule: {
        // S <- gamma (I - beta k k^T) S
        if (j == 0 && !in.log_decay.data.empty()) {
            Real g = std::exp(Real(in.log_decay.data[th]));
            for (int i = 0; i < K * V; ++i) S[i] *= g;
        }
        const float* k = in.k_at(t, j, h);
        Real beta = in.beta_at(t, j, h);
        for (int c = 0; c < V; ++c) tmp[c] = 0;
        for (int r = 0; r < K; ++r)
            for (int c = 0; c < V; ++c) tmp[c] += Real(k[r]) * S[r * V + c];
        for (int r = 0; r < K; ++r) {
            Real bk = beta * Real(k[r]);
            for (int c = 0; c < V; ++c) S[r * V + c] -= bk * tmp[c];
        }
        return;
    }
    case TransitionKind::DiagPlusRankOne: {
        // S <- diag(w) S + a (b^T S); only on micro-step 0 (RWKV-7 has one).
        if (j != 0) return;
        const float* g = in.log_decay.ptr() + th * K;
        const float* a = in.a.ptr() + th * K;
        const float* b = in.b.ptr() + th * K;
        for (int c = 0; c < V; ++c) tmp[c] = 0;
        for (int r = 0; r < K; ++r)
            for (int c = 0; c < V; ++c) tmp[c] += Real(b[r]) * S[r * V + c];
        for (int r = 0; r < K; ++r) {
            Real d = std::exp(Real(g[r]));
            for (int c = 0; c < V; ++c) S[r * V + c] = d * S[r * V + c] + Real(a[r]) * tmp[c];
        }
        return;
    }
    }
}

// r <- F^T r for micro-step j's factor (used to propagate a query backwards in time).
void apply_factor_transposed(const ScanInputs& in, int t, int j, int h, double* r) {
    const int K = in.K;
    const size_t th = size_t(t) * in.H + h;
    switch (in.kind) {
    case TransitionKind::Identity: return;
    case TransitionKind::Scalar: {
        if (j != 0) return;
        double g = std::exp(double(in.log_decay.data[th]));
        for (int i = 0; i < K; ++i) r[i] *= g;
        return;
    }
    case TransitionKind::Diagonal: {
        if (j != 0) return;
        const float* g = in.log_decay.ptr() + th * K;
        for (int i = 0; i < K; ++i) r[i] *= std::exp(double(g[i]));
        return;
    }
    case TransitionKind::DeltaRule: {
        // (gamma (I - beta k k^T))^T r = gamma (r - beta k (k . r))
        const float* k = in.k_at(t, j, h);
        double beta = in.beta_at(t, j, h), dot = 0;
        for (int i = 0; i < K; ++i) dot += double(k[i]) * r[i];
        for (int i = 0; i < K; ++i) r[i] -= beta * double(k[i]) * dot;
        if (j == 0 && !in.log_decay.data.empty()) {
            double g = std::exp(double(in.log_decay.data[th]));
            for (int i = 0; i < K; ++i) r[i] *= g;
        }
        return;
    }
    case TransitionKind::DiagPlusRankOne: {
        if (j != 0) return;
        // (diag(w) + a b^T)^T r = w .* r + b (a . r)
        const float* g = in.log_decay.ptr() + th * K;
        const float* a = in.a.ptr() + th * K;
        const float* b = in.b.ptr() + th * K;
        double dot = 0;
        for (int i = 0; i < K; ++i) dot += double(a[i]) * r[i];
        for (int i = 0; i < K; ++i) r[i] = std::exp(double(g[i])) * r[i] + double(b[i]) * dot;
        return;
    }
    }
}

} // namespace

void scan_recurrent(const ScanInputs& in, float* S, float* o,
                    const std::function<void(int t, const float* S)>& after_token) {
    in.check();
    const int H = in.H, K = in.K, V = in.V;
    std::vector<float> tmp(static_cast<size_t>(V));
    const bool bonus = !in.bonus.data.empty();
    // o = Sh^T q (+ the bonus term, read from the state before the token's update).
    auto read = [&](int t, int h, const float* Sh) {
        const float* q = in.q_at(t, h);
        float* out = o + (size_t(t) * H + h) * V;
        for (int c = 0; c < V; ++c) out[c] = 0;
        for (int r = 0; r < K; ++r) {
            const float* row = Sh + size_t(r) * V;
            for (int c = 0; c < V; ++c) out[c] += q[r] * row[c];
        }
        if (bonus) {
            const float* k = in.k_at(t, 0, h);
            const float* u = in.bonus.ptr() + size_t(h) * K;
            float w = 0;
            for (int r = 0; r < K; ++r) w += q[r] * k[r] * u[r];
            w *= in.beta_at(t, 0, h);
            const float* v = in.v_at(t, 0, h);
            for (int c = 0; c < V; ++c) out[c] += w * v[c];
        }
    };
    for (int t = 0; t < in.T; ++t) {
        for (int h = 0; h < H; ++h) {
            float* Sh = S + size_t(h) * K * V;
            if (bonus) read(t, h, Sh);
            for (int j = 0; j < in.substeps; ++j) {
                apply_factor<float>(in, t, j, h, Sh, tmp.data(), V);
                const float* k = in.k_at(t, j, h);
                const float* v = in.v_at(t, j, h);
                float beta = in.beta_at(t, j, h);
                for (int r = 0; r < K; ++r) {
                    float bk = beta * k[r];
                    float* row = Sh + size_t(r) * V;
                    for (int c = 0; c < V; ++c) row[c] += bk * v[c];
                }
            }
            if (!bonus) read(t, h, Sh);
        }
        if (after_token) after_token(t, S);
    }
}

void scan_attention_form(const ScanInputs& in, const float* S0, float* o, float* attn) {
    in.check();
    const int T = in.T, H = in.H, K = in.K, V = in.V, n = in.substeps;
    const size_t cols = size_t(T) * n;
    std::vector<double> r(static_cast<size_t>(K)), acc(static_cast<size_t>(V));
    for (int h = 0; h < H; ++h) {
        for (int t = 0; t < T; ++t) {
            const float* q = in.q_at(t, h);
            for (int i = 0; i < K; ++i) r[i] = q[i];
            for (int c = 0; c < V; ++c) acc[c] = 0;
            float* row = attn ? attn + (size_t(h) * T + t) * cols : nullptr;
            if (row) for (size_t c = 0; c < cols; ++c) row[c] = 0;
            int first = t;
            if (!in.bonus.data.empty()) { // token t's own write through diag(u), before A_t
                const float* k = in.k_at(t, 0, h);
                const float* u = in.bonus.ptr() + size_t(h) * K;
                double dot = 0;
                for (int i = 0; i < K; ++i) dot += r[i] * double(u[i]) * double(k[i]);
                const double w = double(in.beta_at(t, 0, h)) * dot;
                if (row) row[size_t(t) * n] = float(w);
                const float* v = in.v_at(t, 0, h);
                for (int c = 0; c < V; ++c) acc[c] += w * double(v[c]);
                first = t - 1;
            }
            for (int s = first; s >= 0; --s) {
                for (int j = n - 1; j >= 0; --j) {
                    const float* k = in.k_at(s, j, h);
                    const float* v = in.v_at(s, j, h);
                    double dot = 0;
                    for (int i = 0; i < K; ++i) dot += r[i] * double(k[i]);
                    double w = double(in.beta_at(s, j, h)) * dot;
                    if (row) row[size_t(s) * n + j] = float(w);
                    for (int c = 0; c < V; ++c) acc[c] += w * double(v[c]);
                    apply_factor_transposed(in, s, j, h, r.data());
                }
            }
            if (S0) { // the initial state's contribution: S0^T (A_t ... A_0)^T q (from A_{t-1} with a bonus)
                const float* Sh = S0 + size_t(h) * K * V;
                for (int i = 0; i < K; ++i)
                    for (int c = 0; c < V; ++c) acc[c] += r[i] * double(Sh[size_t(i) * V + c]);
            }
            float* out = o + (size_t(t) * H + h) * V;
            for (int c = 0; c < V; ++c) out[c] = float(acc[c]);
        }
    }
}

void transition_matrix(const ScanInputs& in, int t, int h, double* A) {
    const int K = in.K;
    // Columns of A are A e_c: apply the micro-step factors to the identity, one column at a time
    // through apply_factor with a state of width 1.
    std::vector<double> col(static_cast<size_t>(K)), tmp(1);
    for (int c = 0; c < K; ++c) {
        for (int i = 0; i < K; ++i) col[i] = (i == c) ? 1.0 : 0.0;
        for (int j = 0; j < in.substeps; ++j) apply_factor<double>(in, t, j, h, col.data(), tmp.data(), 1);
        for (int i = 0; i < K; ++i) A[size_t(i) * K + c] = col[i];
    }
}

} // namespace statescope
