#version 450
// Tensor-core chunked form, step 0: float16 copies of q, k or v (spec constant WHICH) for the
// cooperative-matrix kernels. Four values per invocation (K and V are multiples of 16 there), a
// grid-stride loop because [L, H, K] / 4 can exceed one dispatch dimension.
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"
#include "common/scan_tc.glsl"

layout(std430, set = 0, binding = SS_BIND_Q16) writeonly buffer Q16Buf { f16vec4 q16_buf[]; };
layout(std430, set = 0, binding = SS_BIND_K16) writeonly buffer K16Buf { f16vec4 k16_buf[]; };
layout(std430, set = 0, binding = SS_BIND_V16) writeonly buffer V16Buf { f16vec4 v16_buf[]; };

layout(local_size_x = 256) in;
layout(constant_id = SS_SC_WHICH) const uint WHICH = 0;

void main() {
    const uint rows = WHICH == 0u ? pc.T : pc.L;
    const uint width = WHICH == 2u ? pc.V : pc.K;
    const uint count4 = rows * pc.H * (width / 4u);
    const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < count4; i += stride) {
        const uint e = 4u * i;
        if (WHICH == 0u) q16_buf[i] = f16vec4(vec4(q_buf[e], q_buf[e + 1u], q_buf[e + 2u], q_buf[e + 3u]));
        else if (WHICH == 1u) k16_buf[i] = f16vec4(vec4(k_buf[e], k_buf[e + 1u], k_buf[e + 2u], k_buf[e + 3u]));
        else v16_buf[i] = f16vec4(vec4(v_buf[e], v_buf[e + 1u], v_buf[e + 2u], v_buf[e + 3u]));
    }
}
