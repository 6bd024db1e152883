// The Bookmarks dock: the session's bookmarks (a name, token, layer, head and view, with Markdown
// notes), its annotations on tokens and its pinned states. It holds these lists and edits them;
// what a bookmark is added at and what a jump does are the session's business (SessionActions),
// which it asks through signals. Every edit emits changed() (the session is then unsaved).
#pragma once
#include "statescope/session.h"

#include <QWidget>
#include <optional>
#include <vector>

class QListWidget;
class QPlainTextEdit;
class QTextBrowser;
class QPushButton;

namespace statescope::app {

class BookmarksPanel : public QWidget {
    Q_OBJECT
public:
    explicit BookmarksPanel(QWidget* parent = nullptr);

    // Replaces everything shown (a session opened); emits nothing.
    void set_contents(std::vector<session::Bookmark> bookmarks, std::vector<session::Annotation> annotations,
                      std::vector<session::PinnedState> pinned);
    const std::vector<session::Bookmark>& bookmarks() const { return bookmarks_; }
    const std::vector<session::Annotation>& annotations() const { return annotations_; }
    const std::vector<session::PinnedState>& pinned() const { return pinned_; }

    // A name no bookmark has yet: `base`, else "base (2)", ...
    QString unique_name(const QString& base) const;
    // The edits, for the buttons and for tests (no dialogs). False when refused (a name taken or
    // empty, a row out of range).
    void add_bookmark(session::Bookmark b);
    bool rename(int row, const QString& name);
    bool set_notes(int row, const QString& markdown);
    bool remove(int row);
    // Puts the last removed bookmark back where it was; false when there is none.
    bool undo_remove();
    bool can_undo_remove() const { return removed_.has_value(); }
    void jump(int row); // emits jump_requested
    void add_annotation(session::Annotation a);
    void add_pin(session::PinnedState p);
    bool remove_annotation(int row);
    bool remove_pin(int row);
    int current_row() const;
    void select(int row);

    QSize sizeHint() const override { return {300, 600}; }

    QListWidget* bookmark_list() const { return list_; }
    QListWidget* annotation_list() const { return annotation_list_; }
    QListWidget* pinned_list() const { return pinned_list_; }
    QPlainTextEdit* notes_editor() const { return notes_; }
    QTextBrowser* notes_preview() const { return preview_; }

signals:
    void changed();
    void jump_requested(const statescope::session::Bookmark& b);
    void add_requested();
    void annotate_requested();
    void pin_requested();
    void annotation_jump_requested(int64_t token);

private:
    void refresh_bookmarks();
    void refresh_notes_lists();
    void show_notes();
    void ask_rename();

    std::vector<session::Bookmark> bookmarks_;
    std::vector<session::Annotation> annotations_;
    std::vector<session::PinnedState> pinned_;
    std::optional<std::pair<int, session::Bookmark>> removed_; // for undo_remove
    QListWidget *list_, *annotation_list_, *pinned_list_;
    QPlainTextEdit* notes_;
    QTextBrowser* preview_;
    QPushButton *rename_, *remove_, *undo_, *jump_;
    QListWidget* last_notes_list_ = nullptr; // the annotation or pin list clicked last (what Remove removes)
    bool updating_ = false;
};

} // namespace statescope::app
