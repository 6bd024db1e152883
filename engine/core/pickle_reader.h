// A restricted unpickler for the data.pkl of a PyTorch checkpoint. It implements the pickle
// opcodes a state dict is written with (protocol 2, plus the protocol 4 ones newer writers use)
// and builds plain values; it never imports or calls anything. The only globals it accepts are
// the handful a state dict names (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, the torch.*Storage types, torch dtype objects), and "calling" them only
// records what torch would build. Any other global (os.system, builtins.eval, builtins.getattr,
// ...) is refused by name: that is how a malicious pickle runs code, and the reason safetensors
// exists.
#pragma once
#include "statescope/tensor.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace statescope::pickle {

enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

struct Value;

// A persistent id ('storage', torch.FloatStorage, key, location, numel): the tensor bytes are the
// archive entry data/<key>, numel elements of dtype. (The legacy format adds a sixth field, a
// view of another storage, which must be None.)
struct StorageRef {
    DType dtype = DType::F32;
    std::string key;
    int64_t numel = 0;
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a strided view of a storage,
// offset and strides counted in elements.
struct TensorRef {
    const Value* storage = nullptr; // a Kind::Storage value
    int64_t offset = 0;
    std::vector<int64_t> size, stride;
};

struct Value {
    Kind kind = Kind::None;
    bool boolean = false;
    int64_t integer = 0;
    double number = 0;
    std::string text;                             // String and Bytes; Global: "module.name"
    std::vector<const Value*> items;              // Tuple, List
    std::vector<std::pair<const Value*, const Value*>> dict; // Dict, in insertion order
    StorageRef storage;
    TensorRef tensor;
};

// Every value the pickle built; root is what STOP returned. Values point at each other (a tensor
// named twice is one value), so they live and die together.
struct Unpickled {
    std::vector<std::unique_ptr<Value>> values;
    const Value* root = nullptr;
};

// Runs the restricted unpickler over bytes. `where` starts every message ("model.pth: data.pkl").
// Throws Error naming the refused global, the unknown opcode, the malformed argument or the limit
// (statescope/limits.h) and the byte offset; never reads outside bytes. With `consumed`, bytes may
// hold more after the pickle's STOP (the legacy format's pickles follow each other); *consumed
// receives the pickle's length.
Unpickled unpickle(const uint8_t* bytes, size_t size, const std::string& where, size_t* consumed = nullptr);

const char* kind_name(Kind k);

} // namespace statescope::pickle
