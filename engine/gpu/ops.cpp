#include "gpu/ops.h"

#include "statescope/error.h"
#include "gpu/dispatch_util.h"
#include "gpu/scan_cache.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include "common/ops_push.h"   // shaders/common: shared with the GLSL side

#include <algorithm>
#include <cstring>

namespace statescope::gpu {

const char* weight_type_name(WeightType t) {
    switch (t) {
    case WeightType::F32: return "F32";
    case WeightType::F16: return "F16";
    case WeightType::BF16: return "BF16";
    }
    return "?";
}

static_assert(OP_COMBINE_MUL_SILU_B == uint32_t(Combine::MulSiluB) && OP_COMBINE_DIV == uint32_t(Combine::Div),
              "combine codes must follow gpu::Combine");
static_assert(OP_FUNC_ZERO == uint32_t(Func::Zero) && OP_FUNC_LOG_SIGMOID == uint32_t(Func::LogSigmoid),
              "function codes must follow gpu::Func");
static_assert(OP_NORM_SUM == uint32_t(NormKind::Sum), "norm codes must follow gpu::NormKind");
// The push blocks against what the kernels' SPIR-V declares (the kernel table).
static_assert(sizeof(EmbedPush) == vk::kernel_push_bytes(vk::Kernel::ops_embed));
static_assert(sizeof(MatmulPush) == vk::kernel_push_bytes(vk::Kernel::ops_matmul) &&
              sizeof(MatmulPush) == vk::kernel_push_bytes(vk::Kernel::ops_matvec) &&
              sizeof(MatmulPush) == vk::kernel_push_bytes(vk::Kernel::ops_matvec_sg));
static_assert(sizeof(ElementwisePush) == vk::kernel_push_bytes(vk::Kernel::ops_elementwise));
static_assert(sizeof(NormPush) == vk::kernel_push_bytes(vk::Kernel::ops_norm));
static_assert(sizeof(ConvPush) == vk::kernel_push_bytes(vk::Kernel::ops_conv));

namespace {

uint32_t weight_code(WeightType t) {
    return t == WeightType::F32 ? OP_WEIGHT_F32 : t == WeightType::F16 ? OP_WEIGHT_F16 : OP_WEIGHT_BF16;
}

} // namespace

// ---- views -------------------------------------------------------------------------------

Mat Mat::cols_range(uint32_t first, uint32_t count) const {
    require(uint64_t(first) + count <= cols, "GPU view: columns " + std::to_string(first) + "+" + std::to_string(count) +
                                                 " of a matrix with " + std::to_string(cols));
    Mat m = *this;
    m.offset += first;
    m.cols = count;
    return m;
}

Mat Mat::rows_range(uint32_t first, uint32_t count) const {
    require(uint64_t(first) + count <= rows, "GPU view: rows " + std::to_string(first) + "+" + std::to_string(count) +
                                                 " of a matrix with " + std::to_string(rows));
    Mat m = *this;
    m.offset += first * stride;
    m.rows = count;
    return m;
}

Operand Operand::of(const Mat& m) { return {m.buf, m.offset, m.stride, 1, 1, 0}; }
Operand Operand::columns(const Mat& v) { return {v.buf, v.offset, 0, 1, 1, 0}; }
Operand Operand::per_group(const Mat& m, uint32_t group) { return {m.buf, m.offset, m.stride, group, 1, 0}; }
Operand Operand::periodic(const Mat& v, uint32_t period) { return {v.buf, v.offset, 0, 1, 0, period}; }
Operand Operand::repeat_heads(const Mat& m, uint32_t head_dim, uint32_t repeat) {
    return {m.buf, m.offset, m.stride, head_dim * repeat, head_dim, head_dim};
}

Mat DeviceTensor::mat() const {
    const int64_t n = Tensor::numel(shape);
    const uint32_t rows = shape.empty() ? 1 : uint32_t(std::max<int64_t>(shape[0], 1));
    const uint32_t cols = uint32_t(n / std::max<int64_t>(rows, 1));
    return {buf.get(), 0, rows, cols, cols};
}

// ---- weights -----------------------------------------------------------------------------

Weight WeightCache::matrix(const float* host, uint32_t out, uint32_t in, const std::string& what) {
    require(host != nullptr, "GPU weights: '" + what + "' has no data");
    const size_t n = size_t(out) * in;
    const size_t elem = type_ == WeightType::F32 ? 4 : 2;
    // Rows per buffer: all of them unless the matrix exceeds the largest storage buffer.
    uint64_t range = std::min<uint64_t>(ctx_.device().max_storage_buffer_range, (uint64_t(1) << 32) - 4);
    if (max_block_bytes_ > 0) range = std::min<uint64_t>(range, max_block_bytes_);
    const size_t row_bytes = std::max<size_t>(size_t(in) * elem, 1);
    require(row_bytes + 4 <= range, "GPU weights: one row of '" + what + "' exceeds the device's storage-buffer range");
    const uint32_t rows_per_block = uint32_t(std::min<uint64_t>(out, (range - 4) / row_bytes));
    auto key = std::make_pair(host, uint32_t(n));
    auto it = buffers_.find(key);
    if (it == buffers_.end()) {
        std::vector<std::unique_ptr<vk::Buffer>> blocks;
        for (uint32_t r0 = 0; r0 < out; r0 += rows_per_block) {
            const uint32_t rows = std::min(rows_per_block, out - r0);
            const size_t count = size_t(rows) * in;
            const float* src = host + size_t(r0) * in;
            // Whole 32-bit words: the kernels read 16-bit weights two at a time, and a word cut
            // by the end of the buffer would read as zero.
            const size_t bytes = (count * elem + 3) / 4 * 4;
            const std::string name = out == rows ? what : what + " rows " + std::to_string(r0) + "+";
            auto buf = std::make_unique<vk::Buffer>(ctx_, std::max<size_t>(bytes, 4), vk::MemoryKind::Device, name);
            if (type_ == WeightType::F32) {
                vk::upload(ctx_, *buf, src, count * 4);
            } else {
                std::vector<uint16_t> half(bytes / 2, 0);
                for (size_t i = 0; i < count; ++i)
                    half[i] = type_ == WeightType::BF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
                vk::upload(ctx_, *buf, half.data(), bytes);
            }
            bytes_ += count * elem;
            blocks.push_back(std::move(buf));
        }
        it = buffers_.emplace(key, std::move(blocks)).first;
    }
    Weight w;
    w.out = out;
    w.in = in;
    w.type = type_;
    for (size_t b = 0; b < it->second.size(); ++b) {
        const uint32_t r0 = uint32_t(b) * rows_per_block;
        w.blocks.push_back({it->second[b].get(), r0, std::min(rows_per_block, out - r0)});
    }
    return w;
}

Mat WeightCache::vector(const float* host, uint32_t n, const std::string& what) {
    require(host != nullptr, "GPU weights: '" + what + "' has no data");
    auto key = std::make_pair(host, n | 0x80000000u);   // a vector never shares a key with a matrix
    auto it = buffers_.find(key);
    if (it == buffers_.end()) {
        auto buf = std::make_unique<vk::Buffer>(ctx_, size_t(n) * 4, vk::MemoryKind::Device, what);
        vk::upload(ctx_, *buf, host, size_t(n) * 4);
        bytes_ += size_t(n) * 4;
        std::vector<std::unique_ptr<vk::Buffer>> one;
        one.push_back(std::move(buf));
        it = buffers_.emplace(key, std::move(one)).first;
    }
    return {it->second[0].get(), 0, 1, n, n};
}

// ---- scratch arena -----------------------------------------------------------------------

// Bump allocation in large device buffers, reset per forward. Allocations are 256-byte aligned.
struct Ops::Arena {
    vk::VulkanContext& ctx;
    std::vector<std::unique_ptr<vk::Buffer>> blocks;
    size_t block = 0, used = 0;   // current block and floats used in it

    explicit Arena(vk::VulkanContext& c) : ctx(c) {}
    void reset() { block = 0, used = 0; }
    Mat take(uint32_t rows, uint32_t cols, const std::string& what) {
        const size_t n = std::max<size_t>(size_t(rows) * cols, 1);
        const size_t aligned = (n + 63) / 64 * 64;
        const size_t limit = std::min<uint64_t>(ctx.device().max_storage_buffer_range, uint64_t(1) << 32) / 4;
        if (aligned > limit)
            throw Error("GPU scratch '" + what + "' [" + std::to_string(rows) + ", " + std::to_string(cols) +
                        "] exceeds the device's largest storage buffer (" + std::to_string(limit * 4) + " bytes)");
        while (block < blocks.size() && used + aligned > blocks[block]->size() / 4) ++block, used = 0;
        if (block == blocks.size()) {
            const size_t floats = std::min(limit, std::max<size_t>(aligned, size_t(16) << 20));
            blocks.push_back(std::make_unique<vk::Buffer>(ctx, floats * 4, vk::MemoryKind::Device,
                                                          "GPU scratch block " + std::to_string(blocks.size())));
            used = 0;
        }
        Mat m{blocks[block].get(), uint32_t(used), rows, cols, cols};
        used += aligned;
        return m;
    }
};

// ---- recording ---------------------------------------------------------------------------

// When profiling, the timestamps a batch holds: one per dispatch, scan or copy, and the
// batch's start.
constexpr uint32_t kProfileTimestamps = 2 * Ops::kMaxDispatches;
constexpr const char* kProfileStart = "(start)";

Ops::Ops(vk::VulkanContext& ctx, WeightCache& weights)
    : ctx_(ctx), weights_(weights), batch_(std::make_unique<vk::CommandBatch>(ctx, kMaxDispatches, 64)),
      arena_(std::make_unique<Arena>(ctx)),
      placeholder_(std::make_unique<vk::Buffer>(ctx, 16, vk::MemoryKind::Device, "placeholder")) {}

Ops::~Ops() = default;

void Ops::set_profiling(bool on) {
    if (on == profiling_) return;
    if (recording_) flush();   // what was recorded runs first (between forwards: nothing)
    profiling_ = on;
    batch_ = std::make_unique<vk::CommandBatch>(ctx_, kMaxDispatches, on ? kProfileTimestamps : 64);
    if (recording_) {
        batch_->begin();
        stamp(kProfileStart);
    }
}

void Ops::stamp(const std::string& label) {
    if (profiling_) batch_->timestamp(label);
}

void Ops::collect_profile() {
    if (!profiling_) return;
    for (const auto& [label, ms] : batch_->intervals()) {
        if (label == kProfileStart) continue;
        KernelTime& k = profile_[label];
        k.ms += ms;
        ++k.calls;
    }
}

void Ops::begin() {
    if (recording_) flush();
    arena_->reset();
    recycle_staging();
    if (scans_) scans_->trim();
    batch_->begin();
    stamp(kProfileStart);
    recorded_ = 0;
    recording_ = true;
}

void Ops::flush() {
    require(recording_, "GPU ops: flush() before begin()");
    batch_->submit_and_wait();
    collect_profile();
    recycle_staging();
    batch_->begin();
    stamp(kProfileStart);
    recorded_ = 0;
}

void Ops::dispatch(const vk::PipelineDesc& desc, const std::vector<const vk::Buffer*>& buffers, const void* push,
                   size_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    require(recording_, "GPU ops: dispatch before begin()");
    if (recorded_ + 16 >= kMaxDispatches) flush();   // a fresh descriptor pool; scratch stays valid
    vk::ComputePipeline& pipe = ctx_.pipeline(desc);
    batch_->dispatch(pipe, buffers, push, push_bytes, gx, gy, gz);
    batch_->barrier();
    stamp(vk::kernel_name(desc.kernel));
    ++recorded_;
}

Mat Ops::alloc(uint32_t rows, uint32_t cols, const std::string& what) { return arena_->take(rows, cols, what); }

Mat Ops::zeros(uint32_t rows, uint32_t cols, const std::string& what) {
    Mat m = alloc(rows, cols, what);
    fill(m, 0.0f);
    return m;
}

Mat Ops::upload(const float* data, uint32_t rows, uint32_t cols, const std::string& what) {
    require(recording_, "GPU ops: upload before begin()");
    Mat m = alloc(rows, cols, what);
    const size_t bytes = size_t(rows) * cols * 4;
    if (bytes == 0) return m;
    // Host-visible staging, bump-allocated in a buffer kept across batches (a decoding step
    // uploads its token id every call; allocating device memory each time would dominate).
    size_t at = (staging_used_ + 255) / 256 * 256;
    if (staging_.empty() || at + bytes > staging_.back()->size()) {
        const size_t size = std::max<size_t>(bytes, size_t(1) << 20);
        staging_.push_back(std::make_unique<vk::Buffer>(ctx_, size, vk::MemoryKind::Host, "upload staging"));
        at = 0;
    }
    vk::Buffer& staging = *staging_.back();
    std::memcpy(static_cast<char*>(staging.mapped()) + at, data, bytes);
    batch_->copy(staging, at, const_cast<vk::Buffer&>(*m.buf), size_t(m.offset) * 4, bytes);
    batch_->barrier();
    stamp("upload");
    staging_used_ = at + bytes;
    return m;
}

void Ops::recycle_staging() {
    // The batch that read the staging buffers has completed: keep the newest for the next one.
    if (staging_.size() > 1) staging_.erase(staging_.begin(), staging_.end() - 1);
    staging_used_ = 0;
}

Tensor Ops::download(const Mat& m) {
    check_view(m, "download", "matrix");
    flush();
    Tensor t({int64_t(m.rows), int64_t(m.cols)});
    if (m.contiguous()) {
        vk::download(ctx_, *m.buf, t.ptr(), t.data.size() * 4, size_t(m.offset) * 4);
    } else {
        std::vector<float> all(size_t(m.rows - 1) * m.stride + m.cols);
        vk::download(ctx_, *m.buf, all.data(), all.size() * 4, size_t(m.offset) * 4);
        for (uint32_t r = 0; r < m.rows; ++r)
            std::copy_n(all.data() + size_t(r) * m.stride, m.cols, t.ptr() + size_t(r) * m.cols);
    }
    return t;
}

// ---- kernels -----------------------------------------------------------------------------

Mat Ops::embed(std::span<const int32_t> ids, const Weight& table) {
    const uint32_t T = uint32_t(ids.size());
    for (size_t t = 0; t < ids.size(); ++t)
        if (ids[t] < 0 || uint32_t(ids[t]) >= table.out)
            throw Error("token id " + std::to_string(ids[t]) + " at index " + std::to_string(t) +
                        " is out of range for a vocabulary of " + std::to_string(table.out));
    static_assert(sizeof(int32_t) == sizeof(float));
    Mat id_mat = upload(reinterpret_cast<const float*>(ids.data()), T, 1, "token ids");
    Mat y = alloc(T, table.in, "embeddings");
    // One gather per block of table rows; each writes the tokens whose ids fall in its block.
    for (const Weight::Block& blk : table.blocks) {
        EmbedPush p{};
        p.T = T;
        p.C = table.in;
        p.ids_offset = id_mat.offset;
        p.y_offset = y.offset;
        p.y_stride = y.stride;
        p.row0 = blk.row0;
        p.rows = blk.rows;
        dispatch(kernel_pipeline(vk::Kernel::ops_embed, {{0, weight_code(table.type)}}), {id_mat.buf, blk.buf, y.buf}, &p,
                 sizeof p, ceil_div(table.in, 256), std::min<uint32_t>(T, 65535), ceil_div(T, 65535));
    }
    return y;
}

uint32_t Ops::matvec_subgroup_size() const {
    // The subgroup variant needs subgroup arithmetic in compute shaders and whole subgroups in
    // its 256 invocations; without a required size, compute shaders run at the reported size.
    const vk::DeviceInfo& d = ctx_.device();
    const bool ok = !portable_ && d.subgroup_in_compute && (d.subgroup_ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                    d.subgroup_size >= 4 && 256 % d.subgroup_size == 0;
    return ok ? d.subgroup_size : 0;
}

Mat Ops::linear(const Mat& x, const Weight& w, const Mat* bias) {
    Mat y = alloc(x.rows, w.out, "linear output");
    linear_into(x, w, bias, y);
    return y;
}

void Ops::linear_into(const Mat& x, const Weight& w, const Mat* bias, const Mat& y) {
    check_view(x, "linear", "input");
    check_view(y, "linear", "output");
    require(x.cols == w.in, "GPU linear: input has " + std::to_string(x.cols) + " columns, the weight expects " +
                                std::to_string(w.in));
    require(y.rows == x.rows && y.cols == w.out, "GPU linear: output view has the wrong shape");
    if (bias) require(bias->cols == w.out, "GPU linear: bias length differs from the output size");
    const std::vector<std::pair<uint32_t, uint32_t>> spec{{0, weight_code(w.type)}};
    constexpr uint32_t kMatvecRows = 8;   // MV_ROWS of ops_matvec.comp
    // A weight in several blocks of rows writes the matching column ranges of y.
    for (const Weight::Block& blk : w.blocks) {
    MatmulPush p{};
    p.M = x.rows;
    p.N = blk.rows;
    p.Kd = w.in;
    p.x_offset = x.offset;
    p.x_stride = x.stride;
    p.w_offset = 0;
    p.y_offset = y.offset + blk.row0;
    p.y_stride = y.stride;
    p.has_bias = bias != nullptr;
    p.bias_offset = bias ? bias->offset + blk.row0 : 0;
    const std::vector<const vk::Buffer*> bufs{x.buf, blk.buf, bias ? bias->buf : placeholder_.get(), y.buf};
    for (uint32_t m0 = 0; m0 < x.rows; m0 += 65535u * 64u) {
        MatmulPush q = p;
        q.M = std::min<uint32_t>(x.rows - m0, 65535u * 64u);
        q.x_offset += m0 * x.stride;
        q.y_offset += m0 * y.stride;
        if (q.M <= kMatvecRows && matvec_subgroup_size() > 0)   // one subgroup per output
            dispatch(kernel_pipeline(vk::Kernel::ops_matvec_sg, spec), bufs, &q, sizeof q,
                     ceil_div(blk.rows, 256 / matvec_subgroup_size()));
        else if (q.M <= kMatvecRows)   // 64 invocations per output, a shared-memory tree
            dispatch(kernel_pipeline(vk::Kernel::ops_matvec, spec), bufs, &q, sizeof q, ceil_div(blk.rows, 4));
        else
            dispatch(kernel_pipeline(vk::Kernel::ops_matmul, spec), bufs, &q, sizeof q, ceil_div(blk.rows, 64),
                     ceil_div(q.M, 64));
    }
    }
}

void Ops::elementwise(const Mat& dst, const Operand& a, const Operand& b, const ElementwiseParams& prm) {
    check_view(dst, "element-wise", "destination");
    require(a.buf != nullptr, "GPU element-wise: operand a is not allocated");
    require(prm.op == Combine::A || b.buf != nullptr, "GPU element-wise: operand b is not allocated");
    if (dst.rows == 0 || dst.cols == 0) return;
    ElementwisePush p{};
    p.rows = dst.rows;
    p.cols = dst.cols;
    p.dst_offset = dst.offset;
    p.dst_stride = dst.stride;
    p.a_offset = a.offset, p.a_rs = a.row_stride, p.a_div = std::max(a.div, 1u), p.a_mul = a.mul, p.a_mod = a.mod;
    const Operand& bb = prm.op == Combine::A ? a : b;
    p.b_offset = bb.offset, p.b_rs = bb.row_stride, p.b_div = std::max(bb.div, 1u), p.b_mul = bb.mul,
    p.b_mod = bb.mod;
    p.op = uint32_t(prm.op);
    p.func = uint32_t(prm.f);
    p.alpha = prm.alpha;
    p.beta = prm.beta;
    p.lo = prm.lo;
    p.hi = prm.hi;
    const auto [gx, gy] = grid_2d(uint64_t(dst.rows) * dst.cols);
    p.groups_x = gx;
    dispatch(kernel_pipeline(vk::Kernel::ops_elementwise), {dst.buf, a.buf, bb.buf}, &p, sizeof p, gx, gy);
}

void Ops::copy(const Mat& dst, const Mat& src) {
    require(dst.rows == src.rows && dst.cols == src.cols, "GPU copy: shapes differ");
    elementwise(dst, Operand::of(src), {}, {});
}

void Ops::apply(const Mat& x, Func f, float alpha) {
    ElementwiseParams p;
    p.f = f;
    p.alpha = alpha;
    elementwise(x, Operand::of(x), {}, p);
}

void Ops::add(const Mat& dst, const Mat& a, const Mat& b) {
    require(a.rows == dst.rows && b.rows == dst.rows && a.cols == dst.cols && b.cols == dst.cols, "GPU add: shapes differ");
    ElementwiseParams p;
    p.op = Combine::Add;
    elementwise(dst, Operand::of(a), Operand::of(b), p);
}

void Ops::mul(const Mat& dst, const Mat& a, const Mat& b) {
    require(a.rows == dst.rows && b.rows == dst.rows && a.cols == dst.cols && b.cols == dst.cols, "GPU mul: shapes differ");
    ElementwiseParams p;
    p.op = Combine::Mul;
    elementwise(dst, Operand::of(a), Operand::of(b), p);
}

void Ops::fill(const Mat& dst, float value) {
    ElementwiseParams p;
    p.f = Func::Zero;   // the old contents (possibly NaN bits in fresh scratch) are never used
    p.beta = value;
    elementwise(dst, Operand::of(dst), {}, p);
}

void Ops::norm(const Mat& x, NormKind kind, const Mat* weight, const Mat* bias, float eps, uint32_t group) {
    check_view(x, "norm", "input");
    if (group == 0) group = x.cols;
    require(group > 0 && x.cols % group == 0, "GPU norm: " + std::to_string(x.cols) + " columns are not groups of " +
                                                  std::to_string(group));
    if (x.rows == 0) return;
    NormPush p{};
    p.rows = x.rows;
    p.group = group;
    p.offset = x.offset;
    p.stride = x.stride;
    p.kind = uint32_t(kind);
    p.has_w = weight != nullptr;
    p.w_offset = weight ? weight->offset : 0;
    p.w_mod = weight ? weight->cols : 1;
    p.has_b = bias != nullptr;
    p.b_offset = bias ? bias->offset : 0;
    p.b_mod = bias ? bias->cols : 1;
    p.eps = eps;
    p.rows_per_z = std::min<uint32_t>(x.rows, 65535);
    dispatch(kernel_pipeline(vk::Kernel::ops_norm),
             {x.buf, weight ? weight->buf : placeholder_.get(), bias ? bias->buf : placeholder_.get()}, &p, sizeof p,
             x.cols / group, p.rows_per_z, ceil_div(x.rows, p.rows_per_z));
}

Mat Ops::short_conv(const Mat& x, const Mat& weight, const Mat* bias, const Mat& state, uint32_t width, bool silu) {
    check_view(x, "short convolution", "input");
    require(width >= 1 && width <= 64, "GPU short convolution: width must be 1..64");
    require(weight.rows * weight.cols == x.cols * width, "GPU short convolution: weight is not [channels, width]");
    require(size_t(state.rows) * state.cols == size_t(x.cols) * width && state.contiguous(),
            "GPU short convolution: state is not [channels, width]");
    Mat y = alloc(x.rows, x.cols, "convolution output");
    ConvPush p{};
    p.T = x.rows;
    p.C = x.cols;
    p.W = width;
    p.x_offset = x.offset;
    p.x_stride = x.stride;
    p.y_offset = y.offset;
    p.y_stride = y.stride;
    p.w_offset = weight.offset;
    p.has_bias = bias != nullptr;
    p.bias_offset = bias ? bias->offset : 0;
    p.state_offset = state.offset;
    p.silu = silu;
    const std::vector<const vk::Buffer*> bufs{x.buf, weight.buf, bias ? bias->buf : placeholder_.get(), state.buf, y.buf};
    const vk::PipelineDesc desc = kernel_pipeline(vk::Kernel::ops_conv);
    auto [gx, gy] = grid_2d(uint64_t(p.T) * p.C);
    p.mode = 0;
    p.groups_x = gx;
    dispatch(desc, bufs, &p, sizeof p, gx, gy);
    std::tie(gx, gy) = grid_2d(p.C);
    p.mode = 1;
    p.groups_x = gx;
    dispatch(desc, bufs, &p, sizeof p, gx, gy);
    return y;
}

} // namespace statescope::gpu
