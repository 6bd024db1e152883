// The colour-scale choice of one heatmap: per frame, fixed (with its limit, kept while the
// position moves) or symmetric log. The State panel and both attention maps carry one.
#pragma once
#include "colormap.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;

namespace statescope::views {

class HeatmapView;

class ScaleControl : public QWidget {
    Q_OBJECT
public:
    // `label` names the map in panels that hold more than one ("exact", "softmax").
    explicit ScaleControl(HeatmapView* view, const QString& label = {}, QWidget* parent = nullptr);
    // What the user's choice in the box does (tests drive it here).
    void set_mode(ScaleMode mode);
    void set_fixed_limit(double limit);
    QComboBox* mode_box() const { return mode_; }
    QDoubleSpinBox* limit_box() const { return limit_; }

private:
    HeatmapView* view_;
    QComboBox* mode_;
    QDoubleSpinBox* limit_;
};

} // namespace statescope::views
