// Analyses against hand-built scan inputs whose answers are known in closed form.
#include "statescope/analysis/array_io.h"
#include "statescope/analysis/attention_map.h"
#include "statescope/analysis/pca.h"
#include "statescope/analysis/spectrum.h"
#include "statescope/analysis/state_stats.h"
#include "statescope/error.h"
#include "test_support.h"

#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

using namespace statescope;
using namespace statescope::analysis;

namespace {

// One head, T tokens, K = V = n.
ScanInputs inputs(TransitionKind kind, int T, int K, int V, bool beta = false) {
    ScanInputs in;
    in.allocate(kind, T, 1, K, V, 1, beta);
    return in;
}

bool near(std::complex<double> a, std::complex<double> b, double tol = 1e-9) { return std::abs(a - b) < tol; }

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT
private slots:
    void scalar_decay_has_all_eigenvalues_gamma() {
        ScanInputs in = inputs(TransitionKind::Scalar, 3, 5, 2);
        in.log_decay = Tensor({3, 1});
        in.log_decay.data = {std::log(0.5f), std::log(0.8f), std::log(0.25f)};
        auto eig = eigenvalues(transition(in, 1, 0));
        QCOMPARE(int(eig.size()), 5);
        for (auto e : eig) QVERIFY(near(e, 0.8, 1e-6));
        // Over the window the product has eigenvalue 0.5 * 0.8 * 0.25 = 0.1, per token 0.1^(1/3).
        Spectrum s = window_spectrum(in, 0, 2, 0);
        QCOMPARE(s.tokens, 3);
        QVERIFY(std::abs(s.radius - 0.1) < 1e-6);
        QVERIFY(std::abs(s.rate_per_token - std::cbrt(0.1)) < 1e-6);
        QVERIFY(std::abs(s.half_life - std::log(0.5) / std::log(std::cbrt(0.1))) < 1e-4);
    }

    void long_windows_keep_exact_rates() {
        // 1200 tokens of decay 0.5: the product (0.5^1200 ~ 1e-361) underflows a double, the
        // per-token rate and the half-life (1 token) must not.
        const int T = 1200;
        ScanInputs in = inputs(TransitionKind::Scalar, T, 3, 1);
        in.log_decay = Tensor({T, 1});
        for (float& g : in.log_decay.data) g = std::log(0.5f);
        Spectrum s = window_spectrum(in, 0, T - 1, 0);
        QCOMPARE(s.radius, 0.0);
        QVERIFY(std::abs(s.rate_per_token - 0.5) < 1e-6);
        QVERIFY(std::abs(s.half_life - 1.0) < 1e-5);
        QCOMPARE(int(s.rates.size()), 3);
        for (double r : s.rates) QVERIFY(std::abs(r - 0.5) < 1e-6);
    }

    void delta_rule_with_beta_two_flips_the_key_direction() {
        // I - 2 k k^T with unit k is a reflection: eigenvalue -1 along k, +1 on its complement.
        const int K = 4;
        ScanInputs in = inputs(TransitionKind::DeltaRule, 1, K, 3, true);
        const float k[K] = {0.5f, -0.5f, 0.5f, 0.5f};
        std::copy_n(k, K, in.k_at(0, 0, 0));
        in.beta.data = {2.0f};
        auto eig = eigenvalues(transition(in, 0, 0));
        int minus = 0, plus = 0;
        for (auto e : eig) {
            if (near(e, -1.0, 1e-6)) ++minus;
            if (near(e, 1.0, 1e-6)) ++plus;
        }
        QCOMPARE(minus, 1);
        QCOMPARE(plus, K - 1);
        QVERIFY(std::abs(spectral_radius(eig) - 1.0) < 1e-6);
        QVERIFY(std::isinf(window_spectrum(in, 0, 0, 0).half_life));
        // With beta = 1 the key direction is erased: eigenvalue 0.
        in.beta.data = {1.0f};
        eig = eigenvalues(transition(in, 0, 0));
        QVERIFY(near(eig.back(), 0.0, 1e-6));
    }

    void rotation_gives_complex_eigenvalues() {
        // The product of two reflections (delta rule, beta = 2) is a rotation by twice the
        // angle between their axes: eigenvalues exp(+-i 2 angle).
        ScanInputs in = inputs(TransitionKind::DeltaRule, 2, 2, 1, true);
        const double angle = M_PI / 8; // axes 22.5 degrees apart: rotation by 45 degrees
        in.k_at(0, 0, 0)[0] = 1.0f;
        in.k_at(0, 0, 0)[1] = 0.0f;
        in.k_at(1, 0, 0)[0] = float(std::cos(angle));
        in.k_at(1, 0, 0)[1] = float(std::sin(angle));
        in.beta.data = {2.0f, 2.0f};
        Spectrum s = window_spectrum(in, 0, 1, 0);
        QCOMPARE(int(s.eigenvalues.size()), 2);
        for (auto e : s.eigenvalues) {
            QVERIFY(std::abs(std::abs(e) - 1.0) < 1e-6);
            QVERIFY(std::abs(std::abs(std::arg(e)) - M_PI / 4) < 1e-6);
        }
    }

    void vector_decay_eigenvalues_are_the_decays() {
        ScanInputs in = inputs(TransitionKind::Diagonal, 1, 3, 2);
        in.log_decay = Tensor({1, 1, 3});
        in.log_decay.data = {std::log(0.9f), std::log(0.3f), std::log(0.6f)};
        auto eig = eigenvalues(transition(in, 0, 0));
        QVERIFY(near(eig[0], 0.9, 1e-6) && near(eig[1], 0.6, 1e-6) && near(eig[2], 0.3, 1e-6));
        QVERIFY(std::abs(half_life_tokens(0.5) - 1.0) < 1e-12);
        QCOMPARE(half_life_tokens(0.0), 0.0);
    }

    void linear_attention_map_is_q_dot_k() {
        // No decay, beta 1: W[t, s] = q_t . k_s for s <= t.
        std::mt19937 rng(1);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::Identity, 6, 2, 4, 3, 1, rng);
        in.beta = Tensor();
        AttentionMap m = exact_attention(in, 1);
        QCOMPARE(m.rows, 6);
        QCOMPARE(m.cols, 6);
        for (int t = 0; t < 6; ++t)
            for (int s = 0; s < 6; ++s) {
                double want = 0;
                if (s <= t)
                    for (int i = 0; i < 4; ++i) want += double(in.q_at(t, 1)[i]) * in.k_at(s, 0, 1)[i];
                QVERIFY2(std::abs(m.at(t, s) - want) < 1e-6, qPrintable(QString("t %1 s %2").arg(t).arg(s)));
            }
        // The softmax map of the same scores: rows sum to one, causal.
        AttentionMap sm = softmax_attention(in, 1);
        for (int t = 0; t < 6; ++t) {
            double sum = 0;
            for (int s = 0; s < 6; ++s) sum += sm.at(t, s);
            QVERIFY(std::abs(sum - 1.0) < 1e-6);
            if (t < 5) QCOMPARE(sm.at(t, t + 1), 0.0f);
        }
        const double e0 = std::exp(double(in.q_at(1, 1)[0]) * in.k_at(0, 0, 1)[0] + double(in.q_at(1, 1)[1]) * in.k_at(0, 0, 1)[1] +
                                   double(in.q_at(1, 1)[2]) * in.k_at(0, 0, 1)[2] + double(in.q_at(1, 1)[3]) * in.k_at(0, 0, 1)[3]);
        const double e1 = std::exp(double(m.at(1, 1)));
        QVERIFY(std::abs(sm.at(1, 0) - e0 / (e0 + e1)) < 1e-6);
    }

    void scalar_decay_map_is_discounted() {
        // W[t, s] = gamma^(t - s) q_t . k_s
        ScanInputs in = inputs(TransitionKind::Scalar, 4, 1, 1);
        in.log_decay = Tensor({4, 1});
        for (float& g : in.log_decay.data) g = std::log(0.5f);
        for (int t = 0; t < 4; ++t) {
            in.q_at(t, 0)[0] = 1.0f;
            in.k_at(t, 0, 0)[0] = 1.0f;
        }
        AttentionMap m = exact_attention(in, 0);
        QVERIFY(std::abs(m.at(3, 0) - 0.125f) < 1e-7);
        QVERIFY(std::abs(m.at(3, 2) - 0.5f) < 1e-7);
        QVERIFY(std::abs(m.at(2, 2) - 1.0f) < 1e-7);
        // Entropy of row 1: weights (0.5, 1) -> p = (1/3, 2/3).
        const double h = -(1.0 / 3) * std::log(1.0 / 3) - (2.0 / 3) * std::log(2.0 / 3);
        QVERIFY(std::abs(row_entropy(&m.weights[4], 2) - h) < 1e-6);
        QCOMPARE(row_entropy(&m.weights[4], 1), 0.0);
    }

    void windowed_entropies_match_the_full_map() {
        std::mt19937 rng(4);
        for (auto kind : {TransitionKind::Diagonal, TransitionKind::DeltaRule}) {
            const int substeps = kind == TransitionKind::DeltaRule ? 2 : 1;
            ScanInputs in = testsupport::random_scan_inputs(kind, 23, 2, 5, 3, substeps, rng);
            const int window = 6;
            for (bool soft : {false, true}) {
                const auto e = windowed_row_entropies(in, 1, window, soft);
                QCOMPARE(int(e.size()), 23);
                // Reference: the full T x T map, each row cut to its window.
                const AttentionMap full = soft ? softmax_attention(in, 1) : exact_attention(in, 1);
                for (int t = 0; t < 23; ++t) {
                    const int first = std::max(0, t - window + 1);
                    const double want = row_entropy(&full.weights[size_t(t) * full.cols + size_t(first) * substeps],
                                                    (t - first + 1) * substeps);
                    QVERIFY2(std::abs(e[size_t(t)] - want) < 1e-5, qPrintable(QString("t %1 soft %2: %3 vs %4")
                                                                              .arg(t).arg(soft).arg(e[size_t(t)]).arg(want)));
                }
            }
            // A token slice runs the same scan as the tokens it holds; slices join back.
            ScanInputs part = token_slice(in, 7, 9);
            QCOMPARE(part.T, 9);
            QCOMPARE(part.k_at(0, 1, 1)[2], in.k_at(7, 1, 1)[2]);
            QCOMPARE(part.beta_at(8, 0, 0), in.beta_at(15, 0, 0));
            ScanInputs joined = token_concat(token_slice(in, 0, 7), token_concat(part, token_slice(in, 16, 7)));
            QCOMPARE(joined.T, in.T);
            QCOMPARE(joined.q.data, in.q.data);
            QCOMPARE(joined.k.data, in.k.data);
            QCOMPARE(joined.v.data, in.v.data);
            QCOMPARE(joined.beta.data, in.beta.data);
            QCOMPARE(joined.log_decay.data, in.log_decay.data);
            QCOMPARE(joined.k.shape, in.k.shape);
        }
    }

    void softmax_layer_row_entropies() {
        // A window of T = 9 queries over a cache of P = 20 positions, 6 heads sharing 2 kv heads.
        const int T = 9, heads = 6, D = 7, P = 20, kv = 2, window = 5, head = 4; // kv head 1
        const double scale = 0.4;
        std::mt19937 rng(8);
        Tensor q({T, heads, D}), k({P, kv, D});
        testsupport::fill_normal(q, rng);
        testsupport::fill_normal(k, rng);
        const SoftmaxRowEntropies e = softmax_row_entropies(q, k, head, scale, window);
        QCOMPARE(int(e.whole.size()), T);
        QCOMPARE(int(e.windowed.size()), T);
        // Reference, written out: p_s proportional to exp(scale q_t . k_s) over the positions a
        // row sees, entropy -sum p log p.
        auto entropy = [&](int t, int from, int to) {
            std::vector<double> w;
            double sum = 0;
            for (int s = from; s < to; ++s) {
                double dot = 0;
                for (int i = 0; i < D; ++i) dot += double(q.data[(size_t(t) * heads + head) * D + i]) * k.data[(size_t(s) * kv + 1) * D + i];
                w.push_back(std::exp(scale * dot));
                sum += w.back();
            }
            double h = 0;
            for (double x : w) h -= x / sum * std::log(x / sum);
            return h;
        };
        for (int t = 0; t < T; ++t) {
            const int n = P - T + t + 1; // positions 0 .. n-1
            QVERIFY(std::abs(e.whole[size_t(t)] - entropy(t, 0, n)) < 1e-5);
            QVERIFY(std::abs(e.windowed[size_t(t)] - entropy(t, n - window, n)) < 1e-5);
        }
        // Zero queries attend uniformly: log of the number of positions seen.
        std::fill(q.data.begin(), q.data.end(), 0.0f);
        const SoftmaxRowEntropies u = softmax_row_entropies(q, k, 0, scale, 50);
        for (int t = 0; t < T; ++t) {
            QVERIFY(std::abs(u.whole[size_t(t)] - std::log(double(P - T + t + 1))) < 1e-6);
            QVERIFY(std::abs(u.windowed[size_t(t)] - u.whole[size_t(t)]) < 1e-12);
        }
        QVERIFY_THROWS_EXCEPTION(Error, softmax_row_entropies(q, k, 6, scale, window));
    }

    void window_product_equals_the_dense_product() {
        // The structured O(K^2) product against dense products of core/scan.h's transition_matrix.
        std::mt19937 rng(5);
        for (auto kind : {TransitionKind::Identity, TransitionKind::Scalar, TransitionKind::Diagonal,
                          TransitionKind::DeltaRule, TransitionKind::DiagPlusRankOne}) {
            const int substeps = kind == TransitionKind::DeltaRule ? 3 : 1;
            ScanInputs in = testsupport::random_scan_inputs(kind, 9, 2, 6, 2, substeps, rng, 2.0f);
            const int K = in.K;
            std::vector<double> P(size_t(K) * K, 0.0), A(size_t(K) * K), tmp(size_t(K) * K);
            for (int i = 0; i < K; ++i) P[size_t(i) * K + i] = 1;
            for (int t = 2; t <= 7; ++t) {
                transition_matrix(in, t, 1, A.data());
                for (int r = 0; r < K; ++r)
                    for (int c = 0; c < K; ++c) {
                        double acc = 0;
                        for (int i = 0; i < K; ++i) acc += A[size_t(r) * K + i] * P[size_t(i) * K + c];
                        tmp[size_t(r) * K + c] = acc;
                    }
                P = tmp;
            }
            const DenseMatrix got = transition_product(in, 2, 7, 1);
            double err = 0, norm = 0;
            for (size_t i = 0; i < P.size(); ++i) {
                err += (got.values[i] - P[i]) * (got.values[i] - P[i]);
                norm += P[i] * P[i];
            }
            QVERIFY2(std::sqrt(err) <= 1e-12 * std::max(1.0, std::sqrt(norm)),
                     qPrintable(QString("%1: error %2").arg(transition_name(kind)).arg(std::sqrt(err))));
        }
    }

    void head_slice_keeps_the_heads_numbers() {
        std::mt19937 rng(2);
        for (auto kind : {TransitionKind::Scalar, TransitionKind::Diagonal, TransitionKind::DeltaRule,
                          TransitionKind::DiagPlusRankOne}) {
            ScanInputs in = testsupport::random_scan_inputs(kind, 5, 3, 4, 2, kind == TransitionKind::DeltaRule ? 2 : 1, rng);
            AttentionMap full_map = exact_attention(in, 2);
            std::vector<float> o(size_t(in.T) * in.H * in.V), attn(size_t(in.H) * in.T * in.T * in.substeps);
            scan_attention_form(in, nullptr, o.data(), attn.data());
            const size_t plane = size_t(in.T) * in.T * in.substeps;
            for (size_t i = 0; i < plane; ++i) QCOMPARE(full_map.weights[i], attn[2 * plane + i]);
            // Transition of head 2 from the slice equals the one from the full inputs.
            ScanInputs one = head_slice(in, 2);
            DenseMatrix a = transition(in, 3, 2), b = transition(one, 3, 0);
            QCOMPARE(a.values, b.values);
        }
    }

    void singular_values_and_effective_rank() {
        // diag(3, 4) padded to 2 x 3: singular values 4, 3.
        const float S[6] = {3, 0, 0, 0, 4, 0};
        auto sv = singular_values(S, 2, 3);
        QCOMPARE(int(sv.size()), 2);
        QVERIFY(std::abs(sv[0] - 4) < 1e-9 && std::abs(sv[1] - 3) < 1e-9);
        QVERIFY(std::abs(frobenius_norm(S, 6) - 5.0) < 1e-12);
        // Equal singular values: effective rank equals their count; one nonzero: 1.
        QVERIFY(std::abs(effective_rank({2, 2, 2}) - 3.0) < 1e-12);
        QVERIFY(std::abs(effective_rank({5, 0, 0}) - 1.0) < 1e-12);
        QCOMPARE(effective_rank({0, 0}), 0.0);
        // A rank-one outer product.
        const float R[6] = {1, 2, 3, 2, 4, 6};
        QVERIFY(std::abs(effective_rank(singular_values(R, 2, 3)) - 1.0) < 1e-6);
    }

    void pca_finds_the_line() {
        // Points on a line in 5-D plus a small wiggle in another direction.
        const int n = 20, d = 5;
        std::vector<float> rows(size_t(n) * d);
        for (int i = 0; i < n; ++i) {
            rows[size_t(i) * d + 1] = float(i);
            rows[size_t(i) * d + 3] = float(i) * 2.0f;
            rows[size_t(i) * d + 4] = (i % 2) ? 0.1f : -0.1f;
        }
        for (int dims : {3}) {
            Projection p = pca(rows, n, d, dims);
            QCOMPARE(p.dims, 3);
            QVERIFY(p.variance[0] > 100 * p.variance[1]);
            QVERIFY(std::abs(p.variance[0] + p.variance[1] + p.variance[2] - p.total_variance) < 1e-6 * p.total_variance);
            // Coordinates along axis 0 are sqrt(5) * (i - mean).
            for (int i = 0; i < n; ++i) QVERIFY(std::abs(p.coords[size_t(i) * 3] - std::sqrt(5.0) * (i - 9.5)) < 1e-4);
        }
        // Fewer points than dimensions takes the other branch; same answer.
        std::vector<float> few(rows.begin(), rows.begin() + 3 * d);
        Projection q = pca(few, 3, d, 3);
        QCOMPARE(q.dims, 3);
        QVERIFY(std::abs(q.coords[0] - std::sqrt(5.0) * (0 - 1.0)) < 1e-3);
    }

    void npy_and_csv_round_trip() {
        QTemporaryDir dir;
        Array a{{2, 3}, {1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, 7.0f}};
        const std::string npy = (dir.path() + "/a.npy").toStdString();
        write_npy(npy, a);
        // The header is padded so that the data starts at a multiple of 64 bytes.
        QFile f(QString::fromStdString(npy));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        QVERIFY(bytes.startsWith("\x93NUMPY"));
        QCOMPARE((bytes.size() - 6 * 4) % 64, 0);
        QVERIFY(bytes.contains("'shape': (2, 3)"));
        Array b = read_npy(npy);
        QCOMPARE(b.shape, a.shape);
        QCOMPARE(b.values, a.values);
        Array v{{4}, {1, 2, 3, 4}};
        write_npy(npy, v);
        QCOMPARE(read_npy(npy).shape, std::vector<int64_t>{4});

        const std::string csv = (dir.path() + "/a.csv").toStdString();
        write_csv(csv, a, "x,y,z");
        QFile c(QString::fromStdString(csv));
        QVERIFY(c.open(QIODevice::ReadOnly | QIODevice::Text));
        const QStringList lines = QString(c.readAll()).trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0], QString("x,y,z"));
        QCOMPARE(lines[1].split(',').size(), 3);
        QCOMPARE(float(lines[2].split(',')[1].toDouble()), 1e-8f); // %.9g round-trips a float exactly
        QVERIFY_THROWS_EXCEPTION(Error, write_csv(csv, Array{{1, 1, 1}, {0}}));
    }
};

QTEST_GUILESS_MAIN(TestAnalysis)
#include "test_analysis.moc"
