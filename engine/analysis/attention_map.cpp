#include "statescope/analysis/attention_map.h"

#include "statescope/error.h"

#include <algorithm>
#include <cmath>

namespace statescope::analysis {

ScanInputs head_slice(const ScanInputs& in, int head) {
    in.check();
    require(head >= 0 && head < in.H, "head " + std::to_string(head) + " does not exist (the layer has " +
                                          std::to_string(in.H) + ")");
    const int T = in.T, H = in.H, K = in.K, V = in.V, n = in.substeps;
    ScanInputs out;
    out.allocate(in.kind, T, 1, K, V, n, !in.beta.data.empty());
    // Copies `width` values per (row, head) from a [rows, H, width] tensor.
    auto slice = [&](const Tensor& src, int rows, int width) {
        Tensor dst({rows, 1, width});
        for (int r = 0; r < rows; ++r)
            std::copy_n(src.ptr() + (size_t(r) * H + head) * width, width, dst.ptr() + size_t(r) * width);
        return dst;
    };
    out.q = slice(in.q, T, K);
    out.k = slice(in.k, T * n, K);
    out.v = slice(in.v, T * n, V);
    if (!in.beta.data.empty()) out.beta = slice(in.beta, T * n, 1);
    if (!in.log_decay.data.empty()) {
        const int width = in.kind == TransitionKind::Scalar || in.kind == TransitionKind::DeltaRule ? 1 : K;
        out.log_decay = slice(in.log_decay, T, width);
    }
    if (!in.a.data.empty()) out.a = slice(in.a, T, K);
    if (!in.b.data.empty()) out.b = slice(in.b, T, K);
    if (!in.bonus.data.empty()) out.bonus = slice(in.bonus, 1, K); // [H, K]: one row per head
    if (!out.bonus.data.empty()) out.bonus.shape = {1, K};
    // Shapes as the full-size tensors have them, with H = 1.
    out.q.shape = {T, 1, K};
    out.k.shape = {T, n, 1, K};
    out.v.shape = {T, n, 1, V};
    if (!out.beta.data.empty()) out.beta.shape = {T, n, 1};
    out.check();
    return out;
}

ScanInputs token_slice(const ScanInputs& in, int first, int count) {
    in.check();
    require(first >= 0 && count >= 0 && first + count <= in.T,
            "tokens [" + std::to_string(first) + ", " + std::to_string(first + count) + ") are outside the " +
                std::to_string(in.T) + " scanned tokens");
    ScanInputs out = in;
    out.T = count;
    // Every tensor but the bonus ([H, K], per head) is token-major: keep rows first .. first + count - 1.
    auto rows = [&](Tensor& t) {
        if (t.data.empty()) return;
        const size_t per_token = t.data.size() / size_t(in.T);
        t.data.assign(t.data.begin() + std::ptrdiff_t(per_token * size_t(first)),
                      t.data.begin() + std::ptrdiff_t(per_token * size_t(first + count)));
        if (!t.shape.empty()) t.shape[0] = count;
    };
    for (Tensor* t : {&out.q, &out.k, &out.v, &out.beta, &out.log_decay, &out.a, &out.b}) rows(*t);
    out.check();
    return out;
}

ScanInputs token_concat(const ScanInputs& a, const ScanInputs& b) {
    a.check();
    b.check();
    require(a.kind == b.kind && a.H == b.H && a.K == b.K && a.V == b.V && a.substeps == b.substeps &&
                a.beta.data.empty() == b.beta.data.empty() && a.log_decay.data.empty() == b.log_decay.data.empty() &&
                a.bonus.data == b.bonus.data,
            "scan inputs of different layers cannot be joined");
    ScanInputs out = a;
    out.T = a.T + b.T;
    auto join = [&](Tensor& t, const Tensor& tail) {
        if (t.data.empty()) return;
        t.data.insert(t.data.end(), tail.data.begin(), tail.data.end());
        if (!t.shape.empty()) t.shape[0] = out.T;
    };
    join(out.q, b.q);
    join(out.k, b.k);
    join(out.v, b.v);
    join(out.beta, b.beta);
    join(out.log_decay, b.log_decay);
    join(out.a, b.a);
    join(out.b, b.b);
    out.check();
    return out;
}

AttentionMap exact_attention(const ScanInputs& in, int head) {
    ScanInputs one = head_slice(in, head);
    AttentionMap m;
    m.rows = in.T;
    m.cols = in.T * in.substeps;
    m.substeps = in.substeps;
    m.weights.assign(size_t(m.rows) * m.cols, 0.0f);
    std::vector<float> o(size_t(in.T) * in.V);
    scan_attention_form(one, nullptr, o.data(), m.weights.data());
    return m;
}

namespace {
// Softmax of row[0 .. n-1] in place (in double for the sum), zeroes beyond.
void softmax_row(std::vector<double>& scores, int n, float* out, int cols) {
    double mx = -INFINITY;
    for (int i = 0; i < n; ++i) mx = std::max(mx, scores[size_t(i)]);
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += (scores[size_t(i)] = std::exp(scores[size_t(i)] - mx));
    for (int i = 0; i < cols; ++i) out[i] = i < n ? float(scores[size_t(i)] / sum) : 0.0f;
}
} // namespace

AttentionMap softmax_attention(const ScanInputs& in, int head, double scale) {
    in.check();
    require(head >= 0 && head < in.H, "head " + std::to_string(head) + " does not exist");
    const int T = in.T, n = in.substeps, K = in.K;
    AttentionMap m;
    m.rows = T;
    m.cols = T * n;
    m.substeps = n;
    m.weights.assign(size_t(m.rows) * m.cols, 0.0f);
    std::vector<double> scores(static_cast<size_t>(m.cols));
    for (int t = 0; t < T; ++t) {
        const float* q = in.q_at(t, head);
        for (int s = 0; s <= t; ++s)
            for (int j = 0; j < n; ++j) {
                const float* k = in.k_at(s, j, head);
                double dot = 0;
                for (int i = 0; i < K; ++i) dot += double(q[i]) * k[i];
                scores[size_t(s) * n + j] = scale * dot;
            }
        softmax_row(scores, (t + 1) * n, m.weights.data() + size_t(t) * m.cols, m.cols);
    }
    return m;
}

namespace {
// The real attention rows of a softmax layer: for each of the window's tokens t (q [T, heads, D]),
// softmax over the whole cache up to its own position (k [P, kv_heads, D], the window's first
// token at P - T); calls row(t, weights, n) with the n = P - T + t + 1 weights of positions 0 .. n-1.
template <typename RowFn>
void cached_softmax_rows(const Tensor& q, const Tensor& k, int head, double scale, RowFn row) {
    require(q.shape.size() == 3 && k.shape.size() == 3 && q.shape[2] == k.shape[2],
            "softmax attention: q " + shape_string(q.shape) + " and k " + shape_string(k.shape) + " disagree");
    const int T = int(q.shape[0]), heads = int(q.shape[1]), D = int(q.shape[2]);
    const int P = int(k.shape[0]), kv_heads = int(k.shape[1]);
    require(head >= 0 && head < heads && kv_heads > 0 && heads % kv_heads == 0 && P >= T,
            "softmax attention: head " + std::to_string(head) + " of q " + shape_string(q.shape) + ", k " +
                shape_string(k.shape));
    const int kvh = head / (heads / kv_heads), offset = P - T;
    std::vector<double> scores(static_cast<size_t>(P));
    std::vector<float> full(static_cast<size_t>(P));
    for (int t = 0; t < T; ++t) {
        const float* qt = q.ptr() + (size_t(t) * heads + head) * D;
        const int n = offset + t + 1;
        for (int s = 0; s < n; ++s) {
            const float* ks = k.ptr() + (size_t(s) * kv_heads + kvh) * D;
            double dot = 0;
            for (int i = 0; i < D; ++i) dot += double(qt[i]) * ks[i];
            scores[size_t(s)] = scale * dot;
        }
        softmax_row(scores, n, full.data(), P);
        row(t, full.data(), n);
    }
}
} // namespace

AttentionMap softmax_attention_cached(const Tensor& q, const Tensor& k, int head, double scale) {
    AttentionMap m;
    m.rows = m.cols = int(q.shape.size() == 3 ? q.shape[0] : 0);
    m.weights.assign(size_t(m.rows) * m.cols, 0.0f);
    // The softmax runs over the whole cache; the map keeps the window's columns, which is what the
    // layer really attended to there.
    cached_softmax_rows(q, k, head, scale, [&](int t, const float* row, int n) {
        std::copy_n(row + (n - t - 1), t + 1, m.weights.data() + size_t(t) * m.cols);
    });
    return m;
}

SoftmaxRowEntropies softmax_row_entropies(const Tensor& q, const Tensor& k, int head, double scale, int window) {
    require(window >= 1, "attention entropy: the window must hold at least one token");
    SoftmaxRowEntropies e;
    cached_softmax_rows(q, k, head, scale, [&](int, const float* row, int n) {
        e.whole.push_back(row_entropy(row, n));
        const int w = std::min(window, n);
        e.windowed.push_back(row_entropy(row + (n - w), w)); // row_entropy renormalises over its columns
    });
    return e;
}

double row_entropy(const float* row, int n) {
    double total = 0;
    for (int i = 0; i < n; ++i) total += std::abs(double(row[i]));
    if (total <= 0) return 0;
    double h = 0;
    for (int i = 0; i < n; ++i) {
        const double p = std::abs(double(row[i])) / total;
        if (p > 0) h -= p * std::log(p);
    }
    return h;
}

std::vector<double> windowed_row_entropies(const ScanInputs& in, int head, int window, bool softmax) {
    require(window >= 1, "attention entropy: the window must hold at least one token");
    const ScanInputs one = head_slice(in, head);
    const int T = in.T, n = in.substeps;
    std::vector<double> out(static_cast<size_t>(T));
    // Rows [b, b + window) need columns from b - window + 1 on: one map of at most 2 * window
    // tokens per block.
    for (int b = 0; b < T; b += window) {
        const int c0 = std::max(0, b - window + 1), end = std::min(T, b + window);
        const ScanInputs part = token_slice(one, c0, end - c0);
        const AttentionMap m = softmax ? softmax_attention(part, 0) : exact_attention(part, 0);
        for (int t = b; t < end; ++t) {
            const int first = std::max(0, t - window + 1);
            const float* row = m.weights.data() + size_t(t - c0) * m.cols + size_t(first - c0) * n;
            // row_entropy normalises over the columns it is given, which for softmax weights is
            // exactly the softmax over the window.
            out[size_t(t)] = row_entropy(row, (t - first + 1) * n);
        }
    }
    return out;
}

} // namespace statescope::analysis
