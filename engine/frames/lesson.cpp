#include "statescope/frames/lesson.h"

#include "core/json.h"
#include "statescope/error.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace statescope::lessons {

namespace fs = std::filesystem;

namespace {

// Names the place of every error: "data/lessons/x.json: step 3 (\"Title\"): claim 2: key: ...".
struct Where {
    std::string file;
    int step = 0;       // 1-based, 0: the lesson itself
    std::string title;
    int claim = 0;      // 1-based, 0: the step itself

    [[noreturn]] void fail(const std::string& key, const std::string& message) const {
        std::string s = file + ": ";
        if (step) s += "step " + std::to_string(step) + (title.empty() ? "" : " (\"" + title + "\")") + ": ";
        if (claim) s += "claim " + std::to_string(claim) + ": ";
        throw Error(s + (key.empty() ? "" : key + ": ") + message);
    }
};

const Json& need(const Json& obj, const char* key, Json::Type type, const Where& w) {
    const Json* j = obj.find(key);
    if (!j) w.fail(key, "missing");
    if (j->type() != type) w.fail(key, std::string("expected ") + Json::type_name(type) + ", got " + Json::type_name(j->type()));
    return *j;
}

std::optional<std::string> opt_string(const Json& obj, const char* key, const Where& w) {
    if (!obj.find(key)) return std::nullopt;
    return need(obj, key, Json::Type::String, w).as_string();
}

std::optional<double> opt_number(const Json& obj, const char* key, const Where& w) {
    if (!obj.find(key)) return std::nullopt;
    return need(obj, key, Json::Type::Number, w).as_number();
}

std::optional<int64_t> opt_int(const Json& obj, const char* key, const Where& w, int64_t min = 0) {
    const Json* j = obj.find(key);
    if (!j) return std::nullopt;
    if (!j->is_integer()) w.fail(key, "expected an integer");
    if (j->as_int() < min) w.fail(key, "must be at least " + std::to_string(min));
    return j->as_int();
}

std::complex<double> complex_of(const Json& obj, const char* key, const Where& w) {
    const Json& j = need(obj, key, Json::Type::Array, w);
    if (j.size() != 2 || !j.items()[0].is_number() || !j.items()[1].is_number())
        w.fail(key, "expected [real, imaginary]");
    return {j.items()[0].as_number(), j.items()[1].as_number()};
}

// Refuses keys the format does not have, so that a misspelt key is not silently ignored.
void only_keys(const Json& obj, std::initializer_list<const char*> keys, const Where& w) {
    for (const auto& [k, v] : obj.members())
        if (std::none_of(keys.begin(), keys.end(), [&](const char* a) { return k == a; })) {
            std::string list;
            for (const char* a : keys) list += std::string(list.empty() ? "" : ", ") + a;
            w.fail(k, "unknown key (known: " + list + ")");
        }
}

View parse_view(const std::string& s, const Where& w) {
    for (View v : {View::Overview, View::State, View::Attention, View::Spectrum, View::Curves, View::Trajectory, View::Prediction,
                   View::AttentionRow})
        if (s == view_name(v)) return v;
    w.fail("view", "unknown view '" + s + "' (overview, state, attention, spectrum, curves, trajectory, prediction, attention-row)");
}

ClaimKind parse_claim_kind(const std::string& s, const Where& w) {
    for (int i = 0; i <= int(ClaimKind::StateNorm); ++i)
        if (s == claim_kind_name(ClaimKind(i))) return ClaimKind(i);
    std::string list;
    for (int i = 0; i <= int(ClaimKind::StateNorm); ++i) list += std::string(i ? ", " : "") + claim_kind_name(ClaimKind(i));
    w.fail("kind", "unknown claim '" + s + "' (" + list + ")");
}

std::string resolve_model(const std::string& name, const std::string& root, const char* key, const Where& w) {
    const fs::path p = fs::path(name).is_absolute() ? fs::path(name) : fs::path(root) / name;
    if (!fs::exists(p / "config.json")) w.fail(key, "no model at '" + name + "' (looked for " + (p / "config.json").string() + ")");
    return p.lexically_normal().string();
}

TokenSelection parse_selection(const Json& j, const Where& w) {
    static const std::set<std::string> roles = {"query", "key", "value", "zero", "one", "data", "noise", "separator", "scored",
                                                "identity", "transposition", "cycle"};
    TokenSelection s;
    if (j.is_string()) {
        if (j.as_string() == "all") s.kind = TokenSelection::Kind::All;
        else if (roles.count(j.as_string())) {
            s.kind = TokenSelection::Kind::Role;
            s.role = j.as_string();
        } else
            w.fail("tokens", "expected \"all\", a role (query, key, value, zero, one, data, noise, separator, scored, identity, transposition, cycle) or a list, got '" + j.as_string() + "'");
    } else if (j.is_array()) {
        s.kind = TokenSelection::Kind::List;
        for (const Json& t : j.items()) {
            if (!t.is_integer() || t.as_int() < 0) w.fail("tokens", "list items must be token positions (integers >= 0)");
            s.list.push_back(t.as_int());
        }
        if (s.list.empty()) w.fail("tokens", "empty list");
    } else
        w.fail("tokens", "expected a string or a list of positions");
    return s;
}

Claim parse_claim(const Json& j, const std::string& root, const Where& w) {
    if (!j.is_object()) w.fail("", "expected an object");
    only_keys(j, {"kind", "text", "token", "layer", "head", "window", "tokens", "all_heads", "at", "at_stored_key", "value",
                  "of", "model", "size", "samples", "seed", "last_only", "at_least", "at_most"},
              w);
    Claim c;
    c.kind = parse_claim_kind(need(j, "kind", Json::Type::String, w).as_string(), w);
    c.text = need(j, "text", Json::Type::String, w).as_string();
    c.token = opt_int(j, "token", w);
    if (auto v = opt_int(j, "layer", w)) c.layer = int(*v);
    if (auto v = opt_int(j, "head", w)) c.head = int(*v);
    if (auto v = opt_int(j, "window", w, 1)) c.window = int(*v);
    if (const Json* t = j.find("tokens")) c.tokens = parse_selection(*t, w);
    if (const Json* a = j.find("all_heads")) c.all_heads = a->is_bool() && a->as_bool();
    c.at = opt_int(j, "at", w);
    if (const Json* o = j.find("at_stored_key")) {
        if (!o->is_integer()) w.fail("at_stored_key", "expected an integer offset");
        c.stored_key_offset = o->as_int();
    }
    if (j.find("value")) c.value = complex_of(j, "value", w);
    if (auto of = opt_string(j, "of", w)) {
        if (*of != "token" && *of != "window") w.fail("of", "expected \"token\" or \"window\"");
        c.of_window = *of == "window";
    }
    if (auto m = opt_string(j, "model", w)) c.model = resolve_model(*m, root, "model", w);
    c.size = opt_int(j, "size", w).value_or(0);
    c.samples = opt_int(j, "samples", w, 1).value_or(200);
    c.seed = uint64_t(opt_int(j, "seed", w).value_or(1000));
    if (const Json* l = j.find("last_only")) c.last_only = l->is_bool() && l->as_bool();
    c.at_least = opt_number(j, "at_least", w);
    c.at_most = opt_number(j, "at_most", w);
    if (!c.at_least && !c.at_most) w.fail("", "give at_least or at_most: a claim must be able to fail");

    // What each kind needs.
    switch (c.kind) {
    case ClaimKind::AttentionPeak:
        if (!c.at == !c.stored_key_offset) w.fail("", "attention_peak needs exactly one of at and at_stored_key");
        break;
    case ClaimKind::EigenvalueDistance:
    case ClaimKind::EigenvectorCosine:
        if (!j.find("value")) w.fail("value", "missing");
        if (c.kind == ClaimKind::EigenvectorCosine && (c.tokens.kind != TokenSelection::Kind::List || c.tokens.list.size() != 2))
            w.fail("tokens", "eigenvector_cosine compares two tokens: give \"tokens\": [t1, t2]");
        break;
    default: break;
    }
    return c;
}

SequenceSpec parse_sequence(const Json& j, const Where& w) {
    if (!j.is_object() || j.size() != 1) w.fail("sequence", "expected one of {\"task\": {...}}, {\"text\": \"...\"}, {\"ids\": [...]}");
    SequenceSpec s;
    if (const Json* t = j.find("task")) {
        if (!t->is_object()) w.fail("sequence.task", "expected {\"seed\": S, \"size\": N}");
        only_keys(*t, {"seed", "size"}, w);
        s.kind = SequenceSpec::Kind::Task;
        s.seed = uint64_t(opt_int(*t, "seed", w).value_or(1));
        s.size = opt_int(*t, "size", w, 1).value_or(0);
    } else if (const Json* x = j.find("text")) {
        if (!x->is_string() || x->as_string().empty()) w.fail("sequence.text", "expected non-empty text");
        s.kind = SequenceSpec::Kind::Text;
        s.text = x->as_string();
    } else if (const Json* ids = j.find("ids")) {
        if (!ids->is_array() || ids->size() == 0) w.fail("sequence.ids", "expected a non-empty list of token ids");
        s.kind = SequenceSpec::Kind::Ids;
        for (const Json& i : ids->items()) {
            if (!i.is_integer() || i.as_int() < 0 || i.as_int() > INT32_MAX) w.fail("sequence.ids", "ids must be integers >= 0");
            s.ids.push_back(int32_t(i.as_int()));
        }
    } else
        w.fail("sequence", "expected task, text or ids");
    return s;
}

Highlight parse_highlight(const Json& j, const Where& w) {
    if (!j.is_object() || j.size() != 1) w.fail("highlight", "expected one of {\"token\": T}, {\"cell\": [r, c]}, {\"eigenvalue\": [re, im]}");
    Highlight h;
    if (j.find("token")) {
        h.kind = Highlight::Kind::Token;
        h.token = *opt_int(j, "token", w);
    } else if (const Json* c = j.find("cell")) {
        if (!c->is_array() || c->size() != 2 || !c->items()[0].is_integer() || !c->items()[1].is_integer())
            w.fail("highlight.cell", "expected [row, column]");
        h.kind = Highlight::Kind::Cell;
        h.row = int(c->items()[0].as_int());
        h.col = int(c->items()[1].as_int());
    } else if (j.find("eigenvalue")) {
        h.kind = Highlight::Kind::Eigenvalue;
        h.eigenvalue = complex_of(j, "eigenvalue", w);
    } else
        w.fail("highlight", "expected token, cell or eigenvalue");
    return h;
}

} // namespace

const char* view_name(View v) {
    switch (v) {
    case View::Overview: return "overview";
    case View::State: return "state";
    case View::Attention: return "attention";
    case View::Spectrum: return "spectrum";
    case View::Curves: return "curves";
    case View::Trajectory: return "trajectory";
    case View::Prediction: return "prediction";
    case View::AttentionRow: return "attention-row";
    }
    return "?";
}

const char* claim_kind_name(ClaimKind k) {
    switch (k) {
    case ClaimKind::AttentionPeak: return "attention_peak";
    case ClaimKind::PredictionAccuracy: return "prediction_accuracy";
    case ClaimKind::TaskAccuracy: return "task_accuracy";
    case ClaimKind::EigenvalueDistance: return "eigenvalue_distance";
    case ClaimKind::MinEigenvalueReal: return "min_eigenvalue_real";
    case ClaimKind::MaxEigenvalueImag: return "max_eigenvalue_imag";
    case ClaimKind::SpectralRadius: return "spectral_radius";
    case ClaimKind::HalfLife: return "half_life";
    case ClaimKind::MeanEigenvalueModulus: return "mean_eigenvalue_modulus";
    case ClaimKind::EigenvectorCosine: return "eigenvector_cosine";
    case ClaimKind::StateNorm: return "state_norm";
    }
    return "?";
}

Lesson load_lesson(const std::string& path, const std::string& root) {
    Where w;
    w.file = path;
    const Json doc = Json::parse(read_text_file(path), path);
    if (!doc.is_object()) w.fail("", "expected a JSON object with title and steps");
    only_keys(doc, {"title", "summary", "steps"}, w);
    Lesson lesson;
    lesson.path = path;
    lesson.name = fs::path(path).stem().string();
    lesson.title = need(doc, "title", Json::Type::String, w).as_string();
    lesson.summary = opt_string(doc, "summary", w).value_or("");
    const Json& steps = need(doc, "steps", Json::Type::Array, w);
    if (steps.size() == 0) w.fail("steps", "a lesson needs at least one step");
    Step previous;
    bool have_model = false, have_sequence = false;
    for (const Json& js : steps.items()) {
        ++w.step;
        w.title.clear();
        if (!js.is_object()) w.fail("", "expected an object");
        w.title = opt_string(js, "title", w).value_or("");
        only_keys(js, {"title", "model", "sequence", "token", "layer", "head", "window", "view", "panels", "highlight", "narration", "question", "claims"}, w);
        Step s = previous; // a step inherits where the previous one left the window
        s.title = w.title;
        if (s.title.empty()) w.fail("title", "missing");
        s.highlight = {};
        s.narration.clear();
        s.question.clear();
        s.claims.clear();
        s.token.reset();
        if (auto m = opt_string(js, "model", w)) {
            s.model_name = *m;
            s.model = resolve_model(*m, root, "model", w);
            have_model = true;
        } else if (!have_model)
            w.fail("model", "missing (the first step must name its model)");
        if (const Json* q = js.find("sequence")) {
            s.sequence = parse_sequence(*q, w);
            have_sequence = true;
        } else if (!have_sequence)
            w.fail("sequence", "missing (the first step must give its sequence)");
        s.token = opt_int(js, "token", w);
        if (auto v = opt_int(js, "layer", w)) s.layer = int(*v);
        if (auto v = opt_int(js, "head", w)) s.head = int(*v);
        if (auto v = opt_int(js, "window", w, 1)) s.window = int(*v);
        if (auto v = opt_string(js, "view", w)) s.view = parse_view(*v, w);
        if (const Json* ps = js.find("panels")) {
            if (!ps->is_array()) w.fail("panels", "expected a list of views");
            s.panels.clear();
            for (const Json& p : ps->items()) {
                if (!p.is_string()) w.fail("panels", "expected view names");
                s.panels.push_back(parse_view(p.as_string(), w));
            }
        }
        if (const Json* h = js.find("highlight")) s.highlight = parse_highlight(*h, w);
        s.narration = need(js, "narration", Json::Type::String, w).as_string();
        s.question = opt_string(js, "question", w).value_or("");
        if (const Json* cs = js.find("claims")) {
            if (!cs->is_array()) w.fail("claims", "expected a list");
            for (const Json& c : cs->items()) {
                ++w.claim;
                s.claims.push_back(parse_claim(c, root, w));
            }
            w.claim = 0;
        }
        lesson.steps.push_back(s);
        previous = std::move(s);
    }
    return lesson;
}

std::vector<std::string> lesson_files(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (it->path().extension() == ".json") out.push_back(it->path().string());
    std::sort(out.begin(), out.end());
    return out;
}

frames::TokenInput step_input(const Step& step) {
    switch (step.sequence.kind) {
    case SequenceSpec::Kind::Task: return frames::tokens_from_task(step.model, step.sequence.seed, step.sequence.size);
    case SequenceSpec::Kind::Text: return frames::tokens_from_text(step.sequence.text);
    case SequenceSpec::Kind::Ids: {
        std::string list;
        for (int32_t id : step.sequence.ids) list += std::to_string(id) + " ";
        return frames::tokens_from_ids(list);
    }
    }
    return {};
}

} // namespace statescope::lessons
