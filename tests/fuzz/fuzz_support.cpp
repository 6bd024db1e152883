#include "fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace statescope::fuzz {
namespace fs = std::filesystem;

namespace {
struct Scratch {
    fs::path dir;
    Scratch() {
        const char* tmp = std::getenv("TMPDIR");
        fs::path base = tmp && *tmp ? fs::path(tmp) : fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        dir = base / ("statescope-fuzz-" + std::to_string(::getpid()));
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) violated("cannot create the scratch folder " + dir.string() + ": " + ec.message());
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};
Scratch& scratch() {
    static Scratch s;
    return s;
}
} // namespace

std::string scratch_dir() {
    const fs::path& dir = scratch().dir;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
    return dir.string();
}

std::string write_scratch(const std::string& name, std::string_view bytes) {
    const std::string path = (scratch().dir / name).string();
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    f.close();
    if (!f) violated("cannot write the scratch file " + path);
    return path;
}

std::vector<std::string_view> split_parts(std::string_view input, size_t max_parts) {
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < max_parts) {
        const size_t at = input.find(kPartSeparator);
        if (at == std::string_view::npos) break;
        parts.push_back(input.substr(0, at));
        input.remove_prefix(at + kPartSeparator.size());
    }
    parts.push_back(input);
    parts.resize(max_parts);
    return parts;
}

void violated(const std::string& what) {
    std::fprintf(stderr, "statescope fuzz: property violated: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

} // namespace statescope::fuzz
