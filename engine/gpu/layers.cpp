#include "gpu/layers.h"

#include "statescope/error.h"

namespace statescope::gpu {

Weight weight(Ops& ops, const cpu::Linear& l) {
    return ops.weights().matrix(l.w, uint32_t(l.out), uint32_t(l.in),
                                "weight [" + std::to_string(l.out) + " x " + std::to_string(l.in) + "]");
}

Mat linear(Ops& ops, const cpu::Linear& l, const Mat& x) {
    const Weight w = weight(ops, l);
    if (!l.b) return ops.linear(x, w);
    const Mat b = param(ops, l.b, uint32_t(l.out));
    return ops.linear(x, w, &b);
}

Mat param(Ops& ops, const cpu::Param& p) { return param(ops, p.p, uint32_t(p.n)); }

Mat param(Ops& ops, const float* p, uint32_t n) {
    return ops.weights().vector(p, n, "parameter [" + std::to_string(n) + "]");
}

Mat short_conv(Ops& ops, const cpu::ShortConv& conv, const Mat& x, DeviceTensor& state) {
    const Mat w = param(ops, conv.w, uint32_t(conv.channels * conv.width));
    const Mat st = state.mat();
    if (conv.b) {
        const Mat b = param(ops, conv.b, uint32_t(conv.channels));
        return ops.short_conv(x, w, &b, st, uint32_t(conv.width), conv.silu);
    }
    return ops.short_conv(x, w, nullptr, st, uint32_t(conv.width), conv.silu);
}

Mat gated_mlp(Ops& ops, const cpu::GatedMLP& mlp, const Mat& x) {
    const Mat g = linear(ops, mlp.gate, x);
    const Mat u = linear(ops, mlp.up, x);
    ElementwiseParams p;
    p.op = Combine::MulSiluB;   // u * silu(g)
    ops.elementwise(g, Operand::of(u), Operand::of(g), p);
    return linear(ops, mlp.down, g);
}

void rms_norm(Ops& ops, const Mat& x, const cpu::Param& w, float eps, uint32_t group) {
    if (w.empty()) {
        ops.norm(x, NormKind::RMS, nullptr, nullptr, eps, group);
        return;
    }
    const Mat wm = param(ops, w);
    ops.norm(x, NormKind::RMS, &wm, nullptr, eps, group);
}

void layer_norm(Ops& ops, const Mat& x, const cpu::Param& w, const cpu::Param& b, float eps, uint32_t group) {
    Mat wm, bm;
    if (!w.empty()) wm = param(ops, w);
    if (!b.empty()) bm = param(ops, b);
    ops.norm(x, NormKind::Layer, w.empty() ? nullptr : &wm, b.empty() ? nullptr : &bm, eps, group);
}

void repeat_heads(Ops& ops, const Mat& dst, const Mat& src, uint32_t head_dim, uint32_t repeat, float scale) {
    require(src.cols * repeat == dst.cols && src.rows == dst.rows,
            "GPU repeat_heads: " + std::to_string(src.cols) + " columns repeated " + std::to_string(repeat) +
                " times do not make " + std::to_string(dst.cols));
    ElementwiseParams p;
    p.alpha = scale;
    ops.elementwise(dst, Operand::repeat_heads(src, head_dim, repeat), {}, p);
}

} // namespace statescope::gpu
