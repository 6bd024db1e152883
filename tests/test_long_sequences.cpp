// Long prompts are run in pieces internally (bounded memory); the result must equal one whole
// pass (forced here by attaching an observer) for every family, states included.
#include "statescope/error.h"
#include "statescope/model.h"
#include "test_support.h"

#include <QtTest>

using namespace statescope;

class TestLongSequences : public QObject {
    Q_OBJECT
private slots:
    void pieces_equal_one_pass_data() {
        QTest::addColumn<QString>("folder");
        for (const QString& n : testsupport::reference_model_names()) QTest::newRow(n.toUtf8()) << n;
    }

    void pieces_equal_one_pass() {
        QFETCH(QString, folder);
        std::unique_ptr<Model> m;
        try {
            m = load_model(testsupport::reference_dir() + "/models/" + folder.toStdString());
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        std::mt19937 rng(3);
        std::uniform_int_distribution<int> tok(0, m->info().vocab_size - 1);
        std::vector<int32_t> ids(1111); // over two pieces and a ragged rest
        for (auto& t : ids) t = tok(rng);

        struct Watch : ForwardObserver {}; // wants nothing, but its presence keeps the call whole
        Watch watch;
        ForwardOptions whole;
        whole.observer = &watch;
        whole.hidden_states = true;
        ForwardOptions pieces;
        pieces.hidden_states = true;

        SequenceState a = m->initial_state(), b = m->initial_state();
        ForwardResult ra = m->forward(ids, a, whole);
        ForwardResult rb = m->forward(ids, b, pieces);
        QCOMPARE(ra.logits.shape, rb.logits.shape);
        QVERIFY(relative_l2(rb.logits.ptr(), ra.logits.ptr(), ra.logits.data.size()) < 1e-5);
        QCOMPARE(ra.hidden.size(), rb.hidden.size());
        for (size_t i = 0; i < ra.hidden.size(); ++i) {
            QCOMPARE(ra.hidden[i].shape, rb.hidden[i].shape);
            QVERIFY(relative_l2(rb.hidden[i].ptr(), ra.hidden[i].ptr(), ra.hidden[i].data.size()) < 1e-5);
        }
        QCOMPARE(a.position, b.position);
        auto sa = m->library_state(a), sb = m->library_state(b);
        QCOMPARE(sa.size(), sb.size());
        for (size_t i = 0; i < sa.size(); ++i) {
            QCOMPARE(sa[i].tensor.shape, sb[i].tensor.shape);
            QVERIFY2(relative_l2(sb[i].tensor.ptr(), sa[i].tensor.ptr(), sa[i].tensor.data.size()) < 1e-5,
                     sa[i].name.c_str());
        }
        // Only the last logits row when asked for.
        SequenceState c = m->initial_state();
        ForwardOptions last;
        last.all_logits = false;
        Tensor lc = m->forward(ids, c, last).logits;
        QCOMPARE(lc.shape, (std::vector<int64_t>{1, int64_t(m->info().vocab_size)}));
        const float* want = ra.logits.ptr() + (ids.size() - 1) * size_t(m->info().vocab_size);
        QVERIFY(relative_l2(lc.ptr(), want, lc.data.size()) < 1e-5);
    }
};

QTEST_GUILESS_MAIN(TestLongSequences)
#include "test_long_sequences.moc"
