#version 450
// Rotary position embedding in the GPT-NeoX layout (models/attention.h, Rope::apply): in each
// head the pair (x_i, x_{i + D/2}) of row t rotates by the angle float(first_position + t) *
// inv_freq[i], formed in float32 as the libraries form it. One invocation per (row, head, pair).
//
// The angle's sine and cosine are computed here, not by the driver's sin/cos, whose accuracy
// Vulkan leaves open outside [-pi, pi] (a GPU's native versions lose about |angle| * 2^-24,
// 6e-4 at position 10000, which the post-RoPE keys of the cache would show). The reduction to
// [-pi/4, pi/4] is exact: the angle is m * 2^e with an integer significand m, and m times the
// first 96 bits of 2/pi is formed in 32-bit integer words, so the quadrant and the remainder
// come out with about 60 correct bits for any angle below 2^58; two short polynomials
// (Cephes' sinf/cosf, about 1 ulp on that interval) finish.
#define ATTN_ROPE
#include "common/attn_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) buffer Dst { float dst[]; };   // may be the same buffer as Src
layout(std430, binding = 2) readonly buffer Freq { float inv_freq[]; };

// x >= 0 as x = quadrant * pi/2 + r with |r| <= pi/4 (quadrant modulo 4).
void reduce_quadrant(float x, out uint quadrant, out float r) {
    const uint bits = floatBitsToUint(x);
    const int E = int((bits >> 23) & 0xFFu);
    if (E < 126) {   // x < 0.5: already inside [-pi/4, pi/4]
        quadrant = 0u;
        r = x;
        return;
    }
    const uint m = (bits & 0x7FFFFFu) | 0x800000u;   // x = m * 2^e
    const int e = min(E - 150, 34);
    // m * B, B = floor(2/pi * 2^96) = A2F9836E 4E441529 FC2757D1 (hex words, most significant
    // first): bit j of the product weighs 2^(j + e - 96) in x * 2/pi. Bits above 2^1 are whole
    // turns; at most 2^24 units of bit 0 are lost to the truncation of B.
    uint h0, l0, h1, l1, h2, l2, c1, c2, c3;
    umulExtended(m, 0xFC2757D1u, h0, l0);
    umulExtended(m, 0x4E441529u, h1, l1);
    umulExtended(m, 0xA2F9836Eu, h2, l2);
    const uint p0 = l0;
    const uint p1 = uaddCarry(h0, l1, c1);
    uint p2 = uaddCarry(h1, l2, c2);
    p2 = uaddCarry(p2, c1, c3);
    const uint p3 = h2 + c2 + c3;
    // The 64 bits [34 - e, 97 - e] of the product: 2 bits of quadrant, 62 of fraction.
    const uint shift = uint(34 - e);   // 0 .. 58
    const uint bs = shift & 31u;
    const bool up = shift >= 32u;
    const uint q0 = up ? p1 : p0, q1 = up ? p2 : p1, q2 = up ? p3 : p2;
    // (a << (31 - bs)) << 1 is a << (32 - bs), and 0 when bs is 0 (a shift by 32 is undefined).
    uint lo = (q0 >> bs) | ((q1 << (31u - bs)) << 1u);
    uint hi = (q1 >> bs) | ((q2 << (31u - bs)) << 1u);
    quadrant = hi >> 30;
    hi &= 0x3FFFFFFFu;
    float sign = 1.0;
    if ((hi & 0x20000000u) != 0u) {
        // Fraction >= 1/2: the nearest quadrant is the next one, and r = -(1 - fraction), formed
        // in integers (1 - fraction in float would lose every digit when r is small).
        quadrant += 1u;
        sign = -1.0;
        lo = ~lo + 1u;
        hi = ((~hi) + (lo == 0u ? 1u : 0u)) & 0x3FFFFFFFu;
    }
    const float f = float(hi) * (1.0 / 1073741824.0) + float(lo) * (1.0 / 4611686018427387904.0);
    r = sign * f * 1.57079632679489662;
}

// (sin x, cos x) for float32 x.
vec2 sin_cos(float x) {
    uint quadrant;
    float r;
    reduce_quadrant(abs(x), quadrant, r);
    const float z = r * r;
    const float s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
    const float c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
    vec2 sc;
    switch (quadrant & 3u) {
    case 0u: sc = vec2(s, c); break;
    case 1u: sc = vec2(c, -s); break;
    case 2u: sc = vec2(-s, -c); break;
    default: sc = vec2(-c, s); break;
    }
    if (x < 0.0) sc.x = -sc.x;
    return sc;
}

void main() {
    const uint idx = (gl_WorkGroupID.y * pc.groups_x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    const uint half_d = pc.head_dim / 2u;
    const uint pairs = pc.heads * half_d;
    if (idx >= pc.T * pairs) return;
    const uint t = idx / pairs, h = (idx % pairs) / half_d, i = idx % half_d;
    const float angle = float(pc.first_position + t) * inv_freq[pc.freq_offset + i];
    const vec2 sc = sin_cos(angle);
    const uint s = pc.src_offset + t * pc.src_stride + h * pc.head_dim + i;
    const uint d = pc.dst_offset + t * pc.dst_stride + h * pc.head_dim + i;
    const float a = src[s], b = src[s + half_d];
    dst[d] = a * sc.y - b * sc.x;
    dst[d + half_d] = b * sc.y + a * sc.x;
}
