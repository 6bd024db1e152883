// Compares the engine against a reference file written by the defining library
// (../shared/reference/models/*/reference.safetensors): logits, hidden states, and the library's
// cache after each prefix length P (tensors named logits.tP and state.tP.*).
#pragma once
#include "statescope/model.h"

#include <string>
#include <vector>

namespace statescope {

struct VerifyLine {
    std::string name;
    double error = 0;  // relative L2; infinity when not produced or shape differs
    bool ok = false;
    bool invalid_reference = false; // the reference value is provably not the library's (see Model::implausible_reference)
    std::string note;  // why it failed beyond the number ("not produced", "shape ...")
};

struct VerifyReport {
    std::vector<VerifyLine> lines;
    int passed() const;
    int failed() const;      // compared and out of tolerance, or not produced
    int invalid() const;     // reference values the library cannot have computed
};

// Runs model on the reference's input_ids and compares every tensor in it.
VerifyReport verify_against_reference(const Model& model, const std::string& reference_path, double tolerance);

} // namespace statescope
