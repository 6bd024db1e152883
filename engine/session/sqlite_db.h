// A thin checked wrapper over the SQLite C API for the session store: every call's result is
// checked, and a failure becomes an Error naming the file and SQLite's own message.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace statescope::session {

class Statement;

class Database {
public:
    // create: make the file when it is missing. Otherwise an existing file is opened for writing
    // where it can be (so that SQLite can roll back a save that a crash interrupted, from its
    // journal), and read-only where it cannot.
    Database(const std::string& path, bool create);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const std::string& path() const { return path_; }
    void exec(const std::string& sql);
    int64_t pragma_int(const std::string& name); // PRAGMA name (user_version, application_id, ...)
    bool has_table(const std::string& name);
    int64_t count_schema_objects(); // tables, indexes, ...: 0 for a new or zero-byte file
    // Throws Error("<file>: <what>: <SQLite's message>").
    [[noreturn]] void fail(const std::string& what) const;

private:
    friend class Statement;
    std::string path_;
    sqlite3* db_ = nullptr;
};

class Statement {
public:
    Statement(Database& db, const std::string& sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, double value);
    Statement& bind(int index, const std::string& value);
    Statement& bind_blob(int index, const void* data, size_t bytes);
    // Steps once: true while a row is available, false when done.
    bool step();
    // Runs a statement that returns no rows and resets it for the next bindings.
    void run();
    void reset();

    int64_t integer(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::vector<uint8_t> blob(int column) const;

private:
    Database& db_;
    std::string sql_;
    sqlite3_stmt* stmt_ = nullptr;
};

} // namespace statescope::session
