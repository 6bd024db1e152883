// The current query's row of the attention maps as bar charts over the key tokens, each bar
// labelled with its token's text: on top the exact row the recurrence implies (signed weights:
// up is positive, down negative), below it the softmax of the same q . k (each row sums to 1).
// A softmax-attention layer shows its own row only. Reading the row is how a student sees which
// earlier token the query retrieves.
#pragma once
#include "figure.h"

#include <QWidget>
#include <vector>

namespace statescope::views {

class AttentionRowView : public QWidget, public Figure {
    Q_OBJECT
public:
    explicit AttentionRowView(QWidget* parent = nullptr);
    // exact[c] and softmax[c] for the window's columns; column c is key token
    // first_key + c / substeps (micro-step c % substeps). softmax empty: the layer's own row only.
    void set_row(int64_t query, int64_t first_key, int substeps, std::vector<float> exact, std::vector<float> softmax,
                 bool recurrent);
    void set_token_labels(std::vector<QString> labels);
    // A sentence under the title: what the layer does before the recurrence (why a peak can sit
    // beside the token it stands for). Empty: none.
    void set_note(const QString& note);
    const QString& note() const { return note_; }
    void set_message(const QString& text);
    const std::vector<float>& exact_row() const { return exact_; }
    const std::vector<float>& softmax_row() const { return softmax_; }
    int64_t query() const { return query_; }
    // The column of largest |weight| in the exact row (-1 without data): the key it retrieves.
    int64_t strongest_key() const;

    QString figure_name() const override { return "attention-row"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    // One row per key column: key token, micro-step, exact weight, softmax weight.
    analysis::Array figure_data(QString* header) const override;
    QSize figure_size() const override { return size(); }
    QSize sizeHint() const override { return {560, 260}; }
    QSize minimumSizeHint() const override { return {200, 140}; }

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    // The plot areas: exact (and softmax when shown), and the band of token labels under them.
    std::vector<QRectF> plots(const QRectF& area) const;
    void draw_bars(QPainter& p, const QRectF& r, const std::vector<float>& row, bool signed_values, const QString& label) const;
    void draw_key_labels(QPainter& p, const QRectF& plot, double top) const;
    int column_at(double x, const QRectF& plot) const;
    double label_length() const; // of the longest key label drawn, in pixels
    QString key_label(int column) const;

    std::vector<float> exact_, softmax_;
    std::vector<QString> labels_;
    int64_t query_ = -1, first_key_ = 0;
    int substeps_ = 1;
    bool recurrent_ = true;
    QString message_ = "no attention row yet";
    QString note_;
    int note_lines(const QRectF& area) const;
    double hover_x_ = -1;
};

} // namespace statescope::views
