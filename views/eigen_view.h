// Eigenvalues of the transition in the complex plane: the unit circle marks "kept forever",
// points inside decay, points on the negative axis flip sign, complex pairs rotate. Shows this
// token's A_t and the product over the attention window, with spectral radii and half-lives.
#pragma once
#include "figure.h"
#include "statescope/frames/view_data.h"

#include <QWidget>
#include <complex>
#include <optional>
#include <vector>

namespace statescope::views {

using frames::EigenData;

class EigenView : public QWidget, public Figure {
    Q_OBJECT
public:
    explicit EigenView(QWidget* parent = nullptr);
    void set_data(EigenData d);
    void set_message(const QString& text);
    const EigenData& data() const { return d_; }
    // A point of the complex plane a lesson points at (a ring in the marker colour), or none.
    void set_marker(std::optional<std::complex<double>> z) { marker_ = z; update(); }
    std::optional<std::complex<double>> marker() const { return marker_; }
    // Where the complex number z is drawn when the view renders into `area` (tests, hover).
    QPointF position_of(std::complex<double> z, const QRectF& area) const;

    QString figure_name() const override { return "eigenvalues"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    analysis::Array figure_data(QString* header) const override;
    QSize figure_size() const override { return size(); }
    QSize sizeHint() const override { return {380, 340}; }

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    QRectF plot_rect(const QRectF& area) const;
    QRectF moduli_rect(const QRectF& area) const;
    void draw_moduli(QPainter& p, const QRectF& area) const;
    double extent() const;
    EigenData d_;
    QString message_ = "no transition yet";
    QPointF hover_{-1, -1};
    std::optional<std::complex<double>> marker_;
};

} // namespace statescope::views
