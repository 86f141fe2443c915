#include "lake/duck.h"

#include <fmt/format.h>

#include <atomic>
#include <mutex>

namespace cryptolake::lake {

static std::string Abbrev(std::string_view sql) {
  constexpr size_t kMax = 300;
  if (sql.size() <= kMax) return std::string(sql);
  return std::string(sql.substr(0, kMax)) + "...";
}

StatusOr<Database> Database::Open(const std::string& path, int threads) {
  Database d;
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) return Internal("duckdb_create_config failed");
  if (threads > 0) duckdb_set_config(config, "threads", std::to_string(threads).c_str());
  char* err = nullptr;
  const char* p = path.empty() ? ":memory:" : path.c_str();
  if (duckdb_open_ext(p, &d.db_, config, &err) == DuckDBError) {
    std::string msg = err ? err : "unknown error";
    if (err) duckdb_free(err);
    duckdb_destroy_config(&config);
    return Internal("opening DuckDB database {}: {}", p, msg);
  }
  duckdb_destroy_config(&config);
  return d;
}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_) duckdb_close(&db_);
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

Database::~Database() {
  if (db_) duckdb_close(&db_);
}

Result::~Result() {
  if (r_) duckdb_destroy_result(r_.get());
}
size_t Result::rows() const { return r_ ? duckdb_row_count(r_.get()) : 0; }
size_t Result::columns() const { return r_ ? duckdb_column_count(r_.get()) : 0; }
std::string Result::ColumnName(size_t col) const { return duckdb_column_name(r_.get(), col); }
bool Result::IsNull(size_t col, size_t row) const {
  return duckdb_value_is_null(r_.get(), col, row);
}
int64_t Result::GetInt64(size_t col, size_t row) const {
  switch (duckdb_column_type(r_.get(), col)) {
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return duckdb_value_timestamp(r_.get(), col, row).micros;
    case DUCKDB_TYPE_DATE:
      return static_cast<int64_t>(duckdb_value_date(r_.get(), col, row).days) * 86'400'000'000LL;
    default:
      return duckdb_value_int64(r_.get(), col, row);
  }
}
double Result::GetDouble(size_t col, size_t row) const {
  return duckdb_value_double(r_.get(), col, row);
}
bool Result::GetBool(size_t col, size_t row) const {
  return duckdb_value_boolean(r_.get(), col, row);
}
std::string Result::GetString(size_t col, size_t row) const {
  char* s = duckdb_value_varchar(r_.get(), col, row);
  if (!s) return {};
  std::string out(s);
  duckdb_free(s);
  return out;
}

StatusOr<Connection> Connection::Open(const Database& db) {
  Connection c;
  if (duckdb_connect(db.raw(), &c.con_) == DuckDBError) return Internal("duckdb_connect failed");
  // All of cryptolake's times are UTC; no query may depend on the machine's time zone.
  RETURN_IF_ERROR(c.Exec("SET TimeZone = 'UTC'"));
  return c;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (con_) duckdb_disconnect(&con_);
    con_ = o.con_;
    pacer_ = o.pacer_;
    o.con_ = nullptr;
    o.pacer_ = nullptr;
  }
  return *this;
}

Connection::~Connection() {
  if (con_) duckdb_disconnect(&con_);
}

Status Connection::Exec(std::string_view sql) {
  auto r = Query(sql);
  return r.status();
}

namespace {

// One statement, unpaced (Connection::Run paces): prepared with positional parameters, or plain.
StatusOr<Result> QueryPrepared(duckdb_connection con, std::string_view sql,
                               const std::vector<Param>& params) {
  duckdb_prepared_statement stmt = nullptr;
  std::string q(sql);
  if (duckdb_prepare(con, q.c_str(), &stmt) == DuckDBError) {
    std::string msg = duckdb_prepare_error(stmt) ? duckdb_prepare_error(stmt) : "unknown error";
    duckdb_destroy_prepare(&stmt);
    return Internal("DuckDB prepare: {} [in: {}]", msg, Abbrev(sql));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    idx_t idx = i + 1;
    duckdb_state st = DuckDBSuccess;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>)
            st = duckdb_bind_null(stmt, idx);
          else if constexpr (std::is_same_v<T, int64_t>)
            st = duckdb_bind_int64(stmt, idx, v);
          else if constexpr (std::is_same_v<T, double>)
            st = duckdb_bind_double(stmt, idx, v);
          else if constexpr (std::is_same_v<T, bool>)
            st = duckdb_bind_boolean(stmt, idx, v);
          else
            st = duckdb_bind_varchar_length(stmt, idx, v.data(), v.size());
        },
        params[i]);
    if (st == DuckDBError) {
      duckdb_destroy_prepare(&stmt);
      return Internal("DuckDB: cannot bind parameter {} [in: {}]", idx, Abbrev(sql));
    }
  }
  duckdb_result res;
  if (duckdb_execute_prepared(stmt, &res) == DuckDBError) {
    std::string msg = duckdb_result_error(&res) ? duckdb_result_error(&res) : "unknown error";
    duckdb_destroy_result(&res);
    duckdb_destroy_prepare(&stmt);
    return Internal("DuckDB: {} [in: {}]", msg, Abbrev(sql));
  }
  duckdb_destroy_prepare(&stmt);
  return Result(res);
}

StatusOr<Result> QueryPlain(duckdb_connection con, std::string_view sql) {
  duckdb_result res;
  std::string q(sql);
  if (duckdb_query(con, q.c_str(), &res) == DuckDBError) {
    std::string msg = duckdb_result_error(&res) ? duckdb_result_error(&res) : "unknown error";
    duckdb_destroy_result(&res);
    return Internal("DuckDB: {} [in: {}]", msg, Abbrev(sql));
  }
  return Result(res);
}

}  // namespace

StatusOr<Result> Connection::Query(std::string_view sql) { return Run(sql, nullptr); }

StatusOr<Result> Connection::Query(std::string_view sql, const std::vector<Param>& params) {
  return Run(sql, &params);
}

StatusOr<Result> Connection::Run(std::string_view sql, const std::vector<Param>* params) {
  const Micros started = pacer_ ? pacer_->Start() : 0;
  auto r = params ? QueryPrepared(con_, sql, *params) : QueryPlain(con_, sql);
  if (pacer_) pacer_->Done(started);
  return r;
}

StatusOr<int64_t> Connection::QueryInt64(std::string_view sql) {
  ASSIGN_OR_RETURN(Result r, Query(sql));
  if (r.rows() != 1 || r.columns() < 1) {
    return Internal("expected one row, got {} [in: {}]", r.rows(), Abbrev(sql));
  }
  return r.IsNull(0, 0) ? 0 : r.GetInt64(0, 0);
}

DataChunk::DataChunk(const std::vector<duckdb_type>& types) {
  std::vector<duckdb_logical_type> lt;
  lt.reserve(types.size());
  for (auto t : types) lt.push_back(duckdb_create_logical_type(t));
  chunk_ = duckdb_create_data_chunk(lt.data(), lt.size());
  for (auto& t : lt) duckdb_destroy_logical_type(&t);
}

DataChunk::~DataChunk() {
  if (chunk_) duckdb_destroy_data_chunk(&chunk_);
}

void DataChunk::SetNull(size_t col, idx_t row) {
  duckdb_vector v = duckdb_data_chunk_get_vector(chunk_, col);
  duckdb_vector_ensure_validity_writable(v);
  duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), row);
}

void DataChunk::SetString(size_t col, idx_t row, std::string_view s) {
  duckdb_vector_assign_string_element_len(duckdb_data_chunk_get_vector(chunk_, col), row, s.data(),
                                          s.size());
}

StatusOr<Appender> Appender::Open(const Connection& con, const std::string& table) {
  Appender a;
  if (duckdb_appender_create(con.raw(), nullptr, table.c_str(), &a.app_) == DuckDBError) {
    std::string msg = a.app_ && duckdb_appender_error(a.app_) ? duckdb_appender_error(a.app_) : "";
    duckdb_appender_destroy(&a.app_);
    return Internal("DuckDB appender on {}: {}", table, msg);
  }
  return a;
}

Status Appender::Append(const DataChunk& chunk) {
  if (duckdb_append_data_chunk(app_, chunk.raw()) == DuckDBError) {
    return Internal("DuckDB append: {}", duckdb_appender_error(app_));
  }
  return Status::Ok();
}

Status Appender::Close() {
  if (!app_) return Status::Ok();
  Status s;
  if (duckdb_appender_close(app_) == DuckDBError) {
    s = Internal("DuckDB appender close: {}", duckdb_appender_error(app_));
  }
  duckdb_appender_destroy(&app_);
  app_ = nullptr;
  return s;
}

Appender::~Appender() {
  IgnoreError(Close(), "appender destroyed unclosed; a caller that needs its rows calls Close()");
}

struct TableSourceAccess {
  static void Count(const TableSource& s, size_t n) {
    s.rows_scanned_.fetch_add(n, std::memory_order_relaxed);
  }
};

namespace {

// Global scan state: a cursor over (unit, offset) handed out under a mutex, one chunk at a time.
struct ScanState {
  std::mutex mu;
  size_t unit = 0, offset = 0;
};

void ScanBind(duckdb_bind_info info) {
  auto* src = static_cast<const TableSource*>(duckdb_bind_get_extra_info(info));
  size_t rows = 0;
  for (size_t u = 0; u < src->Units(); ++u) rows += src->UnitRows(u);
  for (const auto& c : src->Columns()) {
    duckdb_logical_type t = duckdb_create_logical_type(c.type);
    duckdb_bind_add_result_column(info, c.name.c_str(), t);
    duckdb_destroy_logical_type(&t);
  }
  duckdb_bind_set_cardinality(info, rows, true);
}

void ScanInit(duckdb_init_info info) {
  duckdb_init_set_init_data(info, new ScanState,
                            [](void* p) { delete static_cast<ScanState*>(p); });
  duckdb_init_set_max_threads(info, 64);
}

void ScanFunction(duckdb_function_info info, duckdb_data_chunk out) {
  auto* src = static_cast<const TableSource*>(duckdb_function_get_extra_info(info));
  auto* st = static_cast<ScanState*>(duckdb_function_get_init_data(info));
  size_t unit, offset, n = 0;
  {
    std::lock_guard<std::mutex> l(st->mu);
    while (st->unit < src->Units() && st->offset >= src->UnitRows(st->unit)) {
      ++st->unit;
      st->offset = 0;
    }
    if (st->unit < src->Units()) {
      unit = st->unit;
      offset = st->offset;
      n = std::min<size_t>(duckdb_vector_size(), src->UnitRows(unit) - offset);
      st->offset += n;
    }
  }
  if (n > 0) {
    src->Fill(unit, offset, n, out);
    TableSourceAccess::Count(*src, n);
  }
  duckdb_data_chunk_set_size(out, n);
}

}  // namespace

Status RegisterTableSource(const Connection& con, const std::string& name,
                           const TableSource* source) {
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, name.c_str());
  duckdb_table_function_set_extra_info(f, const_cast<TableSource*>(source), nullptr);
  duckdb_table_function_set_bind(f, ScanBind);
  duckdb_table_function_set_init(f, ScanInit);
  duckdb_table_function_set_function(f, ScanFunction);
  duckdb_state st = duckdb_register_table_function(con.raw(), f);
  duckdb_destroy_table_function(&f);
  if (st == DuckDBError) return Internal("DuckDB: cannot register table function {}", name);
  return Status::Ok();
}

std::string SqlQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string SqlPathList(const std::vector<std::filesystem::path>& paths) {
  std::string out = "[";
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i) out += ", ";
    out += SqlQuote(paths[i].string());
  }
  out += "]";
  return out;
}

}  // namespace cryptolake::lake
