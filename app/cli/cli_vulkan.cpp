// statescope-cli devices / bench: the Vulkan devices this machine has, and the GPU scan kernels'
// speed on synthetic inputs of model size (every transition kind, recurrent and chunked form).
#include "commands.h"
#include "core/error.h"
#include "core/scan.h"
#include "vulkan/context.h"
#include "vulkan/scan_kernels.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace statescope::cli {

using namespace statescope::vk;

namespace {

// No positional arguments: only flags.
void no_positional(const Arguments& o) {
    if (!o.positional().empty()) throw Error("unexpected argument '" + o.positional()[0] + "'");
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string mib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / (1024.0 * 1024.0));
    return buf;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(sep, i);
        if (j == std::string::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

void print_device(const DeviceInfo& d, bool selected) {
    std::printf("%d: %s (%s)%s\n", d.index, d.name.c_str(), device_type_name(d.type), selected ? "  [selected]" : "");
    std::printf("   Vulkan %s", api_version_string(d.api_version).c_str());
    if (!d.driver_name.empty()) std::printf(", driver %s %s", d.driver_name.c_str(), d.driver_info.c_str());
    std::printf("\n");
    if (!d.usable) {
        std::printf("   unusable: %s\n", d.unusable_reason.c_str());
        return;
    }
    std::printf("   subgroup: size %u (min %u, max %u, size control %s), in compute: %s, ops: %s\n", d.subgroup_size,
                d.subgroup_min, d.subgroup_max, yes_no(d.subgroup_size_control).c_str(),
                yes_no(d.subgroup_in_compute).c_str(), subgroup_ops_string(d.subgroup_ops).c_str());
    std::printf("   float16: %s, int8: %s, 16-bit storage: %s, float atomics: %s, buffer device address: %s\n",
                yes_no(d.float16).c_str(), yes_no(d.int8).c_str(), yes_no(d.storage16).c_str(),
                yes_no(d.float_atomics).c_str(), yes_no(d.buffer_device_address).c_str());
    std::printf("   shader clock (subgroup): %s\n", yes_no(d.shader_clock).c_str());
    std::printf("   shared memory: %u KiB per workgroup, workgroup: up to %u invocations, push constants: %u bytes\n",
                d.max_shared_memory / 1024, d.max_workgroup_invocations, d.max_push_constants);
    std::printf("   memory: %s device-local (unified with host: %s), storage buffer range %s\n",
                mib(d.device_local_bytes).c_str(), yes_no(d.unified_memory).c_str(),
                mib(d.max_storage_buffer_range).c_str());
    std::printf("   cooperative matrix: NV %s, KHR %s\n", yes_no(d.coop_matrix_nv).c_str(), yes_no(d.coop_matrix_khr).c_str());
    if (!d.coop_matrix_nv_shapes.empty()) {
        std::printf("   NV shapes (subgroup scope):");
        for (const auto& s : d.coop_matrix_nv_shapes) std::printf(" [%s]", s.c_str());
        std::printf("\n");
    }
    if (d.timestamps)
        std::printf("   timestamps: yes (%.3g ns per tick, %u valid bits)\n", d.timestamp_period_ns, d.timestamp_valid_bits);
    else
        std::printf("   timestamps: no\n");
}

// ---- bench -------------------------------------------------------------------------------------

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

void bench_usage() {
    std::fputs("usage: statescope-cli bench [--device D] [--configs BxT,...] [--heads H] [--dk K] [--dv V]\n"
               "                            [--kinds identity,scalar,diagonal,delta,dplr] [--forms recurrent,chunked,chunked-f16]\n"
               "                            [--chunk C] [--repeat N] [--warmup-ms MS] [--no-check] [--verbose] [--chunk-states]\n"
               "                            [--pipeline-stats] [--tc-prefetch P] [--tc-profile] [--tc-segments N] [--rec-workgroup N] [--rec-tokens N] [--out-vblock N] [--out-ktile N]\n"
               "  defaults: --configs 8x4096,1x65536 --heads 16 --dk 128 --dv 128 --repeat 5; B sequences\n"
               "  are batched as B*H heads. Times are GPU timestamps, the median of N runs recorded back to\n"
               "  back in one submission after --warmup-ms (default 1000) of warm-up runs;\n"
               "  --verbose prints each kernel's launch parameters. chunked-f16 (tensor cores, NVIDIA) converts\n"
               "  q, k, v to float16 once, in the first warm-up run, and is timed on those fp16 inputs; it is\n"
               "  one fused kernel with chunks of 32 (--chunk applies to the chunked form) and keeps the state\n"
               "  at every chunk start only with --chunk-states (the chunked form always keeps them).\n"
               "  --pipeline-stats prints the driver's compile statistics of every kernel used (registers,\n"
               "  spills; where the device has VK_KHR_pipeline_executable_properties). --tc-prefetch P: chunked-f16\n"
               "  issues each chunk's loads at its start (P = 0), the next chunk's before the current chunk's\n"
               "  products (P = 1), or spread over P = 2 or 3 of its phases (default: measured per kind and\n"
               "  value block, tensor_core_prefetch in scan_kernels.cpp); --tc-profile runs its\n"
               "  clock-instrumented variant and prints the cycles per chunk of each phase of the kernel.\n"
               "  --tc-segments N: chunked-f16 splits each sequence into N segments run side by side (no decay\n"
               "  and scalar decay; default: enough for ~128 workgroups when there are few heads, 1 = none).\n",
               stderr);
}

} // namespace

int cmd_devices(const Arguments& o) {
    no_positional(o);
    std::vector<DeviceInfo> devs = VulkanContext::list_devices();
    if (devs.empty()) {
        std::printf("no Vulkan devices (is a driver installed? mesa-vulkan-drivers provides lavapipe)\n");
        return 1;
    }
    std::string request = o.get("device");
    if (request.empty())
        if (const char* e = std::getenv("STATESCOPE_VULKAN_DEVICE")) request = e;
    int selected = -1;
    std::string why;
    try {
        selected = choose_device(devs, request);
    } catch (const Error& e) {
        why = e.what();
    }
    for (const auto& d : devs) print_device(d, int(&d - devs.data()) == selected);
    if (selected < 0) std::printf("no device selected: %s\n", why.c_str());
    return selected < 0 ? 1 : 0;
}

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

int cmd_bench(const Arguments& o) {
    if (o.has("help")) {
        bench_usage();
        return 0;
    }
    no_positional(o);
    const int H = int(parse_positive("--heads", o.get("heads", "16")));
    const int K = int(parse_positive("--dk", o.get("dk", "128")));
    const int V = int(parse_positive("--dv", o.get("dv", "128")));
    const int repeat = int(parse_positive("--repeat", o.get("repeat", "5")));
    if (repeat > 256) throw Error("--repeat: at most 256 runs (they are recorded into one submission)");
    const int warmup_ms = int(parse_positive("--warmup-ms", o.get("warmup-ms", "1000")));
    const int chunk = int(parse_positive("--chunk", o.get("chunk", "64")));
    const bool check = !o.has("no-check");
    const bool verbose = o.has("verbose");

    struct Config { int B, T; };
    std::vector<Config> configs;
    for (const auto& c : split(o.get("configs", "8x4096,1x65536"), ',')) {
        const auto x = c.find('x');
        if (x == std::string::npos) throw Error("--configs: '" + c + "' is not BxT (e.g. 8x4096)");
        configs.push_back({int(parse_positive("--configs B", c.substr(0, x))), int(parse_positive("--configs T", c.substr(x + 1)))});
    }
    std::vector<TransitionKind> kinds;
    for (const auto& k : split(o.get("kinds", "identity,scalar,diagonal,delta,dplr"), ',')) {
        if (k == "identity") kinds.push_back(TransitionKind::Identity);
        else if (k == "scalar") kinds.push_back(TransitionKind::Scalar);
        else if (k == "diagonal") kinds.push_back(TransitionKind::Diagonal);
        else if (k == "delta") kinds.push_back(TransitionKind::DeltaRule);
        else if (k == "dplr") kinds.push_back(TransitionKind::DiagPlusRankOne);
        else throw Error("--kinds: unknown kind '" + k + "' (identity, scalar, diagonal, delta, dplr)");
    }
    std::vector<ScanForm> forms;
    for (const auto& f : split(o.get("forms", "recurrent,chunked"), ',')) {
        if (f == "recurrent") forms.push_back(ScanForm::Recurrent);
        else if (f == "chunked") forms.push_back(ScanForm::Chunked);
        else if (f == "chunked-f16") forms.push_back(ScanForm::ChunkedF16);
        else throw Error("--forms: unknown form '" + f + "' (recurrent, chunked, chunked-f16)");
    }

    ContextOptions copt;
    copt.device = o.get("device");
    copt.pipeline_statistics = o.has("pipeline-stats");
    VulkanContext ctx(copt);
    ScanKernels kernels(ctx);
    std::printf("device: %s (%s), Vulkan %s\n", ctx.device().name.c_str(), device_type_name(ctx.device().type),
                api_version_string(ctx.device().api_version).c_str());
    std::printf("float32 inputs and state (chunked-f16: float16 q, k, v), K=%d V=%d, chunk %d, median of %d runs "
                "(GPU timestamps)\n",
                K, V, chunk, repeat);
    if (!ctx.device().timestamps) std::printf("(no timestamps on this device: times are host wall-clock)\n");
    std::printf("%-24s %-11s %4s %6s %5s %10s %9s %9s  %s\n", "kind", "form", "B", "T", "H", "ms", "GB/s", "TFLOP/s",
                check ? "vs float64 / chunked vs recurrent (rel. L2) / stages" : "stages");

    int failures = 0;
    for (const Config& cfg : configs) {
        const int heads = cfg.B * H;
        for (TransitionKind kind : kinds) {
            ScanInputs in = bench_inputs(kind, cfg.T, heads, K, V, 17 + uint64_t(kind));
            ScanBuffers buf;
            try {
                buf = kernels.upload(in, nullptr);
            } catch (const Error& e) {
                std::printf("%-24s %-11s %4d %6d %5d  skipped: %s\n", transition_name(kind), "-", cfg.B, cfg.T, H, e.what());
                continue;
            }
            std::vector<float> o_rec;
            // Float64 reference of head 0's first tokens (O(n^2) attention form: n stays small).
            const int n_ref = std::min(cfg.T, 512);
            const std::vector<float> ref64 = check ? float64_reference(in, n_ref) : std::vector<float>{};
            for (ScanForm form : forms) {
                if (!ScanKernels::supports(kind, form)) {
                    std::printf("%-24s %-11s %4d %6d %5d %10s\n", transition_name(kind), scan_form_name(form), cfg.B,
                                cfg.T, H, "n/a");
                    continue;
                }
                ScanRunOptions opt;
                opt.form = form;
                opt.chunk = chunk;
                opt.keep_chunk_states = form != ScanForm::ChunkedF16 || o.has("chunk-states");
                if (o.has("tc-prefetch")) {
                    const std::string v = o.get("tc-prefetch");
                    if (v != "0" && v != "1" && v != "2" && v != "3")
                        throw Error("--tc-prefetch: '" + v + "' is not 0, 1, 2 or 3");
                    opt.tc_prefetch = v[0] - '0';
                }
                opt.tc_profile = o.has("tc-profile") && form == ScanForm::ChunkedF16;
                if (o.has("tc-segments")) opt.tc_segments = int(parse_positive("--tc-segments", o.get("tc-segments")));
                if (o.has("rec-workgroup")) opt.recurrent_workgroup = int(parse_positive("--rec-workgroup", o.get("rec-workgroup")));
                if (o.has("rec-tokens")) opt.recurrent_tokens = int(parse_positive("--rec-tokens", o.get("rec-tokens")));
                if (o.has("out-vblock")) opt.output_vblock = int(parse_positive("--out-vblock", o.get("out-vblock")));
                if (o.has("out-ktile")) opt.output_ktile = int(parse_positive("--out-ktile", o.get("out-ktile")));
                std::vector<double> times;
                std::string stages;
                try {
                    // Warm-up: pipeline creation, first-touch costs, and clocks leaving idle:
                    // --warmup-ms of runs, in submissions of ~50 ms with no host round trip
                    // between their runs. The host work between two rows (inputs, the float64
                    // check) idles the GPU for seconds; one run per submission, even for 1 s,
                    // left the H100 at 345-1290 MHz for some rows, timed 3-5x slow
                    // (docs/benchmarks.md).
                    const auto warm_start = std::chrono::steady_clock::now();
                    int per_submit = 2;
                    do {
                        const auto t0 = std::chrono::steady_clock::now();
                        kernels.run_repeated(buf, opt, per_submit);
                        if (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50))
                            per_submit = std::min(per_submit * 2, 128);
                    } while (std::chrono::steady_clock::now() - warm_start < std::chrono::milliseconds(warmup_ms));
                    if (verbose) std::printf("  %s %s: %s\n", transition_name(kind), scan_form_name(form),
                                             kernels.describe(buf, opt).c_str());
                    // The timed runs: back to back in one submission as well.
                    std::vector<std::vector<double>> stage_times;
                    std::vector<std::string> stage_names;
                    for (const ScanTiming& t : kernels.run_repeated(buf, opt, repeat)) {
                        times.push_back(ctx.device().timestamps ? t.gpu_ms : t.wall_ms);
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
                    std::printf("%-24s %-11s %4d %6d %5d  failed: %s\n", transition_name(kind), scan_form_name(form),
                                cfg.B, cfg.T, H, e.what());
                    ++failures;
                    continue;
                }
                const double ms = median(times);
                const bool f16 = form == ScanForm::ChunkedF16;
                const double flops = form == ScanForm::Recurrent ? recurrent_flops(in) : chunked_flops(in, buf.chunk);
                std::string note = stages;
                if (check) {
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
                std::printf("%-24s %-11s %4d %6d %5d %10.3f %9.1f %9.3f  %s\n", transition_name(kind),
                            scan_form_name(form), cfg.B, cfg.T, H, ms, min_bytes(in, f16) / (ms * 1e6),
                            flops / (ms * 1e9), note.c_str());
                if (opt.tc_profile) {
                    const TensorCoreProfile p = kernels.tensor_core_profile(buf);
                    std::printf("  cycles per chunk (%d workgroups, %d chunks; subgroup 0's SM clock): total %.0f\n",
                                p.workgroups, p.chunks, p.total);
                    for (const auto& [name, cycles] : p.phases)
                        std::printf("    %-30s %8.0f  %5.1f%%\n", name.c_str(), cycles, 100.0 * cycles / std::max(1.0, p.total));
                }
                std::fflush(stdout);
            }
        }
    }
    std::printf("GB/s: each input read once, outputs and state written once; TFLOP/s: the form's own algorithm.\n");
    if (o.has("pipeline-stats")) {
        if (!ctx.captures_pipeline_statistics())
            std::printf("pipeline statistics: %s lacks VK_KHR_pipeline_executable_properties\n", ctx.device().name.c_str());
        for (const std::string& line : ctx.pipeline_statistics()) std::printf("pipeline %s\n", line.c_str());
    }
    if (failures) std::printf("%d failures (see above)\n", failures);
    return failures ? 1 : 0;
}

} // namespace statescope::cli
