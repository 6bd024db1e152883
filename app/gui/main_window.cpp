#include "main_window.h"

#include "statescope/error.h"
#include "lesson_player.h"
#include "presenter_mode.h"
#include "command_line.h"
#include "sample_prompt.h"
#include "session_actions.h"
#include "transport_bar.h"
#include "views/attention_row_view.h"
#include "views/curves_view.h"
#include "views/eigen_view.h"
#include "views/heatmap_view.h"
#include "views/overview_grid.h"
#include "views/panel.h"
#include "views/prediction_view.h"
#include "views/plot_style.h"
#include "views/scale_control.h"
#include "views/token_strip.h"
#include "views/trajectory_view.h"
#include "views/view_content.h"

#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QJsonDocument>
#include <QJsonObject>
#include <QDialogButtonBox>
#include <QSpinBox>
#include <QFormLayout>
#include <QDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStatusBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

namespace statescope::app {

namespace {

constexpr int kMaxRecent = 8;

const char* kStyleSheet = R"(
QMainWindow { background: #e9ecf1; }
#panel { background: white; border: 1px solid #c9ced6; border-radius: 3px; }
#panelHeader { background: #f3f5f8; border-bottom: 1px solid #dde1e7; }
#panelTitle { font-weight: 600; color: #2b3440; }
#panelInfo { color: #5b6573; }
#transportCaption { color: #5b6573; }
#errorBar { background: #fdecea; border: 1px solid #e0a19b; border-radius: 3px; }
#errorText { color: #8a1f11; }
QStatusBar QLabel { color: #3d4652; padding: 0 6px; }
)";

QString human_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    return QString("%1 %2").arg(b, 0, 'f', u ? 1 : 0).arg(units[u]);
}

QString human_count(int64_t n) {
    if (n >= 1000000000) return QString("%1B").arg(n / 1e9, 0, 'f', 2);
    if (n >= 1000000) return QString("%1M").arg(n / 1e6, 0, 'f', 1);
    if (n >= 1000) return QString("%1K").arg(n / 1e3, 0, 'f', 1);
    return QString::number(n);
}

// What to hand the engine for a chosen or dropped path: folders and config.json files as they
// are (the engine reports what is wrong with them), any other file of a checkpoint (e.g. a
// dropped model.safetensors) as its folder.
QString model_path_of(const QString& path) {
    const QFileInfo fi(path);
    if (fi.isFile() && fi.fileName() != "config.json") return fi.absolutePath();
    return fi.exists() ? fi.absoluteFilePath() : path;
}

} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), controller_(new Controller(this)) {
    setWindowTitle("Statescope");
    setAcceptDrops(true);
    setStyleSheet(kStyleSheet);
    build_views();
    sessions_ = new SessionActions(*this);
    build_menus();
    build_shortcuts();
    lessons_ = new LessonPlayer(*this);
    presenter_ = new PresenterMode(*this, *lessons_);
    try {
        input_ = frames::tokens_from_text(sample_prompt());
    } catch (const Error& e) {
        show_error(QString::fromStdString(e.what())); // app_main says so too, before any window
    }

    connect(controller_, &Controller::model_loaded, this, &MainWindow::on_model_loaded);
    connect(controller_, &Controller::frame_ready, this, &MainWindow::on_frame);
    connect(controller_, &Controller::sequence_ready, this, &MainWindow::on_sequence);
    connect(controller_, &Controller::token_changed, this, &MainWindow::on_token_changed);
    connect(controller_, &Controller::focus_changed, this, &MainWindow::on_focus_changed);
    connect(controller_, &Controller::window_changed, this, [this](int tokens) { transport_->set_window(tokens); });
    connect(controller_, &Controller::jumped, strip_, &views::TokenStrip::center_on);
    connect(controller_, &Controller::load_started, this, [this](const QString& path) {
        statusBar()->showMessage("Loading " + path + " …");
        on_load_progress("opening", 0, 0);
    });
    connect(controller_, &Controller::load_progress, this, &MainWindow::on_load_progress);
    connect(controller_, &Controller::load_failed, this, [this](const QString& path, const QString& message) {
        statusBar()->clearMessage();
        update_load_controls();
        show_error("Could not open " + path + ":\n" + message);
        sessions_->model_load_failed(message); // a session being opened says which file failed
    });
    connect(controller_, &Controller::load_cancelled, this, [this](const QString& path) {
        update_load_controls();
        statusBar()->showMessage("Cancelled loading " + path, 5000);
    });
    connect(controller_, &Controller::compute_failed, this, [this](const QString& what, const QString& message) {
        show_error("The engine failed computing the " + what + ": " + message);
    });
    connect(controller_, &Controller::busy_changed, this, [this](bool busy) {
        busy_label_->setText(busy ? "computing…" : "ready");
        update_load_controls();
    });
    resize(1600, 1000);
    strip_->setFocus();
}

MainWindow::~MainWindow() = default;

void MainWindow::build_views() {
    using namespace views;
    auto* central = new QWidget(this);
    auto* v = new QVBoxLayout(central);
    v->setContentsMargins(6, 4, 6, 4);
    v->setSpacing(4);

    error_bar_ = new QFrame(central);
    error_bar_->setObjectName("errorBar");
    auto* eh = new QHBoxLayout(error_bar_);
    eh->setContentsMargins(8, 4, 4, 4);
    error_ = new QLabel(error_bar_);
    error_->setObjectName("errorText");
    error_->setWordWrap(true);
    error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    eh->addWidget(error_, 1);
    auto* close = new QToolButton(error_bar_);
    close->setText("✕");
    close->setAutoRaise(true);
    close->setToolTip("Dismiss");
    eh->addWidget(close, 0, Qt::AlignTop);
    connect(close, &QToolButton::clicked, this, [this] { show_error({}); });
    error_bar_->hide();
    v->addWidget(error_bar_);

    strip_ = new TokenStrip(central);
    v->addWidget(strip_);
    transport_ = new TransportBar(central);
    v->addWidget(transport_);

    // Overview (left).
    overview_ = new OverviewGrid;
    auto* overview_panel = overview_panel_ = new Panel("Overview", overview_, {overview_});

    // State heatmap with its scale controls.
    state_ = new HeatmapView("state");
    state_->set_axis_labels("key dim", "value dim");
    state_->set_message("open a model (File > Open) to see its state");
    state_panel_ = new Panel("State S_t", state_, {state_});
    state_scale_ = new ScaleControl(state_);
    state_panel_->add_header_widget(state_scale_);

    // Attention maps side by side.
    auto* attention = new QWidget;
    auto* ah = new QHBoxLayout(attention);
    ah->setContentsMargins(0, 0, 0, 0);
    ah->setSpacing(0);
    exact_ = new HeatmapView("attention-exact");
    exact_->set_axis_labels("query token", "key token");
    exact_->set_title("Exact (implied by the recurrence)");
    softmax_ = new HeatmapView("attention-softmax");
    softmax_->set_colormap(Colormap::sequential());
    softmax_->set_axis_labels("query token", "key token");
    softmax_->set_title("Softmax of the same q·k");
    ah->addWidget(exact_);
    ah->addWidget(softmax_);
    attention_panel_ = new Panel("Attention", attention, {exact_, softmax_});
    exact_scale_ = new ScaleControl(exact_, "exact");
    softmax_scale_ = new ScaleControl(softmax_, "softmax");
    attention_panel_->add_header_widget(exact_scale_);
    attention_panel_->add_header_widget(softmax_scale_);

    eigen_ = new EigenView;
    eigen_panel_ = new Panel("Transition spectrum", eigen_, {eigen_});

    curves_ = new CurvesView;
    curves_panel_ = new Panel("Curves", curves_, {curves_});
    trajectory_ = new TrajectoryView;
    trajectory_panel_ = new Panel("State trajectory (3-D)", trajectory_, {trajectory_});

    // What the model predicts, and which keys the current query reads (issue 14's teaching views).
    prediction_ = new PredictionView;
    prediction_curve_ = std::make_unique<views::PredictionCurveFigure>(*prediction_);
    prediction_panel_ = new Panel("Prediction", prediction_, {prediction_, prediction_curve_.get()});
    attention_row_ = new AttentionRowView;
    attention_row_panel_ = new Panel("Attention row", attention_row_, {attention_row_});

    // Every view's title has a "?" to the glossary entries its plots use.
    overview_panel->set_glossary({"state"});
    state_panel_->set_glossary({"state", "effective-rank"});
    attention_panel_->set_glossary({"exact-map", "softmax-map", "entropy"});
    attention_row_panel_->set_glossary({"attention-row", "exact-map", "softmax-map"});
    eigen_panel_->set_glossary({"spectral-radius", "half-life", "window-product"});
    curves_panel_->set_glossary({"effective-rank", "entropy", "state"});
    prediction_panel_->set_glossary({"prediction"});
    trajectory_panel_->set_glossary({"state"});
    for (Panel* p : {overview_panel, state_panel_, attention_panel_, eigen_panel_, curves_panel_, trajectory_panel_,
                     prediction_panel_, attention_row_panel_})
        connect(p, &Panel::export_requested, this, &MainWindow::export_figure);

    // Named, so that a session's layout restores each one (session_state.h).
    auto* right = new QSplitter(Qt::Vertical);
    right->setObjectName("attentionEigenSplitter");
    right->addWidget(attention_panel_);
    right->addWidget(eigen_panel_);
    right->setStretchFactor(0, 1);
    right->setStretchFactor(1, 1);
    auto* middle = new QSplitter(Qt::Vertical);
    middle->addWidget(state_panel_);
    middle->addWidget(attention_row_panel_);
    middle->setSizes({350, 290});
    auto* top = new QSplitter(Qt::Horizontal);
    top->setObjectName("topSplitter");
    top->addWidget(overview_panel);
    top->addWidget(middle);
    top->addWidget(right);
    top->setStretchFactor(0, 0);
    top->setStretchFactor(1, 3);
    top->setStretchFactor(2, 4);
    top->setSizes({230, 560, 780});
    auto* bottom = new QSplitter(Qt::Horizontal);
    bottom->setObjectName("bottomSplitter");
    bottom->addWidget(curves_panel_);
    bottom->addWidget(prediction_panel_);
    bottom->addWidget(trajectory_panel_);
    bottom->setSizes({620, 560, 390});
    auto* main = new QSplitter(Qt::Vertical);
    main->setObjectName("mainSplitter");
    main->addWidget(top);
    main->addWidget(bottom);
    main->setSizes({640, 300});
    v->addWidget(main, 1);
    setCentralWidget(central);

    // Requests from the views and the transport go to the controller; the controller's signals
    // come back to on_*.
    connect(strip_, &TokenStrip::token_clicked, controller_, &Controller::set_token);
    connect(curves_, &CurvesView::token_clicked, controller_, &Controller::set_token);
    connect(prediction_, &PredictionView::token_clicked, controller_, &Controller::set_token);
    connect(overview_, &OverviewGrid::focus_requested, controller_, &Controller::set_focus);
    connect(exact_, &HeatmapView::clicked, this, [this](int row, int) { controller_->set_token(row); });
    connect(softmax_, &HeatmapView::clicked, this, [this](int row, int) { controller_->set_token(row); });
    connect(transport_, &TransportBar::token_requested, controller_, &Controller::set_token);
    connect(transport_, &TransportBar::step_requested, this, [this](int64_t d) {
        // Playback stops at the end instead of clamping there forever.
        if (transport_->playing() && controller_->token() + d >= controller_->length()) transport_->set_playing(false);
        else controller_->step(d);
    });
    connect(transport_, &TransportBar::focus_requested, controller_, &Controller::set_focus);
    connect(transport_, &TransportBar::window_requested, controller_, &Controller::set_window);

    model_label_ = new QLabel("no model");
    memory_label_ = new QLabel;
    timing_label_ = new QLabel;
    busy_label_ = new QLabel("ready");
    statusBar()->addPermanentWidget(model_label_);
    statusBar()->addPermanentWidget(memory_label_);
    statusBar()->addPermanentWidget(timing_label_);
    statusBar()->addPermanentWidget(busy_label_);
    load_bar_ = new QProgressBar;
    load_bar_->setMaximumWidth(280);
    load_bar_->setMaximumHeight(16);
    load_bar_->hide();
    auto* cancel = new QToolButton;
    cancel->setText("Cancel");
    cancel->setToolTip("Cancel loading, or stop generating (Esc)");
    cancel->hide();
    cancel_button_ = cancel;
    connect(cancel, &QToolButton::clicked, controller_, &Controller::cancel);
    statusBar()->addPermanentWidget(load_bar_);
    statusBar()->addPermanentWidget(cancel);
}

void MainWindow::on_load_progress(const QString& phase, int64_t done, int64_t total) {
    if (phase == "running" && total > 0) {
        // QProgressBar counts in int: long sequences are shown in units that fit.
        const int64_t unit = std::max<int64_t>(1, total / 1000000 + 1);
        load_bar_->setRange(0, int(total / unit));
        load_bar_->setValue(int(done / unit));
        load_bar_->setFormat(QString("running %1 / %2 tokens").arg(done).arg(total));
    } else {
        load_bar_->setRange(0, 0); // no measure of the work yet: a busy bar
        load_bar_->setFormat(phase == "opening" ? "opening the checkpoint…" : phase + "…");
    }
    update_load_controls();
}

void MainWindow::update_load_controls() {
    const bool loading = controller_->loading();
    load_bar_->setVisible(loading);
    cancel_button_->setVisible(loading || controller_->generating());
}

void MainWindow::build_menus() {
    QMenu* file = menuBar()->addMenu("&File");
    file->addAction("&Open Model Folder…", QKeySequence::Open, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, "Open a model folder (config.json + model.safetensors)");
        if (!dir.isEmpty()) open_model(dir);
    });
    file->addAction("Open &config.json…", this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, "Open a model's config.json", {}, "Model config (config.json);;JSON (*.json)");
        if (!f.isEmpty()) open_model(f);
    });
    recent_menu_ = file->addMenu("Open &Recent");
    update_recent_menu();
    file->addSeparator();
    QMenu* marks = new QMenu("&Bookmarks", this);
    sessions_->add_actions(file, marks);
    file->addSeparator();
    file->addAction("Export State &Picture…", QKeySequence("Ctrl+E"), this, [this] { export_figure(state_, true); });
    file->addAction("Export State &Data…", QKeySequence("Ctrl+Shift+E"), this, [this] { export_figure(state_, false); });
    file->addSeparator();
    file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);

    QMenu* seq = menuBar()->addMenu("&Sequence");
    seq->addAction("Set &Prompt Text…", this, &MainWindow::ask_prompt);
    seq->addAction("Set &Token IDs…", this, &MainWindow::ask_token_ids);
    seq->addAction("&Continue from Current Token…", QKeySequence("Ctrl+G"), this, &MainWindow::ask_continue);
    seq->addAction("&Cancel Loading / Stop Generating", QKeySequence(Qt::Key_Escape), controller_, &Controller::cancel);
    seq->addSeparator();
    seq->addAction("Play / Pause", this, [this] { transport_->toggle_playing(); });

    menuBar()->addMenu(marks);

    QMenu* help = menuBar()->addMenu("&Help");
    help->addAction("&About Statescope", this, [this] {
        QMessageBox::about(this, "About Statescope",
                           "<b>Statescope</b><br>Looks inside linear-attention and state-space models while they run: "
                           "every recurrent layer in the common form S_t = A_t S_{t-1} + β k vᵀ, its state, the exact "
                           "attention it implies and the spectrum of its transitions.");
    });
}

void MainWindow::build_shortcuts() {
    auto add = [this](QKeySequence key, std::function<void()> f) {
        auto* s = new QShortcut(key, this);
        connect(s, &QShortcut::activated, this, std::move(f));
    };
    add(Qt::Key_Left, [this] { controller_->step(-1); });
    add(Qt::Key_Right, [this] { controller_->step(+1); });
    add(Qt::Key_Space, [this] { transport_->toggle_playing(); });
    add(Qt::Key_Home, [this] { controller_->set_token(0); });
    add(Qt::Key_End, [this] { controller_->set_token(controller_->length() - 1); });
}

namespace {
// config.json's vocab_size of a model folder (or of the config file itself); -1 when unreadable.
int64_t vocabulary_size(const QString& path) {
    const QFileInfo fi(path);
    QFile f(fi.isDir() ? QDir(path).filePath("config.json") : path);
    if (!f.open(QIODevice::ReadOnly)) return -1;
    const QJsonValue v = QJsonDocument::fromJson(f.readAll()).object().value("vocab_size");
    return v.isDouble() ? int64_t(v.toDouble()) : -1;
}
} // namespace

void MainWindow::open_model(const QString& path) {
    show_error({});
    const QString target = model_path_of(path);
    // Token ids mean something only in their model's vocabulary: another model with another
    // vocabulary opens on its own task sample (or the sample prompt) instead. Text the user
    // typed is tokenized anew for every model, so it carries over.
    // The sample prompt is no one's text: a model with another vocabulary opens on its own
    // default (a task model cannot read English).
    const ModelSummary* open = controller_->model();
    bool own_text = false;
    try {
        own_text = input_.text && *input_.text != sample_prompt();
    } catch (const Error&) {
        own_text = bool(input_.text);
    }
    if (open && !own_text && vocabulary_size(target) != open->info.vocab_size) {
        try {
            input_ = initial_input(CommandLine{}, target);
        } catch (const Error&) {
            input_ = frames::tokens_from_text(sample_prompt());
        }
    }
    sessions_->sequence_started(input_);
    controller_->open_model(target, input_);
}

QString MainWindow::error_text() const { return error_bar_->isVisible() || !error_->text().isEmpty() ? error_->text() : QString(); }

std::vector<views::Panel*> MainWindow::panels() const {
    return {overview_panel_, state_panel_, attention_panel_, eigen_panel_, curves_panel_, trajectory_panel_, prediction_panel_,
            attention_row_panel_};
}

std::vector<views::Figure*> MainWindow::figures() const {
    return {state_, exact_, softmax_, eigen_, curves_, overview_, trajectory_, prediction_, prediction_curve_.get(), attention_row_};
}

QStringList MainWindow::export_all(const QString& dir) {
    QStringList errors;
    if (!QDir().mkpath(dir)) return {dir + ": cannot create the folder"};
    for (views::Figure* f : figures()) {
        const QString base = QDir(dir).filePath(f->figure_name());
        QString error;
        const views::FigureMetadata meta = export_metadata();
        for (const char* ext : {".png", ".svg", ".pdf"})
            if (!views::export_figure_image(*f, base + ext, &error, meta)) errors << error;
        for (const char* ext : {".csv", ".npy"})
            if (!views::export_figure_data(*f, base + ext, &error, meta)) errors << error;
    }
    return errors;
}

void MainWindow::show_error(const QString& text) {
    error_->setText(text);
    error_bar_->setVisible(!text.isEmpty());
}

void MainWindow::update_recent_menu() {
    recent_menu_->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString& path : recent) recent_menu_->addAction(path, this, [this, path] { open_model(path); });
    recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::remember_recent(const QString& path) {
    QSettings s;
    QStringList recent = s.value("recentModels").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent) recent.removeLast();
    s.setValue("recentModels", recent);
    update_recent_menu();
}

QString MainWindow::export_file_name(const views::Figure& f) const {
    const views::FigureMetadata m = export_metadata();
    QString name = f.figure_name();
    if (m.layer >= 0) name += QString("_L%1").arg(m.layer);
    if (m.head >= 0) name += QString("_H%1").arg(m.head);
    if (m.token >= 0) name += QString("_T%1").arg(m.token);
    return name;
}

void MainWindow::export_figure(views::Figure* f, bool image) {
    const QString filter = image ? "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)" : "CSV table (*.csv);;NumPy array (*.npy)";
    const QString path = QFileDialog::getSaveFileName(this, image ? "Export picture" : "Export data",
                                                      export_file_name(*f) + (image ? ".png" : ".csv"), filter);
    if (path.isEmpty()) return;
    QString error;
    const views::FigureMetadata meta = export_metadata();
    const bool ok = image ? views::export_figure_image(*f, path, &error, meta) : views::export_figure_data(*f, path, &error, meta);
    if (ok) statusBar()->showMessage("Wrote " + path, 5000);
    else show_error(error);
}

void MainWindow::ask_prompt() {
    bool ok = false;
    std::string current; // the text shown, else the sample prompt, else nothing
    try {
        current = input_.text ? *input_.text : sample_prompt();
    } catch (const Error&) {
    }
    const QString text = QInputDialog::getMultiLineText(this, "Prompt", "Text to run (tokenized with the model's tokenizer, or byte by byte when it has none):",
                                                        QString::fromStdString(current), &ok);
    if (!ok || text.isEmpty()) return;
    input_ = frames::tokens_from_text(text.toStdString());
    sessions_->sequence_started(input_);
    controller_->set_tokens(input_);
}

void MainWindow::ask_token_ids() {
    bool ok = false;
    const QString text = QInputDialog::getText(this, "Token ids", "Token ids (comma or space separated):", QLineEdit::Normal, {}, &ok);
    if (!ok || text.isEmpty()) return;
    set_token_ids(text);
}

bool MainWindow::set_token_ids(const QString& text) {
    try {
        frames::TokenInput input;
        input.description = "token ids";
        input.ids = frames::parse_token_ids(text.toStdString(), "Token ids", false, &input.labels);
        if (const ModelSummary* m = controller_->model())
            for (size_t i = 0; i < input.ids.size(); ++i)
                if (input.ids[i] >= m->info.vocab_size)
                    throw Error("Token id " + input.labels[i] + " (item " + std::to_string(i + 1) + ") is outside the vocabulary of " +
                                QFileInfo(QString::fromStdString(m->path)).fileName().toStdString() + " (ids 0.." +
                                std::to_string(m->info.vocab_size - 1) + ")");
        input_ = std::move(input);
        sessions_->sequence_started(input_);
        show_error({});
        controller_->set_tokens(input_);
        return true;
    } catch (const std::exception& e) {
        show_error(QString::fromStdString(e.what()));
        return false;
    }
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    if (e->mimeData()->hasUrls() && !e->mimeData()->urls().isEmpty() && e->mimeData()->urls().first().isLocalFile())
        e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    const QString path = e->mimeData()->urls().first().toLocalFile();
    e->acceptProposedAction();
    if (path.endsWith(".statescope")) sessions_->open(path);
    else open_model(path);
}

void MainWindow::closeEvent(QCloseEvent* e) {
    transport_->set_playing(false);
    if (!sessions_->confirm_close()) {
        e->ignore();
        return;
    }
    e->accept();
}

void MainWindow::ask_continue() {
    // Generation continues from the current token: greedy by default, or sampled with a seed.
    // From a middle token it replaces the tokens after it: never without asking.
    const int64_t token = controller_->token(), after = controller_->length() - 1 - token;
    if (controller_->has_model() && after > 0) {
        const auto answer = QMessageBox::question(
            this, "Continue from token " + QString::number(token),
            QString("Continuing from token %1 drops the %2 token%3 after it (%4 to %5); the model's own tokens replace them.\n\n"
                    "Drop them and continue?")
                .arg(token).arg(after).arg(after == 1 ? "" : "s").arg(token + 1).arg(controller_->length() - 1),
            QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
        if (answer != QMessageBox::Yes) return;
    }
    QDialog dialog(this);
    dialog.setWindowTitle("Continue from token " + QString::number(controller_->token()));
    auto* form = new QFormLayout(&dialog);
    auto* count = new QSpinBox(&dialog);
    count->setRange(1, 4096);
    count->setValue(32);
    auto* temperature = new QDoubleSpinBox(&dialog);
    temperature->setRange(0.0, 5.0);
    temperature->setSingleStep(0.1);
    temperature->setValue(0.0);
    temperature->setSpecialValueText("0 (greedy)");
    auto* top_k = new QSpinBox(&dialog);
    top_k->setRange(0, 1 << 20);
    top_k->setSpecialValueText("no limit");
    auto* top_p = new QDoubleSpinBox(&dialog);
    top_p->setRange(0.01, 1.0);
    top_p->setSingleStep(0.05);
    top_p->setValue(1.0);
    auto* seed = new QSpinBox(&dialog);
    seed->setRange(0, 1 << 30);
    form->addRow("Tokens to generate", count);
    form->addRow("Temperature", temperature);
    form->addRow("Top-k", top_k);
    form->addRow("Top-p", top_p);
    form->addRow("Seed", seed);
    form->addRow(new QLabel("Tokens appear one by one and the views follow; Esc stops.", &dialog));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted) return;
    SamplingOptions opt;
    opt.temperature = float(temperature->value());
    opt.top_k = top_k->value();
    opt.top_p = float(top_p->value());
    opt.seed = uint64_t(seed->value());
    sessions_->continuation_started(controller_->token(), count->value(), opt);
    controller_->continue_from(controller_->token(), count->value(), opt);
}

void MainWindow::on_model_loaded() {
    const ModelSummary& m = *controller_->model();
    show_error({});
    statusBar()->clearMessage();
    update_load_controls();
    const QString path = QString::fromStdString(m.path), backend = QString::fromStdString(m.backend);
    remember_recent(path);
    const QString name = QFileInfo(path).fileName();
    model_label_->setText(QString("%1 · %2 · %3 layers · %4 params · %5")
                              .arg(name, QString::fromStdString(m.info.family))
                              .arg(m.info.num_layers)
                              .arg(human_count(m.info.parameters))
                              .arg(QString::fromStdString(m.info.weight_dtype)));
    memory_label_->setText(QString("state %1 at the end · checkpoints every %2 tok (%3)")
                               .arg(human_bytes(double(m.end_state_bytes)))
                               .arg(m.checkpoint_interval)
                               .arg(human_bytes(double(m.checkpoint_bytes))));
    std::vector<QString> labels;
    for (const std::string& l : m.labels) labels.push_back(QString::fromStdString(l));
    strip_->set_tokens(std::move(labels), m.tokens);
    strip_->set_generated_from(m.generated_from);
    transport_->set_length(int64_t(m.tokens.size()));
    transport_->set_layers(m.info.num_layers, controller_->heads_of(controller_->layer()));
    timing_label_->setText(QString("load %1 ms · run %2 ms (%3 tokens) on %4")
                               .arg(m.load_ms, 0, 'f', 0)
                               .arg(m.run_ms, 0, 'f', 0)
                               .arg(m.tokens_run)
                               .arg(backend.section(" (", 0, 0)));
    timing_label_->setToolTip("Runs on " + backend + ". STATESCOPE_BACKEND=cpu|vulkan|auto chooses.");
    strip_->set_description(QString("%1 tokens · %2").arg(m.tokens.size()).arg(QString::fromStdString(m.tokens_from)));
    model_label_->setToolTip(path);
    // Last: a session being opened restores its position and views over what was set up above.
    sessions_->model_loaded();
}

void MainWindow::on_token_changed(int64_t token) {
    strip_->set_current(token);
    transport_->set_token(token);
    curves_->set_current(token);
    prediction_->set_current(token);
    trajectory_->set_current(token);
}

void MainWindow::on_focus_changed(int layer, int head) {
    transport_->set_focus(layer, head, controller_->heads_of(layer));
    overview_->set_focus(layer, head);
}

void MainWindow::on_frame() {
    const FrameResult& f = *controller_->frame();
    const ModelSummary& m = *controller_->model();
    const LayerInfo& L = m.info.layers[size_t(f.layer)];
    const QString where = QString("layer %1 · head %2 · after token %3").arg(f.layer).arg(f.head).arg(f.token);
    views::show_state(*state_, f, L);
    if (f.recurrent)
        state_panel_->set_info(QString("‖S‖ %1 · eff. rank %2/%3")
                                   .arg(views::style::format_number(f.state_norm))
                                   .arg(f.effective_rank, 0, 'f', 2)
                                   .arg(std::min(L.key_dim, L.value_dim)));
    else
        state_panel_->set_info(QString("‖K‖_F %1").arg(views::style::format_number(f.state_norm)));
    views::show_eigen(*eigen_, f);
    eigen_panel_->set_info(where);
    views::show_attention(*exact_, *softmax_, f, m.labels);
    softmax_->setVisible(f.recurrent);
    softmax_scale_->setVisible(f.recurrent);
    attention_panel_->set_info(QString("tokens %1–%2 · row entropy: exact %3, softmax %4 nats")
                                   .arg(f.window_first).arg(f.token)
                                   .arg(f.exact_entropy, 0, 'f', 2).arg(f.softmax_entropy, 0, 'f', 2));
    views::show_overview(*overview_, f);
    views::show_prediction(*prediction_, f, m.labels);
    views::show_attention_row(*attention_row_, f, m.labels);
    attention_row_panel_->set_info(where);
    const frames::Prediction& pr = f.prediction;
    prediction_panel_->set_info(pr.target >= 0 ? QString("%1 rank %2 · p %3").arg(pr.task_target ? "target" : "next token")
                                                     .arg(pr.target_rank).arg(views::style::format_number(pr.target_prob))
                                               : QString("after token %1").arg(f.token));
    const QString device = controller_->model() ? QString::fromStdString(controller_->model()->backend).section(" (", 0, 0) : QString();
    timing_label_->setText(QString("frame %1 ms%2").arg(f.compute_ms, 0, 'f', 1).arg(device.isEmpty() ? "" : " on " + device));
}

void MainWindow::on_sequence() {
    const SequenceResult& s = *controller_->sequence();
    views::show_curves(*curves_, s, controller_->token());
    views::show_prediction_curve(*prediction_, s, controller_->token());
    strip_->set_marks(s.prediction.predicted, s.prediction.targets);
    // The time goes in the tooltip: what the panel shows depends only on the data (a reopened
    // session shows the same pixels).
    curves_panel_->set_info(QString("layer %1 · %2 tokens").arg(s.layer).arg(controller_->length()));
    curves_panel_->setToolTip(QString("curves computed in %1 ms").arg(s.compute_ms, 0, 'f', 0));
    trajectory_->set_data(s.trajectory); // empty for a softmax layer: it has no state to follow
    trajectory_->set_current(controller_->token());
    trajectory_panel_->set_info(s.curves.softmax_layer
                                    ? QString("layer %1 is softmax attention: no state trajectory").arg(s.layer)
                                    : QString("layer %1 · head %2 · drag to rotate, wheel to zoom").arg(s.layer).arg(s.head));
}

views::FigureMetadata MainWindow::export_metadata() const {
    const Controller& c = *controller_;
    views::FigureMetadata m;
    if (!c.model()) return m;
    m.model = QString::fromStdString(c.model()->path);
    m.layer = c.layer();
    m.head = c.head();
    m.token = c.token();
    m.window = c.window();
    return m;
}

} // namespace statescope::app
