// A read-only memory map of a whole file, for the container readers (safetensors, the ZIP of PyTorch
// checkpoints).
// The bytes stay valid as long as the MappedFile lives; nothing is read until it is touched.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace statescope {

class MappedFile {
public:
    // Maps path; throws Error naming the path when it cannot be opened, is not a regular file or
    // cannot be mapped. An empty file gives size() == 0 and data() == nullptr.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return path_; }
    const uint8_t* data() const { return static_cast<const uint8_t*>(map_); }
    size_t size() const { return size_; }

private:
    std::string path_;
    void* map_ = nullptr;
    size_t size_ = 0;
};

} // namespace statescope
