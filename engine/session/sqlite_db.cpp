#include "session/sqlite_db.h"

#include "statescope/error.h"

namespace statescope::session {

Database::Database(const std::string& path, bool create) : path_(path) {
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK && !create) {
        sqlite3_close(db_);
        db_ = nullptr;
        rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    }
    if (rc != SQLITE_OK) {
        const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(path + ": cannot open (" + msg + ")");
    }
    sqlite3_extended_result_codes(db_, 1);
    // Another process saving the same file holds its write lock for one transaction; wait for it.
    sqlite3_busy_timeout(db_, 5000);
}

Database::~Database() { sqlite3_close(db_); }

void Database::fail(const std::string& what) const {
    const int code = sqlite3_errcode(db_);
    std::string msg = sqlite3_errmsg(db_);
    if ((code & 0xff) == SQLITE_NOTADB) msg = "not an SQLite database";
    else if ((code & 0xff) == SQLITE_CORRUPT) msg = "the database is damaged or truncated (" + msg + ")";
    else if ((code & 0xff) == SQLITE_BUSY) msg = "the file is in use by another Statescope (" + msg + ")";
    throw Error(path_ + ": " + what + ": " + msg);
}

void Database::exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        sqlite3_free(err);
        fail("'" + sql.substr(0, 60) + "'");
    }
}

int64_t Database::pragma_int(const std::string& name) {
    Statement st(*this, "PRAGMA " + name);
    return st.step() ? st.integer(0) : 0;
}

bool Database::has_table(const std::string& name) {
    Statement st(*this, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    st.bind(1, name);
    return st.step();
}

int64_t Database::count_schema_objects() {
    Statement st(*this, "SELECT count(*) FROM sqlite_master");
    return st.step() ? st.integer(0) : 0;
}

Statement::Statement(Database& db, const std::string& sql) : db_(db), sql_(sql) {
    if (sqlite3_prepare_v2(db_.db_, sql.c_str(), int(sql.size()), &stmt_, nullptr) != SQLITE_OK)
        db_.fail("'" + sql.substr(0, 60) + "'");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_.fail("binding a value");
    return *this;
}

Statement& Statement::bind(int index, double value) {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) db_.fail("binding a value");
    return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
    if (sqlite3_bind_text(stmt_, index, value.data(), int(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail("binding a value");
    return *this;
}

Statement& Statement::bind_blob(int index, const void* data, size_t bytes) {
    // A zero-length blob needs a non-null pointer, or SQLite stores NULL.
    static const char empty = 0;
    if (sqlite3_bind_blob64(stmt_, index, bytes ? data : &empty, bytes, SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail("binding a value");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail("'" + sql_.substr(0, 60) + "'");
}

void Statement::run() {
    while (step()) {}
    reset();
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, size_t(sqlite3_column_bytes(stmt_, column))) : std::string();
}

std::vector<uint8_t> Statement::blob(int column) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
    const int n = sqlite3_column_bytes(stmt_, column);
    return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}

} // namespace statescope::session
