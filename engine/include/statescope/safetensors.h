// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors).
// Files are memory-mapped; the header is validated completely before any tensor is touched, so a
// header that lies (offsets past the end, overlaps, wrong byte counts) is refused with a message
// naming the file and tensor instead of reading out of bounds.
#pragma once
#include "statescope/tensor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace statescope {

class MappedFile;

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr; // points into the mapping
    size_t nbytes = 0;
};

class SafetensorsFile {
public:
    // Maps and validates the file; throws Error naming the path and the fault.
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const TensorEntry* find(const std::string& name) const;
    const std::vector<TensorEntry>& tensors() const { return entries_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // The entry as float32 (F32, F16, BF16 and F64 upcast exactly; integer types converted).
    static std::vector<float> to_f32(const TensorEntry& e);
    // Integer tensors (I64, I32, ...) as int64.
    static std::vector<int64_t> to_i64(const TensorEntry& e);

private:
    std::string path_;
    std::unique_ptr<MappedFile> map_;
    std::vector<TensorEntry> entries_;
    std::map<std::string, size_t> by_name_;
    std::map<std::string, std::string> metadata_;
};

// One tensor to write: float data (stored as `dtype`: F32, F16 or BF16, rounded to nearest even),
// or int64 data when i64 is non-empty.
struct OutputTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> f32;
    std::vector<int64_t> i64;
    DType dtype = DType::F32;
};

// Writes tensors in the given order to path (through a temporary file and a rename, so an
// existing file is never left half-written). Throws Error on any I/O failure.
void write_safetensors(const std::string& path, const std::vector<OutputTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Writes tensors as they are stored (their dtype and bytes unchanged), e.g. the tensors of a
// checkpoint in another format; the same temporary-file-and-rename as above.
void write_safetensors(const std::string& path, const std::vector<const TensorEntry*>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

} // namespace statescope
