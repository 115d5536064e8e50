// A thin RAII layer over SQLite: one connection, prepared statements with bound parameters only
// (no SQL is ever built from message text), transactions that roll back unless committed.
// Not thread-safe: the Store serializes every use of a Db behind its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qfarm::controller {

class Db;

// A prepared statement. Bind(i, v) uses 1-based parameter indexes, as SQLite does.
class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, std::string_view bytes);
  Stmt& BindNull(int i);
  // Steps once: true while a row is available; throws DbError on failure.
  bool Step();
  // Runs to completion (statements without rows).
  void Run();
  Stmt& Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;
  int Columns() const { return sqlite3_column_count(stmt_); }
  const char* ColumnName(int col) const { return sqlite3_column_name(stmt_, col); }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Thrown by Db/Stmt on an SQLite error (the Store turns it into a Status at its boundary).
struct DbError : std::runtime_error {
  DbError(const std::string& what, int code) : std::runtime_error(what), code(code) {}
  int code;
};

class Db {
 public:
  // Opens (creating) the file with WAL, foreign keys and a busy timeout. ":memory:" works.
  static StatusOr<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(std::string_view sql);  // several statements, no parameters
  int64_t LastInsertId() const;
  int Changes() const;
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless Commit() was called.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void Commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace qfarm::controller
