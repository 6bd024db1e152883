// statescope-cli: the command-line front end. A thin layer over the engine library: parse
// arguments, call the engine, print. Every error reaches the user as one line naming its cause.
// The subcommands are one table (kCommands): name, usage lines, flags, function.
#include "cli_common.h"
#include "commands.h"
#include "statescope/error.h"
#include "statescope/safetensors.h"
#include "statescope/frames/token_input.h"
#include "statescope/model.h"
#include "statescope/verify.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace statescope;

namespace statescope::cli {

int cmd_info(const Arguments& a) {
    if (a.positional().size() != 1) throw Error("info needs exactly one MODEL_DIR");
    auto model = load_model(a.positional()[0]);
    const ModelInfo& mi = model->info();
    std::printf("model:       %s\n", a.positional()[0].c_str());
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

int cmd_run(const Arguments& a) {
    if (a.positional().size() != 1) throw Error("run needs exactly one MODEL_DIR");
    if (!a.has("tokens")) throw Error("run needs --tokens 1,2,3");
    auto model = load_model(a.positional()[0]);
    std::vector<int32_t> ids = frames::parse_token_ids(a.get("tokens"));
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
        write_safetensors(dump, out, {{"model", a.positional()[0]}, {"model_type", model->info().model_type}});
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

int cmd_verify(const Arguments& a) {
    if (a.positional().size() != 1) throw Error("verify needs exactly one MODEL_DIR");
    const std::string dir = a.positional()[0];
    std::string ref = a.get("reference", (std::filesystem::path(dir) / "reference.safetensors").string());
    const double tol = a.positive_number("tolerance", 1e-4);
    const OpenedModel model = open_on_backend(a, "cpu", load_model(dir));
    if (model.backend() == BackendKind::Vulkan) std::printf("verify: Vulkan device %s\n", model.device_name().c_str());
    VerifyReport rep = verify_against_reference(*model.model(), ref, tol);
    for (const auto& l : rep.lines)
        std::printf("%-48s %12.3e  %s%s%s\n", l.name.c_str(), l.error, l.ok ? "ok" : l.invalid_reference ? "skip" : "FAIL",
                    l.note.empty() ? "" : "  ", l.note.c_str());
    if (rep.invalid())
        std::printf("verify: %d reference tensors skipped: their values cannot come from the library (see above)\n", rep.invalid());
    std::printf("verify: %d passed, %d failed\n", rep.passed(), rep.failed());
    return rep.failed() == 0 ? 0 : 1;
}

#ifndef STATESCOPE_CLI_EXPORT
int cmd_export(const Arguments&) {
    throw Error("export draws with the desktop app's views, and this statescope-cli was built without them "
                "(STATESCOPE_BUILD_APP=OFF)");
}
#endif

} // namespace statescope::cli

namespace {

using statescope::cli::Arguments;
using statescope::cli::Flag;

// A flag that takes a value, and a switch.
Flag value(const char* name) { return {name, true}; }
Flag flag(const char* name) { return {name, false}; }

struct Command {
    const char* name;
    const char* usage; // its lines of the usage text, arguments and what it does
    std::vector<Flag> flags;
    int (*run)(const Arguments&);
};

const std::vector<Command>& commands() {
    using namespace statescope::cli;
    static const std::vector<Command> kCommands = {
        {"info",
         "  info MODEL_DIR                      family, layers, heads, K and V per head, parameters, dtype\n",
         {}, cmd_info},
        {"run",
         "  run MODEL_DIR --tokens 1,2,3 [--dump OUT.safetensors]\n"
         "                                      run the tokens; print the argmax of the last logits; with\n"
         "                                      --dump write logits, hidden states and every layer's state\n"
         "                                      at every position\n",
         {value("tokens"), value("dump")}, cmd_run},
        {"verify",
         "  verify MODEL_DIR [--reference FILE] [--tolerance X] [--backend cpu|vulkan] [--device D]\n"
         "                                      compare every tensor of a reference file (default\n"
         "                                      MODEL_DIR/reference.safetensors, tolerance 1e-4), on\n"
         "                                      the CPU reference or the whole model on a Vulkan device\n",
         {value("reference"), value("tolerance"), value("backend"), value("device")}, cmd_verify},
        {"synth",
         "  synth CONFIG.json OUT_DIR [--dtype bf16|f16|f32] [--seed N]\n"
         "                                      write a model with random weights in the family's real\n"
         "                                      shapes (assets/configs has realistic sizes)\n",
         {value("dtype"), value("seed")}, cmd_synth},
        {"generate",
         "  generate MODEL_DIR (--prompt TEXT [--tokenizer FILE] | --tokens IDS) [--max-tokens N]\n"
         "           [--temperature T] [--top-k K] [--top-p P] [--seed S] [--dump OUT.safetensors]\n"
         "                                      continue the prompt, printing ids as they come; greedy\n"
         "                                      unless --temperature > 0\n",
         {value("prompt"), value("tokenizer"), value("tokens"), value("max-tokens"), value("temperature"), value("top-k"),
          value("top-p"), value("seed"), value("dump")},
         cmd_generate},
        {"bench-timeline",
         "  bench-timeline MODEL [--tokens N] [--jumps J] [--budget-mb M]\n"
         "                                      time to jump to random tokens of a long sequence from\n"
         "                                      the checkpoints, and their memory\n",
         {value("tokens"), value("jumps"), value("budget-mb"), value("backend"), value("device")}, cmd_bench_timeline},
        {"bench-cpu",
         "  bench-cpu MODEL... [--tokens N] [--steps M]\n"
         "                                      CPU prefill tokens/s and per-token step latency; a MODEL\n"
         "                                      may be a folder or a config .json (random weights)\n",
         {value("tokens"), value("steps")}, cmd_bench_cpu},
        {"devices",
         "  devices [--device D]                Vulkan devices and their capabilities; marks the one a\n"
         "                                      GPU command would use (D or STATESCOPE_VULKAN_DEVICE:\n"
         "                                      an index or part of a name)\n",
         {value("device")}, cmd_devices},
        {"bench",
         "  bench [--device D] [--configs BxT,...] [--kinds ...] [--forms ...] (--help for more)\n"
         "                                      GPU scan kernels: time, GB/s, TFLOP/s per transition kind\n"
         "                                      and form (default B=8 T=4096 and B=1 T=65536, H=16, K=V=128)\n",
         {flag("help"), value("device"), value("configs"), value("heads"), value("dk"), value("dv"), value("kinds"),
          value("forms"), value("chunk"), value("repeat"), value("warmup-ms"), value("rec-workgroup"), value("rec-tokens"),
          value("out-vblock"), value("out-ktile"), value("tc-prefetch"), value("tc-segments"), flag("no-check"),
          flag("verbose"), flag("chunk-states"), flag("pipeline-stats"), flag("tc-profile")},
         cmd_bench},
        {"bench-model",
         "  bench-model MODEL... [--backend cpu|vulkan] [--device D] [--tokens N] [--steps M]\n"
         "              [--weights auto|f32|f16|bf16] [--profile]\n"
         "                                      whole-model prefill tokens/s and step latency (default on\n"
         "                                      the Vulkan device), with GPU-vs-CPU logits agreement;\n"
         "                                      --profile: a step's GPU time per kernel\n",
         {value("backend"), value("device"), value("tokens"), value("steps"), value("repeats"), value("weights"),
          flag("profile")},
         cmd_bench_model},
        {"session",
         "  session info FILE.statescope        what a saved session holds\n"
         "  session save MODEL_DIR (--tokens IDS | --prompt TEXT) --out FILE.statescope\n"
         "         [--token T] [--layer L] [--head H] [--window W] [--bookmark NAME[:TOKEN[:LAYER[:HEAD]]]]...\n"
         "         [--note NAME=TEXT]... [--lesson NAME]\n"
         "                                      writes a session for the app (teachers prepare them); a\n"
         "                                      bookmark without a position takes --token/--layer/--head\n",
         {value("tokens"), value("prompt"), value("out"), value("token"), value("layer"), value("head"),
          value("window"), value("bookmark"), value("note"), value("lesson"), value("view")},
         cmd_session},
        {"export",
         "  export MODEL_DIR (--tokens IDS | --prompt TEXT | --task-seed S [--task-size N]) --view VIEW\n"
         "         --out FILE.(png|svg|pdf|csv|npy)\n"
         "         [--layer L] [--head H] [--token T] [--window W] [--size WxH]\n"
         "         [--scale per-frame|symlog|fixed:LIMIT]\n"
         "                                      one view of the app at token T (default: the last) as a\n"
         "                                      picture or its numbers, naming model, layer, head and\n"
         "                                      token in the file; VIEW: state, attention,\n"
         "                                      attention-softmax, eigen, curves, overview, prediction\n"
         "                                      (next-token probabilities; a task sample's target),\n"
         "                                      prediction-curve (per token), attention-row\n"
         "  export FILE.statescope --bookmark NAME --out FILE.(png|svg|pdf|csv|npy) [--view VIEW] [--size WxH]\n"
         "                                      a saved bookmark's view, as the session left it\n",
         {value("tokens"), value("prompt"), value("view"), value("out"), value("layer"), value("head"), value("token"),
          value("window"), value("size"), value("scale"), value("bookmark"), value("task-seed"), value("task-size")},
         cmd_export},
        {"task",
         "  task MODEL_DIR [--samples N] [--seed S] [--pairs P | --length L | --region R]\n"
         "       [--backend cpu|vulkan] [--device D] [--print]\n"
         "                                      accuracy of a demonstration model on fresh samples of its\n"
         "                                      task.json (samples use seeds S, S+1, ...; default 200 from\n"
         "                                      seed 1, the task's default size); --print: one sample's ids\n"
         "                                      and targets\n",
         {value("samples"), value("seed"), value("pairs"), value("length"), value("region"), value("backend"),
          value("device"), value("weights"), flag("print")},
         cmd_task},
        {"patch",
         "  patch MODEL_DIR (--clean TEXT | --clean-tokens IDS) (--corrupt TEXT | --corrupt-tokens IDS)\n"
         "        (--target TOKEN | --target-id ID) [--at T] [--out FILE.(csv|svg)] [--backend cpu|vulkan]\n"
         "                                      activation patching: each layer's and head's state after\n"
         "                                      token T (default: the last token where the inputs differ)\n"
         "                                      copied from the clean run into the corrupted one; prints\n"
         "                                      how much of the target's clean logit comes back\n",
         {value("clean"), value("clean-tokens"), value("corrupt"), value("corrupt-tokens"), value("target"),
          value("target-id"), value("at"), value("out"), value("backend"), value("device"), value("weights")},
         cmd_patch},
        {"lenses",
         "  lenses MODEL_DIR (--tokens IDS | --prompt TEXT) [--layer L] [--head H] [--window W] [--out FILE.csv]\n"
         "                                      spikiness, attention distance, first token's share, query\n"
         "                                      magnitude effect and map rank of one head's exact and\n"
         "                                      softmax maps over the last W tokens (docs/lenses.md)\n",
         {value("tokens"), value("prompt"), value("layer"), value("head"), value("window"), value("out")},
         cmd_lenses},
        {"tokenize",
         "  tokenize --tokenizer FILE [--special] (TEXT | --file PATH) | --decode IDS | --bench PATH\n"
         "                                      token ids of a text (--file - reads stdin), the text of\n"
         "                                      ids, or tokenizer throughput (tokenizer.json)\n",
         {value("tokenizer"), value("config"), value("file"), value("decode"), value("bench"), value("repeat"),
          flag("special"), flag("skip-special"), flag("info"), flag("help")},
         cmd_tokenize},
    };
    return kCommands;
}

std::string usage() {
    std::string s = "usage: statescope-cli <command> [arguments]\n\ncommands:\n";
    for (const Command& c : commands()) s += c.usage;
    return s;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::fputs(usage().c_str(), argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string name = argv[1];
    const std::vector<std::string> args(argv, argv + argc);
    try {
        for (const Command& c : commands())
            if (name == c.name) return c.run(Arguments(args, 2, c.flags, c.name));
        std::fprintf(stderr, "statescope-cli: unknown command '%s'\n\n%s", name.c_str(), usage().c_str());
        return 2;
    } catch (const Error& e) {
        std::fprintf(stderr, "statescope-cli: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "statescope-cli: internal error: %s\n", e.what());
        return 1;
    }
}
