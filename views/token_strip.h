// The token sequence as a strip of boxes with the current position highlighted. Click a token to
// jump to it; the wheel scrolls. The strip follows the current token.
#pragma once
#include <QWidget>
#include <map>
#include <vector>

namespace statescope::views {

class TokenStrip : public QWidget {
    Q_OBJECT
public:
    explicit TokenStrip(QWidget* parent = nullptr);
    // labels[i] is what token i shows (its text or its id); ids[i] is shown small below it.
    void set_tokens(std::vector<QString> labels, std::vector<int32_t> ids);
    void set_current(int64_t index);
    // A token a lesson points at (outlined in the marker colour), -1 for none.
    void set_marked(int64_t index) { marked_ = index; update(); }
    int64_t marked() const { return marked_; }
    // Re-lays the boxes out after the fonts changed (zoom, presenter mode).
    void restyle();
    // Makes `index` current and scrolls it to the middle (a jump), and keeps it there when the
    // strip is resized, until the position moves or the strip scrolls: the strip then shows the
    // same tokens for the same position and width, whatever was shown before.
    void center_on(int64_t index);
    // Where the tokens came from (tooltip between tokens).
    void set_description(const QString& text) { description_ = text; }
    int64_t current() const { return current_; }
    // Notes on tokens (a session's annotations): a mark on the token's box, the text in its tooltip.
    void set_notes(std::map<int64_t, QString> notes);
    const std::map<int64_t, QString>& notes() const { return notes_; }
    int64_t count() const { return int64_t(labels_.size()); }

    QSize sizeHint() const override { return {800, strip_height()}; }
    QSize minimumSizeHint() const override { return {200, strip_height()}; }

signals:
    void token_clicked(int64_t index);

protected:
    bool event(QEvent* e) override;
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;
    void wheelEvent(QWheelEvent* e) override;
    void resizeEvent(QResizeEvent*) override;

private:
    void layout_boxes();
    void follow_current();
    void center_current();
    int64_t index_at(double x) const;
    int strip_height() const; // the boxes and the positions under them, in the current fonts

    std::vector<QString> labels_;
    std::vector<int32_t> ids_;
    std::vector<double> left_, width_; // box geometry in strip coordinates
    QString description_;
    std::map<int64_t, QString> notes_;
    double scroll_ = 0;
    int64_t current_ = -1, marked_ = -1;
    bool centered_ = false; // center_on() holds the current token in the middle
};

} // namespace statescope::views
