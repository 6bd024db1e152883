// Lessons in the app, on a real display (CTest runs this under xvfb-run): every step of every
// lesson opens in presenter mode at 1920x1080 and renders (a screenshot per step, checked not to
// be blank; STATESCOPE_LESSON_SHOTS=DIR keeps them), with the step's model, focus and token; the
// presenter keys advance and go back, Esc leaves; axis labels are at least 18 px when presenting;
// zoom scales every view's fonts; the View menu hides panels; `statescope --lesson` opens a
// lesson from the command line and refuses an unknown one.
#include "app_test_wait.h"
#include "app/gui/controller.h"
#include "app/gui/lesson_player.h"
#include "app/gui/main_window.h"
#include "app/gui/presenter_mode.h"
#include "statescope/frames/lesson.h"
#include "views/eigen_view.h"
#include "views/heatmap_view.h"
#include "views/panel.h"
#include "views/plot_style.h"
#include "views/token_strip.h"

#include <QAction>
#include <QDir>
#include <QFileInfo>
#include <QFontInfo>
#include <QMenuBar>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <map>

using namespace statescope;

namespace {

// Waits until the lesson's step is applied and the views have the engine's latest results.
bool settle(app::MainWindow& w, int timeout_ms = 120000) {
    const app::Controller& c = w.controller();
    return testsupport::wait_until(
        [&] {
            return !w.lesson_player()->applying() && c.has_model() && !c.busy() && c.frame() && c.sequence() &&
                   c.frame()->token == c.token() && c.frame()->layer == c.layer() && c.frame()->head == c.head();
        },
        timeout_ms, 50);
}

// Not blank: many colours, and a good share of pixels that are not the background.
QString blank_reason(const QImage& img) {
    std::map<QRgb, int> counts;
    for (int y = 0; y < img.height(); y += 2)
        for (int x = 0; x < img.width(); x += 2) ++counts[img.pixel(x, y) | 0xff000000u];
    int most = 0, total = 0;
    for (const auto& [c, n] : counts) {
        most = std::max(most, n);
        total += n;
    }
    if (counts.size() < 200) return QString("only %1 colours").arg(counts.size());
    if (total - most < total / 20) return QString("%1 of %2 pixels are not the background").arg(total - most).arg(total);
    return {};
}

void press(app::MainWindow& w, Qt::Key key) {
    QWidget* target = QApplication::focusWidget() ? QApplication::focusWidget() : &w;
    QTest::keyClick(target, key);
}

} // namespace

class TestAppLessons : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY(app::LessonPlayer::lesson_files().size() >= 6); }

    void every_step_renders_in_presenter_mode() {
        app::MainWindow w;
        w.resize(1600, 1000);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        app::PresenterMode& pm = *w.presenter();
        pm.set_active(true, QSize(1920, 1080));
        QVERIFY(pm.active());
        QVERIFY(!w.menuBar()->isVisible());
        // Readable by a class: axis labels of every view at least 18 px.
        QVERIFY2(QFontInfo(views::style::label_font()).pixelSize() >= 18,
                 qPrintable(QString("%1 px").arg(QFontInfo(views::style::label_font()).pixelSize())));
        const QString shots = qEnvironmentVariable("STATESCOPE_LESSON_SHOTS");
        if (!shots.isEmpty()) QDir().mkpath(shots);
        app::LessonPlayer& player = *w.lesson_player();
        // The keys that advance, in turn (a clicker sends PageDown).
        const Qt::Key forward[] = {Qt::Key_PageDown, Qt::Key_Space, Qt::Key_Right};
        int steps = 0;
        for (const QString& file : app::LessonPlayer::lesson_files()) {
            QString error;
            QVERIFY2(player.open(file, 0, &error), qPrintable(error));
            for (int i = 0; i < player.step_count(); ++i) {
                const QString where = QFileInfo(file).completeBaseName() + QString(" step %1").arg(i + 1);
                QVERIFY2(settle(w), qPrintable(where + ": did not settle"));
                QVERIFY2(w.error_text().isEmpty(), qPrintable(where + ": " + w.error_text()));
                QCOMPARE(player.step(), i);
                const lessons::Step& s = *player.current_step();
                const app::Controller& c = w.controller();
                QCOMPARE(QFileInfo(QString::fromStdString(c.model()->path)).canonicalFilePath(),
                         QFileInfo(QString::fromStdString(s.model)).canonicalFilePath());
                QCOMPARE(c.layer(), s.layer);
                QCOMPARE(c.head(), s.head);
                QCOMPARE(c.token(), s.token.value_or(c.length() - 1));
                QVERIFY2(w.panels()[size_t(s.view)]->isVisible(), qPrintable(where + ": the step's view is hidden"));
                if (s.highlight.kind == lessons::Highlight::Kind::Token) QCOMPARE(w.token_strip()->marked(), s.highlight.token);
                if (s.highlight.kind == lessons::Highlight::Kind::Eigenvalue) QVERIFY(w.eigen_view()->marker().has_value());
                const QImage img = w.grab().toImage().convertToFormat(QImage::Format_RGB32);
                QCOMPARE(img.size() / img.devicePixelRatio(), QSize(1920, 1080));
                const QString blank = blank_reason(img);
                QVERIFY2(blank.isEmpty(), qPrintable(where + ": blank screenshot: " + blank));
                if (!shots.isEmpty()) img.save(shots + "/" + QFileInfo(file).completeBaseName() + QString("-%1.png").arg(i + 1));
                ++steps;
                if (i + 1 < player.step_count()) press(w, forward[steps % 3]);
            }
            // At the last step, forward keys stay there; PageUp and Left go back one step each.
            press(w, Qt::Key_PageDown);
            QCOMPARE(player.step(), player.step_count() - 1);
            press(w, Qt::Key_PageUp);
            QCOMPARE(player.step(), player.step_count() - 2);
            press(w, Qt::Key_Left);
            QCOMPARE(player.step(), player.step_count() - 3);
            QVERIFY(settle(w));
        }
        QVERIFY(steps >= 30);
        // Esc leaves presenter mode: menus and the desk's sizes come back.
        press(w, Qt::Key_Escape);
        QVERIFY(!pm.active());
        QVERIFY(w.menuBar()->isVisible());
        QVERIFY(QFontInfo(views::style::label_font()).pixelSize() < 18);
        // Outside presenter mode Right steps the token again, not the lesson.
        const int step = player.step();
        const int64_t token = w.controller().token();
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        press(w, Qt::Key_Left);
        QCOMPARE(player.step(), step);
        QCOMPARE(w.controller().token(), token - 1);
    }

    void zoom_scales_every_view_and_the_view_menu_hides_panels() {
        app::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w)); // shortcuts go to the active window
        app::PresenterMode& pm = *w.presenter();
        const int base = QFontInfo(views::style::label_font()).pixelSize();
        const QSize strip = w.token_strip()->sizeHint();
        QTest::keyClick(&w, Qt::Key_Equal, Qt::ControlModifier);
        QTest::keyClick(&w, Qt::Key_Equal, Qt::ControlModifier);
        QVERIFY2(pm.zoom() > 1.3, qPrintable(QString::number(pm.zoom())));
        QVERIFY(QFontInfo(views::style::label_font()).pixelSize() > base);
        QVERIFY(w.token_strip()->sizeHint().height() > strip.height());
        QTest::keyClick(&w, Qt::Key_Minus, Qt::ControlModifier);
        QVERIFY(pm.zoom() < 1.3 && pm.zoom() > 1.0);
        QTest::keyClick(&w, Qt::Key_0, Qt::ControlModifier);
        QCOMPARE(pm.zoom(), 1.0);
        QCOMPARE(QFontInfo(views::style::label_font()).pixelSize(), base);
        // View menu: each panel's action hides and shows it.
        for (size_t i = 0; i < pm.panel_actions().size(); ++i) {
            QAction* a = pm.panel_actions()[i];
            a->setChecked(false);
            QVERIFY(!w.panels()[i]->isVisible());
            a->setChecked(true);
            QVERIFY(w.panels()[i]->isVisible());
        }
        // F5 toggles presenter mode (full screen), and F5 again leaves it.
        QTest::keyClick(&w, Qt::Key_F5);
        QVERIFY(pm.active());
        QTest::keyClick(&w, Qt::Key_F5);
        QVERIFY(!pm.active());
    }

    void broken_lessons_say_why() {
        app::MainWindow w;
        QTemporaryDir dir;
        const QString path = dir.filePath("bad.json");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"title": "t", "steps": [{"title": "Only", "model": "assets/models/none", "narration": "n"}]})");
        f.close();
        QString error;
        QVERIFY(!w.lesson_player()->open(path, 0, &error));
        QVERIFY2(error.contains("bad.json: step 1 (\"Only\"): model: no model at 'assets/models/none'"), qPrintable(error));
        QVERIFY(!w.lesson_player()->open("no-such-lesson", 0, &error));
        QVERIFY2(error.contains("no lesson 'no-such-lesson'"), qPrintable(error));
        QVERIFY(!w.lesson_player()->open("01-key-value-memory", 99, &error));
        QVERIFY2(error.contains("no step 100"), qPrintable(error));
    }

    void command_line_opens_a_lesson_in_presenter_mode() {
        QTemporaryDir dir;
        const QString out = dir.filePath("presenter.png");
        QProcess p;
        p.start(STATESCOPE_APP, {"--lesson", "04", "--lesson-step", "3", "--presenter", "--size", "1920x1080", "--screenshot", out});
        QVERIFY(p.waitForFinished(180000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QImage img(out);
        QCOMPARE(img.size() / img.devicePixelRatio(), QSize(1920, 1080));
        QVERIFY(blank_reason(img.convertToFormat(QImage::Format_RGB32)).isEmpty());
        p.start(STATESCOPE_APP, {"--lesson", "no-such-lesson", "--screenshot", out});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY2(p.readAllStandardError().contains("no lesson 'no-such-lesson'"), "the refusal names the lesson");
        p.start(STATESCOPE_APP, {"--lesson", "01", "--tokens", "1,2"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
    }
};

QTEST_MAIN(TestAppLessons)
#include "test_app_lessons.moc"
