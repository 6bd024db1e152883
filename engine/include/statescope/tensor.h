// Plain float tensors that the engine hands out (states, activations, logits) and the dtype
// conversions used when reading checkpoints.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace statescope {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType t);
size_t dtype_size(DType t);
// Parses a safetensors dtype string ("F32", "BF16", ...); returns false if unknown.
bool parse_dtype(const std::string& s, DType* out);

float bf16_to_f32(uint16_t h);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // round to nearest even
uint16_t f32_to_f16(float f);   // round to nearest even

// Row-major float32 tensor with owned storage.
struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;

    Tensor() = default;
    explicit Tensor(std::vector<int64_t> s) : shape(std::move(s)), data(size_t(numel(shape)), 0.0f) {}
    Tensor(std::vector<int64_t> s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}

    static int64_t numel(const std::vector<int64_t>& s) {
        int64_t n = 1;
        for (int64_t d : s) n *= d;
        return n;
    }
    int64_t numel() const { return int64_t(data.size()); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
};

std::string shape_string(const std::vector<int64_t>& shape);

// Relative L2 error ||a - b|| / max(||b||, tiny), in double.
double relative_l2(const float* a, const float* b, size_t n);

} // namespace statescope
