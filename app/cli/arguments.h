// The one command-line parser of statescope-cli's subcommands (and of the desktop app): each
// command declares its flags, and every argument is checked against them. "--name value" and
// "--name=value" give a flag its value; a flag without a value names itself; the other arguments
// are positional. Every problem is an Error naming the flag: a flag given without its value, an
// unknown flag, a value that is not the number it should be.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace statescope::cli {

struct Flag {
    std::string name;        // without the leading "--"
    bool takes_value = true; // false: a switch ("--profile")
};

class Arguments {
public:
    // Parses args[first ..]. `command` prefixes the messages ("export: unknown option --x").
    // "-h" is "--help" when the command has a help flag.
    Arguments(const std::vector<std::string>& args, size_t first, const std::vector<Flag>& flags, const std::string& command);

    const std::vector<std::string>& positional() const { return positional_; }
    bool has(const std::string& name) const { return value(name).has_value(); }
    // The flag's value (the last one given), or nothing.
    std::optional<std::string> value(const std::string& name) const;
    std::string get(const std::string& name, const std::string& fallback = "") const { return value(name).value_or(fallback); }
    // Every value given for a flag that may repeat ("--bookmark a --bookmark b"), in order.
    std::vector<std::string> all(const std::string& name) const;

    // Numbers, or an Error "--name: 'x' is not ...".
    long positive(const std::string& name, long fallback) const;                         // > 0
    int64_t integer(const std::string& name, int64_t fallback, int64_t lo = 0) const;     // >= lo
    double number(const std::string& name, double fallback) const;                        // any
    double positive_number(const std::string& name, double fallback) const;               // > 0

private:
    std::vector<std::string> positional_;
    std::vector<std::pair<std::string, std::string>> values_;
};

// The same checks for a value that is not a flag's whole value (parts of "BxT", "WxH").
long parse_positive(const std::string& what, const std::string& s);
int64_t parse_integer(const std::string& what, const std::string& s, int64_t lo);
double parse_number(const std::string& what, const std::string& s);

} // namespace statescope::cli
