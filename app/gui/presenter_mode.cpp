#include "presenter_mode.h"

#include "lesson_player.h"
#include "main_window.h"
#include "transport_bar.h"
#include "views/panel.h"
#include "views/plot_style.h"
#include "views/token_strip.h"
#include "views/trajectory_view.h"

#include <QAction>
#include <QApplication>
#include <QFontInfo>
#include <QKeyEvent>
#include <QMenu>
#include <QMenuBar>
#include <QStatusBar>

namespace statescope::app {

namespace {

constexpr double kMinLabelPixels = 18.5; // a class of 30 reads axis labels of 18 px at 1920x1080
constexpr double kZoomStep = 1.15;

const char* kPanelNames[] = {"&Overview", "&State", "&Attention", "Transition S&pectrum", "&Curves", "3-D &Trajectory",
                             "P&rediction", "Attention &Row"};

// High contrast for a projector: black text and borders on white, no grey header bands.
const char* kPresenterStyle = R"(
QMainWindow { background: white; }
#panel { background: white; border: 2px solid black; border-radius: 0; }
#panelHeader { background: white; border-bottom: 1px solid black; }
#panelTitle { font-weight: 700; color: black; }
#panelInfo { color: black; }
QLabel, QTextBrowser { color: black; }
)";

} // namespace

PresenterMode::PresenterMode(MainWindow& window, LessonPlayer& player) : QObject(&window), window_(window), player_(player) {
    // The factor that brings the views' axis labels to kMinLabelPixels on this display.
    const double px = QFontInfo(views::style::label_font()).pixelSize();
    presenter_factor_ = std::max(2.0, px > 0 ? kMinLabelPixels / px : 2.0);
    presenter_panels_ = {false, true, true, true, false, false, true, false}; // state, attention, spectrum, prediction
    build_menu();
    qApp->installEventFilter(this);
    // Presenting, each step shows the presenter set and its own view, not the views earlier
    // steps brought up.
    connect(&player_, &LessonPlayer::step_applied, this, [this] {
        if (!active_) return;
        const lessons::Step* s = player_.current_step();
        if (s && !s->panels.empty()) { // the lesson's choice for this step
            std::vector<bool> v(panel_actions_.size(), false);
            for (lessons::View p : s->panels) v[size_t(p)] = true;
            show_panels(v);
        } else {
            show_panels(presenter_panels_);
        }
    });
}

void PresenterMode::build_menu() {
    view_menu_ = new QMenu("&View", &window_);
    const std::vector<views::Panel*> panels = window_.panels();
    for (size_t i = 0; i < panels.size(); ++i) {
        QAction* a = view_menu_->addAction(kPanelNames[i]);
        a->setCheckable(true);
        a->setChecked(true);
        views::Panel* p = panels[i];
        connect(a, &QAction::toggled, p, &QWidget::setVisible);
        // What the user picks while presenting is the presenter set from then on.
        connect(a, &QAction::triggered, this, [this, i](bool on) {
            if (active_) presenter_panels_[i] = on;
        });
        panel_actions_.push_back(a);
    }
    view_menu_->addSeparator();
    // Actions live on the window too, so that their keys work while the menu bar is hidden.
    auto add = [this](const QString& text, QKeySequence key, auto f) {
        QAction* a = view_menu_->addAction(text);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WindowShortcut);
        connect(a, &QAction::triggered, this, f);
        window_.addAction(a);
        return a;
    };
    add("Zoom &In", QKeySequence(Qt::CTRL | Qt::Key_Equal), [this] { set_zoom(zoom_ * kZoomStep); });
    add("Zoom &Out", QKeySequence(Qt::CTRL | Qt::Key_Minus), [this] { set_zoom(zoom_ / kZoomStep); });
    add("&Actual Size", QKeySequence(Qt::CTRL | Qt::Key_0), [this] { set_zoom(1.0); });
    // Ctrl++ as well: on many keyboards '=' and '+' share a key.
    auto* plus = new QAction(&window_);
    plus->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Plus));
    connect(plus, &QAction::triggered, this, [this] { set_zoom(zoom_ * kZoomStep); });
    window_.addAction(plus);
    view_menu_->addSeparator();
    presenter_action_ = add("&Presenter Mode", QKeySequence(Qt::Key_F5), [this] { toggle(); });
    presenter_action_->setCheckable(true);
    QMenuBar* bar = window_.menuBar();
    const QList<QAction*> menus = bar->actions();
    bar->insertMenu(menus.isEmpty() ? nullptr : menus.last(), view_menu_);
}

std::vector<bool> PresenterMode::visible_panels() const {
    std::vector<bool> v;
    for (views::Panel* p : window_.panels()) v.push_back(!p->isHidden());
    return v;
}

void PresenterMode::show_panels(const std::vector<bool>& visible) {
    const std::vector<views::Panel*> panels = window_.panels();
    for (size_t i = 0; i < panels.size() && i < visible.size(); ++i) panel_actions_[i]->setChecked(visible[i]);
    // The step's view stays in sight whatever the set.
    if (const lessons::Step* s = player_.current_step()) panel_actions_[size_t(s->view)]->setChecked(true);
}

void PresenterMode::set_active(bool on, QSize size) {
    if (on == active_) {
        if (on && size.isValid()) window_.resize(size);
        return;
    }
    active_ = on;
    presenter_action_->setChecked(on);
    if (on) {
        desk_panels_ = visible_panels();
        desk_geometry_ = window_.geometry();
        desk_maximized_ = window_.isMaximized();
        desk_style_ = window_.styleSheet();
        desk_font_ = window_.font();
        dock_was_visible_ = player_.isVisible();
        // Widget text (panel headers, the transport, the lesson) grows with the views; a style
        // sheet, because the window's sheet would keep child widgets from inheriting setFont.
        const double pt = std::max(9.0, desk_font_.pointSizeF()) * presenter_factor_ * 0.8;
        window_.setStyleSheet(desk_style_ + kPresenterStyle +
                              QString("QWidget { font-size: %1pt; } #lessonStepTitle { font-size: %2pt; }").arg(pt, 0, 'f', 1).arg(pt * 1.3, 0, 'f', 1));
        player_.setMinimumWidth(560);
        window_.menuBar()->hide();
        window_.statusBar()->hide();
        if (player_.lesson()) player_.show();
        show_panels(presenter_panels_);
        if (size.isValid()) {
            window_.showNormal();
            window_.resize(size);
        } else {
            window_.showFullScreen();
        }
    } else {
        presenter_panels_ = visible_panels();
        window_.setStyleSheet(desk_style_);
        player_.setMinimumWidth(340);
        window_.menuBar()->show();
        window_.statusBar()->show();
        player_.setVisible(dock_was_visible_);
        show_panels(desk_panels_);
        if (desk_maximized_) window_.showMaximized();
        else {
            window_.showNormal();
            window_.setGeometry(desk_geometry_);
        }
    }
    apply_style();
    emit active_changed(on);
}

void PresenterMode::set_zoom(double zoom) {
    zoom_ = std::clamp(zoom, 0.5, 3.0);
    apply_style();
}

double PresenterMode::font_scale() const { return zoom_ * (active_ ? presenter_factor_ : 1.0); }

void PresenterMode::apply_style() {
    namespace style = views::style;
    style::set_font_scale(font_scale());
    style::set_line_scale(active_ ? 2.0 * std::sqrt(zoom_) : std::sqrt(zoom_));
    style::set_high_contrast(active_);
    // Every view paints from plot_style at its next update; the strip and the 3-D view keep
    // geometry and VTK properties and are told.
    for (views::Figure* f : window_.figures())
        if (auto* w = dynamic_cast<QWidget*>(f)) w->update();
    window_.token_strip()->restyle();
    window_.trajectory_view()->restyle();
    player_.refresh();
}

bool PresenterMode::eventFilter(QObject* watched, QEvent* event) {
    if (!active_ || (event->type() != QEvent::KeyPress && event->type() != QEvent::ShortcutOverride)) return QObject::eventFilter(watched, event);
    auto* k = static_cast<QKeyEvent*>(event);
    if (k->modifiers() & ~Qt::KeypadModifier) return false;
    const int key = k->key();
    const bool forward = key == Qt::Key_Space || key == Qt::Key_PageDown || key == Qt::Key_Right;
    const bool back = key == Qt::Key_PageUp || key == Qt::Key_Left;
    const bool leave = key == Qt::Key_Escape;
    if (!forward && !back && !leave) return false;
    // Claim the key before the window's shortcuts (token stepping, play, cancel) see it, then act
    // on the key press itself.
    event->accept();
    if (event->type() == QEvent::KeyPress && !k->isAutoRepeat()) {
        if (forward) player_.next();
        else if (back) player_.previous();
        else set_active(false);
    }
    return true;
}

} // namespace statescope::app
