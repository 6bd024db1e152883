// Waiting for the app's engine thread in the app tests (test_app_*): the window never blocks on
// the engine, so a test polls the event loop until what it needs is there.
#pragma once
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTest>
#include <functional>

namespace testsupport {

// Processes events until ready() holds (then waits repaint_ms more, for the views to repaint) or
// timeout_ms pass; whether it held.
inline bool wait_until(const std::function<bool()>& ready, int timeout_ms, int repaint_ms) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeout_ms) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        if (ready()) {
            QTest::qWait(repaint_ms);
            return true;
        }
        QTest::qWait(10);
    }
    return false;
}

} // namespace testsupport
