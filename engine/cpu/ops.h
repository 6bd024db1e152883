// CPU building blocks shared by the model families: projections, norms, activations, short
// convolutions and gated MLPs. Activations are row-major [T, features] matrices (one row a token).
#pragma once
#include "core/checkpoint.h"

#include <Eigen/Core>
#include <string>

namespace statescope::cpu {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vec = Eigen::VectorXf;
using ConstMap = Eigen::Map<const Mat>;

// y = x W^T (+ b), W stored [out, in] as in torch.nn.Linear.
struct Linear {
    const float* w = nullptr;
    const float* b = nullptr;
    int out = 0, in = 0;

    bool empty() const { return w == nullptr; }
    Mat operator()(const Mat& x) const;
    // Loads name + ".weight" (and ".bias" when bias is true, or when present and bias_optional).
    static Linear load(Checkpoint& ck, const std::string& name, int out, int in, bool bias = false,
                       bool bias_optional = false);
};

// A per-feature weight vector (norm weights, biases, per-head constants).
struct Param {
    const float* p = nullptr;
    int n = 0;
    bool empty() const { return p == nullptr; }
    float operator[](int i) const { return p[i]; }
    static Param load(Checkpoint& ck, const std::string& name, std::vector<int64_t> shape);
};

// x <- x / rms(x) * w over groups of `group` consecutive features (group = cols: plain RMSNorm).
void rms_norm(Mat& x, const Param& w, float eps, int group = 0);
// x <- (x - mean) / std * w + b over groups of `group` features (group = cols: LayerNorm).
void layer_norm(Mat& x, const Param& w, const Param& b, float eps, int group = 0);
// x <- x / ||x||_2 over groups of `group` features (fla's l2norm uses eps 1e-6 inside the sqrt).
void l2_norm(Mat& x, int group, float eps = 1e-6f);

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float silu(float x) { return x * sigmoid(x); }
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }
inline float log_sigmoid(float x) { return x < 0 ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x)); }
void apply_silu(Mat& x);
void apply_sigmoid(Mat& x);

// Depthwise causal convolution over time with a window state (fla's ShortConvolution and
// Mamba's conv1d). Weight [C, 1, W]; the state [C, W] holds the last W inputs, newest last,
// exactly as the libraries' conv caches do.
struct ShortConv {
    const float* w = nullptr; // [C, W]
    const float* b = nullptr; // [C] or null
    int channels = 0, width = 0;
    bool silu = true;

    static ShortConv load(Checkpoint& ck, const std::string& name, int channels, int width, bool bias, bool silu);
    // x: [T, C] -> y: [T, C]; state [C, W] is read and updated.
    Mat operator()(const Mat& x, Tensor& state) const;
    Tensor initial_state() const { return Tensor({channels, width}); }
};

// fla's GatedMLP / llama's MLP: down(silu(gate(x)) * up(x)). Accepts both fla layouts: separate
// gate_proj and up_proj [I, H], or one fused gate_proj [2I, H] whose halves are gate and up.
struct GatedMLP {
    Linear gate, up, down;
    Mat fused_w; // unused unless fused layout

    static GatedMLP load(Checkpoint& ck, const std::string& prefix, int hidden, int intermediate);
    Mat operator()(const Mat& x) const;
};

// fla's default intermediate size when config.intermediate_size is null.
int fla_intermediate_size(int hidden, double hidden_ratio);

} // namespace statescope::cpu
