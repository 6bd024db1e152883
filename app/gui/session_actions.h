// The window's saved sessions (.statescope files, statescope/session.h): File > Open Session,
// Save, Save As and Recent Sessions; the window title with the session's name and its unsaved
// mark; the Bookmarks dock; autosave to a recovery file and the offer to restore it after a
// crash; and the Locate dialog when a session's checkpoint moved or changed.
//
// Opening a session never replaces what is open until its model has loaded and run: a bad file,
// a missing checkpoint or a failed load leaves the open session as it was, with a message
// naming the file and the problem.
//
// Environment: STATESCOPE_AUTOSAVE_MS (delay after a change before the recovery file is
// written, default 3000), STATESCOPE_RECOVERY_FILE (its path, default recovery.statescope in
// the app's data folder), STATESCOPE_RECOVERY=restore|discard (answers the restore prompt).
#pragma once
#include "statescope/frames/token_input.h"
#include "statescope/sampling.h"
#include "statescope/session.h"

#include <QObject>
#include <QString>
#include <QTimer>
#include <functional>
#include <optional>

class QAction;
class QDockWidget;
class QMenu;

namespace statescope::app {

class BookmarksPanel;
class MainWindow;

class SessionActions : public QObject {
    Q_OBJECT
public:
    explicit SessionActions(MainWindow& window);
    ~SessionActions() override; // a clean exit removes the recovery file this window wrote

    // Adds Open Session, Save, Save As and Recent Sessions to `file`, and Add Bookmark (Ctrl+D)
    // and Undo Delete Bookmark to `edit`.
    void add_actions(QMenu* file, QMenu* edit);

    // Opens a session file; with `bookmark`, jumps to that bookmark once it is open. False (and
    // a message in the window) when the file cannot be opened; the model's load then follows and
    // may still fail, which is reported the same way (session_failed).
    bool open(const QString& path, const QString& bookmark = {});
    bool save();                       // to the session's file, else asks where (Save As)
    bool save_as(const QString& path); // the suffix .statescope is added when missing
    // The window's state as a session.
    session::Session capture(bool for_recovery = false) const;

    QString path() const { return path_; }   // "" for a session never saved
    bool modified() const { return modified_; }
    bool opening() const { return pending_.has_value(); } // a session's model is loading
    BookmarksPanel* bookmarks() const { return panel_; }
    QDockWidget* bookmarks_dock() const { return dock_; }
    // Bookmarks the current token, layer and head (what Ctrl+D does); the name defaults to where it is.
    void add_bookmark(const QString& name = {});
    void jump_to(const session::Bookmark& b);
    // Pins the focused head's state at the current token (the Pin State button).
    void pin_current();

    // Called by the window when it runs a new input or continues the sequence, so that the
    // session knows where each part of the sequence came from.
    void sequence_started(const frames::TokenInput& input);
    void continuation_started(int64_t token, int count, const SamplingOptions& sampling);

    // At start: when the recovery file is there (a crash), offers to restore it (or does what
    // STATESCOPE_RECOVERY says; `batch`: no prompt without it). True when it restores one.
    bool offer_recovery(bool batch);
    QString recovery_path() const { return recovery_path_; }
    int autosave_delay_ms() const { return autosave_ms_; }
    // Writes the recovery file now (the autosave timer's work).
    bool autosave();
    // The window calls this after it has shown a loaded model (every Controller::model_loaded).
    void model_loaded();
    // ... and this after it has shown a failed load (Controller::load_failed).
    void model_load_failed(const QString& message);

    // Asks whether to save unsaved changes before the window closes: false means stay open.
    bool confirm_close();

    // Dialog hooks, replaced by tests. locate(message) returns the folder chosen, "" to give up,
    // or "\n" to open the checkpoint as it is (a changed checkpoint); ask(question) answers
    // yes/no questions (overwrite a file another Statescope changed, save before closing).
    std::function<QString(const QString& message, bool changed)> locate;
    std::function<int(const QString& question)> ask_save_changes; // QMessageBox::Save / Discard / Cancel
    std::function<bool(const QString& question)> confirm_overwrite;

signals:
    void session_opened(const QString& path);
    void session_failed(const QString& path, const QString& message);
    void saved(const QString& path);
    void autosaved(const QString& path);

private:
    void mark_changed();
    void set_modified(bool modified);
    void update_title();
    void apply_pending();
    void fail(const QString& file, const QString& message);
    void remember_recent(const QString& path);
    void update_recent_menu();
    void remember_file_stamp();
    void remove_recovery();
    void annotate_current();
    void show_annotations(); // on the token strip
    QString model_identity_now() const;
    // Where the session's checkpoint is now: its saved path, or the one the user locates; "" to give up.
    QString resolve_model(const session::Session& s, const QString& file);

    MainWindow& window_;
    BookmarksPanel* panel_ = nullptr;
    QDockWidget* dock_ = nullptr;
    QMenu* recent_menu_ = nullptr;
    QAction* undo_action_ = nullptr;

    QString path_;                 // the session's file, "" when never saved
    bool modified_ = false, tracking_ = false, applying_ = false;
    QString file_stamp_;           // the file's modification time and size after our last open or save
    std::vector<session::SequencePart> parts_;
    std::optional<std::pair<int64_t, std::string>> generation_; // a continuation: its first token and settings
    std::string lesson_;
    int lesson_step_ = 0;
    mutable std::string identity_path_, identity_; // model_identity of the open checkpoint, cached

    struct Pending {
        session::Session session;
        frames::TokenInput input;
        QString file, bookmark, model;
        bool recovery = false;
    };
    std::optional<Pending> pending_;

    QString recovery_path_;
    int autosave_ms_ = 3000;
    QTimer autosave_timer_;
    bool owns_recovery_ = false;   // this window wrote (or restored) the recovery file
    bool autosave_due_ = false;    // changes since the last autosave
};

} // namespace statescope::app
