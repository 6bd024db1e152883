// statescope-cli session info / save: read a saved session, or write one from a script (teachers
// prepare sessions for a class; papers keep the session a figure came from).
#include "commands.h"
#include "statescope/error.h"
#include "statescope/frames/token_input.h"
#include "statescope/model.h"
#include "statescope/session.h"

#include <cstdio>
#include <filesystem>

namespace statescope::cli {
namespace {

// "NAME", "NAME:TOKEN", "NAME:TOKEN:LAYER" or "NAME:TOKEN:LAYER:HEAD"; missing parts are the
// session's position.
session::Bookmark parse_bookmark(const std::string& spec, const session::Session& s) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (true) {
        const size_t j = spec.find(':', i);
        parts.push_back(spec.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (j == std::string::npos) break;
        i = j + 1;
    }
    if (parts[0].empty() || parts.size() > 4) throw Error("--bookmark: '" + spec + "' is not NAME[:TOKEN[:LAYER[:HEAD]]]");
    session::Bookmark b;
    b.name = parts[0];
    b.token = parts.size() > 1 ? parse_integer("--bookmark " + b.name + " token", parts[1], 0) : s.token;
    b.layer = int(parts.size() > 2 ? parse_integer("--bookmark " + b.name + " layer", parts[2], 0) : s.layer);
    b.head = int(parts.size() > 3 ? parse_integer("--bookmark " + b.name + " head", parts[3], 0) : s.head);
    return b;
}

int session_info(const Arguments& a) {
    if (a.positional().size() != 2) throw Error("session info needs one FILE.statescope");
    std::fputs(session::describe(session::load(a.positional()[1])).c_str(), stdout);
    return 0;
}

int session_save(const Arguments& a) {
    if (a.positional().size() != 2) throw Error("session save needs one MODEL_DIR");
    const std::string out = a.get("out");
    if (out.empty()) throw Error("session save needs --out FILE.statescope");
    if (a.has("tokens") == a.has("prompt")) throw Error("session save needs --tokens IDS or --prompt TEXT (one of them)");
    session::Session s;
    s.model.path = std::filesystem::absolute(a.positional()[1]).lexically_normal().string();
    s.model.identity = session::model_identity(s.model.path);
    const auto model = load_model(s.model.path); // refuses a broken checkpoint before anything is written
    const ModelInfo& info = model->info();
    frames::TokenCodec codec(s.model.path);
    const frames::TokenInput input =
        codec.encode(a.has("tokens") ? frames::tokens_from_ids(a.get("tokens")) : frames::tokens_from_text(a.get("prompt")));
    if (input.ids.empty()) throw Error("--prompt: the text gives no tokens");
    for (int32_t id : input.ids)
        if (id < 0 || id >= info.vocab_size)
            throw Error("--tokens: id " + std::to_string(id) + " is outside the vocabulary (0.." +
                        std::to_string(info.vocab_size - 1) + ")");
    s.tokens = input.ids;
    s.text = input.text.value_or("");
    s.parts = {{0, int64_t(s.tokens.size()), a.has("tokens") ? "ids" : "prompt", ""}};
    s.token = a.integer("token", int64_t(s.tokens.size()) - 1);
    s.layer = int(a.integer("layer", 0));
    s.head = int(a.integer("head", 0));
    s.window = int(a.integer("window", 32, 1));
    s.lesson = a.get("lesson");
    auto check_focus = [&](const std::string& what, int64_t token, int layer, int head) {
        if (token >= int64_t(s.tokens.size()))
            throw Error(what + ": token " + std::to_string(token) + " is outside the sequence (" +
                        std::to_string(s.tokens.size()) + " tokens)");
        if (layer >= info.num_layers)
            throw Error(what + ": layer " + std::to_string(layer) + " does not exist (the model has " +
                        std::to_string(info.num_layers) + " layers)");
        if (head >= info.layers[size_t(layer)].heads)
            throw Error(what + ": head " + std::to_string(head) + " does not exist in layer " + std::to_string(layer) +
                        " (" + std::to_string(info.layers[size_t(layer)].heads) + " heads)");
    };
    check_focus("--token/--layer/--head", s.token, s.layer, s.head);
    const std::string view = a.get("view", "state");
    for (const std::string& spec : a.all("bookmark")) {
        session::Bookmark b = parse_bookmark(spec, s);
        b.view = view;
        for (const session::Bookmark& other : s.bookmarks)
            if (other.name == b.name) throw Error("--bookmark: '" + b.name + "' is given twice");
        check_focus("--bookmark " + b.name, b.token, b.layer, b.head);
        s.bookmarks.push_back(b);
    }
    for (const std::string& note : a.all("note")) {
        const size_t eq = note.find('=');
        if (eq == std::string::npos) throw Error("--note: '" + note + "' is not NAME=TEXT");
        bool found = false;
        for (session::Bookmark& b : s.bookmarks)
            if (b.name == note.substr(0, eq)) {
                b.notes = note.substr(eq + 1);
                found = true;
            }
        if (!found) throw Error("--note: no bookmark named '" + note.substr(0, eq) + "'");
    }
    session::save(out, s);
    std::printf("wrote %s: %s, %zu tokens, %zu bookmarks\n", out.c_str(), info.family.c_str(), s.tokens.size(),
                s.bookmarks.size());
    return 0;
}

} // namespace

int cmd_session(const Arguments& a) {
    const std::string verb = a.positional().empty() ? "" : a.positional()[0];
    if (verb == "info") return session_info(a);
    if (verb == "save") return session_save(a);
    throw Error("session: '" + verb + "' is not info or save (statescope-cli session info FILE | session save MODEL_DIR ...)");
}

} // namespace statescope::cli
