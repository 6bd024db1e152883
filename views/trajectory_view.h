// The focused head's state as a path through state space: the flattened S after every token,
// projected on its top three principal components (VTK, rotate with the mouse). The path is
// coloured by token position; the sphere marks the current token.
#pragma once
#include "figure.h"
#include "statescope/frames/view_data.h"
#include "vtk_widget.h"

#include <vector>

namespace statescope::views {

using frames::TrajectoryData;

class TrajectoryView : public VtkWidget, public Figure {
    Q_OBJECT
public:
    explicit TrajectoryView(QWidget* parent = nullptr);
    ~TrajectoryView() override;
    void set_data(TrajectoryData d);
    void set_current(int64_t token);
    // Applies the current font and line scale (plot_style.h: zoom, presenter mode) to the
    // caption, the axis titles, the dots and the path.
    void restyle();
    const TrajectoryData& data() const { return d_; }
    bool marker_visible() const; // the current token's sphere (hidden while there is no path)

    QString figure_name() const override { return "trajectory"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    analysis::Array figure_data(QString* header) const override;
    QSize figure_size() const override { return size(); }
    QSize sizeHint() const override { return {420, 320}; }

private:
    void rebuild();
    void make_axes();
    struct Scene;
    Scene* scene_;
    TrajectoryData d_;
    int64_t current_ = -1;
};

} // namespace statescope::views
