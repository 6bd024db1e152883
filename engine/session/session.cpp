#include "statescope/session.h"

#include "statescope/error.h"
#include "core/checkpoint.h"
#include "core/json.h"
#include "session/sqlite_db.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace statescope::session {
namespace {

// PRAGMA application_id of a Statescope session ("SScp"), so another program's SQLite file is
// recognised and never overwritten.
constexpr int64_t kApplicationId = 0x53536370;

// migrations[v - 1] takes a file from schema v - 1 to v. Only ever append: a released step never
// changes, and steps only add tables or columns.
const std::vector<std::string>& migrations() {
    static const std::vector<std::string> steps = {
        // 1: the first schema.
        "CREATE TABLE session (id INTEGER PRIMARY KEY CHECK (id = 1), model_path TEXT NOT NULL,"
        " model_identity TEXT NOT NULL, tokens BLOB NOT NULL, text TEXT NOT NULL, token INTEGER NOT NULL,"
        " layer INTEGER NOT NULL, head INTEGER NOT NULL, window INTEGER NOT NULL, layout TEXT NOT NULL,"
        " lesson TEXT NOT NULL, lesson_step INTEGER NOT NULL);"
        "CREATE TABLE sequence_parts (ord INTEGER PRIMARY KEY, first INTEGER NOT NULL, count INTEGER NOT NULL,"
        " source TEXT NOT NULL, settings TEXT NOT NULL);"
        "CREATE TABLE view_settings (view TEXT PRIMARY KEY, scale TEXT NOT NULL, fixed_limit REAL NOT NULL);"
        "CREATE TABLE bookmarks (ord INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token INTEGER NOT NULL,"
        " layer INTEGER NOT NULL, head INTEGER NOT NULL, view TEXT NOT NULL, notes TEXT NOT NULL);"
        "CREATE TABLE annotations (ord INTEGER PRIMARY KEY, token INTEGER NOT NULL, text TEXT NOT NULL);"
        "CREATE TABLE pinned_states (ord INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, layer INTEGER NOT NULL,"
        " token INTEGER NOT NULL, shape TEXT NOT NULL, dtype TEXT NOT NULL, data BLOB NOT NULL, data_hash TEXT NOT NULL);",
    };
    return steps;
}

void check_version(Database& db, int64_t version) {
    if (version > kSchemaVersion)
        throw Error(db.path() + ": written by a newer Statescope (session schema version " + std::to_string(version) +
                    "; this build reads versions up to " + std::to_string(kSchemaVersion) + ")");
}

// Whether the file is a session, an empty database (a new or zero-byte file), or neither.
enum class Kind { Session, Empty };
Kind classify(Database& db) {
    const int64_t app = db.pragma_int("application_id");
    if (app == kApplicationId) return Kind::Session;
    if (app == 0 && db.count_schema_objects() == 0) return Kind::Empty;
    if (app != 0) {
        std::ostringstream id;
        id << "0x" << std::hex << app;
        throw Error(db.path() + ": an SQLite database of another program, not a Statescope session (application_id " +
                    id.str() + ")");
    }
    throw Error(db.path() + ": an SQLite database that is not a Statescope session (no Statescope application_id)");
}

std::string join_shape(const std::vector<int64_t>& shape) {
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s;
}

std::vector<int64_t> split_shape(const std::string& file, const std::string& name, const std::string& s) {
    std::vector<int64_t> shape;
    std::stringstream in(s);
    std::string part;
    while (std::getline(in, part, ',')) {
        char* end = nullptr;
        const long long v = std::strtoll(part.c_str(), &end, 10);
        if (part.empty() || *end || v < 0 || v > (int64_t(1) << 40))
            throw Error(file + ": pinned state '" + name + "': bad shape '" + s + "'");
        shape.push_back(v);
    }
    return shape;
}

std::string values_hash(const std::vector<float>& values);

void write_rows(Database& db, const Session& s) {
    db.exec("DELETE FROM session; DELETE FROM sequence_parts; DELETE FROM view_settings;"
            " DELETE FROM bookmarks; DELETE FROM annotations;");
    Statement head(db, "INSERT INTO session VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    head.bind(1, s.model.path).bind(2, s.model.identity);
    head.bind_blob(3, s.tokens.data(), s.tokens.size() * sizeof(int32_t));
    head.bind(4, s.text).bind(5, s.token).bind(6, int64_t(s.layer)).bind(7, int64_t(s.head));
    head.bind(8, int64_t(s.window)).bind(9, s.layout).bind(10, s.lesson).bind(11, int64_t(s.lesson_step));
    head.run();

    Statement part(db, "INSERT INTO sequence_parts (first, count, source, settings) VALUES (?, ?, ?, ?)");
    for (const SequencePart& p : s.parts) part.bind(1, p.first).bind(2, p.count).bind(3, p.source).bind(4, p.settings).run();
    Statement view(db, "INSERT INTO view_settings VALUES (?, ?, ?)");
    for (const ViewSettings& v : s.views) view.bind(1, v.view).bind(2, v.scale).bind(3, v.fixed_limit).run();
    Statement mark(db, "INSERT INTO bookmarks (name, token, layer, head, view, notes) VALUES (?, ?, ?, ?, ?, ?)");
    for (const Bookmark& b : s.bookmarks)
        mark.bind(1, b.name).bind(2, b.token).bind(3, int64_t(b.layer)).bind(4, int64_t(b.head)).bind(5, b.view)
            .bind(6, b.notes).run();
    Statement note(db, "INSERT INTO annotations (token, text) VALUES (?, ?)");
    for (const Annotation& a : s.annotations) note.bind(1, a.token).bind(2, a.text).run();

    // Rows whose pin is unchanged (same layer, token, shape and data hash) stay as they are, so an
    // autosave does not rewrite every state's blob.
    std::map<std::string, std::tuple<int64_t, int64_t, std::string, std::string>> stored;
    {
        Statement q(db, "SELECT name, layer, token, shape, data_hash FROM pinned_states");
        while (q.step()) stored[q.text(0)] = {q.integer(1), q.integer(2), q.text(3), q.text(4)};
    }
    std::set<std::string> wanted;
    Statement drop(db, "DELETE FROM pinned_states WHERE name = ?");
    Statement pin(db, "INSERT INTO pinned_states (name, layer, token, shape, dtype, data, data_hash)"
                      " VALUES (?, ?, ?, ?, 'F32', ?, ?)");
    for (const PinnedState& p : s.pinned) {
        wanted.insert(p.name);
        const std::string hash = values_hash(p.values);
        const auto key = std::make_tuple(int64_t(p.layer), p.token, join_shape(p.shape), hash);
        auto it = stored.find(p.name);
        if (it != stored.end() && it->second == key) continue;
        if (it != stored.end()) drop.bind(1, p.name).run();
        pin.bind(1, p.name).bind(2, int64_t(p.layer)).bind(3, p.token).bind(4, join_shape(p.shape));
        pin.bind_blob(5, p.values.data(), p.values.size() * sizeof(float)).bind(6, hash).run();
    }
    for (const auto& [name, row] : stored)
        if (!wanted.count(name)) drop.bind(1, name).run();
}

void validate(const std::string& file, const Session& s) {
    auto bad = [&](const std::string& what) { throw Error(file + ": " + what); };
    const int64_t n = int64_t(s.tokens.size());
    auto check_token = [&](const std::string& what, int64_t t) {
        if (t < 0 || (n > 0 && t >= n))
            bad(what + " token " + std::to_string(t) + " is outside the sequence of " + std::to_string(n) + " tokens");
    };
    if (s.layer < 0 || s.head < 0) bad("negative layer or head");
    if (s.window < 1) bad("attention window " + std::to_string(s.window) + " is not positive");
    if (n > 0) check_token("the position's", s.token);
    for (const SequencePart& p : s.parts)
        if (p.first < 0 || p.count < 0 || p.first > n || p.count > n - p.first)
            bad("sequence part '" + p.source + "' (tokens " + std::to_string(p.first) + " + " + std::to_string(p.count) +
                ") runs past the sequence of " + std::to_string(n) + " tokens");
    // Names and views are keys: the schema makes them unique, but a file can carry another schema,
    // and a session loaded with a repeated one could never be saved again.
    auto check_unique = [&](std::set<std::string>& seen, const std::string& what, const std::string& name) {
        if (!seen.insert(name).second) bad(what + " '" + name + "' appears twice");
    };
    std::set<std::string> bookmarks, pins, views;
    for (const ViewSettings& v : s.views) check_unique(views, "the settings of view", v.view);
    for (const PinnedState& p : s.pinned) check_unique(pins, "pinned state", p.name);
    for (const Bookmark& b : s.bookmarks) {
        check_unique(bookmarks, "bookmark", b.name);
        check_token("bookmark '" + b.name + "':", b.token);
        if (b.layer < 0 || b.head < 0) bad("bookmark '" + b.name + "': negative layer or head");
    }
    for (const Annotation& a : s.annotations) check_token("an annotation's", a.token);
}

std::string hex64(uint64_t h) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[size_t(i)] = digits[h & 15];
    return s;
}

// FNV-1a over a sequence of byte strings (each followed by its length, so boundaries count).
struct Hasher {
    uint64_t h = 0xcbf29ce484222325ull;
    void add(const std::string& bytes) {
        for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
        const uint64_t n = bytes.size();
        for (int i = 0; i < 8; ++i) h = (h ^ ((n >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    }
};

std::string values_hash(const std::vector<float>& values) {
    Hasher h;
    h.add(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
    return hex64(h.h);
}

// The JSON header of a safetensors file, without reading its tensors.
std::string safetensors_header(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open");
    unsigned char len[8];
    if (!f.read(reinterpret_cast<char*>(len), 8)) throw Error(path + ": truncated (no safetensors header)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
    if (n > (uint64_t(100) << 20)) throw Error(path + ": safetensors header of " + std::to_string(n) + " bytes is too large");
    std::string header(size_t(n), '\0');
    if (!f.read(header.data(), std::streamsize(n))) throw Error(path + ": truncated safetensors header");
    return header;
}

} // namespace

void save(const std::string& path, const Session& session) {
    validate(path, session);
    Database db(path, /*create=*/true);
    // Every save is one transaction, taken with the write lock at once so that two processes
    // saving the same file are serialised instead of failing half way.
    db.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;");
    db.exec("BEGIN IMMEDIATE");
    try {
        const Kind kind = classify(db);
        int64_t version = kind == Kind::Empty ? 0 : db.pragma_int("user_version");
        check_version(db, version);
        if (kind == Kind::Empty) db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
        for (; version < kSchemaVersion; ++version) db.exec(migrations()[size_t(version)]);
        db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
        write_rows(db, session);
        db.exec("COMMIT");
    } catch (...) {
        try { db.exec("ROLLBACK"); } catch (const Error&) {}
        throw;
    }
}

Session load(const std::string& path) {
    if (!std::filesystem::is_regular_file(path)) throw Error(path + ": no such session file");
    Database db(path, /*create=*/false);
    db.exec("BEGIN"); // one consistent snapshot, even while another process saves
    if (classify(db) == Kind::Empty) throw Error(path + ": an empty file, not a Statescope session");
    check_version(db, db.pragma_int("user_version"));
    for (const char* table : {"session", "sequence_parts", "view_settings", "bookmarks", "annotations", "pinned_states"})
        if (!db.has_table(table)) throw Error(path + ": damaged session: the table '" + std::string(table) + "' is missing");

    Session s;
    {
        Statement q(db, "SELECT model_path, model_identity, tokens, text, token, layer, head, window, layout, lesson,"
                        " lesson_step FROM session");
        if (!q.step()) throw Error(path + ": damaged session: it holds no session row");
        s.model.path = q.text(0);
        s.model.identity = q.text(1);
        const std::vector<uint8_t> tokens = q.blob(2);
        if (tokens.size() % sizeof(int32_t))
            throw Error(path + ": damaged session: the token blob has " + std::to_string(tokens.size()) +
                        " bytes, not a multiple of 4");
        s.tokens.resize(tokens.size() / sizeof(int32_t));
        if (!tokens.empty()) std::memcpy(s.tokens.data(), tokens.data(), tokens.size());
        s.text = q.text(3);
        s.token = q.integer(4);
        s.layer = int(q.integer(5));
        s.head = int(q.integer(6));
        s.window = int(q.integer(7));
        s.layout = q.text(8);
        s.lesson = q.text(9);
        s.lesson_step = int(q.integer(10));
    }
    for (Statement q(db, "SELECT first, count, source, settings FROM sequence_parts ORDER BY ord"); q.step();)
        s.parts.push_back({q.integer(0), q.integer(1), q.text(2), q.text(3)});
    for (Statement q(db, "SELECT view, scale, fixed_limit FROM view_settings ORDER BY view"); q.step();)
        s.views.push_back({q.text(0), q.text(1), q.real(2)});
    for (Statement q(db, "SELECT name, token, layer, head, view, notes FROM bookmarks ORDER BY ord"); q.step();)
        s.bookmarks.push_back({q.text(0), q.integer(1), int(q.integer(2)), int(q.integer(3)), q.text(4), q.text(5)});
    for (Statement q(db, "SELECT token, text FROM annotations ORDER BY ord"); q.step();)
        s.annotations.push_back({q.integer(0), q.text(1)});
    for (Statement q(db, "SELECT name, layer, token, shape, dtype, data FROM pinned_states ORDER BY ord"); q.step();) {
        PinnedState p;
        p.name = q.text(0);
        p.layer = int(q.integer(1));
        p.token = q.integer(2);
        p.shape = split_shape(path, p.name, q.text(3));
        if (q.text(4) != "F32") throw Error(path + ": pinned state '" + p.name + "': unknown dtype '" + q.text(4) + "'");
        const std::vector<uint8_t> data = q.blob(5);
        // A lying shape must not overflow the count: checked multiplication.
        int64_t count = 1;
        bool overflow = false;
        for (int64_t d : p.shape) overflow = overflow || __builtin_mul_overflow(count, d, &count);
        int64_t bytes = 0;
        overflow = overflow || __builtin_mul_overflow(count, int64_t(sizeof(float)), &bytes);
        if (overflow || int64_t(data.size()) != bytes)
            throw Error(path + ": pinned state '" + p.name + "': " + std::to_string(data.size()) +
                        " bytes of data for shape [" + join_shape(p.shape) + "] (" +
                        (overflow ? std::string("over 2^63 bytes") : std::to_string(bytes)) + " expected)");
        p.values.resize(size_t(count));
        if (count) std::memcpy(p.values.data(), data.data(), data.size());
        s.pinned.push_back(std::move(p));
    }
    db.exec("COMMIT");
    validate(path, s);
    return s;
}

std::string model_identity(const std::string& dir_or_config) {
    namespace fs = std::filesystem;
    fs::path dir = dir_or_config;
    if (fs::is_regular_file(dir)) dir = dir.parent_path();
    Hasher h;
    const fs::path index = dir / "model.safetensors.index.json";
    if (!fs::exists(dir / "model.safetensors") && !fs::exists(index)) {
        // Other weight formats (PyTorch checkpoints, RWKV-LM releases without config.json): the
        // config the checkpoint uses and every tensor's name, dtype and shape, what a safetensors
        // header says.
        const auto ck = Checkpoint::open(dir.string());
        h.add(ck->config_text());
        for (const std::string& name : ck->tensor_names()) {
            const TensorEntry& e = ck->entry(name);
            h.add(name + ":" + dtype_name(e.dtype) + ":" + shape_string(e.shape));
        }
        return hex64(h.h);
    }
    h.add(read_text_file((dir / "config.json").string()));
    if (fs::exists(index)) {
        const std::string text = read_text_file(index.string());
        h.add(text);
        const Json j = Json::parse(text, index.string());
        const Json* map = j.find("weight_map");
        if (!map || !map->is_object()) throw Error(index.string() + ": no weight_map object");
        std::set<std::string> shards;
        for (const auto& [name, file] : map->members())
            if (file.is_string()) shards.insert(file.as_string());
        for (const std::string& shard : shards) h.add(safetensors_header((dir / shard).string()));
    } else {
        h.add(safetensors_header((dir / "model.safetensors").string()));
    }
    return hex64(h.h);
}

std::string describe(const Session& s) {
    std::ostringstream out;
    out << "model: " << s.model.path << " (identity " << s.model.identity << ")\n";
    out << "tokens: " << s.tokens.size();
    if (!s.text.empty()) out << " (text of " << s.text.size() << " bytes)";
    out << "\n";
    for (const SequencePart& p : s.parts)
        out << "  tokens " << p.first << ".." << p.first + p.count - 1 << ": " << p.source
            << (p.settings.empty() ? "" : " " + p.settings) << "\n";
    out << "position: token " << s.token << ", layer " << s.layer << ", head " << s.head << ", window " << s.window << "\n";
    for (const ViewSettings& v : s.views)
        out << "view " << v.view << ": " << v.scale << (v.scale == "fixed" ? " " + std::to_string(v.fixed_limit) : "") << "\n";
    out << "bookmarks: " << s.bookmarks.size() << "\n";
    for (const Bookmark& b : s.bookmarks)
        out << "  " << b.name << ": token " << b.token << ", layer " << b.layer << ", head " << b.head
            << (b.view.empty() ? "" : ", " + b.view) << (b.notes.empty() ? "" : " (notes)") << "\n";
    out << "annotations: " << s.annotations.size() << "\n";
    out << "pinned states: " << s.pinned.size() << "\n";
    for (const PinnedState& p : s.pinned)
        out << "  " << p.name << ": layer " << p.layer << ", token " << p.token << ", [" << join_shape(p.shape) << "]\n";
    if (!s.lesson.empty()) out << "lesson: " << s.lesson << ", step " << s.lesson_step << "\n";
    return out.str();
}

} // namespace statescope::session
