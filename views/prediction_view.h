// What the model predicts: after the current token, the k most probable next tokens with their
// probabilities (the softmax of the logits), where the expected next token stands (the task's
// target, else the token that really follows: its rank, probability and logit), and beside it
// the expected token's probability after every token of the sequence. A click on the curve jumps.
#pragma once
#include "figure.h"
#include "statescope/frames/view_data.h"

#include <QColor>
#include <QWidget>
#include <vector>

namespace statescope::views {

using frames::Prediction;
using frames::PredictionCurve;

class PredictionView : public QWidget, public Figure {
    Q_OBJECT
public:
    explicit PredictionView(QWidget* parent = nullptr);
    void set_prediction(Prediction p);
    void set_curve(PredictionCurve c);
    // The sequence's token texts (the curve's hover read-out and the current token's name).
    void set_token_labels(std::vector<QString> labels);
    void set_current(int64_t token);
    void set_message(const QString& text);
    const Prediction& prediction() const { return p_; }
    const PredictionCurve& curve() const { return c_; }

    QString figure_name() const override { return "prediction"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    // One row per listed token, most probable first: rank, id, probability, logit; the expected
    // token's row follows when it is not among them.
    analysis::Array figure_data(QString* header) const override;
    QSize figure_size() const override { return size(); }
    QSize sizeHint() const override { return {560, 300}; }
    QSize minimumSizeHint() const override { return {260, 180}; }

    // Colours of a position whose prediction is the expected token, and of one where it is not
    // (the token strip marks positions with the same two).
    static QColor match_color();
    static QColor miss_color();

    // Where the curve is drawn when the view renders into `area` (hit tests and tests).
    QRectF curve_rect(const QRectF& area) const;

signals:
    void token_clicked(int64_t token);

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    QRectF bars_rect(const QRectF& area) const;
    void draw_bars(QPainter& p, const QRectF& r) const;
    void draw_curve(QPainter& p, const QRectF& r, bool for_export) const;
    int64_t token_at(double x, const QRectF& r) const;
    QString label_of(int64_t token) const;

    Prediction p_;
    PredictionCurve c_;
    std::vector<QString> labels_;
    QString message_ = "no prediction yet";
    int64_t current_ = -1;
    double hover_x_ = -1;
};

// The same view exported for its curve's numbers: one row per token (token, predicted id, its
// probability, expected id, its probability; NaN where nothing is expected). The picture is the
// prediction view's.
class PredictionCurveFigure : public Figure {
public:
    explicit PredictionCurveFigure(PredictionView& view) : view_(view) {}
    QString figure_name() const override { return "prediction-curve"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override { view_.render_figure(p, area, for_export); }
    analysis::Array figure_data(QString* header) const override;
    QSize figure_size() const override { return view_.figure_size(); }

private:
    PredictionView& view_;
};

} // namespace statescope::views
