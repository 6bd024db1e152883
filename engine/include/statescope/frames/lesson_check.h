// Checking a lesson's claims against the model (frames/lesson.h): each claim names a quantity
// the engine measures on the step's model and sequence, and bounds it must lie in. The measured
// value is reported whether the claim holds or not, so a failing lesson says what the model does
// instead. Runs on whatever Model it is given (tests use the CPU reference).
#pragma once
#include "statescope/frames/lesson.h"
#include "statescope/model.h"

#include <map>
#include <memory>
#include <string>

namespace statescope::lessons {

struct ClaimResult {
    bool holds = false;
    double value = 0;      // the measured quantity
    std::string measured;  // "0.9850 (at least 0.99)": the value, its bounds, and details
};

// Whether `value` lies within the claim's bounds (at_least <= value <= at_most).
bool within_bounds(const Claim& claim, double value);

class ClaimChecker {
public:
    ClaimChecker();
    ~ClaimChecker();
    // Measures `claim` of `step`. Throws Error naming the claim for a layer, head or token that
    // does not exist, or a claim that does not apply to the model (a role its task lacks).
    ClaimResult check(const Step& step, const Claim& claim);

private:
    const Model& model(const std::string& path);
    std::map<std::string, std::unique_ptr<Model>> models_; // opened once per checker
};

} // namespace statescope::lessons
