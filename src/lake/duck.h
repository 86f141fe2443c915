// The one wrapper around DuckDB's C API. Nothing outside src/lake includes duckdb.h directly
// except through these types. RAII handles; every error comes back as a Status (kInternal with
// DuckDB's message and the SQL that failed), never as an exception.
//
// Thread-safety: a Database may be shared by threads; a Connection, Result or Appender may not.
#pragma once

#include <duckdb.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/pacer.h"
#include "core/status.h"

namespace cryptolake::lake {

class Database {
 public:
  // Opens `path` (":memory:" or "" for an in-memory database). `threads` 0 = DuckDB's default.
  static StatusOr<Database> Open(const std::string& path = ":memory:", int threads = 0);
  Database(Database&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Database& operator=(Database&& o) noexcept;
  Database(const Database&) = delete;
  ~Database();
  duckdb_database raw() const { return db_; }

 private:
  Database() = default;
  duckdb_database db_ = nullptr;
};

// A materialized query result. Values are read by (column, row); out-of-range is a programmer
// error.
class Result {
 public:
  Result() = default;
  explicit Result(duckdb_result r) : r_(std::make_unique<duckdb_result>(r)) {}
  Result(Result&&) noexcept = default;
  Result& operator=(Result&&) noexcept = default;
  ~Result();

  size_t rows() const;
  size_t columns() const;
  std::string ColumnName(size_t col) const;
  bool IsNull(size_t col, size_t row) const;
  int64_t GetInt64(size_t col, size_t row) const;  // integers, timestamps (as epoch micros)
  double GetDouble(size_t col, size_t row) const;
  bool GetBool(size_t col, size_t row) const;
  std::string GetString(size_t col, size_t row) const;  // any type, rendered by DuckDB

  duckdb_result* raw() const { return r_.get(); }

 private:
  std::unique_ptr<duckdb_result> r_;
};

using Param = std::variant<std::nullptr_t, int64_t, double, std::string, bool>;

class Connection {
 public:
  // Opens a connection whose session time zone is UTC.
  static StatusOr<Connection> Open(const Database& db);
  Connection(Connection&& o) noexcept : con_(o.con_), pacer_(o.pacer_) {
    o.con_ = nullptr;
    o.pacer_ = nullptr;
  }
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements, discarding results.
  Status Exec(std::string_view sql);
  StatusOr<Result> Query(std::string_view sql);
  // A prepared statement with positional parameters ($1, $2, ... or ?).
  StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params);
  // Convenience: the single value of a one-row, one-column query.
  StatusOr<int64_t> QueryInt64(std::string_view sql);

  // Background work: every statement run through Exec/Query (failed ones too) is one unit of
  // `pacer`, which sleeps after it (core/pacer.h). nullptr (the default) runs unpaced. The pacer
  // must outlive its use here.
  void SetPacer(Pacer* pacer) { pacer_ = pacer; }

  duckdb_connection raw() const { return con_; }

 private:
  Connection() = default;
  // Query with or without parameters, paced.
  StatusOr<Result> Run(std::string_view sql, const std::vector<Param>* params);
  duckdb_connection con_ = nullptr;
  Pacer* pacer_ = nullptr;
};

// A data chunk under construction, for bulk appends. Column types are fixed at creation.
class DataChunk {
 public:
  explicit DataChunk(const std::vector<duckdb_type>& types);
  DataChunk(const DataChunk&) = delete;
  ~DataChunk();
  static idx_t Capacity() { return duckdb_vector_size(); }
  template <typename T>
  T* Column(size_t col) {
    return static_cast<T*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_, col)));
  }
  void SetNull(size_t col, idx_t row);
  void SetString(size_t col, idx_t row, std::string_view s);
  void SetSize(idx_t n) { duckdb_data_chunk_set_size(chunk_, n); }
  void Reset() { duckdb_data_chunk_reset(chunk_); }
  duckdb_data_chunk raw() const { return chunk_; }

 private:
  duckdb_data_chunk chunk_ = nullptr;
};

class Appender {
 public:
  static StatusOr<Appender> Open(const Connection& con, const std::string& table);
  Appender(Appender&& o) noexcept : app_(o.app_) { o.app_ = nullptr; }
  Appender(const Appender&) = delete;
  ~Appender();
  Status Append(const DataChunk& chunk);
  Status Close();  // flushes; also called by the destructor (errors then are dropped)

 private:
  Appender() = default;
  duckdb_appender app_ = nullptr;
};

// SQL string literal for `s`: single quotes doubled, wrapped in quotes.
std::string SqlQuote(std::string_view s);
// Rows held in C++ memory, exposed to SQL as a table function that DuckDB scans in parallel
// without copying them into a table first. Fill() is called concurrently from DuckDB's worker
// threads for disjoint ranges, so it must only read shared state.
class TableSource {
 public:
  virtual ~TableSource() = default;
  struct ColumnDef {
    std::string name;
    duckdb_type type;
  };
  virtual std::vector<ColumnDef> Columns() const = 0;
  // Splits the rows into scan units (e.g. one per input file); unit u has UnitRows(u) rows.
  virtual size_t Units() const = 0;
  virtual size_t UnitRows(size_t unit) const = 0;
  // Writes rows [offset, offset + n) of `unit` into `out` (n <= DataChunk::Capacity()).
  virtual void Fill(size_t unit, size_t offset, size_t n, duckdb_data_chunk out) const = 0;
  // Rows handed to DuckDB so far, across all scans: a progress measure for long writes.
  uint64_t rows_scanned() const { return rows_scanned_.load(std::memory_order_relaxed); }

 private:
  friend struct TableSourceAccess;
  mutable std::atomic<uint64_t> rows_scanned_{0};
};

// Registers `source` on `con` as the table function `name()` (no arguments). `source` must
// outlive every query that uses it. Names must be unique per connection.
Status RegisterTableSource(const Connection& con, const std::string& name,
                           const TableSource* source);

// Quoted, comma-separated strings for an IN list: 'a', 'b'.
template <typename Range>
std::string SqlQuoteList(const Range& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += SqlQuote(s);
  }
  return out;
}
// A SQL list literal of quoted paths: ['a', 'b'].
std::string SqlPathList(const std::vector<std::filesystem::path>& paths);

}  // namespace cryptolake::lake
