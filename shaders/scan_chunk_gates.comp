#version 450
// Chunked form, step 1: chunk-local inclusive cumulative log decay
//     gcum[p] = sum of gate(p') for p' from the chunk's first position to p,
// where gate(p) is the token's log decay on micro-step 0 and 0 on later micro-steps (scan.h).
// Layout [L, H, W] with W = gate_width (1 for scalar gates, K for per-key gates).
// One thread per (head, key channel) of one chunk (workgroup y); it walks the chunk in order.
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_CHUNK) const uint CHUNK = 64;

void main() {
    const uint W = pc.gate_width;
    const uint x = gl_GlobalInvocationID.x;
    if (x >= pc.H * W) return;
    const uint h = x / W, r = x % W;
    const uint p0 = gl_WorkGroupID.y * CHUNK;
    const uint p1 = min(pc.L, p0 + CHUNK);
    float acc = 0.0;
    for (uint p = p0; p < p1; ++p) {
        if (p % pc.substeps == 0u) acc += g_buf[((p / pc.substeps) * pc.H + h) * W + r];
        gcum_buf[(p * pc.H + h) * W + r] = acc;
    }
}
