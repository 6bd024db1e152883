// The acceptance test of the engine: `statescope-cli verify` passes, at the default tolerance,
// for every folder of ../shared/reference/models (outputs of transformers and fla themselves).
#include "test_support.h"

#include <QProcess>
#include <QtTest>

class TestReferenceModels : public QObject {
    Q_OBJECT
private slots:
    void verify_data() {
        QTest::addColumn<QString>("folder");
        const QStringList names = testsupport::reference_model_names();
        QVERIFY2(names.size() >= 12, "expected the twelve reference folders in ../shared/reference/models");
        for (const QString& n : names) QTest::newRow(n.toUtf8()) << n;
    }

    void verify() {
        QFETCH(QString, folder);
        const QString dir = QString::fromStdString(testsupport::reference_dir()) + "/models/" + folder;
        QProcess p;
        p.start(STATESCOPE_CLI, {"verify", dir});
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
};

QTEST_GUILESS_MAIN(TestReferenceModels)
#include "test_reference_models.moc"
