#include "statescope/tokenizer.h"

#include "statescope/error.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/rwkv_world.h"

#include <filesystem>

namespace statescope {

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path, const std::string& config_path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    if (fs::is_directory(p)) {
        if (fs::exists(p / "tokenizer.json")) return load((p / "tokenizer.json").string(), config_path);
        for (const auto& e : fs::directory_iterator(p)) {
            const std::string name = e.path().filename().string();
            if (name.rfind("rwkv_vocab", 0) == 0 && e.path().extension() == ".txt") return load(e.path().string(), config_path);
        }
        throw Error("tokenizer folder " + path + " has no tokenizer.json and no rwkv_vocab*.txt");
    }
    if (!fs::exists(p)) throw Error("tokenizer file " + path + " does not exist");
    if (p.extension() == ".json") return std::make_unique<HfTokenizer>(path, config_path);
    if (p.extension() == ".txt") return std::make_unique<RwkvWorldTokenizer>(path);
    throw Error("tokenizer file " + path + ": neither a tokenizer.json (.json) nor an RWKV world vocabulary (.txt)");
}

} // namespace statescope
