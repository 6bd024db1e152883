#include "core/pickle_reader.h"

#include "statescope/error.h"
#include "statescope/limits.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>

namespace statescope::pickle {

const char* kind_name(Kind k) {
    switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "a bool";
    case Kind::Int: return "an int";
    case Kind::Float: return "a float";
    case Kind::String: return "a string";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "a tuple";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
    case Kind::Global: return "a global";
    case Kind::Storage: return "a storage";
    case Kind::Tensor: return "a tensor";
    }
    return "?";
}

namespace {

// What an accepted global is. Storage types carry their element type.
enum class GlobalRole { OrderedDict, RebuildTensorV2, RebuildParameter, StorageType, DTypeObject };
struct AcceptedGlobal {
    const char* name;
    GlobalRole role;
    DType dtype;
};
constexpr AcceptedGlobal kAccepted[] = {
    {"collections.OrderedDict", GlobalRole::OrderedDict, DType::F32},
    {"torch._utils._rebuild_tensor_v2", GlobalRole::RebuildTensorV2, DType::F32},
    {"torch._utils._rebuild_parameter", GlobalRole::RebuildParameter, DType::F32},
    {"torch.FloatStorage", GlobalRole::StorageType, DType::F32},
    {"torch.HalfStorage", GlobalRole::StorageType, DType::F16},
    {"torch.BFloat16Storage", GlobalRole::StorageType, DType::BF16},
    {"torch.DoubleStorage", GlobalRole::StorageType, DType::F64},
    {"torch.LongStorage", GlobalRole::StorageType, DType::I64},
    {"torch.IntStorage", GlobalRole::StorageType, DType::I32},
    {"torch.ShortStorage", GlobalRole::StorageType, DType::I16},
    {"torch.CharStorage", GlobalRole::StorageType, DType::I8},
    {"torch.ByteStorage", GlobalRole::StorageType, DType::U8},
    {"torch.BoolStorage", GlobalRole::StorageType, DType::BOOL},
    {"torch.float32", GlobalRole::DTypeObject, DType::F32},
    {"torch.float16", GlobalRole::DTypeObject, DType::F16},
    {"torch.bfloat16", GlobalRole::DTypeObject, DType::BF16},
    {"torch.float64", GlobalRole::DTypeObject, DType::F64},
    {"torch.int64", GlobalRole::DTypeObject, DType::I64},
    {"torch.int32", GlobalRole::DTypeObject, DType::I32},
    {"torch.int16", GlobalRole::DTypeObject, DType::I16},
    {"torch.int8", GlobalRole::DTypeObject, DType::I8},
    {"torch.uint8", GlobalRole::DTypeObject, DType::U8},
    {"torch.bool", GlobalRole::DTypeObject, DType::BOOL},
};

const AcceptedGlobal* accepted(const std::string& name) {
    for (const AcceptedGlobal& g : kAccepted)
        if (name == g.name) return &g;
    return nullptr;
}

class Machine {
public:
    Machine(const uint8_t* bytes, size_t size, const std::string& where) : p_(bytes), size_(size), where_(where) {}

    Unpickled run() {
        while (true) {
            op_at_ = pos_;
            const uint8_t op = take(1)[0];
            if (step(op)) break;
        }
        out_.root = pop("STOP");
        consumed_ = pos_;
        return std::move(out_);
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(where_ + ": " + what + " (at byte " + std::to_string(op_at_) + ")");
    }
    // The refusal of a global: "model.pth: data.pkl calls os.system, which ...".
    [[noreturn]] void refuse_call(const std::string& global, const char* why) const {
        throw Error(where_ + " calls " + global + why + "; refusing to load (no code from the file is run)");
    }

    const uint8_t* take(size_t n) {
        if (n > size_ - pos_) fail("ends in the middle of an opcode (truncated pickle)");
        const uint8_t* at = p_ + pos_;
        pos_ += n;
        return at;
    }
    uint64_t le(size_t n) {
        const uint8_t* b = take(n);
        uint64_t v = 0;
        for (size_t i = n; i-- > 0;) v = (v << 8) | b[i];
        return v;
    }
    std::string text(size_t n) {
        limits::check(where_ + ": a string", n, limits::kMaxPickleStringBytes, "pickle strings");
        const uint8_t* b = take(n);
        return std::string(reinterpret_cast<const char*>(b), n);
    }
    std::string line() { // GLOBAL's "module\nname\n" arguments
        std::string s;
        while (true) {
            const char c = char(take(1)[0]);
            if (c == '\n') return s;
            s += c;
            if (s.size() > 256) fail("a GLOBAL name longer than 256 bytes");
        }
    }

    Value* make(Kind k) {
        if (out_.values.size() >= limits::kMaxPickleObjects)
            limits::check(where_ + ": the number of objects", out_.values.size() + 1, limits::kMaxPickleObjects, "pickle objects");
        out_.values.push_back(std::make_unique<Value>());
        out_.values.back()->kind = k;
        return out_.values.back().get();
    }
    // None, True and False are one value each (a pickle of a million Nones takes no memory).
    const Value* constant(Kind k, bool truth) {
        const Value*& slot = k == Kind::None ? none_ : truth ? true_ : false_;
        if (!slot) {
            Value* v = make(k);
            v->boolean = truth;
            slot = v;
        }
        return slot;
    }
    void push(const Value* v) {
        if (stack_.size() >= limits::kMaxPickleObjects)
            limits::check(where_ + ": the stack", stack_.size() + 1, limits::kMaxPickleObjects, "pickle objects");
        stack_.push_back(v);
    }
    const Value* pop(const char* op) {
        if (stack_.size() <= floor()) fail(std::string(op) + " with nothing on the stack");
        const Value* v = stack_.back();
        stack_.pop_back();
        return v;
    }
    size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
    // Pops everything above the last MARK, and the mark.
    std::vector<const Value*> pop_mark(const char* op) {
        if (marks_.empty()) fail(std::string(op) + " without a MARK");
        std::vector<const Value*> items(stack_.begin() + std::ptrdiff_t(marks_.back()), stack_.end());
        stack_.resize(marks_.back());
        marks_.pop_back();
        return items;
    }
    // The mutable object on top of the stack (dicts and lists are built in place).
    Value* top(const char* op, Kind want) {
        if (stack_.size() <= floor()) fail(std::string(op) + " with nothing on the stack");
        const Value* v = stack_.back();
        if (v->kind != want) fail(std::string(op) + " on " + kind_name(v->kind) + ", expected " + kind_name(want));
        return const_cast<Value*>(v); // every value is ours (out_.values); const only to readers
    }
    void memo_put(uint64_t index) {
        if (stack_.size() <= floor()) fail("memoizes an empty stack");
        if (!memo_.count(index))
            limits::check(where_ + ": the memo", memo_.size() + 1, limits::kMaxPickleMemoEntries, "pickle memo entries");
        memo_[index] = stack_.back();
    }
    void memo_get(uint64_t index) {
        auto it = memo_.find(index);
        if (it == memo_.end()) fail("refers to memo entry " + std::to_string(index) + ", which was never stored");
        push(it->second);
    }
    void tuple_of(std::vector<const Value*> items) {
        Value* t = make(Kind::Tuple);
        t->items = std::move(items);
        push(t);
    }
    void integer(int64_t v) {
        Value* x = make(Kind::Int);
        x->integer = v;
        push(x);
    }

    void global(std::string module, const std::string& name) {
        // Python 3's unpickler renames Python 2 modules; messages use the names people know.
        if (module == "__builtin__") module = "builtins";
        if (module == "copy_reg") module = "copyreg";
        const std::string full = module + "." + name;
        const bool storage_type = module == "torch" && name.size() > 7 && name.compare(name.size() - 7, 7, "Storage") == 0;
        if (!accepted(full) && storage_type) // a real state dict, in a dtype the engine has no type for
            fail("stores tensors as " + full + ", which Statescope does not read (it reads float32, float16, bfloat16, "
                 "float64, int64/32/16/8, uint8 and bool storages)");
        if (!accepted(full))
            refuse_call(full, ", which a state dict never needs");
        Value* g = make(Kind::Global);
        g->text = full;
        push(g);
    }

    static bool is_int_tuple(const Value* v) {
        if (v->kind != Kind::Tuple) return false;
        for (const Value* x : v->items)
            if (x->kind != Kind::Int) return false;
        return true;
    }

    void reduce() {
        const Value* args = pop("REDUCE");
        const Value* callable = pop("REDUCE");
        if (callable->kind != Kind::Global) fail(std::string("REDUCE calls ") + kind_name(callable->kind) + ", not a global");
        if (args->kind != Kind::Tuple) fail("REDUCE arguments are " + std::string(kind_name(args->kind)) + ", not a tuple");
        const AcceptedGlobal* g = accepted(callable->text);
        const std::vector<const Value*>& a = args->items;
        switch (g->role) {
        case GlobalRole::OrderedDict:
            if (!a.empty()) fail("collections.OrderedDict called with arguments, which torch.save never writes");
            push(make(Kind::Dict));
            return;
        case GlobalRole::RebuildTensorV2: {
            if (a.size() != 6 && a.size() != 7) fail("torch._utils._rebuild_tensor_v2 called with " + std::to_string(a.size()) + " arguments, expected 6 or 7");
            if (a[0]->kind != Kind::Storage) fail(std::string("_rebuild_tensor_v2's storage is ") + kind_name(a[0]->kind));
            if (a[1]->kind != Kind::Int || a[1]->integer < 0) fail("_rebuild_tensor_v2's storage offset is not a non-negative int");
            if (!is_int_tuple(a[2]) || !is_int_tuple(a[3]) || a[2]->items.size() != a[3]->items.size())
                fail("_rebuild_tensor_v2's size and stride are not int tuples of one length");
            Value* t = make(Kind::Tensor);
            t->tensor.storage = a[0];
            t->tensor.offset = a[1]->integer;
            for (size_t i = 0; i < a[2]->items.size(); ++i) {
                t->tensor.size.push_back(a[2]->items[i]->integer);
                t->tensor.stride.push_back(a[3]->items[i]->integer);
            }
            push(t);
            return;
        }
        case GlobalRole::RebuildParameter:
            if (a.size() != 3 || a[0]->kind != Kind::Tensor) fail("torch._utils._rebuild_parameter called with arguments other than (tensor, requires_grad, hooks)");
            push(a[0]); // a Parameter is its tensor, for reading
            return;
        case GlobalRole::StorageType:
        case GlobalRole::DTypeObject:
            break;
        }
        refuse_call(callable->text, " as a function, which a state dict never does");
    }

    void persistent_id() {
        const Value* pid = pop("BINPERSID");
        const auto& f = pid->items;
        if (pid->kind != Kind::Tuple || f.size() < 5 || f.size() > 6 || f[0]->kind != Kind::String || f[0]->text != "storage")
            fail("a persistent id that is not ('storage', type, key, location, numel)");
        if (f.size() == 6 && f[5]->kind != Kind::None)
            fail("a storage that is a view of another storage (torch < 1.0), which is not read");
        if (f[1]->kind != Kind::Global || accepted(f[1]->text)->role != GlobalRole::StorageType)
            fail("a persistent id whose storage type is not a torch.*Storage");
        if (f[2]->kind != Kind::String || f[3]->kind != Kind::String || f[4]->kind != Kind::Int || f[4]->integer < 0)
            fail("a persistent id whose key, location or element count is malformed");
        Value* s = make(Kind::Storage);
        s->storage.dtype = accepted(f[1]->text)->dtype;
        s->storage.key = f[2]->text;
        s->storage.numel = f[4]->integer;
        push(s);
    }

    // Executes one opcode; returns true at STOP.
    bool step(uint8_t op) {
        switch (op) {
        case 0x80: { // PROTO
            const uint8_t v = take(1)[0];
            if (v < 2 || v > 5) fail("pickle protocol " + std::to_string(v) + ", expected 2 to 5");
            return false;
        }
        case 0x95: le(8); return false; // FRAME: a length hint only
        case '}': push(make(Kind::Dict)); return false;
        case ']': push(make(Kind::List)); return false;
        case ')': tuple_of({}); return false;
        case '(':
            if (marks_.size() >= limits::kMaxPickleObjects) fail("too many MARKs");
            marks_.push_back(stack_.size());
            return false;
        case 0x85: { auto a = pop("TUPLE1"); tuple_of({a}); return false; }
        case 0x86: { auto b = pop("TUPLE2"), a = pop("TUPLE2"); tuple_of({a, b}); return false; }
        case 0x87: { auto c = pop("TUPLE3"), b = pop("TUPLE3"), a = pop("TUPLE3"); tuple_of({a, b, c}); return false; }
        case 't': tuple_of(pop_mark("TUPLE")); return false;
        case 's': {
            const Value* v = pop("SETITEM");
            const Value* k = pop("SETITEM");
            top("SETITEM", Kind::Dict)->dict.emplace_back(k, v);
            return false;
        }
        case 'u': {
            std::vector<const Value*> kv = pop_mark("SETITEMS");
            if (kv.size() % 2) fail("SETITEMS with an odd number of keys and values");
            Value* d = top("SETITEMS", Kind::Dict);
            for (size_t i = 0; i < kv.size(); i += 2) d->dict.emplace_back(kv[i], kv[i + 1]);
            return false;
        }
        case 'a': { const Value* v = pop("APPEND"); top("APPEND", Kind::List)->items.push_back(v); return false; }
        case 'e': {
            std::vector<const Value*> vs = pop_mark("APPENDS");
            Value* l = top("APPENDS", Kind::List);
            l->items.insert(l->items.end(), vs.begin(), vs.end());
            return false;
        }
        case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': case 0x8e: { // strings and bytes
            const size_t n = size_t(le(op == 0x8c || op == 'U' || op == 'C' ? 1 : op == 0x8d || op == 0x8e ? 8 : 4));
            Value* s = make(op == 'B' || op == 'C' || op == 0x8e ? Kind::Bytes : Kind::String);
            s->text = text(n);
            push(s);
            return false;
        }
        case 'J': integer(int32_t(uint32_t(le(4)))); return false;
        case 'K': integer(int64_t(le(1))); return false;
        case 'M': integer(int64_t(le(2))); return false;
        case 0x8a: { // LONG1: n bytes, little-endian two's complement
            const size_t n = size_t(le(1));
            if (n > 8) fail("an integer of " + std::to_string(n) + " bytes, more than a state dict needs");
            uint64_t v = n ? le(n) : 0;
            if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n); // sign-extend
            integer(int64_t(v));
            return false;
        }
        case 'G': { // BINFLOAT: big-endian double
            const uint8_t* b = take(8);
            uint64_t bits = 0;
            for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];
            Value* x = make(Kind::Float);
            std::memcpy(&x->number, &bits, 8);
            push(x);
            return false;
        }
        case 'N': push(constant(Kind::None, false)); return false;
        case 0x88: case 0x89: push(constant(Kind::Bool, op == 0x88)); return false;
        case 'q': memo_put(le(1)); return false;
        case 'r': memo_put(le(4)); return false;
        case 0x94: memo_put(memo_.size()); return false; // MEMOIZE
        case 'h': memo_get(le(1)); return false;
        case 'j': memo_get(le(4)); return false;
        case 'c': { std::string module = line(); global(module, line()); return false; }
        case 0x93: { // STACK_GLOBAL
            const Value* name = pop("STACK_GLOBAL");
            const Value* module = pop("STACK_GLOBAL");
            if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL of something other than two strings");
            global(module->text, name->text);
            return false;
        }
        case 'R': reduce(); return false;
        case 'b': { // BUILD: setting state is how objects run code; a dict may only gain items
            const Value* state = pop("BUILD");
            if (stack_.size() <= floor()) fail("BUILD with nothing to build");
            const Value* target = stack_.back();
            const bool empty = state->kind == Kind::None || (state->kind == Kind::Dict && state->dict.empty());
            if (empty) return false;
            if (target->kind == Kind::Dict && state->kind == Kind::Dict) {
                Value* d = top("BUILD", Kind::Dict);
                d->dict.insert(d->dict.end(), state->dict.begin(), state->dict.end());
                return false;
            }
            fail(std::string("BUILD sets ") + kind_name(state->kind) + " as the state of " + kind_name(target->kind) +
                 ", which a state dict never needs");
        }
        case 'Q': persistent_id(); return false;
        case '0': pop("POP"); return false;
        case '1': pop_mark("POP_MARK"); return false;
        case '2': { const Value* v = pop("DUP"); push(v); push(v); return false; }
        case '.': return true;
        default: {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", op);
            fail(std::string("uses pickle opcode ") + hex + ", which a state dict never needs; refusing to load (no code from the file is run)");
        }
        }
    }

public:
    size_t consumed_ = 0;

private:
    const uint8_t* p_;
    size_t size_;
    size_t pos_ = 0, op_at_ = 0;
    const std::string& where_;
    std::vector<const Value*> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint64_t, const Value*> memo_;
    const Value *none_ = nullptr, *true_ = nullptr, *false_ = nullptr;
    Unpickled out_;
};

} // namespace

Unpickled unpickle(const uint8_t* bytes, size_t size, const std::string& where, size_t* consumed) {
    if (!consumed) limits::check(where, size, limits::kMaxPickleBytes, "pickle size");
    Machine m(bytes, size, where);
    Unpickled out = m.run();
    if (consumed) *consumed = m.consumed_;
    else if (m.consumed_ != size)
        throw Error(where + ": " + std::to_string(size - m.consumed_) + " bytes after the pickle's STOP (corrupt pickle)");
    return out;
}

} // namespace statescope::pickle
