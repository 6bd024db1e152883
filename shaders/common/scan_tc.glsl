// What the tensor-core chunked kernels (scan_tc_*.comp) share: the float16 copies of q, k, v,
// the cooperative-matrix types (GL_NV_cooperative_matrix, 16x16x16 f16*f16+f32 at subgroup
// scope) and the split of a float32 value into two float16 parts.
//
// Why the split: the products' fp16 operands are exact for q, k, v (they arrive in fp16), but
// the other operands (decayed keys, attention scores, the chunk-start state) are float32 values.
// Rounding those to fp16 would cost ~3e-4 relative error; as hi + lo (hi = fp16(x),
// lo = fp16(x - hi)) they keep ~22 bits, and two products per operand recover float32-level
// accuracy on fp16 inputs. The tensor cores have the throughput to spare; memory is the limit.
#ifndef STATESCOPE_SCAN_TC_GLSL
#define STATESCOPE_SCAN_TC_GLSL

#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require

layout(std430, set = 0, binding = SS_BIND_Q16) buffer Q16Buf { f16vec4 q16_buf[]; };
layout(std430, set = 0, binding = SS_BIND_K16) buffer K16Buf { f16vec4 k16_buf[]; };
layout(std430, set = 0, binding = SS_BIND_V16) buffer V16Buf { f16vec4 v16_buf[]; };

#define TC_A fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define TC_ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>

// Chunk, key and value blocks of both kernels (the host's plan mirrors these).
const uint TC_C = 64u;       // positions per chunk
const uint TC_B = 64u;       // key rows / value columns per block
const uint TC_SUBGROUPS = 4u; // 4 subgroups of 32: subgroup w owns the 16-row tile row w

void split_f16(vec4 x, out f16vec4 hi, out f16vec4 lo) {
    // precise: the split only works if float(fp16(x)) is really rounded. A compiler or driver
    // allowed to treat the round trip as the identity makes rest zero, which is what the H100
    // run showed (errors of one fp16 rounding). Not yet re-measured there with this qualifier.
    precise f16vec4 h = f16vec4(x);
    precise vec4 rest = x - vec4(h);
    hi = h;
    lo = f16vec4(rest);
}

#endif
