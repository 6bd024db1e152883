#include "command_line.h"

#include "arguments.h"
#include "statescope/error.h"
#include "sample_prompt.h"
#include "statescope/task.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <cstdlib>

namespace statescope::app {

namespace {
constexpr const char* kDefaultModel = "mqar-deltanet";
} // namespace

QString usage() {
    return "usage: statescope [MODEL_DIR] [--model DIR] [--prompt TEXT | --tokens IDS | --task-seed S [--task-size N]]\n"
           "                  [--token N] [--layer L] [--head H] [--window N] [--size WxH]\n"
           "                  [--screenshot FILE.png] [--export DIR] [--play RATE]\n"
           "                  [--lesson NAME [--lesson-step N]] [--presenter]\n"
           "       statescope FILE.statescope [--bookmark NAME] [--size WxH] [--screenshot FILE.png] [--export DIR]\n"
           "                  [--play RATE]\n"
           "\n"
           "  FILE.statescope         a saved session: its model, tokens, position, views and bookmarks\n"
           "  --bookmark NAME         open the session at this bookmark\n"
           "  MODEL_DIR, --model DIR  checkpoint folder (config.json + model.safetensors) or its config.json;\n"
           "                          default: the bundled " + QString(kDefaultModel) + "\n"
           "  --prompt TEXT           text to run, one token per UTF-8 byte\n"
           "  --tokens IDS            token ids to run: 1,2,3\n"
           "  --task-seed S           run the sample of the model's task (task.json) drawn with seed S;\n"
           "                          a model with a task opens on seed 1 unless --prompt or --tokens\n"
           "  --task-size N           its size: MQAR pairs, parity/S3 length, selective-copy region\n"
           "  --token N               start at token N (default: the last)\n"
           "  --layer L, --head H     focus this layer and head\n"
           "  --window N              tokens spanned by the attention maps and the transition product (32)\n"
           "  --size WxH              window size (1600x1000)\n"
           "  --screenshot FILE.png   render the whole window once everything is computed, save it, exit\n"
           "  --export DIR            write every view as PNG, SVG and PDF and its numbers as CSV and NPY\n"
           "                          into DIR once everything is computed, then exit\n"
           "  --lesson NAME           open a lesson of data/lessons (file name without .json, or its number);\n"
           "                          it opens its own models\n"
           "  --lesson-step N         start the lesson at step N (1-based)\n"
           "  --presenter             start in presenter mode (F5): full screen, or --size with --screenshot\n"
           "  --play RATE             play through the tokens at RATE tokens per second (0.5 to 120) once\n"
           "                          the model is shown (Space pauses)\n";
}

CommandLine parse_command_line(const QStringList& args) {
    std::vector<std::string> list;
    for (const QString& a : args) list.push_back(a.toStdString());
    const cli::Arguments a(list, 0,
                           {{"help", false}, {"model"}, {"prompt"}, {"tokens"}, {"token"}, {"layer"}, {"head"}, {"window"},
                            {"size"}, {"screenshot"}, {"export"}, {"task-seed"}, {"task-size"}, {"bookmark"}, {"play"},
                            {"lesson"}, {"lesson-step"}, {"presenter", false}},
                           "");
    CommandLine c;
    c.help = a.has("help");
    c.model = QString::fromStdString(a.get("model"));
    for (const std::string& p : a.positional()) {
        if (p.rfind('-', 0) == 0) throw Error("unknown option " + p);
        if (QString::fromStdString(p).endsWith(".statescope")) {
            if (!c.session.isEmpty()) throw Error("more than one session given: '" + c.session.toStdString() + "' and '" + p + "'");
            c.session = QString::fromStdString(p);
            continue;
        }
        if (!c.model.isEmpty())
            throw Error("more than one model given: '" + c.model.toStdString() + "' and '" + p + "'");
        c.model = QString::fromStdString(p);
    }
    c.prompt = a.value("prompt");
    c.tokens = a.value("tokens");
    if (a.has("token")) c.token = a.integer("token", 0);
    if (a.has("layer")) c.layer = int(a.integer("layer", 0));
    if (a.has("head")) c.head = int(a.integer("head", 0));
    if (a.has("window")) c.window = int(a.integer("window", 32, 1));
    c.screenshot = QString::fromStdString(a.get("screenshot"));
    c.export_dir = QString::fromStdString(a.get("export"));
    if (const auto v = a.value("size")) {
        const size_t x = v->find('x');
        if (x == std::string::npos || v->find('x', x + 1) != std::string::npos) throw Error("--size: expected WxH, e.g. 1600x1000");
        c.size = QSize(int(cli::parse_integer("--size", v->substr(0, x), 200)), int(cli::parse_integer("--size", v->substr(x + 1), 150)));
    }
    if (a.has("task-seed")) c.task_seed = uint64_t(a.integer("task-seed", 1));
    if (a.has("task-size")) c.task_size = a.integer("task-size", 0, 1);
    if (int(bool(c.prompt)) + int(bool(c.tokens)) + int(bool(c.task_seed)) > 1)
        throw Error("give one of --prompt, --tokens and --task-seed");
    if (a.has("task-size") && !c.task_seed) throw Error("--task-size sizes the sample of --task-seed; give both");
    c.lesson = QString::fromStdString(a.get("lesson"));
    if (a.has("lesson-step")) c.lesson_step = int(a.integer("lesson-step", 1, 1));
    if (a.has("lesson-step") && c.lesson.isEmpty()) throw Error("--lesson-step needs --lesson");
    c.presenter = a.has("presenter");
    if (!c.lesson.isEmpty() && (!c.model.isEmpty() || c.prompt || c.tokens || c.task_seed))
        throw Error("--lesson opens its own models and sequences; give no model, --prompt, --tokens or --task-seed with it");
    if (!c.lesson.isEmpty() && !c.session.isEmpty()) throw Error("give a session or a lesson, not both");
    if (const auto v = a.value("play")) {
        char* end = nullptr;
        const double rate = std::strtod(v->c_str(), &end);
        if (v->empty() || *end || !(rate >= 0.5 && rate <= 120))
            throw Error("--play: '" + *v + "' is not a rate of 0.5 to 120 tokens per second");
        c.play = rate;
    }
    c.bookmark = QString::fromStdString(a.get("bookmark"));
    if (!c.bookmark.isEmpty() && c.session.isEmpty()) throw Error("--bookmark names a bookmark of a session; give FILE.statescope too");
    if (!c.session.isEmpty())
        for (const char* flag : {"model", "prompt", "tokens", "task-seed", "task-size", "token", "layer", "head", "window"})
            if (a.has(flag))
                throw Error("--" + std::string(flag) + ": " + c.session.toStdString() +
                            " sets the model, the tokens and the position; open it alone (or with --bookmark)");
    if (!c.session.isEmpty() && !c.model.isEmpty())
        throw Error("give a model or a session, not both ('" + c.model.toStdString() + "' and '" + c.session.toStdString() + "')");
    return c;
}

QString default_model_path() {
    const QString app = QCoreApplication::applicationDirPath();
    const QStringList candidates = {
        app + "/../share/statescope/models/" + kDefaultModel,   // installed
        QString(STATESCOPE_ASSETS_DIR) + "/models/" + kDefaultModel, // built from a source tree
    };
    for (const QString& c : candidates)
        if (QFileInfo(c + "/config.json").exists()) return QDir(c).absolutePath();
    return {};
}

frames::TokenInput initial_input(const CommandLine& cl, const QString& model) {
    if (cl.tokens) return frames::tokens_from_ids(*cl.tokens);
    if (cl.prompt) return frames::tokens_from_text(*cl.prompt);
    if (cl.task_seed || (!model.isEmpty() && task::has_task(model.toStdString())))
        return frames::tokens_from_task(model.toStdString(), cl.task_seed.value_or(1), cl.task_size);
    return frames::tokens_from_text(sample_prompt());
}

std::string position_error(const CommandLine& cl, const ModelInfo& info, int64_t tokens) {
    const int layer = cl.layer.value_or(0);
    if (cl.layer && (layer < 0 || layer >= info.num_layers))
        return "--layer: layer " + std::to_string(layer) + " does not exist (the model has " + std::to_string(info.num_layers) +
               " layers: 0.." + std::to_string(info.num_layers - 1) + ")";
    if (cl.head && layer >= 0 && layer < int(info.layers.size())) {
        const int heads = info.layers[size_t(layer)].heads;
        if (*cl.head < 0 || *cl.head >= heads)
            return "--head: head " + std::to_string(*cl.head) + " does not exist in layer " + std::to_string(layer) + " (" +
                   std::to_string(heads) + " heads: 0.." + std::to_string(heads - 1) + ")";
    }
    if (cl.token && (*cl.token < 0 || *cl.token >= tokens))
        return "--token: token " + std::to_string(*cl.token) + " is outside the sequence (" + std::to_string(tokens) +
               " tokens: 0.." + std::to_string(tokens - 1) + ")";
    return {};
}

} // namespace statescope::app
