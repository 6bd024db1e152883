// statescope-cli synth / bench-cpu: build models of realistic size with random weights, and
// measure CPU forward throughput.
#include "cli_common.h"
#include "commands.h"
#include "statescope/error.h"
#include "statescope/safetensors.h"
#include "statescope/frames/token_input.h"
#include "statescope/generate.h"
#include "statescope/model.h"
#include "statescope/timeline.h"
#include "statescope/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace statescope::cli {

int cmd_synth(const Arguments& a) {
    // statescope-cli synth CONFIG.json OUT_DIR [--dtype f32|f16|bf16] [--seed N]
    const std::vector<std::string>& pos = a.positional();
    DType dtype = DType::BF16;
    if (a.has("dtype")) {
        std::string d = a.get("dtype");
        for (char& c : d) c = char(std::toupper(c));
        if (!parse_dtype(d, &dtype) || (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16))
            throw Error("--dtype: '" + a.get("dtype") + "' is not one of f32, f16, bf16");
    }
    const uint32_t seed = uint32_t(a.positive("seed", 1));
    if (pos.size() != 2) throw Error("synth needs CONFIG.json and OUT_DIR");
    auto model = load_synthetic_model(pos[0], seed); // asks for every tensor in the family's real shapes
    save_checkpoint(*model, pos[1], dtype);
    std::printf("wrote %s: %s, %lld parameters stored as %s\n", pos[1].c_str(), model->info().family.c_str(),
                static_cast<long long>(model->info().parameters), dtype_name(dtype));
    return 0;
}

int cmd_bench_cpu(const Arguments& a) {
    // statescope-cli bench-cpu MODEL... [--tokens N] [--steps M]
    const std::vector<std::string>& models = a.positional();
    const long T = a.positive("tokens", 512), steps = a.positive("steps", 64);
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
        const std::string name = short_name(path);
        std::printf("%-28s %-22s %12lld %14.0f %12.3f %12.1f\n", name.c_str(), model->info().family.c_str(),
                    static_cast<long long>(model->info().parameters), double(T) / best, step_ms,
                    double(st.bytes()) / 1024.0);
        std::fflush(stdout);
    }
    return 0;
}

int cmd_generate(const Arguments& a) {
    // statescope-cli generate MODEL_DIR (--prompt TEXT [--tokenizer FILE] | --tokens IDS)
    //     [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--dump OUT.safetensors]
    const std::vector<std::string>& pos = a.positional();
    const std::string tokens_arg = a.get("tokens"), dump = a.get("dump"), prompt_text = a.get("prompt"),
                      tokenizer_path = a.get("tokenizer");
    const bool have_prompt = a.has("prompt");
    GenerateOptions g;
    g.max_tokens = int(a.positive("max-tokens", g.max_tokens));
    g.sampling.temperature = float(a.number("temperature", g.sampling.temperature));
    g.sampling.top_k = int(a.number("top-k", g.sampling.top_k));
    g.sampling.top_p = float(a.number("top-p", g.sampling.top_p));
    g.sampling.seed = uint64_t(a.number("seed", double(g.sampling.seed)));
    if (pos.size() != 1) throw Error("generate needs exactly one MODEL_DIR");
    if (tokens_arg.empty() == !have_prompt) throw Error("generate needs a prompt: --prompt TEXT or --tokens 1,2,3 (not both)");
    std::vector<int32_t> prompt;
    std::unique_ptr<Tokenizer> tok;
    if (have_prompt) {
        tok = Tokenizer::load(tokenizer_path.empty() ? pos[0] : tokenizer_path);
        prompt = tok->encode(prompt_text, true);
        if (prompt.empty()) throw Error("--prompt: the text gives no tokens");
        if (auto eos = tok->eos_id()) g.stop_ids.push_back(*eos);
    }
    if (!have_prompt) prompt = frames::parse_token_ids(tokens_arg);
    auto model = load_model(pos[0]);
    if (tok && tok->vocab_size() > model->info().vocab_size)
        throw Error("the tokenizer has " + std::to_string(tok->vocab_size()) + " tokens but the model only " +
                    std::to_string(model->info().vocab_size));
    SequenceState st = model->initial_state();
    ForwardOptions last;
    last.all_logits = false;
    std::vector<float> logits = model->forward(prompt, st, last).logits.data;
    std::vector<OutputTensor> states;
    // With a tokenizer, print text as it comes: decode the whole continuation each time and print
    // what was added (a byte-level token can end inside a UTF-8 character).
    std::vector<int32_t> so_far;
    std::string printed;
    if (tok) std::printf("%s", prompt_text.c_str());
    std::vector<int32_t> gen = generate(*model, st, logits, g, [&](int32_t id, const Tensor&) {
        if (tok) {
            so_far.push_back(id);
            std::string text = tok->decode(so_far, true);
            if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0 &&
                text.find("\xEF\xBF\xBD", printed.size()) == std::string::npos) {
                std::fputs(text.c_str() + printed.size(), stdout);
                printed = text;
            }
        } else {
            std::printf("%d ", id);
        }
        std::fflush(stdout);
        if (!dump.empty()) {
            const std::string pre = "state.t" + std::to_string(st.position) + ".L";
            for (size_t l = 0; l < st.layers.size(); ++l) {
                if (!st.layers[l].recurrent.data.empty())
                    states.push_back({pre + std::to_string(l) + ".recurrent", st.layers[l].recurrent.shape,
                                      st.layers[l].recurrent.data, {}});
            }
        }
        return true;
    });
    if (tok) {
        const std::string text = tok->decode(so_far, true);
        if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0)
            std::fputs(text.c_str() + printed.size(), stdout);
    }
    std::printf("\n");
    if (!dump.empty()) {
        std::vector<int64_t> all(prompt.begin(), prompt.end());
        all.insert(all.end(), gen.begin(), gen.end());
        std::vector<int64_t> g64(gen.begin(), gen.end());
        states.insert(states.begin(), OutputTensor{"input_ids", {1, int64_t(all.size())}, {}, all});
        states.insert(states.begin() + 1, OutputTensor{"generated_ids", {int64_t(gen.size())}, {}, g64});
        write_safetensors(dump, states, {{"model", pos[0]}});
        std::fprintf(stderr, "wrote %s\n", dump.c_str());
    }
    return 0;
}

int cmd_bench_timeline(const Arguments& a) {
    // statescope-cli bench-timeline MODEL [--tokens N] [--jumps J] [--budget-mb M] [--backend cpu|vulkan] [--device D]
    const std::vector<std::string>& pos = a.positional();
    const long T = a.positive("tokens", 65536), jumps = a.positive("jumps", 50), budget_mb = a.positive("budget-mb", 256);
    if (pos.size() != 1) throw Error("bench-timeline needs one MODEL (folder or config .json)");
    const OpenedModel opened = open_on_backend(a, "cpu", open_any(pos[0]));
    const std::shared_ptr<Model>& model = opened.model();
    if (opened.backend() == BackendKind::Vulkan)
        std::printf("device: %s (the timeline's runs and replays on the GPU model)\n", opened.device_name().c_str());
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> tok(0, model->info().vocab_size - 1);
    std::vector<int32_t> ids(static_cast<size_t>(T));
    for (auto& t : ids) t = tok(rng);
    TimelineOptions opt;
    opt.checkpoint_budget_bytes = size_t(budget_mb) << 20;
    Timeline tl(*model, opt);
    auto t0 = std::chrono::steady_clock::now();
    tl.append(ids);
    const double run_s = seconds_since(t0);
    std::printf("model %s (%s), %ld tokens: prefill %.2f s (%.0f tok/s)\n", pos[0].c_str(),
                model->info().family.c_str(), T, run_s, double(T) / run_s);
    std::printf("checkpoints: %zu every %lld tokens, %.1f MiB (budget %ld MiB); one state %.1f KiB\n",
                tl.checkpoint_count(), static_cast<long long>(tl.interval()), double(tl.checkpoint_bytes()) / (1 << 20),
                budget_mb, double(model->initial_state().bytes()) / 1024.0);
    std::uniform_int_distribution<int64_t> anywhere(0, T);
    std::vector<double> ms;
    for (long j = 0; j < jumps; ++j) {
        const int64_t p = anywhere(rng);
        auto t1 = std::chrono::steady_clock::now();
        SequenceState st = tl.state_at(p);
        ms.push_back(seconds_since(t1) * 1e3);
        if (st.position != p) throw Error("timeline returned the wrong position");
    }
    std::sort(ms.begin(), ms.end());
    std::printf("random jumps: %ld, median %.2f ms, p90 %.2f ms, max %.2f ms\n", jumps, ms[ms.size() / 2],
                ms[ms.size() * 9 / 10], ms.back());
    return 0;
}

} // namespace statescope::cli
