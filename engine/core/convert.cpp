#include "statescope/convert.h"

#include "core/checkpoint.h"
#include "statescope/error.h"
#include "statescope/safetensors.h"

#include <cstdio>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace statescope {

ConversionSummary convert_to_safetensors(const std::string& model_dir, const std::string& out_dir) {
    const std::unique_ptr<Checkpoint> ck = Checkpoint::open(model_dir);
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) throw Error(out_dir + ": cannot create folder (" + ec.message() + ")");
    ConversionSummary sum;
    sum.weights_out = (fs::path(out_dir) / "model.safetensors").string();
    if (fs::exists(sum.weights_out, ec)) throw Error(sum.weights_out + ": already exists; not overwritten");
    if (fs::equivalent(fs::path(ck->dir()), fs::path(out_dir), ec))
        throw Error(out_dir + ": is the folder being converted; give another OUT_DIR");

    std::vector<const TensorEntry*> tensors;
    std::set<std::string> files;
    for (const std::string& name : ck->tensor_names()) {
        tensors.push_back(&ck->entry(name));
        files.insert(ck->file_of(name));
        sum.bytes += tensors.back()->nbytes;
    }
    for (const std::string& f : files) sum.weights_in += (sum.weights_in.empty() ? "" : ", ") + f;
    sum.tensors = tensors.size();
    write_safetensors(sum.weights_out, tensors, {{"format", "pt"}});

    {
        const std::string cfg = (fs::path(out_dir) / "config.json").string();
        FILE* f = std::fopen(cfg.c_str(), "wb");
        const std::string& text = ck->config_text();
        if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
            throw Error(cfg + ": write failed");
    }
    // The small files beside config.json (tokenizer, generation config); not the weights,
    // nor their index files, which would name the old weight files.
    for (const auto& de : fs::directory_iterator(ck->dir(), ec)) {
        const std::string name = de.path().filename().string();
        const std::string ext = de.path().extension().string();
        const bool is_index = name.size() > 11 && name.compare(name.size() - 11, 11, ".index.json") == 0;
        if (!de.is_regular_file(ec) || (ext != ".json" && ext != ".txt") || is_index || name == "config.json") continue;
        fs::copy_file(de.path(), fs::path(out_dir) / name, fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error((fs::path(out_dir) / name).string() + ": cannot copy from " + de.path().string() + " (" + ec.message() + ")");
    }
    return sum;
}

} // namespace statescope
