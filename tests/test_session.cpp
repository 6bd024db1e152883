// Saved sessions (engine/session): round trips, bad files refused by name, crash safety under
// SIGKILL, two processes on one file, and the checkpoint identity.
#include "statescope/error.h"
#include "statescope/session.h"

#include <QTemporaryDir>
#include <QtTest>

#include <sqlite3.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace statescope;
namespace fs = std::filesystem;

namespace {

session::Session sample_session() {
    session::Session s;
    s.model = {"/models/parity", "0123456789abcdef"};
    for (int i = 0; i < 40; ++i) s.tokens.push_back(i % 7);
    s.text = "0110 1 0";
    s.parts = {{0, 30, "prompt", ""}, {30, 10, "generation", R"({"temperature":0.7,"seed":3})"}};
    s.token = 33;
    s.layer = 1;
    s.head = 2;
    s.window = 24;
    s.views = {{"attention", "fixed", 0.25}, {"state", "symlog", 0}};
    s.layout = "AAAA/wAAAAD9";
    s.bookmarks = {{"flip", 12, 0, 1, "eigen", "The *1* token's transition has eigenvalue -1."},
                   {"recall", 39, 1, 0, "attention", ""}};
    s.annotations = {{5, "first 1"}, {20, "parity even again"}};
    session::PinnedState p;
    p.name = "state at 12";
    p.layer = 0;
    p.token = 12;
    p.shape = {2, 3, 5};
    for (int i = 0; i < 30; ++i) p.values.push_back(0.5f * float(i) - 3.0f);
    s.pinned = {p};
    s.lesson = "negative-eigenvalues";
    s.lesson_step = 2;
    return s;
}

void expect_equal(const session::Session& a, const session::Session& b) {
    QCOMPARE(a.model.path, b.model.path);
    QCOMPARE(a.model.identity, b.model.identity);
    QCOMPARE(a.tokens, b.tokens);
    QCOMPARE(a.text, b.text);
    QCOMPARE(a.parts.size(), b.parts.size());
    for (size_t i = 0; i < a.parts.size(); ++i) {
        QCOMPARE(a.parts[i].first, b.parts[i].first);
        QCOMPARE(a.parts[i].count, b.parts[i].count);
        QCOMPARE(a.parts[i].source, b.parts[i].source);
        QCOMPARE(a.parts[i].settings, b.parts[i].settings);
    }
    QCOMPARE(a.token, b.token);
    QCOMPARE(a.layer, b.layer);
    QCOMPARE(a.head, b.head);
    QCOMPARE(a.window, b.window);
    QCOMPARE(a.views.size(), b.views.size());
    for (size_t i = 0; i < a.views.size(); ++i) {
        QCOMPARE(a.views[i].view, b.views[i].view);
        QCOMPARE(a.views[i].scale, b.views[i].scale);
        QCOMPARE(a.views[i].fixed_limit, b.views[i].fixed_limit);
    }
    QCOMPARE(a.layout, b.layout);
    QCOMPARE(a.bookmarks.size(), b.bookmarks.size());
    for (size_t i = 0; i < a.bookmarks.size(); ++i) {
        QCOMPARE(a.bookmarks[i].name, b.bookmarks[i].name);
        QCOMPARE(a.bookmarks[i].token, b.bookmarks[i].token);
        QCOMPARE(a.bookmarks[i].layer, b.bookmarks[i].layer);
        QCOMPARE(a.bookmarks[i].head, b.bookmarks[i].head);
        QCOMPARE(a.bookmarks[i].view, b.bookmarks[i].view);
        QCOMPARE(a.bookmarks[i].notes, b.bookmarks[i].notes);
    }
    QCOMPARE(a.annotations.size(), b.annotations.size());
    for (size_t i = 0; i < a.annotations.size(); ++i) {
        QCOMPARE(a.annotations[i].token, b.annotations[i].token);
        QCOMPARE(a.annotations[i].text, b.annotations[i].text);
    }
    QCOMPARE(a.pinned.size(), b.pinned.size());
    for (size_t i = 0; i < a.pinned.size(); ++i) {
        QCOMPARE(a.pinned[i].name, b.pinned[i].name);
        QCOMPARE(a.pinned[i].layer, b.pinned[i].layer);
        QCOMPARE(a.pinned[i].token, b.pinned[i].token);
        QCOMPARE(a.pinned[i].shape, b.pinned[i].shape);
        QCOMPARE(a.pinned[i].values, b.pinned[i].values);
    }
    QCOMPARE(a.lesson, b.lesson);
    QCOMPARE(a.lesson_step, b.lesson_step);
}

// Runs SQL on a file directly, as another program (or damage) would.
void raw_sql(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    QCOMPARE(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    QVERIFY2(rc == SQLITE_OK, msg.c_str());
}

// The Error message load() gives, or "" when it loads.
std::string load_error(const std::string& path) {
    try {
        session::load(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string bytes_of(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

} // namespace

class TestSession : public QObject {
    Q_OBJECT

private slots:
    void round_trip() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("a.statescope").toStdString();
        const session::Session s = sample_session();
        session::save(path, s);
        expect_equal(session::load(path), s);
        // Saving again over the file replaces it whole.
        session::Session t = s;
        t.bookmarks.pop_back();
        t.annotations.clear();
        t.token = 5;
        session::save(path, t);
        expect_equal(session::load(path), t);
        QVERIFY(session::describe(t).find("bookmarks: 1") != std::string::npos);
    }

    void pinned_states_replace_by_name() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("p.statescope").toStdString();
        session::Session s = sample_session();
        session::save(path, s);
        session::PinnedState other = s.pinned[0];
        other.name = "state at 30";
        other.token = 30;
        other.values.assign(30, 1.5f);
        s.pinned[0].token = 13;               // same name, another pin: replaced
        s.pinned[0].values.assign(30, -2.0f);
        s.pinned.push_back(other);
        session::save(path, s);
        expect_equal(session::load(path), s);
        s.pinned.erase(s.pinned.begin());     // unpinned: gone from the file
        session::save(path, s);
        expect_equal(session::load(path), s);
    }

    void refuses_bad_values_before_writing() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("v.statescope").toStdString();
        session::Session s = sample_session();
        s.bookmarks[0].token = 400;
        try {
            session::save(path, s);
            QFAIL("a bookmark past the sequence was saved");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("bookmark 'flip'") != std::string::npos, e.what());
        }
        QVERIFY(!fs::exists(path));
    }

    void bad_files_are_refused_by_name_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing") << "missing" << "no such session file";
        QTest::newRow("empty file") << "empty" << "an empty file";
        QTest::newRow("text file") << "text" << "not an SQLite database";
        QTest::newRow("truncated") << "truncate" << "damaged or truncated";
        QTest::newRow("other program") << "other-app" << "another program";
        QTest::newRow("plain sqlite") << "plain-sqlite" << "not a Statescope session";
        QTest::newRow("newer schema") << "newer" << "schema version 99; this build reads versions up to 1";
        QTest::newRow("missing table") << "drop-table" << "the table 'bookmarks' is missing";
        QTest::newRow("missing column") << "drop-column" << "no such column: notes";
        QTest::newRow("wrong blob size") << "blob-size" << "pinned state 'state at 12': 3 bytes of data for shape [2,3,5]";
        QTest::newRow("token blob") << "token-blob" << "token blob has 5 bytes";
        QTest::newRow("bad shape") << "bad-shape" << "bad shape '2,x'";
        QTest::newRow("no session row") << "no-row" << "holds no session row";
        QTest::newRow("position out of range") << "bad-token" << "outside the sequence of 40 tokens";
    }

    void bad_files_are_refused_by_name() {
        QFETCH(QString, damage);
        QFETCH(QString, expected);
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("bad.statescope").toStdString();
        const std::string d = damage.toStdString();
        if (d == "empty") std::ofstream(path).flush();
        else if (d == "text") std::ofstream(path) << "config = {\"model_type\": \"gla\"}\n";
        else if (d == "other-app") raw_sql(path, "PRAGMA application_id = 1234; CREATE TABLE t (x);");
        else if (d == "plain-sqlite") raw_sql(path, "CREATE TABLE session (x); INSERT INTO session VALUES (1);");
        else if (d != "missing") {
            session::save(path, sample_session());
            if (d == "truncate") fs::resize_file(path, fs::file_size(path) / 2);
            else if (d == "newer") raw_sql(path, "PRAGMA user_version = 99");
            else if (d == "drop-table") raw_sql(path, "DROP TABLE bookmarks");
            else if (d == "drop-column") raw_sql(path, "ALTER TABLE bookmarks DROP COLUMN notes");
            else if (d == "blob-size") raw_sql(path, "UPDATE pinned_states SET data = x'010203'");
            else if (d == "token-blob") raw_sql(path, "UPDATE session SET tokens = x'0102030405'");
            else if (d == "bad-shape") raw_sql(path, "UPDATE pinned_states SET shape = '2,x'");
            else if (d == "no-row") raw_sql(path, "DELETE FROM session");
            else if (d == "bad-token") raw_sql(path, "UPDATE session SET token = 40");
        }
        const std::string before = bytes_of(path);
        const std::string msg = load_error(path);
        QVERIFY2(msg.find(path) == 0, msg.c_str());
        QVERIFY2(msg.find(expected.toStdString()) != std::string::npos, msg.c_str());
        QCOMPARE(bytes_of(path), before); // opening never changes the file
    }

    void never_overwrites_another_programs_database() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("other.db").toStdString();
        raw_sql(path, "CREATE TABLE photos (id INTEGER); INSERT INTO photos VALUES (7);");
        const std::string before = bytes_of(path);
        try {
            session::save(path, sample_session());
            QFAIL("saved over another program's database");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("not a Statescope session") != std::string::npos, e.what());
        }
        QCOMPARE(bytes_of(path), before);
        // Nor a file of a newer schema.
        const std::string newer = tmp.filePath("newer.statescope").toStdString();
        session::save(newer, sample_session());
        raw_sql(newer, "PRAGMA user_version = 7");
        QVERIFY_EXCEPTION_THROWN(session::save(newer, sample_session()), Error);
    }

    // A child saves in a loop and reports each committed save's number through a pipe; it is
    // killed at random moments. After each kill the file must open and hold the last save the
    // child reported, or the one after it (committed, killed before it could report).
    void survives_sigkill_during_saves() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("crash.statescope").toStdString();
        session::Session s = sample_session();
        // The first save carries its number too, for a kill that comes before the child's first save.
        s.pinned[0].values[0] = float(int64_t(s.layer) * 40 + s.token);
        s.bookmarks[0].notes = "save " + std::to_string(int64_t(s.layer) * 40 + s.token);
        session::save(path, s);
        const session::Session first = session::load(path);
        int64_t last = int64_t(first.layer) * 40 + first.token; // the save number (layer, token) encodes
        std::mt19937 rng(11);
        const int kills = 200;
        for (int k = 0; k < kills; ++k) {
            int fds[2];
            QCOMPARE(pipe(fds), 0);
            const pid_t pid = fork();
            QVERIFY(pid >= 0);
            if (pid == 0) {
                close(fds[0]);
                session::Session c = s;
                for (int64_t i = last + 1;; ++i) {
                    c.token = i % 40;
                    c.layer = int(i / 40);  // (layer, token) encodes the save's number
                    c.pinned[0].values[0] = float(i);
                    c.bookmarks[0].notes = "save " + std::to_string(i);
                    try {
                        session::save(path, c);
                    } catch (...) {
                        _exit(3);
                    }
                    if (write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
                }
            }
            close(fds[1]);
            usleep(std::uniform_int_distribution<int>(200, 20000)(rng));
            kill(pid, SIGKILL);
            int status = 0;
            waitpid(pid, &status, 0);
            QVERIFY2(WIFSIGNALED(status), "the saving child exited by itself");
            int64_t reported = last, n = 0;
            while (read(fds[0], &n, sizeof n) == sizeof n) reported = n;
            close(fds[0]);
            const session::Session got = session::load(path);
            const int64_t saved = int64_t(got.layer) * 40 + got.token;
            QVERIFY2(saved == reported || saved == reported + 1,
                     qPrintable(QString("kill %1: file holds save %2, the child had reported %3").arg(k).arg(saved).arg(reported)));
            QCOMPARE(double(got.pinned[0].values[0]), double(saved));
            QCOMPARE(got.bookmarks[0].notes, "save " + std::to_string(saved));
            last = saved;
        }
    }

    // Two processes saving one file: the saves are serialised, none fails, the file stays whole.
    void two_processes_on_one_file() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("shared.statescope").toStdString();
        session::save(path, sample_session());
        pid_t pids[2];
        for (int w = 0; w < 2; ++w) {
            pids[w] = fork();
            QVERIFY(pids[w] >= 0);
            if (pids[w] == 0) {
                session::Session c = sample_session();
                for (int i = 0; i < 40; ++i) {
                    c.token = w * 20 + i % 20;
                    try {
                        session::save(path, c);
                        session::load(path);
                    } catch (...) {
                        _exit(1);
                    }
                }
                _exit(0);
            }
        }
        for (pid_t pid : pids) {
            int status = 0;
            waitpid(pid, &status, 0);
            QVERIFY(WIFEXITED(status));
            QCOMPARE(WEXITSTATUS(status), 0);
        }
        QCOMPARE(session::load(path).tokens.size(), size_t(40));
    }

    void model_identity_follows_config_and_headers() {
        const std::string src = std::string(STATESCOPE_SOURCE_DIR) + "/assets/models/deltanet-negeig-tiny";
        QVERIFY(!src.empty());
        QTemporaryDir tmp;
        const fs::path copy = tmp.filePath("copy").toStdString();
        fs::create_directories(copy);
        fs::copy_file(src + "/config.json", copy / "config.json");
        fs::copy_file(src + "/model.safetensors", copy / "model.safetensors");
        const std::string id = session::model_identity(src);
        QCOMPARE(id.size(), size_t(16));
        QCOMPARE(session::model_identity(copy.string()), id);                      // moved: same identity
        QCOMPARE(session::model_identity((copy / "config.json").string()), id);    // named by its config
        std::ofstream(copy / "config.json", std::ios::app) << "\n";
        QVERIFY(session::model_identity(copy.string()) != id);                     // changed: another
        fs::remove(copy / "model.safetensors");
        try {
            session::model_identity(copy.string());
            QFAIL("no safetensors file, yet an identity");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("model.safetensors") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "test_session.moc"
