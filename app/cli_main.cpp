// statescope-cli: the command-line front end. A thin layer over the engine library: parse
// arguments, call the engine, print. Every error reaches the user as one line naming its cause.
#include "cli_common.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "model.h"
#include "vulkan/context.h"
#include "verify.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace statescope;

// Subcommands defined in their own files.
int cmd_synth(int argc, char** argv);
int cmd_bench_cpu(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_bench_timeline(int argc, char** argv);
int cmd_devices(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_bench_model(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
#ifdef STATESCOPE_CLI_EXPORT
int cmd_export(int argc, char** argv); // cli_export.cpp, built with the app's views
#else
int cmd_export(int, char**) {
    throw Error("export draws with the desktop app's views, and this statescope-cli was built without them "
                "(STATESCOPE_BUILD_APP=OFF)");
}
#endif

namespace {

const char* kUsage =
    "usage: statescope-cli <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  info MODEL_DIR                      family, layers, heads, K and V per head, parameters, dtype\n"
    "  run MODEL_DIR --tokens 1,2,3 [--dump OUT.safetensors]\n"
    "                                      run the tokens; print the argmax of the last logits; with\n"
    "                                      --dump write logits, hidden states and every layer's state\n"
    "                                      at every position\n"
    "  verify MODEL_DIR [--reference FILE] [--tolerance X] [--backend cpu|vulkan] [--device D]\n"
    "                                      compare every tensor of a reference file (default\n"
    "                                      MODEL_DIR/reference.safetensors, tolerance 1e-4), on\n"
    "                                      the CPU reference or the whole model on a Vulkan device\n"
    "  synth CONFIG.json OUT_DIR [--dtype bf16|f16|f32] [--seed N]\n"
    "                                      write a model with random weights in the family's real\n"
    "                                      shapes (assets/configs has realistic sizes)\n"
    "  generate MODEL_DIR (--prompt TEXT [--tokenizer FILE] | --tokens IDS) [--max-tokens N]\n"
    "           [--temperature T] [--top-k K] [--top-p P] [--seed S] [--dump OUT.safetensors]\n"
    "                                      continue the prompt, printing ids as they come; greedy\n"
    "                                      unless --temperature > 0\n"
    "  bench-timeline MODEL [--tokens N] [--jumps J] [--budget-mb M]\n"
    "                                      time to jump to random tokens of a long sequence from\n"
    "                                      the checkpoints, and their memory\n"
    "  bench-cpu MODEL... [--tokens N] [--steps M]\n"
    "                                      CPU prefill tokens/s and per-token step latency; a MODEL\n"
    "                                      may be a folder or a config .json (random weights)\n"
    "  devices [--device D]                Vulkan devices and their capabilities; marks the one a\n"
    "                                      GPU command would use (D or STATESCOPE_VULKAN_DEVICE:\n"
    "                                      an index or part of a name)\n"
    "  bench [--device D] [--configs BxT,...] [--kinds ...] [--forms ...] (--help for more)\n"
    "                                      GPU scan kernels: time, GB/s, TFLOP/s per transition kind\n"
    "                                      and form (default B=8 T=4096 and B=1 T=65536, H=16, K=V=128)\n"
    "  bench-model MODEL... [--backend cpu|vulkan] [--device D] [--tokens N] [--steps M]\n"
    "              [--weights auto|f32|f16|bf16] [--profile]\n"
    "                                      whole-model prefill tokens/s and step latency (default on\n"
    "                                      the Vulkan device), with GPU-vs-CPU logits agreement;\n"
    "                                      --profile: a step's GPU time per kernel\n"
    "  export MODEL_DIR (--tokens IDS | --prompt TEXT) --view VIEW --out FILE.(png|svg|pdf|csv|npy)\n"
    "         [--layer L] [--head H] [--token T] [--window W] [--size WxH]\n"
    "         [--scale per-frame|symlog|fixed:LIMIT]\n"
    "                                      one view of the app at token T (default: the last) as a\n"
    "                                      picture or its numbers, naming model, layer, head and\n"
    "                                      token in the file; VIEW: state, attention,\n"
    "                                      attention-softmax, eigen, curves, overview\n"
    "  tokenize --tokenizer FILE [--special] (TEXT | --file PATH) | --decode IDS | --bench PATH\n"
    "                                      token ids of a text (--file - reads stdin), the text of\n"
    "                                      ids, or tokenizer throughput (tokenizer.json)\n";

// Parsed "--name value" options after the positional arguments.
struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;

    bool has(const std::string& k) const { return options.count(k) != 0; }
    std::string get(const std::string& k, const std::string& fallback = "") const {
        auto it = options.find(k);
        return it == options.end() ? fallback : it->second;
    }
};

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& flags_with_value,
                const std::vector<std::string>& bare_flags = {}) {
    Args a;
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0) {
            std::string name = s.substr(2), value;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else if (std::find(bare_flags.begin(), bare_flags.end(), name) != bare_flags.end()) {
                value = "1";
            } else if (std::find(flags_with_value.begin(), flags_with_value.end(), name) != flags_with_value.end()) {
                if (i + 1 >= argc) throw Error("option --" + name + " needs a value");
                value = argv[++i];
            } else {
                throw Error("unknown option --" + name);
            }
            a.options[name] = value;
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::vector<int32_t> parse_token_list(const std::string& s) {
    std::vector<int32_t> out;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find_first_of(", ", i);
        if (j == std::string::npos) j = s.size();
        std::string item = s.substr(i, j - i);
        if (!item.empty()) {
            char* end = nullptr;
            long v = std::strtol(item.c_str(), &end, 10);
            if (*end != '\0' || v < 0 || v > INT32_MAX) throw Error("--tokens: '" + item + "' is not a token id");
            out.push_back(int32_t(v));
        }
        i = j + 1;
    }
    if (out.empty()) throw Error("--tokens: no token ids given");
    return out;
}

int cmd_info(const Args& a) {
    if (a.positional.size() != 1) throw Error("info needs exactly one MODEL_DIR");
    auto model = load_model(a.positional[0]);
    const ModelInfo& mi = model->info();
    std::printf("model:       %s\n", a.positional[0].c_str());
    std::printf("family:      %s (model_type %s)\n", mi.family.c_str(), mi.model_type.c_str());
    std::printf("layers:      %d\n", mi.num_layers);
    std::printf("hidden size: %d\n", mi.hidden_size);
    std::printf("vocabulary:  %d\n", mi.vocab_size);
    std::printf("parameters:  %lld\n", static_cast<long long>(mi.parameters));
    std::printf("dtype:       %s\n", mi.weight_dtype.c_str());
    std::printf("%-6s %-22s %-24s %6s %6s %6s %6s\n", "layer", "mixer", "transition", "heads", "K", "V", "steps");
    for (size_t i = 0; i < mi.layers.size(); ++i) {
        const LayerInfo& l = mi.layers[i];
        const char* tr = l.mixer == MixerKind::SoftmaxAttention ? "softmax (KV cache)" : transition_name(l.transition);
        std::printf("%-6zu %-22s %-24s %6d %6d %6d %6d\n", i, l.mixer_name.c_str(), tr, l.heads, l.key_dim, l.value_dim,
                    l.substeps);
    }
    return 0;
}

int cmd_run(const Args& a) {
    if (a.positional.size() != 1) throw Error("run needs exactly one MODEL_DIR");
    if (!a.has("tokens")) throw Error("run needs --tokens 1,2,3");
    auto model = load_model(a.positional[0]);
    std::vector<int32_t> ids = parse_token_list(a.get("tokens"));
    const std::string dump = a.get("dump");

    SequenceState st = model->initial_state();
    std::vector<OutputTensor> out;
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    out.push_back({"input_ids", {1, int64_t(ids.size())}, {}, ids64});
    Tensor last_logits;
    if (dump.empty()) {
        ForwardOptions opt;
        opt.all_logits = false;
        last_logits = model->forward(ids, st, opt).logits;
    } else {
        // Token by token, so the state after every position can be written.
        std::vector<float> logits;
        std::vector<std::vector<float>> hidden;
        for (size_t t = 0; t < ids.size(); ++t) {
            ForwardOptions opt;
            opt.hidden_states = true;
            ForwardResult r = model->forward(std::span<const int32_t>(&ids[t], 1), st, opt);
            logits.insert(logits.end(), r.logits.data.begin(), r.logits.data.end());
            hidden.resize(r.hidden.size());
            for (size_t i = 0; i < r.hidden.size(); ++i)
                hidden[i].insert(hidden[i].end(), r.hidden[i].data.begin(), r.hidden[i].data.end());
            const std::string pre = "state.t" + std::to_string(t + 1) + ".L";
            for (size_t l = 0; l < st.layers.size(); ++l) {
                const LayerState& ls = st.layers[l];
                if (!ls.recurrent.data.empty())
                    out.push_back({pre + std::to_string(l) + ".recurrent", ls.recurrent.shape, ls.recurrent.data, {}});
                for (const auto& x : ls.aux)
                    out.push_back({pre + std::to_string(l) + "." + x.name, x.tensor.shape, x.tensor.data, {}});
            }
            last_logits = r.logits;
        }
        const int64_t T = int64_t(ids.size()), Vocab = model->info().vocab_size, D = model->info().hidden_size;
        out.insert(out.begin() + 1, OutputTensor{"logits", {T, Vocab}, logits, {}});
        for (size_t i = 0; i < hidden.size(); ++i)
            out.insert(out.begin() + 2 + i, OutputTensor{"hidden." + std::to_string(i), {T, D}, hidden[i], {}});
        write_safetensors(dump, out, {{"model", a.positional[0]}, {"model_type", model->info().model_type}});
    }
    const float* lg = last_logits.ptr();
    int64_t n = last_logits.shape.back();
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (lg[i] > lg[best]) best = i;
    std::printf("tokens: %zu  last-position argmax: %lld (logit %.6g)\n", ids.size(), static_cast<long long>(best), lg[best]);
    std::printf("state: %.1f KiB\n", double(st.bytes()) / 1024.0);
    if (!dump.empty()) std::printf("wrote %s (%zu tensors)\n", dump.c_str(), out.size());
    return 0;
}

int cmd_verify(const Args& a) {
    if (a.positional.size() != 1) throw Error("verify needs exactly one MODEL_DIR");
    const std::string dir = a.positional[0];
    std::string ref = a.get("reference", (std::filesystem::path(dir) / "reference.safetensors").string());
    double tol = 1e-4;
    if (a.has("tolerance")) {
        char* end = nullptr;
        tol = std::strtod(a.get("tolerance").c_str(), &end);
        if (*end != '\0' || !(tol > 0)) throw Error("--tolerance: '" + a.get("tolerance") + "' is not a positive number");
    }
    const std::string backend = a.get("backend", "cpu");
    std::unique_ptr<vk::VulkanContext> ctx;   // declared first: outlives the GPU model below
    std::shared_ptr<Model> model = cli::on_backend(backend, a.get("device"), load_model(dir), ctx);
    if (ctx) std::printf("verify: Vulkan device %s\n", ctx->device().name.c_str());
    VerifyReport rep = verify_against_reference(*model, ref, tol);
    for (const auto& l : rep.lines)
        std::printf("%-48s %12.3e  %s%s%s\n", l.name.c_str(), l.error, l.ok ? "ok" : l.invalid_reference ? "skip" : "FAIL",
                    l.note.empty() ? "" : "  ", l.note.c_str());
    if (rep.invalid())
        std::printf("verify: %d reference tensors skipped: their values cannot come from the library (see above)\n", rep.invalid());
    std::printf("verify: %d passed, %d failed\n", rep.passed(), rep.failed());
    return rep.failed() == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string cmd = argv[1];
    try {
        if (cmd == "info") return cmd_info(parse_args(argc, argv, 2, {}));
        if (cmd == "run") return cmd_run(parse_args(argc, argv, 2, {"tokens", "dump"}));
        if (cmd == "verify") return cmd_verify(parse_args(argc, argv, 2, {"reference", "tolerance", "backend", "device"}));
        if (cmd == "synth") return cmd_synth(argc, argv);
        if (cmd == "bench-cpu") return cmd_bench_cpu(argc, argv);
        if (cmd == "generate") return cmd_generate(argc, argv);
        if (cmd == "bench-timeline") return cmd_bench_timeline(argc, argv);
        if (cmd == "devices") return cmd_devices(argc, argv);
        if (cmd == "bench") return cmd_bench(argc, argv);
        if (cmd == "bench-model") return cmd_bench_model(argc, argv);
        if (cmd == "tokenize") return cmd_tokenize(argc, argv);
        if (cmd == "export") return cmd_export(argc, argv);
        std::fprintf(stderr, "statescope-cli: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
        return 2;
    } catch (const Error& e) {
        std::fprintf(stderr, "statescope-cli: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "statescope-cli: internal error: %s\n", e.what());
        return 1;
    }
}
