// statescope: the desktop app. See command_line.h for the arguments.
#include "command_line.h"
#include "statescope/error.h"
#include "statescope/frames/token_input.h"
#include "lesson_player.h"
#include "main_window.h"
#include "presenter_mode.h"
#include "session_actions.h"
#include "transport_bar.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QSurfaceFormat>
#include <QTimer>
#include <cstdio>

using namespace statescope;

namespace {

// Once the model is loaded and every view has its data (or the load failed), saves the window
// and/or every view, then quits. Exit status: 0 all written with a model shown, 2 written while
// showing a load error (or after giving up waiting), 1 something could not be written.
void schedule_batch_output(app::MainWindow& w, const QString& screenshot, const QString& export_dir) {
    auto* clock = new QElapsedTimer;
    clock->start();
    auto* poll = new QTimer(&w);
    poll->setInterval(100);
    QObject::connect(poll, &QTimer::timeout, &w, [&w, screenshot, export_dir, poll, clock] {
        app::Controller& c = w.controller();
        const bool opening = w.sessions().opening(); // a session's model loads, then its views are restored
        const bool failed = !c.has_model() && !c.loading() && !opening && !w.error_text().isEmpty();
        const bool ready = c.has_model() && !c.busy() && !opening && c.frame() && c.sequence() && !w.lesson_player()->applying();
        const bool timed_out = clock->elapsed() > 300000;
        if (!ready && !failed && !timed_out) return;
        poll->stop();
        // One more round of events so that the views paint the last results.
        QTimer::singleShot(400, &w, [&w, screenshot, export_dir, failed, timed_out] {
            bool written = true;
            if (!screenshot.isEmpty() && !w.grab().toImage().save(screenshot, "PNG")) {
                std::fprintf(stderr, "statescope: could not write %s\n", qPrintable(screenshot));
                written = false;
            }
            if (!export_dir.isEmpty())
                for (const QString& e : w.export_all(export_dir)) {
                    std::fprintf(stderr, "statescope: %s\n", qPrintable(e));
                    written = false;
                }
            if (timed_out) std::fprintf(stderr, "statescope: gave up waiting for the engine; wrote what was shown\n");
            if (failed) std::fprintf(stderr, "statescope: %s\n", qPrintable(w.error_text()));
            QCoreApplication::exit(!written ? 1 : (failed || timed_out) ? 2 : 0);
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
    frames::TokenInput input;
    try {
        cl = app::parse_command_line(QApplication::arguments().mid(1));
        if (cl.help) {
            std::printf("%s", qPrintable(app::usage()));
            return 0;
        }
        if (cl.session.isEmpty() && cl.lesson.isEmpty())
            input = app::initial_input(cl, cl.model.isEmpty() ? app::default_model_path() : cl.model);
    } catch (const Error& e) {
        std::fprintf(stderr, "statescope: %s\n\n%s", e.what(), qPrintable(app::usage()));
        return 1;
    }

    app::MainWindow w;
    w.resize(cl.size);
    const bool batch = !cl.screenshot.isEmpty() || !cl.export_dir.isEmpty();
    // In batch mode no one answers dialogs: a session whose model moved fails with its message.
    if (batch) w.sessions().locate = [](const QString&, bool) { return QString(); };
    w.show();

    // --play starts once the model is shown and, for a session, its position restored.
    const auto play = [&w, cl] {
        if (!cl.play) return;
        w.transport()->set_rate(*cl.play);
        w.transport()->set_playing(true);
    };
    QObject::connect(&w.sessions(), &app::SessionActions::session_opened, &w, play, Qt::SingleShotConnection);

    // After a crash the autosaved session comes first (STATESCOPE_RECOVERY answers in batch mode).
    if (w.sessions().offer_recovery(batch)) {
        if (!cl.session.isEmpty() || !cl.model.isEmpty())
            std::fprintf(stderr, "statescope: restoring the autosaved session instead of opening %s\n",
                         qPrintable(cl.session.isEmpty() ? cl.model : cl.session));
    } else if (!cl.session.isEmpty()) {
        w.sessions().open(cl.session, cl.bookmark); // a failure is shown in the window
    } else if (!cl.lesson.isEmpty()) {
        // The lesson opens its own model and sequence, and its step sets the position.
        QString error;
        if (!w.lesson_player()->open(cl.lesson, cl.lesson_step - 1, &error)) {
            std::fprintf(stderr, "statescope: %s\n", qPrintable(error));
            return 1;
        }
        QObject::connect(w.lesson_player(), &app::LessonPlayer::step_applied, &w, play, Qt::SingleShotConnection);
    } else {
        w.set_token_input(input);
        // Focus, position and window from the command line apply once the model is there.
        QObject::connect(&w.controller(), &app::Controller::model_loaded, &w, [&w, cl, play, batch] {
            app::Controller& c = w.controller();
            // A position the model does not have is refused, as statescope-cli refuses it; a picture
            // of some other position would be mistaken for the one asked for.
            const std::string refused = app::position_error(cl, c.model()->info, c.length());
            if (!refused.empty()) {
                std::fprintf(stderr, "statescope: %s\n", refused.c_str());
                if (batch) {
                    QCoreApplication::exit(1);
                    return;
                }
                w.report_error(QString::fromStdString(refused));
                return;
            }
            if (cl.window) c.set_window(*cl.window);
            if (cl.layer || cl.head) c.set_focus(cl.layer.value_or(c.layer()), cl.head.value_or(c.head()));
            if (cl.token) c.set_token(*cl.token);
            play();
        }, Qt::SingleShotConnection);
        const QString model = cl.model.isEmpty() ? app::default_model_path() : cl.model;
        // Nothing bundled next to this program: say so in the window, File > Open still works.
        w.open_model(model.isEmpty() ? QString("assets/models/mqar-deltanet") : model);
    }
    // Presenting for a screenshot or an export keeps the window at --size; otherwise full screen.
    if (cl.presenter) w.presenter()->set_active(true, cl.screenshot.isEmpty() && cl.export_dir.isEmpty() ? QSize() : cl.size);
    if (!cl.screenshot.isEmpty() || !cl.export_dir.isEmpty()) schedule_batch_output(w, cl.screenshot, cl.export_dir);
    return qapp.exec();
}
