#include "core/checkpoint.h"

#include "core/rwkv_lm_names.h"
#include "statescope/error.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace statescope {

Config::Config(Json root, std::string path) : root_(std::move(root)), path_(std::move(path)) {
    if (!root_.is_object()) throw Error(path_ + ": expected a JSON object at top level");
}

const Json* Config::lookup(const std::string& key) const {
    const Json* v = root_.find(key);
    return (v && !v->is_null()) ? v : nullptr;
}

bool Config::has(const std::string& key) const { return lookup(key) != nullptr; }

void Config::fail(const std::string& key, const std::string& message) const {
    throw Error(path_ + ": " + key + ": " + message);
}

int64_t Config::get_int(const std::string& key) const {
    const Json* v = lookup(key);
    if (!v) fail(key, "required but missing");
    if (v->is_integer()) return v->as_int();
    if (v->is_number() && std::isfinite(v->as_number()) && v->as_number() == std::floor(v->as_number()))
        return int64_t(v->as_number());
    fail(key, std::string("expected an integer, found ") + Json::type_name(v->type()));
}

int64_t Config::int_or(const std::string& key, int64_t fallback) const {
    return lookup(key) ? get_int(key) : fallback;
}

double Config::number_or(const std::string& key, double fallback) const {
    const Json* v = lookup(key);
    if (!v) return fallback;
    if (v->is_number()) return v->as_number();
    // transformers serialises non-finite floats as {"__float__": "Infinity"}.
    if (v->is_object()) {
        if (const Json* f = v->find("__float__"); f && f->is_string()) {
            const std::string& s = f->as_string();
            if (s == "Infinity" || s == "inf") return INFINITY;
            if (s == "-Infinity" || s == "-inf") return -INFINITY;
            if (s == "NaN" || s == "nan") return NAN;
        }
    }
    fail(key, std::string("expected a number, found ") + Json::type_name(v->type()));
}

bool Config::bool_or(const std::string& key, bool fallback) const {
    const Json* v = lookup(key);
    if (!v) return fallback;
    if (!v->is_bool()) fail(key, std::string("expected true or false, found ") + Json::type_name(v->type()));
    return v->as_bool();
}

std::string Config::string_or(const std::string& key, const std::string& fallback) const {
    const Json* v = lookup(key);
    if (!v) return fallback;
    if (!v->is_string()) fail(key, std::string("expected a string, found ") + Json::type_name(v->type()));
    return v->as_string();
}

std::string Config::get_string(const std::string& key) const {
    if (!lookup(key)) fail(key, "required but missing");
    return string_or(key, "");
}

int64_t Config::int_in_range(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
    int64_t v = int_or(key, fallback);
    if (v < lo || v > hi)
        fail(key, "value " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& dir_or_file) {
    fs::path p(dir_or_file);
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) p = p.parent_path();
    if (!fs::is_directory(p, ec)) throw Error(dir_or_file + ": no such model folder");
    auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
    ck->dir_ = p.string();
    const std::string cfg_path = (p / "config.json").string();
    // Without config.json only an RWKV-LM release opens (its config is inferred from its shapes).
    const bool has_config = fs::exists(cfg_path, ec);
    auto is_weight_file = [](const fs::path& f) { // what the choice below can pick
        const std::string ext = f.extension().string(), name = f.filename().string();
        return ext == ".pth" || ext == ".pt" || name == "pytorch_model.bin" || name == "pytorch_model.bin.index.json" ||
               name == "model.safetensors" || name == "model.safetensors.index.json";
    };
    if (!has_config) {
        bool any_weights = false;
        for (const auto& de : fs::directory_iterator(p, ec)) any_weights = any_weights || is_weight_file(de.path());
        if (!any_weights) throw Error(ck->dir_ + ": no config.json in this folder");
    } else {
        ck->config_text_ = read_text_file(cfg_path);
        ck->config_ = Config(Json::parse(ck->config_text_, cfg_path), cfg_path);
    }

    // Weights: safetensors first (the format that cannot run code), then PyTorch's files.
    std::vector<std::string> weight_files;
    auto from_index = [&](const std::string& index_path) {
        Json idx = Json::parse(read_text_file(index_path), index_path);
        const Json* wm = idx.find("weight_map");
        if (!wm || !wm->is_object()) throw Error(index_path + ": missing \"weight_map\" object");
        std::set<std::string> seen;
        for (const auto& [tensor, file] : wm->members()) {
            if (!file.is_string()) throw Error(index_path + ": weight_map entry '" + tensor + "' is not a file name");
            const std::string& f = file.as_string();
            if (f.find('/') != std::string::npos || f == ".." || f.empty())
                throw Error(index_path + ": weight_map entry '" + tensor + "' names '" + f + "', which is not a file in this folder");
            if (seen.insert(f).second) weight_files.push_back(f);
        }
        if (weight_files.empty()) throw Error(index_path + ": weight_map is empty");
    };
    auto exists = [&](const char* name) { return fs::exists(p / name, ec); };
    if (exists("model.safetensors")) {
        weight_files.push_back("model.safetensors");
    } else if (exists("model.safetensors.index.json")) {
        from_index((p / "model.safetensors.index.json").string());
    } else if (exists("pytorch_model.bin")) {
        weight_files.push_back("pytorch_model.bin");
    } else if (exists("pytorch_model.bin.index.json")) {
        from_index((p / "pytorch_model.bin.index.json").string());
    } else if (exists("model.pth")) {
        weight_files.push_back("model.pth");
    } else if (exists("model.pt")) {
        weight_files.push_back("model.pt");
    } else {
        // A downloaded release is often one .pth named after the model (BlinkDL's RWKV files).
        std::vector<std::string> found;
        for (const auto& de : fs::directory_iterator(p, ec)) {
            const std::string ext = de.path().extension().string();
            if ((ext == ".pth" || ext == ".pt") && de.is_regular_file(ec)) found.push_back(de.path().filename().string());
        }
        if (found.size() > 1)
            throw Error(ck->dir_ + ": several PyTorch checkpoints (" + found[0] + ", " + found[1] +
                        ", ...) and no model.safetensors; keep one, or name it model.pth");
        if (found.empty())
            throw Error(ck->dir_ + ": no model.safetensors, model.safetensors.index.json, pytorch_model.bin or .pth file in this folder");
        weight_files.push_back(found[0]);
    }
    for (const std::string& f : weight_files) ck->add_weight_file((p / f).string());

    std::map<std::string, const TensorEntry*> tensors;
    for (const auto& [name, where] : ck->index_) tensors[name] = where.second;
    if (is_rwkv_lm_rwkv7(tensors)) {
        const std::string file = ck->file_paths_.front();
        if (!has_config) {
            ck->config_text_ = rwkv_lm_rwkv7_config(tensors, file);
            const std::string what = file + " (config inferred from RWKV-LM tensor shapes; a config.json beside it overrides)";
            ck->config_ = Config(Json::parse(ck->config_text_, what), what);
        }
        std::map<std::string, size_t> file_index;
        for (const auto& [name, where] : ck->index_) file_index[name] = where.first;
        ck->renamed_ = rename_rwkv_lm_rwkv7(tensors, file);
        ck->index_.clear();
        for (const auto& e : ck->renamed_.entries) {
            const TensorEntry* src = ck->renamed_.source_of.at(e->name);
            ck->index_[e->name] = {file_index.at(src->name), e.get()};
        }
    } else if (!has_config) {
        throw Error(ck->dir_ + ": no config.json in this folder (and " + ck->file_paths_.front() +
                    " does not hold RWKV-LM's RWKV-7 tensors, whose config could be inferred)");
    }
    return ck;
}

void Checkpoint::add_weight_file(const std::string& path) {
    const std::vector<TensorEntry>* tensors = nullptr;
    if (path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0) {
        safetensors_files_.push_back(std::make_unique<SafetensorsFile>(path));
        tensors = &safetensors_files_.back()->tensors();
    } else {
        pth_files_.push_back(std::make_unique<PthFile>(path));
        tensors = &pth_files_.back()->tensors();
    }
    file_paths_.push_back(path);
    const size_t fi = file_paths_.size() - 1;
    for (const TensorEntry& e : *tensors) {
        if (index_.count(e.name)) throw Error(path + ": tensor '" + e.name + "' is also stored in " + file_of(e.name));
        index_[e.name] = {fi, &e};
    }
}

std::unique_ptr<Checkpoint> Checkpoint::synthetic(const std::string& config_path, uint32_t seed) {
    auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
    ck->dir_ = "(synthetic from " + config_path + ")";
    ck->config_text_ = read_text_file(config_path);
    ck->config_ = Config(Json::parse(ck->config_text_, config_path), config_path);
    ck->synthetic_ = true;
    ck->seed_ = seed;
    return ck;
}

void Checkpoint::save(const std::string& dir, DType dtype) const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create folder (" + ec.message() + ")");
    std::vector<OutputTensor> out;
    for (const auto& [name, shape] : synthetic_shapes_) out.push_back({name, shape, converted_.at(name), {}, dtype});
    for (const auto& [name, e] : index_) out.push_back({name, e.second->shape, SafetensorsFile::to_f32(*e.second), {}, dtype});
    write_safetensors((fs::path(dir) / "model.safetensors").string(), out, {{"format", "pt"}});
    const std::string& cfg = config_text_;
    FILE* f = std::fopen((fs::path(dir) / "config.json").string().c_str(), "wb");
    if (!f || std::fwrite(cfg.data(), 1, cfg.size(), f) != cfg.size() || std::fclose(f) != 0)
        throw Error(dir + "/config.json: write failed");
}

bool Checkpoint::has(const std::string& name) const {
    if (!synthetic_) return index_.count(name) != 0;
    // Made-up checkpoints have every weight a family may look for, no optional biases, and no
    // lm_head when the embeddings are tied.
    if (synthetic_shapes_.count(name)) return true;
    if (name == "lm_head.weight") return !config_.bool_or("tie_word_embeddings", false);
    return name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
}

std::string Checkpoint::file_of(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? dir_ : file_paths_[it->second.first];
}

const TensorEntry& Checkpoint::entry(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) {
        std::string where = file_paths_.size() == 1 ? file_paths_[0] : dir_;
        throw Error(where + ": tensor '" + name + "' is missing (required by " + config_.string_or("model_type", "?") + ")");
    }
    used_.insert(name);
    return *it->second.second;
}

void Checkpoint::refuse_unused_tensors() const {
    std::vector<std::string> unused;
    for (const auto& [name, where] : index_) {
        const std::string buffer = ".rotary_emb.inv_freq";
        const bool recomputed = name.size() > buffer.size() && name.compare(name.size() - buffer.size(), buffer.size(), buffer) == 0;
        if (!used_.count(name) && !recomputed) unused.push_back(name);
    }
    if (unused.empty()) return;
    throw Error(file_of(unused[0]) + ": tensor '" + unused[0] + "' is not used by " + config_.string_or("model_type", "?") +
                " with the settings of " + config_.path() +
                (unused.size() > 1 ? " (nor are " + std::to_string(unused.size() - 1) + " more)" : std::string()) +
                ": config.json and the weights disagree");
}

const float* Checkpoint::f32(const std::string& name, std::initializer_list<int64_t> shape) {
    return f32(name, std::vector<int64_t>(shape));
}

const float* Checkpoint::f32(const std::string& name, const std::vector<int64_t>& shape) {
    if (synthetic_ && !index_.count(name)) {
        auto it = converted_.find(name);
        if (it == converted_.end()) {
            std::vector<float> v(size_t(Tensor::numel(shape)));
            const bool norm = name.find("norm") != std::string::npos && name.find(".weight") != std::string::npos;
            uint32_t h = seed_ * 2654435761u;
            for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
            std::mt19937 rng(h);
            std::normal_distribution<float> n(0.0f, 0.02f);
            for (float& x : v) x = norm ? 1.0f : n(rng);
            synthetic_shapes_[name] = shape;
            it = converted_.emplace(name, std::move(v)).first;
        } else if (synthetic_shapes_.at(name) != shape) {
            throw Error(dir_ + ": tensor '" + name + "' requested with shapes " + shape_string(synthetic_shapes_.at(name)) +
                        " and " + shape_string(shape));
        }
        return it->second.data();
    }
    const TensorEntry& e = entry(name);
    if (e.shape != shape)
        throw Error(file_of(name) + ": tensor '" + name + "' has shape " + shape_string(e.shape) + ", expected " +
                    shape_string(shape) + " from " + config_.path());
    if (e.dtype != DType::F32 && e.dtype != DType::F16 && e.dtype != DType::BF16 && e.dtype != DType::F64)
        throw Error(file_of(name) + ": tensor '" + name + "' has dtype " + dtype_name(e.dtype) + ", expected a float type");
    if (e.dtype == DType::F32 && reinterpret_cast<uintptr_t>(e.data) % alignof(float) == 0)
        return reinterpret_cast<const float*>(e.data);
    auto it = converted_.find(name);
    if (it == converted_.end()) it = converted_.emplace(name, SafetensorsFile::to_f32(e)).first;
    return it->second.data();
}

std::vector<std::string> Checkpoint::tensor_names() const {
    std::vector<std::string> out;
    for (const auto& [n, _] : index_) out.push_back(n);
    return out;
}

int64_t Checkpoint::parameter_count() const {
    int64_t n = 0;
    for (const auto& [_, shape] : synthetic_shapes_) n += Tensor::numel(shape);
    for (const auto& [_, v] : index_) n += Tensor::numel(v.second->shape);
    return n;
}

std::string Checkpoint::storage_dtype() const {
    std::map<std::string, int64_t> count;
    for (const auto& [_, v] : index_) count[dtype_name(v.second->dtype)] += Tensor::numel(v.second->shape);
    std::string best = "F32";
    int64_t most = -1;
    for (const auto& [d, n] : count)
        if (n > most) { most = n; best = d; }
    return best;
}

} // namespace statescope
