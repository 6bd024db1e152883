#include "statescope/safetensors.h"

#include "statescope/error.h"
#include "statescope/limits.h"
#include "core/json.h"
#include "core/mapped_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>

namespace statescope {

namespace {
constexpr uint64_t kMaxHeaderBytes = limits::kMaxSafetensorsHeaderBytes;

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += c; }
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += c;
    }
    return out;
}
} // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), map_(std::make_unique<MappedFile>(path)) {
    // The mapping is released by map_ when a check below throws.
    if (map_->size() < 8)
        throw Error(path + ": truncated: " + std::to_string(map_->size()) + " bytes, a safetensors file has at least 8");
    const size_t map_size = map_->size();
    const uint8_t* base = map_->data();
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
    if (header_len <= map_size - 8 && header_len > kMaxHeaderBytes)
        limits::check(path + ": the header", size_t(header_len), size_t(kMaxHeaderBytes), "safetensors headers");
    if (header_len > map_size - 8)
        throw Error(path + ": header length " + std::to_string(header_len) + " runs past the end of the file (" +
                    std::to_string(map_size) + " bytes)");
    std::string_view header(reinterpret_cast<const char*>(base + 8), size_t(header_len));
    Json h = Json::parse(header, path + " (header)");
    if (!h.is_object()) throw Error(path + ": header is not a JSON object");
    const uint8_t* data = base + 8 + header_len;
    size_t data_size = map_size - 8 - size_t(header_len);

    for (const auto& [name, v] : h.members()) {
        if (name == "__metadata__") {
            if (!v.is_object()) throw Error(path + ": __metadata__ is not an object");
            for (const auto& [k, m] : v.members())
                if (m.is_string()) metadata_[k] = m.as_string();
            continue;
        }
        const std::string where = path + ": tensor '" + name + "'";
        if (!v.is_object()) throw Error(where + ": entry is not an object");
        const Json* dt = v.find("dtype");
        const Json* sh = v.find("shape");
        const Json* off = v.find("data_offsets");
        if (!dt || !dt->is_string()) throw Error(where + ": missing dtype");
        if (!sh || !sh->is_array()) throw Error(where + ": missing shape");
        if (!off || !off->is_array() || off->size() != 2) throw Error(where + ": data_offsets must be [begin, end]");
        TensorEntry e;
        e.name = name;
        if (!parse_dtype(dt->as_string(), &e.dtype)) throw Error(where + ": unknown dtype '" + dt->as_string() + "'");
        uint64_t numel = 1;
        for (const Json& d : sh->items()) {
            if (!d.is_integer() || d.as_int() < 0) throw Error(where + ": shape entries must be non-negative integers");
            e.shape.push_back(d.as_int());
            if (d.as_int() != 0 && numel > (uint64_t(1) << 48) / uint64_t(d.as_int()))
                throw Error(where + ": shape " + shape_string(e.shape) + " is implausibly large");
            numel *= uint64_t(d.as_int());
        }
        const Json& b = off->items()[0];
        const Json& en = off->items()[1];
        if (!b.is_integer() || !en.is_integer() || b.as_int() < 0 || en.as_int() < b.as_int())
            throw Error(where + ": data_offsets must be non-negative integers with begin <= end");
        uint64_t begin = uint64_t(b.as_int()), end = uint64_t(en.as_int());
        if (end > data_size)
            throw Error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                        "] run past the end of the data (" + std::to_string(data_size) + " bytes; file truncated?)");
        uint64_t expected = numel * dtype_size(e.dtype);
        if (end - begin != expected)
            throw Error(where + ": shape " + shape_string(e.shape) + " of " + dtype_name(e.dtype) + " needs " +
                        std::to_string(expected) + " bytes but data_offsets span " + std::to_string(end - begin));
        e.data = data + begin;
        e.nbytes = size_t(end - begin);
        if (by_name_.count(name)) throw Error(where + ": appears twice in the header");
        by_name_[name] = entries_.size();
        entries_.push_back(std::move(e));
    }
    // Overlapping tensors mean a corrupt or malicious header.
    std::vector<const TensorEntry*> order;
    for (const auto& e : entries_) if (e.nbytes) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->data < b->data; });
    for (size_t i = 1; i < order.size(); ++i)
        if (order[i - 1]->data + order[i - 1]->nbytes > order[i]->data)
            throw Error(path + ": tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap");
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::vector<float> SafetensorsFile::to_f32(const TensorEntry& e) {
    size_t n = e.nbytes / std::max<size_t>(dtype_size(e.dtype), 1);
    std::vector<float> out(n);
    const uint8_t* p = e.data;
    switch (e.dtype) {
    case DType::F32: if (n) std::memcpy(out.data(), p, n * 4); break; // memcpy with a null pointer is UB even for 0 bytes
    case DType::F16: for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, p + 2 * i, 2); out[i] = f16_to_f32(h); } break;
    case DType::BF16: for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, p + 2 * i, 2); out[i] = bf16_to_f32(h); } break;
    case DType::F64: for (size_t i = 0; i < n; ++i) { double d; std::memcpy(&d, p + 8 * i, 8); out[i] = float(d); } break;
    default: {
        std::vector<int64_t> ints = to_i64(e);
        for (size_t i = 0; i < n; ++i) out[i] = float(ints[i]);
    }
    }
    return out;
}

std::vector<int64_t> SafetensorsFile::to_i64(const TensorEntry& e) {
    size_t n = e.nbytes / std::max<size_t>(dtype_size(e.dtype), 1);
    std::vector<int64_t> out(n);
    const uint8_t* p = e.data;
    for (size_t i = 0; i < n; ++i) {
        switch (e.dtype) {
        case DType::I64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = v; break; }
        case DType::I32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
        case DType::I16: { int16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = v; break; }
        case DType::I8: out[i] = int8_t(p[i]); break;
        case DType::U8: case DType::BOOL: out[i] = p[i]; break;
        default: throw Error("tensor '" + e.name + "' has dtype " + dtype_name(e.dtype) + ", expected an integer type");
        }
    }
    return out;
}

namespace {

// One tensor of a file being written: its header fields and how to write its bytes.
struct Piece {
    const std::string* name;
    DType dtype;
    const std::vector<int64_t>* shape;
    uint64_t bytes;
    std::function<bool(FILE*)> write;
};

void write_pieces(const std::string& path, const std::vector<Piece>& pieces,
                  const std::map<std::string, std::string>& metadata) {
    std::string header = "{";
    bool first = true;
    if (!metadata.empty()) {
        header += "\"__metadata__\":{";
        bool f2 = true;
        for (const auto& [k, v] : metadata) {
            if (!f2) header += ",";
            f2 = false;
            header += "\"" + json_escape(k) + "\":\"" + json_escape(v) + "\"";
        }
        header += "}";
        first = false;
    }
    uint64_t offset = 0;
    for (const Piece& t : pieces) {
        if (!first) header += ",";
        first = false;
        header += "\"" + json_escape(*t.name) + "\":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":[";
        for (size_t i = 0; i < t.shape->size(); ++i) header += (i ? "," : "") + std::to_string((*t.shape)[i]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes) + "]}";
        offset += t.bytes;
    }
    header += "}";
    while ((header.size() + 8) % 8) header += ' '; // align the data section

    std::string tmp = path + ".partial";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    bool ok = true;
    uint8_t len[8];
    uint64_t hl = header.size();
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(hl >> (8 * i));
    ok = ok && std::fwrite(len, 1, 8, f) == 8;
    ok = ok && std::fwrite(header.data(), 1, header.size(), f) == header.size();
    for (const Piece& t : pieces) ok = ok && t.write(f);
    ok = (std::fclose(f) == 0) && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        std::remove(tmp.c_str());
        throw Error(path + ": write failed (" + std::strerror(e) + ")");
    }
}

} // namespace

void write_safetensors(const std::string& path, const std::vector<OutputTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<Piece> pieces;
    for (const auto& t : tensors) {
        bool ints = !t.i64.empty();
        uint64_t n = uint64_t(Tensor::numel(t.shape));
        uint64_t have = ints ? t.i64.size() : t.f32.size();
        if (n != have)
            throw Error(path + ": tensor '" + t.name + "' has shape " + shape_string(t.shape) + " but " + std::to_string(have) + " values");
        if (!ints && t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
            throw Error(path + ": tensor '" + t.name + "': cannot write float data as " + dtype_name(t.dtype));
        const DType stored = ints ? DType::I64 : t.dtype;
        pieces.push_back({&t.name, stored, &t.shape, n * dtype_size(stored), [&t](FILE* f) {
            if (!t.i64.empty()) return std::fwrite(t.i64.data(), 8, t.i64.size(), f) == t.i64.size();
            if (t.dtype == DType::F32) return std::fwrite(t.f32.data(), 4, t.f32.size(), f) == t.f32.size();
            std::vector<uint16_t> half(t.f32.size());
            for (size_t i = 0; i < half.size(); ++i)
                half[i] = t.dtype == DType::F16 ? f32_to_f16(t.f32[i]) : f32_to_bf16(t.f32[i]);
            return std::fwrite(half.data(), 2, half.size(), f) == half.size();
        }});
    }
    write_pieces(path, pieces, metadata);
}

void write_safetensors(const std::string& path, const std::vector<const TensorEntry*>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<Piece> pieces;
    for (const TensorEntry* t : tensors) {
        const uint64_t expected = uint64_t(Tensor::numel(t->shape)) * dtype_size(t->dtype);
        if (expected != t->nbytes)
            throw Error(path + ": tensor '" + t->name + "' has shape " + shape_string(t->shape) + " of " + dtype_name(t->dtype) +
                        " but " + std::to_string(t->nbytes) + " bytes");
        pieces.push_back({&t->name, t->dtype, &t->shape, t->nbytes,
                          [t](FILE* f) { return t->nbytes == 0 || std::fwrite(t->data, 1, t->nbytes, f) == t->nbytes; }});
    }
    write_pieces(path, pieces, metadata);
}

} // namespace statescope
