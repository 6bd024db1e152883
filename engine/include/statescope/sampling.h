// Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus), with a
// seeded generator so that a generation can be reproduced exactly.
#pragma once
#include <cstdint>
#include <random>
#include <span>

namespace statescope {

struct SamplingOptions {
    float temperature = 0.0f; // 0 means greedy (argmax)
    int top_k = 0;            // 0 means no limit
    float top_p = 1.0f;       // 1 means no nucleus cut
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplingOptions& options);
    // Throws Error for options out of range (negative temperature, top_p outside (0, 1], ...).
    int32_t next(std::span<const float> logits);
    const SamplingOptions& options() const { return opt_; }

private:
    SamplingOptions opt_;
    std::mt19937_64 rng_;
};

int32_t argmax(std::span<const float> logits);

} // namespace statescope
