// The lesson player: a dock beside the views that walks a class through a lesson
// (data/lessons/*.json, engine/include/statescope/frames/lesson.h). It shows the lesson's and
// the step's titles, "step n of m", the narration (Markdown), the question for the class and
// what the engine measures for the step's claims, with Previous / Next. Applying a step opens
// its model and sequence when they differ from what the window shows (nothing is reloaded
// otherwise), then moves the focus, the token and the window, brings the step's view forward and
// marks what it points at (a token, a cell, an eigenvalue). The Lessons menu lists the lessons.
#pragma once
#include "statescope/frames/lesson.h"

#include <QDockWidget>
#include <optional>

class QLabel;
class QMenu;
class QPushButton;
class QTextBrowser;

namespace statescope::app {

class MainWindow;

class LessonPlayer : public QDockWidget {
    Q_OBJECT
public:
    explicit LessonPlayer(MainWindow& window);

    // Where lessons are read from (data/lessons) and the folder their model paths start from.
    static QString lessons_dir();
    static QString lessons_root();
    // The lesson files there, sorted.
    static QStringList lesson_files();
    // A lesson file for a name ("01-key-value-memory", its file name, or a path); empty if none.
    static QString find_lesson(const QString& name);

    // Opens a lesson and applies its first step (or `step`, 0-based). On failure says why in
    // `error` (file, step and key) and keeps the lesson that was open. Without `apply` the step
    // is only shown: a reopened session keeps its own model, sequence and position.
    bool open(const QString& name_or_path, int step = 0, QString* error = nullptr, bool apply = true);
    const lessons::Lesson* lesson() const { return lesson_ ? &*lesson_ : nullptr; }
    int step() const { return index_; }
    int step_count() const { return lesson_ ? int(lesson_->steps.size()) : 0; }
    const lessons::Step* current_step() const { return lesson_ && index_ >= 0 ? &lesson_->steps[size_t(index_)] : nullptr; }

    void go_to(int index);
    void next() { go_to(index_ + 1); }
    void previous() { go_to(index_ - 1); }
    // Shows the current step's texts again (after the fonts changed).
    void refresh() {
        if (lesson_ && index_ >= 0) show_step();
    }
    // True from applying a step until its model is loaded and the position set.
    bool applying() const { return applying_; }

    // The Lessons menu: one entry per lesson file, then Previous / Next step and the dock.
    QMenu* menu() const { return menu_; }

signals:
    // The step is shown: its model is open and the controller is at its position.
    void step_applied(int index);
    // The step could not be applied (its model or sequence failed); the message names the step.
    void step_failed(int index, const QString& message);

private:
    void build_widgets();
    void build_menu();
    void show_step();
    void apply_step();
    void apply_position();
    void finish_loading(bool ok, const QString& message);

    MainWindow& window_;
    std::optional<lessons::Lesson> lesson_;
    int index_ = -1;
    bool applying_ = false;
    QMetaObject::Connection loaded_, failed_;
    QLabel *lesson_title_ = nullptr, *counter_ = nullptr, *step_title_ = nullptr, *question_ = nullptr, *claims_ = nullptr;
    QTextBrowser* narration_ = nullptr;
    QPushButton *previous_ = nullptr, *next_ = nullptr;
    QMenu* menu_ = nullptr;
};

} // namespace statescope::app
