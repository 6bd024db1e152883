#include "statescope/sampling.h"

#include "statescope/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace statescope {

int32_t argmax(std::span<const float> logits) {
    if (logits.empty()) throw Error("cannot pick a token from empty logits");
    // First maximum wins, like torch.argmax.
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingOptions& options) : opt_(options), rng_(options.seed) {
    if (!(opt_.temperature >= 0.0f) || !std::isfinite(opt_.temperature))
        throw Error("temperature must be a finite number >= 0 (0 means greedy), got " + std::to_string(opt_.temperature));
    if (opt_.top_k < 0) throw Error("top-k must be >= 0 (0 means no limit), got " + std::to_string(opt_.top_k));
    if (!(opt_.top_p > 0.0f && opt_.top_p <= 1.0f))
        throw Error("top-p must lie in (0, 1], got " + std::to_string(opt_.top_p));
}

int32_t Sampler::next(std::span<const float> logits) {
    if (opt_.temperature == 0.0f) return argmax(logits);
    const size_t n = logits.size();
    if (n == 0) throw Error("cannot sample from empty logits");
    // Candidates sorted by logit (ties by id, so results do not depend on the sort's stability).
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    size_t keep = (opt_.top_k > 0) ? std::min(n, size_t(opt_.top_k)) : n;
    auto by_logit = [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b); };
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(keep), order.end(), by_logit);
    order.resize(keep);
    // Softmax at the temperature, in double for stability.
    std::vector<double> p(keep);
    const double top = logits[size_t(order[0])];
    double sum = 0;
    for (size_t i = 0; i < keep; ++i) {
        p[i] = std::exp((double(logits[size_t(order[i])]) - top) / opt_.temperature);
        sum += p[i];
    }
    for (double& x : p) x /= sum;
    // Nucleus: the smallest prefix whose mass reaches top_p (always at least one token).
    if (opt_.top_p < 1.0f) {
        double mass = 0;
        size_t cut = 0;
        while (cut < keep) {
            mass += p[cut++];
            if (mass >= opt_.top_p) break;
        }
        p.resize(cut);
        order.resize(cut);
        double s2 = std::accumulate(p.begin(), p.end(), 0.0);
        for (double& x : p) x /= s2;
    }
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double r = u(rng_), acc = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        acc += p[i];
        if (r < acc) return order[i];
    }
    return order.back();
}

} // namespace statescope
