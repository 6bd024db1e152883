// Linear attention (fla/layers/linear_attn.py): no decay, S_t = S_{t-1} + phi(k_t) v_t^T, read by
// phi(q_t) scaled by F^-1/2 where F is the feature dim AFTER the feature map (fla's kernels take
// the default scale from q.shape[-1]). Feature maps from fla/modules/feature_map.py:
//   hedgehog             softmax([2 W x + 2 b, -(2 W x + 2 b)])           K -> 2K, learned W, b
//   t2r                  relu(W x)                                        K -> K, learned W
//   elementwise_product  (W1 x + b1) * (W2 x + b2)                        K -> K, learned
//   dpfp                 products of [relu x, -relu x] with its rolls     K -> 8K (nu = 4)
//   elu (elu + 1), relu, identity                                         K -> K
// Optional norm_q / norm_k (divide by the feature sum + 1e-4) and norm_feature_map (divide the
// output by q . cumsum(k), carrying that cumsum as a second state). The output goes through a
// per-head RMSNorm without gate. fla's linear-attention kernels keep the state key-major.
#include "statescope/error.h"
#include "gpu/family_kernels.h"
#include "gpu/layers.h"
#include "models/fla_common.h"

#include <algorithm>
#include <cmath>

namespace statescope {
namespace {

// [T, heads * n] as [T * heads, n]: one row per (token, head), for the per-head maps.
gpu::Mat per_head_rows(const gpu::Mat& x, uint32_t heads) {
    require(x.contiguous() && x.cols % heads == 0, "linear_attn GPU: per-head view of a strided or ragged matrix");
    return {x.buf, x.offset, x.rows * heads, x.cols / heads, x.cols / heads};
}

// The inverse: [T * heads, n] back to [T, heads * n].
gpu::Mat per_token_rows(const gpu::Mat& x, uint32_t heads) {
    require(x.contiguous() && x.rows % heads == 0, "linear_attn GPU: per-token view of a strided or ragged matrix");
    return {x.buf, x.offset, x.rows / heads, x.cols * heads, x.cols * heads};
}

// One feature map applied per head to [T, heads * K] activations, giving [T, heads * out_dim].
class FeatureMap {
public:
    enum Kind { Hedgehog, T2R, Hadamard, DPFP, Elu, Relu, Identity };

    // prefix: the module path, e.g. "model.layers.0.attn.feature_map_q".
    static FeatureMap load(Checkpoint& ck, const Config& c, const std::string& name, const std::string& prefix, int K) {
        FeatureMap m;
        m.K_ = K;
        if (name == "hedgehog") {
            m.kind_ = Hedgehog;
            m.l1_ = cpu::Linear::load(ck, prefix + ".layer", K, K, /*bias=*/true);
        } else if (name == "t2r") {
            m.kind_ = T2R;
            m.l1_ = cpu::Linear::load(ck, prefix + ".layer", K, K);
        } else if (name == "elementwise_product") {
            m.kind_ = Hadamard;
            m.l1_ = cpu::Linear::load(ck, prefix + ".layer1", K, K, true);
            m.l2_ = cpu::Linear::load(ck, prefix + ".layer2", K, K, true);
        } else if (name == "dpfp") {
            m.kind_ = DPFP;
        } else if (name == "elu") {
            m.kind_ = Elu;
        } else if (name == "relu") {
            m.kind_ = Relu;
        } else if (name == "identity") {
            m.kind_ = Identity;
        } else {
            c.fail("feature_map", "'" + name + "' is not supported for linear_attn (hedgehog, t2r, "
                                  "elementwise_product, dpfp, elu, relu or identity)");
        }
        return m;
    }

    int out_dim() const {
        switch (kind_) {
        case Hedgehog: return 2 * K_;
        case DPFP: return 2 * K_ * dpfp_nu;
        default: return K_;
        }
    }

    cpu::Mat operator()(const cpu::Mat& x, int heads) const {
        const Eigen::Index T = x.rows();
        const int F = out_dim();
        // One row per (token, head): the learned maps act on each head's K features.
        cpu::Mat xh = Eigen::Map<const cpu::Mat>(x.data(), T * heads, K_);
        cpu::Mat y(T * heads, F);
        switch (kind_) {
        case Hedgehog: {
            const cpu::Mat a = l1_(xh);
            for (Eigen::Index r = 0; r < a.rows(); ++r) {
                float mx = 0;
                for (int i = 0; i < K_; ++i) mx = std::max(mx, std::abs(2.0f * a(r, i)));
                double sum = 0;
                for (int i = 0; i < K_; ++i) {
                    const float z = 2.0f * a(r, i);
                    y(r, i) = std::exp(z - mx);
                    y(r, K_ + i) = std::exp(-z - mx);
                    sum += double(y(r, i)) + y(r, K_ + i);
                }
                const float inv = float(1.0 / sum);
                for (int i = 0; i < F; ++i) y(r, i) *= inv;
            }
            break;
        }
        case T2R:
            y = l1_(xh).cwiseMax(0.0f);
            break;
        case Hadamard:
            y = l1_(xh).cwiseProduct(l2_(xh));
            break;
        case DPFP: {
            // z = [relu(x), -relu(x)] (2K); out[j-1 block][i] = z[i] * z[(i - j) mod 2K], j = 1..nu.
            const int n = 2 * K_;
            std::vector<float> z(static_cast<size_t>(n));
            for (Eigen::Index r = 0; r < xh.rows(); ++r) {
                for (int i = 0; i < K_; ++i) {
                    z[size_t(i)] = std::max(xh(r, i), 0.0f);
                    z[size_t(K_ + i)] = -z[size_t(i)];
                }
                for (int j = 1; j <= dpfp_nu; ++j)
                    for (int i = 0; i < n; ++i) y(r, (j - 1) * n + i) = z[size_t(i)] * z[size_t(((i - j) % n + n) % n)];
            }
            break;
        }
        case Elu:
            y = xh.unaryExpr([](float v) { return v > 0 ? v + 1.0f : std::exp(v); });
            break;
        case Relu:
            y = xh.cwiseMax(0.0f);
            break;
        case Identity:
            y = xh;
            break;
        }
        return Eigen::Map<const cpu::Mat>(y.data(), T, Eigen::Index(heads) * F);
    }

    // The same map on the device: x [T, heads * K] (contiguous) -> [T, heads * out_dim()]. The
    // element-wise maps work in place on x.
    gpu::Mat gpu(gpu::Ops& ops, const gpu::Mat& x, uint32_t heads) const {
        const uint32_t K = uint32_t(K_);
        require(x.cols == heads * K, "linear_attn GPU feature map: " + std::to_string(x.cols) + " columns for " +
                                         std::to_string(heads) + " heads of " + std::to_string(K));
        switch (kind_) {
        case Elu: ops.apply(x, gpu::Func::EluPlusOne); return x;
        case Relu: ops.apply(x, gpu::Func::Relu); return x;
        case Identity: return x;
        default: break;
        }
        const gpu::Mat xh = per_head_rows(x, heads);
        gpu::Mat y;
        switch (kind_) {
        case Hedgehog: {
            // softmax([2a, -2a]) with a = W x + b; the softmax's max is max |2a|, as on the CPU.
            const gpu::Mat a = gpu::linear(ops, l1_, xh);
            y = ops.alloc(xh.rows, 2 * K, "hedgehog features");
            gpu::ElementwiseParams twice;
            twice.alpha = 2.0f;
            ops.elementwise(y.cols_range(0, K), gpu::Operand::of(a), {}, twice);
            twice.alpha = -2.0f;
            ops.elementwise(y.cols_range(K, K), gpu::Operand::of(a), {}, twice);
            gpu::linear_attn_rows(ops, y, 2 * K, gpu::RowsMode::Softmax, 0.0f);
            break;
        }
        case T2R:
            y = gpu::linear(ops, l1_, xh);
            ops.apply(y, gpu::Func::Relu);
            break;
        case Hadamard:
            y = gpu::linear(ops, l1_, xh);
            ops.mul(y, y, gpu::linear(ops, l2_, xh));
            break;
        case DPFP: {
            // zz = [z, z] with z = [relu x, -relu x] (n = 2K): block j of the output is
            // z[i] * z[(i - j) mod n] = z[i] * zz[i + m n - j] (m = ceil(j / n)), a shifted view of zz.
            const uint32_t n = 2 * K;
            const gpu::Mat zz = ops.alloc(xh.rows, 2 * n, "dpfp features");
            const gpu::Operand every_block{xh.buf, xh.offset, xh.stride, 1, 0, K};   // x[c mod K]
            gpu::ElementwiseParams relu;
            relu.f = gpu::Func::Relu;
            ops.elementwise(zz, every_block, {}, relu);
            // The -relu blocks (columns K.. and 3K.. of each row) are the rows of a [2 rows, K] view.
            ops.apply({zz.buf, zz.offset + K, 2 * zz.rows, K, n}, gpu::Func::Identity, -1.0f);
            y = ops.alloc(xh.rows, uint32_t(out_dim()), "dpfp output");
            gpu::ElementwiseParams mul;
            mul.op = gpu::Combine::Mul;
            for (uint32_t j = 1; j <= uint32_t(dpfp_nu); ++j) {
                const uint32_t shift = (j + n - 1) / n * n - j;
                ops.elementwise(y.cols_range((j - 1) * n, n), gpu::Operand::of(zz.cols_range(0, n)),
                                gpu::Operand::of(zz.cols_range(shift, n)), mul);
            }
            break;
        }
        default: throw Error("linear_attn GPU feature map: unhandled kind");
        }
        return per_token_rows(y, heads);
    }

private:
    static constexpr int dpfp_nu = 4; // DPFPFeatureMap's default; LinearAttention does not change it
    Kind kind_ = Identity;
    int K_ = 0;
    cpu::Linear l1_, l2_;
};

class LinearAttentionMixer : public RecurrentMixer {
public:
    LinearAttentionMixer(Checkpoint& ck, const Config& c, int layer, int hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        const FlaHeads heads = FlaHeads::read(c, hidden, {4, 1.0, 1.0});
        H_ = heads.H, kv_heads_ = heads.kv_heads, K_ = heads.K, V_ = heads.V;
        heads.load_qkv(ck, p, hidden, q_, k_, v_);
        out_.out = cpu::Linear::load(ck, p + ".o_proj", hidden, H_ * V_);
        out_.heads = H_;

        feature_map_name_ = c.string_or("feature_map", "elementwise_product");
        // tie_feature_map_qk makes feature_map_k the same module as feature_map_q; a saved
        // checkpoint may then hold the shared weights under either name.
        const bool tied = c.bool_or("tie_feature_map_qk", false);
        std::string q_name = p + ".feature_map_q", k_name = p + ".feature_map_k";
        if (tied) {
            const bool q_saved = ck.has(q_name + ".layer.weight") || ck.has(q_name + ".layer1.weight");
            if (!q_saved) q_name = k_name;
            k_name = q_name;
        }
        fq_ = FeatureMap::load(ck, c, feature_map_name_, q_name, K_);
        fk_ = FeatureMap::load(ck, c, feature_map_name_, k_name, K_);
        F_ = fq_.out_dim();

        norm_q_ = c.bool_or("norm_q", false);
        norm_k_ = c.bool_or("norm_k", false);
        normalize_ = c.bool_or("norm_feature_map", false);
        // LinearAttentionBlock does not pass output_norm, so the layer's default 'rmsnorm' holds.
        out_.norm = OutputNorm::load(ck, p + ".norm", V_, float(c.number_or("norm_eps", 1e-6)),
                                     c.bool_or("elementwise_affine", true));
        describe(TransitionKind::Identity, H_, F_, V_, "linear attn (" + feature_map_name_ + ")");
        layer_.qk_inputs = "feature map " + feature_map_name_ + (norm_q_ || norm_k_ ? ", divided by the feature sum" : "");
    }

    void init_state(LayerState& st) const override {
        RecurrentMixer::init_state(st);
        // Running sum of phi(k) for norm_feature_map's denominator (fla's z_state).
        if (normalize_) st.aux.push_back({"key_sum", Tensor({H_, F_})});
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        // fla repeats kv heads before the feature map; the map acts per head, so mapping the
        // kv heads first and repeating afterwards is the same.
        q = fq_(q, H_);
        k = fk_(k, kv_heads_);
        if (norm_q_) normalize_by_sum(q);
        if (norm_k_) normalize_by_sum(k);

        ScanInputs in;
        in.allocate(TransitionKind::Identity, T, H_, F_, V_);
        fill_gqa_scan_inputs(in, q, k, v, kv_heads_);
        cpu::Mat o = run_scan(in, st, ctx);
        if (normalize_) divide_by_key_sum(in, o, st.get("key_sum"));
        return out_(o, x);
    }

    // forward() step by step on the device.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows, groups = uint32_t(H_ / kv_heads_), F = uint32_t(F_);
        gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x);
        const gpu::Mat v = gpu::linear(ops, v_, x);
        q = fq_.gpu(ops, q, uint32_t(H_));
        k = fk_.gpu(ops, k, uint32_t(kv_heads_));
        if (norm_q_) gpu::linear_attn_rows(ops, q, F, gpu::RowsMode::Sum, 1e-4f);
        if (norm_k_) gpu::linear_attn_rows(ops, k, F, gpu::RowsMode::Sum, 1e-4f);

        gpu::ScanMats in = ops.scan_inputs(TransitionKind::Identity, int(T), H_, F_, V_, 1, false, false);
        gpu::repeat_heads(ops, in.q, q, F, 1, 1.0f / std::sqrt(float(F_)));
        gpu::repeat_heads(ops, in.k, k, F, groups);
        gpu::repeat_heads(ops, in.v, v, uint32_t(V_), groups);
        const gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        if (normalize_) divide_by_key_sum_gpu(ops, in, o, st.get("key_sum"));
        return out_.gpu(ops, o, x);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        const std::string L = library_state_name(layer, "recurrent_state");
        Tensor S = export_state(st.recurrent, H_, F_, V_, /*value_major=*/false);
        if (!normalize_) {
            out.push_back({L, std::move(S)});
            return;
        }
        // With normalize, fla's recurrent_state is the tuple (S [1,H,F,V], z [1,1,H,F]).
        Tensor z = *st.find("key_sum");
        z.shape = {1, 1, H_, F_};
        out.push_back({L + ".0", std::move(S)});
        out.push_back({L + ".1", std::move(z)});
    }

private:
    // x / (sum of the features of each head + 1e-4), as LinearAttention's norm_q / norm_k.
    void normalize_by_sum(cpu::Mat& x) const {
        const int heads = int(x.cols()) / F_;
        for (Eigen::Index t = 0; t < x.rows(); ++t)
            for (int h = 0; h < heads; ++h) {
                float* f = x.row(t).data() + size_t(h) * F_;
                float s = 0;
                for (int i = 0; i < F_; ++i) s += f[i];
                for (int i = 0; i < F_; ++i) f[i] /= s + 1e-4f;
            }
    }

    // fla's normalize_with_z_state: o_t /= (scale q_t) . (z0 + sum_{s<=t} k_s) + 1e-10.
    // in.q already carries the scale.
    void divide_by_key_sum(const ScanInputs& in, cpu::Mat& o, Tensor& key_sum) const {
        for (int t = 0; t < in.T; ++t)
            for (int h = 0; h < H_; ++h) {
                float* z = key_sum.ptr() + size_t(h) * F_;
                const float* kt = in.k_at(t, 0, h);
                const float* qt = in.q_at(t, h);
                float denom = 0;
                for (int i = 0; i < F_; ++i) {
                    z[i] += kt[i];
                    denom += qt[i] * z[i];
                }
                denom += 1e-10f;
                for (int i = 0; i < V_; ++i) o(t, h * V_ + i) /= denom;
            }
    }

    // divide_by_key_sum on the device (linear_attn_key_sum.comp), reading the packed scan inputs.
    void divide_by_key_sum_gpu(gpu::Ops& ops, const gpu::ScanMats& in, const gpu::Mat& o, gpu::DeviceTensor& key_sum) const {
        gpu::linear_attn_divide_by_key_sum(ops, in.q, in.k, o, key_sum, uint32_t(in.T), uint32_t(H_), uint32_t(F_),
                                           uint32_t(V_));
    }

    int H_ = 0, kv_heads_ = 0, K_ = 0, V_ = 0, F_ = 0;
    bool norm_q_ = false, norm_k_ = false, normalize_ = false;
    std::string feature_map_name_;
    cpu::Linear q_, k_, v_;
    FeatureMap fq_, fk_;
    OutputHead out_; // no gate
};

} // namespace

std::unique_ptr<Model> make_linear_attn(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "Linear attention", mixer_factory<LinearAttentionMixer>());
}

} // namespace statescope
