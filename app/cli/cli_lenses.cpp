// statescope-cli lenses: the lenses of statescope/analysis/lenses.h (spikiness, mean attention
// distance, the first token's share, the query-magnitude effect, the map's effective rank) for one
// head of one recurrent layer over the last W tokens of an input, on its exact map and on the
// softmax map of the same q and k. docs/lenses.md says what each one is and where it comes from.
#include "cli_common.h"
#include "commands.h"
#include "statescope/analysis/lenses.h"
#include "statescope/error.h"
#include "statescope/frames/token_input.h"

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

namespace statescope::cli {

namespace {

// Keeps the common-form inputs one layer computes during a forward.
class ScanCapture : public ForwardObserver {
public:
    explicit ScanCapture(int layer) : layer_(layer) {}
    bool wants_layer(int layer) const override { return layer == layer_; }
    void on_scan(int, int64_t, const ScanInputs& in, const float*) override { inputs = in; }
    std::optional<ScanInputs> inputs;

private:
    int layer_;
};

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / double(v.size());
}

} // namespace

int cmd_lenses(const Arguments& a) {
    if (a.positional().size() != 1) throw Error("lenses needs exactly one MODEL_DIR");
    const std::string dir = a.positional()[0];
    if (a.has("tokens") == a.has("prompt")) throw Error("lenses needs --tokens IDS or --prompt TEXT (one of them)");
    frames::TokenCodec codec(dir);
    const std::vector<int32_t> ids = a.has("tokens") ? frames::parse_token_ids(a.get("tokens"))
                                                     : codec.encode(frames::tokens_from_text(a.get("prompt"))).ids;
    if (ids.empty()) throw Error("--prompt: the text gives no tokens");
    const auto model = open_any(dir);
    const ModelInfo& info = model->info();
    const int layer = int(a.integer("layer", 0)), head = int(a.integer("head", 0));
    if (layer >= info.num_layers)
        throw Error("--layer " + std::to_string(layer) + ": the model has " + std::to_string(info.num_layers) + " layers");
    const LayerInfo& li = info.layers[size_t(layer)];
    if (li.mixer != MixerKind::Recurrent)
        throw Error("--layer " + std::to_string(layer) + " is softmax attention: the lenses compare a recurrent layer's exact map with softmax");
    if (head >= li.heads) throw Error("--head " + std::to_string(head) + ": layer " + std::to_string(layer) + " has " + std::to_string(li.heads) + " heads");
    const int window = int(std::min<int64_t>(a.positive("window", 64), int64_t(ids.size())));

    ScanCapture capture(layer);
    ForwardOptions opts;
    opts.all_logits = false;
    opts.observer = &capture;
    SequenceState st = model->initial_state();
    model->forward(ids, st, opts);
    if (!capture.inputs) throw Error("layer " + std::to_string(layer) + " reported no recurrence inputs");
    const ScanInputs in = analysis::token_slice(*capture.inputs, int(ids.size()) - window, window);
    const analysis::LensCurves exact = analysis::lens_curves(in, head, false), soft = analysis::lens_curves(in, head, true);

    std::printf("model:   %s, layer %d (%s), head %d, the last %d of %zu tokens\n", dir.c_str(), layer, li.mixer_name.c_str(),
                head, window, ids.size());
    std::printf("%-28s %10s %10s\n", "lens (mean over the rows)", "exact", "softmax");
    std::printf("%-28s %10.4f %10.4f\n", "spikiness", mean(exact.spikiness), mean(soft.spikiness));
    std::printf("%-28s %10.4f %10.4f\n", "mean attention distance", mean(exact.distance), mean(soft.distance));
    std::printf("%-28s %10.4f %10.4f\n", "first token's share", mean(exact.first_share), mean(soft.first_share));
    std::printf("%-28s %10.4f %10.4f\n", "entropy change with 2q", mean(exact.magnitude_effect), mean(soft.magnitude_effect));
    std::printf("%-28s %10.4f %10.4f\n", "effective rank of the map", exact.effective_rank, soft.effective_rank);
    if (a.has("out")) {
        const std::string out = a.get("out");
        std::ofstream f(out);
        if (!f) throw Error("cannot write " + out);
        f << "token,spikiness_exact,spikiness_softmax,distance_exact,distance_softmax,first_share_exact,first_share_softmax,"
             "magnitude_effect_exact,magnitude_effect_softmax\n";
        const size_t first = ids.size() - size_t(window);
        for (size_t t = 0; t < size_t(window); ++t) {
            char line[256];
            std::snprintf(line, sizeof line, "%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", first + t, exact.spikiness[t],
                          soft.spikiness[t], exact.distance[t], soft.distance[t], exact.first_share[t], soft.first_share[t],
                          exact.magnitude_effect[t], soft.magnitude_effect[t]);
            f << line;
        }
        if (!f) throw Error("cannot write " + out);
        std::printf("written: %s\n", out.c_str());
    }
    return 0;
}

} // namespace statescope::cli
