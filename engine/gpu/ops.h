// The tensor operations a whole-model forward pass records on a Vulkan device, so that no
// activation goes back to the host between layers. A family's GPU forward (Mixer::forward_gpu)
// is written against this interface the way its CPU forward is written against engine/cpu.
//
// Everything is float32 in device memory except weights, which keep a storage type (F32, F16 or
// BF16) and are converted on the fly inside the matrix kernels. Activations are 2-D row-major
// views (Mat): a column range of a wider matrix is a view, not a copy, so splitting a fused
// projection costs nothing. Operands of element-wise kernels are addressed by an affine column
// map (Operand) that also expresses broadcasting: per-column parameters, per-head repetition,
// one value per head spread over its K features.
//
// Ops records into one command batch with a barrier after every kernel (each kernel reads what
// the previous ones wrote). flush() submits and waits; nothing reaches the host until then.
// All calls come from the thread that owns the VulkanContext.
#pragma once
#include "statescope/scan.h"
#include "statescope/tensor.h"
#include "vulkan/buffer.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace statescope::vk {
class VulkanContext;
class CommandBatch;
class ComputePipeline;
struct PipelineDesc;
} // namespace statescope::vk

namespace statescope::gpu {

enum class WeightType { F32, F16, BF16 };
const char* weight_type_name(WeightType t);

// A row-major [rows, cols] float32 view: element (r, c) at buf[offset + r * stride + c].
struct Mat {
    const vk::Buffer* buf = nullptr;
    uint32_t offset = 0, rows = 0, cols = 0, stride = 0;

    bool empty() const { return buf == nullptr || rows == 0 || cols == 0; }
    Mat cols_range(uint32_t first, uint32_t count) const;   // throws Error when out of range
    Mat rows_range(uint32_t first, uint32_t count) const;
    Mat row(uint32_t r) const { return rows_range(r, 1); }
    bool contiguous() const { return stride == cols; }
};

// How an element-wise kernel reads an input at output position (r, c):
//     buf[offset + r * row_stride + (c / div) * mul + (c % mod)]      (mod 0: the term is 0)
// Plain matrix: row_stride = stride, div = 1, mul = 1, mod = 0.
struct Operand {
    const vk::Buffer* buf = nullptr;
    uint32_t offset = 0, row_stride = 0, div = 1, mul = 1, mod = 0;

    static Operand of(const Mat& m);                       // the matrix itself
    // Per-column vector p[c] (same for every row).
    static Operand columns(const Mat& vec);
    // Value per group of `group` consecutive columns: p[r][c / group] (one value per head, say).
    static Operand per_group(const Mat& m, uint32_t group);
    // Per-column vector repeated every `period` columns: p[c % period] (a per-feature weight
    // shared by all heads).
    static Operand periodic(const Mat& vec, uint32_t period);
    // Head h of the output reads head h / repeat of m, heads of `head_dim` columns (grouped
    // queries, fla's repeat of kv heads, Mamba-2's groups).
    static Operand repeat_heads(const Mat& m, uint32_t head_dim, uint32_t repeat);
};

// Weight matrix [out, in] (torch.nn.Linear layout) resident on the device, in blocks of rows:
// one block unless the matrix exceeds the device's largest storage buffer (an embedding table
// of 50k x 768 floats is over lavapipe's 128 MiB), each block a buffer of its own.
struct Weight {
    struct Block {
        const vk::Buffer* buf = nullptr;
        uint32_t row0 = 0, rows = 0;
    };
    std::vector<Block> blocks;
    uint32_t out = 0, in = 0;
    WeightType type = WeightType::F32;
};

// Element-wise: y = clamp(alpha * f(a (op) b) + beta, lo, hi), written to dst.
enum class Combine : uint32_t { A = 0, Add, Sub, Mul, MulSiluB /* a * silu(b) */, Div };
enum class Func : uint32_t {
    Identity = 0, Silu, Sigmoid, Softplus, Exp, Relu, EluPlusOne /* elu(x) + 1 */, LogSigmoid, Tanh,
    ReluSquared, Square, Log, Sqrt, Rsqrt, Zero /* 0 whatever the input */
};
struct ElementwiseParams {
    Combine op = Combine::A;
    Func f = Func::Identity;
    float alpha = 1.0f, beta = 0.0f;
    float lo = -INFINITY, hi = INFINITY;
};

enum class NormKind : uint32_t { RMS = 0, Layer, L2, Sum };

// Per-shape kernel configurations ops may choose from (benchmarks override them).
struct OpsOptions {
    // Storage type for weights uploaded from the checkpoint's float32 copies: the checkpoint's
    // own storage dtype when unset (Auto), so a BF16 model keeps its BF16 weights on the device.
    enum class Weights { Auto, F32, F16, BF16 } weights = Weights::Auto;
};

// Weights uploaded once per model and device, looked up by their host address (the checkpoint
// keeps every float32 copy alive for the model's lifetime).
class WeightCache {
public:
    // max_block_bytes: the most bytes per buffer (0: the device's storage-buffer range); tests
    // set it small to exercise matrices split into blocks of rows.
    WeightCache(vk::VulkanContext& ctx, WeightType default_type, size_t max_block_bytes = 0)
        : ctx_(ctx), type_(default_type), max_block_bytes_(max_block_bytes) {}
    // [out, in] matrix in the cache's weight type.
    Weight matrix(const float* host, uint32_t out, uint32_t in, const std::string& what);
    // float32 vector (norm weights, biases, per-head constants) as a [1, n] Mat.
    Mat vector(const float* host, uint32_t n, const std::string& what);
    size_t bytes() const { return bytes_; }
    WeightType type() const { return type_; }

private:
    vk::VulkanContext& ctx_;
    WeightType type_;
    size_t max_block_bytes_ = 0;
    std::map<std::pair<const float*, uint32_t>, std::vector<std::unique_ptr<vk::Buffer>>> buffers_;
    size_t bytes_ = 0;
};

// A resident device tensor of a sequence's state (recurrent state, conv window, token shift,
// KV cache): shape as on the host; `capacity` floats allocated (a KV cache grows in place).
struct DeviceTensor {
    std::vector<int64_t> shape;
    std::unique_ptr<vk::Buffer> buf;
    size_t capacity = 0;
    Mat mat() const;   // [shape[0], numel / shape[0]] over the whole tensor (contiguous)
};

// Scan inputs packed on the device in the layouts of core/scan.h (q [T, H*K], k [T*n, H*K],
// v [T*n, H*V], beta [T*n, H], log decay [T, H] or [T, H*K], a and b [T, H*K]); the optional ones
// are empty. Views of buffers owned by the Ops' scan cache, valid until the next begin().
struct ScanMats {
    TransitionKind kind = TransitionKind::Identity;
    int T = 0, H = 0, K = 0, V = 0, substeps = 1;
    Mat q, k, v, beta, g, a, b;
    Mat bonus;                 // [1, H * K] RWKV-6's u when asked for (the bonus read of core/scan.h)
    void* buffers = nullptr;   // the ScanBuffers behind the views
};

class ScanCache;

class Ops {
public:
    Ops(vk::VulkanContext& ctx, WeightCache& weights);
    ~Ops();
    Ops(const Ops&) = delete;
    Ops& operator=(const Ops&) = delete;

    vk::VulkanContext& context() { return ctx_; }
    WeightCache& weights() { return weights_; }

    // Dispatches per batch, then a flush starts a fresh descriptor pool (scans count 64).
    static constexpr uint32_t kMaxDispatches = 2048;

    // Per-kernel GPU time (timestamp queries after every dispatch; off by default: a timestamp
    // per kernel costs a little). Keys are shader modules ("scan chunked" etc. for scans and
    // "upload" for host copies); totals accumulate over flushes until clear_profile().
    struct KernelTime {
        double ms = 0;
        long calls = 0;
    };
    void set_profiling(bool on);   // flushes what is recorded
    // Kernels without subgroup operations even where the device has them (the matrix-vector
    // product has both variants; tests run each).
    void set_portable_kernels(bool on) { portable_ = on; }
    bool profiling() const { return profiling_; }
    const std::map<std::string, KernelTime>& profile() const { return profile_; }
    void clear_profile() { profile_.clear(); }

    // Starts recording and frees the scratch of the previous forward (call once per forward).
    void begin();
    // Submits what was recorded and waits; recording continues in a fresh batch. Scratch stays.
    void flush();

    // Scratch matrix for this forward (contents undefined).
    Mat alloc(uint32_t rows, uint32_t cols, const std::string& what);
    Mat zeros(uint32_t rows, uint32_t cols, const std::string& what);
    // Host data into scratch (copied when the batch runs, so `data` may go away at once).
    Mat upload(const float* data, uint32_t rows, uint32_t cols, const std::string& what);
    // Flushes, then reads a view back.
    Tensor download(const Mat& m);

    // Token ids -> rows of an embedding table [vocab, hidden] (any weight type).
    Mat embed(std::span<const int32_t> ids, const Weight& table);
    // x [T, in] -> x W^T + bias, [T, out]. Into dst when given (dst may be a view).
    Mat linear(const Mat& x, const Weight& w, const Mat* bias = nullptr);
    void linear_into(const Mat& x, const Weight& w, const Mat* bias, const Mat& dst);

    // dst = elementwise(a, b); dst's shape sets the iteration space.
    void elementwise(const Mat& dst, const Operand& a, const Operand& b, const ElementwiseParams& p);
    // Shorthands.
    void copy(const Mat& dst, const Mat& src);
    void apply(const Mat& x, Func f, float alpha = 1.0f);              // in place: x = alpha * f(x)
    void add(const Mat& dst, const Mat& a, const Mat& b);              // dst = a + b
    void mul(const Mat& dst, const Mat& a, const Mat& b);              // dst = a * b
    void fill(const Mat& dst, float value);

    // In place over groups of `group` consecutive columns (0 = all columns). weight/bias are
    // indexed by column modulo their length (a [group] weight is shared by every group).
    void norm(const Mat& x, NormKind kind, const Mat* weight, const Mat* bias, float eps, uint32_t group = 0);

    // Depthwise causal convolution over time with a window state, as cpu::ShortConv: x [T, C]
    // -> y [T, C]; weight [C, W] (float32 Mat), bias [1, C] or null; state [C, W] updated.
    Mat short_conv(const Mat& x, const Mat& weight, const Mat* bias, const Mat& state, uint32_t width, bool silu);

    // Device buffers for one scan's inputs, for the caller to fill (see ScanMats).
    ScanMats scan_inputs(TransitionKind kind, int T, int H, int K, int V, int substeps, bool has_beta, bool has_decay,
                         bool has_bonus = false);
    // Records the scan S_out = scan(S_in) with outputs o [T, H * V] (chunked form for long calls
    // where the kind has one, recurrent otherwise). state_in / state_out: [H, K * V] buffers.
    Mat scan(const ScanMats& in, const vk::Buffer& state_in, const vk::Buffer& state_out);
    // Flushes and reads the packed inputs back (for observers), as core/scan.h's ScanInputs.
    ScanInputs download_scan_inputs(const ScanMats& in);

    // Records a dispatch of any pipeline (family-specific kernels): binds buffers 0..n-1.
    void dispatch(const vk::PipelineDesc& desc, const std::vector<const vk::Buffer*>& buffers, const void* push,
                  size_t push_bytes, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
    vk::CommandBatch& batch() { return *batch_; }
    // A small buffer to bind where a kernel reads nothing.
    const vk::Buffer& placeholder() const { return *placeholder_; }

private:
    struct Arena;
    vk::VulkanContext& ctx_;
    WeightCache& weights_;
    std::unique_ptr<vk::CommandBatch> batch_;
    std::unique_ptr<Arena> arena_;
    std::unique_ptr<vk::Buffer> placeholder_;
    std::unique_ptr<ScanCache> scans_;
    void recycle_staging();
    // Host buffers holding the current batch's uploads; the last one is being filled.
    std::vector<std::unique_ptr<vk::Buffer>> staging_;
    size_t staging_used_ = 0;
    uint32_t recorded_ = 0;   // dispatches in the current batch (flushed before the pool runs out)
    bool recording_ = false;
    bool profiling_ = false;
    bool portable_ = false;
    std::map<std::string, KernelTime> profile_;
    void stamp(const std::string& label);   // profiling: the GPU time since the last stamp
    void collect_profile();                 // after a submission: intervals into profile_
    uint32_t matvec_subgroup_size() const;  // 0: the device cannot run ops_matvec_sg
};

} // namespace statescope::gpu
