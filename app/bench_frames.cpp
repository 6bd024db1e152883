// statescope-bench-frames: how many view updates per second stepping through a sequence costs,
// measured on the engine worker the app uses (everything a frame computes: the state, the exact
// and softmax attention maps over the window, the spectrum of the transitions, the overview
// grid), and the paint of the views is not included. Also how long a jump back costs.
//   statescope-bench-frames [MODEL_DIR] [--tokens N] [--frames F] [--window W]
#include "engine_worker.h"
#include "frame.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

using namespace statescope;
using namespace statescope::app;

int main(int argc, char** argv) {
    QCoreApplication qapp(argc, argv);
    QString model = QString(STATESCOPE_ASSETS_DIR) + "/models/deltanet-negeig-tiny";
    int tokens = 512, frames = 300, window = 32;
    const QStringList args = qapp.arguments();
    for (int i = 1; i < args.size(); ++i) {
        auto next = [&]() -> int {
            if (i + 1 >= args.size()) { std::fprintf(stderr, "%s needs a value\n", qPrintable(args[i])); std::exit(2); }
            return args[++i].toInt();
        };
        if (args[i] == "--tokens") tokens = next();
        else if (args[i] == "--frames") frames = next();
        else if (args[i] == "--window") window = next();
        else model = args[i];
    }
    std::shared_ptr<const ModelSummary> summary;
    int frames_done = 0;
    QString failure;
    EngineWorker w({[&](auto s) { summary = s; }, [&](auto) { ++frames_done; }, [](auto) {},
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
    auto run = [&](const char* what, const std::vector<int64_t>& positions) {
        std::vector<double> ms;
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
            w.frame(f);
            ms.push_back(double(t.nsecsElapsed()) / 1e6);
        }
        std::sort(ms.begin(), ms.end());
        double sum = 0;
        for (double x : ms) sum += x;
        std::printf("%-12s %8zu %12.1f %10.2f %10.2f %10.2f\n", what, ms.size(), 1000.0 * double(ms.size()) / sum,
                    ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
    };
    std::printf("model: %s (%s, %d layers), %d tokens, window %d\n", qPrintable(model),
                summary->info.family.c_str(), layers, tokens, window);
    std::printf("%-12s %8s %12s %10s %10s %10s\n", "motion", "frames", "frames/s", "median ms", "p90 ms", "max ms");
    std::vector<int64_t> forward, backward, jumps;
    for (int i = 0; i < frames; ++i) forward.push_back(i % tokens);
    for (int i = 0; i < frames; ++i) backward.push_back(tokens - 1 - i % tokens);
    std::uniform_int_distribution<int64_t> anywhere(0, tokens - 1);
    for (int i = 0; i < frames; ++i) jumps.push_back(anywhere(rng));
    run("step fwd", forward);
    run("step back", backward);
    run("jump", jumps);
    std::printf("frames produced: %d of %d requested\n", frames_done, 3 * frames);
    if (frames_done == 0) {
        std::fprintf(stderr, "statescope-bench-frames: no frame was produced: %s\n", qPrintable(failure));
        return 1;
    }
    return 0;
}
