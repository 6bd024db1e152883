// statescope-cli patch: activation patching of recurrent states (statescope/analysis/patching.h).
// A clean and a corrupted input of one length; at one position each layer's and each head's
// state is copied from the clean run into the corrupted one, and the target token's logit at the
// last position says how much of the clean prediction that state carries. Prints a layer x head
// table of the restored fraction and writes it as CSV or as an SVG heat map.
#include "cli_common.h"
#include "commands.h"
#include "statescope/analysis/patching.h"
#include "statescope/error.h"
#include "statescope/frames/token_input.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace statescope::cli {

namespace {

std::vector<int32_t> input_ids(const Arguments& a, frames::TokenCodec& codec, const std::string& which) {
    const std::string text_flag = which, ids_flag = which + "-tokens";
    if (a.has(text_flag) == a.has(ids_flag))
        throw Error("patch needs --" + text_flag + " TEXT or --" + ids_flag + " IDS (one of them)");
    std::vector<int32_t> ids = a.has(ids_flag) ? frames::parse_token_ids(a.get(ids_flag), "--" + ids_flag)
                                               : codec.encode(frames::tokens_from_text(a.get(text_flag))).ids;
    if (ids.empty()) throw Error("--" + text_flag + ": the text gives no tokens");
    return ids;
}

int32_t target_id(const Arguments& a, frames::TokenCodec& codec) {
    if (a.has("target") == a.has("target-id")) throw Error("patch needs --target TOKEN_TEXT or --target-id ID (one of them)");
    if (a.has("target-id")) return int32_t(a.integer("target-id", 0));
    const frames::TokenInput t = codec.encode(frames::tokens_from_text(a.get("target")));
    if (t.ids.size() != 1)
        throw Error("--target '" + a.get("target") + "' is " + std::to_string(t.ids.size()) +
                    " tokens for this model; give one token's text, or --target-id");
    return t.ids[0];
}

std::string xml_escaped(const std::string& s) {
    std::string o;
    for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '\'' ? "&apos;" : std::string(1, c);
    return o;
}

std::string ends(const std::string& s) { return s.size() >= 4 ? s.substr(s.size() - 4) : ""; }

// Blue (-1) through white (0) to red (+1), like the app's diverging maps.
std::string colour(double x) {
    if (!std::isfinite(x)) return "#cccccc";
    x = std::max(-1.0, std::min(1.0, x));
    const int w = int(std::lround(255 * (1 - std::abs(x))));
    char buf[8];
    if (x >= 0) std::snprintf(buf, sizeof buf, "#ff%02x%02x", w, w);
    else std::snprintf(buf, sizeof buf, "#%02x%02xff", w, w);
    return buf;
}

void write_svg(const std::string& path, const analysis::PatchingResult& r, const std::string& title) {
    size_t heads = 0;
    for (const auto& row : r.head_logit) heads = std::max(heads, row.size());
    const int cell = 34, left = 90, top = 56, cols = int(heads) + 1;
    const int width = std::max(left + cols * cell + 20, 480), height = top + int(r.layer_logit.size()) * cell + 60;
    std::ofstream f(path);
    if (!f) throw Error("cannot write " + path);
    f << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='8' y='20' font-size='14'>" << xml_escaped(title) << "</text>\n"
      << "<text x='8' y='38'>restored fraction of the target logit: 0 corrupted, 1 clean</text>\n";
    for (int c = 0; c < cols; ++c)
        f << "<text x='" << left + c * cell + cell / 2 << "' y='" << top - 4 << "' text-anchor='middle'>"
          << (c + 1 == cols ? std::string("all") : "h" + std::to_string(c)) << "</text>\n";
    for (size_t l = 0; l < r.layer_logit.size(); ++l) {
        const int y = top + int(l) * cell;
        f << "<text x='" << left - 6 << "' y='" << y + cell / 2 + 4 << "' text-anchor='end'>layer " << l << "</text>\n";
        for (int c = 0; c < cols; ++c) {
            const bool whole = c + 1 == cols;
            if (!whole && size_t(c) >= r.head_logit[l].size()) continue;
            const double v = r.restored(whole ? r.layer_logit[l] : r.head_logit[l][size_t(c)]);
            char num[16];
            std::snprintf(num, sizeof num, "%.2f", v);
            f << "<rect x='" << left + c * cell << "' y='" << y << "' width='" << cell - 2 << "' height='" << cell - 2
              << "' fill='" << colour(v) << "'/><text x='" << left + c * cell + cell / 2 - 1 << "' y='" << y + cell / 2 + 4
              << "' text-anchor='middle' font-size='10'>" << (std::isfinite(v) ? num : "-") << "</text>\n";
        }
    }
    f << "<text x='8' y='" << height - 16 << "'>'all': the layer's whole state (recurrent, convolution windows, caches)</text>\n</svg>\n";
    if (!f) throw Error("cannot write " + path);
}

void write_csv(const std::string& path, const analysis::PatchingResult& r) {
    std::ofstream f(path);
    if (!f) throw Error("cannot write " + path);
    f << "layer,head,patched_logit,restored\n";
    char line[128];
    for (size_t l = 0; l < r.layer_logit.size(); ++l) {
        for (size_t h = 0; h < r.head_logit[l].size(); ++h) {
            std::snprintf(line, sizeof line, "%zu,%zu,%.9g,%.6g\n", l, h, r.head_logit[l][h], r.restored(r.head_logit[l][h]));
            f << line;
        }
        std::snprintf(line, sizeof line, "%zu,all,%.9g,%.6g\n", l, r.layer_logit[l], r.restored(r.layer_logit[l]));
        f << line;
    }
    if (!f) throw Error("cannot write " + path);
}

} // namespace

int cmd_patch(const Arguments& a) {
    if (a.positional().size() != 1) throw Error("patch needs exactly one MODEL_DIR");
    const std::string dir = a.positional()[0];
    frames::TokenCodec codec(dir);
    analysis::PatchingRequest req;
    req.clean = input_ids(a, codec, "clean");
    req.corrupt = input_ids(a, codec, "corrupt");
    req.target = target_id(a, codec);
    if (a.has("at")) {
        req.position = a.integer("at", 0);
    } else {
        req.position = analysis::last_difference(req.clean, req.corrupt);
        if (req.position < 0) throw Error("the clean and corrupted inputs are the same; give --at T to patch anyway");
    }
    const std::string out = a.get("out");
    if (!out.empty() && ends(out) != ".csv" && ends(out) != ".svg") throw Error("--out " + out + ": write .csv or .svg");

    const OpenedModel opened = open_on_backend(a, "cpu", open_any(dir));
    const analysis::PatchingResult r = analysis::activation_patching(*opened.model(), req);
    std::printf("model:   %s on %s\n", dir.c_str(), opened.description().c_str());
    std::printf("target:  %d '%s', logit %.4f clean, %.4f corrupted, at the last position (%zu tokens)\n", req.target,
                codec.label(req.target).c_str(), r.clean_logit, r.corrupt_logit, req.clean.size());
    std::printf("patched: after token %lld (clean '%s', corrupted '%s'); restored fraction per layer and head:\n",
                (long long)req.position, codec.label(req.clean[size_t(req.position)]).c_str(),
                codec.label(req.corrupt[size_t(req.position)]).c_str());
    for (size_t l = 0; l < r.layer_logit.size(); ++l) {
        std::printf("  layer %zu:", l);
        for (double v : r.head_logit[l]) std::printf(" %6.3f", r.restored(v));
        if (r.head_logit[l].empty()) std::printf(" (softmax attention: no per-head state)");
        std::printf("   whole layer %6.3f\n", r.restored(r.layer_logit[l]));
    }
    if (!out.empty()) {
        if (ends(out) == ".csv") write_csv(out, r);
        else write_svg(out, r, "Activation patching: " + short_name(dir) + ", after token " + std::to_string(req.position));
        std::printf("written: %s\n", out.c_str());
    }
    return 0;
}

} // namespace statescope::cli
