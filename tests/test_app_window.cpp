// The desktop app end to end, on a real display (CTest runs this under xvfb-run): open a model,
// move through the sequence by keys, controller and transport, check that what the views show is
// the engine's state, that pictures change when the state does, that stale results are dropped,
// that load errors reach the window, and that every export format parses.
#include "statescope/analysis/array_io.h"
#include "statescope/analysis/attention_map.h"
#include "app_test_wait.h"
#include "app/gui/command_line.h"
#include "app/gui/controller.h"
#include "statescope/error.h"
#include "statescope/safetensors.h"
#include "app/gui/main_window.h"
#include "app/gui/transport_bar.h"
#include "statescope/model.h"
#include "statescope/sampling.h"
#include "reference_dir.h"
#include "statescope/task.h"
#include "statescope/timeline.h"
#include "views/attention_row_view.h"
#include "views/colormap.h"
#include "views/curves_view.h"
#include "views/eigen_view.h"
#include "views/glossary.h"
#include "views/panel.h"
#include "views/heatmap_view.h"
#include "views/overview_grid.h"
#include "views/plot_style.h"
#include "views/prediction_view.h"
#include "views/scale_control.h"
#include "views/token_strip.h"
#include "views/trajectory_view.h"

#include <QApplication>
#include <QMimeData>
#include <QSettings>
#include <QProcess>
#include <QAbstractButton>
#include <QAction>
#include <QDialog>
#include <QTextBrowser>
#include <QToolButton>
#include <QMessageBox>
#include <QSpinBox>
#include <QDoubleSpinBox>
#include <QProgressBar>
#include <QSignalSpy>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

using namespace statescope;

namespace {

QString model_dir(const char* name) { return QString::fromStdString(testsupport::reference_dir() + "/models/" + name); }

frames::TokenInput some_tokens(int n) {
    std::string ids;
    for (int i = 0; i < n; ++i) ids += std::to_string((i * 37 + 11) % 500) + ",";
    return frames::tokens_from_ids(ids);
}

// Waits until the controller has a model and the latest frame and sequence results.
bool settle(app::MainWindow& w, int timeout_ms = 60000) {
    const app::Controller& c = w.controller();
    return testsupport::wait_until([&] { return c.has_model() && !c.busy() && c.frame() && c.sequence(); }, timeout_ms, 30);
}

// Shows the window, sets the tokens, opens the model and waits for its first frame.
bool show_and_open(app::MainWindow& w, const frames::TokenInput& tokens, const QString& model) {
    w.show();
    w.set_token_input(tokens);
    w.open_model(model);
    return settle(w);
}

QImage picture(QWidget* w) { return w->grab().toImage().convertToFormat(QImage::Format_RGB32); }

int differing_pixels(const QImage& a, const QImage& b) {
    if (a.size() != b.size()) return a.width() * a.height();
    int n = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x) n += a.pixel(x, y) != b.pixel(x, y);
    return n;
}

// Pixels of the eigenvalue view's token colour (33, 102, 172) within `radius` of where the
// complex number z is drawn, with the view rendered at a fixed size as exports render it. A
// filled eigenvalue dot covers most of the box; a line through it (the dashed spectral-radius
// circle, drawn in the same colour) only a few pixels.
int token_colour_near(views::EigenView& v, std::complex<double> z, int radius = 3) {
    // Large enough for the biggest dots (radius 4.5 px): a dot then covers the whole box.
    const QRectF area(0, 0, 800, 720);
    QImage img(800, 720, QImage::Format_RGB32);
    {
        QPainter p(&img);
        p.setRenderHint(QPainter::Antialiasing);
        v.render_figure(p, area, true);
    }
    const QPoint c = v.position_of(z, area).toPoint();
    int n = 0;
    for (int dy = -radius; dy <= radius; ++dy)
        for (int dx = -radius; dx <= radius; ++dx) {
            const QRgb p = img.pixel(c.x() + dx, c.y() + dy);
            n += qBlue(p) > 140 && qRed(p) < 80;
        }
    return n;
}
constexpr int kDotPixels = 30; // of the 49 in a radius-3 box

// A DeltaNet checkpoint built by hand, whose every number is known: one layer, one head,
// K = V = hidden = 4, no short convolution, identity q/k activation, beta = 2 sigmoid(b) with
// negative eigenvalues allowed. Token ids 0..3 embed as e_i: the k projection (identity) and the
// l2 norm make k = e_i, and b = 40 * sum(x) = 80 makes sigmoid(b) = 1 in float, so beta = 2 and
// A_t = I - 2 e_i e_i^T, a reflection: eigenvalues -1 (once) and 1. Ids 4..7 embed as
// e_j - e_(j+1): b = 0, beta = 1 and A_t = I - k k^T, a projection: eigenvalues 0 and 1.
// The values go through silu(W_v x) with a fixed W_v. The layer's state is then a short
// computation (hand_state) that does not use the engine.
constexpr int kHandDim = 4;
constexpr double kHandWv[4][4] = {{0.5, -1.0, 0.25, 2.0}, {1.5, 0.3, -0.7, 0.1}, {-0.2, 0.9, 1.1, -1.3}, {0.8, -0.4, 0.6, 0.05}};
constexpr double kHandB = 40.0, kNormEps = 1e-6;

std::vector<double> hand_embedding(int id) {
    std::vector<double> e(kHandDim, 0.0);
    if (id < kHandDim) {
        e[size_t(id)] = 1.0;
    } else {
        e[size_t(id - kHandDim)] = 1.0;
        e[size_t((id - kHandDim + 1) % kHandDim)] = -1.0;
    }
    return e;
}

bool write_hand_built_deltanet(const QString& dir) {
    const int D = kHandDim, vocab = 2 * kHandDim, inter = 8;
    auto identity = [&] {
        std::vector<float> m(size_t(D) * D, 0.0f);
        for (int i = 0; i < D; ++i) m[size_t(i) * D + i] = 1.0f;
        return m;
    };
    const std::vector<float> ones(size_t(D), 1.0f);
    std::vector<float> embed, wv, small(size_t(inter) * D), lm(size_t(vocab) * D);
    for (int id = 0; id < vocab; ++id)
        for (double x : hand_embedding(id)) embed.push_back(float(x));
    for (const auto& row : kHandWv)
        for (double x : row) wv.push_back(float(x));
    // Weights after the layer's mixer (MLP, head) do not reach its state; any values do.
    for (size_t i = 0; i < small.size(); ++i) small[i] = 0.01f * float(int(i % 7) - 3);
    for (size_t i = 0; i < lm.size(); ++i) lm[i] = 0.1f * float(int(i % 5) - 2);
    std::vector<float> down(size_t(D) * inter);
    for (size_t i = 0; i < down.size(); ++i) down[i] = 0.02f * float(int(i % 3) - 1);
    const std::string p = "model.layers.0.";
    std::vector<OutputTensor> t = {
        {"model.embeddings.weight", {vocab, D}, embed, {}},
        {p + "attn_norm.weight", {D}, ones, {}},
        {p + "attn.q_proj.weight", {D, D}, identity(), {}},
        {p + "attn.k_proj.weight", {D, D}, identity(), {}},
        {p + "attn.v_proj.weight", {D, D}, wv, {}},
        {p + "attn.b_proj.weight", {1, D}, std::vector<float>(size_t(D), float(kHandB)), {}},
        {p + "attn.o_norm.weight", {D}, ones, {}},
        {p + "attn.o_proj.weight", {D, D}, identity(), {}},
        {p + "mlp_norm.weight", {D}, ones, {}},
        {p + "mlp.gate_proj.weight", {inter, D}, small, {}},
        {p + "mlp.up_proj.weight", {inter, D}, small, {}},
        {p + "mlp.down_proj.weight", {D, inter}, down, {}},
        {"model.norm.weight", {D}, ones, {}},
        {"lm_head.weight", {vocab, D}, lm, {}},
    };
    write_safetensors((dir + "/model.safetensors").toStdString(), t);
    QFile cfg(dir + "/config.json");
    if (!cfg.open(QIODevice::WriteOnly)) return false;
    cfg.write(R"({"model_type": "delta_net", "hidden_size": 4, "num_hidden_layers": 1, "num_heads": 1,
                  "vocab_size": 8, "expand_k": 1.0, "expand_v": 1.0, "use_short_conv": false,
                  "qk_activation": "identity", "qk_norm": "l2", "use_beta": true, "allow_neg_eigval": true,
                  "use_gate": false, "norm_eps": 1e-6, "intermediate_size": 8, "tie_word_embeddings": false,
                  "attn": null})");
    return true;
}

// The state S (K x V, row-major) after the first `count` tokens, by the delta rule written out:
// x = rmsnorm(e), k = x / |x| (l2 norm, eps 1e-6), v = silu(W_v x), beta = 2 sigmoid(40 sum x),
// S <- S - beta k (k^T S) + beta k v^T.
std::vector<double> hand_state(const std::vector<int32_t>& ids, size_t count) {
    const int D = kHandDim;
    std::vector<double> S(size_t(D) * D, 0.0);
    for (size_t t = 0; t < count; ++t) {
        std::vector<double> x = hand_embedding(ids[t]);
        double ss = 0;
        for (double a : x) ss += a * a;
        const double rms = 1.0 / std::sqrt(ss / D + kNormEps);
        for (double& a : x) a *= rms;
        double kk = 0, sum = 0;
        for (double a : x) kk += a * a, sum += a;
        std::vector<double> k = x, v(static_cast<size_t>(D));
        for (double& a : k) a /= std::sqrt(kk + kNormEps);
        for (int i = 0; i < D; ++i) {
            double z = 0;
            for (int j = 0; j < D; ++j) z += kHandWv[i][j] * x[size_t(j)];
            v[size_t(i)] = z / (1.0 + std::exp(-z));
        }
        const double beta = 2.0 / (1.0 + std::exp(-kHandB * sum));
        for (int c = 0; c < D; ++c) {
            double kS = 0;
            for (int r = 0; r < D; ++r) kS += k[size_t(r)] * S[size_t(r) * D + c];
            for (int r = 0; r < D; ++r) S[size_t(r) * D + c] += beta * k[size_t(r)] * (v[size_t(c)] - kS);
        }
    }
    return S;
}

} // namespace

class TestAppWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true); // keep "recent models" out of the user's settings
        QCoreApplication::setOrganizationName("StatescopeTest");
    }

    void opens_a_model_and_shows_the_engines_state() {
        app::MainWindow w;
        w.resize(1400, 900);
        QVERIFY(show_and_open(w, some_tokens(40), model_dir("gla")));
        app::Controller& c = w.controller();
        QCOMPARE(c.length(), 40);
        QCOMPARE(c.token(), 39); // opens at the last token
        QVERIFY(w.error_text().isEmpty());
        qInfo("frame %.1f ms, sequence %.1f ms", c.frame()->compute_ms, c.sequence()->compute_ms);
        QCOMPARE(w.token_strip()->count(), 40);
        QCOMPARE(w.token_strip()->current(), 39);

        // The state shown is the engine's state after token 39, layer 0, head 0.
        auto model = load_model(model_dir("gla").toStdString());
        Timeline tl(*model);
        tl.append(w.token_input().ids);
        const Tensor S = tl.layer_state(0, 40);
        const LayerInfo& L = model->info().layers[0];
        const frames::Matrix& shown = w.state_view()->matrix();
        QCOMPARE(shown.rows, L.key_dim);
        QCOMPARE(shown.cols, L.value_dim);
        QVERIFY(relative_l2(shown.values.data(), S.ptr(), shown.values.size()) < 1e-6);

        // Every view got data: attention window of 32 tokens, eigenvalues, curves, trajectory.
        QCOMPARE(w.exact_attention_view()->matrix().rows, 32);
        QCOMPARE(w.softmax_attention_view()->matrix().cols, 32);
        QCOMPARE(int(w.eigen_view()->data().token.size()), L.key_dim);
        QCOMPARE(int(w.curves_view()->data().effective_rank.size()), 40);
        QCOMPARE(int(w.curves_view()->data().norms.size()), L.heads);
        QCOMPARE(int(w.trajectory_view()->data().tokens.size()), 40);
        QCOMPARE(int(w.overview()->data().cells.size()), model->info().num_layers);
        // GLA's transition is diagonal with entries exp(gk) in (0, 1).
        for (auto e : w.eigen_view()->data().token) {
            QVERIFY(std::abs(e.imag()) < 1e-12);
            QVERIFY(e.real() > 0 && e.real() < 1);
        }
    }

    void steps_and_jumps_by_keys_and_controls() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(30), model_dir("gla")));
        app::Controller& c = w.controller();
        // Without a window manager (Xvfb) nothing activates the window; shortcuts need it active.
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        QWindow* win = w.windowHandle();
        QTest::keyClick(win, Qt::Key_Home);
        QVERIFY(settle(w));
        QCOMPARE(c.token(), 0);
        QCOMPARE(c.frame()->token, 0);
        QTest::keyClick(win, Qt::Key_Right);
        QTest::keyClick(win, Qt::Key_Right);
        QVERIFY(settle(w));
        QCOMPARE(c.frame()->token, 2);
        QTest::keyClick(win, Qt::Key_Left);
        QVERIFY(settle(w));
        QCOMPARE(c.frame()->token, 1);
        QTest::keyClick(win, Qt::Key_End);
        QVERIFY(settle(w));
        QCOMPARE(c.frame()->token, 29);
        QCOMPARE(w.token_strip()->current(), 29);
        // Transport requests and clamping at the ends.
        emit w.transport()->token_requested(12);
        QVERIFY(settle(w));
        QCOMPARE(c.frame()->token, 12);
        c.step(+100);
        QVERIFY(settle(w));
        QCOMPARE(c.token(), 29);
        // Space plays: the position advances by itself, and stops at the end.
        c.set_token(20);
        QTest::keyClick(win, Qt::Key_Space);
        QVERIFY(w.transport()->playing());
        QTRY_VERIFY_WITH_TIMEOUT(c.token() == 29 && !w.transport()->playing(), 20000);
        // Focus: layer 1, head 2 reaches every view.
        c.set_focus(1, 2);
        QVERIFY(settle(w));
        QCOMPARE(c.frame()->layer, 1);
        QCOMPARE(c.frame()->head, 2);
        QCOMPARE(c.sequence()->head, 2);
        QCOMPARE(w.curves_view()->data().focused_head, 2);
    }

    void state_picture_changes_with_the_state() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(20), model_dir("gla")));
        app::Controller& c = w.controller();
        c.set_token(5);
        QVERIFY(settle(w));
        const QImage a = picture(w.state_view());
        qInfo("frame %.1f ms", c.frame()->compute_ms);
        const frames::Matrix ma = w.state_view()->matrix();
        c.set_token(6);
        QVERIFY(settle(w));
        const QImage b = picture(w.state_view());
        QVERIFY(relative_l2(ma.values.data(), w.state_view()->matrix().values.data(), ma.values.size()) > 1e-3);
        QVERIFY2(differing_pixels(a, b) > 200, "the state changed but its picture did not");
        // Back to token 5: the same picture again (nothing depends on the path taken).
        c.set_token(5);
        QVERIFY(settle(w));
        qInfo("frame %.1f ms", c.frame()->compute_ms);
        const QImage a2 = picture(w.state_view());
        QCOMPARE(a2.size(), a.size());
        QCOMPARE(differing_pixels(a, a2), 0);
        // The attention maps and the trajectory marker move too.
        const QImage att5 = picture(w.exact_attention_view());
        c.set_token(12);
        QVERIFY(settle(w));
        QVERIFY(differing_pixels(att5, picture(w.exact_attention_view())) > 100);
    }

    void the_vtk_view_renders_the_trajectory() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(25), model_dir("gla")));
        const QImage img = w.trajectory_view()->grabFramebuffer().convertToFormat(QImage::Format_RGB32);
        QVERIFY(!img.isNull());
        // Something other than the white background: the path, the axes, the caption.
        int coloured = 0;
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x) {
                const QRgb p = img.pixel(x, y);
                coloured += std::abs(qRed(p) - qBlue(p)) > 40; // viridis path and orange marker
            }
        QVERIFY2(coloured > 100, qPrintable(QString("%1 coloured pixels").arg(coloured)));
    }

    void stale_results_are_dropped() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(60), model_dir("gla")));
        app::Controller& c = w.controller();
        // A burst of requests without returning to the event loop: only the last one may show.
        for (int t = 0; t < 60; t += 3) c.set_token(t);
        c.set_focus(1, 3);
        c.set_token(17);
        QVERIFY(settle(w));
        QCOMPARE(c.frame()->token, 17);
        QCOMPARE(c.frame()->layer, 1);
        QCOMPARE(c.frame()->head, 3);
        auto model = load_model(model_dir("gla").toStdString());
        Timeline tl(*model);
        tl.append(w.token_input().ids);
        const Tensor S = tl.layer_state(1, 18);
        const auto& L = model->info().layers[1];
        const float* head3 = S.ptr() + size_t(3) * L.key_dim * L.value_dim;
        QVERIFY(relative_l2(c.frame()->state.values.data(), head3, size_t(L.key_dim) * L.value_dim) < 1e-6);
    }

    void stepping_forward_gives_the_same_numbers_as_a_fresh_window() {
        // The worker extends its last window when the position moves forward and reuses it when
        // only the head changes; what it shows must equal a window computed from scratch.
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(50), model_dir("gated_deltaproduct")));
        app::Controller& c = w.controller();
        c.set_window(8);
        c.set_token(20);
        QVERIFY(settle(w));
        auto model = load_model(model_dir("gated_deltaproduct").toStdString());
        Timeline tl(*model);
        tl.append(w.token_input().ids);
        for (int step = 0; step < 12; ++step) {
            if (step == 6) c.set_focus(c.layer(), 1); // head change mid-way
            else c.step(step % 3 == 2 ? 3 : 1);       // steps of one and jumps inside the window
            QVERIFY(settle(w));
            const auto& f = *c.frame();
            const LayerWindow fresh = tl.scan_window(f.layer, f.window_first, f.token);
            const analysis::AttentionMap ref = analysis::exact_attention(fresh.in, f.head);
            QCOMPARE(f.exact.rows, ref.rows);
            QCOMPARE(f.exact.cols, ref.cols);
            QVERIFY(relative_l2(f.exact.values.data(), ref.weights.data(), ref.weights.size()) < 1e-6);
            const Tensor S = tl.layer_state(f.layer, f.token + 1);
            const size_t n = f.state.values.size();
            QVERIFY(relative_l2(f.state.values.data(), S.ptr() + size_t(f.head) * n, n) < 1e-6);
        }
    }

    void continuing_appends_the_models_own_tokens() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(20), model_dir("gla")));
        app::Controller& c = w.controller();
        c.continue_from(9, 6); // keep tokens 0..9, generate 6
        QVERIFY(settle(w));
        QCOMPARE(c.length(), 16);
        QCOMPARE(c.token(), 15);
        const std::vector<int32_t> shown = c.model()->tokens;
        QCOMPARE(std::vector<int32_t>(shown.begin(), shown.begin() + 10),
                 std::vector<int32_t>(w.token_input().ids.begin(), w.token_input().ids.begin() + 10));
        // Greedy: each generated token is the argmax of the logits one position earlier.
        auto model = load_model(model_dir("gla").toStdString());
        SequenceState st = model->initial_state();
        const Tensor logits = model->forward(shown, st).logits;
        const int V = model->info().vocab_size;
        for (int p = 10; p < 16; ++p)
            QCOMPARE(shown[size_t(p)], argmax(std::span<const float>(logits.ptr() + size_t(p - 1) * V, size_t(V))));
        QCOMPARE(int64_t(w.token_strip()->count()), c.length());
        QCOMPARE(c.frame()->token, 15);
    }

    void generation_is_live_and_can_be_stopped() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(12), model_dir("gla")));
        app::Controller& c = w.controller();
        // Tokens arrive one by one: the sequence grows through every length on the way.
        std::vector<int64_t> lengths;
        auto conn = connect(&c, &app::Controller::model_loaded, this, [&] { lengths.push_back(c.length()); });
        SamplingOptions sampled{0.8f, 40, 0.95f, 123};
        c.continue_from(11, 5, sampled);
        QVERIFY(settle(w));
        QCOMPARE(lengths, (std::vector<int64_t>{13, 14, 15, 16, 17}));
        QVERIFY(!c.generating());
        const std::vector<int32_t> first = c.model()->tokens;
        // Same seed, same continuation.
        c.continue_from(11, 5, sampled);
        QVERIFY(settle(w));
        QCOMPARE(c.model()->tokens, first);
        // Stop: a long generation ends when asked, short of its 4000 tokens (how many tokens that
        // is depends on how far the engine got before the window saw the first one).
        lengths.clear();
        c.continue_from(11, 4000);
        QTRY_VERIFY_WITH_TIMEOUT(!lengths.empty(), 30000);
        c.stop_generation();
        QVERIFY(settle(w));
        QVERIFY2(c.length() < 12 + 4000, qPrintable(QString::number(c.length())));
        QCOMPARE(int64_t(c.model()->tokens.size()), c.length());
        QVERIFY(!c.generating());
        disconnect(conn);
    }

    void load_errors_are_shown_and_the_model_stays() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(10), model_dir("gla")));
        QTemporaryDir dir;
        w.open_model(dir.path() + "/no-such-model");
        QTRY_VERIFY_WITH_TIMEOUT(!w.error_text().isEmpty(), 20000);
        QVERIFY2(w.error_text().contains("no-such-model"), qPrintable(w.error_text()));
        QVERIFY(w.controller().has_model());
        QVERIFY(settle(w));
        QVERIFY(QString::fromStdString(w.controller().model()->path).endsWith("gla"));
        // A broken config.json: the message names the file.
        QFile cfg(dir.path() + "/config.json");
        QVERIFY(cfg.open(QIODevice::WriteOnly));
        cfg.write("{\"model_type\": \"gla\", \"hidden_size\": ");
        cfg.close();
        w.open_model(dir.path() + "/config.json");
        QTRY_VERIFY_WITH_TIMEOUT(w.error_text().contains("config.json"), 20000);
        // Token ids outside the vocabulary are a load error too.
        w.set_token_input(frames::tokens_from_ids("1,2,999999"));
        w.open_model(model_dir("gla"));
        QTRY_VERIFY_WITH_TIMEOUT(w.error_text().contains("999999"), 20000);
    }

    void loading_shows_progress_and_can_be_cancelled() {
        const QString bundled = QString(STATESCOPE_SOURCE_DIR) + "/assets/models/deltanet-negeig-tiny";
        app::MainWindow w;
        w.show();
        app::Controller& c = w.controller();
        struct Report {
            QString phase;
            int64_t done, total;
            bool bar_shown;
        };
        std::vector<Report> reports;
        std::function<void()> on_running; // what the test does when the model starts running
        connect(&c, &app::Controller::load_progress, this, [&](const QString& phase, int64_t done, int64_t total) {
            reports.push_back({phase, done, total, w.load_progress_bar()->isVisible()});
            if (phase == "running" && done > 0 && on_running) std::exchange(on_running, nullptr)();
        });
        auto check_monotone = [&](int64_t total, bool to_the_end) {
            std::vector<Report> running;
            for (const Report& r : reports)
                if (r.phase == "running") running.push_back(r);
            QVERIFY(!running.empty());
            for (size_t i = 0; i < running.size(); ++i) {
                QCOMPARE(running[i].total, total);
                QVERIFY(running[i].bar_shown);
                if (i) QVERIFY(running[i].done >= running[i - 1].done);
            }
            QCOMPARE(running.back().done == total, to_the_end);
        };

        // A load that runs to the end: opening, tokenizing, then tokens counted up to the total.
        const frames::TokenInput shown = some_tokens(2000);
        w.set_token_input(shown);
        w.open_model(bundled);
        QVERIFY(settle(w));
        QVERIFY(reports.size() >= 3);
        QCOMPARE(reports[0].phase, QString("opening"));
        QCOMPARE(reports[1].phase, QString("tokenizing"));
        check_monotone(2000, true);
        QVERIFY(!w.load_progress_bar()->isVisible());
        QVERIFY(!w.cancel_button()->isVisible());

        // The model shown is the engine's; checked again after every cancel below.
        auto model = load_model(bundled.toStdString());
        Timeline tl(*model);
        tl.append(shown.ids);
        auto still_usable = [&] {
            QCOMPARE(c.length(), 2000);
            QVERIFY(!c.loading());
            QVERIFY(w.error_text().isEmpty());
            c.set_token(1234);
            QVERIFY(settle(w));
            QCOMPARE(c.frame()->token, 1234);
            const Tensor S = tl.layer_state(0, 1235);
            const size_t n = c.frame()->state.values.size();
            QVERIFY(relative_l2(c.frame()->state.values.data(), S.ptr(), n) < 1e-6);
        };

        // Cancel (the status bar's button) while a long sequence runs: the load is dropped and
        // the previous model stays, usable at once.
        QSignalSpy cancelled(&c, &app::Controller::load_cancelled);
        const frames::TokenInput huge = some_tokens(400000); // minutes of work if it were not cancelled
        reports.clear();
        on_running = [&] {
            QVERIFY(w.cancel_button()->isVisible());
            QTest::mouseClick(w.cancel_button(), Qt::LeftButton);
        };
        w.set_token_input(huge);
        w.open_model(bundled);
        QVERIFY(cancelled.wait(60000));
        check_monotone(400000, false);
        still_usable();
        QVERIFY(!w.load_progress_bar()->isVisible());

        // An edited prompt for the open model (rerun after the common prefix) cancels the same
        // way, and leaves the sequence as it was.
        reports.clear();
        on_running = [&] { c.cancel(); };
        c.set_tokens(huge);
        QVERIFY(cancelled.wait(60000));
        QCOMPARE(c.model()->tokens, shown.ids);
        still_usable();

        // Cancelling the first load of an empty window leaves it empty and ready for the next.
        app::MainWindow empty;
        empty.show();
        app::Controller& e = empty.controller();
        QSignalSpy empty_cancelled(&e, &app::Controller::load_cancelled);
        connect(&e, &app::Controller::load_progress, this, [&](const QString& phase, int64_t done, int64_t) {
            if (phase == "running" && done > 0) e.cancel();
        });
        empty.set_token_input(huge);
        empty.open_model(bundled);
        QVERIFY(empty_cancelled.wait(60000));
        QVERIFY(!e.has_model());
        QVERIFY(!e.loading());
        QVERIFY(!e.busy());
        QVERIFY(empty.error_text().isEmpty());
        empty.set_token_input(some_tokens(20));
        empty.open_model(bundled);
        QVERIFY(settle(empty));
        QCOMPARE(e.length(), 20);
    }

    void text_is_tokenized_with_the_models_tokenizer() {
        // The gla reference model in a folder of its own, with a small character-level BPE
        // tokenizer.json beside it (one merge: "a b" -> "ab").
        QTemporaryDir dir;
        for (const char* f : {"config.json", "model.safetensors"})
            QVERIFY(QFile::copy(model_dir("gla") + "/" + f, dir.path() + "/" + f));
        QFile tj(dir.path() + "/tokenizer.json");
        QVERIFY(tj.open(QIODevice::WriteOnly));
        tj.write(R"({"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
                     "post_processor": null, "decoder": null,
                     "model": {"type": "BPE", "vocab": {" ": 0, "a": 1, "b": 2, "c": 3, "ab": 4}, "merges": ["a b"]}})");
        tj.close();
        app::MainWindow w;
        QVERIFY(show_and_open(w, frames::tokens_from_text("ab cab"), dir.path()));
        QVERIFY2(w.error_text().isEmpty(), qPrintable(w.error_text()));
        const auto& m = *w.controller().model();
        QCOMPARE(m.tokens, (std::vector<int32_t>{4, 0, 3, 4}));
        QCOMPARE(QString::fromStdString(m.labels[0]), QString("ab"));
        QCOMPARE(QString::fromStdString(m.labels[1]), QString("\u2423")); // a visible space
        QVERIFY(QString::fromStdString(m.tokens_from).contains("BPE"));
        // Without a tokenizer the same text runs byte by byte.
        w.open_model(model_dir("gla"));
        QVERIFY(settle(w));
        QCOMPARE(w.controller().model()->tokens, (std::vector<int32_t>{'a', 'b', ' ', 'c', 'a', 'b'}));
    }

    void heatmap_colours_follow_the_values() {
        // A hand-built matrix: the cell of +max is the map's top colour, -max its bottom, 0 white-ish.
        views::HeatmapView v("test");
        v.resize(300, 300);
        frames::Matrix m(2, 2, {2.0f, -2.0f, 0.0f, 1.0f});
        v.set_matrix(m);
        QCOMPARE(v.limit(), 2.0);
        const QImage img = picture(&v);
        auto colour_of_cell = [&](int r, int c) -> QRgb {
            // Find the cell's centre by scanning for the colour run: the cells area is a square
            // left of the colour bar; sample its quarters.
            QRect cells;
            for (int y = 0; y < img.height() && cells.isNull(); ++y)
                for (int x = 0; x < img.width(); ++x)
                    if (img.pixel(x, y) == views::Colormap::diverging().rgb(1.0)) {
                        cells = QRect(x, y, 1, 1);
                        break;
                    }
            const int side = [&] {
                int x = cells.x();
                while (x < img.width() && img.pixel(x, cells.y() + 2) == views::Colormap::diverging().rgb(1.0)) ++x;
                return x - cells.x();
            }();
            return img.pixel(cells.x() + c * side + side / 2, cells.y() + r * side + side / 2);
        };
        QCOMPARE(colour_of_cell(0, 1), views::Colormap::diverging().rgb(-1.0));
        QCOMPARE(colour_of_cell(1, 0), views::Colormap::diverging().rgb(0.0));
        QCOMPARE(colour_of_cell(1, 1), views::Colormap::diverging().rgb(0.5));
        // Symlog lifts small values: 0.02 of the max maps well above 0.02.
        views::ColorScale s{views::ScaleMode::SymLog, 1.0};
        QVERIFY(s.normalize(0.02, true) > 0.2);
        QVERIFY(std::abs(s.value_at(s.normalize(0.3, true), true) - 0.3) < 1e-12);
        // Fixed mode keeps the limit when the data change.
        v.set_scale_mode(views::ScaleMode::Fixed);
        v.set_matrix(frames::Matrix(1, 1, {10.0f}));
        QCOMPARE(v.limit(), 2.0);
        v.set_scale_mode(views::ScaleMode::PerFrame);
        QCOMPARE(v.limit(), 10.0);
    }

    void curves_follow_their_data_and_the_position() {
        // The curves view keeps its curves in an image between steps: new data must show at
        // once, a step must move only the mark, and the same state must give the same picture.
        views::CurvesView v;
        v.resize(600, 260);
        auto data = [](float slope) {
            frames::CurveData d;
            d.norms = {std::vector<float>(50), std::vector<float>(50)};
            for (int t = 0; t < 50; ++t) d.norms[0][size_t(t)] = slope * float(t), d.norms[1][size_t(t)] = 1.0f;
            d.effective_rank.assign(50, 1.5f);
            d.max_rank = 4;
            return d;
        };
        v.set_data(data(1.0f));
        v.set_current(10);
        const QImage a = picture(&v);
        v.set_current(30);
        const QImage moved = picture(&v);
        const int mark = differing_pixels(a, moved);
        QVERIFY(mark > 50);
        v.set_data(data(-1.0f)); // norms falling instead of rising
        const QImage b = picture(&v);
        QVERIFY(differing_pixels(moved, b) > mark);
        v.set_data(data(1.0f));
        v.set_current(10);
        QCOMPARE(differing_pixels(a, picture(&v)), 0);
    }

    void eigenvalues_are_drawn_where_they_are() {
        // Hand-built spectrum: a reflection's -1 and a decay of 0.5; the dots sit at those points
        // of the plane in the token colour, and nothing is drawn at +0.5i.
        views::EigenView v;
        v.resize(500, 400);
        frames::EigenData d;
        d.token = {-1.0, 0.5};
        d.token_radius = 1.0;
        d.window = {};
        v.set_data(d);
        const QImage img = picture(&v);
        const QRectF area(QPointF(0, 0), QSizeF(v.size()));
        auto blue_near = [&](std::complex<double> z) {
            const QPoint c = v.position_of(z, area).toPoint();
            for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                    const QRgb p = img.pixel(c.x() + dx, c.y() + dy);
                    if (qBlue(p) > 140 && qRed(p) < 80) return true; // the token colour (33, 102, 172)
                }
            return false;
        };
        QVERIFY(blue_near(-1.0));
        QVERIFY(blue_near(0.5));
        QVERIFY(!blue_near(std::complex<double>(0.0, 0.5)));
        QVERIFY(!blue_near(std::complex<double>(-0.5, -0.5)));
    }

    void a_hand_built_checkpoint_shows_its_known_state_and_eigenvalues() {
        QTemporaryDir dir;
        QVERIFY(write_hand_built_deltanet(dir.path()));
        const std::vector<int32_t> ids = {0, 5, 2, 1, 7, 0, 3, 4, 2, 0};
        app::MainWindow w;
        QVERIFY(show_and_open(w, frames::tokens_from_ids("0,5,2,1,7,0,3,4,2,0"), dir.path()));
        QVERIFY2(w.error_text().isEmpty(), qPrintable(w.error_text()));
        app::Controller& c = w.controller();
        QCOMPARE(c.length(), int64_t(ids.size()));

        auto state_is_the_hand_computed_one = [&](size_t tokens) {
            const frames::Matrix& shown = w.state_view()->matrix();
            QCOMPARE(shown.rows, kHandDim);
            QCOMPARE(shown.cols, kHandDim);
            const std::vector<double> S = hand_state(ids, tokens);
            double scale = 0;
            for (double x : S) scale = std::max(scale, std::abs(x));
            QVERIFY(scale > 0.1); // a state worth comparing
            for (int r = 0; r < kHandDim; ++r)
                for (int col = 0; col < kHandDim; ++col)
                    QVERIFY2(std::abs(shown.at(r, col) - S[size_t(r) * kHandDim + col]) < 1e-5 * scale,
                             qPrintable(QString("S[%1][%2] = %3, by hand %4").arg(r).arg(col).arg(shown.at(r, col))
                                            .arg(S[size_t(r) * kHandDim + col])));
        };
        auto count_near = [](const std::vector<std::complex<double>>& eig, std::complex<double> z) {
            return int(std::count_if(eig.begin(), eig.end(), [&](auto e) { return std::abs(e - z) < 1e-5; }));
        };

        // After the last token (id 0, a reflection): the state computed by hand, and the
        // eigenvalue -1 once with 1 three times, drawn as a dot at -1 in the plane.
        state_is_the_hand_computed_one(ids.size());
        const auto& eig = w.eigen_view()->data().token;
        QCOMPARE(int(eig.size()), kHandDim);
        QCOMPARE(count_near(eig, -1.0), 1);
        QCOMPARE(count_near(eig, 1.0), 3);
        QVERIFY(std::abs(w.eigen_view()->data().token_radius - 1.0) < 1e-5);
        QVERIFY2(token_colour_near(*w.eigen_view(), -1.0) >= kDotPixels, "no eigenvalue dot at -1");
        // The spectral-radius circle also passes through i, where there is no eigenvalue.
        QVERIFY(token_colour_near(*w.eigen_view(), std::complex<double>(0, 1)) < kDotPixels);

        // After token 1 (id 5, a projection): eigenvalue 0 once, no -1, and its own state.
        c.set_token(1);
        QVERIFY(settle(w));
        state_is_the_hand_computed_one(2);
        const auto& eig1 = w.eigen_view()->data().token;
        QCOMPARE(count_near(eig1, 0.0), 1);
        QCOMPARE(count_near(eig1, 1.0), 3);
        QCOMPARE(count_near(eig1, -1.0), 0);
        QVERIFY(token_colour_near(*w.eigen_view(), 0.0) >= kDotPixels);
        QVERIFY(token_colour_near(*w.eigen_view(), -1.0) < kDotPixels);
        // And in the middle of the sequence, reached by jumping back from the end.
        c.set_token(int64_t(ids.size()) - 1);
        QVERIFY(settle(w));
        c.set_token(6);
        QVERIFY(settle(w));
        state_is_the_hand_computed_one(7);
    }

    void attention_maps_have_the_scale_modes() {
        app::MainWindow w;
        w.resize(1400, 900);
        QVERIFY(show_and_open(w, some_tokens(40), model_dir("gla")));
        app::Controller& c = w.controller();
        views::HeatmapView* exact = w.exact_attention_view();
        views::HeatmapView* softmax = w.softmax_attention_view();
        QCOMPARE(exact->scale_mode(), views::ScaleMode::PerFrame);
        // The plot states what its numbers are and how colours map onto them.
        QVERIFY2(exact->scale_caption().contains("rows need not sum to 1") && exact->scale_caption().contains("per frame"),
                 qPrintable(exact->scale_caption()));
        QVERIFY(softmax->scale_caption().contains("rows sum to 1"));
        QVERIFY(exact->scale_caption().contains(views::style::format_number(exact->frame_limit())));

        // Symmetric log on the exact map only: its picture changes, the softmax map's does not.
        const QImage exact_before = picture(exact), softmax_before = picture(softmax);
        w.exact_scale()->set_mode(views::ScaleMode::SymLog);
        QCOMPARE(exact->scale_mode(), views::ScaleMode::SymLog);
        QCOMPARE(softmax->scale_mode(), views::ScaleMode::PerFrame);
        QCOMPARE(w.state_view()->scale_mode(), views::ScaleMode::PerFrame);
        QVERIFY(exact->scale_caption().contains("symmetric log"));
        QVERIFY(differing_pixels(exact_before, picture(exact)) > 100);
        QCOMPARE(differing_pixels(softmax_before, picture(softmax)), 0);

        // Fixed keeps the limit of the frame shown while the position moves; the box sets it.
        w.exact_scale()->set_mode(views::ScaleMode::Fixed);
        QVERIFY(w.exact_scale()->limit_box()->isVisible());
        const double kept = exact->limit();
        QCOMPARE(kept, exact->frame_limit());
        c.set_token(3); // rows 0..3, none of them in the window of token 39 (rows 8..39)
        QVERIFY(settle(w));
        QVERIFY(exact->frame_limit() != kept); // another frame, another max
        QCOMPARE(exact->limit(), kept);
        QVERIFY(exact->scale_caption().contains("fixed"));
        w.exact_scale()->set_fixed_limit(0.25);
        QCOMPARE(exact->limit(), 0.25);
        // The softmax map has its own control, and the state's is untouched by both.
        w.softmax_scale()->set_mode(views::ScaleMode::SymLog);
        QCOMPARE(softmax->scale_mode(), views::ScaleMode::SymLog);
        QCOMPARE(exact->scale_mode(), views::ScaleMode::Fixed);
        w.state_scale()->set_mode(views::ScaleMode::SymLog);
        QCOMPARE(w.state_view()->scale_mode(), views::ScaleMode::SymLog);
        QCOMPARE(exact->scale_mode(), views::ScaleMode::Fixed);
    }

    void softmax_layers_get_attention_entropy_curves() {
        app::MainWindow w;
        w.show();
        const frames::TokenInput input = some_tokens(40);
        w.set_token_input(input);
        w.open_model(model_dir("llama"));
        QVERIFY(settle(w));
        app::Controller& c = w.controller();
        c.set_focus(1, 2);
        QVERIFY(settle(w));
        const frames::CurveData& d = w.curves_view()->data();
        QVERIFY(d.softmax_layer);
        QVERIFY(d.norms.empty());
        QCOMPARE(int(d.row_entropy.size()), 40);
        QCOMPARE(int(d.softmax_entropy.size()), 40);
        QVERIFY(!w.softmax_scale()->isVisible()); // a softmax layer shows its own map only
        // Each value is the entropy of the layer's real attention row, written out here from the
        // query and the key cache: p_s proportional to exp(q . k_s / sqrt(D)) over s <= t.
        auto model = load_model(model_dir("llama").toStdString());
        Timeline tl(*model);
        tl.append(input.ids);
        for (int t : {0, 1, 17, 39}) {
            const AttentionWindow aw = tl.attention_window(1, t, t);
            const int heads = int(aw.q.shape[1]), D = int(aw.q.shape[2]), kv = int(aw.k.shape[1]);
            const int kvh = 2 / (heads / kv);
            std::vector<double> e;
            double sum = 0, h = 0;
            for (int s = 0; s <= t; ++s) {
                double dot = 0;
                for (int i = 0; i < D; ++i) dot += double(aw.q.data[size_t(2) * D + i]) * aw.k.data[(size_t(s) * kv + kvh) * D + i];
                e.push_back(std::exp(dot / std::sqrt(double(D))));
                sum += e.back();
            }
            for (double x : e) h -= x / sum * std::log(x / sum);
            QVERIFY2(std::abs(d.row_entropy[size_t(t)] - h) < 1e-4, qPrintable(QString("t %1: %2 vs %3").arg(t).arg(d.row_entropy[size_t(t)]).arg(h)));
            QVERIFY(d.row_entropy[size_t(t)] <= std::log(double(t + 1)) + 1e-6);
        }
        QCOMPARE(d.row_entropy[0], 0.0f); // one position: certain
        // Within the window (32 tokens) the windowed row is the whole row; beyond it, not.
        QVERIFY(std::abs(d.softmax_entropy[20] - d.row_entropy[20]) < 1e-6);
        QVERIFY(std::abs(d.softmax_entropy[39] - d.row_entropy[39]) > 1e-6);
        // The picture has curves, not a message: its numbers export one row per token.
        QString header;
        const analysis::Array a = w.curves_view()->figure_data(&header);
        QCOMPARE(a.shape, (std::vector<int64_t>{40, 2}));
        QCOMPARE(header, QString("row_entropy,window_entropy"));
    }

    void dropped_folders_open_and_are_remembered() {
        app::MainWindow w;
        w.show();
        w.set_token_input(some_tokens(12));
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(model_dir("retnet") + "/model.safetensors")}); // a file of the folder
        QDragEnterEvent enter(QPoint(200, 200), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(200, 200), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &drop);
        QVERIFY(settle(w));
        QVERIFY(QString::fromStdString(w.controller().model()->path).endsWith("retnet"));
        QCOMPARE(w.controller().model()->info.model_type, std::string("retnet"));
        const QStringList recent = QSettings().value("recentModels").toStringList();
        QVERIFY(!recent.isEmpty());
        QVERIFY(recent.first().endsWith("retnet"));
    }

    void exports_parse() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(16), model_dir("gla")));
        QTemporaryDir dir;
        QString err;
        views::HeatmapView* state = w.state_view();
        const frames::Matrix m = state->matrix();

        QVERIFY2(views::export_figure_image(*state, dir.path() + "/s.png", &err), qPrintable(err));
        QImage png(dir.path() + "/s.png");
        QCOMPARE(png.size(), state->size() * 2);
        QVERIFY2(views::export_figure_image(*state, dir.path() + "/s.svg", &err), qPrintable(err));
        QSvgRenderer svg(dir.path() + "/s.svg");
        QVERIFY(svg.isValid());
        QCOMPARE(svg.viewBoxF(), QRectF(QPointF(0, 0), QSizeF(state->size())));
        QVERIFY2(views::export_figure_image(*state, dir.path() + "/s.pdf", &err), qPrintable(err));
        QFile pdf(dir.path() + "/s.pdf");
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        const QByteArray pdf_bytes = pdf.readAll();
        QVERIFY(pdf_bytes.startsWith("%PDF-"));
        QVERIFY(pdf_bytes.trimmed().endsWith("%%EOF"));
        QVERIFY(!views::export_figure_image(*state, dir.path() + "/s.bmpx", &err));

        QVERIFY2(views::export_figure_data(*state, dir.path() + "/s.npy", &err), qPrintable(err));
        const analysis::Array a = analysis::read_npy((dir.path() + "/s.npy").toStdString());
        QCOMPARE(a.shape, (std::vector<int64_t>{m.rows, m.cols}));
        QCOMPARE(a.values, m.values);
        QVERIFY2(views::export_figure_data(*state, dir.path() + "/s.csv", &err), qPrintable(err));
        QFile csv(dir.path() + "/s.csv");
        QVERIFY(csv.open(QIODevice::ReadOnly | QIODevice::Text));
        const QStringList lines = QString(csv.readAll()).trimmed().split('\n');
        QCOMPARE(lines.size(), m.rows);
        const QStringList first = lines[0].split(',');
        QCOMPARE(first.size(), m.cols);
        for (int c = 0; c < m.cols; ++c) QCOMPARE(first[c].toFloat(), m.at(0, c));

        // The other views export too: curves (one row per token), eigenvalues, trajectory.
        for (views::Figure* f : std::initializer_list<views::Figure*>{w.curves_view(), w.eigen_view(), w.trajectory_view(),
                                                                      w.overview(), w.softmax_attention_view()}) {
            const QString base = dir.path() + "/" + f->figure_name();
            QVERIFY2(views::export_figure_data(*f, base + ".npy", &err), qPrintable(err));
            QVERIFY2(views::export_figure_image(*f, base + ".png", &err), qPrintable(err));
            QVERIFY(!QImage(base + ".png").isNull());
        }
        QCOMPARE(analysis::read_npy((dir.path() + "/curves.npy").toStdString()).shape[0], 16);
    }

    // With no model named, the app opens the trained MQAR DeltaNet on its task's seed-1 sample,
    // and the task's targets reach the views' summary; --task-seed/--task-size pick another.
    void opens_on_a_task_sample_of_the_demonstration_model() {
        const QString bundled = app::default_model_path();
        QVERIFY2(bundled.endsWith("/mqar-deltanet"), qPrintable(bundled));
        const frames::TokenInput first = app::initial_input(app::parse_command_line({}), bundled);
        const task::Sample expected = task::sample(task::load_task(bundled.toStdString()), {1, 0});
        QVERIFY(first.ids == expected.tokens && first.targets == expected.targets);
        const frames::TokenInput other = app::initial_input(app::parse_command_line({"--task-seed", "5", "--task-size", "3"}), bundled);
        QCOMPARE(int(other.ids.size()), 12);
        QVERIFY(other.ids != std::vector<int32_t>(first.ids.begin(), first.ids.begin() + 12));
        // A prompt wins over the task; a task seed for a model without a task names the file.
        QVERIFY(app::initial_input(app::parse_command_line({"--prompt", "k1 v2"}), bundled).targets.empty());
        QVERIFY_THROWS_EXCEPTION(Error, app::parse_command_line({"--prompt", "x", "--task-seed", "2"}));
        QVERIFY_THROWS_EXCEPTION(Error, app::parse_command_line({"--task-size", "4"}));
        try {
            app::initial_input(app::parse_command_line({"--task-seed", "2"}), model_dir("gla"));
            QFAIL("a task sample of a model without task.json");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("task.json") != std::string::npos, e.what());
        }

        app::MainWindow w;
        w.resize(1400, 900);
        QVERIFY(show_and_open(w, first, bundled));
        const frames::ModelSummary* m = w.controller().model();
        QVERIFY(m && m->targets == expected.targets);
        QCOMPARE(w.token_strip()->count(), int(expected.tokens.size()));
        QVERIFY2(QString::fromStdString(m->tokens_from).startsWith("mqar sample, seed 1"), m->tokens_from.c_str());
    }

    // The teaching views on the trained MQAR DeltaNet: at a query key the prediction lists its
    // value first (the task's target, rank 1), the curve has the target's probability at every
    // query, the strip marks the queries as recalled, and the attention row of layer 0, head 1
    // peaks at the stored value's position, labelled with the tokens' text.
    void the_prediction_and_attention_row_show_the_recall() {
        const QString mqar = app::default_model_path();
        const frames::TokenInput input = app::initial_input(app::parse_command_line({}), mqar);
        app::MainWindow w;
        w.resize(1600, 1000);
        QVERIFY(show_and_open(w, input, mqar));
        app::Controller& c = w.controller();
        c.set_focus(0, 1);
        c.set_token(18); // k56, stored at 12 with v27 at 13
        QVERIFY(settle(w));
        const frames::Prediction& p = w.prediction_view()->prediction();
        QCOMPARE(p.token_index, int64_t(18));
        QCOMPARE(p.target, input.targets[18]);
        QVERIFY(p.task_target);
        QCOMPARE(p.target_rank, int64_t(1));
        QCOMPARE(p.top_ids.front(), p.target);
        QCOMPARE(QString::fromStdString(p.top_labels.front()), QString("v27"));
        QCOMPARE(QString::fromStdString(p.target_label), QString("v27"));
        const frames::PredictionCurve& curve = w.prediction_view()->curve();
        QCOMPARE(curve.target_prob.size(), input.ids.size());
        QVERIFY(curve.task_targets);
        for (size_t t = 0; t < input.ids.size(); ++t) QCOMPARE(std::isnan(curve.target_prob[t]), input.targets[t] < 0);
        QCOMPARE(w.token_strip()->mark(18), 1);
        QCOMPARE(w.token_strip()->mark(17), 0); // a value: the task expects nothing after it
        views::AttentionRowView* row = w.attention_row_view();
        QCOMPARE(row->query(), int64_t(18));
        QCOMPARE(int(row->exact_row().size()), 19);
        QCOMPARE(int(row->softmax_row().size()), 19);
        QCOMPARE(row->strongest_key(), int64_t(13));
        // The row is the exact map's last row.
        const frames::Matrix& map = w.exact_attention_view()->matrix();
        QVERIFY(std::equal(row->exact_row().begin(), row->exact_row().end(), map.values.end() - map.cols));
        // Both views are drawn (not blank) and every export format is written.
        QVERIFY(differing_pixels(picture(w.prediction_view()), QImage(w.prediction_view()->size(), QImage::Format_RGB32)) > 1000);
        QTemporaryDir dir;
        QString err;
        for (views::Figure* f : std::initializer_list<views::Figure*>{w.prediction_view(), row}) {
            const QString base = dir.path() + "/" + f->figure_name();
            for (const char* ext : {".png", ".svg", ".pdf"}) QVERIFY2(views::export_figure_image(*f, base + ext, &err), qPrintable(err));
            for (const char* ext : {".csv", ".npy"}) QVERIFY2(views::export_figure_data(*f, base + ext, &err), qPrintable(err));
            QVERIFY(QSvgRenderer(base + ".svg").isValid());
        }
        QCOMPARE(analysis::read_npy((dir.path() + "/attention-row.npy").toStdString()).shape, (std::vector<int64_t>{19, 5}));
        QCOMPARE(analysis::read_npy((dir.path() + "/prediction.npy").toStdString()).shape, (std::vector<int64_t>{10, 5}));
        // The curve's numbers, one row per token, with the token index first.
        QVERIFY2(views::export_figure_data(*w.prediction_curve_figure(), dir.path() + "/curve.csv", &err), qPrintable(err));
        QVERIFY2(views::export_figure_data(*w.prediction_curve_figure(), dir.path() + "/curve.npy", &err), qPrintable(err));
        const analysis::Array per_token = analysis::read_npy((dir.path() + "/curve.npy").toStdString());
        QCOMPARE(per_token.shape, (std::vector<int64_t>{int64_t(input.ids.size()), 5}));
        QCOMPARE(per_token.values[18 * 5], 18.0f);
        QCOMPARE(per_token.values[18 * 5 + 3], float(input.targets[18]));
        QVERIFY(std::abs(per_token.values[18 * 5 + 4] - p.target_prob) < 1e-5);
        // Token text on the maps: the CSV names query and key tokens, the SVG shows their text.
        QVERIFY2(views::export_figure_data(*w.exact_attention_view(), dir.path() + "/exact.csv", &err), qPrintable(err));
        QFile csv(dir.path() + "/exact.csv");
        QVERIFY(csv.open(QIODevice::ReadOnly));
        QVERIFY(csv.readLine().startsWith("query_token,key_0,key_1"));
        QVERIFY(csv.readLine().startsWith("0,"));
        QVERIFY2(views::export_figure_image(*w.exact_attention_view(), dir.path() + "/exact.svg", &err), qPrintable(err));
        QFile svg(dir.path() + "/exact.svg");
        QVERIFY(svg.open(QIODevice::ReadOnly));
        QVERIFY(svg.readAll().contains("k50"));
    }

    // Byte tokens of one UTF-8 character show the character on the strip.
    void byte_tokens_show_their_character() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, frames::tokens_from_text("caf\xC3\xA9 au lait"), model_dir("gla"))); // no tokenizer: bytes
        QCOMPARE(QString::fromStdString(w.controller().model()->labels[3]), QString::fromUtf8("\xC3\xA9 1/2"));
        QCOMPARE(QString::fromStdString(w.controller().model()->labels[4]), QString::fromUtf8("\xC3\xA9 2/2"));
        // Without a task the expected token is the one that follows: every token but the last is marked.
        const int64_t n = w.controller().length();
        for (int64_t i = 0; i + 1 < n; ++i) QVERIFY(w.token_strip()->mark(i) != 0);
        QCOMPARE(w.token_strip()->mark(n - 1), 0);
        QVERIFY(!w.prediction_view()->curve().task_targets);
        // A click on the prediction curve jumps there.
        views::PredictionView* pv = w.prediction_view();
        const QRectF r = pv->curve_rect(QRectF(pv->rect()));
        QTest::mouseClick(pv, Qt::LeftButton, {}, QPoint(int(r.left() + r.width() * 4.0 / double(n - 1)), int(r.center().y())));
        QVERIFY(settle(w));
        QCOMPARE(w.controller().token(), int64_t(4));
        QCOMPARE(pv->prediction().token_index, int64_t(4));
        QCOMPARE(pv->prediction().target, w.controller().model()->tokens[5]);
    }

    // Issue 14, section 4: what a new user ran into, each fixed.
    void the_window_box_shows_the_window() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(40), model_dir("gla")));
        w.controller().set_window(12); // what --window 12 does once the model is there
        QVERIFY(settle(w));
        QCOMPARE(w.transport()->window(), 12);
        QCOMPARE(w.exact_attention_view()->matrix().rows, 12);
    }

    void out_of_range_positions_are_refused() {
        auto model = load_model(model_dir("gla").toStdString());
        const ModelInfo& info = model->info();
        auto error = [&](const QStringList& args) { return app::position_error(app::parse_command_line(args), info, 11); };
        QVERIFY(error({"--token", "10", "--layer", "1", "--head", "0"}).empty());
        QVERIFY(error({}).empty());
        QCOMPARE(error({"--token", "11"}), std::string("--token: token 11 is outside the sequence (11 tokens: 0..10)"));
        QVERIFY(error({"--layer", "9"}).rfind("--layer: layer 9 does not exist", 0) == 0);
        QVERIFY(error({"--head", "99"}).rfind("--head: head 99 does not exist in layer 0", 0) == 0);
        QProcess p;
        QTemporaryDir dir;
        p.start(STATESCOPE_APP, {"--model", model_dir("gla"), "--tokens", "5,77,300", "--token", "7", "--screenshot", dir.path() + "/x.png"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("--token: token 7 is outside the sequence (3 tokens: 0..2)"));
        QVERIFY(!QFileInfo::exists(dir.path() + "/x.png"));
    }

    void transport_keys_work_after_clicking_a_number_box() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(20), model_dir("gla")));
        app::Controller& c = w.controller();
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        c.set_token(5);
        QVERIFY(settle(w));
        QSpinBox* box = w.transport()->window_box();
        QTest::mouseClick(box, Qt::LeftButton, {}, box->rect().center());
        QTRY_VERIFY(box->hasFocus());
        QWindow* win = w.windowHandle();
        QTest::keyClick(win, Qt::Key_Right);
        QTest::keyClick(win, Qt::Key_Right);
        QVERIFY(settle(w));
        QCOMPARE(c.token(), 7);
        QTest::keyClick(win, Qt::Key_Left);
        QVERIFY(settle(w));
        QCOMPARE(c.token(), 6);
        QTest::keyClick(win, Qt::Key_End);
        QVERIFY(settle(w));
        QCOMPARE(c.token(), 19);
        QTest::keyClick(win, Qt::Key_Home);
        QVERIFY(settle(w));
        QCOMPARE(c.token(), 0);
        QTest::keyClick(win, Qt::Key_Space);
        QVERIFY(w.transport()->playing());
        w.transport()->set_playing(false);
        QCOMPARE(w.transport()->window(), 32); // the box itself kept its value
        QTest::keyClick(win, Qt::Key_Up); // Up still edits the box
        QTRY_COMPARE(w.transport()->window(), 33);
    }

    void continuing_from_a_middle_token_asks_first() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(30), model_dir("gla")));
        app::Controller& c = w.controller();
        c.set_token(5);
        QVERIFY(settle(w));
        QAction* action = nullptr;
        for (QAction* a : w.findChildren<QAction*>())
            if (a->text().startsWith("&Continue from Current Token")) action = a;
        QVERIFY(action);
        QString asked;
        QTimer::singleShot(300, [&] {
            if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
                asked = box->text();
                box->button(QMessageBox::Cancel)->click();
            }
        });
        action->trigger();
        QVERIFY2(asked.contains("drops the 24 tokens after it (6 to 29)"), qPrintable(asked));
        QVERIFY(settle(w));
        QCOMPARE(c.length(), 30); // nothing was dropped
        // Generated tokens look different from the prompt's.
        QCOMPARE(w.token_strip()->generated_from(), int64_t(-1));
        c.continue_from(29, 3);
        QVERIFY(settle(w));
        QCOMPARE(c.length(), 33);
        QCOMPARE(c.model()->generated_from, int64_t(30));
        QCOMPARE(w.token_strip()->generated_from(), int64_t(30));
    }

    void exports_name_their_position() {
        app::MainWindow w;
        QVERIFY(show_and_open(w, some_tokens(16), model_dir("gla")));
        w.controller().set_focus(1, 2);
        w.controller().set_token(5);
        QVERIFY(settle(w));
        QCOMPARE(w.export_file_name(*w.state_view()), QString("state_L1_H2_T5"));
        QCOMPARE(w.export_file_name(*w.prediction_view()), QString("prediction_L1_H2_T5"));
        // Curves CSVs begin with the token index.
        QTemporaryDir dir;
        QString err;
        QVERIFY2(views::export_figure_data(*w.curves_view(), dir.path() + "/c.csv", &err), qPrintable(err));
        QFile csv(dir.path() + "/c.csv");
        QVERIFY(csv.open(QIODevice::ReadOnly));
        QVERIFY(csv.readLine().startsWith("token,norm_head0"));
        for (int t = 0; t < 16; ++t) QVERIFY(csv.readLine().startsWith(QByteArray::number(t) + ","));
    }

    void no_model_no_sphere() {
        app::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(!w.trajectory_view()->marker_visible());
    }

    void bad_token_ids_are_named() {
        app::MainWindow w;
        const QString mqar = app::default_model_path();
        QVERIFY(show_and_open(w, app::initial_input(app::parse_command_line({}), mqar), mqar));
        QVERIFY(!w.set_token_ids("3, x, 5"));
        QVERIFY2(w.error_text().contains("'x' is not a token id") && !w.error_text().contains("--"), qPrintable(w.error_text()));
        QVERIFY(!w.set_token_ids("3 500"));
        QVERIFY2(w.error_text().contains("Token id 500") && w.error_text().contains("vocabulary of mqar-deltanet (ids 0..127)") &&
                     !w.error_text().contains("Could not open"),
                 qPrintable(w.error_text()));
        QCOMPARE(w.controller().length(), 32); // the sequence stays
        QVERIFY(w.set_token_ids("3 70 4 71"));
        QVERIFY(settle(w));
        QCOMPARE(w.controller().model()->tokens, (std::vector<int32_t>{3, 70, 4, 71}));
    }

    void another_vocabulary_does_not_get_the_old_ids() {
        app::MainWindow w;
        const QString mqar = app::default_model_path();
        const frames::TokenInput sample = app::initial_input(app::parse_command_line({}), mqar);
        QVERIFY(show_and_open(w, sample, mqar));
        w.open_model(model_dir("gla")); // vocabulary 32000, not 128
        QVERIFY(settle(w));
        QVERIFY(w.controller().model()->path.find("gla") != std::string::npos);
        QVERIFY(w.token_input().text.has_value()); // the sample prompt, tokenized for gla
        QVERIFY(w.controller().model()->tokens != sample.ids);
        QVERIFY(w.controller().model()->targets == std::vector<int32_t>(w.controller().length(), -1));
        // Back to MQAR: its own task sample, not the sample prompt (which it cannot read).
        w.open_model(mqar);
        QVERIFY(settle(w));
        QCOMPARE(w.controller().model()->tokens, sample.ids);
        // A model with the same vocabulary keeps the sample: DeltaNet and GLA on one MQAR sample.
        w.open_model(QString(STATESCOPE_SOURCE_DIR) + "/assets/models/mqar-gla");
        QVERIFY(settle(w));
        QCOMPARE(w.controller().model()->tokens, app::initial_input(app::parse_command_line({}), mqar).ids);
    }

    void wrapped_head_rows_are_labelled() {
        views::OverviewGrid grid;
        frames::OverviewData d;
        d.cells.assign(2, std::vector<frames::OverviewCell>(6));
        for (auto& l : d.cells)
            for (auto& c : l) c.thumbnail = frames::Matrix(4, 4);
        grid.set_data(d);
        const QStringList labels = grid.row_labels(QRectF(0, 0, 150, 600)); // narrow: heads wrap
        QVERIFY2(labels.size() > 2, qPrintable(labels.join('|')));
        for (const QString& l : labels) QVERIFY2(!l.isEmpty(), qPrintable(labels.join('|')));
        QVERIFY(labels.first().startsWith("L0 H0"));
        QVERIFY(labels.contains("L1 H0"));
        QCOMPARE(grid.row_labels(QRectF(0, 0, 800, 200)), (QStringList{"L0", "L1"})); // one row per layer
    }

    // The curves' panel labels are drawn over the data; hover read-outs stay off the titles; a
    // long caption wraps instead of being cut in an export.
    void labels_and_read_outs_stay_readable() {
        views::CurvesView curves;
        frames::CurveData d;
        d.norms = {std::vector<float>(20, 1.0f)}; // a flat line at the top of its panel
        d.focused_head = 0;
        curves.set_data(d);
        QImage img(600, 260, QImage::Format_RGB32);
        {
            QPainter p(&img);
            curves.render_figure(p, QRectF(0, 0, 600, 260), true);
        }
        // Where the label is: the top left of the (only) panel, right under the title.
        const QFontMetricsF fm(views::style::label_font());
        const double top = QFontMetricsF(views::style::title_font()).height() + 8;
        int blue = 0;
        for (int y = int(top) + 2; y < int(top + fm.height()); ++y)
            for (int x = 80; x < 80 + int(fm.horizontalAdvance("state norm")); ++x) {
                const QRgb c = img.pixel(x, y);
                blue += qBlue(c) > 140 && qRed(c) < 90;
            }
        QCOMPARE(blue, 0);

        app::MainWindow w;
        w.resize(1600, 1000);
        QVERIFY(show_and_open(w, some_tokens(24), model_dir("gla")));
        views::HeatmapView* map = w.exact_attention_view();
        const QImage before = picture(map);
        QTest::mouseMove(map, QPoint(map->width() / 2, map->height() / 3));
        QTRY_VERIFY(differing_pixels(picture(map), before) > 0); // a read-out appeared
        const QImage after = picture(map);
        const int title_h = int(QFontMetricsF(views::style::title_font()).height() + 6);
        QCOMPARE(differing_pixels(before.copy(0, 0, map->width(), title_h), after.copy(0, 0, map->width(), title_h)), 0);
        // An export narrower than its caption wraps it whole.
        map->resize(300, 300);
        QTemporaryDir dir;
        QString err;
        QVERIFY2(views::export_figure_image(*map, dir.path() + "/m.svg", &err), qPrintable(err));
        QFile svg(dir.path() + "/m.svg");
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(svg.readAll());
        QVERIFY2(text.contains("sum to 1") && !text.contains(QChar(0x2026)), "the caption was cut");
    }

    // Every view's title leads to the glossary: plain words and a formula for each term.
    void the_glossary_is_one_click_from_every_view() {
        for (const char* key : {"state", "exact-map", "softmax-map", "effective-rank", "spectral-radius", "half-life", "window-product"}) {
            bool found = false;
            for (const views::GlossaryEntry& e : views::glossary())
                found = found || (e.key == key && !e.plain.isEmpty() && !e.formula.isEmpty());
            QVERIFY2(found, key);
        }
        app::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        const QList<views::Panel*> panels = w.findChildren<views::Panel*>();
        QCOMPARE(panels.size(), 8);
        for (views::Panel* p : panels) QVERIFY2(p->glossary_button(), qPrintable(p->objectName()));
        panels.first()->glossary_button()->click();
        QDialog* dialog = nullptr;
        QTRY_VERIFY((dialog = w.findChild<QDialog*>("glossary")) && dialog->isVisible());
        QTextBrowser* text = dialog->findChild<QTextBrowser*>();
        QVERIFY(text && text->toPlainText().contains("Spectral radius") && text->toPlainText().contains("ρ(A) = max"));
        dialog->close();
        // The attention map says what the short convolution does to where peaks sit.
        const QString mqar = app::default_model_path();
        QVERIFY(show_and_open(w, app::initial_input(app::parse_command_line({}), mqar), mqar));
        QVERIFY2(w.exact_attention_view()->scale_caption().contains("short conv of width 4 first: a peak can sit up to 3 tokens after its token"),
                 qPrintable(w.exact_attention_view()->scale_caption()));
        QVERIFY(w.attention_row_view()->note().contains("q, k: silu, L2-normalised"));
    }

    void screenshot_from_the_command_line() {
        QTemporaryDir dir;
        const QString out = dir.path() + "/window.png";
        QProcess p;
        const QString exports = dir.path() + "/views";
        p.start(STATESCOPE_APP, {"--model", model_dir("gla"), "--tokens", "5,77,300,12,9,41,8,200,3,3,90", "--token", "6",
                                 "--layer", "1", "--size", "1280x800", "--screenshot", out, "--export", exports});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        QImage img(out);
        QCOMPARE(img.size(), QSize(1280, 800));
        // --export wrote every view in every format; the state's numbers are layer 1's state after
        // token 6.
        for (const char* name : {"state", "attention-exact", "attention-softmax", "eigenvalues", "curves", "overview", "trajectory",
                                 "prediction", "prediction-curve", "attention-row"})
            for (const char* ext : {".png", ".svg", ".pdf", ".csv", ".npy"})
                QVERIFY2(QFileInfo(exports + "/" + name + ext).size() > 0, (QByteArray(name) + ext).constData());
        QVERIFY(QSvgRenderer(exports + "/eigenvalues.svg").isValid());
        const analysis::Array state = analysis::read_npy((exports + "/state.npy").toStdString());
        auto model = load_model(model_dir("gla").toStdString());
        Timeline tl(*model);
        tl.append(std::vector<int32_t>{5, 77, 300, 12, 9, 41, 8, 200, 3, 3, 90});
        const Tensor S = tl.layer_state(1, 7);
        QCOMPARE(state.shape, (std::vector<int64_t>{S.shape[1], S.shape[2]}));
        QVERIFY(relative_l2(state.values.data(), S.ptr(), state.values.size()) < 1e-6);
        // Every export names model, layer, head and token (views/figure.h says where, per format).
        const QImage state_png(exports + "/state.png");
        QCOMPARE(state_png.text("Layer"), QString("1"));
        QCOMPARE(state_png.text("Head"), QString("0"));
        QCOMPARE(state_png.text("Token"), QString("6"));
        QVERIFY(state_png.text("Model").endsWith("gla"));
        for (const char* name : {"state", "eigenvalues", "curves"}) {
            const std::string header = analysis::read_npy_header((exports + "/" + name + ".npy").toStdString());
            QVERIFY2(header.find("layer=1; head=0; token=6") != std::string::npos, header.c_str());
            QFile csv(exports + "/" + name + ".csv");
            QVERIFY(csv.open(QIODevice::ReadOnly));
            QVERIFY(csv.readLine().startsWith(QByteArray("# Statescope ")));
        }
        // A load error still gives a picture (of the error) and exit status 2.
        const QString bad = dir.path() + "/bad.png";
        p.start(STATESCOPE_APP, {"--model", dir.path() + "/nothing-here", "--screenshot", bad});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(!QImage(bad).isNull());
        // Bad arguments: exit status 1 and the usage.
        p.start(STATESCOPE_APP, {"--tokens", "1,x"});
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("usage"));
    }
};

QTEST_MAIN(TestAppWindow)
#include "test_app_window.moc"
