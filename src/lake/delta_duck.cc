// The Delta log's two uses of DuckDB: a data file's schema, and the checkpoint's Parquet.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "lake/delta_log.h"
#include "lake/duck.h"

namespace cryptolake::lake::delta {

namespace {

StatusOr<std::string> DeltaType(const std::string& duck) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {"TIMESTAMP WITH TIME ZONE", "timestamp"},
      {"DATE", "date"},
      {"DOUBLE", "double"},
      {"FLOAT", "float"},
      {"BIGINT", "long"},
      {"INTEGER", "integer"},
      {"SMALLINT", "short"},
      {"TINYINT", "byte"},
      {"VARCHAR", "string"},
      {"BOOLEAN", "boolean"}};
  for (const auto& [d, t] : kTypes) {
    if (duck == d) return std::string(t);
  }
  if (duck.rfind("DECIMAL(", 0) == 0) return "decimal" + duck.substr(7);
  return FailedPrecondition("column type {} has no Delta type this lake writes", duck);
}

StatusOr<Connection> Memory(std::unique_ptr<Database>* db) {
  ASSIGN_OR_RETURN(Database d, Database::Open(":memory:", 1));
  *db = std::make_unique<Database>(std::move(d));
  return Connection::Open(**db);
}

}  // namespace

StatusOr<std::string> ParquetSchema(const fs::path& file,
                                    const std::vector<std::string>& partitions) {
  std::unique_ptr<Database> db;
  ASSIGN_OR_RETURN(Connection con, Memory(&db));
  ASSIGN_OR_RETURN(Result r, con.Query(fmt::format("DESCRIBE SELECT * FROM read_parquet({}, "
                                                   "hive_partitioning = false)",
                                                   SqlQuote(file.string()))));
  nlohmann::json fields = nlohmann::json::array();
  auto field = [](const std::string& name, const std::string& type) {
    return nlohmann::json{
        {"name", name}, {"type", type}, {"nullable", true}, {"metadata", nlohmann::json::object()}};
  };
  for (size_t i = 0; i < r.rows(); ++i) {
    const std::string name = r.GetString(0, i);
    auto type = DeltaType(r.GetString(1, i));
    if (!type.ok()) {
      return Status(type.status().code(),
                    fmt::format("{}: column {}: {}", file.string(), name, type.status().message()));
    }
    fields.push_back(field(name, *type));
  }
  for (const auto& p : partitions) fields.push_back(field(p, p == "symbol" ? "string" : "integer"));
  return nlohmann::json{{"type", "struct"}, {"fields", fields}}.dump();
}

Status NdjsonToCheckpoint(const fs::path& ndjson, const fs::path& parquet) {
  std::unique_ptr<Database> db;
  ASSIGN_OR_RETURN(Connection con, Memory(&db));
  return con.Exec(
      fmt::format("COPY (SELECT txn, add, remove, metaData, protocol FROM read_json({}, format = "
                  "'newline_delimited', columns = {})) TO {} (FORMAT parquet)",
                  SqlQuote(ndjson.string()), CheckpointColumns(), SqlQuote(parquet.string())));
}

}  // namespace cryptolake::lake::delta
