// The lenses of statescope/analysis/lenses.h on hand-built heads whose values are known in closed
// form (docs/lenses.md gives the formulas): spikiness, mean attention distance, the first token's
// share, the effective rank of a map, and the query-magnitude effect.
#include "statescope/analysis/lenses.h"
#include "statescope/error.h"

#include <QProcess>
#include <QtTest>
#include <cmath>

using namespace statescope;
using namespace statescope::analysis;

namespace {

// One head, K = V = 1 (or K = T for one-hot keys): linear attention with q = k = 1 and scalar
// decay exp(g): row t weighs token s by exp(g (t - s)).
ScanInputs decaying_head(int T, double g) {
    ScanInputs in;
    in.allocate(g == 0 ? TransitionKind::Identity : TransitionKind::Scalar, T, 1, 1, 1);
    for (int t = 0; t < T; ++t) in.q_at(t, 0)[0] = in.k_at(t, 0, 0)[0] = in.v_at(t, 0, 0)[0] = 1.0f;
    if (g != 0) in.log_decay = Tensor({T, 1}, std::vector<float>(size_t(T), float(g)));
    return in;
}

// One-hot keys e_t and queries e_t (K = T): the exact map is the identity.
ScanInputs one_hot_head(int T) {
    ScanInputs in;
    in.allocate(TransitionKind::Identity, T, 1, T, 1);
    for (int t = 0; t < T; ++t) {
        in.q_at(t, 0)[t] = in.k_at(t, 0, 0)[t] = 1.0f;
        in.v_at(t, 0, 0)[0] = 1.0f;
    }
    return in;
}

AttentionMap hand_map(int rows, std::vector<float> w) {
    AttentionMap m;
    m.rows = rows;
    m.cols = rows;
    m.weights = std::move(w);
    return m;
}

} // namespace

class TestLenses : public QObject {
    Q_OBJECT
private slots:
    void spikiness_is_one_for_a_single_token_and_zero_for_an_even_row() {
        const AttentionMap even = exact_attention(decaying_head(6, 0.0), 0);
        for (int t = 1; t < 6; ++t) QVERIFY(std::abs(spikiness(even, t)) < 1e-9);
        const AttentionMap id = exact_attention(one_hot_head(6), 0);
        for (int t = 1; t < 6; ++t) QVERIFY(std::abs(spikiness(id, t) - 1.0) < 1e-9);
        QCOMPARE(spikiness(id, 0), 0.0); // one entry: nothing to spread
        // Two entries with weights 1 and 3: p = (1/4, 3/4), H = ln 4 - (3/4) ln 3.
        const AttentionMap two = hand_map(2, {1, 0, 1, 3});
        const double H = std::log(4.0) - 0.75 * std::log(3.0);
        QVERIFY(std::abs(spikiness(two, 1) - (1 - H / std::log(2.0))) < 1e-7);
    }

    void mean_distance_is_the_weighted_age_of_the_tokens() {
        const AttentionMap even = exact_attention(decaying_head(9, 0.0), 0);
        for (int t = 0; t < 9; ++t) QVERIFY(std::abs(mean_attention_distance(even, t) - t / 2.0) < 1e-6); // uniform over 0..t
        const AttentionMap id = exact_attention(one_hot_head(5), 0);
        for (int t = 0; t < 5; ++t) QCOMPARE(mean_attention_distance(id, t), 0.0);
        // Decay exp(g): weights r^d for ages d = 0..t, r = exp(g); mean age sum d r^d / sum r^d.
        const double g = -0.5, r = std::exp(g);
        const AttentionMap dec = exact_attention(decaying_head(8, g), 0);
        double num = 0, den = 0;
        for (int d = 0; d <= 7; ++d) num += d * std::pow(r, d), den += std::pow(r, d);
        QVERIFY(std::abs(mean_attention_distance(dec, 7) - num / den) < 1e-5);
    }

    void the_first_tokens_share_fades_as_the_decay_says() {
        const AttentionMap even = exact_attention(decaying_head(10, 0.0), 0);
        for (int t = 0; t < 10; ++t) QVERIFY(std::abs(first_token_share(even, t) - 1.0 / (t + 1)) < 1e-6);
        const double g = -0.3, r = std::exp(g);
        const AttentionMap dec = exact_attention(decaying_head(10, g), 0);
        for (int t = 0; t < 10; ++t) {
            double den = 0;
            for (int d = 0; d <= t; ++d) den += std::pow(r, d);
            QVERIFY(std::abs(first_token_share(dec, t) - std::pow(r, t) / den) < 1e-5);
        }
    }

    void a_linear_map_has_the_rank_of_its_keys() {
        // One-hot queries and keys give the identity map: effective rank T.
        const AttentionMap id = exact_attention(one_hot_head(7), 0);
        QVERIFY(std::abs(map_effective_rank(id) - 7.0) < 1e-6);
        // All weight in column 0 (a rank-1 map): effective rank 1.
        std::vector<float> w(16, 0.0f);
        for (int t = 0; t < 4; ++t) w[size_t(t) * 4] = float(t + 1);
        QVERIFY(std::abs(map_effective_rank(hand_map(4, w)) - 1.0) < 1e-6);
        QCOMPARE(map_effective_rank(AttentionMap{}), 0.0);
    }

    void doubling_the_query_changes_softmax_rows_only() {
        // Two tokens with k = 0 and k = ln 3 (K = 1), q = 1 at the second: softmax p = (1/4, 3/4);
        // with 2q, p = (1/10, 9/10). The exact map scales by 2 and keeps its distribution.
        ScanInputs in;
        in.allocate(TransitionKind::Identity, 2, 1, 1, 1);
        in.k_at(0, 0, 0)[0] = 0.0f;
        in.k_at(1, 0, 0)[0] = float(std::log(3.0));
        in.q_at(0, 0)[0] = in.q_at(1, 0)[0] = 1.0f;
        auto H = [](double a, double b) { return -(a * std::log(a) + b * std::log(b)); };
        const double expected = H(0.1, 0.9) - H(0.25, 0.75);
        QVERIFY(std::abs(query_magnitude_effect(in, 0, 1, true) - expected) < 1e-6);
        QVERIFY(expected < 0);
        const ScanInputs dec = decaying_head(6, -0.2);
        for (int t = 0; t < 6; ++t) QCOMPARE(query_magnitude_effect(dec, 0, t, false), 0.0);
        const LensCurves c = lens_curves(in, 0, true);
        QCOMPARE(int(c.spikiness.size()), 2);
        QVERIFY(std::abs(c.magnitude_effect[1] - expected) < 1e-6);
    }

    // On a trained model: the exact map of a linear layer ignores the query's length (0 to four
    // places), the softmax map of the same q and k does not; a softmax layer is refused by name.
    void the_command_line_reads_a_trained_head() {
        const QString model = QString(STATESCOPE_SOURCE_DIR) + "/assets/models/mqar-linear-attn";
        const QString ids = "36,92,47,112,62,120,30,97,47,112,30,97,62,120,36,92";
        QProcess p;
        p.start(STATESCOPE_CLI, {"lenses", model, "--tokens", ids, "--layer", "1", "--head", "0"});
        QVERIFY(p.waitForFinished(60000));
        const QString out = p.readAllStandardOutput();
        QVERIFY2(p.exitCode() == 0, qPrintable(out + p.readAllStandardError()));
        QString line;
        for (const QString& l : out.split('\n'))
            if (l.startsWith("entropy change with 2q")) line = l;
        const QStringList f = line.split(' ', Qt::SkipEmptyParts);
        QVERIFY2(f.size() == 6, qPrintable(line));
        QCOMPARE(f[4], QString("0.0000"));
        QVERIFY2(f[5].toDouble() < -0.01, qPrintable(line));
        QProcess bad;
        bad.start(STATESCOPE_CLI, {"lenses", model, "--tokens", ids, "--layer", "0"});
        QVERIFY(bad.waitForFinished(60000));
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(QString(bad.readAllStandardError()).contains("softmax attention"));
    }

    void a_row_out_of_range_is_refused() {
        const AttentionMap id = exact_attention(one_hot_head(3), 0);
        QVERIFY_THROWS_EXCEPTION(Error, spikiness(id, 3));
        QVERIFY_THROWS_EXCEPTION(Error, mean_attention_distance(id, -1));
    }
};

QTEST_GUILESS_MAIN(TestLenses)
#include "test_lenses.moc"
