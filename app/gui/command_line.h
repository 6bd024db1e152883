// The desktop app's command line:
//   statescope [MODEL_DIR] [--model DIR] [--prompt TEXT | --tokens IDS | --task-seed S [--task-size N]]
//              [--token N] [--layer L] [--head H] [--window N] [--size WxH] [--screenshot FILE.png]
//              [--export DIR] [--play RATE] [--lesson NAME [--lesson-step N]] [--presenter]
//   statescope FILE.statescope [--bookmark NAME] [--size WxH] [--screenshot FILE.png] [--export DIR] [--play RATE]
#pragma once
#include "statescope/frames/token_input.h"
#include "statescope/model.h"

#include <QSize>
#include <QString>
#include <QStringList>
#include <optional>
#include <string>

namespace statescope::app {

struct CommandLine {
    QString model;              // empty: the bundled default model
    QString session;            // a saved session to open instead (FILE.statescope)
    QString bookmark;           // ... at this bookmark of it
    std::optional<std::string> prompt, tokens;
    // A sample of the model's task (task.json): the seed and size; the app runs one (seed 1)
    // when a model with a task is opened with no prompt or tokens.
    std::optional<uint64_t> task_seed;
    int64_t task_size = 0;
    std::optional<int64_t> token;
    std::optional<int> layer, head, window;
    QSize size{1600, 1000};
    QString screenshot;         // render the whole window to this PNG and exit
    QString export_dir;         // write every view's picture and numbers here and exit
    QString lesson;             // open this lesson (data/lessons/NAME.json) on its first step
    int lesson_step = 1;        // ... or on this one (1-based)
    bool presenter = false;     // start in presenter mode (full screen; --size with --screenshot)
    std::optional<double> play; // start playing at this rate (tokens per second) once the model is shown
    bool help = false;
};

// Throws statescope::Error with a message for the user on a bad argument (statescope-cli's parser,
// app/cli/arguments.h).
CommandLine parse_command_line(const QStringList& args); // args without the program name
QString usage();

// The model opened when none is named: the bundled demonstration model (assets/models), found
// beside the installed program or in the source tree it was built from. Empty if neither exists.
QString default_model_path();

// What the app runs first on `model`: the command line's prompt or tokens; else a sample of the
// model's task when it has one (the command line's seed, else seed 1); else the sample prompt.
// Throws Error naming the flag or file at fault.
frames::TokenInput initial_input(const CommandLine& cl, const QString& model);

// Why the command line's --token, --layer or --head do not fit the opened model and its
// sequence, worded as statescope-cli export words it ("--layer: layer 5 does not exist (the model
// has 2 layers: 0..1)"); empty when they fit or were not given. The app refuses them instead
// of clamping them silently.
std::string position_error(const CommandLine& cl, const ModelInfo& info, int64_t tokens);



} // namespace statescope::app
