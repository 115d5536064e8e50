#include "controller/db.h"

#include <memory>

namespace qfarm::controller {
namespace {

[[noreturn]] void Throw(sqlite3* db, std::string_view what) {
  throw DbError(std::string(what) + ": " + sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

}  // namespace

Stmt::Stmt(Db& db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
    Throw(db.handle(), "prepare");
  }
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::Bind(int i, int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) Throw(db_.handle(), "bind");
  return *this;
}

Stmt& Stmt::Bind(int i, double v) {
  if (sqlite3_bind_double(stmt_, i, v) != SQLITE_OK) Throw(db_.handle(), "bind");
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  if (sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    Throw(db_.handle(), "bind");
  }
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  if (sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT) != SQLITE_OK) {
    Throw(db_.handle(), "bind");
  }
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) Throw(db_.handle(), "bind");
  return *this;
}

bool Stmt::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Throw(db_.handle(), "step");
}

void Stmt::Run() {
  while (Step()) {
  }
}

Stmt& Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return *this;
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::Double(int col) const { return sqlite3_column_double(stmt_, col); }
bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  sqlite3* handle = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &handle, flags, nullptr) != SQLITE_OK) {
    std::string msg = handle ? sqlite3_errmsg(handle) : "out of memory";
    sqlite3_close(handle);
    return Unavailable(path + ": cannot open database: " + msg);
  }
  std::unique_ptr<Db> db(new Db(handle, path));
  try {
    sqlite3_busy_timeout(handle, 5000);
    db->Exec("PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  } catch (const DbError& e) {
    return Unavailable(path + ": " + e.what());
  }
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

void Db::Exec(std::string_view sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw DbError("exec: " + msg, sqlite3_extended_errcode(db_));
  }
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

Transaction::Transaction(Db& db) : db_(db) { db_.Exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.Exec("ROLLBACK");
    } catch (const DbError&) {
    }
  }
}

void Transaction::Commit() {
  db_.Exec("COMMIT");
  done_ = true;
}

}  // namespace qfarm::controller
