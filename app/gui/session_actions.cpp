#include "session_actions.h"

#include "bookmarks_panel.h"
#include "lesson_player.h"
#include "main_window.h"
#include "session_state.h"
#include "statescope/error.h"
#include "views/heatmap_view.h"
#include "views/scale_control.h"
#include "views/token_strip.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <cstdio>
#include <signal.h>
#include <unistd.h>

namespace statescope::app {

namespace {

constexpr int kMaxRecentSessions = 8;
constexpr const char* kSuffix = ".statescope";

QString file_stamp(const QString& path) {
    const QFileInfo fi(path);
    return fi.exists() ? QString("%1:%2").arg(fi.lastModified().toMSecsSinceEpoch()).arg(fi.size()) : QString();
}

} // namespace

SessionActions::SessionActions(MainWindow& window) : QObject(&window), window_(window) {
    panel_ = new BookmarksPanel;
    dock_ = new QDockWidget("Bookmarks", &window);
    dock_->setObjectName("bookmarksDock"); // saveState() names docks by object name
    dock_->setWidget(panel_);
    window.addDockWidget(Qt::RightDockWidgetArea, dock_);
    dock_->hide(); // shown by the menu, Ctrl+D, or a session with bookmarks

    const QByteArray delay = qgetenv("STATESCOPE_AUTOSAVE_MS");
    bool ok = false;
    if (!delay.isEmpty()) {
        const int ms = delay.toInt(&ok);
        if (ok && ms >= 0) autosave_ms_ = ms;
        else std::fprintf(stderr, "statescope: STATESCOPE_AUTOSAVE_MS=%s is not a delay in milliseconds; using %d\n",
                          delay.constData(), autosave_ms_);
    }
    recovery_path_ = qEnvironmentVariable("STATESCOPE_RECOVERY_FILE");
    if (recovery_path_.isEmpty())
        recovery_path_ = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/recovery" + kSuffix;
    autosave_timer_.setSingleShot(true);
    connect(&autosave_timer_, &QTimer::timeout, this, [this] { autosave(); });

    Controller& c = window.controller();
    connect(&c, &Controller::load_cancelled, this, [this] {
        if (pending_) window_.statusBar()->showMessage("Cancelled opening " + pending_->file, 5000);
        pending_.reset();
    });
    connect(&c, &Controller::token_changed, this, &SessionActions::mark_changed);
    connect(&c, &Controller::focus_changed, this, &SessionActions::mark_changed);
    connect(&c, &Controller::window_changed, this, &SessionActions::mark_changed);
    for (views::ScaleControl* s : {window.state_scale(), window.exact_scale(), window.softmax_scale()}) {
        connect(s->mode_box(), &QComboBox::currentIndexChanged, this, &SessionActions::mark_changed);
        connect(s->limit_box(), &QDoubleSpinBox::valueChanged, this, &SessionActions::mark_changed);
    }
    connect(panel_, &BookmarksPanel::changed, this, [this] {
        show_annotations();
        mark_changed();
        if (undo_action_) undo_action_->setEnabled(panel_->can_undo_remove());
    });
    connect(panel_, &BookmarksPanel::jump_requested, this, &SessionActions::jump_to);
    connect(panel_, &BookmarksPanel::add_requested, this, [this] { add_bookmark(); });
    connect(panel_, &BookmarksPanel::annotate_requested, this, &SessionActions::annotate_current);
    connect(panel_, &BookmarksPanel::pin_requested, this, &SessionActions::pin_current);
    connect(panel_, &BookmarksPanel::annotation_jump_requested, &c, &Controller::set_token);

    // Dialogs; tests replace them.
    locate = [this](const QString& message, bool changed) -> QString {
        QMessageBox box(QMessageBox::Warning, "Locate the model", message, QMessageBox::Cancel, &window_);
        QPushButton* find = box.addButton("Locate…", QMessageBox::AcceptRole);
        QPushButton* anyway = changed ? box.addButton("Open Anyway", QMessageBox::DestructiveRole) : nullptr;
        box.exec();
        if (box.clickedButton() == anyway && anyway) return "\n";
        if (box.clickedButton() != find) return {};
        return QFileDialog::getExistingDirectory(&window_, "Locate the session's model folder (config.json + model.safetensors)");
    };
    ask_save_changes = [this](const QString& question) {
        return QMessageBox::question(&window_, "Unsaved changes", question,
                                     QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    };
    confirm_overwrite = [this](const QString& question) {
        return QMessageBox::question(&window_, "The file changed", question) == QMessageBox::Yes;
    };
}

SessionActions::~SessionActions() { remove_recovery(); }

void SessionActions::add_actions(QMenu* file, QMenu* marks) {
    file->addAction("Open &Session…", QKeySequence("Ctrl+Shift+O"), this, [this] {
        const QString f = QFileDialog::getOpenFileName(&window_, "Open a session", {}, "Statescope sessions (*.statescope)");
        if (!f.isEmpty()) open(f);
    });
    recent_menu_ = file->addMenu("Recent Sessions");
    update_recent_menu();
    file->addAction("&Save Session", QKeySequence::Save, this, [this] { save(); });
    file->addAction("Save Session &As…", QKeySequence("Ctrl+Shift+S"), this, [this] {
        const QString f = QFileDialog::getSaveFileName(&window_, "Save the session", path_.isEmpty() ? "untitled.statescope" : path_,
                                                       "Statescope sessions (*.statescope)");
        if (!f.isEmpty()) save_as(f);
    });
    marks->addAction("&Add Bookmark", QKeySequence("Ctrl+D"), this, [this] { add_bookmark(); });
    undo_action_ = marks->addAction("&Undo Delete Bookmark", this, [this] { panel_->undo_remove(); });
    undo_action_->setEnabled(false);
    marks->addAction("Annotate Current &Token…", this, &SessionActions::annotate_current);
    marks->addAction("&Pin Focused State", this, &SessionActions::pin_current);
    marks->addSeparator();
    QAction* show = dock_->toggleViewAction();
    show->setText("Show Bookmarks &Panel");
    marks->addAction(show);
}

bool SessionActions::open(const QString& path, const QString& bookmark) {
    const QString file = QFileInfo(path).absoluteFilePath();
    session::Session s;
    try {
        s = session::load(file.toStdString());
    } catch (const Error& e) {
        fail(file, QString::fromStdString(e.what()));
        return false;
    }
    if (!bookmark.isEmpty()) {
        bool found = false;
        for (const session::Bookmark& b : s.bookmarks) found = found || QString::fromStdString(b.name) == bookmark;
        if (!found) {
            fail(file, file + ": has no bookmark named '" + bookmark + "'");
            return false;
        }
    }
    const QString model = resolve_model(s, file);
    if (model.isEmpty()) return false;
    Pending p;
    try {
        p.input = input_of(s, file.toStdString(), model.toStdString());
    } catch (const Error& e) {
        fail(file, QString::fromStdString(e.what()));
        return false;
    }
    // The recovery file restores the session it autosaved, under that session's file name.
    p.recovery = file == QFileInfo(recovery_path_).absoluteFilePath();
    p.session = std::move(s);
    p.file = file;
    p.bookmark = bookmark;
    p.model = model;
    const TokenInput input = p.input;
    pending_ = std::move(p);
    window_.show_error({});
    window_.statusBar()->showMessage("Opening the session " + file + " …");
    window_.controller().open_model(model, input);
    return true;
}

QString SessionActions::resolve_model(const session::Session& s, const QString& file) {
    QString model = QString::fromStdString(s.model.path);
    auto identity_of = [](const QString& dir, QString* error) -> std::string {
        try {
            return session::model_identity(dir.toStdString());
        } catch (const Error& e) {
            *error = QString::fromStdString(e.what());
            return {};
        }
    };
    const QString saved_id = QString::fromStdString(s.model.identity);
    QString problem, error;
    bool changed = false;
    if (!QFileInfo::exists(model + "/config.json") && !QFileInfo(model).isFile()) {
        problem = file + ": its model " + model + " is not there any more (moved or deleted)";
    } else {
        const QString id = QString::fromStdString(identity_of(model, &error));
        if (id.isEmpty()) problem = file + ": its model " + model + " cannot be read: " + error;
        else if (id != saved_id) {
            changed = true;
            problem = file + ": the checkpoint at " + model + " has changed since the session was saved (identity " + saved_id +
                      ", now " + id + ")";
        }
    }
    while (!problem.isEmpty()) {
        const QString answer = locate(problem + "\n\nLocate the model folder the session was made with?", changed);
        if (answer.isEmpty()) {
            fail(file, problem);
            return {};
        }
        if (answer == "\n") return model; // open the changed checkpoint as it is
        const QString id = QString::fromStdString(identity_of(answer, &error));
        if (id.isEmpty()) {
            changed = false;
            problem = file + ": " + answer + " is not a checkpoint the session can use: " + error;
        } else if (id != saved_id) {
            changed = true;
            model = answer;
            problem = file + ": " + answer + " holds another checkpoint than the session's (identity " + id + ", the session's " +
                      saved_id + ")";
        } else {
            return QFileInfo(answer).absoluteFilePath();
        }
    }
    return model;
}

void SessionActions::model_loaded() {
    const ModelSummary* m = window_.controller().model();
    if (!m) return;
    if (identity_path_ != m->path) {
        // The identity the session records is the checkpoint's as it was loaded.
        identity_path_ = m->path;
        try {
            identity_ = session::model_identity(m->path);
        } catch (const Error& e) {
            identity_.clear();
            window_.statusBar()->showMessage(QString("This checkpoint has no identity for sessions: ") + e.what(), 8000);
        }
    }
    if (pending_ && pending_->model.toStdString() == m->path) {
        // After the controller has posted its own requests for the new model (it emits
        // model_loaded first), so that the restored position's request is the latest.
        QMetaObject::invokeMethod(this, [this] {
            if (pending_ && window_.controller().model() && pending_->model.toStdString() == window_.controller().model()->path)
                apply_pending();
        }, Qt::QueuedConnection);
        return;
    }
    if (pending_) return; // another model the engine kept; the session's load answers next
    const int64_t n = window_.controller().length();
    if (generation_) {
        const int64_t keep = std::min(generation_->first, n);
        std::vector<session::SequencePart> kept;
        for (session::SequencePart p : parts_)
            if (p.first < keep) {
                p.count = std::min(p.count, keep - p.first);
                kept.push_back(p);
            }
        if (n > keep) kept.push_back({keep, n - keep, "generation", generation_->second});
        parts_ = std::move(kept);
    } else {
        parts_ = {part_of(window_.token_input(), n)};
    }
    // A shorter sequence leaves marks past its end; the session cannot be saved with them (the
    // store refuses positions outside the sequence), so say which before a save fails.
    QStringList past;
    for (const session::Bookmark& b : panel_->bookmarks())
        if (b.token >= n) past << "bookmark '" + QString::fromStdString(b.name) + "'";
    for (const session::Annotation& a : panel_->annotations())
        if (a.token >= n) past << QString("the annotation on token %1").arg(a.token);
    for (const session::PinnedState& p : panel_->pinned())
        if (p.token >= n) past << "pinned state '" + QString::fromStdString(p.name) + "'";
    if (!past.isEmpty())
        window_.show_error(QString("The sequence now has %1 tokens; %2 %3 past its end. Delete %4 or make the sequence "
                                   "longer before saving the session.")
                               .arg(n)
                               .arg(past.join(", "))
                               .arg(past.size() == 1 ? "points" : "point")
                               .arg(past.size() == 1 ? "it" : "them"));
    mark_changed();
    update_title();
    if (!tracking_) QTimer::singleShot(0, this, [this] { tracking_ = true; }); // the first model is no change
}

void SessionActions::model_load_failed(const QString& message) {
    if (!pending_) return;
    const Pending p = std::move(*pending_);
    pending_.reset();
    fail(p.file, p.file + ": its model " + p.model + " did not load: " + message);
}

void SessionActions::apply_pending() {
    const Pending p = std::move(*pending_);
    pending_.reset();
    const session::Session& s = p.session;
    Controller& c = window_.controller();
    applying_ = true; // what follows restores, it changes nothing
    window_.set_token_input(p.input);
    const bool layout_restored = !s.layout.empty() && restore_layout(window_, s.layout);
    if (!s.layout.empty() && !layout_restored)
        window_.statusBar()->showMessage("The session's panel layout is not one this window can use; kept the current one", 8000);
    c.set_window(s.window);
    const std::pair<const char*, std::pair<views::ScaleControl*, views::HeatmapView*>> scales[] = {
        {"state", {window_.state_scale(), window_.state_view()}},
        {"attention", {window_.exact_scale(), window_.exact_attention_view()}},
        {"attention-softmax", {window_.softmax_scale(), window_.softmax_attention_view()}},
    };
    for (const auto& [name, control] : scales) {
        session::ViewSettings settings{name, "per-frame", 0};
        for (const session::ViewSettings& v : s.views)
            if (v.view == name) settings = v;
        if (!apply_scale(*control.first, *control.second, settings)) control.first->set_mode(views::ScaleMode::PerFrame);
    }
    panel_->set_contents(s.bookmarks, s.annotations, s.pinned);
    show_annotations();
    // A saved layout says whether the panel was open; a session without one (statescope-cli
    // session save) shows its bookmarks.
    if (!layout_restored && (!s.bookmarks.empty() || !s.annotations.empty() || !s.pinned.empty())) dock_->show();
    parts_ = s.parts;
    generation_.reset();
    lesson_ = s.lesson;
    lesson_step_ = s.lesson_step;
    QString lesson_note;
    if (!s.lesson.empty()) {
        // The lesson dock shows the saved step; the session's own position stays (a step applied
        // again would move it). A lesson this installation lacks is kept in the file and named.
        QString why;
        if (!window_.lesson_player()->open(QString::fromStdString(s.lesson), s.lesson_step, &why, /*apply=*/false))
            lesson_note = " — its lesson is not shown: " + why;
    }
    const session::Bookmark* mark = nullptr;
    for (const session::Bookmark& b : s.bookmarks)
        if (QString::fromStdString(b.name) == p.bookmark) mark = &b;
    if (mark) {
        c.jump(mark->token, mark->layer, mark->head);
        panel_->select(int(mark - s.bookmarks.data()));
    } else {
        c.jump(s.token, s.layer, s.head);
    }
    applying_ = false;
    tracking_ = true;
    QString note;
    if (c.model()->tokens != s.tokens)
        note = " — its tokens came out differently from the saved ones (has the model's tokenizer changed?)";
    note += lesson_note;
    if (p.recovery) {
        path_ = layout_value(s.layout, "file");
        owns_recovery_ = true;
        autosave_due_ = false;
        set_modified(true);
    } else {
        path_ = p.file;
        set_modified(false);
        remember_file_stamp();
        remember_recent(p.file);
    }
    update_title();
    if (!note.isEmpty()) window_.show_error(p.file + note);
    window_.statusBar()->showMessage((p.recovery ? "Restored the autosaved session from " : "Opened the session ") + p.file, 5000);
    emit session_opened(p.file);
}

void SessionActions::show_annotations() {
    std::map<int64_t, QString> notes;
    for (const session::Annotation& a : panel_->annotations()) {
        QString& text = notes[a.token];
        text += (text.isEmpty() ? "" : "\n") + QString::fromStdString(a.text);
    }
    window_.token_strip()->set_notes(std::move(notes));
}

void SessionActions::fail(const QString& file, const QString& message) {
    window_.statusBar()->clearMessage();
    window_.show_error("Could not open the session: " + message);
    emit session_failed(file, message);
}

QString SessionActions::model_identity_now() const { return QString::fromStdString(identity_); }

session::Session SessionActions::capture(bool for_recovery) const {
    session::Session s;
    const Controller& c = window_.controller();
    const ModelSummary* m = c.model();
    if (!m) return s;
    s.model = {m->path, identity_path_ == m->path ? identity_ : std::string()};
    s.tokens = m->tokens;
    const int64_t n = int64_t(s.tokens.size());
    if (window_.token_input().text) s.text = *window_.token_input().text;
    for (session::SequencePart part : parts_) {
        if (part.first >= n) continue;
        part.count = std::min(part.count, n - part.first);
        s.parts.push_back(part);
    }
    if (s.parts.empty()) s.parts = {part_of(window_.token_input(), n)};
    s.token = c.token();
    s.layer = c.layer();
    s.head = c.head();
    s.window = c.window();
    const std::pair<const char*, const views::HeatmapView*> views[] = {
        {"state", window_.state_view()}, {"attention", window_.exact_attention_view()},
        {"attention-softmax", window_.softmax_attention_view()}};
    for (const auto& [name, view] : views) {
        const std::string scale = scale_name(*view);
        s.views.push_back({name, scale, scale == "fixed" ? view->limit() : 0.0});
    }
    QVariantMap extra;
    if (for_recovery) {
        extra["file"] = path_;              // the session the recovered state belongs to
        extra["pid"] = qint64(getpid());    // a running Statescope's autosave is not a crash's
    }
    s.layout = capture_layout(window_, extra);
    s.bookmarks = panel_->bookmarks();
    s.annotations = panel_->annotations();
    s.pinned = panel_->pinned();
    s.lesson = lesson_;
    s.lesson_step = lesson_step_;
    if (const lessons::Lesson* open = window_.lesson_player()->lesson()) {
        s.lesson = open->name;
        s.lesson_step = window_.lesson_player()->step();
    }
    return s;
}

bool SessionActions::save() {
    if (path_.isEmpty()) {
        const QString f = QFileDialog::getSaveFileName(&window_, "Save the session", "untitled.statescope",
                                                       "Statescope sessions (*.statescope)");
        return !f.isEmpty() && save_as(f);
    }
    return save_as(path_);
}

bool SessionActions::save_as(const QString& path) {
    QString file = QFileInfo(path).absoluteFilePath();
    if (!file.endsWith(kSuffix)) file += kSuffix;
    if (!window_.controller().has_model()) {
        window_.show_error("Nothing to save: no model is open");
        return false;
    }
    // Another Statescope saved this file since we opened or saved it: its changes would be lost.
    if (file == path_ && !file_stamp_.isEmpty() && QFileInfo::exists(file) && file_stamp(file) != file_stamp_ &&
        !confirm_overwrite(file + " was changed by another program (or another Statescope window) since it was opened "
                                  "here. Overwrite it with this window's session?"))
        return false;
    try {
        session::save(file.toStdString(), capture());
    } catch (const Error& e) {
        window_.show_error(QString("Could not save the session: ") + e.what());
        return false;
    }
    path_ = file;
    autosave_due_ = false;
    autosave_timer_.stop();
    set_modified(false);
    remember_file_stamp();
    remember_recent(file);
    remove_recovery(); // nothing unsaved is left to recover
    update_title();
    window_.statusBar()->showMessage("Saved " + file, 5000);
    emit saved(file);
    return true;
}

void SessionActions::remember_file_stamp() { file_stamp_ = file_stamp(path_); }

void SessionActions::mark_changed() {
    if (applying_ || !tracking_ || pending_) return;
    set_modified(true);
    autosave_due_ = true;
    if (!autosave_timer_.isActive()) autosave_timer_.start(autosave_ms_);
}

void SessionActions::set_modified(bool modified) {
    if (modified_ == modified) return;
    modified_ = modified;
    window_.setWindowModified(modified);
}

void SessionActions::update_title() {
    const ModelSummary* m = window_.controller().model();
    const QString name = path_.isEmpty() ? QString("untitled") : QFileInfo(path_).fileName();
    const QString model = m ? " — " + QFileInfo(QString::fromStdString(m->path)).fileName() : QString();
    window_.setWindowTitle(name + "[*]" + model + " — Statescope");
    window_.setWindowModified(modified_);
}

bool SessionActions::confirm_close() {
    // Position and focus alone are cheap to find again; an untitled session asks only once it
    // holds something written (bookmarks, annotations, pins). The recovery file covers the rest.
    const bool worth_asking = !path_.isEmpty() || !panel_->bookmarks().empty() || !panel_->annotations().empty() ||
                              !panel_->pinned().empty();
    if (!modified_ || !worth_asking) return true;
    const int answer = ask_save_changes("Save the changes to " + (path_.isEmpty() ? QString("the untitled session") : path_) +
                                        " before closing?");
    if (answer == QMessageBox::Cancel) return false;
    if (answer == QMessageBox::Save) return save();
    return true;
}

void SessionActions::add_bookmark(const QString& name) {
    const Controller& c = window_.controller();
    if (!c.has_model()) {
        window_.statusBar()->showMessage("Open a model before bookmarking", 5000);
        return;
    }
    session::Bookmark b;
    b.name = (name.isEmpty() ? QString("token %1, layer %2, head %3").arg(c.token()).arg(c.layer()).arg(c.head()) : name).toStdString();
    b.token = c.token();
    b.layer = c.layer();
    b.head = c.head();
    b.view = "state";
    dock_->show();
    panel_->add_bookmark(std::move(b));
}

void SessionActions::jump_to(const session::Bookmark& b) { window_.controller().jump(b.token, b.layer, b.head); }

void SessionActions::sequence_started(const frames::TokenInput&) { generation_.reset(); }

void SessionActions::continuation_started(int64_t token, int count, const SamplingOptions& sampling) {
    generation_ = std::make_pair(token + 1, generation_settings(sampling, count));
}

void SessionActions::annotate_current() {
    const Controller& c = window_.controller();
    if (!c.has_model()) return;
    bool ok = false;
    const QString text = QInputDialog::getText(&window_, "Annotate token", QString("Note on token %1:").arg(c.token()),
                                               QLineEdit::Normal, {}, &ok);
    if (!ok || text.trimmed().isEmpty()) return;
    dock_->show();
    panel_->add_annotation({c.token(), text.trimmed().toStdString()});
}

void SessionActions::pin_current() {
    const Controller& c = window_.controller();
    const auto frame = c.frame();
    if (!frame || frame->state.empty()) {
        window_.statusBar()->showMessage("No state to pin yet", 5000);
        return;
    }
    session::PinnedState p;
    p.name = QString("layer %1 head %2 after token %3").arg(frame->layer).arg(frame->head).arg(frame->token).toStdString();
    p.layer = frame->layer;
    p.token = frame->token;
    p.shape = {1, frame->state.rows, frame->state.cols}; // the focused head of the layer's [H, K, V]
    p.values = frame->state.values;
    dock_->show();
    panel_->add_pin(std::move(p));
}

void SessionActions::remember_recent(const QString& path) {
    QSettings settings;
    QStringList recent = settings.value("recentSessions").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecentSessions) recent.removeLast();
    settings.setValue("recentSessions", recent);
    update_recent_menu();
}

void SessionActions::update_recent_menu() {
    if (!recent_menu_) return;
    recent_menu_->clear();
    const QStringList recent = QSettings().value("recentSessions").toStringList();
    for (const QString& path : recent) recent_menu_->addAction(path, this, [this, path] { open(path); });
    recent_menu_->setEnabled(!recent.isEmpty());
}

} // namespace statescope::app
