// A PyTorch checkpoint (torch.save's ZIP format: .pth, .pt, pytorch_model.bin) read without
// running any code from it: the ZIP container is validated (zip_reader.h), data.pkl goes through
// the restricted unpickler (pickle_reader.h), and each tensor is a view of its archive entry
// data/<key>. Contiguous tensors point into the memory map like safetensors ones; strided views
// (a transposed weight, a slice with a storage offset) are copied out once, into row-major order.
//
// Which tensors a checkpoint holds: its pickle's top-level dict, flattened. When that dict holds
// no tensors itself but has a "state_dict" or "model" dict (what training scripts save beside
// "epoch", "optimizer", ...), that dict is the state dict. Dicts inside the state dict give dotted
// names ({"a": {"b": t}} -> "a.b"); values that are neither tensors nor dicts are ignored.
//
// The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False) is read too: the same
// restricted unpickler over its sequence of pickles, then its storages one after the other (not
// aligned, so float tensors from it are copied when used). The tar format of torch < 0.4 is
// refused with a message saying how to re-save the file.
#pragma once
#include "core/mapped_file.h"
#include "core/pickle_reader.h"
#include "statescope/safetensors.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace statescope {

class PthFile {
public:
    // Maps and reads path; throws Error naming the path and the fault.
    explicit PthFile(const std::string& path);
    // Reads bytes the caller keeps alive (the fuzz target); `name` is used in messages.
    PthFile(const uint8_t* bytes, size_t size, const std::string& name);
    PthFile(const PthFile&) = delete;
    PthFile& operator=(const PthFile&) = delete;

    const std::string& path() const { return path_; }
    const TensorEntry* find(const std::string& name) const;
    // In the order the pickle names them.
    const std::vector<TensorEntry>& tensors() const { return entries_; }

private:
    // A storage's bytes, found by its key; data null when the file has no such storage (a found one
    // is never null: it points into the file).
    struct StorageBytes {
        const uint8_t* data;
        size_t size;
        std::string name; // for messages
    };
    void read(const uint8_t* bytes, size_t size);
    void read_zip(const uint8_t* bytes, size_t size);
    void read_legacy(const uint8_t* bytes, size_t size);
    // The state dict's tensors as views of their storages.
    void add_tensors(const pickle::Unpickled& pickled, const std::string& where,
                     const std::function<StorageBytes(const std::string&)>& storage_bytes);

    std::string path_;
    std::unique_ptr<MappedFile> map_;
    std::vector<TensorEntry> entries_;
    std::map<std::string, size_t> by_name_;
    std::vector<std::unique_ptr<uint8_t[]>> materialised_; // row-major copies of strided views
};

} // namespace statescope
