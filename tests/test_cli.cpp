// statescope-cli's one argument parser, through the built program: every subcommand refuses a
// flag given without its value, an unknown flag and a bad number with a message naming the flag,
// and a non-zero exit status; the token-id lists the subcommands share parse one way.
#include "statescope/error.h"
#include "statescope/frames/token_input.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace statescope;

namespace {

const QString kBundled = QString(STATESCOPE_SOURCE_DIR) + "/assets/models/deltanet-negeig-tiny";

struct Run {
    int exit_code = -1;
    QString out, err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(STATESCOPE_CLI, args);
    if (!p.waitForFinished(60000)) return {};
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void bad_arguments_are_refused_by_name_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        // A flag at the end without its value says so (not "unknown option"), in every subcommand.
        QTest::newRow("run --tokens") << QStringList{"run", kBundled, "--tokens"} << "run: option --tokens needs a value";
        QTest::newRow("export --layer") << QStringList{"export", kBundled, "--layer"} << "export: option --layer needs a value";
        QTest::newRow("bench-cpu --steps") << QStringList{"bench-cpu", kBundled, "--steps"} << "bench-cpu: option --steps needs a value";
        QTest::newRow("bench-timeline --jumps") << QStringList{"bench-timeline", kBundled, "--jumps"}
                                                << "bench-timeline: option --jumps needs a value";
        QTest::newRow("synth --seed") << QStringList{"synth", "a.json", "out", "--seed"} << "synth: option --seed needs a value";
        QTest::newRow("tokenize --tokenizer") << QStringList{"tokenize", "--tokenizer"} << "tokenize: option --tokenizer needs a value";
        QTest::newRow("devices --device") << QStringList{"devices", "--device"} << "devices: option --device needs a value";
        // Unknown flags, whatever follows them.
        QTest::newRow("info --bogus") << QStringList{"info", kBundled, "--bogus"} << "info: unknown option --bogus";
        QTest::newRow("export --bogus=1") << QStringList{"export", kBundled, "--bogus=1"} << "export: unknown option --bogus";
        QTest::newRow("generate --max") << QStringList{"generate", kBundled, "--tokens", "1", "--max", "3"}
                                        << "generate: unknown option --max";
        QTest::newRow("switch with a value") << QStringList{"bench-model", kBundled, "--profile=yes"}
                                             << "bench-model: option --profile takes no value";
        // Numbers that are not what the flag takes.
        QTest::newRow("--tokens x") << QStringList{"bench-cpu", kBundled, "--tokens", "x"} << "--tokens: 'x' is not a positive integer";
        QTest::newRow("--steps 0") << QStringList{"bench-model", kBundled, "--backend", "cpu", "--steps", "0"}
                                   << "--steps: '0' is not a positive integer";
        if (!QString(STATESCOPE_CLI_HAS_EXPORT).isEmpty()) // export exists only when the views are built
            QTest::newRow("--layer -1") << QStringList{"export", kBundled, "--tokens", "1", "--view", "state", "--out",
                                                       "x.csv", "--layer", "-1"}
                                        << "--layer: '-1' is not a number >= 0";
        QTest::newRow("--temperature warm") << QStringList{"generate", kBundled, "--tokens", "1", "--temperature", "warm"}
                                            << "--temperature: 'warm' is not a number";
        QTest::newRow("--tolerance 0") << QStringList{"verify", kBundled, "--tolerance", "0"} << "--tolerance: '0' is not a positive number";
        QTest::newRow("--tokens 1,x") << QStringList{"run", kBundled, "--tokens", "1,x"} << "--tokens: 'x' is not a token id";
        QTest::newRow("--backend gpu") << QStringList{"verify", kBundled, "--backend", "gpu"} << "--backend: 'gpu' is not available";
    }
    void bad_arguments_are_refused_by_name() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = cli(args);
        QVERIFY2(r.exit_code != 0, qPrintable(args.join(' ') + " exited 0"));
        QVERIFY2(r.err.contains("statescope-cli: " + message) || r.err.contains(message), qPrintable(r.err));
    }

    void usage_lists_every_subcommand() {
        const Run r = cli({"--help"});
        QCOMPARE(r.exit_code, 0);
        for (const char* c : {"info", "run", "verify", "synth", "generate", "bench-timeline", "bench-cpu", "devices", "bench",
                              "bench-model", "export", "tokenize", "convert"})
            QVERIFY2(r.out.contains(QString("\n  %1 ").arg(c)), c);
        const Run unknown = cli({"frobnicate"});
        QCOMPARE(unknown.exit_code, 2);
        QVERIFY(unknown.err.contains("unknown command 'frobnicate'"));
    }

    void token_id_lists() {
        QCOMPARE(frames::parse_token_ids("1,2 3,\t4"), (std::vector<int32_t>{1, 2, 3, 4}));
        std::vector<std::string> items;
        QCOMPARE(frames::parse_token_ids("007, 8", "--tokens", false, &items), (std::vector<int32_t>{7, 8}));
        QCOMPARE(items, (std::vector<std::string>{"007", "8"}));
        QVERIFY(frames::parse_token_ids(" , ", "--decode", /*allow_empty=*/true).empty());
        for (const char* bad : {"1,-2", "3000000000", "1.5", "x"}) {
            try {
                frames::parse_token_ids(bad);
                QFAIL(bad);
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).startsWith("--tokens: '"), e.what());
            }
        }
        try {
            frames::parse_token_ids(",");
            QFAIL("an empty list passed");
        } catch (const Error& e) {
            QCOMPARE(QString(e.what()), QString("--tokens: no token ids given"));
        }
    }

    // A session written by a script reopens as written, and a bookmark's figure exported from the
    // session is the figure exported from the model with the same sequence and position.
    void session_save_info_and_export() {
        QTemporaryDir tmp;
        const QString file = tmp.filePath("class.statescope");
        Run r = cli({"session", "save", kBundled, "--tokens", "1,17,42,7,300,12", "--token", "4", "--layer", "1", "--head", "2",
                     "--bookmark", "flip", "--bookmark", "early:1:0:1", "--note", "flip=The state *flips* here.", "--out", file});
        QVERIFY2(r.exit_code == 0, qPrintable(r.err));
        r = cli({"session", "info", file});
        QVERIFY2(r.exit_code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains("tokens: 6") && r.out.contains("position: token 4, layer 1, head 2, window 32") &&
                     r.out.contains("flip: token 4, layer 1, head 2, state (notes)") &&
                     r.out.contains("early: token 1, layer 0, head 1, state"),
                 qPrintable(r.out));
        if (!QString(STATESCOPE_CLI_HAS_EXPORT).isEmpty()) {
            const QString from_session = tmp.filePath("a.csv"), direct = tmp.filePath("b.csv");
            r = cli({"export", file, "--bookmark", "early", "--view", "attention", "--out", from_session});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            r = cli({"export", kBundled, "--tokens", "1,17,42,7,300,12", "--token", "1", "--layer", "0", "--head", "1",
                     "--view", "attention", "--out", direct});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            QFile a(from_session), b(direct);
            QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
            const QByteArray da = a.readAll(), db = b.readAll();
            QVERIFY(da.size() > 50);
            QCOMPARE(da, db);
            r = cli({"export", file, "--bookmark", "none", "--out", from_session});
            QCOMPARE(r.exit_code, 1);
            QVERIFY2(r.err.contains("has no bookmark named 'none'"), qPrintable(r.err));
        }
        // Refusals name what is wrong.
        r = cli({"session", "save", kBundled, "--tokens", "1,2", "--bookmark", "x:9", "--out", tmp.filePath("c.statescope")});
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("--bookmark x: token 9 is outside the sequence (2 tokens)"), qPrintable(r.err));
        QVERIFY(!QFile::exists(tmp.filePath("c.statescope")));
        r = cli({"session", "info", kBundled + "/config.json"});
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("config.json") && r.err.contains("not an SQLite database"), qPrintable(r.err));
        r = cli({"session", "frobnicate"});
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("'frobnicate' is not info or save"), qPrintable(r.err));
    }

    // A session whose checkpoint changed since it was saved is recognised, not silently rendered.
    void session_export_notices_a_changed_checkpoint() {
        if (QString(STATESCOPE_CLI_HAS_EXPORT).isEmpty()) QSKIP("statescope-cli was built without the views (no export)");
        QTemporaryDir tmp;
        const QString model = tmp.filePath("model");
        QDir().mkpath(model);
        QVERIFY(QFile::copy(kBundled + "/config.json", model + "/config.json"));
        QVERIFY(QFile::copy(kBundled + "/model.safetensors", model + "/model.safetensors"));
        const QString file = tmp.filePath("s.statescope");
        Run r = cli({"session", "save", model, "--tokens", "1,2,3", "--bookmark", "b", "--out", file});
        QVERIFY2(r.exit_code == 0, qPrintable(r.err));
        QFile config(model + "/config.json");
        QVERIFY(config.open(QIODevice::Append));
        config.write("\n");
        config.close();
        r = cli({"export", file, "--bookmark", "b", "--out", tmp.filePath("x.csv")});
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.contains("has changed since the session was saved"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
