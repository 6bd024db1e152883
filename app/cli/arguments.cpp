#include "arguments.h"

#include "statescope/error.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace statescope::cli {

Arguments::Arguments(const std::vector<std::string>& args, size_t first, const std::vector<Flag>& flags,
                     const std::string& command) {
    const std::string prefix = command.empty() ? "" : command + ": ";
    const auto find = [&flags](const std::string& name) {
        return std::find_if(flags.begin(), flags.end(), [&name](const Flag& f) { return f.name == name; });
    };
    for (size_t i = first; i < args.size(); ++i) {
        std::string a = args[i];
        if (a == "-h" && find("help") != flags.end()) a = "--help";
        if (a.rfind("--", 0) != 0 || a == "--") {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        std::optional<std::string> inline_value;
        if (const size_t eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const auto flag = find(name);
        if (flag == flags.end()) throw Error(prefix + "unknown option --" + name);
        if (!flag->takes_value) {
            if (inline_value) throw Error(prefix + "option --" + name + " takes no value");
            values_.emplace_back(name, "");
        } else if (inline_value) {
            values_.emplace_back(name, *inline_value);
        } else {
            if (i + 1 >= args.size()) throw Error(prefix + "option --" + name + " needs a value");
            values_.emplace_back(name, args[++i]);
        }
    }
}

std::optional<std::string> Arguments::value(const std::string& name) const {
    for (auto it = values_.rbegin(); it != values_.rend(); ++it)
        if (it->first == name) return it->second;
    return std::nullopt;
}

std::vector<std::string> Arguments::all(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_)
        if (k == name) out.push_back(v);
    return out;
}

long parse_positive(const std::string& what, const std::string& s) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v <= 0) throw Error(what + ": '" + s + "' is not a positive integer");
    return v;
}

int64_t parse_integer(const std::string& what, const std::string& s, int64_t lo) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v < lo)
        throw Error(what + ": '" + s + "' is not a number >= " + std::to_string(lo));
    return v;
}

double parse_number(const std::string& what, const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') throw Error(what + ": '" + s + "' is not a number");
    return v;
}

long Arguments::positive(const std::string& name, long fallback) const {
    const auto v = value(name);
    return v ? parse_positive("--" + name, *v) : fallback;
}

int64_t Arguments::integer(const std::string& name, int64_t fallback, int64_t lo) const {
    const auto v = value(name);
    return v ? parse_integer("--" + name, *v, lo) : fallback;
}

double Arguments::number(const std::string& name, double fallback) const {
    const auto v = value(name);
    return v ? parse_number("--" + name, *v) : fallback;
}

double Arguments::positive_number(const std::string& name, double fallback) const {
    const auto v = value(name);
    if (!v) return fallback;
    const double x = parse_number("--" + name, *v);
    if (!(x > 0)) throw Error("--" + name + ": '" + *v + "' is not a positive number");
    return x;
}

} // namespace statescope::cli
