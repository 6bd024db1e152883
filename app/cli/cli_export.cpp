// statescope-cli export: one view of one model at one token, as a picture (PNG, SVG, PDF) or its
// numbers (CSV, NPY), for scripts and papers. It draws with the desktop app's views, filled by
// the code the window uses (frames/frame_compute.h computes, views/view_content.h fills the views,
// and views/figure.h writes the files and their metadata), so the figure is the one the window
// shows. That is why statescope-cli links the views when the app is built. Nothing is shown:
// the views render into the file on Qt's offscreen platform, so no display is needed.
#include "commands.h"
#include "statescope/error.h"
#include "statescope/session.h"
#include "statescope/frames/frame_compute.h"
#include "statescope/frames/token_input.h"
#include "statescope/model.h"
#include "statescope/timeline.h"
#include "views/attention_row_view.h"
#include "views/curves_view.h"
#include "views/eigen_view.h"
#include "views/heatmap_view.h"
#include "views/overview_grid.h"
#include "views/prediction_view.h"
#include "views/view_content.h"

#include <QApplication>
#include <QFileInfo>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace statescope::cli {

namespace {

// The views export can write, with the figure size used when --size is not given.
struct ViewKind {
    const char* name;
    QSize size;
};
const ViewKind kViews[] = {
    {"state", {560, 520}},  {"attention", {560, 520}}, {"attention-softmax", {560, 520}},
    {"eigen", {760, 440}},  {"curves", {900, 440}},    {"overview", {320, 420}},
    {"prediction", {760, 360}}, {"prediction-curve", {760, 360}}, {"attention-row", {760, 360}},
};

std::string view_names() {
    std::string s;
    for (const ViewKind& v : kViews) s += std::string(s.empty() ? "" : ", ") + v.name;
    return s;
}

struct ExportArgs {
    std::string model, view, out;
    std::optional<std::string> tokens, prompt;
    std::optional<uint64_t> task_seed; // a sample of the model's task (task.json), with its targets
    int64_t task_size = 0;
    int layer = 0, head = 0, window = 32;
    std::optional<int64_t> token;
    std::optional<QSize> size;
    std::optional<views::ScaleMode> scale; // heatmaps only
    double fixed_limit = 0;
};

// `export FILE.statescope --bookmark NAME`: the model, sequence, position and view the bookmark
// saved, and the scale the session's view had; --view and --size may still be given.
void from_session(const Arguments& args, ExportArgs& a) {
    for (const char* flag : {"tokens", "prompt", "layer", "head", "token", "window"})
        if (args.has(flag))
            throw Error("--" + std::string(flag) + ": a session's bookmark sets it; export FILE.statescope takes only --bookmark, "
                        "--view, --out, --size and --scale");
    const std::string path = a.model;
    const session::Session s = session::load(path);
    const std::string name = args.get("bookmark");
    if (name.empty()) throw Error("export " + path + " needs --bookmark NAME (" + std::to_string(s.bookmarks.size()) +
                                  " in the session: statescope-cli session info " + path + ")");
    const session::Bookmark* b = nullptr;
    for (const session::Bookmark& m : s.bookmarks)
        if (m.name == name) b = &m;
    if (!b) throw Error("--bookmark: " + path + " has no bookmark named '" + name + "'");
    if (!std::filesystem::exists(s.model.path))
        throw Error(path + ": its model " + s.model.path + " is not there any more (moved or deleted)");
    const std::string now = session::model_identity(s.model.path);
    if (now != s.model.identity)
        throw Error(path + ": the checkpoint at " + s.model.path + " has changed since the session was saved (identity " +
                    s.model.identity + ", now " + now + ")");
    a.model = s.model.path;
    std::string ids;
    for (int32_t id : s.tokens) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    a.tokens = ids;
    a.token = b->token;
    a.layer = b->layer;
    a.head = b->head;
    a.window = s.window;
    if (!args.has("view") && !b->view.empty()) a.view = b->view;
    if (args.has("scale")) return;
    for (const session::ViewSettings& v : s.views) {
        if (v.view != a.view) continue;
        if (v.scale == "symlog") {
            a.scale = views::ScaleMode::SymLog;
        } else if (v.scale == "fixed" && v.fixed_limit > 0) {
            a.scale = views::ScaleMode::Fixed;
            a.fixed_limit = v.fixed_limit;
        }
    }
}

ExportArgs parse(const Arguments& args) {
    ExportArgs a;
    a.tokens = args.value("tokens");
    a.prompt = args.value("prompt");
    if (args.has("task-seed")) a.task_seed = uint64_t(args.integer("task-seed", 0));
    a.task_size = args.integer("task-size", 0);
    if (args.has("task-size") && !a.task_seed) throw Error("--task-size: only with --task-seed");
    a.view = args.get("view");
    a.out = args.get("out");
    a.layer = int(args.integer("layer", 0));
    a.head = int(args.integer("head", 0));
    if (args.has("token")) a.token = args.integer("token", 0);
    a.window = int(args.integer("window", 32, 1));
    if (const auto v = args.value("size")) {
        const size_t x = v->find('x');
        if (x == std::string::npos) throw Error("--size: '" + *v + "' is not WxH, e.g. 800x600");
        a.size = QSize(int(parse_integer("--size", v->substr(0, x), 100)), int(parse_integer("--size", v->substr(x + 1), 100)));
    }
    if (const auto v = args.value("scale")) {
        // per-frame | symlog | fixed:L (the same modes as the app's scale boxes)
        if (*v == "per-frame") a.scale = views::ScaleMode::PerFrame;
        else if (*v == "symlog") a.scale = views::ScaleMode::SymLog;
        else if (v->rfind("fixed:", 0) == 0) {
            char* end = nullptr;
            a.fixed_limit = std::strtod(v->c_str() + 6, &end);
            if (*end != '\0' || !(a.fixed_limit > 0)) throw Error("--scale: '" + *v + "' needs a positive limit, e.g. fixed:0.5");
            a.scale = views::ScaleMode::Fixed;
        } else throw Error("--scale: '" + *v + "' is not one of per-frame, symlog, fixed:LIMIT");
    }
    if (args.positional().size() != 1) throw Error("export needs exactly one MODEL_DIR");
    a.model = args.positional()[0];
    if (a.model.size() > 11 && a.model.compare(a.model.size() - 11, 11, ".statescope") == 0) from_session(args, a);
    else if (args.has("bookmark")) throw Error("--bookmark: only with a FILE.statescope in place of MODEL_DIR");
    // Everything that can be checked without the model is checked before it loads.
    if (a.view.empty()) throw Error("export needs --view (" + view_names() + ")");
    bool known = false;
    for (const ViewKind& v : kViews) known = known || a.view == v.name;
    if (!known) throw Error("--view: '" + a.view + "' is not one of " + view_names());
    if (a.out.empty()) throw Error("export needs --out FILE.png|svg|pdf|csv|npy");
    const QString out = QString::fromStdString(a.out);
    if (!views::is_image_format(out) && !views::is_data_format(out)) {
        const std::string suffix = QFileInfo(out).suffix().toStdString();
        throw Error("--out: '" + a.out + "' " + (suffix.empty() ? "has no suffix naming its format" : "has an unknown format '." + suffix + "'") +
                    " (use .png, .svg, .pdf for a picture or .csv, .npy for its numbers)");
    }
    if (int(a.tokens.has_value()) + int(a.prompt.has_value()) + int(a.task_seed.has_value()) != 1)
        throw Error("export needs --tokens IDS, --prompt TEXT or --task-seed S (one of them)");
    if (a.scale && a.view != "state" && a.view != "attention" && a.view != "attention-softmax")
        throw Error("--scale: the " + a.view + " view has no colour scale (state and attention views do)");
    return a;
}

// Qt needs an application object for widgets; the offscreen platform draws without a display
// (a platform the user chose through QT_QPA_PLATFORM is kept).
std::unique_ptr<QApplication> make_application() {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "statescope-cli";
    static char* argv[] = {name, nullptr};
    return std::make_unique<QApplication>(argc, argv);
}

} // namespace

int cmd_export(const Arguments& args) {
    const ExportArgs a = parse(args);
    const QString model_path = QString::fromStdString(a.model);

    auto model = load_model(a.model);
    const ModelInfo& info = model->info();
    frames::TokenCodec codec(a.model);
    const frames::TokenInput input = codec.encode(a.task_seed ? frames::tokens_from_task(a.model, *a.task_seed, a.task_size)
                                                  : a.tokens  ? frames::tokens_from_ids(*a.tokens)
                                                              : frames::tokens_from_text(*a.prompt));
    if (input.ids.empty()) throw Error("--prompt: the text gives no tokens");
    const int64_t length = int64_t(input.ids.size());
    if (a.layer >= info.num_layers)
        throw Error("--layer: layer " + std::to_string(a.layer) + " does not exist (the model has " +
                    std::to_string(info.num_layers) + " layers: 0.." + std::to_string(info.num_layers - 1) + ")");
    const LayerInfo& L = info.layers[size_t(a.layer)];
    if (a.head >= L.heads)
        throw Error("--head: head " + std::to_string(a.head) + " does not exist in layer " + std::to_string(a.layer) + " (" +
                    std::to_string(L.heads) + " heads: 0.." + std::to_string(L.heads - 1) + ")");
    const int64_t token = a.token.value_or(length - 1);
    if (token >= length)
        throw Error("--token: token " + std::to_string(token) + " is outside the sequence (" + std::to_string(length) +
                    " tokens: 0.." + std::to_string(length - 1) + ")");
    const bool softmax_layer = L.mixer == MixerKind::SoftmaxAttention;
    if (softmax_layer && a.view == "eigen")
        throw Error("--view eigen: layer " + std::to_string(a.layer) + " is softmax attention and has no transition matrix");
    if (softmax_layer && a.view == "attention-softmax")
        throw Error("--view attention-softmax: layer " + std::to_string(a.layer) +
                    " is softmax attention; its own map is --view attention");

    Timeline timeline(*model);
    timeline.append(input.ids);
    frames::FrameRequest fr;
    fr.token = token;
    fr.layer = a.layer;
    fr.head = a.head;
    fr.window = a.window;
    // The prediction is judged against the task's target, else the token that follows (as in the window).
    const std::vector<int32_t> targets = frames::prediction_targets(input.ids, input.targets);
    fr.target = targets[size_t(token)];
    fr.task_target = !input.targets.empty();
    frames::FrameComputer computer;
    computer.set_labeler([&codec](int32_t id) { return codec.label(id); });
    const frames::FrameResult frame = computer.compute(timeline, fr);

    auto qapp = make_application();
    QSize size;
    for (const ViewKind& v : kViews)
        if (a.view == v.name) size = a.size.value_or(v.size);
    std::unique_ptr<QWidget> widget;
    views::Figure* figure = nullptr;
    std::unique_ptr<views::Figure> curve_figure; // prediction-curve: the prediction view's numbers per token
    if (a.view == "state") {
        auto v = std::make_unique<views::HeatmapView>("state");
        views::show_state(*v, frame, L);
        figure = v.get();
        widget = std::move(v);
    } else if (a.view == "attention" || a.view == "attention-softmax") {
        auto exact = std::make_unique<views::HeatmapView>("attention-exact");
        auto softmax = std::make_unique<views::HeatmapView>("attention-softmax");
        softmax->set_colormap(views::Colormap::sequential());
        softmax->set_title("Softmax of the same q·k");
        for (auto* v : {exact.get(), softmax.get()}) v->set_axis_labels("query token", "key token");
        views::show_attention(*exact, *softmax, frame, input.labels);
        widget = a.view == "attention" ? std::move(exact) : std::move(softmax);
        figure = static_cast<views::HeatmapView*>(widget.get());
    } else if (a.view == "eigen") {
        auto v = std::make_unique<views::EigenView>();
        views::show_eigen(*v, frame);
        figure = v.get();
        widget = std::move(v);
    } else if (a.view == "overview") {
        auto v = std::make_unique<views::OverviewGrid>();
        views::show_overview(*v, frame);
        figure = v.get();
        widget = std::move(v);
    } else if (a.view == "attention-row") {
        auto v = std::make_unique<views::AttentionRowView>();
        views::show_attention_row(*v, frame, input.labels);
        figure = v.get();
        widget = std::move(v);
    } else { // curves, prediction: both need the whole sequence
        frames::SequenceRequest sr;
        sr.layer = a.layer;
        sr.head = a.head;
        sr.window = a.window;
        sr.targets = targets;
        sr.task_targets = fr.task_target;
        const frames::SequenceResult seq = frames::compute_sequence(timeline, sr);
        if (a.view == "prediction" || a.view == "prediction-curve") {
            auto v = std::make_unique<views::PredictionView>();
            views::show_prediction(*v, frame, input.labels);
            views::show_prediction_curve(*v, seq, token);
            if (a.view == "prediction-curve") curve_figure = std::make_unique<views::PredictionCurveFigure>(*v);
            figure = curve_figure ? curve_figure.get() : static_cast<views::Figure*>(v.get());
            widget = std::move(v);
        } else {
            auto v = std::make_unique<views::CurvesView>();
            views::show_curves(*v, seq, token);
            figure = v.get();
            widget = std::move(v);
        }
    }
    widget->resize(size);
    if (a.scale) {
        auto* heatmap = static_cast<views::HeatmapView*>(figure);
        heatmap->set_scale_mode(*a.scale);
        if (*a.scale == views::ScaleMode::Fixed) heatmap->set_fixed_limit(a.fixed_limit);
    }

    const QString out = QString::fromStdString(a.out);
    const views::FigureMetadata meta = views::figure_metadata(model_path, frame, a.window);
    QString error;
    const bool ok = views::is_image_format(out) ? views::export_figure_image(*figure, out, &error, meta)
                                                : views::export_figure_data(*figure, out, &error, meta);
    if (!ok) throw Error(error.toStdString());
    std::printf("wrote %s: %s of layer %d, head %d after token %lld (%s)\n", a.out.c_str(), a.view.c_str(), frame.layer,
                frame.head, static_cast<long long>(frame.token), qPrintable(meta.describe(figure->figure_name())));
    return 0;
}

} // namespace statescope::cli
