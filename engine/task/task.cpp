// Reading task.json, sampling and scoring (statescope/task.h). The distributions are the ones
// tools/train_demos.py draws from (its classes Parity, MQAR, SelectiveCopy, S3Composition).
#include "statescope/task.h"

#include "core/json.h"
#include "statescope/error.h"
#include "statescope/sampling.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

namespace statescope::task {

namespace {

// splitmix64: small, fast and the same on every platform and standard library (the standard's
// distributions are not), so a seed names one sequence everywhere.
class Random {
public:
    explicit Random(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n), without modulo bias (Lemire's multiply-and-reject).
    int64_t below(int64_t n) {
        const uint64_t un = uint64_t(n);
        unsigned __int128 m = (unsigned __int128)next() * un;
        uint64_t low = uint64_t(m);
        if (low < un) {
            const uint64_t threshold = (0 - un) % un;
            while (low < threshold) {
                m = (unsigned __int128)next() * un;
                low = uint64_t(m);
            }
        }
        return int64_t(m >> 64);
    }
    // The first k of a uniformly random permutation of 0..n-1 (partial Fisher-Yates).
    std::vector<int32_t> distinct(int32_t n, int32_t k) {
        std::vector<int32_t> p(static_cast<size_t>(n));
        std::iota(p.begin(), p.end(), 0);
        for (int32_t i = 0; i < k; ++i) std::swap(p[size_t(i)], p[size_t(i + below(n - i))]);
        p.resize(size_t(k));
        return p;
    }

private:
    uint64_t s_;
};

struct Reader {
    const Json& root;
    const std::string& path;

    const Json& member(const Json& obj, const std::string& key, const std::string& where) const {
        const Json* v = obj.find(key);
        require(v != nullptr, path + ": " + where + key + " is missing");
        return *v;
    }
    int32_t id(const Json& v, const std::string& what) const {
        require(v.is_integer() && v.as_int() >= 0 && v.as_int() < (int64_t(1) << 30),
                path + ": " + what + " must be a token id (an integer >= 0)");
        return int32_t(v.as_int());
    }
    int32_t id(const Json& obj, const std::string& key, const std::string& where) const {
        return id(member(obj, key, where), where + key);
    }
    // [first, last] inclusive, as task.json writes id ranges.
    std::pair<int32_t, int32_t> range(const Json& obj, const std::string& key, const std::string& where) const {
        const Json& v = member(obj, key, where);
        require(v.is_array() && v.size() == 2, path + ": " + where + key + " must be [first, last]");
        const int32_t a = id(v.items()[0], where + key + "[0]"), b = id(v.items()[1], where + key + "[1]");
        require(a <= b, path + ": " + where + key + " is [" + std::to_string(a) + ", " + std::to_string(b) +
                            "]; first must not exceed last");
        return {a, b - a + 1};
    }
    int64_t positive(const std::string& key, int64_t lo = 1) const {
        const Json& v = member(root, key, "");
        require(v.is_integer() && v.as_int() >= lo && v.as_int() <= (int64_t(1) << 24),
                path + ": " + key + " must be an integer in [" + std::to_string(lo) + ", 16777216]");
        return v.as_int();
    }
};

void check_size(const Spec& spec, int64_t size) {
    const std::string what = std::string(size_name(spec.kind));
    require(size >= 1 && size <= (int64_t(1) << 20), what + " must be between 1 and 1048576, not " + std::to_string(size));
    if (spec.kind == Kind::Mqar)
        require(size <= spec.keys, "pairs: " + std::to_string(size) + " pairs need as many distinct keys, and " +
                                       spec.path + " has " + std::to_string(spec.keys));
    if (spec.kind == Kind::SelectiveCopy)
        require(size >= spec.n_data, "region: " + std::to_string(size) + " positions cannot hold the " +
                                         std::to_string(spec.n_data) + " data tokens of " + spec.path);
}

} // namespace

const char* size_name(Kind kind) {
    switch (kind) {
    case Kind::Mqar: return "pairs";
    case Kind::SelectiveCopy: return "region";
    case Kind::RunningParity:
    case Kind::S3Composition: return "length";
    }
    return "length";
}

int64_t sequence_length(const Spec& spec, int64_t size) {
    switch (spec.kind) {
    case Kind::Mqar: return 4 * size;
    case Kind::SelectiveCopy: return size + 1 + spec.n_data;
    case Kind::RunningParity:
    case Kind::S3Composition: return size;
    }
    return size;
}

static std::string task_file(const std::string& model_dir_or_task_json) {
    namespace fs = std::filesystem;
    fs::path p(model_dir_or_task_json);
    std::error_code ec;
    if (p.filename() == "task.json") return p.string();
    if (p.filename() == "config.json" || !fs::is_directory(p, ec)) p = p.parent_path();
    return (p / "task.json").string();
}

bool has_task(const std::string& model_dir) {
    std::error_code ec;
    return std::filesystem::is_regular_file(task_file(model_dir), ec);
}

Spec load_task(const std::string& model_dir_or_task_json) {
    const std::string path = task_file(model_dir_or_task_json);
    const Json root = Json::parse(read_text_file(path), path);
    require(root.is_object(), path + ": expected a JSON object describing the task");
    const Reader r{root, path};
    const Json& kind = r.member(root, "kind", "");
    require(kind.is_string(), path + ": kind must be a string");
    Spec s;
    s.name = kind.as_string();
    s.path = path;
    const Json& tokens = r.member(root, "tokens", "");
    require(tokens.is_object(), path + ": tokens must be an object");
    if (s.name == "mqar") {
        s.kind = Kind::Mqar;
        std::tie(s.key_first, s.keys) = r.range(tokens, "keys", "tokens.");
        std::tie(s.value_first, s.values) = r.range(tokens, "values", "tokens.");
        s.default_size = r.positive("default_pairs");
    } else if (s.name == "running_parity") {
        s.kind = Kind::RunningParity;
        s.zero = r.id(tokens, "0", "tokens.");
        s.one = r.id(tokens, "1", "tokens.");
        s.default_size = r.positive("default_length");
    } else if (s.name == "selective_copy") {
        s.kind = Kind::SelectiveCopy;
        std::tie(s.data_first, s.data) = r.range(tokens, "data", "tokens.");
        s.noise = r.id(tokens, "noise", "tokens.");
        s.separator = r.id(tokens, "separator", "tokens.");
        s.n_data = int32_t(r.positive("n_data"));
        s.default_size = r.positive("default_region");
    } else if (s.name == "s3_composition") {
        s.kind = Kind::S3Composition;
        const Json& table = r.member(root, "table", "");
        require(table.is_array() && table.size() > 0, path + ": table must be a non-empty array of rows");
        const size_t n = table.size();
        for (size_t i = 0; i < n; ++i) {
            const Json& row = table.items()[i];
            const std::string where = "table[" + std::to_string(i) + "]";
            require(row.is_array() && row.size() == n, path + ": " + where + " must have " + std::to_string(n) + " entries");
            std::vector<int32_t> ids;
            for (const Json& x : row.items()) {
                const int32_t v = r.id(x, where);
                require(size_t(v) < n, path + ": " + where + " holds " + std::to_string(v) + ", not an element id below " +
                                           std::to_string(n));
                ids.push_back(v);
            }
            s.table.push_back(std::move(ids));
        }
        s.identity = tokens.find("e") ? r.id(tokens, "e", "tokens.") : 0;
        require(size_t(s.identity) < n, path + ": tokens.e must be an element id below " + std::to_string(n));
        s.default_size = r.positive("default_length");
    } else {
        throw Error(path + ": kind '" + s.name + "' is not a task Statescope knows (mqar, running_parity, selective_copy, s3_composition)");
    }
    if (s.kind == Kind::Mqar)
        require(s.default_size <= s.keys, path + ": default_pairs " + std::to_string(s.default_size) + " exceeds the " +
                                              std::to_string(s.keys) + " keys");
    if (s.kind == Kind::SelectiveCopy)
        require(s.default_size >= s.n_data, path + ": default_region must hold the n_data data tokens");
    return s;
}

std::string Sample::settings_json() const {
    return "{\"task\":\"" + task + "\",\"seed\":" + std::to_string(seed) + ",\"" + size_name + "\":" + std::to_string(size) + "}";
}

Sample sample(const Spec& spec, const SampleOptions& options) {
    const int64_t size = options.size > 0 ? options.size : spec.default_size;
    check_size(spec, size);
    Random rng(options.seed);
    Sample out;
    out.seed = options.seed;
    out.size = size;
    out.task = spec.name;
    out.size_name = size_name(spec.kind);
    const int64_t T = sequence_length(spec, size);
    out.tokens.assign(size_t(T), 0);
    out.targets.assign(size_t(T), -1);
    auto& x = out.tokens;
    auto& y = out.targets;
    switch (spec.kind) {
    case Kind::Mqar: {
        const int32_t P = int32_t(size);
        const std::vector<int32_t> keys = rng.distinct(spec.keys, P);
        std::vector<int32_t> vals(static_cast<size_t>(P));
        for (auto& v : vals) v = spec.value_first + int32_t(rng.below(spec.values));
        const std::vector<int32_t> order = rng.distinct(P, P);
        for (int32_t i = 0; i < P; ++i) {
            x[size_t(2 * i)] = spec.key_first + keys[size_t(i)];
            x[size_t(2 * i + 1)] = vals[size_t(i)];
            const size_t q = size_t(2 * P + 2 * i);
            x[q] = spec.key_first + keys[size_t(order[size_t(i)])];
            x[q + 1] = vals[size_t(order[size_t(i)])];
            y[q] = x[q + 1];
        }
        break;
    }
    case Kind::RunningParity: {
        int parity = 0;
        for (int64_t t = 0; t < T; ++t) {
            const int bit = int(rng.below(2));
            parity ^= bit;
            x[size_t(t)] = bit ? spec.one : spec.zero;
            y[size_t(t)] = parity ? spec.one : spec.zero;
        }
        break;
    }
    case Kind::SelectiveCopy: {
        const int64_t R = size;
        std::vector<int32_t> pos = rng.distinct(int32_t(R), spec.n_data);
        std::sort(pos.begin(), pos.end());
        std::fill(x.begin(), x.begin() + R, spec.noise);
        x[size_t(R)] = spec.separator;
        for (int32_t i = 0; i < spec.n_data; ++i) {
            const int32_t d = spec.data_first + int32_t(rng.below(spec.data));
            x[size_t(pos[size_t(i)])] = d;
            x[size_t(R + 1 + i)] = d;
            y[size_t(R + i)] = d;
        }
        break;
    }
    case Kind::S3Composition: {
        const int32_t n = int32_t(spec.table.size());
        int32_t r = spec.identity;
        for (int64_t t = 0; t < T; ++t) {
            const int32_t e = int32_t(rng.below(n));
            r = spec.table[size_t(r)][size_t(e)];
            x[size_t(t)] = e;
            y[size_t(t)] = r;
        }
        break;
    }
    }
    return out;
}

void add_score(const Sample& sample, const Tensor& logits, Score& score) {
    const int64_t T = int64_t(sample.tokens.size());
    require(logits.shape.size() == 2 && logits.shape[0] == T,
            "task scoring: logits have shape " + shape_string(logits.shape) + ", expected [" + std::to_string(T) + ", vocab]");
    const int64_t V = logits.shape[1];
    score.samples += 1;
    for (int64_t t = 0; t < T; ++t) {
        const int32_t target = sample.targets[size_t(t)];
        if (target < 0) continue;
        const bool right = argmax(std::span<const float>(logits.ptr() + t * V, size_t(V))) == target;
        score.scored += 1;
        score.correct += right;
        if (t == T - 1) {
            score.last_scored += 1;
            score.last_correct += right;
        }
    }
}

} // namespace statescope::task
