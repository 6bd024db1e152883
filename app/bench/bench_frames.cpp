// statescope-bench-frames: how many view updates per second stepping through a sequence costs.
// Each frame is computed on the engine worker the app uses (the focused state, the exact and
// softmax attention maps over the window, the spectrum of the transitions, the overview grid),
// then drawn as the window draws it: the views are filled by the window's own code
// (views/view_content.h) and render into offscreen images at about their size in a 1600x1000 window
// (state, both attention maps, spectrum, overview, and the curves with the new position marked;
// the 3-D trajectory, drawn by OpenGL, is not) through their own paint events (QWidget::render).
// Compute and paint are timed apart, and together.
//   statescope-bench-frames [MODEL_DIR] [--tokens N] [--frames F] [--window W]
#include "app/gui/engine_worker.h"
#include "arguments.h"
#include "statescope/error.h"
#include "views/curves_view.h"
#include "views/eigen_view.h"
#include "views/heatmap_view.h"
#include "views/overview_grid.h"
#include "views/view_content.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <vector>

using namespace statescope;
using namespace statescope::app;

namespace {

// The views of the window that follow the position, each at about its size in the window.
struct Views {
    views::HeatmapView state{"state"}, exact{"attention-exact"}, softmax{"attention-softmax"};
    views::EigenView eigen;
    views::OverviewGrid overview;
    views::CurvesView curves;

    Views() {
        softmax.set_colormap(views::Colormap::sequential());
        state.resize(560, 480);
        exact.resize(380, 300);
        softmax.resize(380, 300);
        eigen.resize(760, 300);
        overview.resize(230, 480);
        curves.resize(900, 260);
    }
    std::vector<std::pair<views::Figure*, QWidget*>> all() {
        return {{&state, &state}, {&exact, &exact}, {&softmax, &softmax}, {&eigen, &eigen}, {&overview, &overview}, {&curves, &curves}};
    }
    std::map<QString, double> paint_ms; // per view, summed over all frames
    int painted = 0;
    // Fills every view with the frame as MainWindow::on_frame does and paints it.
    void paint(const FrameResult& f, const LayerInfo& layer) {
        ++painted;
        views::show_state(state, f, layer);
        views::show_attention(exact, softmax, f);
        views::show_eigen(eigen, f);
        views::show_overview(overview, f);
        curves.set_current(f.token);
        for (auto [figure, widget] : all()) {
            if (widget == &softmax && !f.recurrent) continue; // the window hides it for softmax layers
            QElapsedTimer t;
            t.start();
            // The widget's own paint event, as on screen (views may keep what did not change).
            QImage img(widget->size(), QImage::Format_ARGB32_Premultiplied);
            widget->render(&img);
            paint_ms[figure->figure_name()] += double(t.nsecsElapsed()) / 1e6;
        }
    }
};

} // namespace

int main(int argc, char** argv) {
    // The views draw into images: no display is needed.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication qapp(argc, argv);
    std::string model = std::string(STATESCOPE_ASSETS_DIR) + "/models/deltanet-negeig-tiny";
    int tokens = 512, frames = 300, window = 32;
    try {
        const cli::Arguments a(std::vector<std::string>(argv, argv + argc), 1, {{"tokens"}, {"frames"}, {"window"}}, "");
        tokens = int(a.positive("tokens", tokens));
        frames = int(a.positive("frames", frames));
        window = int(a.positive("window", window));
        if (a.positional().size() > 1) throw Error("more than one MODEL_DIR given");
        if (!a.positional().empty()) model = a.positional()[0];
    } catch (const Error& e) {
        std::fprintf(stderr, "statescope-bench-frames: %s\n", e.what());
        return 2;
    }
    std::shared_ptr<const ModelSummary> summary;
    std::shared_ptr<const FrameResult> last_frame;
    std::shared_ptr<const SequenceResult> sequence;
    int frames_done = 0;
    QString failure;
    EngineWorker w({[&](auto s) { summary = s; },
                    [&](auto f) {
                        last_frame = f;
                        ++frames_done;
                    },
                    [&](auto s) { sequence = s; },
                    [&](uint64_t, uint64_t, QString what, QString msg) { failure = what + ": " + msg; },
                    [&](uint64_t, QString msg, auto) { failure = "load: " + msg; }, {}});
    LoadRequest load;
    load.session = 1;
    load.path = model;
    std::mt19937 rng(1);
    std::vector<int32_t> ids(size_t(std::max(tokens, 1)));
    w.latest_session = 1;
    {
        // Token ids drawn below the smallest vocabulary of the bundled and reference models.
        std::uniform_int_distribution<int32_t> d(0, 255);
        for (auto& t : ids) t = d(rng);
    }
    load.input.ids = ids;
    w.load(load);
    if (!summary) {
        std::fprintf(stderr, "statescope-bench-frames: %s\n", qPrintable(failure));
        return 1;
    }
    const int layers = int(summary->info.layers.size());
    Views views;
    {
        // The curves of layer 0, computed once as the window does: a frame only moves their marker.
        SequenceRequest r;
        r.session = 1;
        r.generation = w.latest_sequence = 1;
        r.window = window;
        w.sequence(r);
        if (!sequence) {
            std::fprintf(stderr, "statescope-bench-frames: no curves: %s\n", qPrintable(failure));
            return 1;
        }
        views::show_curves(views.curves, *sequence, 0);
    }
    auto run = [&](const char* what, const std::vector<int64_t>& positions) {
        std::vector<double> compute_ms, paint_ms, total_ms;
        uint64_t gen = 0;
        for (size_t i = 0; i < positions.size(); ++i) {
            FrameRequest f;
            f.session = 1;
            f.generation = ++gen;
            w.latest_frame = f.generation;
            f.token = positions[i];
            f.layer = int(i / 50) % layers; // visit every layer, 50 frames each
            f.head = 0;
            f.window = window;
            QElapsedTimer t;
            t.start();
            last_frame.reset();
            w.frame(f);
            const double c = double(t.nsecsElapsed()) / 1e6;
            if (!last_frame) continue; // failed: counted below
            t.restart();
            views.paint(*last_frame, summary->info.layers[size_t(f.layer)]);
            const double p = double(t.nsecsElapsed()) / 1e6;
            compute_ms.push_back(c);
            paint_ms.push_back(p);
            total_ms.push_back(c + p);
        }
        if (total_ms.empty()) return;
        auto rate = [](const std::vector<double>& v) {
            double sum = 0;
            for (double x : v) sum += x;
            return 1000.0 * double(v.size()) / sum;
        };
        const double compute_rate = rate(compute_ms), paint_rate = rate(paint_ms), total_rate = rate(total_ms);
        std::sort(total_ms.begin(), total_ms.end());
        std::printf("%-12s %8zu %12.1f %12.1f %12.1f %10.2f %10.2f %10.2f\n", what, total_ms.size(), compute_rate, paint_rate,
                    total_rate, total_ms[total_ms.size() / 2], total_ms[total_ms.size() * 9 / 10], total_ms.back());
    };
    std::printf("model: %s (%s, %d layers), %d tokens, window %d\n", model.c_str(),
                summary->info.family.c_str(), layers, tokens, window);
    std::printf("%-12s %8s %12s %12s %12s %10s %10s %10s\n", "motion", "frames", "compute/s", "paint/s", "frames/s",
                "median ms", "p90 ms", "max ms");
    std::vector<int64_t> forward, backward, jumps;
    for (int i = 0; i < frames; ++i) forward.push_back(i % tokens);
    for (int i = 0; i < frames; ++i) backward.push_back(tokens - 1 - i % tokens);
    std::uniform_int_distribution<int64_t> anywhere(0, tokens - 1);
    for (int i = 0; i < frames; ++i) jumps.push_back(anywhere(rng));
    run("step fwd", forward);
    run("step back", backward);
    run("jump", jumps);
    std::printf("paint per frame, ms:");
    for (const auto& [name, ms] : views.paint_ms) std::printf("  %s %.2f", qPrintable(name), ms / std::max(1, views.painted));
    std::printf("\n(a view counts when it painted; softmax layers hide the softmax map)\n");
    std::printf("frames produced: %d of %d requested\n", frames_done, 3 * frames);
    if (frames_done == 0) {
        std::fprintf(stderr, "statescope-bench-frames: no frame was produced: %s\n", qPrintable(failure));
        return 1;
    }
    return 0;
}
