#include "command_line.h"

#include "core/error.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace statescope::app {

namespace {
constexpr const char* kDefaultModel = "deltanet-negeig-tiny";

int64_t to_int(const QString& flag, const QString& v, int64_t lo) {
    bool ok = false;
    const qlonglong n = v.toLongLong(&ok);
    if (!ok || n < lo) throw Error(flag.toStdString() + ": '" + v.toStdString() + "' is not a valid number");
    return n;
}
} // namespace

QString usage() {
    return "usage: statescope [MODEL_DIR] [--model DIR] [--prompt TEXT | --tokens IDS]\n"
           "                  [--token N] [--layer L] [--head H] [--window N] [--size WxH]\n"
           "                  [--screenshot FILE.png] [--export DIR]\n"
           "\n"
           "  MODEL_DIR, --model DIR  checkpoint folder (config.json + model.safetensors) or its config.json;\n"
           "                          default: the bundled " + QString(kDefaultModel) + "\n"
           "  --prompt TEXT           text to run, one token per UTF-8 byte\n"
           "  --tokens IDS            token ids to run: 1,2,3\n"
           "  --token N               start at token N (default: the last)\n"
           "  --layer L, --head H     focus this layer and head\n"
           "  --window N              tokens spanned by the attention maps and the transition product (32)\n"
           "  --size WxH              window size (1600x1000)\n"
           "  --screenshot FILE.png   render the whole window once everything is computed, save it, exit\n"
           "  --export DIR            write every view as PNG, SVG and PDF and its numbers as CSV and NPY\n"
           "                          into DIR once everything is computed, then exit\n";
}

CommandLine parse_command_line(const QStringList& args) {
    CommandLine c;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> QString {
            if (i + 1 >= args.size()) throw Error(a.toStdString() + " needs a value");
            return args[++i];
        };
        if (a == "-h" || a == "--help") c.help = true;
        else if (a == "--model") c.model = value();
        else if (a == "--prompt") c.prompt = value();
        else if (a == "--tokens") c.tokens = value();
        else if (a == "--token") c.token = to_int(a, value(), 0);
        else if (a == "--layer") c.layer = int(to_int(a, value(), 0));
        else if (a == "--head") c.head = int(to_int(a, value(), 0));
        else if (a == "--window") c.window = int(to_int(a, value(), 1));
        else if (a == "--screenshot") c.screenshot = value();
        else if (a == "--export") c.export_dir = value();
        else if (a == "--size") {
            const QStringList wh = value().split('x');
            if (wh.size() != 2) throw Error("--size: expected WxH, e.g. 1600x1000");
            c.size = QSize(int(to_int(a, wh[0], 200)), int(to_int(a, wh[1], 150)));
        } else if (a.startsWith("-")) throw Error("unknown option " + a.toStdString());
        else if (c.model.isEmpty()) c.model = a;
        else throw Error("more than one model given: '" + c.model.toStdString() + "' and '" + a.toStdString() + "'");
    }
    if (c.prompt && c.tokens) throw Error("give --prompt or --tokens, not both");
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

} // namespace statescope::app
