// Presenter mode and the View menu. F5 (or View > Presenter Mode) turns the window into a
// projector layout: full screen, the lesson dock, the token strip and a chosen set of panels
// (the View menu's check boxes choose them, separately for the desk and for presenting), fonts
// and lines of every view scaled so that axis labels are at least 18 px tall, and high contrast.
// In presenter mode Space / PageDown / Right (what presentation clickers send) go to the next
// lesson step, PageUp / Left to the previous one, Esc leaves. The zoom (Ctrl+= / Ctrl+- /
// Ctrl+0) scales the fonts of all views, the 3-D one included, at the desk and presenting.
#pragma once
#include <QFont>
#include <QObject>
#include <QRect>
#include <QSize>
#include <vector>

class QAction;
class QMenu;

namespace statescope::app {

class LessonPlayer;
class MainWindow;

class PresenterMode : public QObject {
    Q_OBJECT
public:
    PresenterMode(MainWindow& window, LessonPlayer& player);

    bool active() const { return active_; }
    // `size`: present in a window of this size instead of full screen (screenshots, tests).
    void set_active(bool on, QSize size = {});
    void toggle() { set_active(!active_); }

    double zoom() const { return zoom_; }
    void set_zoom(double zoom);
    // The font scale the views use now: the zoom times the presenter factor.
    double font_scale() const;

    QMenu* view_menu() const { return view_menu_; }
    // The View menu's show/hide action of each panel (lessons::View order).
    const std::vector<QAction*>& panel_actions() const { return panel_actions_; }

signals:
    void active_changed(bool active);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void build_menu();
    // Applies fonts, line widths and contrast to every view for the current zoom and mode.
    void apply_style();
    void show_panels(const std::vector<bool>& visible);
    std::vector<bool> visible_panels() const;

    MainWindow& window_;
    LessonPlayer& player_;
    bool active_ = false;
    double zoom_ = 1.0;
    double presenter_factor_ = 2.0; // measured at start: label fonts of 18 px and more
    QMenu* view_menu_ = nullptr;
    QAction* presenter_action_ = nullptr;
    std::vector<QAction*> panel_actions_;
    // What presenting changes, to be restored: the desk's panels, geometry, window state, style.
    std::vector<bool> desk_panels_, presenter_panels_;
    QRect desk_geometry_;
    bool desk_maximized_ = false, dock_was_visible_ = false;
    QString desk_style_;
    QFont desk_font_;
};

} // namespace statescope::app
