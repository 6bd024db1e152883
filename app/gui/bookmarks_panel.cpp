#include "bookmarks_panel.h"

#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace statescope::app {

namespace {

QString where(const session::Bookmark& b) {
    return QString("token %1 · layer %2 · head %3%4")
        .arg(b.token)
        .arg(b.layer)
        .arg(b.head)
        .arg(b.view.empty() ? QString() : " · " + QString::fromStdString(b.view));
}

QString shape_text(const std::vector<int64_t>& shape) {
    QStringList parts;
    for (int64_t d : shape) parts << QString::number(d);
    return "[" + parts.join(", ") + "]";
}

QLabel* heading(const QString& text, QWidget* parent) {
    auto* l = new QLabel("<b>" + text + "</b>", parent);
    l->setContentsMargins(0, 4, 0, 0);
    return l;
}

} // namespace

BookmarksPanel::BookmarksPanel(QWidget* parent) : QWidget(parent) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    v->setSpacing(4);

    list_ = new QListWidget(this);
    list_->setToolTip("Double-click or Enter to jump to a bookmark (Ctrl+D adds one at the current view)");
    list_->setWordWrap(true);
    list_->setAlternatingRowColors(true);
    v->addWidget(heading("Bookmarks", this));
    v->addWidget(list_, 3);

    auto* buttons = new QHBoxLayout;
    auto* add = new QPushButton("Add", this);
    add->setToolTip("Bookmark the current token, layer and head (Ctrl+D)");
    jump_ = new QPushButton("Jump", this);
    rename_ = new QPushButton("Rename…", this);
    remove_ = new QPushButton("Delete", this);
    undo_ = new QPushButton("Undo", this);
    undo_->setToolTip("Put the last deleted bookmark back");
    for (QPushButton* b : {add, jump_, rename_, remove_, undo_}) {
        b->setAutoDefault(false);
        b->setFocusPolicy(Qt::ClickFocus); // arrow keys keep stepping through tokens
        buttons->addWidget(b);
    }
    v->addLayout(buttons);

    v->addWidget(heading("Notes (Markdown)", this));
    notes_ = new QPlainTextEdit(this);
    notes_->setPlaceholderText("Notes on the selected bookmark, in Markdown");
    notes_->setTabChangesFocus(true);
    preview_ = new QTextBrowser(this);
    preview_->setOpenExternalLinks(true);
    auto* notes_split = new QSplitter(Qt::Vertical, this);
    notes_split->addWidget(notes_);
    notes_split->addWidget(preview_);
    v->addWidget(notes_split, 3);

    v->addWidget(heading("Annotations on tokens", this));
    annotation_list_ = new QListWidget(this);
    annotation_list_->setToolTip("Double-click to go to the token");
    v->addWidget(annotation_list_, 1);
    v->addWidget(heading("Pinned states", this));
    pinned_list_ = new QListWidget(this);
    v->addWidget(pinned_list_, 1);
    auto* note_buttons = new QHBoxLayout;
    auto* annotate = new QPushButton("Annotate Token…", this);
    annotate->setToolTip("Write a note on the current token");
    auto* pin = new QPushButton("Pin State", this);
    pin->setToolTip("Keep the focused head's state at the current token in the session");
    auto* remove_note = new QPushButton("Remove", this);
    remove_note->setToolTip("Remove the selected annotation or pinned state (Delete)");
    for (QPushButton* b : {annotate, pin, remove_note}) {
        b->setAutoDefault(false);
        b->setFocusPolicy(Qt::ClickFocus);
        note_buttons->addWidget(b);
    }
    v->addLayout(note_buttons);

    connect(add, &QPushButton::clicked, this, &BookmarksPanel::add_requested);
    connect(annotate, &QPushButton::clicked, this, &BookmarksPanel::annotate_requested);
    connect(pin, &QPushButton::clicked, this, &BookmarksPanel::pin_requested);
    connect(jump_, &QPushButton::clicked, this, [this] { jump(current_row()); });
    connect(rename_, &QPushButton::clicked, this, &BookmarksPanel::ask_rename);
    connect(remove_, &QPushButton::clicked, this, [this] { remove(current_row()); });
    connect(undo_, &QPushButton::clicked, this, &BookmarksPanel::undo_remove);
    connect(list_, &QListWidget::itemActivated, this, [this] { jump(current_row()); });
    connect(list_, &QListWidget::currentRowChanged, this, &BookmarksPanel::show_notes);
    connect(annotation_list_, &QListWidget::itemActivated, this, [this] {
        const int row = annotation_list_->currentRow();
        if (row >= 0 && row < int(annotations_.size())) emit annotation_jump_requested(annotations_[size_t(row)].token);
    });
    auto remove_selected_note = [this] {
        if (last_notes_list_ == annotation_list_) remove_annotation(annotation_list_->currentRow());
        else if (last_notes_list_ == pinned_list_) remove_pin(pinned_list_->currentRow());
    };
    connect(remove_note, &QPushButton::clicked, this, remove_selected_note);
    for (QListWidget* l : {annotation_list_, pinned_list_}) {
        connect(l, &QListWidget::itemPressed, this, [this, l] { last_notes_list_ = l; });
        auto* del = new QShortcut(QKeySequence::Delete, l, nullptr, nullptr, Qt::WidgetShortcut);
        connect(del, &QShortcut::activated, this, [this, l] {
            if (l == annotation_list_) remove_annotation(l->currentRow());
            else remove_pin(l->currentRow());
        });
    }
    connect(notes_, &QPlainTextEdit::textChanged, this, [this] {
        if (!updating_) set_notes(current_row(), notes_->toPlainText());
    });
    refresh_bookmarks();
}

void BookmarksPanel::set_contents(std::vector<session::Bookmark> bookmarks, std::vector<session::Annotation> annotations,
                                  std::vector<session::PinnedState> pinned) {
    bookmarks_ = std::move(bookmarks);
    annotations_ = std::move(annotations);
    pinned_ = std::move(pinned);
    removed_.reset();
    refresh_bookmarks();
    refresh_notes_lists();
}

QString BookmarksPanel::unique_name(const QString& base) const {
    auto taken = [this](const QString& n) {
        for (const session::Bookmark& b : bookmarks_)
            if (QString::fromStdString(b.name) == n) return true;
        return false;
    };
    if (!taken(base)) return base;
    for (int i = 2;; ++i)
        if (!taken(QString("%1 (%2)").arg(base).arg(i))) return QString("%1 (%2)").arg(base).arg(i);
}

void BookmarksPanel::add_bookmark(session::Bookmark b) {
    b.name = unique_name(QString::fromStdString(b.name)).toStdString();
    bookmarks_.push_back(std::move(b));
    refresh_bookmarks();
    select(int(bookmarks_.size()) - 1);
    emit changed();
}

bool BookmarksPanel::rename(int row, const QString& name) {
    const QString n = name.trimmed();
    if (row < 0 || row >= int(bookmarks_.size()) || n.isEmpty()) return false;
    if (QString::fromStdString(bookmarks_[size_t(row)].name) == n) return true;
    if (unique_name(n) != n) return false; // another bookmark has this name
    bookmarks_[size_t(row)].name = n.toStdString();
    refresh_bookmarks();
    select(row);
    emit changed();
    return true;
}

bool BookmarksPanel::set_notes(int row, const QString& markdown) {
    if (row < 0 || row >= int(bookmarks_.size())) return false;
    bookmarks_[size_t(row)].notes = markdown.toStdString();
    preview_->setMarkdown(markdown);
    if (notes_->toPlainText() != markdown) {
        updating_ = true;
        notes_->setPlainText(markdown);
        updating_ = false;
    }
    emit changed();
    return true;
}

bool BookmarksPanel::remove(int row) {
    if (row < 0 || row >= int(bookmarks_.size())) return false;
    removed_ = std::make_pair(row, bookmarks_[size_t(row)]);
    bookmarks_.erase(bookmarks_.begin() + row);
    refresh_bookmarks();
    select(std::min(row, int(bookmarks_.size()) - 1));
    emit changed();
    return true;
}

bool BookmarksPanel::undo_remove() {
    if (!removed_) return false;
    auto [row, b] = *removed_;
    removed_.reset();
    b.name = unique_name(QString::fromStdString(b.name)).toStdString(); // a new one may have taken its name
    row = std::clamp(row, 0, int(bookmarks_.size()));
    bookmarks_.insert(bookmarks_.begin() + row, std::move(b));
    refresh_bookmarks();
    select(row);
    emit changed();
    return true;
}

void BookmarksPanel::jump(int row) {
    if (row >= 0 && row < int(bookmarks_.size())) emit jump_requested(bookmarks_[size_t(row)]);
}

void BookmarksPanel::add_annotation(session::Annotation a) {
    annotations_.push_back(std::move(a));
    refresh_notes_lists();
    emit changed();
}

void BookmarksPanel::add_pin(session::PinnedState p) {
    // A pin of the same name replaces the old one (pinning the same head and token again).
    for (session::PinnedState& old : pinned_)
        if (old.name == p.name) {
            old = std::move(p);
            refresh_notes_lists();
            emit changed();
            return;
        }
    pinned_.push_back(std::move(p));
    refresh_notes_lists();
    emit changed();
}

bool BookmarksPanel::remove_annotation(int row) {
    if (row < 0 || row >= int(annotations_.size())) return false;
    annotations_.erase(annotations_.begin() + row);
    refresh_notes_lists();
    emit changed();
    return true;
}

bool BookmarksPanel::remove_pin(int row) {
    if (row < 0 || row >= int(pinned_.size())) return false;
    pinned_.erase(pinned_.begin() + row);
    refresh_notes_lists();
    emit changed();
    return true;
}

int BookmarksPanel::current_row() const { return list_->currentRow(); }

void BookmarksPanel::select(int row) {
    list_->setCurrentRow(row);
    show_notes();
}

void BookmarksPanel::refresh_bookmarks() {
    const int row = list_->currentRow();
    updating_ = true;
    list_->clear();
    for (const session::Bookmark& b : bookmarks_) {
        auto* item = new QListWidgetItem(QString::fromStdString(b.name) + "\n" + where(b), list_);
        item->setToolTip(QString::fromStdString(b.notes));
    }
    if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
    updating_ = false;
    show_notes();
}

void BookmarksPanel::refresh_notes_lists() {
    annotation_list_->clear();
    for (const session::Annotation& a : annotations_)
        annotation_list_->addItem(QString("token %1: %2").arg(a.token).arg(QString::fromStdString(a.text)));
    pinned_list_->clear();
    for (const session::PinnedState& p : pinned_)
        pinned_list_->addItem(QString("%1 — layer %2, token %3, %4")
                                  .arg(QString::fromStdString(p.name))
                                  .arg(p.layer)
                                  .arg(p.token)
                                  .arg(shape_text(p.shape)));
}

void BookmarksPanel::show_notes() {
    const int row = current_row();
    const bool any = row >= 0 && row < int(bookmarks_.size());
    const QString text = any ? QString::fromStdString(bookmarks_[size_t(row)].notes) : QString();
    updating_ = true;
    if (notes_->toPlainText() != text) notes_->setPlainText(text);
    updating_ = false;
    notes_->setEnabled(any);
    preview_->setMarkdown(text);
    for (QPushButton* b : {rename_, remove_, jump_}) b->setEnabled(any);
    undo_->setEnabled(removed_.has_value());
}

void BookmarksPanel::ask_rename() {
    const int row = current_row();
    if (row < 0 || row >= int(bookmarks_.size())) return;
    bool ok = false;
    const QString name = QInputDialog::getText(this, "Rename bookmark", "Name:", QLineEdit::Normal,
                                               QString::fromStdString(bookmarks_[size_t(row)].name), &ok);
    if (ok && !rename(row, name))
        QMessageBox::information(this, "Rename bookmark",
                                 "'" + name.trimmed() + "' is empty or another bookmark's name; the name stays.");
}

} // namespace statescope::app
