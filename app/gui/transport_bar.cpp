#include "transport_bar.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QStyle>
#include <QToolButton>

namespace statescope::app {

namespace {
QLabel* caption(const QString& text, QWidget* parent) {
    auto* l = new QLabel(text, parent);
    l->setObjectName("transportCaption");
    return l;
}
} // namespace

QToolButton* TransportBar::button(const QString& tip, int icon) {
    auto* b = new QToolButton(this);
    b->setIcon(style()->standardIcon(QStyle::StandardPixmap(icon)));
    b->setToolTip(tip);
    b->setAutoRaise(true);
    b->setFocusPolicy(Qt::NoFocus); // arrows and space belong to the window's shortcuts
    return b;
}

TransportBar::TransportBar(QWidget* parent) : QWidget(parent) {
    auto* h = new QHBoxLayout(this);
    h->setContentsMargins(6, 2, 6, 2);
    h->setSpacing(4);
    start_ = button("First token (Home)", QStyle::SP_MediaSkipBackward);
    back_ = button("Previous token (Left)", QStyle::SP_MediaSeekBackward);
    play_ = button("Play / pause (Space)", QStyle::SP_MediaPlay);
    forward_ = button("Next token (Right)", QStyle::SP_MediaSeekForward);
    end_ = button("Last token (End)", QStyle::SP_MediaSkipForward);
    for (auto* b : {start_, back_, play_, forward_, end_}) h->addWidget(b);
    connect(start_, &QToolButton::clicked, this, [this] { emit token_requested(0); });
    connect(end_, &QToolButton::clicked, this, [this] { emit token_requested(INT64_MAX); });
    connect(back_, &QToolButton::clicked, this, [this] { emit step_requested(-1); });
    connect(forward_, &QToolButton::clicked, this, [this] { emit step_requested(+1); });
    connect(play_, &QToolButton::clicked, this, [this] { toggle_playing(); });

    slider_ = new QSlider(Qt::Horizontal, this);
    slider_->setFocusPolicy(Qt::NoFocus);
    slider_->setToolTip("Scrub through the sequence");
    h->addWidget(slider_, 1);
    connect(slider_, &QSlider::valueChanged, this, [this](int v) {
        if (!updating_) emit token_requested(v);
    });

    h->addWidget(caption("token", this));
    goto_ = new QSpinBox(this);
    goto_->setToolTip("Go to token (index from 0)");
    goto_->setKeyboardTracking(false);
    h->addWidget(goto_);
    of_ = caption("/ 0", this);
    h->addWidget(of_);
    connect(goto_, &QSpinBox::valueChanged, this, [this](int v) {
        if (!updating_) emit token_requested(v);
    });

    h->addSpacing(10);
    h->addWidget(caption("rate", this));
    rate_ = new QDoubleSpinBox(this);
    rate_->setRange(0.5, 120);
    rate_->setValue(8);
    rate_->setSuffix(" tok/s");
    rate_->setDecimals(1);
    rate_->setToolTip("Playback rate");
    h->addWidget(rate_);
    connect(rate_, &QDoubleSpinBox::valueChanged, this, [this](double r) { timer_.setInterval(int(1000 / r)); });

    h->addSpacing(10);
    h->addWidget(caption("layer", this));
    layer_ = new QSpinBox(this);
    layer_->setToolTip("Focused layer");
    h->addWidget(layer_);
    h->addWidget(caption("head", this));
    head_ = new QSpinBox(this);
    head_->setToolTip("Focused head");
    h->addWidget(head_);
    auto focus = [this] {
        if (!updating_) emit focus_requested(layer_->value(), head_->value());
    };
    connect(layer_, &QSpinBox::valueChanged, this, focus);
    connect(head_, &QSpinBox::valueChanged, this, focus);
    h->addWidget(caption("window", this));
    window_ = new QSpinBox(this);
    window_->setRange(1, 512);
    window_->setValue(32);
    window_->setSuffix(" tok");
    window_->setToolTip("Tokens the attention maps and the transition product span (ending at the current token)");
    window_->setKeyboardTracking(false);
    h->addWidget(window_);
    connect(window_, &QSpinBox::valueChanged, this, [this](int v) {
        if (!updating_) emit window_requested(v);
    });

    // Number boxes take focus only when clicked; the arrows, Space, Home and End stay the
    // window's transport keys even then (eventFilter), Up/Down and digits edit the box, and
    // Return or Escape gives the focus back.
    for (QAbstractSpinBox* box : std::initializer_list<QAbstractSpinBox*>{goto_, rate_, layer_, head_, window_}) {
        box->setFocusPolicy(Qt::ClickFocus);
        box->installEventFilter(this);
        connect(box, &QAbstractSpinBox::editingFinished, this, [box] {
            if (box->hasFocus()) box->clearFocus();
        });
    }

    timer_.setInterval(int(1000 / rate_->value()));
    connect(&timer_, &QTimer::timeout, this, [this] { emit step_requested(+1); });
}

double TransportBar::rate() const { return rate_->value(); }

void TransportBar::set_rate(double tokens_per_second) { rate_->setValue(tokens_per_second); }

int TransportBar::window() const { return window_->value(); }

bool TransportBar::eventFilter(QObject* watched, QEvent* e) {
    if (e->type() == QEvent::ShortcutOverride) {
        const auto* k = static_cast<QKeyEvent*>(e);
        const bool transport_key = k->key() == Qt::Key_Left || k->key() == Qt::Key_Right || k->key() == Qt::Key_Space ||
                                   k->key() == Qt::Key_Home || k->key() == Qt::Key_End;
        if (transport_key && (k->modifiers() & ~Qt::KeypadModifier) == Qt::NoModifier) {
            // A number typed and not yet confirmed counts before the position moves.
            if (auto* box = qobject_cast<QAbstractSpinBox*>(watched)) box->interpretText();
            e->ignore(); // not claimed by the box: the window's shortcut runs
            return true;
        }
    }
    return QWidget::eventFilter(watched, e);
}

void TransportBar::set_playing(bool on) {
    if (on == playing()) return;
    if (on) timer_.start();
    else timer_.stop();
    play_->setIcon(style()->standardIcon(on ? QStyle::SP_MediaPause : QStyle::SP_MediaPlay));
    emit playing_changed(on);
}

void TransportBar::set_length(int64_t tokens) {
    updating_ = true;
    const int last = int(std::max<int64_t>(0, tokens - 1));
    slider_->setRange(0, last);
    goto_->setRange(0, last);
    of_->setText(QString("/ %1").arg(last));
    updating_ = false;
}

void TransportBar::set_token(int64_t token) {
    updating_ = true;
    slider_->setValue(int(token));
    goto_->setValue(int(token));
    updating_ = false;
}

void TransportBar::set_layers(int layers, int heads) {
    updating_ = true;
    layer_->setRange(0, std::max(0, layers - 1));
    head_->setRange(0, std::max(0, heads - 1));
    updating_ = false;
}

void TransportBar::set_focus(int layer, int head, int heads) {
    updating_ = true;
    head_->setRange(0, std::max(0, heads - 1));
    layer_->setValue(layer);
    head_->setValue(head);
    updating_ = false;
}

void TransportBar::set_window(int tokens) {
    updating_ = true;
    window_->setValue(tokens);
    updating_ = false;
}

} // namespace statescope::app
