#include "panel.h"

#include "glossary.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QRegularExpression>
#include <QToolButton>
#include <QVBoxLayout>

namespace statescope::views {

Panel::Panel(const QString& title, QWidget* body, std::vector<Figure*> figures, QWidget* parent)
    : QFrame(parent), figures_(std::move(figures)) {
    setFrameShape(QFrame::StyledPanel);
    setObjectName("panel");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(1, 1, 1, 1);
    v->setSpacing(0);
    auto* bar = new QWidget(this);
    bar->setObjectName("panelHeader");
    header_ = new QHBoxLayout(bar);
    header_->setContentsMargins(8, 2, 4, 2);
    header_->setSpacing(6);
    auto* t = new QLabel(title, bar);
    t->setObjectName("panelTitle");
    header_->addWidget(t);
    info_ = new QLabel(bar);
    info_->setObjectName("panelInfo");
    // Status text never widens the panel: layouts must not jitter while the position moves.
    info_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    info_->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    header_->addWidget(info_, 1);
    export_ = new QToolButton(bar);
    export_->setText("Export");
    export_->setToolTip("Export this view's picture (PNG, SVG, PDF) or its numbers (CSV, NPY)");
    export_->setPopupMode(QToolButton::InstantPopup);
    export_->setAutoRaise(true);
    auto* menu = new QMenu(export_);
    for (Figure* f : figures_) {
        const QString name = f->figure_name();
        const QString suffix = figures_.size() > 1 ? " (" + name + ")" : QString();
        menu->addAction("Picture" + suffix + "…", this, [this, f] { emit export_requested(f, true); });
        menu->addAction("Data" + suffix + "…", this, [this, f] { emit export_requested(f, false); });
    }
    export_->setMenu(menu);
    header_->addWidget(export_);
    v->addWidget(bar);
    v->addWidget(body, 1);
}

void Panel::add_header_widget(QWidget* w) {
    header_->insertWidget(header_->count() - 2, w); // before the info text and the export button
}

void Panel::set_info(const QString& text) { info_->setText(text); }

void Panel::set_glossary(const QStringList& keys) {
    if (keys.isEmpty()) return;
    if (!glossary_) {
        glossary_ = new QToolButton(this);
        glossary_->setText("?");
        glossary_->setAutoRaise(true);
        glossary_->setFocusPolicy(Qt::NoFocus);
        header_->insertWidget(1, glossary_); // right after the title
    }
    QStringList terms;
    for (const GlossaryEntry& e : glossary())
        if (keys.contains(e.key)) terms << QString(e.term).remove(QRegularExpression("<[^>]*>"));
    glossary_->setToolTip("What these words mean: " + terms.join(", "));
    const QString first = keys.first();
    glossary_->disconnect();
    connect(glossary_, &QToolButton::clicked, this, [this, first] { show_glossary(window(), first); });
}

} // namespace statescope::views
