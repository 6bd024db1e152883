// statescope-cli synth / bench-cpu: build models of realistic size with random weights, and
// measure CPU forward throughput.
#include "core/checkpoint.h"
#include "core/error.h"
#include "model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace statescope;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A model folder, or a config .json turned into a synthetic model.
std::unique_ptr<Model> open_any(const std::string& path) {
    if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0 &&
        path.find("config.json") == std::string::npos)
        return load_model(Checkpoint::synthetic(path, 1));
    return load_model(path);
}

long parse_positive(const char* flag, const char* s) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (*end != '\0' || v <= 0) throw Error(std::string(flag) + ": '" + s + "' is not a positive integer");
    return v;
}

} // namespace

int cmd_synth(int argc, char** argv) {
    // statescope-cli synth CONFIG.json OUT_DIR [--dtype f32|f16|bf16] [--seed N]
    std::vector<std::string> pos;
    DType dtype = DType::BF16;
    uint32_t seed = 1;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--dtype" && i + 1 < argc) {
            std::string d = argv[++i];
            for (char& c : d) c = char(std::toupper(c));
            if (!parse_dtype(d, &dtype) || (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16))
                throw Error("--dtype: '" + std::string(argv[i]) + "' is not one of f32, f16, bf16");
        } else if (a == "--seed" && i + 1 < argc) {
            seed = uint32_t(parse_positive("--seed", argv[++i]));
        } else if (a.rfind("--", 0) == 0) {
            throw Error("synth: unknown option " + a);
        } else {
            pos.push_back(a);
        }
    }
    if (pos.size() != 2) throw Error("synth needs CONFIG.json and OUT_DIR");
    auto model = load_model(Checkpoint::synthetic(pos[0], seed)); // asks for every tensor in the family's real shapes
    model->checkpoint()->save(pos[1], dtype);
    std::printf("wrote %s: %s, %lld parameters stored as %s\n", pos[1].c_str(), model->info().family.c_str(),
                static_cast<long long>(model->info().parameters), dtype_name(dtype));
    return 0;
}

int cmd_bench_cpu(int argc, char** argv) {
    // statescope-cli bench-cpu MODEL... [--tokens N] [--steps M]
    std::vector<std::string> models;
    long T = 512, steps = 64;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--tokens" && i + 1 < argc) T = parse_positive("--tokens", argv[++i]);
        else if (a == "--steps" && i + 1 < argc) steps = parse_positive("--steps", argv[++i]);
        else if (a.rfind("--", 0) == 0) throw Error("bench-cpu: unknown option " + a);
        else models.push_back(a);
    }
    if (models.empty()) throw Error("bench-cpu needs at least one model folder or config .json");
    std::printf("%-28s %-22s %12s %14s %12s %12s\n", "model", "family", "parameters", "prefill tok/s", "step ms",
                "state KiB");
    for (const std::string& path : models) {
        auto model = open_any(path);
        std::mt19937 rng(5);
        std::uniform_int_distribution<int> tok(0, model->info().vocab_size - 1);
        std::vector<int32_t> ids(size_t(T + steps));
        for (auto& t : ids) t = tok(rng);
        ForwardOptions last_only;
        last_only.all_logits = false;
        // Prefill: the best of three runs over T tokens in one call (the first also warms caches).
        double best = 1e30;
        SequenceState st;
        for (int rep = 0; rep < 3; ++rep) {
            st = model->initial_state();
            auto t0 = std::chrono::steady_clock::now();
            model->forward(std::span<const int32_t>(ids.data(), size_t(T)), st, last_only);
            best = std::min(best, seconds_since(t0));
        }
        // Step: one token at a time after the prefill, as generation and stepping do.
        auto t0 = std::chrono::steady_clock::now();
        for (long s = 0; s < steps; ++s)
            model->forward(std::span<const int32_t>(ids.data() + T + s, 1), st, last_only);
        const double step_ms = seconds_since(t0) / double(steps) * 1e3;
        std::string name = path;
        if (auto slash = name.find_last_of('/'); slash != std::string::npos && slash + 1 < name.size()) name = name.substr(slash + 1);
        std::printf("%-28s %-22s %12lld %14.0f %12.3f %12.1f\n", name.c_str(), model->info().family.c_str(),
                    static_cast<long long>(model->info().parameters), double(T) / best, step_ms,
                    double(st.bytes()) / 1024.0);
        std::fflush(stdout);
    }
    return 0;
}
