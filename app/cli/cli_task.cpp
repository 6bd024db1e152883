// statescope-cli task: fresh samples of a demonstration model's task (its task.json), run through
// our engine on the CPU or the Vulkan device, scored as the training script scores them. The last
// line is exactly "task: accuracy A over N samples", so scripts and tests can read it.
#include "cli_common.h"
#include "commands.h"
#include "statescope/error.h"
#include "statescope/task.h"

#include <cstdio>
#include <string>

namespace statescope::cli {

namespace {

// The size flag that fits the task (--pairs for MQAR, --region for selective copying, --length
// for the others), or 0 for the task's default. A flag of another task is refused by name, so a
// mistyped command is not run with the default silently.
int64_t requested_size(const Arguments& a, const task::Spec& spec) {
    const std::string fits = task::size_name(spec.kind);
    int64_t size = 0;
    for (const char* flag : {"pairs", "region", "length"}) {
        if (!a.has(flag)) continue;
        if (fits != flag)
            throw Error("--" + std::string(flag) + ": the " + spec.name + " task of " + spec.path + " is sized by --" + fits);
        size = a.integer(flag, 0, 1);
    }
    return size;
}

std::string joined(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
}

} // namespace

int cmd_task(const Arguments& a) {
    if (a.positional().size() != 1) throw Error("task needs exactly one MODEL_DIR (a folder with a task.json)");
    const std::string dir = a.positional()[0];
    if (!task::has_task(dir)) throw Error(dir + " has no task.json: only the demonstration models in assets/models have tasks");
    const task::Spec spec = task::load_task(dir);
    task::SampleOptions so;
    so.seed = uint64_t(a.integer("seed", 1));
    so.size = requested_size(a, spec);

    if (a.has("print")) {
        // One sample, for `statescope --tokens` and for lessons: the ids and the targets.
        const task::Sample s = task::sample(spec, so);
        std::printf("tokens:  %s\n", joined(s.tokens).c_str());
        std::printf("targets: %s\n", joined(s.targets).c_str());
        std::printf("settings: %s\n", s.settings_json().c_str());
        return 0;
    }

    const long samples = a.positive("samples", 200);
    const OpenedModel opened = open_on_backend(a, "cpu", load_model(dir));
    const Model& model = *opened.model();
    const int64_t size = so.size > 0 ? so.size : spec.default_size;
    std::printf("model:   %s (%s) on %s\n", dir.c_str(), model.info().family.c_str(), opened.description().c_str());
    std::printf("task:    %s, %s %lld (%lld tokens a sample), seeds %llu .. %llu\n", spec.name.c_str(),
                task::size_name(spec.kind), (long long)size, (long long)task::sequence_length(spec, size),
                (unsigned long long)so.seed, (unsigned long long)(so.seed + uint64_t(samples) - 1));
    task::Score score;
    ForwardOptions all;
    all.all_logits = true;
    for (long i = 0; i < samples; ++i) {
        task::SampleOptions one = so;
        one.seed = so.seed + uint64_t(i); // sample i of a run is reproducible on its own
        const task::Sample s = task::sample(spec, one);
        SequenceState st = model.initial_state();
        task::add_score(s, model.forward(s.tokens, st, all).logits, score);
    }
    if (!opened.fallback_reason().empty()) std::printf("note:    %s\n", opened.fallback_reason().c_str());
    std::printf("scored:  %lld positions, %lld right\n", (long long)score.scored, (long long)score.correct);
    if (score.last_scored == score.samples)
        std::printf("last:    %.4f of the samples right at the last position\n", score.last_accuracy());
    std::printf("task: accuracy %.4f over %ld samples\n", score.accuracy(), samples);
    return 0;
}

} // namespace statescope::cli
