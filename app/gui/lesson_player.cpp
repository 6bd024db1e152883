#include "lesson_player.h"

#include "main_window.h"
#include "transport_bar.h"
#include "statescope/error.h"
#include "views/eigen_view.h"
#include "views/heatmap_view.h"
#include "views/panel.h"
#include "views/token_strip.h"

#include <QAction>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QPushButton>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTextDocument>
#include <QVBoxLayout>

namespace statescope::app {

namespace {

// The colour lessons mark things in (views/plot_style.h's marker colour), for the focused panel.
const char* kFocusedPanel = "#panel { border: 3px solid #00aa3c; }";

QString html_escape(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }

} // namespace

QString LessonPlayer::lessons_dir() { return QString(STATESCOPE_DATA_DIR) + "/lessons"; }

QString LessonPlayer::lessons_root() { return QDir(QString(STATESCOPE_ASSETS_DIR) + "/..").absolutePath(); }

QStringList LessonPlayer::lesson_files() {
    QStringList out;
    for (const std::string& f : lessons::lesson_files(lessons_dir().toStdString())) out << QString::fromStdString(f);
    return out;
}

QString LessonPlayer::find_lesson(const QString& name) {
    if (QFileInfo(name).isFile()) return QFileInfo(name).absoluteFilePath();
    for (const QString& f : lesson_files()) {
        const QFileInfo fi(f);
        if (fi.completeBaseName() == name || fi.fileName() == name) return f;
    }
    // "4" or "04" opens the lesson numbered so.
    bool number = false;
    const int n = name.toInt(&number);
    if (number)
        for (const QString& f : lesson_files())
            if (QFileInfo(f).completeBaseName().section('-', 0, 0).toInt() == n) return f;
    return {};
}

LessonPlayer::LessonPlayer(MainWindow& window) : QDockWidget("Lesson", &window), window_(window) {
    setObjectName("lessonDock");
    setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    build_widgets();
    build_menu();
    window.addDockWidget(Qt::RightDockWidgetArea, this);
    hide(); // until a lesson opens
}

void LessonPlayer::build_widgets() {
    auto* body = new QWidget(this);
    auto* v = new QVBoxLayout(body);
    v->setContentsMargins(10, 8, 10, 8);
    lesson_title_ = new QLabel(body);
    lesson_title_->setWordWrap(true);
    lesson_title_->setStyleSheet("color: #5b6573;");
    counter_ = new QLabel(body);
    step_title_ = new QLabel(body);
    step_title_->setWordWrap(true);
    step_title_->setObjectName("lessonStepTitle");
    step_title_->setStyleSheet("font-weight: bold;");
    narration_ = new QTextBrowser(body);
    narration_->setOpenExternalLinks(true);
    narration_->setFrameShape(QFrame::NoFrame);
    question_ = new QLabel(body);
    question_->setWordWrap(true);
    question_->setTextFormat(Qt::MarkdownText);
    question_->setStyleSheet("background: #fff6d6; border: 1px solid #e5c45a; border-radius: 3px; padding: 6px;");
    claims_ = new QLabel(body);
    claims_->setWordWrap(true);
    claims_->setTextFormat(Qt::RichText);
    claims_->setStyleSheet("color: #3d4652;");
    claims_->setToolTip("Each of these is measured on the model by tests/test_lessons.cpp");
    auto* buttons = new QHBoxLayout;
    previous_ = new QPushButton("◀ Previous", body);
    next_ = new QPushButton("Next ▶", body);
    previous_->setToolTip("Previous step (PageUp or Left in presenter mode)");
    next_->setToolTip("Next step (Space, PageDown or Right in presenter mode)");
    connect(previous_, &QPushButton::clicked, this, &LessonPlayer::previous);
    connect(next_, &QPushButton::clicked, this, &LessonPlayer::next);
    buttons->addWidget(previous_);
    buttons->addWidget(counter_, 1, Qt::AlignCenter);
    buttons->addWidget(next_);
    v->addWidget(lesson_title_);
    v->addWidget(step_title_);
    v->addWidget(narration_, 1);
    v->addWidget(question_);
    v->addWidget(claims_);
    v->addLayout(buttons);
    // The buttons take no keyboard focus: the window's keys keep stepping tokens (or steps).
    previous_->setFocusPolicy(Qt::NoFocus);
    next_->setFocusPolicy(Qt::NoFocus);
    narration_->setFocusPolicy(Qt::NoFocus);
    setWidget(body);
    setMinimumWidth(340);
}

void LessonPlayer::build_menu() {
    menu_ = new QMenu("&Lessons", &window_);
    const QStringList files = lesson_files();
    for (const QString& f : files) {
        QString title = QFileInfo(f).completeBaseName();
        try {
            title = QString::fromStdString(lessons::load_lesson(f.toStdString(), lessons_root().toStdString()).title);
        } catch (const Error&) {
            title += " (cannot be read: open it to see why)";
        }
        menu_->addAction(QString("%1. %2").arg(menu_->actions().size() + 1).arg(title), this, [this, f] {
            QString error;
            if (!open(f, 0, &error)) window_.show_message(error);
        });
    }
    if (files.isEmpty()) menu_->addAction("No lessons in " + lessons_dir())->setEnabled(false);
    menu_->addSeparator();
    menu_->addAction("&Previous Step", this, &LessonPlayer::previous);
    menu_->addAction("&Next Step", this, &LessonPlayer::next);
    menu_->addAction(toggleViewAction());
    // Before Help, the last menu.
    QMenuBar* bar = window_.menuBar();
    const QList<QAction*> menus = bar->actions();
    bar->insertMenu(menus.isEmpty() ? nullptr : menus.last(), menu_);
}

bool LessonPlayer::open(const QString& name_or_path, int step, QString* error, bool apply) {
    const QString path = find_lesson(name_or_path);
    try {
        if (path.isEmpty()) throw Error("no lesson '" + name_or_path.toStdString() + "' in " + lessons_dir().toStdString());
        lessons::Lesson l = lessons::load_lesson(path.toStdString(), lessons_root().toStdString());
        if (step < 0 || step >= int(l.steps.size()))
            throw Error(path.toStdString() + ": no step " + std::to_string(step + 1) + " (the lesson has " + std::to_string(l.steps.size()) + ")");
        lesson_ = std::move(l);
    } catch (const Error& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
    show();
    index_ = -1;
    if (apply) {
        go_to(step);
    } else {
        index_ = step;
        show_step();
    }
    return true;
}

void LessonPlayer::go_to(int index) {
    if (!lesson_ || index < 0 || index >= step_count()) return;
    index_ = index;
    show_step();
    apply_step();
}

void LessonPlayer::show_step() {
    const lessons::Step& s = lesson_->steps[size_t(index_)];
    lesson_title_->setText(QString::fromStdString(lesson_->title));
    counter_->setText(QString("step %1 of %2").arg(index_ + 1).arg(step_count()));
    step_title_->setText(QString::fromStdString(s.title));
    narration_->setMarkdown(QString::fromStdString(s.narration));
    // Markdown's code spans (the formulas) come in the system's fixed font at its own size:
    // give them the narration's size, so that they grow with presenter mode too.
    narration_->ensurePolished();
    for (QTextBlock b = narration_->document()->begin(); b.isValid(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment f = it.fragment();
            if (!f.charFormat().fontFixedPitch() && f.charFormat().fontFamilies().toStringList().join(',').indexOf("mono", 0, Qt::CaseInsensitive) < 0) continue;
            QTextCursor c(narration_->document());
            c.setPosition(f.position());
            c.setPosition(f.position() + f.length(), QTextCursor::KeepAnchor);
            QTextCharFormat fmt;
            fmt.setFontPointSize(narration_->font().pointSizeF());
            c.mergeCharFormat(fmt);
        }
    question_->setText("**Question for the class:** " + QString::fromStdString(s.question)); // Markdown, as the narration
    question_->setVisible(!s.question.empty());
    QString claims;
    for (const lessons::Claim& c : s.claims) claims += "<li>" + html_escape(c.text) + "</li>";
    claims_->setText(claims.isEmpty() ? QString() : "<b>Measured on this model:</b><ul style='margin-left: -20px'>" + claims + "</ul>");
    claims_->setVisible(!claims.isEmpty());
    previous_->setEnabled(index_ > 0);
    next_->setEnabled(index_ + 1 < step_count());
}

void LessonPlayer::apply_step() {
    const lessons::Step& s = lesson_->steps[size_t(index_)];
    TokenInput input;
    try {
        input = lessons::step_input(s);
    } catch (const Error& e) {
        finish_loading(false, QString::fromStdString(e.what()));
        return;
    }
    Controller& c = window_.controller();
    // The same model and tokens: only move. Text is tokenized by the engine, so a text step
    // always reopens (lessons on the demonstration models use task samples).
    const bool same = c.has_model() && !input.text &&
                      QFileInfo(QString::fromStdString(c.model()->path)).canonicalFilePath() ==
                          QFileInfo(QString::fromStdString(s.model)).canonicalFilePath() &&
                      c.model()->tokens == input.ids;
    applying_ = true;
    if (same) {
        apply_position();
        return;
    }
    disconnect(loaded_);
    disconnect(failed_);
    loaded_ = connect(&c, &Controller::model_loaded, this, [this] { apply_position(); });
    failed_ = connect(&c, &Controller::load_failed, this, [this](const QString&, const QString& message) { finish_loading(false, message); });
    window_.set_token_input(input);
    window_.open_model(QString::fromStdString(s.model));
}

void LessonPlayer::apply_position() {
    disconnect(loaded_);
    disconnect(failed_);
    if (!lesson_ || index_ < 0) return;
    const lessons::Step& s = lesson_->steps[size_t(index_)];
    Controller& c = window_.controller();
    const int64_t T = c.length();
    const int64_t token = std::clamp<int64_t>(s.token.value_or(T - 1), 0, std::max<int64_t>(0, T - 1));
    c.set_window(s.window);
    window_.transport()->set_window(s.window); // the box shows the step's window, not the last one typed
    c.set_focus(s.layer, s.head);
    c.set_token(token);

    // What the step points at; everything else unmarked.
    window_.token_strip()->set_marked(-1);
    window_.state_view()->set_marked_cell(-1, -1);
    window_.exact_attention_view()->set_marked_cell(-1, -1);
    window_.softmax_attention_view()->set_marked_cell(-1, -1);
    window_.eigen_view()->set_marker(std::nullopt);
    const lessons::Highlight& h = s.highlight;
    if (h.kind == lessons::Highlight::Kind::Token) {
        window_.token_strip()->set_marked(h.token);
        // On the attention maps: the current row's cell at the marked key token.
        const int64_t first = std::max<int64_t>(0, token - s.window + 1);
        const int substeps = c.model() && s.layer < c.model()->info.num_layers ? c.model()->info.layers[size_t(s.layer)].substeps : 1;
        if (h.token >= first && h.token <= token)
            for (views::HeatmapView* m : {window_.exact_attention_view(), window_.softmax_attention_view()})
                m->set_marked_cell(int(token - first), int((h.token - first) * substeps));
    } else if (h.kind == lessons::Highlight::Kind::Cell) {
        window_.state_view()->set_marked_cell(h.row, h.col);
    } else if (h.kind == lessons::Highlight::Kind::Eigenvalue) {
        window_.eigen_view()->set_marker(h.eigenvalue);
    }
    // The step's view: shown and framed.
    const std::vector<views::Panel*> panels = window_.panels();
    for (size_t i = 0; i < panels.size(); ++i) {
        const bool focused = int(i) == int(s.view);
        panels[i]->setStyleSheet(focused ? kFocusedPanel : "");
        if (focused) panels[i]->show();
    }
    finish_loading(true, {});
}

void LessonPlayer::finish_loading(bool ok, const QString& message) {
    disconnect(loaded_);
    disconnect(failed_);
    applying_ = false;
    if (ok) {
        emit step_applied(index_);
        return;
    }
    const QString text = QString("%1, step %2 (\"%3\"): %4")
                             .arg(QString::fromStdString(lesson_->path)).arg(index_ + 1)
                             .arg(QString::fromStdString(lesson_->steps[size_t(index_)].title), message);
    window_.show_message(text);
    emit step_failed(index_, text);
}

} // namespace statescope::app
