// statescope-cli export end to end: the command runs without a display, every format parses and
// names model, layer, head and token, the numbers are the engine's, and bad arguments are refused
// with a message naming the argument and nothing written.
#include "statescope/analysis/array_io.h"
#include "statescope/analysis/attention_map.h"
#include "statescope/analysis/spectrum.h"
#include "statescope/analysis/state_stats.h"
#include "statescope/frames/token_input.h"
#include "statescope/model.h"
#include "reference_dir.h"
#include "statescope/timeline.h"

#include <QFile>
#include <QImage>
#include <QProcess>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>
#include <cmath>

using namespace statescope;

namespace {

const QString kBundled = QString(STATESCOPE_SOURCE_DIR) + "/assets/models/deltanet-negeig-tiny";
const QString kPrompt = "Export me, twice.";

struct Run {
    int exit_code = -1;
    QString out, err;
};

// Runs statescope-cli with no display at all: export must render offscreen by itself.
Run cli(const QStringList& args) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* v : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) env.remove(v);
    p.setProcessEnvironment(env);
    p.start(STATESCOPE_CLI, args);
    if (!p.waitForFinished(120000)) return {};
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

QByteArray read_all(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The CSV's numbers (comment and header lines skipped), row by row.
std::vector<float> csv_numbers(const QString& path, int* rows, QString* comment) {
    std::vector<float> v;
    *rows = 0;
    for (const QString& line : QString(read_all(path)).split('\n', Qt::SkipEmptyParts)) {
        if (line.startsWith('#')) {
            *comment = line;
            continue;
        }
        bool numeric = true;
        std::vector<float> row;
        for (const QString& cell : line.split(',')) {
            bool ok = false;
            row.push_back(cell.toFloat(&ok));
            numeric = numeric && ok;
        }
        if (!numeric) continue; // a header of column names
        v.insert(v.end(), row.begin(), row.end());
        ++*rows;
    }
    return v;
}

std::vector<int32_t> prompt_ids() { return frames::tokens_from_text(kPrompt.toStdString()).ids; } // the bundled model reads bytes

} // namespace

class TestAppExport : public QObject {
    Q_OBJECT
private slots:
    void every_format_parses_and_names_what_it_shows() {
        QTemporaryDir dir;
        const QString base = dir.path() + "/state";
        const QStringList common = {"export", kBundled, "--prompt", kPrompt, "--view", "state",
                                    "--layer", "1", "--head", "2", "--token", "5"};
        for (const char* ext : {".png", ".svg", ".pdf", ".csv", ".npy"}) {
            const Run r = cli(common + QStringList{"--out", base + ext});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            QVERIFY(r.out.contains("wrote"));
        }
        const QString described = "model=" + kBundled + "; layer=1; head=2; token=5";

        const QImage png(base + ".png");
        QVERIFY(!png.isNull());
        QCOMPARE(png.size(), QSize(1120, 1040)); // the default 560x520 figure at twice its size
        QCOMPARE(png.text("Model"), kBundled);
        QCOMPARE(png.text("Layer"), QString("1"));
        QCOMPARE(png.text("Head"), QString("2"));
        QCOMPARE(png.text("Token"), QString("5"));
        QVERIFY(png.text("Description").contains(described));

        // SVG: well-formed XML whose <desc> says what it shows, and a drawing Qt can render.
        QXmlStreamReader xml(read_all(base + ".svg"));
        QString desc;
        while (!xml.atEnd())
            if (xml.readNext() == QXmlStreamReader::StartElement && xml.name() == QLatin1String("desc")) desc = xml.readElementText();
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QVERIFY2(desc.contains(described), qPrintable(desc));
        QVERIFY(QSvgRenderer(base + ".svg").isValid());

        const QByteArray pdf = read_all(base + ".pdf");
        QVERIFY(pdf.startsWith("%PDF-"));
        QVERIFY(pdf.trimmed().endsWith("%%EOF"));
        QVERIFY(pdf.contains("<dc:description>"));
        QVERIFY(pdf.contains(described.toUtf8()));

        // The numbers are the engine's state of layer 1, head 2 after token 5.
        auto model = load_model(kBundled.toStdString());
        Timeline tl(*model);
        tl.append(prompt_ids());
        const Tensor S = tl.layer_state(1, 6);
        const int K = int(S.shape[1]), V = int(S.shape[2]);
        const float* head2 = S.ptr() + size_t(2) * K * V;
        int rows = 0;
        QString comment;
        const std::vector<float> csv = csv_numbers(base + ".csv", &rows, &comment);
        QCOMPARE(rows, K);
        QCOMPARE(int(csv.size()), K * V);
        QVERIFY(relative_l2(csv.data(), head2, csv.size()) < 1e-6);
        QVERIFY2(comment.startsWith("# Statescope state") && comment.contains(described), qPrintable(comment));

        const analysis::Array npy = analysis::read_npy((base + ".npy").toStdString());
        QCOMPARE(npy.shape, (std::vector<int64_t>{K, V}));
        QVERIFY(relative_l2(npy.values.data(), head2, npy.values.size()) < 1e-6);
        const QString header = QString::fromStdString(analysis::read_npy_header((base + ".npy").toStdString()));
        QVERIFY(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (16, 16), }"));
        QVERIFY(header.contains("# Statescope state; " + described));
        QVERIFY(header.endsWith('\n'));
        QCOMPARE((header.size() + 10) % 64, 0); // the format's alignment
    }

    void the_other_views_export_the_engines_numbers() {
        QTemporaryDir dir;
        const std::vector<int32_t> ids = prompt_ids();
        auto model = load_model(kBundled.toStdString());
        Timeline tl(*model);
        tl.append(ids);
        const int token = 12, window = 8, head = 1;
        const QStringList common = {"export", kBundled, "--prompt", kPrompt, "--layer", "0", "--head", QString::number(head),
                                    "--token", QString::number(token), "--window", QString::number(window)};
        const LayerWindow w = tl.scan_window(0, token - window + 1, token);

        // Attention: the exact map over the window; attention-softmax: softmax of the same q . k.
        for (const char* view : {"attention", "attention-softmax"}) {
            const QString out = dir.path() + "/" + view + ".npy";
            const Run r = cli(common + QStringList{"--view", view, "--out", out});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            const analysis::Array a = analysis::read_npy(out.toStdString());
            const analysis::AttentionMap ref = QByteArray(view) == "attention" ? analysis::exact_attention(w.in, head)
                                                                               : analysis::softmax_attention(w.in, head);
            QCOMPARE(a.shape, (std::vector<int64_t>{ref.rows, ref.cols}));
            QCOMPARE(int(a.shape[0]), window);
            QVERIFY(relative_l2(a.values.data(), ref.weights.data(), ref.weights.size()) < 1e-6);
        }

        // Eigenvalues: rows (series, re, im, |z|); series 0 are A_t's.
        {
            const QString out = dir.path() + "/eigen.csv";
            const Run r = cli(common + QStringList{"--view", "eigen", "--out", out});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            int rows = 0;
            QString comment;
            const std::vector<float> v = csv_numbers(out, &rows, &comment);
            const auto ref = analysis::eigenvalues(analysis::transition(w.in, window - 1, head));
            std::vector<double> shown, expected;
            for (int i = 0; i < rows; ++i)
                if (v[size_t(i) * 4] == 0) shown.push_back(v[size_t(i) * 4 + 1]);
            for (auto e : ref) expected.push_back(e.real());
            QCOMPARE(shown.size(), expected.size());
            std::sort(shown.begin(), shown.end());
            std::sort(expected.begin(), expected.end());
            for (size_t i = 0; i < shown.size(); ++i) QVERIFY(std::abs(shown[i] - expected[i]) < 1e-5);
            QVERIFY(comment.contains("layer=0; head=1; token=12; window=8"));
        }

        // Curves: one row per token, the focused head's state norm after each token.
        {
            const QString out = dir.path() + "/curves.csv";
            const Run r = cli(common + QStringList{"--view", "curves", "--out", out});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            int rows = 0;
            QString comment;
            const std::vector<float> v = csv_numbers(out, &rows, &comment);
            QCOMPARE(rows, int(ids.size()));
            const int cols = int(v.size()) / rows;
            const LayerInfo& L = model->info().layers[0];
            for (int t : {0, token, int(ids.size()) - 1}) {
                QCOMPARE(v[size_t(t) * cols], float(t)); // the CSV's first column is the token
                const Tensor S = tl.layer_state(0, t + 1);
                const size_t n = size_t(L.key_dim) * L.value_dim;
                const double norm = analysis::frobenius_norm(S.ptr() + head * n, n);
                QVERIFY(std::abs(v[size_t(t) * cols + 1 + head] - norm) < 1e-5 * std::max(1.0, norm));
            }
        }

        // The colour scale can be chosen, and the plot says which (SVG keeps its text as text).
        {
            const QString out = dir.path() + "/attention.svg";
            const Run r = cli(common + QStringList{"--view", "attention", "--scale", "symlog", "--out", out});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            QVERIFY(read_all(out).contains("colour: symmetric log"));
            const Run f = cli(common + QStringList{"--view", "state", "--scale", "fixed:0.125", "--out", out});
            QVERIFY2(f.exit_code == 0, qPrintable(f.err));
            QVERIFY(read_all(out).contains("colour: fixed, ±0.125"));
        }

        // Pictures of every view load.
        for (const char* view : {"attention", "eigen", "curves", "overview"}) {
            const QString out = dir.path() + "/" + view + ".png";
            const Run r = cli(common + QStringList{"--view", view, "--out", out, "--size", "640x480"});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            QCOMPARE(QImage(out).size(), QSize(1280, 960));
        }
    }

    void softmax_layers_export_their_entropy_curves() {
        const QString llama = QString::fromStdString(testsupport::reference_dir()) + "/models/llama";
        QTemporaryDir dir;
        const QString out = dir.path() + "/curves.csv";
        const QStringList common = {"export", llama, "--tokens", "5,9,300,12,7,7,41,8,200,3,90,11", "--layer", "1", "--head", "3"};
        const Run r = cli(common + QStringList{"--view", "curves", "--out", out});
        QVERIFY2(r.exit_code == 0, qPrintable(r.err));
        int rows = 0;
        QString comment;
        const std::vector<float> v = csv_numbers(out, &rows, &comment);
        QCOMPARE(rows, 12);
        QCOMPARE(int(v.size()), 36); // token, whole-row and windowed entropy
        QCOMPARE(v[1], 0.0f);
        for (int t = 0; t < rows; ++t) {
            QCOMPARE(v[size_t(t) * 3], float(t));
            QVERIFY(v[size_t(t) * 3 + 1] >= 0 && v[size_t(t) * 3 + 1] <= std::log(t + 1.0) + 1e-6);
        }
        const Run eigen = cli(common + QStringList{"--view", "eigen", "--out", dir.path() + "/e.png"});
        QCOMPARE(eigen.exit_code, 1);
        QVERIFY2(eigen.err.contains("layer 1 is softmax attention"), qPrintable(eigen.err));
    }

    void bad_arguments_are_refused_by_name() {
        QTemporaryDir dir;
        const QString out = dir.path() + "/x.png";
        const QStringList base = {"export", kBundled, "--tokens", "1,2,3"};
        struct Case {
            QStringList args;
            const char* says;
        };
        const std::vector<Case> cases = {
            {{"--view", "state", "--layer", "2", "--out", out}, "layer 2 does not exist"},
            {{"--view", "state", "--head", "4", "--out", out}, "head 4 does not exist in layer 0"},
            {{"--view", "state", "--token", "3", "--out", out}, "token 3 is outside the sequence"},
            {{"--view", "spectrum", "--out", out}, "'spectrum' is not one of state, attention"},
            {{"--view", "state", "--out", dir.path() + "/x.bmp"}, "unknown format '.bmp'"},
            {{"--view", "state", "--out", dir.path() + "/x"}, "no suffix"},
            {{"--view", "state"}, "needs --out"},
            {{"--view", "state", "--layer", "one", "--out", out}, "--layer: 'one'"},
            {{"--view", "state", "--out", dir.path() + "/no/such/folder/x.png"}, "could not write"},
        };
        for (const Case& c : cases) {
            const Run r = cli(base + c.args);
            QCOMPARE(r.exit_code, 1);
            QVERIFY2(r.err.contains(c.says), qPrintable(c.args.join(' ') + " -> " + r.err));
        }
        const Run scale = cli(base + QStringList{"--view", "eigen", "--scale", "symlog", "--out", out});
        QCOMPARE(scale.exit_code, 1);
        QVERIFY(scale.err.contains("the eigen view has no colour scale"));
        const Run both = cli({"export", kBundled, "--tokens", "1", "--prompt", "a", "--view", "state", "--out", out});
        QCOMPARE(both.exit_code, 1);
        QVERIFY2(both.err.contains("--tokens IDS, --prompt TEXT or --task-seed S (one of them)"), qPrintable(both.err));
        QVERIFY(!QFileInfo::exists(out));
    }

    // The teaching views export from the command line too: on a task sample of the trained MQAR
    // DeltaNet, the prediction's numbers are the softmax of the engine's logits with the target
    // ranked, and the attention row is the exact map's row of the query.
    void prediction_and_attention_row_export() {
        const QString mqar = QString(STATESCOPE_SOURCE_DIR) + "/assets/models/mqar-deltanet";
        QTemporaryDir dir;
        const int token = 18; // a query key: its value is the target
        const QStringList common = {"export", mqar, "--task-seed", "1", "--token", QString::number(token), "--layer", "0", "--head", "1"};
        auto model = load_model(mqar.toStdString());
        const frames::TokenInput input = frames::tokens_from_task(mqar.toStdString(), 1);
        SequenceState st = model->initial_state();
        const Tensor logits = model->forward(input.ids, st).logits;
        const int64_t vocab = logits.shape[1];
        const float* row = logits.ptr() + size_t(token) * vocab;
        double z = 0, mx = -INFINITY;
        for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, double(row[i]));
        for (int64_t i = 0; i < vocab; ++i) z += std::exp(row[i] - mx);
        {
            const QString out = dir.path() + "/prediction.csv";
            const Run r = cli(common + QStringList{"--view", "prediction", "--out", out});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            int rows = 0;
            QString comment;
            const std::vector<float> v = csv_numbers(out, &rows, &comment);
            QCOMPARE(rows, 10); // the top 10; the target is among them
            QVERIFY2(comment.contains("layer=0; head=1; token=18"), qPrintable(comment));
            for (int i = 0; i < rows; ++i) {
                const float* r5 = &v[size_t(i) * 5];
                QCOMPARE(r5[0], float(token));
                QCOMPARE(r5[1], float(i + 1));
                const int id = int(r5[2]);
                QVERIFY(std::abs(r5[3] - std::exp(row[id] - mx) / z) < 1e-5);
                QCOMPARE(r5[4], row[id]);
                if (i > 0) QVERIFY(r5[3] <= v[size_t(i - 1) * 5 + 3]);
            }
            QCOMPARE(int(v[2]), input.targets[size_t(token)]); // recalled: the target is first
            for (const char* ext : {".png", ".svg", ".pdf", ".npy"}) {
                const Run p = cli(common + QStringList{"--view", "prediction", "--out", dir.path() + "/prediction" + ext});
                QVERIFY2(p.exit_code == 0, qPrintable(p.err));
            }
            QVERIFY(read_all(dir.path() + "/prediction.svg").contains("task target"));
            // prediction-curve: one row per token (token, predicted, its p, expected, its p).
            const QString curve = dir.path() + "/curve.csv";
            const Run c = cli(common + QStringList{"--view", "prediction-curve", "--out", curve});
            QVERIFY2(c.exit_code == 0, qPrintable(c.err));
            int curve_rows = 0;
            const std::vector<float> cv = csv_numbers(curve, &curve_rows, &comment);
            QCOMPARE(curve_rows, int(input.ids.size()));
            for (int t = 0; t < curve_rows; ++t) QCOMPARE(cv[size_t(t) * 5], float(t));
            QCOMPARE(int(cv[size_t(token) * 5 + 3]), input.targets[size_t(token)]);
            QVERIFY(std::abs(cv[size_t(token) * 5 + 4] - v[3]) < 1e-5); // the target's p, as in the top-k rows
        }
        {
            const QString out = dir.path() + "/attention-row.csv";
            const Run r = cli(common + QStringList{"--view", "attention-row", "--out", out});
            QVERIFY2(r.exit_code == 0, qPrintable(r.err));
            int rows = 0;
            QString comment;
            const std::vector<float> v = csv_numbers(out, &rows, &comment);
            QCOMPARE(rows, token + 1); // keys 0..18 of the 32-token window
            Timeline tl(*model);
            tl.append(input.ids);
            const LayerWindow w = tl.scan_window(0, 0, token);
            const analysis::AttentionMap exact = analysis::exact_attention(w.in, 1);
            for (int c = 0; c < rows; ++c) {
                QCOMPARE(v[size_t(c) * 5], float(token));
                QCOMPARE(v[size_t(c) * 5 + 1], float(c));
                QVERIFY(std::abs(v[size_t(c) * 5 + 3] - exact.weights[size_t(token) * exact.cols + c]) < 1e-6);
            }
            const Run png = cli(common + QStringList{"--view", "attention-row", "--out", dir.path() + "/row.png", "--size", "640x300"});
            QVERIFY2(png.exit_code == 0, qPrintable(png.err));
            QCOMPARE(QImage(dir.path() + "/row.png").size(), QSize(1280, 600));
            // The picture names the keys by their text (the model's tokenizer): k56 is the query.
            const Run svg = cli(common + QStringList{"--view", "attention-row", "--out", dir.path() + "/row.svg"});
            QVERIFY2(svg.exit_code == 0, qPrintable(svg.err));
            QVERIFY(read_all(dir.path() + "/row.svg").contains("k56"));
        }
    }
};

QTEST_MAIN(TestAppExport)
#include "test_app_export.moc"
