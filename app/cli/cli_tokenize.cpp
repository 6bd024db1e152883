// statescope-cli tokenize: text to token ids and back with a checkpoint's tokenizer, and a
// throughput benchmark.
//   tokenize --tokenizer FILE [--config CFG] [--special] (TEXT | --file PATH)   ids, space separated
//   tokenize --tokenizer FILE --decode IDS [--skip-special]                     the text of the ids
//   tokenize --tokenizer FILE --bench PATH [--repeat N]                         MB/s on one core
//   tokenize --tokenizer FILE --info                                            what was loaded
// FILE is a tokenizer.json, an RWKV world vocabulary .txt, or a folder holding one.
#include "commands.h"
#include "statescope/error.h"
#include "statescope/frames/token_input.h"
#include "statescope/tokenizer.h"
#include "statescope/utf8.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace statescope::cli {

namespace {

// Every byte of a file, or of standard input for "-".
std::string read_all_bytes(const std::string& path) {
    if (path == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot open " + path);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

const char* kTokenizeUsage =
    "usage: statescope-cli tokenize --tokenizer FILE [--config CFG] [--special] (TEXT | --file PATH)\n"
    "       statescope-cli tokenize --tokenizer FILE --decode IDS [--skip-special]\n"
    "       statescope-cli tokenize --tokenizer FILE --bench PATH [--repeat N]\n"
    "       statescope-cli tokenize --tokenizer FILE --info\n"
    "FILE: a tokenizer.json (with the tokenizer_config.json beside it, or --config), an RWKV world\n"
    "vocabulary rwkv_vocab_*.txt, or a folder holding one. --special adds what the tokenizer adds\n"
    "around a text (e.g. BOS). --file - reads standard input; invalid UTF-8 is read as U+FFFD, one\n"
    "per ill-formed sequence, as Python's errors=\"replace\" does (HF takes only valid strings), with\n"
    "a note on stderr.\n";

} // namespace

int cmd_tokenize(const Arguments& a) {
    if (a.has("help")) {
        std::fputs(kTokenizeUsage, stdout);
        return 0;
    }
    const std::string tokenizer_path = a.get("tokenizer"), config_path = a.get("config"), file = a.get("file"),
                      decode_ids = a.get("decode"), bench_path = a.get("bench");
    const bool special = a.has("special"), skip_special = a.has("skip-special"), info = a.has("info");
    const bool have_decode = a.has("decode"), have_text = !a.positional().empty();
    if (a.positional().size() > 1) throw Error("tokenize: more than one TEXT given (quote the text)");
    const std::string text = have_text ? a.positional()[0] : std::string();
    const long repeat = a.positive("repeat", 1);
    if (tokenizer_path.empty()) {
        std::fputs(kTokenizeUsage, stderr);
        throw Error("tokenize needs --tokenizer FILE");
    }
    const int modes = int(have_text || !file.empty()) + int(have_decode) + int(!bench_path.empty()) + int(info);
    if (modes != 1 || (have_text && !file.empty())) {
        std::fputs(kTokenizeUsage, stderr);
        throw Error("tokenize needs exactly one of TEXT, --file, --decode, --bench, --info");
    }
    auto tok = Tokenizer::load(tokenizer_path, config_path);

    if (info) {
        std::printf("%s\n", tok->describe().c_str());
        std::printf("ids: 0..%d", tok->vocab_size() - 1);
        if (auto b = tok->bos_id()) std::printf("  bos %d", *b);
        if (auto e = tok->eos_id()) std::printf("  eos %d", *e);
        std::printf("\nunicode tables: %s\n", unicode::unicode_version());
        return 0;
    }
    if (have_decode) {
        const std::vector<int32_t> ids = frames::parse_token_ids(decode_ids, "--decode", /*allow_empty=*/true);
        const std::string s = tok->decode(ids, skip_special);
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fputc('\n', stdout);
        return 0;
    }
    if (!bench_path.empty()) {
        const std::string data = read_all_bytes(bench_path);
        if (data.empty()) throw Error("--bench: " + bench_path + " is empty");
        // The first pass starts with an empty word cache; later passes show the steady state. CPU
        // time of this thread is reported beside wall time: on a busy machine they differ.
        auto t0 = std::chrono::steady_clock::now();
        double c0 = thread_cpu_seconds();
        size_t count = tok->encode(data, false).size();
        const double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cold_cpu = thread_cpu_seconds() - c0;
        t0 = std::chrono::steady_clock::now();
        c0 = thread_cpu_seconds();
        for (long r = 0; r < repeat; ++r) count = tok->encode(data, false).size();
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = thread_cpu_seconds() - c0;
        const double mb = double(data.size()) / 1e6;
        std::printf("%s: %.2f MB, %zu tokens, one thread\n", bench_path.c_str(), mb, count);
        std::printf("  first pass (empty word cache): %.2f MB/s wall, %.2f MB/s of CPU time\n", mb / cold, mb / cold_cpu);
        std::printf("  next %ld pass(es):              %.2f MB/s wall, %.2f MB/s of CPU time, %.0f tokens/s\n", repeat,
                    mb * double(repeat) / wall, mb * double(repeat) / cpu, double(count) * double(repeat) / wall);
        return 0;
    }
    std::string input = have_text ? text : read_all_bytes(file);
    if (size_t bad = 0; unicode::valid_utf8_prefix(input) != input.size()) {
        unicode::repair_utf8(input, &bad);
        std::fprintf(stderr, "statescope-cli: note: input is not valid UTF-8; %zu ill-formed sequence(s) read as U+FFFD\n", bad);
    }
    const std::vector<int32_t> ids = tok->encode(input, special);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
    return 0;
}

} // namespace statescope::cli
