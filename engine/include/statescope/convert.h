// Converting a checkpoint folder into a safetensors folder (statescope-cli convert), e.g. a
// PyTorch .pth folder into one that any tool opens without unpickling.
#pragma once
#include <cstdint>
#include <string>

namespace statescope {

struct ConversionSummary {
    std::string weights_in;  // the weight file(s) read ("dir/model.pth")
    std::string weights_out; // OUT_DIR/model.safetensors
    size_t tensors = 0;
    uint64_t bytes = 0; // tensor bytes written
};

// Reads the folder as load_model does (config.json and its weights in any supported format) and
// writes OUT_DIR/config.json (copied, or the one inferred for an RWKV-LM release), the folder's other .json/.txt files (tokenizer, generation
// config), and OUT_DIR/model.safetensors holding every tensor with its dtype and bytes unchanged.
// Refuses to overwrite an existing OUT_DIR/model.safetensors. Throws Error naming the file.
ConversionSummary convert_to_safetensors(const std::string& model_dir, const std::string& out_dir);

} // namespace statescope
