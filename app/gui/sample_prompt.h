// The sample prompt the app runs when the command line names none: data/prompts/default.txt,
// read at run time from the data folder the build names (STATESCOPE_DATA_DIR).
#pragma once
#include <string>

namespace statescope::app {

// The prompt's text without its final line break; throws Error naming the file when it cannot
// be read.
std::string sample_prompt();

} // namespace statescope::app
