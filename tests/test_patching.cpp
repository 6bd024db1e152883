// State surgery and activation patching (statescope/analysis/patching.h) on the shipped models:
// an edited state continues exactly like a state edited by hand, patching a run into itself
// changes nothing, patching a one-layer model's whole layer restores the clean logits, and on the
// MQAR DeltaNet the patching map shows where the stored value lives (and that the short
// convolution holds it for two tokens before the state does). statescope-cli patch prints and
// writes the same numbers.
#include "reference_dir.h"
#include "statescope/analysis/patching.h"
#include "statescope/error.h"
#include "statescope/model.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

using namespace statescope;

namespace {

std::string demo(const char* name) { return std::string(STATESCOPE_SOURCE_DIR) + "/assets/models/" + name; }

// A sample of mqar-deltanet's task (statescope-cli task assets/models/mqar-deltanet --print --seed 1
// --pairs 4) up to the query of key 36, whose stored value is 92; the corrupted copy stores 100.
const std::vector<int32_t> kClean = {36, 92, 47, 112, 62, 120, 30, 97, 47, 112, 30, 97, 62, 120, 36};
std::vector<int32_t> corrupted() {
    std::vector<int32_t> c = kClean;
    c[1] = 100;
    return c;
}

Tensor last_logits(const Model& m, std::span<const int32_t> ids, SequenceState& st) {
    ForwardOptions last;
    last.all_logits = false;
    return m.forward(ids, st, last).logits;
}

} // namespace

class TestPatching : public QObject {
    Q_OBJECT
private slots:
    void editing_a_head_changes_only_that_block() {
        const auto m = load_model(demo("mqar-deltanet"));
        SequenceState st = m->initial_state();
        last_logits(*m, std::span(kClean).first(6), st);
        const SequenceState before = st;
        analysis::scale_head(st, 1, 1, 2.0f);
        const Tensor& a = before.layers[1].recurrent;
        const Tensor& b = st.layers[1].recurrent;
        const int64_t block = a.shape[1] * a.shape[2];
        for (int64_t i = 0; i < a.numel(); ++i)
            QCOMPARE(b.data[size_t(i)], i >= block ? 2.0f * a.data[size_t(i)] : a.data[size_t(i)]);
        QCOMPARE(st.layers[0].recurrent.data, before.layers[0].recurrent.data);
        analysis::zero_head(st, 1, 1);
        for (int64_t i = block; i < b.numel(); ++i) QCOMPARE(b.data[size_t(i)], 0.0f);
    }

    // Zeroing a head and continuing is the run whose state was zeroed by hand: the continuation
    // reads the edited value and nothing else; and the edit matters (the logits move).
    void a_zeroed_head_continues_like_a_hand_zeroed_state() {
        const auto m = load_model(demo("mqar-deltanet"));
        SequenceState edited = m->initial_state();
        last_logits(*m, std::span(kClean).first(8), edited);
        SequenceState by_hand = edited, untouched = edited;
        analysis::zero_head(edited, 0, 0);
        Tensor& S = by_hand.layers[0].recurrent;
        std::fill(S.data.begin(), S.data.begin() + S.shape[1] * S.shape[2], 0.0f);
        const auto rest = std::span(kClean).subspan(8);
        const Tensor a = last_logits(*m, rest, edited), b = last_logits(*m, rest, by_hand), c = last_logits(*m, rest, untouched);
        QCOMPARE(a.data, b.data);
        QVERIFY(relative_l2(a.ptr(), c.ptr(), a.data.size()) > 1e-3);
    }

    // A model without positions in its layers (DeltaNet: no RoPE) forgets everything when every
    // layer is reset: the continuation equals a fresh run on the continuation alone.
    void resetting_every_layer_is_a_fresh_start() {
        const auto m = load_model(demo("mqar-deltanet"));
        SequenceState st = m->initial_state();
        last_logits(*m, std::span(kClean).first(7), st);
        for (int l = 0; l < m->info().num_layers; ++l) analysis::reset_layer(*m, st, l);
        SequenceState fresh = m->initial_state();
        const auto rest = std::span(kClean).subspan(7);
        const Tensor a = last_logits(*m, rest, st), b = last_logits(*m, rest, fresh);
        QVERIFY2(relative_l2(a.ptr(), b.ptr(), a.data.size()) < 1e-6, "a reset state is not a fresh one");
    }

    void patching_a_run_into_itself_changes_nothing() {
        for (const char* name : {"mqar-deltanet", "mqar-linear-attn", "selcopy-mamba"}) {
            const auto m = load_model(demo(name));
            analysis::PatchingRequest req;
            req.clean = kClean;
            for (int32_t& t : req.clean) t %= m->info().vocab_size; // selcopy-mamba has 11 tokens
            req.corrupt = req.clean;
            req.position = 5;
            req.target = 3;
            const analysis::PatchingResult r = analysis::activation_patching(*m, req);
            QCOMPARE(r.clean_logit, r.corrupt_logit);
            for (size_t l = 0; l < r.layer_logit.size(); ++l) {
                QCOMPARE(r.layer_logit[l], r.clean_logit);
                for (double v : r.head_logit[l]) QCOMPARE(v, r.clean_logit);
            }
            QVERIFY(std::isnan(r.restored(r.clean_logit))); // nothing to restore
        }
    }

    // In a one-layer model the layer's whole state is everything the past leaves behind, so
    // patching it restores the clean logit exactly when the inputs agree after the patch.
    void patching_the_only_layer_restores_the_clean_logit() {
        for (const char* name : {"parity-deltanet-negeig", "s3-deltaproduct"}) {
            const auto m = load_model(demo(name));
            QCOMPARE(m->info().num_layers, 1);
            analysis::PatchingRequest req;
            req.clean = {1, 0, 1, 1, 0, 1, 0, 0, 1, 1};
            req.corrupt = req.clean;
            req.corrupt[2] = 0;
            req.position = 4;
            req.target = 1;
            const analysis::PatchingResult r = analysis::activation_patching(*m, req);
            QVERIFY(std::abs(r.clean_logit - r.corrupt_logit) > 0.5);
            QCOMPARE(r.layer_logit[0], r.clean_logit);
        }
    }

    // What the MQAR DeltaNet's map shows (and the README quotes): right after the stored value,
    // no head's recurrent state carries it yet (the short convolution window does: the whole
    // layer restores it); two tokens later head 0 of layer 0 carries most of it; layer 1 never
    // does on its own.
    void mqar_value_enters_layer_0_head_0_two_tokens_late() {
        const auto m = load_model(demo("mqar-deltanet"));
        analysis::PatchingRequest req;
        req.clean = kClean;
        req.corrupt = corrupted();
        req.target = 92;
        req.position = analysis::last_difference(req.clean, req.corrupt);
        QCOMPARE(req.position, int64_t(1));
        const analysis::PatchingResult at1 = analysis::activation_patching(*m, req);
        req.position = 3;
        const analysis::PatchingResult at3 = analysis::activation_patching(*m, req);
        qInfo("clean %.3f corrupted %.3f; after token 1: L0 h0 %.3f h1 %.3f layer %.3f; after token 3: L0 h0 %.3f layer 1 %.3f",
              at1.clean_logit, at1.corrupt_logit, at1.restored(at1.head_logit[0][0]), at1.restored(at1.head_logit[0][1]),
              at1.restored(at1.layer_logit[0]), at3.restored(at3.head_logit[0][0]), at3.restored(at3.layer_logit[1]));
        QVERIFY(at1.clean_logit - at1.corrupt_logit > 5);
        QVERIFY(std::abs(at1.restored(at1.head_logit[0][0])) < 0.2);
        QVERIFY(at1.restored(at1.layer_logit[0]) > 0.95);
        QVERIFY(at3.restored(at3.head_logit[0][0]) > 0.8);
        QVERIFY(std::abs(at3.restored(at3.layer_logit[1])) < 0.2);
    }

    void bad_requests_are_refused_by_name() {
        const auto m = load_model(demo("mqar-deltanet"));
        auto says = [&](analysis::PatchingRequest req, const char* what) {
            try {
                analysis::activation_patching(*m, req);
                QFAIL(qPrintable(QString("accepted, expected: ") + what));
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find(what) != std::string::npos, e.what());
            }
        };
        analysis::PatchingRequest ok;
        ok.clean = kClean;
        ok.corrupt = corrupted();
        ok.target = 92;
        analysis::PatchingRequest r = ok;
        r.corrupt.pop_back();
        says(r, "same length");
        r = ok;
        r.position = int64_t(kClean.size()) - 1;
        says(r, "patch position");
        r = ok;
        r.target = m->info().vocab_size;
        says(r, "target");
        SequenceState st = m->initial_state();
        QVERIFY_THROWS_EXCEPTION(Error, analysis::zero_head(st, 2, 0));
        QVERIFY_THROWS_EXCEPTION(Error, analysis::zero_head(st, 0, 2));
        // A softmax layer has no recurrent state to edit (mqar-linear-attn's layer 0).
        const auto hybrid = load_model(demo("mqar-linear-attn"));
        SequenceState hs = hybrid->initial_state();
        try {
            analysis::zero_head(hs, 0, 0);
            QFAIL("edited a softmax layer's recurrent state");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("softmax") != std::string::npos, e.what());
        }
    }

    void the_command_line_prints_and_writes_the_map() {
        QTemporaryDir dir;
        const QString csv = dir.filePath("patch.csv"), svg = dir.filePath("patch.svg");
        auto ids = [](const std::vector<int32_t>& v) {
            QStringList s;
            for (int32_t t : v) s << QString::number(t);
            return s.join(',');
        };
        for (const QString& out : {csv, svg}) {
            QProcess p;
            p.start(STATESCOPE_CLI, {"patch", QString::fromStdString(demo("mqar-deltanet")), "--clean-tokens", ids(kClean),
                                     "--corrupt-tokens", ids(corrupted()), "--target", "v28", "--at", "3", "--out", out});
            QVERIFY(p.waitForFinished(120000));
            const QString text = p.readAllStandardOutput() + p.readAllStandardError();
            QVERIFY2(p.exitCode() == 0, qPrintable(text));
            QVERIFY2(text.contains("target:  92 'v28'") && text.contains("whole layer"), qPrintable(text));
        }
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString(f.readAll()).trimmed().split('\n');
        QCOMPARE(lines.size(), 1 + 2 * 3); // header, then per layer 2 heads and the whole layer
        QCOMPARE(lines[0], QString("layer,head,patched_logit,restored"));
        QVERIFY(lines[1].startsWith("0,0,"));
        QVERIFY2(lines[1].split(',')[3].toDouble() > 0.8, qPrintable(lines[1]));
        QFile s(svg);
        QVERIFY(s.open(QIODevice::ReadOnly));
        QVERIFY(s.readAll().contains("layer 1"));
        // A target of several tokens is refused by name.
        QProcess bad;
        bad.start(STATESCOPE_CLI, {"patch", QString::fromStdString(demo("mqar-deltanet")), "--clean-tokens", ids(kClean),
                                   "--corrupt-tokens", ids(corrupted()), "--target", "v28 v29"});
        QVERIFY(bad.waitForFinished(60000));
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(QString(bad.readAllStandardError()).contains("--target"));
    }
};

QTEST_GUILESS_MAIN(TestPatching)
#include "test_patching.moc"
