// The ZIP container torch.save writes (PyTorch >= 1.6): every entry STORED (not compressed), a
// central directory, ZIP64 records when the archive needs (or just has) them. The reader works on
// bytes it does not own (a MappedFile, or a buffer for the fuzz target) and validates every
// offset and length against them before anything is read, so a truncated or lying archive is
// refused with a message naming the file and the entry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace statescope {

struct ZipEntry {
    std::string name;
    const uint8_t* data = nullptr; // into the archive's bytes
    size_t size = 0;
    uint32_t crc32 = 0;            // as the central directory records it
};

class ZipArchive {
public:
    // `name` is what messages call the archive (its path). Throws Error on any fault: no
    // end-of-central-directory record, counts or offsets past the end, a compressed or encrypted
    // entry, local and central headers that disagree, entries that overlap, a name twice.
    ZipArchive(const uint8_t* bytes, size_t size, std::string name);

    const std::string& name() const { return name_; }
    const std::vector<ZipEntry>& entries() const { return entries_; }
    const ZipEntry* find(std::string_view entry_name) const;
    // Throws Error naming the archive and the entry when the entry's CRC-32 does not match its
    // bytes (used for data.pkl; tensor records are not summed, which would read the whole file).
    void check_crc(const ZipEntry& e) const;

    // Whether bytes start like a ZIP archive (a local file header).
    static bool looks_like_zip(const uint8_t* bytes, size_t size);

private:
    void read_central_directory(uint64_t cd_offset, uint64_t cd_size, uint64_t count);

    const uint8_t* bytes_;
    size_t size_;
    std::string name_;
    std::vector<ZipEntry> entries_;
    std::map<std::string, size_t, std::less<>> by_name_;
};

uint32_t crc32(const uint8_t* data, size_t size);

} // namespace statescope
