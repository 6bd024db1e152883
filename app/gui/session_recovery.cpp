// SessionActions' autosave and recovery (see session_actions.h): the recovery file written a few
// seconds after changes, removed by a clean exit, and offered back after a crash.
#include "session_actions.h"

#include "main_window.h"
#include "session_state.h"
#include "statescope/error.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QMessageBox>
#include <QStatusBar>
#include <cstdio>
#include <signal.h>
#include <unistd.h>

namespace statescope::app {

namespace {

// Whether `pid` is another Statescope that is running now (its recovery file is live, not left
// by a crash). Linux: /proc names the program.
bool other_statescope_running(const QString& pid_text) {
    bool ok = false;
    const qint64 pid = pid_text.toLongLong(&ok);
    if (!ok || pid <= 0 || pid == qint64(getpid()) || kill(pid_t(pid), 0) != 0) return false;
    QFile comm(QString("/proc/%1/comm").arg(pid));
    if (!comm.open(QIODevice::ReadOnly)) return false;
    return comm.readAll().trimmed() == QFileInfo(QCoreApplication::applicationFilePath()).fileName().left(15).toUtf8();
}

} // namespace

bool SessionActions::autosave() {
    if (!autosave_due_ || !window_.controller().has_model() || recovery_path_.isEmpty()) return false;
    try {
        QDir().mkpath(QFileInfo(recovery_path_).absolutePath());
        session::save(recovery_path_.toStdString(), capture(/*for_recovery=*/true));
    } catch (const Error& e) {
        window_.statusBar()->showMessage(QString("Autosave failed: ") + e.what(), 8000);
        return false;
    }
    owns_recovery_ = true;
    autosave_due_ = false;
    emit autosaved(recovery_path_);
    return true;
}

void SessionActions::remove_recovery() {
    if (owns_recovery_ && !recovery_path_.isEmpty()) QFile::remove(recovery_path_);
    owns_recovery_ = false;
}

bool SessionActions::offer_recovery(bool batch) {
    if (recovery_path_.isEmpty() || !QFileInfo::exists(recovery_path_)) return false;
    session::Session s;
    try {
        s = session::load(recovery_path_.toStdString());
    } catch (const Error& e) {
        // A damaged recovery file cannot be restored; it is kept aside, not deleted.
        const QString aside = recovery_path_ + ".damaged";
        QFile::remove(aside);
        QFile::rename(recovery_path_, aside);
        window_.show_error(QString("The autosaved session could not be restored: ") + e.what() + "\nIt was moved to " + aside);
        return false;
    }
    if (other_statescope_running(layout_value(s.layout, "pid"))) {
        // Another window's live autosave: leave it, and autosave this window elsewhere.
        const QFileInfo fi(recovery_path_);
        recovery_path_ = fi.absolutePath() + "/" + fi.completeBaseName() + QString("-%1.").arg(getpid()) + fi.suffix();
        return false;
    }
    const QString answer = qEnvironmentVariable("STATESCOPE_RECOVERY");
    bool restore = false;
    if (answer == "restore") restore = true;
    else if (answer == "discard") restore = false;
    else if (batch) return false; // no one to ask; the file stays for the next interactive start
    else {
        if (!answer.isEmpty())
            std::fprintf(stderr, "statescope: STATESCOPE_RECOVERY=%s is not restore or discard; asking\n", qPrintable(answer));
        const QString from = layout_value(s.layout, "file");
        const QString question =
            QString("Statescope did not exit cleanly. Restore the session it autosaved at %1?\n\n%2, %3 tokens, %4 bookmarks%5")
                .arg(QFileInfo(recovery_path_).lastModified().toString("yyyy-MM-dd hh:mm:ss"))
                .arg(QFileInfo(QString::fromStdString(s.model.path)).fileName())
                .arg(s.tokens.size())
                .arg(s.bookmarks.size())
                .arg(from.isEmpty() ? QString() : "\nof " + from);
        restore = QMessageBox::question(&window_, "Restore the autosaved session?", question,
                                        QMessageBox::Yes | QMessageBox::Discard, QMessageBox::Yes) == QMessageBox::Yes;
    }
    if (!restore) {
        QFile::remove(recovery_path_);
        return false;
    }
    return open(recovery_path_);
}

} // namespace statescope::app
