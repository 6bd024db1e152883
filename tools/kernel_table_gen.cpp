// Build-time generator of the kernel table (shaders/CMakeLists.txt runs it): reads the compiled
// SPIR-V modules, reflects each one's interface from its words and writes
//   kernels.h   - enum class Kernel (one identifier per module) and, per kernel, its name, the
//                 storage-buffer bindings it declares and its push-constant size, as constexpr
//                 data that host code can static_assert against;
//   kernels.cpp - the SPIR-V words of every module, behind kernel_spirv().
// Usage: kernel_table_gen <kernels.h> <kernels.cpp> name=file.spv...
//
// The reflection reads only what the runtime relies on: OpDecorate DescriptorSet/Binding of
// storage-buffer variables (set 0, one descriptor each) and the struct behind the one
// PushConstant variable (its size = the largest member offset + member size). Anything else in
// a module's interface (other sets, descriptor arrays, images, samplers) fails the build, since
// the runtime could not bind it.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// SPIR-V opcodes, decorations and storage classes used below (SPIR-V specification, section 3).
enum Op : uint32_t {
    OpTypeBool = 20, OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23, OpTypeArray = 28,
    OpTypeRuntimeArray = 29, OpTypeStruct = 30, OpTypePointer = 32, OpConstant = 43, OpVariable = 59,
    OpDecorate = 71, OpMemberDecorate = 72,
};
enum Decoration : uint32_t { ArrayStride = 6, Binding = 33, DescriptorSet = 34, Offset = 35 };
enum StorageClass : uint32_t { UniformConstant = 0, Uniform = 2, PushConstant = 9, StorageBuffer = 12 };

struct Interface {
    uint64_t binding_mask = 0;
    uint32_t bindings = 0;     // highest binding + 1
    uint32_t push_bytes = 0;
};

class Module {
public:
    Module(std::string name, std::vector<uint32_t> words) : name_(std::move(name)), words_(std::move(words)) {
        if (words_.size() < 5 || words_[0] != 0x07230203u) fail("not a SPIR-V module");
        for (size_t i = 5; i < words_.size();) {
            const uint32_t count = words_[i] >> 16, op = words_[i] & 0xffffu;
            if (count == 0 || i + count > words_.size()) fail("truncated instruction");
            read(op, &words_[i + 1], count - 1);
            i += count;
        }
    }

    Interface reflect() const {
        Interface out;
        bool have_push = false;
        for (const auto& [id, var] : variables_) {
            const auto ptr = pointers_.find(var.type);
            if (ptr == pointers_.end()) fail("variable %" + std::to_string(id) + " has no pointer type");
            const uint32_t storage = var.storage, pointee = ptr->second.second;
            if (storage == PushConstant) {
                if (have_push) fail("more than one push-constant block");
                have_push = true;
                out.push_bytes = size_of(pointee);
                continue;
            }
            const bool descriptor = decorations_.count({id, Binding}) || decorations_.count({id, DescriptorSet});
            if (!descriptor) continue;
            if (storage != StorageBuffer && storage != Uniform) fail("binds something other than a storage buffer");
            if (types_.at(pointee).op != OpTypeStruct) fail("binds an array of descriptors");
            const uint32_t set = decoration(id, DescriptorSet), binding = decoration(id, Binding);
            if (set != 0) fail("uses descriptor set " + std::to_string(set) + " (the runtime binds set 0 only)");
            if (binding >= 64) fail("binding " + std::to_string(binding) + " is past the table's 64");
            out.binding_mask |= uint64_t(1) << binding;
            out.bindings = std::max(out.bindings, binding + 1);
        }
        return out;
    }

private:
    struct Type {
        uint32_t op = 0;
        std::vector<uint32_t> operands;   // after the result id
    };
    struct Variable {
        uint32_t type = 0, storage = 0;
    };

    [[noreturn]] void fail(const std::string& why) const {
        throw std::runtime_error("kernel_table_gen: " + name_ + ": " + why);
    }

    void read(uint32_t op, const uint32_t* w, uint32_t n) {
        switch (op) {
        case OpTypeBool: case OpTypeInt: case OpTypeFloat: case OpTypeVector: case OpTypeArray:
        case OpTypeRuntimeArray: case OpTypeStruct:
            types_[w[0]] = {op, std::vector<uint32_t>(w + 1, w + n)};
            break;
        case OpTypePointer: pointers_[w[0]] = {w[1], w[2]}; break;
        case OpConstant: if (n >= 3) constants_[w[1]] = w[2]; break;
        case OpVariable: variables_[w[1]] = {w[0], w[2]}; break;
        case OpDecorate: if (n >= 3) decorations_[{w[0], w[1]}] = w[2]; break;
        case OpMemberDecorate: if (n >= 4 && w[2] == Offset) member_offsets_[{w[0], w[1]}] = w[3]; break;
        default: break;
        }
    }

    uint32_t decoration(uint32_t id, uint32_t which) const {
        const auto it = decorations_.find({id, which});
        if (it == decorations_.end()) fail("variable %" + std::to_string(id) + " lacks a set or binding decoration");
        return it->second;
    }

    // Bytes the push block's members span (offsets from OpMemberDecorate Offset).
    uint32_t size_of(uint32_t type_id) const {
        const auto it = types_.find(type_id);
        if (it == types_.end()) fail("push constants of an unsupported type (%" + std::to_string(type_id) + ")");
        const Type& t = it->second;
        switch (t.op) {
        case OpTypeInt: case OpTypeFloat: return t.operands.at(0) / 8;
        case OpTypeVector: return size_of(t.operands.at(0)) * t.operands.at(1);
        case OpTypeArray: {
            const auto len = constants_.find(t.operands.at(1));
            const auto stride = decorations_.find({type_id, ArrayStride});
            if (len == constants_.end() || stride == decorations_.end()) fail("push-constant array without size");
            return len->second * stride->second;
        }
        case OpTypeStruct: {
            uint32_t end = 0;
            for (uint32_t m = 0; m < t.operands.size(); ++m) {
                const auto off = member_offsets_.find({type_id, m});
                if (off == member_offsets_.end()) fail("push-constant member without an offset");
                end = std::max(end, off->second + size_of(t.operands[m]));
            }
            return end;
        }
        default: fail("push constants with a bool or runtime array");
        }
    }

    std::string name_;
    std::vector<uint32_t> words_;
    std::map<uint32_t, Type> types_;
    std::map<uint32_t, std::pair<uint32_t, uint32_t>> pointers_;   // id -> (storage class, pointee)
    std::map<uint32_t, uint32_t> constants_;
    std::map<uint32_t, Variable> variables_;
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> decorations_;      // (id, decoration) -> literal
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> member_offsets_;   // (struct, member) -> offset
};

std::vector<uint32_t> read_words(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("kernel_table_gen: cannot read " + path);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.empty() || bytes.size() % 4) throw std::runtime_error("kernel_table_gen: " + path + " is not SPIR-V");
    std::vector<uint32_t> words(bytes.size() / 4);
    for (size_t i = 0; i < words.size(); ++i)   // SPIR-V files are little-endian words
        for (int b = 3; b >= 0; --b) words[i] = (words[i] << 8) | uint8_t(bytes[4 * i + b]);
    return words;
}

// Writes only when the text changed, so an unchanged shader set rebuilds nothing downstream.
void write_if_changed(const std::string& path, const std::string& text) {
    {
        std::ifstream in(path, std::ios::binary);
        std::stringstream old;
        old << in.rdbuf();
        if (in && old.str() == text) return;
    }
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("kernel_table_gen: cannot write " + path);
}

} // namespace

int main(int argc, char** argv) try {
    if (argc < 4) throw std::runtime_error("usage: kernel_table_gen <kernels.h> <kernels.cpp> name=file.spv...");
    std::string header =
        "// Generated by tools/kernel_table_gen.cpp from the SPIR-V compiled from shaders/. Do not edit.\n"
        "// One entry per SPIR-V module (shaders/CMakeLists.txt): its identifier, and what its SPIR-V\n"
        "// declares: the storage buffers of set 0 and the push-constant block's size.\n"
        "#pragma once\n#include <cstdint>\n\nnamespace statescope::vk {\n\nenum class Kernel : uint32_t {\n";
    std::string rows, source =
        "// Generated by tools/kernel_table_gen.cpp. Do not edit.\n#include \"vulkan/kernel_table.h\"\n\n"
        "namespace statescope::vk {\nnamespace {\n\n";
    std::string spans;
    const int count = argc - 3;
    for (int i = 3; i < argc; ++i) {
        const std::string arg = argv[i];
        const size_t eq = arg.find('=');
        if (eq == std::string::npos) throw std::runtime_error("kernel_table_gen: expected name=file.spv, got " + arg);
        const std::string name = arg.substr(0, eq);
        const std::vector<uint32_t> words = read_words(arg.substr(eq + 1));
        const Interface io = Module(name, words).reflect();
        header += "    " + name + ",\n";
        char row[200];
        std::snprintf(row, sizeof row, "    {\"%s\", %u, 0x%llxull, %u},\n", name.c_str(), io.bindings,
                      (unsigned long long)io.binding_mask, io.push_bytes);
        rows += row;
        source += "const uint32_t spv_" + name + "[] = {";
        for (size_t w = 0; w < words.size(); ++w) {
            char hex[32];
            std::snprintf(hex, sizeof hex, "%s0x%08xu,", w % 8 ? " " : "\n    ", words[w]);
            source += hex;
        }
        source += "\n};\n\n";
        spans += "    {spv_" + name + ", " + std::to_string(words.size()) + "},\n";
    }
    header += "};\n\ninline constexpr uint32_t kKernelCount = " + std::to_string(count) + ";\n\n";
    header += "struct KernelInterface {\n"
              "    const char* name;        // the module's name in shaders/CMakeLists.txt\n"
              "    uint32_t bindings;       // descriptor slots a dispatch supplies: highest binding + 1\n"
              "    uint64_t binding_mask;   // the bindings the module declares (bit b = binding b)\n"
              "    uint32_t push_bytes;     // size of the push-constant block, 0 without one\n"
              "};\n\n"
              "inline constexpr KernelInterface kKernelInterfaces[kKernelCount] = {\n" + rows + "};\n\n"
              "constexpr const KernelInterface& kernel_interface(Kernel k) { return kKernelInterfaces[uint32_t(k)]; }\n"
              "constexpr const char* kernel_name(Kernel k) { return kernel_interface(k).name; }\n\n"
              "} // namespace statescope::vk\n";
    source += "const std::span<const uint32_t> kSpirv[kKernelCount] = {\n" + spans + "};\n\n} // namespace\n\n"
              "std::span<const uint32_t> kernel_spirv(Kernel k) { return kSpirv[uint32_t(k)]; }\n\n"
              "} // namespace statescope::vk\n";
    write_if_changed(argv[1], header);
    write_if_changed(argv[2], source);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
}
