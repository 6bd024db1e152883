// Errors that reach the user. Every message names the file, tensor or setting at fault, so the
// app and the CLI can show it as it is.
#pragma once
#include <stdexcept>
#include <string>

namespace statescope {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws Error(message) when cond is false. Used for input validation, never for programming bugs.
inline void require(bool cond, const std::string& message) {
    if (!cond) throw Error(message);
}

} // namespace statescope
