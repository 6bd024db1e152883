// Colour maps for the views. Diverging maps are centred on zero so that the sign of a state
// entry or an attention weight reads at a glance; sequential maps are perceptually uniform.
#pragma once
#include <QColor>
#include <QString>
#include <array>

namespace statescope::views {

class Colormap {
public:
    enum Kind { Diverging, Sequential };
    // ColorBrewer RdBu reversed (blue negative, near-white zero, red positive) / viridis.
    static const Colormap& diverging();
    static const Colormap& sequential();

    Kind kind() const { return kind_; }
    // x in [-1, 1] for diverging maps, [0, 1] for sequential ones; clamped.
    QRgb rgb(double x) const;
    QColor color(double x) const { return QColor::fromRgb(rgb(x)); }
    QString name() const { return name_; }

private:
    Colormap(Kind kind, QString name, std::initializer_list<QRgb> stops);
    Kind kind_;
    QString name_;
    std::array<QRgb, 256> lut_{};
};

// How values map onto a colour map's domain.
enum class ScaleMode {
    PerFrame, // symmetric limit = max |value| of the frame shown
    Fixed,    // a limit the user sets (kept while the position moves)
    SymLog    // sign(x) log(1 + |x|/c) / log(1 + L/c), c = L / 100: small entries stay visible
};

struct ColorScale {
    ScaleMode mode = ScaleMode::PerFrame;
    double limit = 1.0;  // L: values beyond it saturate
    // Maps a value to the colour map's domain ([-1, 1] diverging, [0, 1] sequential).
    double normalize(double x, bool diverging) const;
    // Inverse of normalize, for colour bar ticks.
    double value_at(double y, bool diverging) const;
};

QString scale_mode_name(ScaleMode m);

} // namespace statescope::views
