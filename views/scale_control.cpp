#include "scale_control.h"

#include "heatmap_view.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>

namespace statescope::views {

ScaleControl::ScaleControl(HeatmapView* view, const QString& label, QWidget* parent) : QWidget(parent), view_(view) {
    auto* h = new QHBoxLayout(this);
    h->setContentsMargins(0, 0, 0, 0);
    h->setSpacing(3);
    if (!label.isEmpty()) h->addWidget(new QLabel(label + ":", this));
    mode_ = new QComboBox(this);
    for (ScaleMode m : {ScaleMode::PerFrame, ScaleMode::Fixed, ScaleMode::SymLog}) mode_->addItem(scale_mode_name(m), int(m));
    mode_->setToolTip("Colour scale: per frame (max |value| of this frame), fixed (the limit beside, kept while the "
                      "position moves), or symmetric log (small entries stay visible)");
    mode_->setFocusPolicy(Qt::ClickFocus); // arrow keys step through tokens, not through modes
    limit_ = new QDoubleSpinBox(this);
    limit_->setDecimals(6);
    limit_->setRange(1e-6, 1e9);
    limit_->setToolTip("Colour limit in Fixed mode");
    limit_->setFocusPolicy(Qt::ClickFocus);
    limit_->setMaximumWidth(100);
    limit_->hide(); // only Fixed has a limit to set
    h->addWidget(mode_);
    h->addWidget(limit_);
    connect(mode_, &QComboBox::currentIndexChanged, this, [this] {
        const auto mode = ScaleMode(mode_->currentData().toInt());
        view_->set_scale_mode(mode); // entering Fixed keeps the limit of the frame shown
        limit_->setVisible(mode == ScaleMode::Fixed);
        const QSignalBlocker quiet(limit_);
        limit_->setValue(view_->limit());
    });
    connect(limit_, &QDoubleSpinBox::valueChanged, this, [this](double v) { view_->set_fixed_limit(v); });
}

void ScaleControl::set_mode(ScaleMode mode) { mode_->setCurrentIndex(mode_->findData(int(mode))); }

void ScaleControl::set_fixed_limit(double limit) { limit_->setValue(limit); }

} // namespace statescope::views
