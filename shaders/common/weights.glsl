// Reading one weight of a matrix stored as float32, float16 or bfloat16. The buffer is bound as
// uint words; 16-bit types hold two values per word, the lower address in the low half.
// WEIGHT_TYPE is a specialization constant (OP_WEIGHT_*) declared by the including shader.
float load_weight(uint i) {
    if (WEIGHT_TYPE == OP_WEIGHT_F32) return uintBitsToFloat(wt[i]);
    const uint word = wt[i >> 1];
    const uint half_bits = (i & 1u) != 0u ? (word >> 16) : (word & 0xffffu);
    if (WEIGHT_TYPE == OP_WEIGHT_BF16) return uintBitsToFloat(half_bits << 16);
    return unpackHalf2x16(half_bits).x;
}
