// What the tensor-core scan kernels (scan_tc_*.comp) share: the cooperative-matrix types
// (GL_NV_cooperative_matrix, 16x16x16 f16*f16+f32 at subgroup scope) and the extensions they need.
// The float16 copies of q, k, v are declared by each kernel in the view it reads them through.
#ifndef STATESCOPE_SCAN_TC_GLSL
#define STATESCOPE_SCAN_TC_GLSL

#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require

#define TC_A fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define TC_ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>

// The fused kernel's chunk and its largest key size (the host's plan mirrors these).
const uint TC_C = 32u;
const uint TC_KMAX = 128u;

#endif
