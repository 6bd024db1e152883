// The acceptance test of the engine: `statescope-cli verify` passes, at the default tolerance,
// for every folder of ../shared/reference/models and of tests/data/references (outputs of
// transformers and fla themselves), on the CPU reference and with the whole model on the Vulkan
// device (lavapipe in CI).
#include "statescope/error.h"
#include "statescope/model.h"
#include "test_support.h"
#include "vulkan/context.h"

#include <QProcess>
#include <QtTest>

class TestReferenceModels : public QObject {
    Q_OBJECT
private slots:
    // Rows: a name and the reference folder's path.
    void verify_data() {
        QTest::addColumn<QString>("folder");
        const QStringList names = testsupport::reference_model_names();
        QVERIFY2(names.size() >= 12, "expected the twelve reference folders in ../shared/reference/models");
        const QString shared = QString::fromStdString(testsupport::reference_dir()) + "/models/";
        for (const QString& n : names) QTest::newRow(n.toUtf8()) << shared + n;
        const QStringList families = testsupport::family_reference_names();
        QVERIFY2(families.size() >= 3,
                 "expected the references of tests/data/references (kda, kda_negeig_lowerbound, rwkv6)");
        const QString in_repo = QString::fromStdString(testsupport::family_reference_dir()) + "/";
        for (const QString& n : families) QTest::newRow(("tests/data/" + n).toUtf8()) << in_repo + n;
    }

    void verify() { run_verify({}); }

    void verify_on_vulkan_data() { verify_data(); }
    void verify_on_vulkan() {
        std::string why;
        if (!statescope::vk::VulkanContext::any_device_available(&why))
            QSKIP(qPrintable("no Vulkan device: " + QString::fromStdString(why)));
        run_verify({"--backend", "vulkan"});
    }

private:
    static void run_verify(const QStringList& extra) {
        QFETCH(QString, folder);
        const QString dir = folder;
        QProcess p;
        p.start(STATESCOPE_CLI, QStringList{"verify", dir} + extra);
        QVERIFY(p.waitForFinished(600000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        const QString err = QString::fromUtf8(p.readAllStandardError());
        const QStringList lines = out.trimmed().split('\n');
        if (p.exitCode() != 0) qWarning().noquote() << out << err;
        QCOMPARE(p.exitCode(), 0);
        QVERIFY2(lines.last().startsWith("verify: ") && lines.last().endsWith(" 0 failed"), qPrintable(lines.last()));
        // Every reference tensor was compared: one line each plus the summary.
        QVERIFY(lines.size() > 10);
    }

private slots:

    // verify may skip a reference tensor only when its values provably cannot come from the
    // library. The same check must accept every cache tensor the engine itself produces, or it
    // could excuse real mistakes.
    void plausibility_check_accepts_engine_states_data() { verify_data(); }
    void plausibility_check_accepts_engine_states() {
        QFETCH(QString, folder);
        std::unique_ptr<statescope::Model> m;
        try {
            m = statescope::load_model(folder.toStdString());
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
        statescope::SequenceState st = m->initial_state();
        for (int32_t t : {3, 1, 4, 1, 5, 9, 2, 6}) {
            m->forward(std::span<const int32_t>(&t, 1), st);
            for (const auto& nt : m->library_state(st)) {
                const std::string why = m->implausible_reference(nt.name, nt.tensor);
                QVERIFY2(why.empty(), qPrintable(QString::fromStdString(nt.name + ": " + why)));
            }
        }
    }

    void rwkv7_token_shift_garbage_is_recognised() {
        auto m = statescope::load_model(testsupport::reference_dir() + "/models/rwkv7");
        statescope::Tensor ramp({1, int64_t(m->info().hidden_size)});
        for (int64_t i = 0; i < ramp.numel(); ++i) ramp.data[size_t(i)] = 0.3f + 0.004f * float(i); // all positive: mean != 0
        QVERIFY(!m->implausible_reference("L0.ffn_state", ramp).empty());
        QVERIFY(m->implausible_reference("L0.recurrent_state", ramp).empty()); // no claim about other tensors
    }
};

QTEST_GUILESS_MAIN(TestReferenceModels)
#include "test_reference_models.moc"
