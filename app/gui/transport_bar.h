// Moving through the sequence: start / step back / play-pause / step forward / end, a scrub
// slider, a go-to-token box and the playback rate; plus the focus (layer, head) and the window
// the attention and transition views span. Emits requests; the main window applies them.
#pragma once
#include <QTimer>
#include <QWidget>

class QDoubleSpinBox;
class QLabel;
class QSlider;
class QSpinBox;
class QToolButton;

namespace statescope::app {

class TransportBar : public QWidget {
    Q_OBJECT
public:
    explicit TransportBar(QWidget* parent = nullptr);

    // Reflect the controller's state without emitting requests.
    void set_length(int64_t tokens);
    void set_token(int64_t token);
    void set_layers(int layers, int heads_of_focused_layer);
    void set_focus(int layer, int head, int heads);
    void set_window(int tokens);

    bool playing() const { return timer_.isActive(); }
    void set_playing(bool on);
    void toggle_playing() { set_playing(!playing()); }
    double rate() const; // tokens per second
    void set_rate(double tokens_per_second);
    int window() const;  // what the window box shows
    // The number boxes, for tests: after a click into one the transport keys still work.
    QSpinBox* window_box() const { return window_; }

signals:
    void token_requested(int64_t token);
    void step_requested(int64_t delta);
    void focus_requested(int layer, int head);
    void window_requested(int tokens);
    void playing_changed(bool playing);

protected:
    // Left, Right, Space, Home and End stay the window's transport keys while a number box has
    // the focus: the boxes' text editing would swallow them (ShortcutOverride).
    bool eventFilter(QObject* watched, QEvent* e) override;

private:
    QToolButton* button(const QString& tip, int icon);
    QToolButton *start_, *back_, *play_, *forward_, *end_;
    QSlider* slider_;
    QSpinBox* goto_;
    QLabel* of_;
    QDoubleSpinBox* rate_;
    QSpinBox *layer_, *head_, *window_;
    QTimer timer_;
    bool updating_ = false;
};

} // namespace statescope::app
