#version 450
// Embedding gather from one block of a table [vocab, C] in the weight type: rows row0 ..
// row0 + rows - 1 live in this buffer; tokens whose id falls elsewhere are left to the other
// blocks' dispatches. Ids are checked on the host before upload.
#define OPS_EMBED
#include "common/ops_push.h"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint WEIGHT_TYPE = OP_WEIGHT_F32;
layout(std430, binding = 0) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 1) readonly buffer Wt { uint wt[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

#include "common/weights.glsl"

void main() {
    const uint c = gl_WorkGroupID.x * 256u + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
    if (c >= pc.C || t >= pc.T) return;
    const uint id = ids[pc.ids_offset + t];
    if (id < pc.row0 || id - pc.row0 >= pc.rows) return;
    y[pc.y_offset + t * pc.y_stride + c] = load_weight((id - pc.row0) * pc.C + c);
}
