#include "statescope/scan_bench.h"
#include "gpu/scan_kernels.h"

#include "statescope/error.h"
#include "vulkan/context.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <utility>

namespace statescope::gpu {

namespace {

// Cheap reproducible numbers (the inputs only have to be finite and of realistic scale; a
// normal-distribution generator would take longer than the GPU work for 65k-token inputs).
struct FastRandom {
    uint64_t s;
    explicit FastRandom(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    float uniform() { // [0, 1)
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return float(s >> 40) * (1.0f / 16777216.0f);
    }
    float symmetric(float scale) { return (2.0f * uniform() - 1.0f) * scale; }
};

ScanInputs bench_inputs(TransitionKind kind, int T, int H, int K, int V, uint64_t seed) {
    FastRandom rng(seed);
    ScanInputs in;
    in.allocate(kind, T, H, K, V, 1, kind != TransitionKind::Identity);
    const float ks = 1.0f / std::sqrt(float(K));
    for (float& x : in.q.data) x = rng.symmetric(ks * 1.7f);
    for (float& x : in.k.data) x = rng.symmetric(ks * 1.7f);
    for (float& x : in.v.data) x = rng.symmetric(1.7f);
    for (float& x : in.beta.data) x = rng.uniform();
    const size_t TH = size_t(T) * H;
    switch (kind) {
    case TransitionKind::Identity: break;
    case TransitionKind::Scalar:
    case TransitionKind::DeltaRule:
        in.log_decay = Tensor({T, H});
        for (float& g : in.log_decay.data) g = -0.001f - 0.1f * rng.uniform();
        break;
    case TransitionKind::Diagonal:
    case TransitionKind::DiagPlusRankOne:
        in.log_decay = Tensor({T, H, K});
        for (float& g : in.log_decay.data) g = -0.001f - 0.1f * rng.uniform();
        break;
    }
    if (kind == TransitionKind::DeltaRule || kind == TransitionKind::DiagPlusRankOne) {
        // Unit-norm keys (delta rule) and a = -kappa, b = kappa * alpha (RWKV-7) keep the
        // transitions contractions, as in the models.
        for (size_t i = 0; i < TH; ++i) {
            float* k = in.k.ptr() + i * K;
            double ss = 0;
            for (int r = 0; r < K; ++r) ss += double(k[r]) * k[r];
            const float inv = float(1.0 / std::sqrt(ss + 1e-12));
            for (int r = 0; r < K; ++r) k[r] *= inv;
        }
    }
    if (kind == TransitionKind::DiagPlusRankOne) {
        in.a = Tensor({T, H, K});
        in.b = Tensor({T, H, K});
        for (size_t i = 0; i < TH; ++i) {
            const float* k = in.k.ptr() + i * K;
            const float alpha = rng.uniform();
            for (int r = 0; r < K; ++r) {
                in.a.data[i * K + r] = -k[r];
                in.b.data[i * K + r] = k[r] * alpha;
            }
        }
    }
    return in;
}

// Bytes a perfect kernel moves: every input read once, outputs and final state written once
// (q, k, v as float16 for the chunked-f16 form, everything else float32).
double min_bytes(const ScanInputs& in, bool f16_qkv) {
    const size_t qkv = in.q.data.size() + in.k.data.size() + in.v.data.size();
    size_t floats = in.beta.data.size() + in.log_decay.data.size() + in.a.data.size() + in.b.data.size();
    floats += size_t(in.T) * in.H * in.V;       // outputs
    floats += 2 * size_t(in.H) * in.K * in.V;   // state in and out
    return double(floats) * sizeof(float) + double(qkv) * (f16_qkv ? 2 : sizeof(float));
}

// Floating-point operations of the algorithm each form runs (multiply and add counted apart).
double recurrent_flops(const ScanInputs& in) {
    const double KV = double(in.K) * in.V;
    double per = 2 * KV /*write*/ + 2 * KV /*read*/;
    switch (in.kind) {
    case TransitionKind::Identity: break;
    case TransitionKind::Scalar:
    case TransitionKind::Diagonal: per += KV; break;
    case TransitionKind::DeltaRule: per += 4 * KV + (in.log_decay.data.empty() ? 0 : KV); break;
    case TransitionKind::DiagPlusRankOne: per += 5 * KV; break;
    }
    return per * double(in.T) * in.substeps * in.H;
}

double chunked_flops(const ScanInputs& in, int C) {
    const double K = in.K, V = in.V, c = C, tri = c * (c + 1) / 2;
    const double chunks = std::ceil(double(in.T) * in.substeps / C);
    double per = 2 * tri * K /*q k^T*/ + 2 * c * K * V /*q S*/ + 2 * tri * V /*att u*/ + 2 * c * K * V /*state*/;
    if (in.kind == TransitionKind::DeltaRule)
        per += 2 * tri * K /*gram*/ + c * c * c / 3 /*inverse*/ + 2 * tri * (K + V) /*W, U*/ + 2 * c * K * V /*u~*/;
    return per * chunks * in.H;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

ScanBench::ScanBench(ScanBenchOptions options) : options_(std::move(options)) {
    vk::ContextOptions copt;
    copt.device = options_.device;
    copt.pipeline_statistics = options_.pipeline_statistics;
    ctx_ = std::make_unique<vk::VulkanContext>(copt);
}

ScanBench::~ScanBench() = default;

std::string ScanBench::device_name() const { return ctx_->device().name; }
std::string ScanBench::device_type() const { return vk::device_type_name(ctx_->device().type); }
std::string ScanBench::api_version() const { return vk::api_version_string(ctx_->device().api_version); }
bool ScanBench::timestamps() const { return ctx_->device().timestamps; }
bool ScanBench::captures_pipeline_statistics() const { return ctx_->captures_pipeline_statistics(); }
std::vector<std::string> ScanBench::pipeline_statistics() const { return ctx_->pipeline_statistics(); }

namespace {

// The first n tokens of head 0 as a problem of its own, and its outputs from the exact attention
// form in double precision (scan_attention_form): the float64 reference the bench's accuracy
// column compares with. Causality makes the first n outputs of the full run comparable.
std::vector<float> float64_reference(const ScanInputs& in, int n) {
    ScanInputs s;
    s.allocate(in.kind, n, 1, in.K, in.V, in.substeps, !in.beta.data.empty());
    const bool key_gate = in.kind == TransitionKind::Diagonal || in.kind == TransitionKind::DiagPlusRankOne;
    const int gw = key_gate ? in.K : 1;
    if (!in.log_decay.data.empty()) s.log_decay = key_gate ? Tensor({n, 1, in.K}) : Tensor({n, 1});
    if (!in.a.data.empty()) s.a = Tensor({n, 1, in.K}), s.b = Tensor({n, 1, in.K});
    for (int t = 0; t < n; ++t) {
        std::copy_n(in.q_at(t, 0), in.K, s.q_at(t, 0));
        for (int j = 0; j < in.substeps; ++j) {
            std::copy_n(in.k_at(t, j, 0), in.K, s.k_at(t, j, 0));
            std::copy_n(in.v_at(t, j, 0), in.V, s.v_at(t, j, 0));
            if (!in.beta.data.empty()) s.beta.data[size_t(t) * in.substeps + j] = in.beta_at(t, j, 0);
        }
        if (!s.log_decay.data.empty())
            std::copy_n(in.log_decay.ptr() + size_t(t) * in.H * gw, gw, s.log_decay.ptr() + size_t(t) * gw);
        if (!s.a.data.empty()) {
            std::copy_n(in.a.ptr() + size_t(t) * in.H * in.K, in.K, s.a.ptr() + size_t(t) * in.K);
            std::copy_n(in.b.ptr() + size_t(t) * in.H * in.K, in.K, s.b.ptr() + size_t(t) * in.K);
        }
    }
    std::vector<float> S0(size_t(in.K) * in.V, 0.0f), o(size_t(n) * in.V);
    scan_attention_form(s, S0.data(), o.data());
    return o;
}

// Relative L2 error of head 0's first n outputs (from a [T, H, V] output) against the reference.
double error_vs_reference(const std::vector<float>& o, const ScanInputs& in, const std::vector<float>& ref, int n) {
    std::vector<float> head0(size_t(n) * in.V);
    for (int t = 0; t < n; ++t) std::copy_n(o.data() + size_t(t) * in.H * in.V, in.V, head0.data() + size_t(t) * in.V);
    return relative_l2(head0.data(), ref.data(), ref.size());
}

} // namespace

int ScanBench::run(const std::function<void(const ScanBenchRow&)>& on_row) {
    ScanKernels kernels(*ctx_);
    const ScanBenchOptions& o = options_;
    const bool timestamps = ctx_->device().timestamps;
    int failures = 0;
    for (const ScanBenchOptions::Config& cfg : o.configs) {
        const int heads = cfg.B * o.heads;
        for (TransitionKind kind : o.kinds) {
            ScanBenchRow base;
            base.kind = kind;
            base.B = cfg.B;
            base.T = cfg.T;
            base.H = o.heads;
            ScanInputs in = bench_inputs(kind, cfg.T, heads, o.K, o.V, 17 + uint64_t(kind));
            ScanBuffers buf;
            try {
                buf = kernels.upload(in, nullptr);
            } catch (const Error& e) {
                ScanBenchRow row = base;
                row.status = ScanBenchRow::Status::Skipped;
                row.message = e.what();
                on_row(row);
                continue;
            }
            std::vector<float> o_rec;
            // Float64 reference of head 0's first tokens (O(n^2) attention form: n stays small).
            const int n_ref = std::min(cfg.T, 512);
            const std::vector<float> ref64 = o.check ? float64_reference(in, n_ref) : std::vector<float>{};
            for (ScanForm form : o.forms) {
                ScanBenchRow row = base;
                row.form = form;
                if (!ScanKernels::supports(kind, form)) {
                    row.status = ScanBenchRow::Status::NotApplicable;
                    on_row(row);
                    continue;
                }
                ScanRunOptions opt = o.run;
                opt.form = form;
                opt.keep_chunk_states = form != ScanForm::ChunkedF16 || o.chunk_states;
                opt.tc_profile = o.run.tc_profile && form == ScanForm::ChunkedF16;
                std::vector<double> times;
                std::string stages;
                try {
                    // Warm-up: pipeline creation, first-touch costs, and clocks leaving idle:
                    // warmup_ms of runs, in submissions of ~50 ms with no host round trip between
                    // their runs. The host work between two rows (inputs, the float64 check) idles
                    // the GPU for seconds, and one run per submission left a GPU's clocks low for
                    // some rows (docs/benchmarks.md).
                    const auto warm_start = std::chrono::steady_clock::now();
                    int per_submit = 2;
                    do {
                        const auto t0 = std::chrono::steady_clock::now();
                        kernels.run_repeated(buf, opt, per_submit);
                        if (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50))
                            per_submit = std::min(per_submit * 2, 128);
                    } while (std::chrono::steady_clock::now() - warm_start < std::chrono::milliseconds(o.warmup_ms));
                    if (o.describe) row.plan = kernels.describe(buf, opt);
                    // The timed runs: back to back in one submission as well.
                    std::vector<std::vector<double>> stage_times;
                    std::vector<std::string> stage_names;
                    for (const ScanTiming& t : kernels.run_repeated(buf, opt, o.repeat)) {
                        times.push_back(timestamps ? t.gpu_ms : t.wall_ms);
                        stage_times.resize(t.stages_ms.size());
                        stage_names.resize(t.stages_ms.size());
                        for (size_t s = 0; s < t.stages_ms.size(); ++s) {
                            stage_names[s] = t.stages_ms[s].first;
                            stage_times[s].push_back(t.stages_ms[s].second);
                        }
                    }
                    if (form != ScanForm::Recurrent)
                        for (size_t s = 0; s < stage_names.size(); ++s) {
                            char b[64];
                            std::snprintf(b, sizeof b, "%s%s %.3f", stages.empty() ? "" : ", ", stage_names[s].c_str(),
                                          median(stage_times[s]));
                            stages += b;
                        }
                } catch (const Error& e) {
                    row.status = ScanBenchRow::Status::Failed;
                    row.message = e.what();
                    on_row(row);
                    ++failures;
                    continue;
                }
                const double ms = median(times);
                const bool f16 = form == ScanForm::ChunkedF16;
                const double flops = form == ScanForm::Recurrent ? recurrent_flops(in) : chunked_flops(in, buf.chunk);
                std::string note = stages;
                if (o.check) {
                    std::vector<float> o_gpu(size_t(in.T) * in.H * in.V);
                    kernels.download_outputs(buf, o_gpu.data());
                    bool finite = true;
                    for (float x : o_gpu) finite = finite && std::isfinite(x);
                    if (!finite) {
                        note = "NON-FINITE OUTPUTS; " + note;
                        ++failures;
                    }
                    char f64[48];
                    std::snprintf(f64, sizeof f64, "f64 %.1e; ", error_vs_reference(o_gpu, in, ref64, n_ref));
                    if (form == ScanForm::Recurrent) {
                        o_rec = std::move(o_gpu);
                    } else if (!o_rec.empty()) {
                        char b[48];
                        const double err = relative_l2(o_gpu.data(), o_rec.data(), o_rec.size());
                        std::snprintf(b, sizeof b, "%.1e; ", err);
                        note = b + note;
                        // chunked-f16 sees q, k, v rounded to float16 (relative error 2^-11 each):
                        // its outputs differ from float32 ones by ~1e-4..1e-3, not by rounding noise.
                        if (!(err < (f16 ? 5e-3 : 1e-3))) ++failures;
                    }
                    note = f64 + note;
                }
                row.ms = ms;
                row.gb_per_s = min_bytes(in, f16) / (ms * 1e6);
                row.tflop_per_s = flops / (ms * 1e9);
                row.note = note;
                if (opt.tc_profile) {
                    row.has_profile = true;
                    row.profile = kernels.tensor_core_profile(buf);
                }
                on_row(row);
            }
        }
    }
    return failures;
}

} // namespace statescope::gpu
