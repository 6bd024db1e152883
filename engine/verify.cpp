#include "statescope/verify.h"

#include "statescope/error.h"
#include "statescope/safetensors.h"

#include <cmath>
#include <map>
#include <regex>
#include <set>

namespace statescope {

int VerifyReport::passed() const {
    int n = 0;
    for (const auto& l : lines) n += l.ok;
    return n;
}

int VerifyReport::invalid() const {
    int n = 0;
    for (const auto& l : lines) n += l.invalid_reference;
    return n;
}

int VerifyReport::failed() const { return int(lines.size()) - passed() - invalid(); }

VerifyReport verify_against_reference(const Model& model, const std::string& reference_path, double tolerance) {
    SafetensorsFile ref(reference_path);
    const TensorEntry* ids_entry = ref.find("input_ids");
    if (!ids_entry) throw Error(reference_path + ": tensor 'input_ids' is missing");
    std::vector<int64_t> ids64 = SafetensorsFile::to_i64(*ids_entry);
    std::vector<int32_t> ids(ids64.begin(), ids64.end());
    const int T = int(ids.size());

    // Everything we produce, by reference name.
    std::map<std::string, Tensor> produced;
    {
        SequenceState st = model.initial_state();
        ForwardOptions opt;
        opt.hidden_states = true;
        ForwardResult r = model.forward(ids, st, opt);
        produced["logits"] = r.logits;
        for (size_t i = 0; i < r.hidden.size(); ++i) produced["hidden." + std::to_string(i)] = r.hidden[i];
    }
    // Prefix lengths named in the reference; run incrementally through them, which also checks
    // that the state carries everything the next tokens need.
    std::set<int> prefixes;
    static const std::regex prefix_re(R"(^(?:logits|state)\.t(\d+)(?:\..*)?$)");
    for (const auto& e : ref.tensors()) {
        std::smatch m;
        if (std::regex_match(e.name, m, prefix_re)) prefixes.insert(std::stoi(m[1]));
    }
    {
        SequenceState st = model.initial_state();
        int done = 0;
        for (int P : prefixes) {
            if (P < 1 || P > T) continue;
            ForwardOptions opt;
            opt.all_logits = false;
            ForwardResult r = model.forward(std::span<const int32_t>(ids.data() + done, size_t(P - done)), st, opt);
            done = P;
            Tensor last = r.logits;
            last.shape = {last.shape.back()};
            produced["logits.t" + std::to_string(P)] = last;
            for (auto& nt : model.library_state(st)) produced["state.t" + std::to_string(P) + "." + nt.name] = nt.tensor;
        }
    }

    VerifyReport rep;
    for (const auto& e : ref.tensors()) {
        if (e.name == "input_ids") continue;
        VerifyLine line;
        line.name = e.name;
        line.error = INFINITY;
        auto it = produced.find(e.name);
        if (it == produced.end()) {
            line.note = "not produced";
        } else if (it->second.shape != e.shape) {
            line.note = "shape " + shape_string(it->second.shape) + ", reference " + shape_string(e.shape);
        } else {
            std::vector<float> want = SafetensorsFile::to_f32(e);
            line.error = relative_l2(it->second.ptr(), want.data(), want.size());
            line.ok = line.error <= tolerance;
            if (!line.ok) {
                std::string name = e.name;
                if (std::smatch m; std::regex_match(name, m, std::regex(R"(^state\.t\d+\.(.*)$)"))) name = m[1];
                std::string why = model.implausible_reference(name, Tensor(e.shape, want));
                if (!why.empty()) {
                    line.invalid_reference = true;
                    line.note = "reference invalid: " + why;
                }
            }
        }
        rep.lines.push_back(line);
    }
    return rep;
}

} // namespace statescope
