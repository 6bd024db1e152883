// Ops::scan_inputs / scan / download_scan_inputs: the common-form scan inside a model's command
// batch, on buffers cached per problem shape (a model's layers usually share one shape, and a
// decoding step reuses the same buffers every token).
#include "statescope/error.h"
#include "gpu/ops.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "gpu/scan_cache.h"
#include "gpu/scan_kernels.h"
#include "gpu/scan_record.h"


namespace statescope::gpu {

namespace {

Mat view(const vk::Buffer& b, size_t rows, size_t cols) {
    if (!b.valid()) return {};
    return {&b, 0, uint32_t(rows), uint32_t(cols), uint32_t(cols)};
}

Tensor read(Ops& ops, const Mat& m, std::vector<int64_t> shape) {
    if (m.empty()) return {};
    Tensor t = ops.download(m);
    t.shape = std::move(shape);
    return t;
}

} // namespace

ScanMats Ops::scan_inputs(TransitionKind kind, int T, int H, int K, int V, int n, bool has_beta, bool has_decay,
                          bool has_bonus) {
    require(!has_bonus || n == 1, "GPU scan: the bonus read needs one micro-step per token");
    if (!scans_) scans_ = std::make_unique<ScanCache>(ctx_);
    const ScanCache::Key key{int(kind), T, H, K, V, n, has_beta, has_decay};
    auto& e = scans_->entries[key];
    if (!e.buffers)
        e.buffers = std::make_unique<ScanBuffers>(
            scans_->kernels.allocate(kind, T, H, K, V, n, has_beta, has_decay));
    e.last_used = scans_->forward;
    ScanBuffers& b = *e.buffers;
    // Layers of one shape share these buffers within a forward; the flag is read when each
    // scan is recorded, so a layer with a bonus and one without may share them.
    b.has_bonus = has_bonus;
    if (has_bonus && !b.bonus.valid()) b.bonus = scan_float_buffer(ctx_, size_t(H) * K, "scan bonus");
    const size_t L = size_t(T) * n;
    const bool key_gate = kind == TransitionKind::Diagonal || kind == TransitionKind::DiagPlusRankOne;
    ScanMats m;
    m.kind = kind;
    m.T = T, m.H = H, m.K = K, m.V = V, m.substeps = n;
    m.q = view(b.q, T, size_t(H) * K);
    m.k = view(b.k, L, size_t(H) * K);
    m.v = view(b.v, L, size_t(H) * V);
    m.beta = view(b.beta, L, H);
    m.g = view(b.g, T, size_t(H) * (key_gate ? K : 1));
    m.a = view(b.a, T, size_t(H) * K);
    m.b = view(b.b, T, size_t(H) * K);
    if (has_bonus) m.bonus = view(b.bonus, 1, size_t(H) * K);
    m.buffers = &b;
    return m;
}

Mat Ops::scan(const ScanMats& in, const vk::Buffer& state_in, const vk::Buffer& state_out) {
    require(recording_ && in.buffers, "GPU scan: inputs were not prepared by scan_inputs() in this forward");
    auto& b = *static_cast<ScanBuffers*>(in.buffers);
    b.state_in = &state_in;
    b.state_out = &state_out;
    b.has_bonus = !in.bonus.empty();
    ScanRunOptions opt;
    // The chunked form pays off once there are a few chunks of work; a decoding step and short
    // prompts go token by token. DPLR (RWKV-7) stays recurrent: its chunked form runs twice the
    // positions plus a per-chunk transform, was slower than the recurrent form where it was
    // measured and has not been timed on a GPU yet (docs/benchmarks.md, "Why the scan planner's
    // defaults are what they are").
    const bool long_call = size_t(in.T) * in.substeps >= 64;
    // The bonus read (RWKV-6) exists in the recurrent form only.
    const bool chunked = long_call && in.kind != TransitionKind::DiagPlusRankOne && in.bonus.empty() &&
                         ScanKernels::supports(in.kind, ScanForm::Chunked);
    opt.form = chunked ? ScanForm::Chunked : ScanForm::Recurrent;
    if (recorded_ + 64 >= kMaxDispatches) flush();
    scans_->kernels.record(*batch_, b, opt);
    stamp(std::string("scan ") + scan_form_name(opt.form) + " (" + transition_name(in.kind) + ")");
    recorded_ += 8;
    return {&b.o, 0, uint32_t(in.T), uint32_t(in.H * in.V), uint32_t(in.H * in.V)};
}

ScanInputs Ops::download_scan_inputs(const ScanMats& m) {
    ScanInputs in;
    in.kind = m.kind;
    in.T = m.T, in.H = m.H, in.K = m.K, in.V = m.V, in.substeps = m.substeps;
    in.q = read(*this, m.q, {m.T, m.H, m.K});
    in.k = read(*this, m.k, {m.T, m.substeps, m.H, m.K});
    in.v = read(*this, m.v, {m.T, m.substeps, m.H, m.V});
    in.beta = read(*this, m.beta, {m.T, m.substeps, m.H});
    const bool key_gate = m.kind == TransitionKind::Diagonal || m.kind == TransitionKind::DiagPlusRankOne;
    if (key_gate) in.log_decay = read(*this, m.g, {m.T, m.H, m.K});
    else in.log_decay = read(*this, m.g, {m.T, m.H});
    in.a = read(*this, m.a, {m.T, m.H, m.K});
    in.b = read(*this, m.b, {m.T, m.H, m.K});
    in.bonus = read(*this, m.bonus, {m.H, m.K});
    in.check();
    return in;
}

} // namespace statescope::gpu
