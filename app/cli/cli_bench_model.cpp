// statescope-cli bench-model: whole-model prefill throughput and per-token step latency on the
// CPU reference or a Vulkan device, with the GPU's agreement with the CPU next to its times.
//
//   statescope-cli bench-model MODEL... [--backend cpu|vulkan] [--device D] [--tokens N]
//                  [--steps M] [--weights auto|f32|f16|bf16] [--repeats R] [--profile]
//
// --profile (GPU): after the timed steps, M more steps with a timestamp after every kernel,
// and under each model's row the GPU time per step of each kernel; the rest of the step's
// wall time is the host's (recording, submission, waiting).
// MODEL is a folder or a config .json (random weights in the family's real shapes). On the GPU
// the sequence state stays on the device: prefill is one call over N tokens (recorded in pieces
// of 2048), a step is one token with only its logits read back, as decoding does.
#include "statescope/backend.h"
#include "cli_common.h"
#include "commands.h"
#include "statescope/error.h"
#include "statescope/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace statescope::cli {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) { return seconds_since(t0) * 1e3; }

} // namespace

int cmd_bench_model(const Arguments& a) {
    const std::vector<std::string>& models = a.positional();
    const long T = a.positive("tokens", 2048), steps = a.positive("steps", 32), repeats = a.positive("repeats", 3);
    const bool profile = a.has("profile");
    if (models.empty()) throw Error("bench-model needs at least one model folder or config .json");
    Backends backends(backend_request(a, "vulkan"));
    const std::string device = backends.prepare_device();
    if (!device.empty()) std::printf("device: %s\n", device.c_str());
    else std::printf("device: CPU reference\n");
    std::printf("prefill: %ld tokens in one call, best of %ld; step: %ld single-token calls after it\n", T, repeats, steps);
    std::printf("%-26s %-18s %12s %7s %14s %10s %12s %14s\n", "model", "family", "parameters", "weights", "prefill tok/s",
                "step ms", "state MiB", "logits vs CPU");
    for (const std::string& path : models) {
        std::shared_ptr<Model> cpu = open_any(path);
        std::mt19937 rng(5);
        std::uniform_int_distribution<int> tok(0, cpu->info().vocab_size - 1);
        std::vector<int32_t> ids(size_t(T + steps));
        for (auto& t : ids) t = tok(rng);
        ForwardOptions last_only;
        last_only.all_logits = false;
        const std::span<const int32_t> prompt(ids.data(), size_t(T));

        double best = 1e30, step_ms = 0, state_mib = 0, agreement = NAN;
        struct KernelRow {
            std::string name;
            double calls, ms;   // per step
        };
        std::vector<KernelRow> kernels;   // --profile
        std::string wtype = "F32";
        Tensor last_logits;
        if (device.empty()) {
            SequenceState st;
            for (long r = 0; r < repeats; ++r) {
                st = cpu->initial_state();
                auto t0 = std::chrono::steady_clock::now();
                cpu->forward(prompt, st, last_only);
                best = std::min(best, ms_since(t0));
            }
            auto t0 = std::chrono::steady_clock::now();
            for (long s = 0; s < steps; ++s) cpu->forward(std::span<const int32_t>(ids.data() + T + s, 1), st, last_only);
            step_ms = ms_since(t0) / double(steps);
            state_mib = double(st.bytes()) / (1 << 20);
        } else {
            const OpenedModel g = backends.open(cpu); // the GPU model over the CPU one, which stays the judge
            wtype = g.weight_type();
            std::optional<OpenedModel::ResidentSequence> st;
            ForwardResult r;
            for (long rep = 0; rep < repeats + 1; ++rep) {   // the first run builds pipelines and uploads weights
                st = g.resident(cpu->initial_state());
                auto t0 = std::chrono::steady_clock::now();
                r = st->forward(prompt, last_only);
                if (rep > 0) best = std::min(best, ms_since(t0));
            }
            last_logits = r.logits;
            auto t0 = std::chrono::steady_clock::now();
            for (long s = 0; s < steps; ++s) st->forward(std::span<const int32_t>(ids.data() + T + s, 1), last_only);
            step_ms = ms_since(t0) / double(steps);
            if (profile) {
                g.clear_profile();
                g.set_profiling(true);
                for (long s = 0; s < steps; ++s) st->forward(std::span<const int32_t>(ids.data() + T + s, 1), last_only);
                g.set_profiling(false);
                for (const auto& [name, k] : g.profile())
                    kernels.push_back({name, double(k.calls) / double(steps), k.ms / double(steps)});
            }
            state_mib = double(st->bytes()) / (1 << 20);
            // Agreement with the CPU reference on the prompt's last logits (skipped for long
            // prompts of large models, where the CPU run would dominate the benchmark).
            if (double(T) * double(cpu->info().parameters) <= 2048.0 * 4e8) {
                SequenceState cs = cpu->initial_state();
                const Tensor ref = cpu->forward(prompt, cs, last_only).logits;
                agreement = relative_l2(last_logits.ptr(), ref.ptr(), ref.data.size());
            }
        }
        char agree[32] = "-";
        if (!std::isnan(agreement)) std::snprintf(agree, sizeof agree, "%.2e", agreement);
        std::printf("%-26s %-18s %12lld %7s %14.0f %10.3f %12.1f %14s\n", short_name(path).c_str(),
                    cpu->info().family.c_str(), static_cast<long long>(cpu->info().parameters), wtype.c_str(),
                    double(T) / best * 1e3, step_ms, state_mib, agree);
        if (!kernels.empty()) {
            std::sort(kernels.begin(), kernels.end(), [](const KernelRow& a, const KernelRow& b) { return a.ms > b.ms; });
            double gpu = 0;
            for (const KernelRow& k : kernels) gpu += k.ms;
            std::printf("  a step's GPU time by kernel (%.3f ms of GPU work in a %.3f ms step):\n", gpu, step_ms);
            for (const KernelRow& k : kernels)
                std::printf("    %-44s %6.1f calls %9.3f ms %5.1f%%\n", k.name.c_str(), k.calls, k.ms,
                            gpu > 0 ? 100.0 * k.ms / gpu : 0.0);
        }
        std::fflush(stdout);
    }
    return 0;
}

} // namespace statescope::cli
