// The common-form recurrence (core/scan.h) against independent evaluations:
//  - the exact attention form in double precision (outputs and, through basis queries, states),
//  - dense transition matrices (structure: eigenvalues the families promise),
//  - for every reference model, the scan inputs its layers really produce on random tokens.
#include "statescope/error.h"
#include "statescope/scan.h"
#include "statescope/model.h"
#include "test_support.h"

#include <QtTest>
#include <cmath>

using namespace statescope;

namespace {

struct Case {
    int T, H, K, V, substeps;
};

// States after the last token, computed through the attention form: row i of S_T is
// S_T^T e_i, i.e. the attention-form output for query e_i at the last token.
Tensor state_via_attention_form(const ScanInputs& in, const float* S0) {
    Tensor S({in.H, in.K, in.V});
    ScanInputs probe = in;
    std::vector<float> o(size_t(in.T) * in.H * in.V);
    for (int i = 0; i < in.K; ++i) {
        for (int h = 0; h < in.H; ++h) {
            float* q = probe.q_at(in.T - 1, h);
            for (int r = 0; r < in.K; ++r) q[r] = (r == i) ? 1.0f : 0.0f;
        }
        scan_attention_form(probe, S0, o.data());
        for (int h = 0; h < in.H; ++h)
            for (int c = 0; c < in.V; ++c)
                S.data[(size_t(h) * in.K + i) * in.V + c] = o[(size_t(in.T - 1) * in.H + h) * in.V + c];
    }
    return S;
}

void compare_forms(const ScanInputs& in, std::mt19937& rng, double tol, const QString& what) {
    Tensor S0({in.H, in.K, in.V});
    testsupport::fill_normal(S0, rng, 0.5f);
    Tensor S = S0;
    std::vector<float> o_rec(size_t(in.T) * in.H * in.V), o_att(o_rec.size());
    scan_recurrent(in, S.ptr(), o_rec.data());
    scan_attention_form(in, S0.ptr(), o_att.data());
    const double out_err = relative_l2(o_rec.data(), o_att.data(), o_rec.size());
    Tensor S_att = state_via_attention_form(in, S0.ptr());
    const double state_err = relative_l2(S.ptr(), S_att.ptr(), S.data.size());
    QVERIFY2(out_err < tol, qPrintable(QString("%1: output error %2").arg(what).arg(out_err)));
    QVERIFY2(state_err < tol, qPrintable(QString("%1: state error %2").arg(what).arg(state_err)));
}

} // namespace

class TestScan : public QObject {
    Q_OBJECT
private slots:
    void recurrent_matches_attention_form_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("H");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("V");
        QTest::addColumn<int>("substeps");
        QTest::addColumn<float>("beta_max");
        const Case cases[] = {{1, 1, 1, 1, 1}, {37, 3, 5, 7, 1}, {64, 1, 16, 3, 1}, {50, 5, 8, 8, 1}, {23, 2, 9, 4, 1}};
        const TransitionKind kinds[] = {TransitionKind::Identity, TransitionKind::Scalar, TransitionKind::Diagonal,
                                        TransitionKind::DeltaRule, TransitionKind::DiagPlusRankOne};
        for (TransitionKind k : kinds)
            for (const Case& c : cases) {
                QTest::addRow("%s T%d H%d K%d V%d", transition_name(k), c.T, c.H, c.K, c.V)
                    << int(k) << c.T << c.H << c.K << c.V << 1 << 1.0f;
                if (k == TransitionKind::DeltaRule) {
                    // Negative eigenvalues (beta up to 2) and Householder products of 2 and 3 steps.
                    QTest::addRow("delta beta2 T%d H%d K%d V%d", c.T, c.H, c.K, c.V) << int(k) << c.T << c.H << c.K << c.V << 1 << 2.0f;
                    QTest::addRow("householder2 T%d H%d K%d V%d", c.T, c.H, c.K, c.V) << int(k) << c.T << c.H << c.K << c.V << 2 << 2.0f;
                    QTest::addRow("householder3 T%d H%d K%d V%d", c.T, c.H, c.K, c.V) << int(k) << c.T << c.H << c.K << c.V << 3 << 1.0f;
                }
            }
    }

    void recurrent_matches_attention_form() {
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        QFETCH(int, substeps);
        QFETCH(float, beta_max);
        std::mt19937 rng(uint32_t(kind * 1000 + T * 31 + H * 7 + K + V + substeps));
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind(kind), T, H, K, V, substeps, rng, beta_max);
        compare_forms(in, rng, 2e-5, QTest::currentDataTag());
    }

    void attention_matrix_reproduces_outputs() {
        std::mt19937 rng(7);
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind::DeltaRule, 19, 2, 6, 5, 2, rng, 2.0f);
        std::vector<float> o(size_t(in.T) * in.H * in.V), attn(size_t(in.H) * in.T * in.T * in.substeps);
        scan_attention_form(in, nullptr, o.data(), attn.data());
        const int n = in.substeps;
        for (int h = 0; h < in.H; ++h)
            for (int t = 0; t < in.T; ++t)
                for (int c = 0; c < in.V; ++c) {
                    double acc = 0;
                    for (int s = 0; s < in.T; ++s)
                        for (int j = 0; j < n; ++j) {
                            float a = attn[(size_t(h) * in.T + t) * in.T * n + size_t(s) * n + j];
                            if (s > t) QCOMPARE(a, 0.0f); // causal
                            acc += double(a) * in.v_at(s, j, h)[c];
                        }
                    QVERIFY(std::abs(acc - o[(size_t(t) * in.H + h) * in.V + c]) < 1e-4);
                }
    }

    // RWKV-6's bonus read (o_t = S_{t-1}^T q_t + beta_t (q_t^T diag(u) k_t) v_t) against fla's
    // own loop (fused_recurrent_rwkv6_fwd_kernel: o = sum_k (h + k v^T * u) q; h = h * exp(w) + k v^T)
    // written out independently in double, and the attention form (outputs and the map's
    // diagonal) against both; on scalar-decay and delta-rule inputs the form is checked too.
    void bonus_read_matches_rwkv6_recurrence_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("T");
        QTest::addColumn<int>("H");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("V");
        const Case cases[] = {{1, 1, 1, 1, 1}, {37, 3, 5, 7, 1}, {23, 2, 9, 4, 1}, {64, 1, 16, 3, 1}};
        for (TransitionKind k : {TransitionKind::Diagonal, TransitionKind::Scalar, TransitionKind::DeltaRule})
            for (const Case& c : cases)
                QTest::addRow("%s T%d H%d K%d V%d", transition_name(k), c.T, c.H, c.K, c.V)
                    << int(k) << c.T << c.H << c.K << c.V;
    }
    void bonus_read_matches_rwkv6_recurrence() {
        QFETCH(int, kind);
        QFETCH(int, T);
        QFETCH(int, H);
        QFETCH(int, K);
        QFETCH(int, V);
        std::mt19937 rng(uint32_t(911 + kind * 101 + T * 31 + H * 7 + K + V));
        ScanInputs in = testsupport::random_scan_inputs(TransitionKind(kind), T, H, K, V, 1, rng, 1.0f);
        in.bonus = Tensor({H, K});
        testsupport::fill_normal(in.bonus, rng, 1.0f);
        Tensor S0({H, K, V});
        testsupport::fill_normal(S0, rng, 0.5f);
        Tensor S = S0;
        std::vector<float> o(size_t(T) * H * V), o_att(o.size()), attn(size_t(H) * T * T);
        scan_recurrent(in, S.ptr(), o.data());
        scan_attention_form(in, S0.ptr(), o_att.data(), attn.data());
        QVERIFY2(relative_l2(o.data(), o_att.data(), o.size()) < 2e-5, "attention form disagrees with the recurrence");

        if (TransitionKind(kind) == TransitionKind::Diagonal) {
            std::vector<double> want_o(o.size()), h(S0.data.begin(), S0.data.end());
            for (int t = 0; t < T; ++t)
                for (int hh = 0; hh < H; ++hh) {
                    const float *q = in.q_at(t, hh), *k = in.k_at(t, 0, hh), *v = in.v_at(t, 0, hh);
                    const float* w = in.log_decay.ptr() + (size_t(t) * H + hh) * K;
                    const float* u = in.bonus.ptr() + size_t(hh) * K;
                    const double beta = in.beta_at(t, 0, hh);
                    double* hs = h.data() + size_t(hh) * K * V;
                    for (int c = 0; c < V; ++c) {
                        double acc = 0;
                        for (int r = 0; r < K; ++r) acc += (hs[r * V + c] + beta * k[r] * v[c] * u[r]) * q[r];
                        want_o[(size_t(t) * H + hh) * V + c] = acc;
                    }
                    for (int r = 0; r < K; ++r)
                        for (int c = 0; c < V; ++c)
                            hs[r * V + c] = hs[r * V + c] * std::exp(double(w[r])) + beta * k[r] * v[c];
                }
            std::vector<float> want_of(want_o.begin(), want_o.end()), want_S(h.begin(), h.end());
            // 1e-4: the one-value case (T1 K1 V1) cancels its two terms to 1e-3 of their size, where
            // float rounding alone is 1e-5 relative; a missing or misplaced bonus is off by O(1).
            QVERIFY2(relative_l2(o.data(), want_of.data(), o.size()) < 1e-4,
                     qPrintable(QString("outputs differ from fla's RWKV-6 loop: o[0] %1, want %2")
                                    .arg(double(o[0]), 0, 'g', 9)
                                    .arg(want_o[0], 0, 'g', 9)));
            QVERIFY2(relative_l2(S.ptr(), want_S.data(), want_S.size()) < 1e-5,
                     "final state differs from fla's RWKV-6 loop");
        }
        // The map's diagonal is the bonus weight beta_t q_t^T diag(u) k_t.
        for (int hh = 0; hh < H; ++hh)
            for (int t = 0; t < T; ++t) {
                double want = 0;
                for (int r = 0; r < K; ++r)
                    want += double(in.q_at(t, hh)[r]) * in.bonus.data[size_t(hh) * K + r] * in.k_at(t, 0, hh)[r];
                want *= in.beta_at(t, 0, hh);
                const float got = attn[(size_t(hh) * T + t) * T + t];
                QVERIFY2(std::abs(got - want) <= 1e-5 * (1 + std::abs(want)),
                         qPrintable(QString("diagonal at t=%1").arg(t)));
            }
    }

    void delta_rule_with_beta_two_reflects_the_key() {
        // A = gamma (I - 2 k k^T) with unit k maps k to -gamma k: an eigenvalue at -gamma.
        ScanInputs in;
        in.allocate(TransitionKind::DeltaRule, 1, 1, 4, 2, 1, true);
        const float k[4] = {0.5f, 0.5f, 0.5f, 0.5f};
        for (int i = 0; i < 4; ++i) in.k_at(0, 0, 0)[i] = k[i];
        in.beta.data[0] = 2.0f;
        in.log_decay = Tensor({1, 1});
        in.log_decay.data[0] = std::log(0.9f);
        double A[16];
        transition_matrix(in, 0, 0, A);
        for (int r = 0; r < 4; ++r) {
            double Ak = 0;
            for (int c = 0; c < 4; ++c) Ak += A[r * 4 + c] * k[c];
            QVERIFY(std::abs(Ak - (-0.9 * k[r])) < 1e-6);
        }
    }

    void diag_plus_rank_one_matrix() {
        ScanInputs in;
        in.allocate(TransitionKind::DiagPlusRankOne, 1, 1, 3, 1);
        in.log_decay = Tensor({1, 1, 3}, {std::log(0.5f), std::log(0.25f), 0.0f});
        in.a = Tensor({1, 1, 3}, {1, 0, 2});
        in.b = Tensor({1, 1, 3}, {0, 3, 1});
        double A[9];
        transition_matrix(in, 0, 0, A);
        const double want[9] = {0.5, 3, 1, 0, 0.25, 0, 0, 6, 1 + 2};
        for (int i = 0; i < 9; ++i) QVERIFY2(std::abs(A[i] - want[i]) < 1e-6, qPrintable(QString::number(i)));
    }

    // Every family's real layers: capture the scan inputs a reference model produces on random
    // tokens of an awkward length, and check the recurrent and attention forms agree on them.
    // KDA's layers (the only diagonal-plus-rank-one ones with a beta) must also have the transition
    // fla's kernel applies, (I - beta k k^T) diag(exp g), built densely from their k, beta and g.
    void reference_model_layers_data() {
        QTest::addColumn<QString>("folder");
        for (const QString& n : testsupport::reference_model_names())
            QTest::newRow(n.toUtf8()) << QString::fromStdString(testsupport::reference_dir()) + "/models/" + n;
        for (const QString& n : testsupport::family_reference_names())
            QTest::newRow(("tests/data/" + n).toUtf8())
                << QString::fromStdString(testsupport::family_reference_dir()) + "/" + n;
    }

    void reference_model_layers() {
        QFETCH(QString, folder);
        std::unique_ptr<Model> model;
        try {
            model = load_model(folder.toStdString());
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        struct Capture : ForwardObserver {
            std::vector<std::pair<ScanInputs, Tensor>> scans;
            bool wants_layer(int) const override { return true; }
            void on_scan(int, int64_t, const ScanInputs& in, const float* S0) override {
                Tensor s({in.H, in.K, in.V});
                std::copy(S0, S0 + s.data.size(), s.data.begin());
                scans.emplace_back(in, s);
            }
        } cap;
        std::mt19937 rng(11);
        std::uniform_int_distribution<int> tok(0, model->info().vocab_size - 1);
        std::vector<int32_t> ids(29);
        for (auto& t : ids) t = tok(rng);
        SequenceState st = model->initial_state();
        ForwardOptions opt;
        opt.observer = &cap;
        model->forward(std::span<const int32_t>(ids.data(), 13), st, opt); // then continue from a non-zero state
        model->forward(std::span<const int32_t>(ids.data() + 13, ids.size() - 13), st, opt);
        int recurrent_layers = 0;
        for (const LayerInfo& l : model->info().layers) recurrent_layers += l.mixer == MixerKind::Recurrent;
        QCOMPARE(int(cap.scans.size()), 2 * recurrent_layers);
        for (auto& [in, S0] : cap.scans) {
            Tensor S = S0;
            std::vector<float> o_rec(size_t(in.T) * in.H * in.V), o_att(o_rec.size());
            scan_recurrent(in, S.ptr(), o_rec.data());
            scan_attention_form(in, S0.ptr(), o_att.data());
            const double err = relative_l2(o_rec.data(), o_att.data(), o_rec.size());
            QVERIFY2(err < 1e-4, qPrintable(QString("%1 (%2): %3").arg(folder, transition_name(in.kind)).arg(err)));
            if (in.kind != TransitionKind::DiagPlusRankOne || in.beta.data.empty()) continue;
            const int K = in.K;
            std::vector<double> A(size_t(K) * K);
            for (int t : {0, in.T / 2, in.T - 1})
                for (int h = 0; h < in.H; ++h) {
                    transition_matrix(in, t, h, A.data());
                    const float* k = in.k_at(t, 0, h);
                    const float* g = in.log_decay.ptr() + (size_t(t) * in.H + h) * K;
                    const double beta = in.beta_at(t, 0, h);
                    double worst = 0, scale = 0;
                    for (int r = 0; r < K; ++r)
                        for (int c = 0; c < K; ++c) {
                            const double want = ((r == c ? 1.0 : 0.0) - beta * k[r] * k[c]) * std::exp(double(g[c]));
                            worst = std::max(worst, std::abs(A[size_t(r) * K + c] - want));
                            scale = std::max(scale, std::abs(want));
                        }
                    QVERIFY2(worst <= 1e-6 * scale, qPrintable(QString("%1: token %2 head %3: transition differs from "
                                                                       "(I - beta k k^T) diag(exp g) by %4")
                                                                   .arg(folder)
                                                                   .arg(t)
                                                                   .arg(h)
                                                                   .arg(worst)));
                }
        }
    }
};

QTEST_GUILESS_MAIN(TestScan)
#include "test_scan.moc"
