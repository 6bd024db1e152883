#include "cpu/ops.h"

#include "statescope/error.h"

#include <cmath>

namespace statescope::cpu {

Mat Linear::operator()(const Mat& x) const {
    ConstMap W(w, out, in);
    Mat y = x * W.transpose();
    if (b) y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(b, out);
    return y;
}

Linear Linear::load(Checkpoint& ck, const std::string& name, int out, int in, bool bias, bool bias_optional) {
    Linear l;
    l.out = out;
    l.in = in;
    l.w = ck.f32(name + ".weight", {out, in});
    if (bias || (bias_optional && ck.has(name + ".bias"))) l.b = ck.f32(name + ".bias", {out});
    return l;
}

Param Param::load(Checkpoint& ck, const std::string& name, std::vector<int64_t> shape) {
    Param p;
    p.p = ck.f32(name, shape);
    p.n = int(Tensor::numel(shape));
    return p;
}

void rms_norm(Mat& x, const Param& w, float eps, int group) {
    const int cols = int(x.cols());
    if (group <= 0) group = cols;
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        float* row = x.row(r).data();
        for (int g0 = 0; g0 < cols; g0 += group) {
            double ss = 0;
            for (int i = 0; i < group; ++i) ss += double(row[g0 + i]) * row[g0 + i];
            float inv = float(1.0 / std::sqrt(ss / group + eps));
            for (int i = 0; i < group; ++i) {
                float wi = w.empty() ? 1.0f : w[w.n == cols ? g0 + i : i];
                row[g0 + i] = row[g0 + i] * inv * wi;
            }
        }
    }
}

void layer_norm(Mat& x, const Param& w, const Param& b, float eps, int group) {
    const int cols = int(x.cols());
    if (group <= 0) group = cols;
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        float* row = x.row(r).data();
        for (int g0 = 0; g0 < cols; g0 += group) {
            double mean = 0, var = 0;
            for (int i = 0; i < group; ++i) mean += row[g0 + i];
            mean /= group;
            for (int i = 0; i < group; ++i) var += (row[g0 + i] - mean) * (row[g0 + i] - mean);
            var /= group;
            float inv = float(1.0 / std::sqrt(var + eps));
            for (int i = 0; i < group; ++i) {
                int wi_idx = w.n == cols ? g0 + i : i;
                float v = float(row[g0 + i] - mean) * inv;
                if (!w.empty()) v *= w[wi_idx];
                if (!b.empty()) v += b[wi_idx];
                row[g0 + i] = v;
            }
        }
    }
}

void l2_norm(Mat& x, int group, float eps) {
    const int cols = int(x.cols());
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        float* row = x.row(r).data();
        for (int g0 = 0; g0 < cols; g0 += group) {
            double ss = 0;
            for (int i = 0; i < group; ++i) ss += double(row[g0 + i]) * row[g0 + i];
            float inv = float(1.0 / std::sqrt(ss + eps));
            for (int i = 0; i < group; ++i) row[g0 + i] *= inv;
        }
    }
}

void apply_silu(Mat& x) {
    float* p = x.data();
    for (Eigen::Index i = 0; i < x.size(); ++i) p[i] = silu(p[i]);
}

void apply_sigmoid(Mat& x) {
    float* p = x.data();
    for (Eigen::Index i = 0; i < x.size(); ++i) p[i] = sigmoid(p[i]);
}

ShortConv ShortConv::load(Checkpoint& ck, const std::string& name, int channels, int width, bool bias, bool silu_act) {
    ShortConv c;
    c.channels = channels;
    c.width = width;
    c.silu = silu_act;
    c.w = ck.f32(name + ".weight", {channels, 1, width});
    if (bias) c.b = ck.f32(name + ".bias", {channels});
    return c;
}

Mat ShortConv::operator()(const Mat& x, Tensor& state) const {
    if (state.numel() != int64_t(channels) * width)
        throw Error("short convolution state has " + std::to_string(state.numel()) + " values, expected " +
                    std::to_string(channels * width));
    const int T = int(x.rows()), W = width;
    Mat y(T, channels);
    float* st = state.ptr();
    for (int t = 0; t < T; ++t) {
        for (int c = 0; c < channels; ++c) {
            float* win = st + size_t(c) * W;
            for (int i = 0; i + 1 < W; ++i) win[i] = win[i + 1];
            win[W - 1] = x(t, c);
            const float* wc = w + size_t(c) * W;
            float acc = b ? b[c] : 0.0f;
            for (int i = 0; i < W; ++i) acc += win[i] * wc[i];
            y(t, c) = silu ? cpu::silu(acc) : acc;
        }
    }
    return y;
}

GatedMLP GatedMLP::load(Checkpoint& ck, const std::string& prefix, int hidden, int intermediate) {
    GatedMLP m;
    if (ck.has(prefix + ".up_proj.weight")) {
        m.gate = Linear::load(ck, prefix + ".gate_proj", intermediate, hidden);
        m.up = Linear::load(ck, prefix + ".up_proj", intermediate, hidden);
    } else {
        // Older fla layout: gate_proj holds [gate; up] stacked, [2I, H]. A gate_proj of the
        // separate layout's shape means up_proj was lost, which is what the message must say.
        const std::string gate_name = prefix + ".gate_proj.weight";
        if (ck.has(gate_name) && !ck.is_synthetic() &&
            ck.entry(gate_name).shape == std::vector<int64_t>{intermediate, hidden})
            throw Error(ck.file_of(gate_name) + ": tensor '" + prefix + ".up_proj.weight' is missing (" + gate_name +
                        " has the shape of a separate gate, not of gate and up stacked)");
        const float* w = ck.f32(prefix + ".gate_proj.weight", {2 * intermediate, hidden});
        m.gate = Linear{w, nullptr, intermediate, hidden};
        m.up = Linear{w + size_t(intermediate) * hidden, nullptr, intermediate, hidden};
    }
    m.down = Linear::load(ck, prefix + ".down_proj", hidden, intermediate);
    return m;
}

Mat GatedMLP::operator()(const Mat& x) const {
    Mat g = gate(x);
    Mat u = up(x);
    float* gp = g.data();
    const float* up_p = u.data();
    for (Eigen::Index i = 0; i < g.size(); ++i) gp[i] = silu(gp[i]) * up_p[i];
    return down(g);
}

int fla_intermediate_size(int hidden, double hidden_ratio) {
    int i = int(hidden * hidden_ratio * 2.0 / 3.0);
    return 256 * ((i + 255) / 256);
}

} // namespace statescope::cpu
