// Softmax attention on the device (the GPU twin of models/attention.cpp's CPU forward): rotary
// position embedding, and causal grouped-query attention over a token-major KV cache
// ([capacity, kv_heads, head_dim], gpu/sequence.h), recorded through gpu::Ops.
//
// Two attention kernels share one contract (shaders/common/attn_push.h): attn_tile for many
// queries (prefill: tiles of query rows x 64 keys through shared memory, online softmax) and
// attn_decode for a few (one new token: the query heads of a kv head together, the cache cut
// into splits that run in parallel). Either may split the keys; attn_combine then merges the
// splits. On CPU drivers the splits also keep every invocation under llvmpipe's limit of 65535
// loop iterations.
#pragma once
#include "gpu/ops.h"

#include <cstdint>

namespace statescope::vk {
struct DeviceInfo;
}

namespace statescope::gpu {

// Rotary position embedding as Rope::apply (GPT-NeoX halves): in each of `heads` heads of
// head_dim columns of src [T, heads * head_dim], the pair (i, i + head_dim / 2) of row t turns by
// the angle float(first_position + t) * inv_freq[i] (inv_freq: [1, head_dim / 2]). The result
// goes to dst, which may be src or a view of a KV cache.
void rope(Ops& ops, const Mat& dst, const Mat& src, uint32_t heads, uint32_t head_dim, const Mat& inv_freq,
          int64_t first_position);

struct AttentionParams {
    uint32_t heads = 0, kv_heads = 0, head_dim = 0;   // head_dim <= 256; kv_heads divides heads
    float scale = 1.0f;                               // applied to q . k
    uint32_t window = 0;                              // keys a query sees, itself included; 0: all
};

// Which kernel and how many keys per split (0 / Auto: chosen from the shape and the device).
// Tests force each kernel and small splits; on CPU drivers a split never exceeds what the loop
// limit allows, whatever is asked.
struct AttentionTuning {
    enum class Kernel { Auto, Tile, Decode } kernel = Kernel::Auto;
    uint32_t keys_per_split = 0;
    uint32_t workgroup = 0;   // 64, 128 or 256 invocations; 0: the widest whose shared memory fits
};

struct AttentionPlan {
    bool decode = false;
    uint32_t workgroup = 0;        // invocations
    uint32_t rows_per_block = 0;   // query rows (t, h) per workgroup
    uint32_t row_blocks = 0;       // per kv head
    uint32_t keys_per_split = 0;
    uint32_t splits = 0;
};
AttentionPlan plan_attention(const vk::DeviceInfo& device, uint32_t T, uint32_t P, const AttentionParams& p,
                             const AttentionTuning& tuning = {});

// Causal attention of the T queries q [T, heads * head_dim] over the cache rows keys, values
// [P, kv_heads * head_dim] (P >= T), whose last T rows hold the queries' own keys: the query of
// row t sees cache row j when j <= P - T + t (and j > P - T + t - window with a window), query
// head h reading kv head h / (heads / kv_heads). Returns o [T, heads * head_dim].
Mat attention(Ops& ops, const Mat& q, const Mat& keys, const Mat& values, const AttentionParams& p,
              const AttentionTuning& tuning = {});

} // namespace statescope::gpu
