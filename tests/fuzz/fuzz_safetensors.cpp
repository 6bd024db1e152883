// A safetensors file (header and data): it is mapped and validated or refused with
// statescope::Error; every tensor of an accepted file converts to float32 or int64 without reading
// outside the file, and the conversion has as many values as the shape says.
#include "fuzz_support.h"
#include "statescope/error.h"
#include "statescope/safetensors.h"

using namespace statescope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path =
        fuzz::write_scratch("model.safetensors", std::string_view(reinterpret_cast<const char*>(data), size));
    try {
        SafetensorsFile file(path);
        for (const TensorEntry& e : file.tensors()) {
            uint64_t numel = 1;
            for (int64_t d : e.shape) numel *= uint64_t(d);
            const bool integer = e.dtype != DType::F32 && e.dtype != DType::F16 && e.dtype != DType::BF16 &&
                                 e.dtype != DType::F64;
            const size_t converted = integer ? SafetensorsFile::to_i64(e).size() : SafetensorsFile::to_f32(e).size();
            if (converted != numel)
                fuzz::violated("tensor '" + e.name + "': " + std::to_string(converted) + " values converted, shape has " +
                               std::to_string(numel));
            if (file.find(e.name) != &e) fuzz::violated("find('" + e.name + "') does not return its entry");
        }
    } catch (const Error&) {
    }
    return 0;
}
