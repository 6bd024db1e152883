// The desktop app's command line:
//   statescope [MODEL_DIR] [--model DIR] [--prompt TEXT | --tokens IDS] [--token N] [--layer L]
//              [--head H] [--window N] [--size WxH] [--screenshot FILE.png] [--export DIR]
#pragma once
#include <QSize>
#include <QString>
#include <QStringList>
#include <optional>
#include <string>

namespace statescope::app {

struct CommandLine {
    QString model;              // empty: the bundled default model
    std::optional<std::string> prompt, tokens;
    std::optional<int64_t> token;
    std::optional<int> layer, head, window;
    QSize size{1600, 1000};
    QString screenshot;         // render the whole window to this PNG and exit
    QString export_dir;         // write every view's picture and numbers here and exit
    bool help = false;
};

// Throws statescope::Error with a message for the user on a bad argument (statescope-cli's parser,
// app/cli/arguments.h).
CommandLine parse_command_line(const QStringList& args); // args without the program name
QString usage();

// The model opened when none is named: the bundled one (assets/models), found beside the
// installed program or in the source tree it was built from. Empty if neither exists.
QString default_model_path();

} // namespace statescope::app
