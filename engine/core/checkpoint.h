// A Hugging Face checkpoint folder: config.json plus model.safetensors or a sharded
// model.safetensors.index.json, or else a PyTorch checkpoint (pytorch_model.bin, its sharded
// pytorch_model.bin.index.json, model.pth, model.pt, or the folder's only .pth/.pt file), read
// without running code from it (pth_file.h). BlinkDL RWKV-LM's RWKV-7 tensors are renamed to the
// rwkv7 family's (rwkv_lm_names.h), and such a folder needs no config.json: it is inferred from
// the shapes (a config.json beside the file overrides it). Tensors are read from the memory map; only tensors
// stored in F16/BF16 (or unaligned F32) are converted into owned float32 copies, one tensor at a
// time.
#pragma once
#include "core/json.h"
#include "core/pth_file.h"
#include "core/rwkv_lm_names.h"
#include "statescope/safetensors.h"

#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace statescope {

// Typed access to config.json. Every failure names the file and the key.
class Config {
public:
    Config() = default;
    Config(Json root, std::string path);

    const std::string& path() const { return path_; }
    const Json& root() const { return root_; }
    bool has(const std::string& key) const; // present and not null

    int64_t get_int(const std::string& key) const;                 // required
    int64_t int_or(const std::string& key, int64_t fallback) const; // missing or null -> fallback
    double number_or(const std::string& key, double fallback) const;
    bool bool_or(const std::string& key, bool fallback) const;
    std::string string_or(const std::string& key, const std::string& fallback) const;
    std::string get_string(const std::string& key) const;

    // Throws Error("config.json: key: message").
    [[noreturn]] void fail(const std::string& key, const std::string& message) const;
    // Range check helper: value must lie in [lo, hi].
    int64_t int_in_range(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;

private:
    const Json* lookup(const std::string& key) const;
    Json root_;
    std::string path_;
};

class Checkpoint {
public:
    // dir_or_file: a folder, or the path of its config.json. Throws Error when the folder has no
    // config.json, no weights, or a broken weight file.
    static std::unique_ptr<Checkpoint> open(const std::string& dir_or_file);

    // A checkpoint whose tensors are made up when the family code asks for them: N(0, 0.02)
    // values (1 for norm weights), deterministic in (seed, name), in exactly the shapes the
    // family derives from the config. Builds models of realistic size for benchmarks without
    // downloading weights; save() turns one into a real checkpoint folder.
    static std::unique_ptr<Checkpoint> synthetic(const std::string& config_path, uint32_t seed);
    // Writes config.json and model.safetensors (floats stored as dtype) into dir.
    void save(const std::string& dir, DType dtype) const;
    bool is_synthetic() const { return synthetic_; }

    const std::string& dir() const { return dir_; }
    const Config& config() const { return config_; }
    // The text of config.json (or of the config inferred for an RWKV-LM release).
    const std::string& config_text() const { return config_text_; }

    bool has(const std::string& name) const;
    const TensorEntry& entry(const std::string& name) const; // throws if missing
    // float32 data of a tensor whose shape must equal `shape`; the pointer lives as long as the
    // checkpoint. Throws Error naming the tensor and both shapes on mismatch.
    const float* f32(const std::string& name, std::initializer_list<int64_t> shape);
    const float* f32(const std::string& name, const std::vector<int64_t>& shape);
    std::vector<std::string> tensor_names() const;

    int64_t parameter_count() const;
    // The dtype most parameters are stored in ("BF16", "F32", ...).
    std::string storage_dtype() const;
    // File that holds a tensor (for messages).
    std::string file_of(const std::string& name) const;
    // Throws Error naming a tensor of the files that the model never asked for: weights the
    // config leaves no place for (a bias with "use_bias": false, a second layer's weights with
    // "num_hidden_layers": 1) mean config and weights disagree, and running without them would
    // silently compute something else. load_model calls it once the family has read its weights.
    // Buffers the defining library recomputes (rotary inv_freq) are not weights and pass.
    void refuse_unused_tensors() const;

private:
    std::string dir_;
    Config config_;
    std::string config_text_;
    void add_weight_file(const std::string& path);
    std::vector<std::unique_ptr<SafetensorsFile>> safetensors_files_;
    std::vector<std::unique_ptr<PthFile>> pth_files_;
    std::vector<std::string> file_paths_; // every weight file, in the order read; index_ refers to these
    RenamedTensors renamed_; // RWKV-LM tensors under fla's names (index_ points at these then)
    std::map<std::string, std::pair<size_t, const TensorEntry*>> index_;
    std::map<std::string, std::vector<float>> converted_;
    mutable std::set<std::string> used_; // tensors entry() handed out
    // Synthetic mode: tensors generated so far, with their shapes.
    bool synthetic_ = false;
    uint32_t seed_ = 0;
    std::map<std::string, std::vector<int64_t>> synthetic_shapes_;
};

} // namespace statescope
