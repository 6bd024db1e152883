// Helpers shared by the tests: reference locations and random inputs of awkward sizes.
#pragma once
#include "statescope/scan.h"
#include "reference_dir.h"
#include "statescope/model.h"
#include "vulkan/context.h"

#include <QString>
#include <random>
#include <string>

namespace testsupport {

// A random-weight configuration (Checkpoint::synthetic) for code paths the reference models
// leave out: a test-row name and the config.json text.
struct SyntheticConfig {
    const char* name;
    const char* json;
};
// Writes `json` as config.json into `dir` (the caller's temporary folder) and loads a model with
// random weights drawn from `seed`. On failure records a test failure naming the error and
// returns null (the caller returns).
std::shared_ptr<statescope::Model> load_synthetic(const QString& dir, const char* json, uint64_t seed);

// Fills t with values from N(0, stddev).
void fill_normal(statescope::Tensor& t, std::mt19937& rng, float stddev = 1.0f);

// Random common-form inputs of the given kind and sizes. Decays are drawn so that the recurrence
// stays bounded (log decays in [-1, -0.01]; delta-rule keys unit-norm with beta in (0, beta_max)).
statescope::ScanInputs random_scan_inputs(statescope::TransitionKind kind, int T, int H, int K, int V,
                                          int substeps, std::mt19937& rng, float beta_max = 1.0f,
                                          bool gated = true);

// Records a test failure (QVERIFY2) unless gpu and cpu have the same shape and a relative L2
// error below tol; `what` names the tensor in the message.
void expect_tensors_close(const statescope::Tensor& gpu, const statescope::Tensor& cpu, double tol, const QString& what);
// Records a test failure naming the first messages when the validation layer reported errors;
// prints the count of warnings, if any.
void expect_no_validation_errors(const statescope::vk::VulkanContext& ctx);

// The worst relative L2 errors compare_in_pieces saw.
struct Agreement {
    double logits = 0, state = 0;
};
// Feeds the same random token ids (uniform over the vocabulary, from `seed`) to a CPU model and
// its GPU twin in calls of `pieces` tokens, from their initial states. Records a test failure
// (and returns early) unless every call's logits, and the library's caches (after every piece
// when state_after_each_piece, else after the last), agree within `tol`, names and shapes equal.
// `worst` receives the largest errors seen.
void compare_in_pieces(const statescope::Model& cpu, const statescope::Model& gpu, const std::vector<size_t>& pieces,
                       uint32_t seed, double tol, bool state_after_each_piece, Agreement& worst);

} // namespace testsupport
