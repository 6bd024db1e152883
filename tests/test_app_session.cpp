// Saved sessions in the desktop app, on a real display (CTest runs this under xvfb-run): a session
// saved by a window and reopened by a fresh process (the app with --screenshot) shows the same
// pixels for each bookmark; bad session files are refused by name and the open session stays;
// the autosave file is written after changes, restored after a crash and removed by a clean
// exit; Ctrl+D adds a bookmark; the title carries the unsaved mark.
#include "app_test_wait.h"
#include "app/gui/bookmarks_panel.h"
#include "app/gui/command_line.h"
#include "app/gui/controller.h"
#include "app/gui/lesson_player.h"
#include "app/gui/main_window.h"
#include "app/gui/session_actions.h"
#include "statescope/error.h"
#include "statescope/session.h"
#include "views/heatmap_view.h"
#include "views/scale_control.h"
#include "views/token_strip.h"

#include <QCursor>
#include <QDockWidget>
#include <QListWidget>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QPlainTextEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QtTest>

#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <fstream>

using namespace statescope;
namespace fs = std::filesystem;

namespace {

const QSize kWindowSize(1400, 900);

// Waits until the window shows a model with the latest frame and sequence results, and no
// session is still opening.
bool settle(app::MainWindow& w, int timeout_ms = 60000) {
    const app::Controller& c = w.controller();
    return testsupport::wait_until(
        [&] { return c.has_model() && !c.busy() && !w.sessions().opening() && c.frame() && c.sequence(); }, timeout_ms, 100);
}

// A window on the bundled demonstration model, on its task sample (seed 1), as the app starts.
bool open_default(app::MainWindow& w) {
    w.resize(kWindowSize);
    w.show();
    const QString model = app::default_model_path();
    if (model.isEmpty()) return false;
    w.set_token_input(app::initial_input(app::CommandLine{}, model));
    w.open_model(model);
    return settle(w);
}

// The views (everything but the menu, the dock and the status bar), as the window shows them.
QImage views_picture(const QImage& window_picture, const app::MainWindow& w) {
    return window_picture.copy(w.centralWidget()->geometry()).convertToFormat(QImage::Format_RGB32);
}

int differing_pixels(const QImage& a, const QImage& b) {
    if (a.size() != b.size()) return a.width() * a.height() + 1;
    int n = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x) n += a.pixel(x, y) != b.pixel(x, y);
    return n;
}

// Runs the app (a fresh process) and returns its exit status; its output goes to `log`.
int run_app(const QStringList& args, const QProcessEnvironment& env, QString* log, int timeout_ms = 120000) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(STATESCOPE_APP, args);
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
        *log = "timed out";
        return -1;
    }
    *log = QString::fromLocal8Bit(p.readAllStandardOutput() + p.readAllStandardError());
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

// Settings (recent files) and recovery files of the app processes, away from the user's.
QTemporaryDir& scratch() {
    static QTemporaryDir dir;
    return dir;
}

QProcessEnvironment app_environment(const QString& recovery) {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("STATESCOPE_RECOVERY_FILE", recovery); // never the user's own
    env.insert("XDG_CONFIG_HOME", scratch().filePath("config"));
    env.remove("STATESCOPE_RECOVERY");
    return env;
}

void raw_sql(const QString& path, const char* sql) {
    sqlite3* db = nullptr;
    QCOMPARE(sqlite3_open(path.toUtf8().constData(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    const QString msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    QVERIFY2(rc == SQLITE_OK, qPrintable(msg));
}

} // namespace

class TestAppSession : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true); // recent sessions stay out of the user's settings
        QCoreApplication::setOrganizationName("StatescopeTest");
        // ... and out of another run's of this test (another checkout's build on the machine).
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, scratch().filePath("settings"));
        QVERIFY2(!app::default_model_path().isEmpty(), "the bundled demonstration model is missing");
        // The pointer out of the way: no hover read-out in any picture.
        QCursor::setPos(QPoint(1910, 1190));
        qputenv("STATESCOPE_RECOVERY_FILE", scratch().filePath("unused.statescope").toUtf8());
    }

    void command_line_takes_a_session() {
        const app::CommandLine c = app::parse_command_line({"/tmp/x.statescope", "--bookmark", "recall", "--size", "800x600"});
        QCOMPARE(c.session, QString("/tmp/x.statescope"));
        QCOMPARE(c.bookmark, QString("recall"));
        QVERIFY(c.model.isEmpty());
        QVERIFY_THROWS_EXCEPTION(Error, app::parse_command_line({"x.statescope", "--tokens", "1,2"}));
        QVERIFY_THROWS_EXCEPTION(Error, app::parse_command_line({"x.statescope", "some/model"}));
        QVERIFY_THROWS_EXCEPTION(Error, app::parse_command_line({"--bookmark", "recall"}));
    }

    // The round trip: bookmarks made in a window, the session saved, and a fresh process
    // opened at each bookmark renders the window's views pixel for pixel.
    void reopened_sessions_show_the_same_pixels_for_each_bookmark() {
        QTemporaryDir tmp;
        const QString file = tmp.filePath("round-trip.statescope");
        app::MainWindow w;
        QVERIFY(open_default(w));
        app::Controller& c = w.controller();
        // A fixed state scale, a symlog exact map, a shorter window, and a continuation sampled
        // with a seed: all of it must come back.
        w.state_scale()->set_mode(views::ScaleMode::Fixed);
        w.state_scale()->set_fixed_limit(0.037);
        w.exact_scale()->set_mode(views::ScaleMode::SymLog);
        c.set_window(12);
        const int64_t n0 = c.length();
        SamplingOptions sampling;
        sampling.temperature = 0.8f;
        sampling.seed = 7;
        w.sessions().continuation_started(n0 - 1, 4, sampling);
        c.continue_from(n0 - 1, 4, sampling);
        QTRY_VERIFY_WITH_TIMEOUT(!c.generating() && !c.busy() && c.length() == n0 + 4, 60000);
        QVERIFY(settle(w));
        const std::vector<int32_t> tokens = c.model()->tokens;
        struct Mark {
            int64_t token;
            int layer, head;
        };
        const Mark marks[] = {{5, 0, 0}, {20, 1, 1}, {n0 + 2, 1, 0}};
        for (const Mark& m : marks) {
            c.jump(m.token, m.layer, m.head);
            QVERIFY(settle(w));
            w.sessions().add_bookmark();
        }
        w.sessions().bookmarks()->set_notes(1, "The **recall** of key 47.");
        c.set_token(9); // the session's own position differs from every bookmark
        QVERIFY(settle(w));
        QVERIFY(w.sessions().save_as(file));
        const session::Session saved = session::load(file.toStdString());
        QCOMPARE(saved.bookmarks.size(), size_t(3));
        QCOMPARE(saved.tokens, tokens);
        QCOMPARE(saved.parts.size(), size_t(2));
        QCOMPARE(saved.parts[0].source, std::string("task"));
        QCOMPARE(saved.parts[1].source, std::string("generation"));
        QVERIFY2(saved.parts[1].settings.find("\"seed\":\"7\"") != std::string::npos, saved.parts[1].settings.c_str());
        QCOMPARE(saved.window, 12);

        std::vector<QImage> expected;
        for (const session::Bookmark& b : saved.bookmarks) {
            w.sessions().jump_to(b);
            QVERIFY(settle(w));
            QCOMPARE(c.token(), b.token);
            expected.push_back(views_picture(w.grab().toImage(), w));
        }
        QVERIFY2(differing_pixels(expected[0], expected[1]) > 1000, "two bookmarks look alike; the comparison would prove nothing");

        const QProcessEnvironment env = app_environment(tmp.filePath("recovery.statescope"));
        for (size_t i = 0; i < saved.bookmarks.size(); ++i) {
            const QString name = QString::fromStdString(saved.bookmarks[i].name);
            const QString shot = tmp.filePath(QString("bookmark-%1.png").arg(i));
            QString log;
            const int rc = run_app({file, "--bookmark", name, "--size", QString("%1x%2").arg(kWindowSize.width()).arg(kWindowSize.height()),
                                    "--screenshot", shot},
                                   env, &log);
            QVERIFY2(rc == 0, qPrintable(log));
            const QImage got = views_picture(QImage(shot), w);
            const int diff = differing_pixels(got, expected[i]);
            if (diff) {
                expected[i].save(tmp.filePath(QString("expected-%1.png").arg(i)));
                tmp.setAutoRemove(false);
            }
            QVERIFY2(diff == 0, qPrintable(QString("bookmark '%1': %2 pixels differ (pictures kept in %3)").arg(name).arg(diff).arg(tmp.path())));
        }
        // And a fresh window of this process restores the same state.
        app::MainWindow fresh;
        fresh.resize(kWindowSize);
        fresh.show();
        QVERIFY(fresh.sessions().open(file));
        QVERIFY(settle(fresh));
        QCOMPARE(fresh.controller().token(), int64_t(9));
        QCOMPARE(fresh.controller().window(), 12);
        QCOMPARE(fresh.controller().model()->tokens, tokens);
        QCOMPARE(fresh.controller().model()->targets, c.model()->targets); // the task sample, drawn again
        QCOMPARE(fresh.state_view()->scale_mode(), views::ScaleMode::Fixed);
        QCOMPARE(fresh.state_view()->limit(), 0.037);
        QCOMPARE(fresh.exact_attention_view()->scale_mode(), views::ScaleMode::SymLog);
        QCOMPARE(fresh.sessions().bookmarks()->bookmarks().size(), size_t(3));
        QCOMPARE(fresh.sessions().bookmarks()->bookmarks()[1].notes, std::string("The **recall** of key 47."));
        QVERIFY(!fresh.isWindowModified());
        QVERIFY2(fresh.windowTitle().startsWith("round-trip.statescope"), qPrintable(fresh.windowTitle()));
    }

    void bad_session_files_keep_the_open_session_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("expected");
        QTest::newRow("empty file") << "empty" << "an empty file";
        QTest::newRow("not SQLite") << "text" << "not an SQLite database";
        QTest::newRow("truncated") << "truncate" << "damaged or truncated";
        QTest::newRow("another program's") << "other-app" << "another program";
        QTest::newRow("newer schema") << "newer" << "schema version 9";
        QTest::newRow("missing table") << "drop-table" << "the table 'bookmarks' is missing";
        QTest::newRow("missing column") << "drop-column" << "no such column: notes";
        QTest::newRow("wrong blob size") << "blob-size" << "bytes of data for shape";
        QTest::newRow("model moved") << "moved" << "is not there any more (moved or deleted)";
        QTest::newRow("no such bookmark") << "bookmark" << "has no bookmark named 'nothing'";
        QTest::newRow("ids the model lacks") << "vocab" << "did not load";
    }

    void bad_session_files_keep_the_open_session() {
        QFETCH(QString, damage);
        QFETCH(QString, expected);
        QTemporaryDir tmp;
        app::MainWindow w;
        QVERIFY(open_default(w));
        w.sessions().add_bookmark("kept");
        const QString good = tmp.filePath("good.statescope");
        QVERIFY(w.sessions().save_as(good));
        const std::vector<int32_t> tokens = w.controller().model()->tokens;
        const int64_t token = w.controller().token();

        const QString bad = tmp.filePath("bad.statescope");
        const std::string b = bad.toStdString();
        session::Session s = w.sessions().capture();
        session::PinnedState pin{"pin", 0, 3, {2, 2}, {1, 2, 3, 4}};
        s.pinned = {pin};
        const std::string d = damage.toStdString();
        if (d == "empty") std::ofstream(b).flush();
        else if (d == "text") std::ofstream(b) << "{\"model_type\": \"delta_net\"}\n";
        else if (d == "other-app") raw_sql(bad, "PRAGMA application_id = 77; CREATE TABLE photos (id);");
        else {
            if (d == "moved") {
                const fs::path copy = fs::path(tmp.path().toStdString()) / "moved-model";
                fs::copy(s.model.path, copy, fs::copy_options::recursive);
                s.model.path = copy.string();
                session::save(b, s);
                fs::remove_all(copy);
            } else if (d == "vocab") {
                s.tokens.assign(s.tokens.size(), 1 << 30); // outside any vocabulary: the model's load refuses them
                s.parts = {{0, int64_t(s.tokens.size()), "ids", ""}};
                session::save(b, s);
            } else {
                session::save(b, s);
            }
            if (d == "truncate") fs::resize_file(b, fs::file_size(b) / 2);
            else if (d == "newer") raw_sql(bad, "PRAGMA user_version = 9");
            else if (d == "drop-table") raw_sql(bad, "DROP TABLE bookmarks");
            else if (d == "drop-column") raw_sql(bad, "ALTER TABLE bookmarks DROP COLUMN notes");
            else if (d == "blob-size") raw_sql(bad, "UPDATE pinned_states SET data = x'0102'");
        }
        QSignalSpy failed(&w.sessions(), &app::SessionActions::session_failed);
        w.sessions().locate = [](const QString&, bool) { return QString(); }; // the user gives up
        const bool started = w.sessions().open(bad, d == "bookmark" ? "nothing" : "");
        if (started) QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, 60000); // refused once the model tried to load
        QCOMPARE(failed.count(), 1);
        QVERIFY(settle(w));
        const QString msg = w.error_text();
        QVERIFY2(msg.contains(bad), qPrintable(msg));
        QVERIFY2(msg.contains(expected), qPrintable(msg));
        // The open session stays: its file, model, tokens, position and bookmarks.
        QCOMPARE(w.sessions().path(), good);
        QCOMPARE(w.controller().model()->tokens, tokens);
        QCOMPARE(w.controller().token(), token);
        QCOMPARE(w.sessions().bookmarks()->bookmarks().size(), size_t(1));
        QCOMPARE(w.sessions().bookmarks()->bookmarks()[0].name, std::string("kept"));
    }

    // A session whose checkpoint moved asks where it is (Locate); one whose checkpoint changed
    // says so and may be opened anyway.
    void moved_and_changed_checkpoints_are_located() {
        QTemporaryDir tmp;
        app::MainWindow w;
        QVERIFY(open_default(w));
        session::Session s = w.sessions().capture();
        const std::string real = s.model.path;
        const fs::path copy = fs::path(tmp.path().toStdString()) / "copy";
        fs::copy(real, copy, fs::copy_options::recursive);
        s.model.path = copy.string();
        const QString file = tmp.filePath("moved.statescope");
        session::save(file.toStdString(), s);
        fs::remove_all(copy);
        QString asked;
        w.sessions().locate = [&](const QString& message, bool changed) {
            asked = message;
            return changed ? QString() : QString::fromStdString(real);
        };
        QVERIFY(w.sessions().open(file));
        QVERIFY(settle(w));
        QVERIFY2(asked.contains(QString::fromStdString(copy.string())) && asked.contains("not there any more"), qPrintable(asked));
        QCOMPARE(QString::fromStdString(w.controller().model()->path), QString::fromStdString(real));
        QCOMPARE(w.sessions().path(), file);

        // Changed: the identity differs; "\n" opens it as it is.
        fs::copy(real, copy, fs::copy_options::recursive);
        std::ofstream(copy / "config.json", std::ios::app) << "\n";
        s.model.path = copy.string();
        const QString changed_file = tmp.filePath("changed.statescope");
        session::save(changed_file.toStdString(), s);
        bool said_changed = false;
        w.sessions().locate = [&](const QString& message, bool changed) {
            asked = message;
            said_changed = changed;
            return QString("\n");
        };
        QVERIFY(w.sessions().open(changed_file));
        QVERIFY(settle(w));
        QVERIFY(said_changed);
        QVERIFY2(asked.contains("has changed since the session was saved"), qPrintable(asked));
        QCOMPARE(QString::fromStdString(w.controller().model()->path), QString::fromStdString(copy.string()));
    }

    void ctrl_d_adds_a_bookmark_and_the_title_marks_changes() {
        QTemporaryDir tmp;
        app::MainWindow w;
        QVERIFY(open_default(w));
        app::BookmarksPanel& panel = *w.sessions().bookmarks();
        QVERIFY(!w.isWindowModified());
        QVERIFY2(w.windowTitle().startsWith("untitled[*]"), qPrintable(w.windowTitle()));
        w.controller().jump(7, 1, 1);
        QVERIFY(settle(w));
        QVERIFY(w.isWindowModified()); // the position is part of the session
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        QTest::keyClick(&w, Qt::Key_D, Qt::ControlModifier);
        QCOMPARE(panel.bookmarks().size(), size_t(1));
        QCOMPARE(panel.bookmarks()[0].token, int64_t(7));
        QCOMPARE(panel.bookmarks()[0].layer, 1);
        QCOMPARE(panel.bookmarks()[0].head, 1);
        QVERIFY(w.sessions().bookmarks_dock()->isVisible());

        const QString file = tmp.filePath("marks"); // the suffix is added
        QVERIFY(w.sessions().save_as(file));
        QCOMPARE(w.sessions().path(), file + ".statescope");
        QVERIFY(!w.isWindowModified());
        QVERIFY2(w.windowTitle().startsWith("marks.statescope[*]"), qPrintable(w.windowTitle()));

        // Rename (names stay unique), Markdown notes with a preview, delete and undo.
        QVERIFY(panel.rename(0, "the flip"));
        QVERIFY(w.isWindowModified());
        w.sessions().add_bookmark("other");
        QVERIFY(!panel.rename(1, "the flip"));
        panel.select(0);
        panel.notes_editor()->setPlainText("# Heading\n\nA *note*.");
        QCOMPARE(panel.bookmarks()[0].notes, std::string("# Heading\n\nA *note*."));
        QVERIFY2(panel.notes_preview()->toHtml().contains("<h1"), qPrintable(panel.notes_preview()->toHtml()));
        QVERIFY(panel.remove(0));
        QCOMPARE(panel.bookmarks().size(), size_t(1));
        QVERIFY(panel.undo_remove());
        QCOMPARE(panel.bookmarks().size(), size_t(2));
        QCOMPARE(panel.bookmarks()[0].name, std::string("the flip"));
        QVERIFY(!panel.undo_remove());
        // Jumping to a bookmark restores its token, layer and head.
        w.controller().jump(0, 0, 0);
        QVERIFY(settle(w));
        panel.jump(0);
        QVERIFY(settle(w));
        QCOMPARE(w.controller().token(), int64_t(7));
        QCOMPARE(w.controller().layer(), 1);
        QCOMPARE(w.controller().head(), 1);
        // Saved, the file holds the edits; closing asks nothing then.
        QVERIFY(w.sessions().save());
        const session::Session s = session::load(file.toStdString() + ".statescope");
        QCOMPARE(s.bookmarks.size(), size_t(2));
        QCOMPARE(s.bookmarks[0].notes, std::string("# Heading\n\nA *note*."));
        bool asked = false;
        w.sessions().ask_save_changes = [&](const QString&) {
            asked = true;
            return int(QMessageBox::Cancel);
        };
        QVERIFY(w.sessions().confirm_close());
        QVERIFY(!asked);
        w.controller().set_token(3);
        QVERIFY(!w.sessions().confirm_close()); // unsaved changes, and the user cancels
        QVERIFY(asked);
    }

    // The open lesson and its step are saved with the session; reopening shows that step in the
    // lesson dock and keeps the session's own position (the step is not applied again).
    void the_open_lesson_and_step_travel_with_the_session() {
        QTemporaryDir tmp;
        const QString file = tmp.filePath("lesson.statescope");
        {
            app::MainWindow w;
            QVERIFY(open_default(w));
            QString why;
            QVERIFY2(w.lesson_player()->open("01-key-value-memory", 1, &why), qPrintable(why));
            QTRY_VERIFY_WITH_TIMEOUT(!w.lesson_player()->applying(), 60000);
            QVERIFY(settle(w));
            w.controller().jump(9, 1, 0);
            QVERIFY(settle(w));
            QVERIFY(w.sessions().save_as(file));
        }
        const session::Session saved = session::load(file.toStdString());
        QCOMPARE(saved.lesson, std::string("01-key-value-memory"));
        QCOMPARE(saved.lesson_step, 1);
        app::MainWindow w;
        QVERIFY(w.sessions().open(file));
        QVERIFY(settle(w));
        QVERIFY(w.lesson_player()->lesson());
        QCOMPARE(w.lesson_player()->lesson()->name, std::string("01-key-value-memory"));
        QCOMPARE(w.lesson_player()->step(), 1);
        QCOMPARE(w.controller().token(), int64_t(9));
        QCOMPARE(w.controller().layer(), 1);
    }

    // A dropped session file opens and joins Recent Sessions; pins, annotations and the lesson
    // travel through open and save.
    void dropped_sessions_open_and_keep_pins_annotations_and_the_lesson() {
        QTemporaryDir tmp;
        const QString file = tmp.filePath("dropped.statescope");
        {
            app::MainWindow w;
            QVERIFY(open_default(w));
            w.controller().jump(6, 1, 1);
            QVERIFY(settle(w));
            w.sessions().pin_current();
            w.sessions().bookmarks()->add_annotation({4, "a key"});
            session::Session s = w.sessions().capture();
            s.lesson = "recall";
            s.lesson_step = 3;
            session::save(file.toStdString(), s);
        }
        app::MainWindow w;
        QVERIFY(open_default(w));
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(file)});
        QDragEnterEvent enter(QPoint(200, 200), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(200, 200), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &drop);
        QVERIFY(settle(w));
        QCOMPARE(w.sessions().path(), file);
        QCOMPARE(w.controller().token(), int64_t(6));
        QCOMPARE(QSettings().value("recentSessions").toStringList().value(0), file);
        const app::BookmarksPanel& panel = *w.sessions().bookmarks();
        QCOMPARE(panel.pinned().size(), size_t(1));
        QCOMPARE(panel.pinned()[0].token, int64_t(6));
        QCOMPARE(panel.pinned()[0].values, w.controller().frame()->state.values);
        QCOMPARE(panel.pinned_list()->count(), 1);
        QCOMPARE(panel.annotation_list()->count(), 1);
        QVERIFY(panel.annotation_list()->item(0)->text().contains("a key"));
        QCOMPARE(w.token_strip()->notes().count(4), size_t(1)); // marked on the strip too
        const QString again = tmp.filePath("again.statescope");
        QVERIFY(w.sessions().save_as(again));
        const session::Session s = session::load(again.toStdString());
        QCOMPARE(s.lesson, std::string("recall"));
        QCOMPARE(s.lesson_step, 3);
        QCOMPARE(s.pinned.size(), size_t(1));
        QCOMPARE(s.annotations.size(), size_t(1));
        app::BookmarksPanel& edit = *w.sessions().bookmarks();
        QVERIFY(edit.remove_pin(0));
        QVERIFY(edit.remove_annotation(0));
        QVERIFY(!edit.remove_annotation(0));
        QCOMPARE(edit.pinned_list()->count(), 0);
        QVERIFY(w.isWindowModified());
    }

    // A sequence made shorter leaves a bookmark past its end: the window says so, and a save
    // is refused naming it (the open file keeps its last save).
    void bookmarks_past_a_shorter_sequence_are_named() {
        QTemporaryDir tmp;
        app::MainWindow w;
        QVERIFY(open_default(w));
        w.controller().jump(w.controller().length() - 1, 0, 0);
        QVERIFY(settle(w));
        w.sessions().add_bookmark("at the end");
        const QString file = tmp.filePath("short.statescope");
        QVERIFY(w.sessions().save_as(file));
        w.set_token_input(frames::tokens_from_ids("36,82,47,114"));
        w.open_model(QString::fromStdString(w.controller().model()->path));
        QVERIFY(settle(w));
        QCOMPARE(w.controller().length(), int64_t(4));
        QVERIFY2(w.error_text().contains("bookmark 'at the end'"), qPrintable(w.error_text()));
        QVERIFY(!w.sessions().save());
        QVERIFY2(w.error_text().contains("bookmark 'at the end'"), qPrintable(w.error_text()));
        QCOMPARE(session::load(file.toStdString()).tokens.size(), size_t(32));
    }

    // Two windows on one file: the second to save is told the file changed and decides.
    void two_windows_on_one_file() {
        QTemporaryDir tmp;
        const QString file = tmp.filePath("shared.statescope");
        app::MainWindow a;
        QVERIFY(open_default(a));
        a.sessions().add_bookmark("from a");
        QVERIFY(a.sessions().save_as(file));
        app::MainWindow b;
        b.resize(kWindowSize);
        b.show();
        QVERIFY(b.sessions().open(file));
        QVERIFY(settle(b));
        QTest::qWait(1100); // file times have a coarse grain on some file systems
        a.sessions().add_bookmark("a again");
        QVERIFY(a.sessions().save());
        b.sessions().add_bookmark("from b");
        QString question;
        b.sessions().confirm_overwrite = [&](const QString& q) {
            question = q;
            return false;
        };
        QVERIFY(!b.sessions().save()); // refused: a's bookmark is not lost
        QVERIFY2(question.contains(file), qPrintable(question));
        QCOMPARE(session::load(file.toStdString()).bookmarks.size(), size_t(2));
        b.sessions().confirm_overwrite = [](const QString&) { return true; };
        QVERIFY(b.sessions().save());
        QCOMPARE(session::load(file.toStdString()).bookmarks.back().name, std::string("from b"));
    }

    // Autosave: written a few milliseconds (STATESCOPE_AUTOSAVE_MS) after a change; a clean exit
    // removes it; a process that finds it after a crash restores it (STATESCOPE_RECOVERY), shows
    // the same pixels, and removes it on its own clean exit; one killed meanwhile keeps it.
    void autosave_is_written_and_restored_after_a_crash() {
        QTemporaryDir tmp;
        const QString recovery = tmp.filePath("recovery.statescope");
        const QString crashed = tmp.filePath("left-by-a-crash.statescope");
        qputenv("STATESCOPE_AUTOSAVE_MS", "200");
        qputenv("STATESCOPE_RECOVERY_FILE", recovery.toUtf8());
        QImage expected;
        QRect central; // where the views are in the window
        {
            app::MainWindow w;
            QVERIFY(open_default(w));
            QCOMPARE(w.sessions().recovery_path(), recovery);
            QCOMPARE(w.sessions().autosave_delay_ms(), 200);
            QTest::qWait(500);
            QVERIFY2(!QFileInfo::exists(recovery), "autosaved with no change");
            QSignalSpy autosaved(&w.sessions(), &app::SessionActions::autosaved);
            w.controller().jump(11, 1, 0);
            w.sessions().add_bookmark("before the crash");
            QVERIFY(settle(w));
            QTRY_VERIFY_WITH_TIMEOUT(autosaved.count() >= 1, 5000);
            const session::Session s = session::load(recovery.toStdString());
            QCOMPARE(s.token, int64_t(11));
            QCOMPARE(s.layer, 1);
            QCOMPARE(s.bookmarks.size(), size_t(1));
            expected = views_picture(w.grab().toImage(), w);
            central = w.centralWidget()->geometry();
            // What a crash would leave behind: the file as it is now.
            QVERIFY(QFile::copy(recovery, crashed));
        }
        QVERIFY2(!QFileInfo::exists(recovery), "a clean exit left the recovery file");
        qunsetenv("STATESCOPE_AUTOSAVE_MS");
        qputenv("STATESCOPE_RECOVERY_FILE", scratch().filePath("unused.statescope").toUtf8());

        // A fresh process restores it, shows the same views, and removes it when it exits.
        const QString size = QString("%1x%2").arg(kWindowSize.width()).arg(kWindowSize.height());
        QProcessEnvironment env = app_environment(recovery);
        env.insert("STATESCOPE_RECOVERY", "restore");
        QVERIFY(QFile::copy(crashed, recovery));
        QString log;
        const QString shot = tmp.filePath("restored.png");
        QVERIFY2(run_app({"--size", size, "--screenshot", shot}, env, &log) == 0, qPrintable(log));
        const QImage got = QImage(shot).copy(central).convertToFormat(QImage::Format_RGB32);
        QCOMPARE(got.size(), expected.size());
        QCOMPARE(differing_pixels(got, expected), 0);
        QVERIFY2(!QFileInfo::exists(recovery), qPrintable("the restoring process's clean exit kept it: " + log));

        // Discarding removes it and opens the default model.
        QVERIFY(QFile::copy(crashed, recovery));
        QProcessEnvironment discard = app_environment(recovery);
        discard.insert("STATESCOPE_RECOVERY", "discard");
        QCOMPARE(run_app({"--size", size, "--screenshot", tmp.filePath("discarded.png")}, discard, &log), 0);
        QVERIFY(!QFileInfo::exists(recovery));

        // Batch runs without an answer leave it for the next interactive start.
        QVERIFY(QFile::copy(crashed, recovery));
        QCOMPARE(run_app({"--size", size, "--screenshot", tmp.filePath("untouched.png")}, app_environment(recovery), &log), 0);
        QVERIFY(QFileInfo::exists(recovery));

        // A process killed (SIGKILL) after restoring keeps the file whole.
        QProcess p;
        QProcessEnvironment restore = app_environment(recovery);
        restore.insert("STATESCOPE_RECOVERY", "restore");
        restore.insert("STATESCOPE_AUTOSAVE_MS", "50");
        p.setProcessEnvironment(restore);
        p.start(STATESCOPE_APP, {"--size", size});
        QVERIFY(p.waitForStarted());
        QTest::qWait(3000);
        p.kill();
        QVERIFY(p.waitForFinished());
        QVERIFY(QFileInfo::exists(recovery));
        const session::Session kept = session::load(recovery.toStdString());
        QCOMPARE(kept.bookmarks.size(), size_t(1));
        QCOMPARE(kept.token, int64_t(11));
    }

    // The autosave file under SIGKILL: the app plays through a sequence (--play), autosaving
    // after every step, and is killed at a random moment once it has autosaved at least once.
    // After each kill the recovery file opens whole, and since each run restores it and plays on,
    // its position never goes back: nothing autosaved before is lost. (test_session kills 200
    // saves of the same session::save.)
    void autosave_file_survives_sigkill() {
        QTemporaryDir tmp;
        const QString recovery = tmp.filePath("recovery.statescope");
        QProcessEnvironment env = app_environment(recovery);
        env.insert("STATESCOPE_RECOVERY", "restore");
        env.insert("STATESCOPE_AUTOSAVE_MS", "0");
        auto stamp = [&] {
            const QFileInfo fi(recovery);
            return fi.exists() ? QString("%1:%2").arg(fi.lastModified().toMSecsSinceEpoch()).arg(fi.size()) : QString();
        };
        std::mt19937 rng(5);
        int64_t first = -1, last = -1;
        const int kills = 12;
        for (int k = 0; k < kills; ++k) {
            const QString before = stamp();
            QProcess p;
            p.setProcessEnvironment(env);
            // 96 tokens at 10 per second: the twelve runs play for a few seconds in all and stop
            // before the end.
            p.start(STATESCOPE_APP, {"--task-seed", "1", "--task-size", "24", "--token", "0", "--play", "10", "--size", "900x600"});
            QVERIFY(p.waitForStarted());
            QElapsedTimer waited;
            waited.start();
            while (stamp() == before && waited.elapsed() < 60000) QTest::qWait(10);
            QVERIFY2(stamp() != before, qPrintable(QString("run %1 never autosaved").arg(k)));
            QTest::qWait(std::uniform_int_distribution<int>(0, 400)(rng));
            p.kill(); // SIGKILL, wherever it is: between saves or inside one
            QVERIFY(p.waitForFinished());
            QCOMPARE(p.exitStatus(), QProcess::CrashExit);
            session::Session s;
            try {
                s = session::load(recovery.toStdString());
            } catch (const Error& e) {
                QFAIL(qPrintable(QString("kill %1: the recovery file does not open: %2").arg(k).arg(e.what())));
            }
            QCOMPARE(s.tokens.size(), size_t(96));
            QVERIFY2(s.token >= last, qPrintable(QString("kill %1: the autosave went back from token %2 to %3").arg(k).arg(last).arg(s.token)));
            if (first < 0) first = s.token;
            last = s.token;
        }
        qInfo("the autosaved position went from token %lld to %lld over %d kills", static_cast<long long>(first),
              static_cast<long long>(last), kills);
        QVERIFY2(last > first, "the runs never moved on from the first autosave");
    }
};

QTEST_MAIN(TestAppSession)
#include "test_app_session.moc"
