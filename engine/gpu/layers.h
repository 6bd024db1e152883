// The engine/cpu building blocks (ops.h) recorded on the GPU: the same loaded parameters, the
// same arithmetic, through gpu::Ops. Families' forward_gpu methods are written with these the
// way their forward methods are written with engine/cpu.
#pragma once
#include "cpu/ops.h"
#include "gpu/sequence.h"

namespace statescope::gpu {

Weight weight(Ops& ops, const cpu::Linear& l);
// x W^T (+ b) with the layer's weights.
Mat linear(Ops& ops, const cpu::Linear& l, const Mat& x);
// A parameter vector as a [1, n] device matrix.
Mat param(Ops& ops, const cpu::Param& p);
Mat param(Ops& ops, const float* p, uint32_t n);
// cpu::ShortConv on the device; `state` is the layer's [C, W] window.
Mat short_conv(Ops& ops, const cpu::ShortConv& conv, const Mat& x, DeviceTensor& state);
// down(silu(gate(x)) * up(x)).
Mat gated_mlp(Ops& ops, const cpu::GatedMLP& mlp, const Mat& x);
// cpu::rms_norm / layer_norm / l2_norm over groups (0 = all columns), in place.
void rms_norm(Ops& ops, const Mat& x, const cpu::Param& w, float eps, uint32_t group = 0);
void layer_norm(Ops& ops, const Mat& x, const cpu::Param& w, const cpu::Param& b, float eps, uint32_t group = 0);
// dst = src with each head of `head_dim` columns repeated `repeat` times in a row, times scale.
void repeat_heads(Ops& ops, const Mat& dst, const Mat& src, uint32_t head_dim, uint32_t repeat, float scale = 1.0f);

} // namespace statescope::gpu
