// A .statescope session file of arbitrary bytes (SQLite or not): it loads or is refused with
// statescope::Error naming the file. A session that loads is one the program could have written:
// saving it to a new file succeeds and loading that gives the same session back.
#include "fuzz_support.h"
#include "statescope/error.h"
#include "statescope/session.h"

#include <cstring>

using namespace statescope;

namespace {
// Everything a session holds, as comparable text (describe() leaves out notes, text and values).
std::string fingerprint(const session::Session& s) {
    std::string out = session::describe(s) + "|" + s.text + "|" + s.layout + "|";
    out.append(reinterpret_cast<const char*>(s.tokens.data()), s.tokens.size() * sizeof(int32_t));
    for (const auto& b : s.bookmarks) out += "|" + b.view + "|" + b.notes;
    for (const auto& a : s.annotations) out += "|" + std::to_string(a.token) + ":" + a.text;
    for (const auto& p : s.parts) out += "|" + p.settings;
    for (const auto& v : s.views) out += "|" + v.view + ":" + v.scale + ":" + std::to_string(v.fixed_limit);
    for (const auto& p : s.pinned) out.append(reinterpret_cast<const char*>(p.values.data()), p.values.size() * sizeof(float));
    return out;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::scratch_dir();
    const std::string path = fuzz::write_scratch("fuzz.statescope", std::string_view(reinterpret_cast<const char*>(data), size));
    session::Session s;
    try {
        s = session::load(path);
    } catch (const Error&) {
        return 0;
    }
    const std::string copy = fuzz::write_scratch("copy.statescope", "");
    try {
        session::save(copy, s);
        const session::Session again = session::load(copy);
        if (fingerprint(again) != fingerprint(s)) fuzz::violated("a loaded session saved and loaded again differs");
    } catch (const Error& e) {
        fuzz::violated(std::string("a session that loads cannot be saved and loaded again: ") + e.what());
    }
    return 0;
}
