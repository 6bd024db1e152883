// statescope: the desktop app. See command_line.h for the arguments.
#include "command_line.h"
#include "core/error.h"
#include "main_window.h"
#include "token_input.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QSurfaceFormat>
#include <QTimer>
#include <cstdio>

using namespace statescope;

namespace {

// Saves the window once the model is loaded and every view has its data (or the load failed),
// then quits. Exit status: 0 saved with a model shown, 2 saved showing a load error, 1 not saved.
void schedule_screenshot(app::MainWindow& w, const QString& path) {
    auto* clock = new QElapsedTimer;
    clock->start();
    auto* poll = new QTimer(&w);
    poll->setInterval(100);
    QObject::connect(poll, &QTimer::timeout, &w, [&w, path, poll, clock] {
        app::Controller& c = w.controller();
        const bool failed = !c.has_model() && !c.loading() && !w.error_text().isEmpty();
        const bool ready = c.has_model() && !c.busy() && c.frame() && c.sequence();
        const bool timed_out = clock->elapsed() > 300000;
        if (!ready && !failed && !timed_out) return;
        poll->stop();
        // One more round of events so that the views paint the last results.
        QTimer::singleShot(400, &w, [&w, path, failed, timed_out] {
            const QImage img = w.grab().toImage();
            const bool saved = img.save(path, "PNG");
            if (!saved) std::fprintf(stderr, "statescope: could not write %s\n", qPrintable(path));
            if (timed_out) std::fprintf(stderr, "statescope: gave up waiting for the engine; saved what was shown\n");
            if (failed) std::fprintf(stderr, "statescope: %s\n", qPrintable(w.error_text()));
            QCoreApplication::exit(!saved ? 1 : (failed || timed_out) ? 2 : 0);
        });
    });
    poll->start();
}

} // namespace

int main(int argc, char** argv) {
    // VTK's view needs a core-profile context; asking before the application exists makes every
    // QOpenGLWidget share it.
    QSurfaceFormat fmt;
    fmt.setRenderableType(QSurfaceFormat::OpenGL);
    fmt.setVersion(3, 2);
    fmt.setProfile(QSurfaceFormat::CoreProfile);
    fmt.setDepthBufferSize(24);
    fmt.setStencilBufferSize(8);
    QSurfaceFormat::setDefaultFormat(fmt);
    QApplication::setAttribute(Qt::AA_ShareOpenGLContexts);

    QApplication qapp(argc, argv);
    QApplication::setOrganizationName("Statescope");
    QApplication::setApplicationName("Statescope");
    QApplication::setStyle("Fusion");

    app::CommandLine cl;
    app::TokenInput input;
    try {
        cl = app::parse_command_line(QApplication::arguments().mid(1));
        if (cl.help) {
            std::printf("%s", qPrintable(app::usage()));
            return 0;
        }
        input = cl.tokens ? app::tokens_from_ids(*cl.tokens) : app::tokens_from_text(cl.prompt ? *cl.prompt : app::default_prompt());
    } catch (const Error& e) {
        std::fprintf(stderr, "statescope: %s\n\n%s", e.what(), qPrintable(app::usage()));
        return 1;
    }

    app::MainWindow w;
    w.resize(cl.size);
    w.set_token_input(input);
    // Focus, position and window from the command line apply once the model is there.
    QObject::connect(&w.controller(), &app::Controller::model_loaded, &w, [&w, cl] {
        app::Controller& c = w.controller();
        if (cl.window) c.set_window(*cl.window);
        if (cl.layer || cl.head) c.set_focus(cl.layer.value_or(c.layer()), cl.head.value_or(c.head()));
        if (cl.token) c.set_token(*cl.token);
    }, Qt::SingleShotConnection);
    w.show();

    const QString model = cl.model.isEmpty() ? app::default_model_path() : cl.model;
    if (model.isEmpty()) {
        // Nothing bundled next to this program: say so in the window, File > Open still works.
        w.open_model("assets/models/deltanet-negeig-tiny");
    } else {
        w.open_model(model);
    }
    if (!cl.screenshot.isEmpty()) schedule_screenshot(w, cl.screenshot);
    return qapp.exec();
}
