#include "sample_prompt.h"

#include "statescope/error.h"

#include <fstream>
#include <iterator>

namespace statescope::app {

std::string sample_prompt() {
    const std::string path = std::string(STATESCOPE_DATA_DIR) + "/prompts/default.txt";
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot read the sample prompt " + path + " (the data folder is missing or incomplete)");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) throw Error("the sample prompt " + path + " is empty");
    return text;
}

} // namespace statescope::app
