#include "core/zip_reader.h"

#include "statescope/error.h"
#include "statescope/limits.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace statescope {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22, kZip64EndSize = 56, kZip64LocatorSize = 20;
constexpr size_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;

uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24); }
uint64_t u64(const uint8_t* p) { return uint64_t(u32(p)) | (uint64_t(u32(p + 4)) << 32); }

// Whether [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
bool in_bounds(uint64_t offset, uint64_t length, size_t size) {
    return offset <= size && length <= size - offset;
}

} // namespace

uint32_t crc32(const uint8_t* data, size_t size) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

bool ZipArchive::looks_like_zip(const uint8_t* bytes, size_t size) {
    return size >= 4 && u32(bytes) == kLocalHeaderSig;
}

ZipArchive::ZipArchive(const uint8_t* bytes, size_t size, std::string name)
    : bytes_(bytes), size_(size), name_(std::move(name)) {
    // The end-of-central-directory record is the last thing in the file, followed only by a
    // comment of at most 65535 bytes: search backwards for its signature in that window.
    if (size_ < kEndSize) throw Error(name_ + ": truncated: " + std::to_string(size_) + " bytes is too short for a ZIP archive");
    size_t end_at = size_;
    const size_t lowest = size_ - kEndSize > 0xFFFF ? size_ - kEndSize - 0xFFFF : 0;
    for (size_t p = size_ - kEndSize + 1; p-- > lowest;)
        if (u32(bytes_ + p) == kEndSig && p + kEndSize + u16(bytes_ + p + 20) == size_) { end_at = p; break; }
    if (end_at == size_)
        throw Error(name_ + ": no ZIP end-of-central-directory record (the file is truncated or not a zip archive)");
    const uint8_t* end = bytes_ + end_at;
    if (u16(end + 4) != 0 || u16(end + 6) != 0 || u16(end + 8) != u16(end + 10))
        throw Error(name_ + ": a multi-disk ZIP archive, which torch.save never writes");
    uint64_t count = u16(end + 10);
    uint64_t cd_size = u32(end + 12);
    uint64_t cd_offset = u32(end + 16);
    uint64_t cd_limit = end_at; // the central directory ends where the end records begin

    // ZIP64: a locator just before the end record points at the ZIP64 end record, whose 64-bit
    // counts replace the 16/32-bit ones (torch.save writes both, even for small archives).
    if (end_at >= kZip64LocatorSize && u32(end - kZip64LocatorSize) == kZip64LocatorSig) {
        const uint8_t* loc = end - kZip64LocatorSize;
        uint64_t z64_at = u64(loc + 8);
        if (!in_bounds(z64_at, kZip64EndSize, end_at - kZip64LocatorSize) || u32(bytes_ + z64_at) != kZip64EndSig)
            throw Error(name_ + ": the ZIP64 locator points at offset " + std::to_string(z64_at) +
                        ", where there is no ZIP64 end-of-central-directory record");
        const uint8_t* z = bytes_ + z64_at;
        if (u32(z + 16) != 0 || u32(z + 20) != 0 || u64(z + 24) != u64(z + 32))
            throw Error(name_ + ": a multi-disk ZIP64 archive, which torch.save never writes");
        count = u64(z + 32);
        cd_size = u64(z + 40);
        cd_offset = u64(z + 48);
        cd_limit = z64_at;
    } else if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
        throw Error(name_ + ": the end record says ZIP64 but there is no ZIP64 locator (truncated?)");
    }
    if (!in_bounds(cd_offset, cd_size, cd_limit))
        throw Error(name_ + ": the central directory (offset " + std::to_string(cd_offset) + ", " + std::to_string(cd_size) +
                    " bytes) runs past the end of the archive (" + std::to_string(cd_limit) + " bytes before the end records)");
    limits::check(name_ + ": the number of ZIP entries", size_t(std::min<uint64_t>(count, SIZE_MAX)), limits::kMaxZipEntries,
                  "ZIP entries");
    if (count * kCentralHeaderSize > cd_size)
        throw Error(name_ + ": the central directory claims " + std::to_string(count) + " entries but has only " +
                    std::to_string(cd_size) + " bytes");
    read_central_directory(cd_offset, cd_size, count);
}

void ZipArchive::read_central_directory(uint64_t cd_offset, uint64_t cd_size, uint64_t count) {
    struct Span { uint64_t begin, end; size_t entry; };
    std::vector<Span> spans;
    uint64_t at = cd_offset;
    const uint64_t cd_end = cd_offset + cd_size;
    for (uint64_t i = 0; i < count; ++i) {
        const std::string which = name_ + ": ZIP central directory entry " + std::to_string(i);
        if (!in_bounds(at, kCentralHeaderSize, cd_end) || u32(bytes_ + at) != kCentralHeaderSig)
            throw Error(which + ": no central header at offset " + std::to_string(at) + " (corrupt directory)");
        const uint8_t* h = bytes_ + at;
        const uint16_t flags = u16(h + 8), method = u16(h + 10);
        const uint32_t crc = u32(h + 16);
        uint64_t compressed = u32(h + 20), size = u32(h + 24);
        const uint16_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
        uint64_t local_at = u32(h + 42);
        if (!in_bounds(at + kCentralHeaderSize, uint64_t(name_len) + extra_len + comment_len, cd_end))
            throw Error(which + ": its name, extra field and comment run past the central directory");
        std::string entry_name(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
        const std::string where = name_ + ": ZIP entry '" + entry_name + "'";
        // ZIP64 extra field: 64-bit values for exactly the fields that hold 0xFFFFFFFF, in order.
        const uint8_t* extra = h + kCentralHeaderSize + name_len;
        for (size_t e = 0; e + 4 <= extra_len;) {
            const uint16_t id = u16(extra + e), len = u16(extra + e + 2);
            if (e + 4 + len > extra_len) throw Error(where + ": an extra field runs past its header");
            if (id == 0x0001) {
                const uint8_t* f = extra + e + 4;
                size_t used = 0;
                for (uint64_t* field : {&size, &compressed, &local_at}) {
                    if (*field != 0xFFFFFFFFu) continue;
                    if (used + 8 > len) throw Error(where + ": its ZIP64 extra field is too short");
                    *field = u64(f + used);
                    used += 8;
                }
            }
            e += 4 + len;
        }
        if (flags & 0x1) throw Error(where + ": is encrypted, which torch.save never does");
        if (method != 0)
            throw Error(where + ": is compressed (method " + std::to_string(method) +
                        "); torch.save stores entries uncompressed, and compressed records cannot be memory-mapped");
        if (compressed != size)
            throw Error(where + ": stored entry with compressed size " + std::to_string(compressed) + " != size " + std::to_string(size));
        if (!in_bounds(local_at, kLocalHeaderSize, size_) || u32(bytes_ + local_at) != kLocalHeaderSig)
            throw Error(where + ": no local header at offset " + std::to_string(local_at) + " (corrupt or truncated archive)");
        const uint8_t* local = bytes_ + local_at;
        const uint16_t local_name_len = u16(local + 26), local_extra_len = u16(local + 28);
        if (!in_bounds(local_at + kLocalHeaderSize, uint64_t(local_name_len) + local_extra_len, size_) ||
            std::string_view(reinterpret_cast<const char*>(local + kLocalHeaderSize), local_name_len) != entry_name)
            throw Error(where + ": its local header names a different entry (corrupt archive)");
        if (u16(local + 8) != 0) throw Error(where + ": its local header says compressed, the central directory says stored");
        const uint64_t data_at = local_at + kLocalHeaderSize + local_name_len + local_extra_len;
        if (!in_bounds(data_at, size, cd_offset))
            throw Error(where + ": its " + std::to_string(size) + " bytes at offset " + std::to_string(data_at) +
                        " run past the entries' area (" + std::to_string(cd_offset) + " bytes; truncated archive?)");
        if (by_name_.count(entry_name)) throw Error(where + ": appears twice in the central directory");
        by_name_.emplace(entry_name, entries_.size());
        spans.push_back({local_at, data_at + size, entries_.size()});
        entries_.push_back({std::move(entry_name), bytes_ + data_at, size_t(size), crc});
        at += kCentralHeaderSize + name_len + extra_len + comment_len;
    }
    // Two entries sharing bytes mean a corrupt or malicious archive (a "zip bomb" of overlaps).
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < spans.size(); ++i)
        if (spans[i - 1].end > spans[i].begin)
            throw Error(name_ + ": ZIP entries '" + entries_[spans[i - 1].entry].name + "' and '" + entries_[spans[i].entry].name +
                        "' overlap");
}

const ZipEntry* ZipArchive::find(std::string_view entry_name) const {
    auto it = by_name_.find(entry_name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

void ZipArchive::check_crc(const ZipEntry& e) const {
    if (crc32(e.data, e.size) != e.crc32)
        throw Error(name_ + ": ZIP entry '" + e.name + "' is corrupt (its CRC-32 does not match its bytes)");
}

} // namespace statescope
