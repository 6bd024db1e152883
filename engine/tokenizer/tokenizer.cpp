#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "tokenizer/hf_tokenizer.h"

#include <filesystem>

namespace statescope {

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path, const std::string& config_path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    if (fs::is_directory(p)) {
        if (fs::exists(p / "tokenizer.json")) return load((p / "tokenizer.json").string(), config_path);
        throw Error("tokenizer folder " + path + " has no tokenizer.json");
    }
    if (!fs::exists(p)) throw Error("tokenizer file " + path + " does not exist");
    if (p.extension() == ".json") return std::make_unique<HfTokenizer>(path, config_path);
    throw Error("tokenizer file " + path + ": not a tokenizer.json (.json)");
}

} // namespace statescope
