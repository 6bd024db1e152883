// What the fuzz targets share: scratch files for parsers that read paths, splitting one input
// into several files, and failing loudly when a property the engine promises does not hold.
//
// Every target defines LLVMFuzzerTestOneInput. Built with clang and -fsanitize=fuzzer it is a
// libFuzzer binary (STATESCOPE_FUZZ); built with any compiler and replay_main.cpp it is the
// replay executable that CTest runs over the committed corpus (fuzz_replay_<target>).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional: set-up that should not count as an input's time (loading a large tokenizer).
// libFuzzer calls it once before the first input, and so does the replay executable.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace statescope::fuzz {

// A folder of this process's own (under $TMPDIR, /dev/shm when it exists), emptied on every call,
// removed at exit. Parsers that take a path read the fuzz input from files in it.
std::string scratch_dir();

// Writes bytes to scratch_dir()/name and returns the path. Aborts when it cannot: a fuzz run that
// cannot write its input tests nothing.
std::string write_scratch(const std::string& name, std::string_view bytes);

// Splits an input into files at kPartSeparator (a line of its own), so that one fuzz input can be a
// whole checkpoint folder or a tokenizer with its config. A missing part is empty.
inline constexpr std::string_view kPartSeparator = "\n--statescope-fuzz-part--\n";
std::vector<std::string_view> split_parts(std::string_view input, size_t max_parts);

// A property the engine promises failed: prints what and aborts, which libFuzzer records as a
// crash (and the replay test as a failure).
[[noreturn]] void violated(const std::string& what);

} // namespace statescope::fuzz
