#include "colormap.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace statescope::views {

Colormap::Colormap(Kind kind, QString name, std::initializer_list<QRgb> stops) : kind_(kind), name_(std::move(name)) {
    // Linear interpolation between equally spaced stops, tabulated once.
    const std::vector<QRgb> s(stops);
    const int n = int(s.size());
    for (int i = 0; i < 256; ++i) {
        const double x = i / 255.0 * (n - 1);
        const int a = std::min(int(x), n - 2);
        const double f = x - a;
        auto mix = [&](int (*ch)(QRgb)) { return int(std::lround(ch(s[size_t(a)]) * (1 - f) + ch(s[size_t(a + 1)]) * f)); };
        lut_[size_t(i)] = qRgb(mix(qRed), mix(qGreen), mix(qBlue));
    }
}

const Colormap& Colormap::diverging() {
    static const Colormap m(Diverging, "RdBu (diverging)",
                            {0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7, 0xf4a582, 0xd6604d,
                             0xb2182b, 0x67001f});
    return m;
}

const Colormap& Colormap::sequential() {
    static const Colormap m(Sequential, "viridis",
                            {0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725});
    return m;
}

QRgb Colormap::rgb(double x) const {
    if (std::isnan(x)) return qRgb(128, 128, 128);
    const double u = kind_ == Diverging ? (x + 1) * 0.5 : x;
    const int i = int(std::lround(std::clamp(u, 0.0, 1.0) * 255));
    return lut_[size_t(i)];
}

double ColorScale::normalize(double x, bool diverging) const {
    const double L = limit > 0 ? limit : 1.0;
    double y;
    if (mode == ScaleMode::SymLog) {
        const double c = L / 100;
        y = std::copysign(std::log1p(std::abs(x) / c) / std::log1p(L / c), x);
    } else {
        y = x / L;
    }
    return diverging ? std::clamp(y, -1.0, 1.0) : std::clamp(y, 0.0, 1.0);
}

double ColorScale::value_at(double y, bool diverging) const {
    const double L = limit > 0 ? limit : 1.0;
    if (!diverging) y = std::max(0.0, y);
    if (mode == ScaleMode::SymLog) {
        const double c = L / 100;
        return std::copysign(c * std::expm1(std::abs(y) * std::log1p(L / c)), y);
    }
    return y * L;
}

QString scale_mode_name(ScaleMode m) {
    switch (m) {
    case ScaleMode::PerFrame: return "Per frame";
    case ScaleMode::Fixed: return "Fixed";
    case ScaleMode::SymLog: return "Symlog";
    }
    return {};
}

} // namespace statescope::views
