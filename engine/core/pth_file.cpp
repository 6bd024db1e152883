#include "core/pth_file.h"

#include "core/pickle_reader.h"
#include "core/zip_reader.h"
#include "statescope/error.h"
#include "statescope/limits.h"

#include <cstring>
#include <functional>

namespace statescope {

namespace {

using pickle::Kind;
using pickle::Value;

const Value* dict_get(const Value* dict, const char* key) {
    for (const auto& [k, v] : dict->dict)
        if (k->kind == Kind::String && k->text == key) return v;
    return nullptr;
}

bool holds_tensors(const Value* dict) {
    for (const auto& kv : dict->dict)
        if (kv.second->kind == Kind::Tensor) return true;
    return false;
}

// The state dict inside what torch.save was given (see the header for the rule).
const Value* state_dict_of(const Value* root) {
    if (holds_tensors(root)) return root;
    for (const char* key : {"state_dict", "model"})
        if (const Value* inner = dict_get(root, key); inner && inner->kind == Kind::Dict) return inner;
    return root;
}

struct NamedTensor {
    std::string name;
    const Value* tensor;
};

// Dicts may be shared (memo) or even contain themselves, so the walk is bounded twice: by depth,
// and by the entries it visits in all (a chain of dicts each naming the next twice would
// otherwise take 2^depth steps).
void flatten(const Value* dict, const std::string& prefix, size_t depth, const std::string& where,
             std::vector<NamedTensor>& out, size_t& visited) {
    if (depth > limits::kMaxPickleNesting)
        limits::check(where + ": dicts nested under '" + prefix + "'", depth, limits::kMaxPickleNesting, "pickle nesting");
    for (const auto& [k, v] : dict->dict) {
        if (++visited > limits::kMaxPickleObjects)
            limits::check(where + ": the dict entries visited", visited, limits::kMaxPickleObjects, "pickle objects");
        if (v->kind != Kind::Tensor && v->kind != Kind::Dict) continue;
        std::string key;
        if (k->kind == Kind::String) key = k->text;
        else if (k->kind == Kind::Int) key = std::to_string(k->integer);
        else throw Error(where + ": a tensor or dict under a key that is " + pickle::kind_name(k->kind) + ", not a name");
        const std::string name = prefix.empty() ? key : prefix + "." + key;
        if (v->kind == Kind::Tensor) out.push_back({name, v});
        else flatten(v, name, depth + 1, where, out, visited);
    }
}

// The first of the legacy format's pickles: protocol 2, the magic number 0x1950a86a20f9469cfc6c.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

bool is_row_major(const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    int64_t expected = 1;
    for (size_t i = size.size(); i-- > 0;) {
        if (size[i] != 1 && stride[i] != expected) return false;
        expected *= size[i];
    }
    return true;
}

// Copies a strided view into row-major order, element by element (es bytes each).
void gather(const uint8_t* base, const std::vector<int64_t>& size, const std::vector<int64_t>& stride, size_t es,
            uint8_t* out) {
    const size_t rank = size.size();
    std::vector<int64_t> index(rank, 0);
    int64_t numel = 1;
    for (int64_t s : size) numel *= s;
    for (int64_t n = 0; n < numel; ++n) {
        int64_t at = 0;
        for (size_t d = 0; d < rank; ++d) at += index[d] * stride[d];
        std::memcpy(out + size_t(n) * es, base + size_t(at) * es, es);
        for (size_t d = rank; d-- > 0;) { // odometer
            if (++index[d] < size[d]) break;
            index[d] = 0;
        }
    }
}

} // namespace

PthFile::PthFile(const std::string& path) : path_(path), map_(std::make_unique<MappedFile>(path)) {
    read(map_->data(), map_->size());
}

PthFile::PthFile(const uint8_t* bytes, size_t size, const std::string& name) : path_(name) { read(bytes, size); }

void PthFile::read(const uint8_t* bytes, size_t size) {
    if (ZipArchive::looks_like_zip(bytes, size)) return read_zip(bytes, size);
    if (size >= sizeof kLegacyMagic && std::memcmp(bytes, kLegacyMagic, sizeof kLegacyMagic) == 0) return read_legacy(bytes, size);
    if (size >= 262 && std::memcmp(bytes + 257, "ustar", 5) == 0)
        throw Error(path_ + ": a PyTorch checkpoint in the tar format of torch < 0.4, which Statescope does not read; re-save it "
                            "with a current torch: torch.save(torch.load(f, weights_only=True), f)");
    throw Error(path_ + ": not a PyTorch checkpoint (neither the ZIP archive torch.save writes nor its legacy pickles)");
}

void PthFile::read_zip(const uint8_t* bytes, size_t size) {
    const ZipArchive zip(bytes, size, path_);

    // Every entry sits under one folder named after the file torch.save wrote: <prefix>/data.pkl.
    const ZipEntry* pkl = nullptr;
    std::string prefix;
    for (const ZipEntry& e : zip.entries()) {
        const size_t slash = e.name.find('/');
        if (slash == std::string::npos || e.name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
        if (pkl) throw Error(path_ + ": the archive has two pickles, '" + pkl->name + "' and '" + e.name + "'");
        pkl = &e;
        prefix = e.name.substr(0, slash);
    }
    if (!pkl) throw Error(path_ + ": a ZIP archive without <name>/data.pkl, so not a torch.save checkpoint");
    zip.check_crc(*pkl);
    if (const ZipEntry* order = zip.find(prefix + "/byteorder")) {
        const std::string_view bo(reinterpret_cast<const char*>(order->data), order->size);
        if (bo != "little") throw Error(path_ + ": tensors stored in '" + std::string(bo) + "' byte order; only little-endian is read");
    }
    const std::string where = path_ + ": data.pkl";
    const pickle::Unpickled pickled = pickle::unpickle(pkl->data, pkl->size, where);
    add_tensors(pickled, where, [&](const std::string& key) -> StorageBytes {
        const ZipEntry* record = zip.find(prefix + "/data/" + key);
        if (!record) return {nullptr, 0, "'" + prefix + "/data/" + key + "'"};
        return {record->data, record->size, "'" + prefix + "/data/" + key + "'"};
    });
}

// The legacy format (torch.save before 1.6, or _use_new_zipfile_serialization=False): pickles one
// after the other (the magic number, the protocol version 1001, a dict of system facts, the state
// dict, the list of storage keys), then each storage in that order as its element count (int64)
// and its bytes.
void PthFile::read_legacy(const uint8_t* bytes, size_t size) {
    size_t at = sizeof kLegacyMagic, used = 0;
    auto next_pickle = [&](const char* what) {
        pickle::Unpickled p = pickle::unpickle(bytes + at, size - at, path_ + ": the legacy format's " + what, &used);
        at += used;
        return p;
    };
    const pickle::Unpickled version = next_pickle("protocol version");
    if (version.root->kind != Kind::Int || version.root->integer != 1001)
        throw Error(path_ + ": a legacy PyTorch checkpoint of protocol version other than 1001, which is not read");
    const pickle::Unpickled sys_info = next_pickle("system information");
    const Value* little = sys_info.root->kind == Kind::Dict ? dict_get(sys_info.root, "little_endian") : nullptr;
    if (!little || little->kind != Kind::Bool || !little->boolean)
        throw Error(path_ + ": a legacy PyTorch checkpoint not written little-endian, which is not read");
    const std::string where = path_ + ": the legacy format's state dict";
    const pickle::Unpickled pickled = next_pickle("state dict");
    const pickle::Unpickled keys = next_pickle("storage keys");
    if (keys.root->kind != Kind::List) throw Error(path_ + ": the legacy format's storage keys are not a list");

    // Each storage's dtype comes from the persistent ids that name it.
    std::map<std::string, const pickle::StorageRef*> named;
    for (const auto& v : pickled.values)
        if (v->kind == Kind::Storage) named[v->storage.key] = &v->storage;
    std::map<std::string, StorageBytes> storages;
    for (const Value* key : keys.root->items) {
        if (key->kind != Kind::String) throw Error(path_ + ": a legacy storage key that is not a string");
        const std::string what = path_ + ": legacy storage '" + key->text + "'";
        auto it = named.find(key->text);
        if (it == named.end()) throw Error(what + ": no tensor of the state dict names it");
        if (size - at < 8) throw Error(what + ": the file ends before it (truncated)");
        uint64_t numel = 0;
        for (int i = 7; i >= 0; --i) numel = (numel << 8) | bytes[at + size_t(i)];
        at += 8;
        const size_t es = dtype_size(it->second->dtype);
        if (numel > (uint64_t(1) << 48) || numel * es > size - at)
            throw Error(what + ": its " + std::to_string(numel) + " elements run past the end of the file (truncated)");
        storages[key->text] = {bytes + at, size_t(numel * es), "'" + key->text + "'"};
        at += size_t(numel * es);
    }
    if (at != size) throw Error(path_ + ": " + std::to_string(size - at) + " bytes after the last legacy storage (corrupt file)");
    add_tensors(pickled, where, [&](const std::string& key) -> StorageBytes {
        auto it = storages.find(key);
        return it == storages.end() ? StorageBytes{nullptr, 0, "'" + key + "'"} : it->second;
    });
}

void PthFile::add_tensors(const pickle::Unpickled& pickled, const std::string& where,
                          const std::function<StorageBytes(const std::string&)>& storage_bytes) {
    if (pickled.root->kind != Kind::Dict)
        throw Error(where + ": holds " + pickle::kind_name(pickled.root->kind) + ", not a dict of tensors (a state dict)");
    std::vector<NamedTensor> named;
    size_t visited = 0;
    flatten(state_dict_of(pickled.root), "", 0, where, named, visited);
    if (named.empty()) throw Error(where + ": holds no tensors");

    for (const NamedTensor& nt : named) {
        const std::string what = path_ + ": tensor '" + nt.name + "'";
        const pickle::TensorRef& t = nt.tensor->tensor;
        const pickle::StorageRef& s = t.storage->storage;
        const StorageBytes record = storage_bytes(s.key);
        if (!record.data)
            throw Error(what + ": its storage " + record.name + " is not in the file");
        const size_t es = dtype_size(s.dtype);
        if (uint64_t(s.numel) > (uint64_t(1) << 48) || uint64_t(s.numel) * es != record.size)
            throw Error(what + ": its storage holds " + std::to_string(record.size) + " bytes, not " + std::to_string(s.numel) +
                        " elements of " + dtype_name(s.dtype));
        // The view must stay inside its storage: offset + sum((size-1) * stride) < numel.
        unsigned __int128 numel = 1, last = uint64_t(t.offset);
        for (size_t d = 0; d < t.size.size(); ++d) {
            if (t.size[d] < 0 || t.stride[d] < 0) throw Error(what + ": a negative size or stride");
            numel *= uint64_t(t.size[d]);
            if (numel > (uint64_t(1) << 48)) throw Error(what + ": implausibly many elements");
            if (t.size[d] > 0) last += (unsigned __int128)(uint64_t(t.size[d] - 1)) * uint64_t(t.stride[d]);
        }
        if (numel > 0 && last >= uint64_t(s.numel))
            throw Error(what + ": its view (offset " + std::to_string(t.offset) + ", size " + shape_string(t.size) +
                        ", stride " + shape_string(t.stride) + ") reaches past its storage of " + std::to_string(s.numel) + " elements");

        // A view with more elements than its storage repeats elements (stride 0, an expand()):
        // copying it out could take any amount of memory from a small file, and weights are never
        // saved that way.
        if (numel > uint64_t(s.numel))
            throw Error(what + ": its view (size " + shape_string(t.size) + ", stride " + shape_string(t.stride) + ") has more elements than its storage of " +
                        std::to_string(s.numel) + " (a broadcast view), which is not read");

        TensorEntry e;
        e.name = nt.name;
        e.dtype = s.dtype;
        e.shape = t.size;
        e.nbytes = size_t(numel) * es;
        if (numel == 0) {
            e.data = record.data;
        } else if (is_row_major(t.size, t.stride)) {
            e.data = record.data + size_t(t.offset) * es;
        } else {
            materialised_.push_back(std::make_unique<uint8_t[]>(e.nbytes));
            gather(record.data + size_t(t.offset) * es, t.size, t.stride, es, materialised_.back().get());
            e.data = materialised_.back().get();
        }
        if (by_name_.count(e.name)) throw Error(what + ": named twice in the state dict");
        by_name_[e.name] = entries_.size();
        entries_.push_back(std::move(e));
    }
}

const TensorEntry* PthFile::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

} // namespace statescope
