// The common per-head scan (core/scan.h) on a Vulkan device, in two forms:
//   Recurrent - token by token (shaders/scan_recurrent.comp), every transition kind; what decoding
//               and short prompts use.
//   Chunked   - chunks of positions processed in parallel: chunk-local cumulative gates, the WY/UT
//               representation for the delta rule, a sequential pass over chunk-boundary states,
//               and the outputs from intra-chunk products plus the boundary state
//               (shaders/scan_chunk_*.comp); every kind: DiagPlusRankOne runs as a scan of two
//               micro-steps per token with delta-rule-like values (scan_chunk_dplr.comp), so
//               its chunk counts two positions per token. The state at the start of every
//               chunk is kept and can be downloaded.
//   ChunkedF16 - the chunked form on tensor cores in one fused kernel (shaders/scan_tc_fused.comp,
//               GL_NV_cooperative_matrix 16x16x16 f16*f16+f32), as fla's fused_chunk: float16
//               copies of q, k, v; gates, state and accumulation in float32; the scores, decayed
//               keys/queries and the state enter the products rounded to float16 once.
//               Identity, Scalar, Diagonal (K = 16, 32, 64 or 128) and DeltaRule (gated too; its
//               UT transform from shaders/scan_tc_wy.comp); one micro-step per token, K and V
//               multiples of 16, K <= 128, chunks of 32 (options.chunk does not apply); only on
//               devices with NV cooperative matrices and subgroups of 32 (Error otherwise).
// Recurrent and Chunked compute exactly what scan_recurrent() computes (same micro-step rules),
// in float32; ChunkedF16 computes it for q, k, v rounded to float16, to about fp16 precision.
//
// Use gpu_scan() for one call with host data, or ScanKernels to keep inputs resident on the
// device and run them repeatedly (benchmarks). All calls come from the thread that owns the
// context. The forms' layout on a device is planned in scan_plan.h, recorded in scan_record.cpp.
#pragma once
#include "statescope/scan.h"
#include "statescope/scan_options.h"
#include "statescope/tensor.h"
#include "vulkan/buffer.h"

#include <string>
#include <utility>
#include <vector>

namespace statescope::vk {
class VulkanContext;
class CommandBatch;
} // namespace statescope::vk

namespace statescope::gpu {

// GPU time per stage of one run (from timestamp queries; empty where the device has none) and
// the host's wall-clock time for record + submit + wait.
struct ScanTiming {
    std::vector<std::pair<std::string, double>> stages_ms;
    double gpu_ms = 0;    // sum of the stages
    double wall_ms = 0;
};

// One scan problem resident on the device: its inputs, initial and final state, outputs, and the
// chunked form's scratch (allocated on the first chunked run).
struct ScanBuffers {
    TransitionKind kind = TransitionKind::Identity;
    int T = 0, H = 0, K = 0, V = 0, substeps = 1;
    bool has_beta = false, has_decay = false;
    bool has_bonus = false; // the bonus read of core/scan.h (recurrent form only), u in `bonus`
    vk::Buffer q, k, v, beta, g, a, b, S0, S, o, bonus;
    vk::Buffer gcum, w, u, sb;   // chunked scratch; sb = state at every chunk start (released by a
                             // ChunkedF16 run that does not keep them)
    vk::Buffer placeholder;      // bound where a kernel reads nothing
    // ChunkedF16: float16 copies of q, k, v, made by run() when f16_stale is set (upload and
    // allocate set it; set it again after writing q, k or v yourself) and by every record().
    vk::Buffer q16, k16, v16;
    bool f16_stale = true;
    vk::Buffer t16;   // ChunkedF16 delta rule: each chunk's UT transform (shaders/scan_tc_wy.comp)
    vk::Buffer dplr_keys;   // Chunked DiagPlusRankOne: a_t, k_t interleaved (shaders/scan_chunk_dplr.comp)
    vk::Buffer profile;     // ScanRunOptions::tc_profile's phase cycles, 16 per workgroup
    vk::Buffer seg_state, seg_decay;   // ChunkedF16 split into segments: each one's end state, log decay
    int profile_workgroups = 0;
    int chunk = 0, num_chunks = 0;   // of the last chunked run
    // When set, the kernels read the initial state from state_in and write the final state to
    // state_out instead of S0 and S (a model's per-layer state buffers, [H, K, V] each).
    const vk::Buffer* state_in = nullptr;
    const vk::Buffer* state_out = nullptr;
};

class ScanKernels {
public:
    explicit ScanKernels(vk::VulkanContext& ctx);

    static bool supports(TransitionKind kind, ScanForm form);
    // Throws unless b's bonus read (if any) can run in this form (the recurrent one only).
    static void require_bonus_supported(const ScanBuffers& b, ScanForm form);
    // Throws Error naming the form and kind when supports() is false.
    static void require_supported(TransitionKind kind, ScanForm form);
    // Whether this device can run ScanForm::ChunkedF16 (false with the reason in `why`).
    bool tensor_cores_available(std::string* why = nullptr) const;

    // Validates `in` (ScanInputs::check), allocates device buffers and uploads the inputs and the
    // initial state S0 ([H, K, V]; null means zeros).
    ScanBuffers upload(const ScanInputs& in, const float* S0);
    // Allocates device buffers for a problem without uploading anything (the caller's kernels
    // write q, k, v, ... in the layouts of core/scan.h); S0 and S are left to state_in/state_out.
    ScanBuffers allocate(TransitionKind kind, int T, int H, int K, int V, int substeps, bool has_beta, bool has_decay);
    // Runs the scan on resident buffers: S = scan(S0), o = outputs. Repeatable (S0 is not
    // modified). Throws Error for unsupported kind/form pairs and VulkanError for device failures.
    ScanTiming run(ScanBuffers& b, const ScanRunOptions& options);
    // `runs` runs recorded back to back into one submission, each timed per stage (benchmarks:
    // no host round trip between runs leaves the GPU idle, so its clocks stay up). Where the
    // device has no timestamps, each run gets the submission's wall time divided by `runs`.
    std::vector<ScanTiming> run_repeated(ScanBuffers& b, const ScanRunOptions& options, int runs);
    // Records the same work into a batch that the caller submits (no timestamps), ending with a
    // barrier so that later kernels of the batch see o and the final state.
    void record(vk::CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options);

    void download_state(const ScanBuffers& b, float* S) const;     // [H, K, V]
    void download_outputs(const ScanBuffers& b, float* o) const;   // [T, H, V]
    // [N, H, K, V]: the state before position n * chunk, for each chunk n of the last chunked run.
    Tensor download_chunk_states(const ScanBuffers& b) const;
    // The phase cycles of the last run with ScanRunOptions::tc_profile (Error if there was none).
    TensorCoreProfile tensor_core_profile(const ScanBuffers& b) const;

    // The parameters run() would use (for the benchmark's report): a short description.
    std::string describe(const ScanBuffers& b, const ScanRunOptions& options) const;

private:
    vk::VulkanContext& ctx_;
};

// One call with host data, like scan_recurrent(): S is [H, K, V], the state before the first
// token on entry and after the last on return; o is [T, H, V]. With a chunked form,
// chunk_states (if non-null) receives the state at each chunk start, [N, H, K, V].
ScanTiming gpu_scan(vk::VulkanContext& ctx, const ScanInputs& in, float* S, float* o, const ScanRunOptions& options = {},
                    Tensor* chunk_states = nullptr);

} // namespace statescope::gpu
