// JSON (config.json, shard indexes, tokenizer files, safetensors headers): any bytes either parse
// or throw statescope::Error; a parsed document is walked completely, with the lookups the
// loaders use.
#include "core/json.h"
#include "fuzz_support.h"
#include "statescope/error.h"

using namespace statescope;

namespace {
size_t walk(const Json& j) {
    size_t n = 1;
    switch (j.type()) {
    case Json::Type::Array:
        for (const Json& item : j.items()) n += walk(item);
        break;
    case Json::Type::Object:
        for (const auto& [key, value] : j.members()) {
            // find() goes through the index for large objects: it must agree with the member list
            // about a key that is there (the first of equal keys is not promised, so only presence).
            if (!j.find(key)) fuzz::violated("Json::find misses the member '" + key + "'");
            n += walk(value);
        }
        break;
    default:
        break;
    }
    return n;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const Json j = Json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
        walk(j);
    } catch (const Error&) {
    }
    return 0;
}
