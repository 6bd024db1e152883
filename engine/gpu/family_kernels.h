// The kernels of single families (shaders/linear_attn_*.comp, retnet_rotary.comp,
// rwkv7_bonus.comp), recorded through gpu::Ops: what a family's forward_gpu needs beyond the
// layer ops (ops.h, layers.h) and the scan. The families call these; their push blocks and
// pipelines stay here, beside the other kernel host code.
#pragma once
#include "gpu/ops.h"

#include <cstdint>

namespace statescope::gpu {

// Linear attention, in place over groups of `group` consecutive columns of x
// (linear_attn_rows.comp): a softmax (the hedgehog feature map) or x / (sum x + eps) (norm_q,
// norm_k).
enum class RowsMode { Softmax, Sum };
void linear_attn_rows(Ops& ops, const Mat& x, uint32_t group, RowsMode mode, float eps);

// Linear attention's norm_feature_map denominator (linear_attn_key_sum.comp): per head h, token
// by token, z_h += k[t, h] and o[t, h] /= q[t, h] . z_h + 1e-10. q, k [T, H * F] and o [T, H * V]
// are views; key_sum is the [H, F] running sum, updated in place.
void linear_attn_divide_by_key_sum(Ops& ops, const Mat& q, const Mat& k, const Mat& o, DeviceTensor& key_sum,
                                   uint32_t T, uint32_t H, uint32_t F, uint32_t V);

// RetNet's rotary embedding in place on x [T, heads * K] (retnet_rotary.comp); table [T, K]
// holds cos of each pair's angle in its first K/2 columns, sin in the rest.
void retnet_rotate(Ops& ops, const Mat& x, uint32_t heads, uint32_t K, const Mat& table);

// RWKV-7's gate_output_correction (rwkv7_bonus.comp): per token and head,
// o <- (o + sum(r * k * r_k) v) * g, over the head's K key and V value columns; r_k is a
// [1, heads * K] parameter row.
void rwkv7_bonus(Ops& ops, const Mat& o, const Mat& r, const Mat& k, const Mat& rk, const Mat& v, const Mat& g,
                 uint32_t heads, uint32_t K, uint32_t V);

} // namespace statescope::gpu
