#include "lake/delta_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/fsutil.h"

namespace cryptolake::lake::delta {

using json = nlohmann::json;

namespace {

int64_t Millis(Micros t) { return t >= 0 ? t / 1000 : -((-t + 999) / 1000); }

// "year=2025/month=05" -> {{"year","2025"},{"month","5"}} (integers without leading zeros).
std::vector<std::pair<std::string, std::string>> PartitionPairs(const FileEntry& f) {
  std::vector<std::pair<std::string, std::string>> out{{"symbol", f.symbol}};
  std::string_view rest = f.partition;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos) {
      std::string value(part.substr(eq + 1));
      while (value.size() > 1 && value.front() == '0') value.erase(0, 1);
      out.emplace_back(std::string(part.substr(0, eq)), value);
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

std::vector<std::string> PartitionColumns(const FileEntry& f) {
  std::vector<std::string> out;
  for (auto& [k, v] : PartitionPairs(f)) out.push_back(k);
  return out;
}

json PartitionValues(const FileEntry& f) {
  json out = json::object();
  for (auto& [k, v] : PartitionPairs(f)) out[k] = v;
  return out;
}

std::string InTable(const FileEntry& f, const std::string& dir) {
  return f.path.substr(dir.size() + 1);
}

// The Delta type of `column` in a schema string ("" if absent).
std::string FieldType(const std::string& schema, const std::string& column) {
  try {
    const json parsed = json::parse(schema);
    for (const auto& field : parsed.at("fields")) {
      if (field.at("name") == column && field.at("type").is_string()) return field.at("type");
    }
  } catch (const std::exception&) {
  }
  return "";
}

// A stats value of the time column: Delta's JSON encoding of a timestamp or a date.
json StatValue(const std::string& type, Micros t) {
  const std::string iso = FormatIso(t);  // "2025-05-20T00:00:00Z" (or with a fraction)
  if (type == "date") return iso.substr(0, 10);
  return fmt::format("{}.{:03d}Z", iso.substr(0, 19),
                     static_cast<int>((t / 1000) % 1000 + 1000) % 1000);
}

std::string Stats(const FileEntry& f, const std::string& schema) {
  json s = {{"numRecords", f.rows}};
  const std::string type = f.time_column.empty() ? "" : FieldType(schema, f.time_column);
  if (f.rows > 0 && (type == "timestamp" || type == "timestamp_ntz" || type == "date")) {
    s["minValues"] = {{f.time_column, StatValue(type, f.min_time)}};
    s["maxValues"] = {{f.time_column, StatValue(type, f.max_time)}};
    s["nullCount"] = {{f.time_column, 0}};
  }
  return s.dump();
}

std::string TableId(const fs::path& root, const std::string& dataset, Micros now) {
  const std::string h = Sha256Hex(fmt::format("{}\n{}\n{}", root.string(), dataset, now));
  return fmt::format("{}-{}-4{}-8{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(13, 3),
                     h.substr(17, 3), h.substr(20, 12));
}

struct Table {
  std::string dir;
  json info;  // meta "delta"[dataset]: version, id, schema, partitions, dir
  std::set<std::string> live;
  bool fresh = false;  // no version yet
};

// The table as `before` leaves it: from its meta entry, else read back from its log.
StatusOr<Table> TableBefore(const fs::path& root, const Manifest& before,
                            const std::string& dataset, const std::string& dir) {
  Table t;
  t.dir = dir;
  const json& all = before.meta.contains(kMetaKey) ? before.meta[kMetaKey] : json::object();
  if (all.contains(dataset)) {
    t.info = all[dataset];
    t.live = ManifestLive(before, dataset);
    return t;
  }
  ASSIGN_OR_RETURN(TableState st, Replay(root, dir));
  t.live = st.live;
  if (st.version < 0) {
    t.fresh = true;
    t.info = {{"version", -1}, {"dir", dir}};
  } else {
    t.info = {{"version", st.version},
              {"id", st.id},
              {"schema", st.schema},
              {"partitions", st.partitions},
              {"dir", dir}};
  }
  return t;
}

}  // namespace

std::string TableDir(std::string_view path) {
  size_t pos = path.find("/symbol=");
  return pos == std::string_view::npos ? "" : std::string(path.substr(0, pos));
}

std::string CommitPath(std::string_view table_dir, int64_t version) {
  return fmt::format("{}/_delta_log/{:020d}.json", table_dir, version);
}

std::set<std::string> ManifestLive(const Manifest& m, const std::string& dataset) {
  std::set<std::string> out;
  for (const auto& f : m.files) {
    if (f.dataset == dataset) out.insert(InTable(f, TableDir(f.path)));
  }
  return out;
}

StatusOr<TableState> Replay(const fs::path& root, std::string_view dir, int64_t up_to) {
  TableState st;
  const fs::path log = root / dir / "_delta_log";
  for (int64_t v = 0; up_to < 0 || v <= up_to; ++v) {
    const fs::path p = log / fmt::format("{:020d}.json", v);
    std::error_code ec;
    if (!fs::exists(p, ec)) break;
    ASSIGN_OR_RETURN(std::string text, ReadFile(p));
    size_t start = 0;
    try {
      while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::string_view line(text.data() + start,
                              (nl == std::string::npos ? text.size() : nl) - start);
        start = nl == std::string::npos ? text.size() : nl + 1;
        if (line.empty()) continue;
        json a = json::parse(line);
        if (a.contains("add")) st.live.insert(a["add"].at("path").get<std::string>());
        if (a.contains("remove")) st.live.erase(a["remove"].at("path").get<std::string>());
        if (a.contains("metaData")) {
          st.id = a["metaData"].at("id");
          st.schema = a["metaData"].at("schemaString");
          st.partitions = a["metaData"].at("partitionColumns").get<std::vector<std::string>>();
        }
      }
    } catch (const std::exception& e) {
      return DataLoss("{}: not a valid Delta commit: {}", p.string(), e.what());
    }
    st.version = v;
  }
  return st;
}

Status Plan(const fs::path& root, const Manifest& before, Manifest* after, Micros now,
            const SchemaOf& schema_of) {
  // The datasets whose live files differ, with their table folders.
  std::map<std::string, std::string> touched;
  std::map<std::string, const FileEntry*> old_files, new_files;
  for (const auto& f : before.files) old_files[f.path] = &f;
  for (const auto& f : after->files) new_files[f.path] = &f;
  for (const auto& [p, f] : new_files) {
    if (!old_files.count(p)) touched[f->dataset] = TableDir(p);
  }
  for (const auto& [p, f] : old_files) {
    if (!new_files.count(p)) touched[f->dataset] = TableDir(p);
  }
  json meta = after->meta.contains(kMetaKey) ? after->meta[kMetaKey] : json::object();
  // Datasets never logged get a version too (a lake from before the logs, or after repair).
  for (const auto& [p, f] : new_files) {
    if (!meta.contains(f->dataset)) touched[f->dataset] = TableDir(p);
  }
  json pending = json::array();
  // Versions recorded earlier and not yet put in place stay pending (Publish keeps order).
  if (after->meta.contains(kPendingKey)) {
    for (const auto& p : after->meta[kPendingKey]) {
      std::error_code ec;
      if (!fs::exists(root / CommitPath(p.at("dir").get<std::string>(), p.at("version")), ec)) {
        pending.push_back(p);
      }
    }
  }
  const int64_t now_ms = Millis(now);
  for (const auto& [dataset, dir] : touched) {
    if (dir.empty()) return Internal("dataset {} has a file outside a symbol= folder", dataset);
    ASSIGN_OR_RETURN(Table t, TableBefore(root, before, dataset, dir));
    const std::set<std::string> target = ManifestLive(*after, dataset);
    const int64_t version = t.info.at("version").get<int64_t>() + 1;
    std::string text;
    if (t.fresh) {
      const FileEntry* first = nullptr;
      for (const auto& f : after->files) {
        if (f.dataset == dataset) {
          first = &f;
          break;
        }
      }
      if (!first) continue;  // nothing to log yet
      const std::vector<std::string> parts = PartitionColumns(*first);
      ASSIGN_OR_RETURN(std::string schema, schema_of(root / first->path, parts));
      t.info["id"] = TableId(root, dataset, now);
      t.info["schema"] = schema;
      t.info["partitions"] = parts;
      text += json{{"protocol", {{"minReaderVersion", 1}, {"minWriterVersion", 2}}}}.dump() + "\n";
      text += json{{"metaData",
                    {{"id", t.info["id"]},
                     {"name", dataset},
                     {"format", {{"provider", "parquet"}, {"options", json::object()}}},
                     {"schemaString", schema},
                     {"partitionColumns", parts},
                     {"configuration", json::object()},
                     {"createdTime", now_ms}}}}
                  .dump() +
              "\n";
    }
    const std::string schema = t.info.at("schema");
    int adds = 0, removes = 0;
    for (const auto& f : after->files) {
      if (f.dataset != dataset) continue;
      const std::string rel = InTable(f, dir);
      if (t.live.count(rel)) continue;
      ++adds;
      text += json{{"add",
                    {{"path", rel},
                     {"partitionValues", PartitionValues(f)},
                     {"size", f.bytes},
                     {"modificationTime", now_ms},
                     {"dataChange", true},
                     {"stats", Stats(f, schema)}}}}
                  .dump() +
              "\n";
    }
    for (const auto& rel : t.live) {
      if (target.count(rel)) continue;
      ++removes;
      json action = {{"path", rel},
                     {"deletionTimestamp", now_ms},
                     {"dataChange", true},
                     {"extendedFileMetadata", false}};
      auto it = old_files.find(dir + "/" + rel);
      if (it != old_files.end()) {
        action["extendedFileMetadata"] = true;
        action["partitionValues"] = PartitionValues(*it->second);
        action["size"] = it->second->bytes;
      }
      text += json{{"remove", action}}.dump() + "\n";
    }
    if (adds == 0 && removes == 0 && !t.fresh) continue;
    text += json{{"commitInfo",
                  {{"timestamp", now_ms},
                   {"operation", "WRITE"},
                   {"operationParameters",
                    {{"mode", removes == 0 ? "Append" : "Overwrite"},
                     {"manifestVersion", std::to_string(after->version)}}},
                   {"isBlindAppend", removes == 0},
                   {"engineInfo", "cryptolake"}}}}
                .dump() +
            "\n";
    t.info["version"] = version;
    meta[dataset] = t.info;
    pending.push_back({{"dataset", dataset}, {"dir", dir}, {"version", version}, {"text", text}});
  }
  after->meta[kMetaKey] = std::move(meta);
  if (pending.empty()) {
    after->meta.erase(kPendingKey);
  } else {
    after->meta[kPendingKey] = std::move(pending);
  }
  return Status::Ok();
}

namespace {

// Puts `text` at `dst` unless a file is there: kAlreadyExists if one with other bytes is.
Status PutIfAbsent(const fs::path& tmp, const fs::path& dst, const std::string& text, Env* env) {
  std::error_code ec;
  if (fs::exists(dst, ec)) {
    auto have = ReadFile(dst);
    if (have.ok() && *have == text) return Status::Ok();
    return AlreadyExists(
        "{} was written by another writer: the lake's Delta table and its manifest disagree "
        "from this version on (this lake writes its tables alone)",
        dst.string());
  }
  RETURN_IF_ERROR(env->WriteFile(tmp, text));
  RETURN_IF_ERROR(env->Sync(tmp));
  Status s = RenameNoReplace(tmp, dst, env);
  if (s.code() == StatusCode::kAlreadyExists) {
    fs::remove(tmp, ec);
    auto have = ReadFile(dst);
    if (have.ok() && *have == text) return Status::Ok();
  }
  RETURN_IF_ERROR(s);
  return FsyncPath(dst.parent_path(), env);
}

}  // namespace

Status Publish(const fs::path& root, const fs::path& tmp_dir, const Manifest& m, Env* env,
               const std::function<Status(const fs::path&, const fs::path&)>& to_checkpoint) {
  if (!m.meta.contains(kPendingKey)) return Status::Ok();
  Status first_error;
  std::set<std::string> blocked;  // datasets with an unpublished version: later ones wait
  std::map<std::string, std::pair<std::string, int64_t>> published;  // dataset -> dir, version
  for (const auto& p : m.meta[kPendingKey]) {
    const std::string dataset = p.at("dataset"), dir = p.at("dir");
    const int64_t version = p.at("version");
    if (blocked.count(dataset)) continue;
    const fs::path dst = root / CommitPath(dir, version);
    Status s = CreateDirsDurable(dst.parent_path(), env);
    if (s.ok()) {
      s = PutIfAbsent(tmp_dir / fmt::format("{}.{}.json.tmp", dataset, version), dst,
                      p.at("text").get<std::string>(), env);
    }
    if (!s.ok()) {
      blocked.insert(dataset);
      if (first_error.ok()) first_error = s;
      continue;
    }
    published[dataset] = {dir, version};
  }
  for (const auto& [dataset, where] : published) {
    const auto& [dir, version] = where;
    if (version == 0 || version % kCheckpointInterval != 0) continue;
    // The checkpoint of `m`'s state, which is this version's (the last of the dataset in m);
    // one already there (a commit publishing its predecessor's versions again) is kept.
    const fs::path log = root / dir / "_delta_log";
    std::error_code exists_ec;
    if (fs::exists(log / fmt::format("{:020d}.checkpoint.parquet", version), exists_ec)) continue;
    const fs::path ndjson = tmp_dir / fmt::format("{}.checkpoint.ndjson", dataset);
    const fs::path parquet = tmp_dir / fmt::format("{}.checkpoint.parquet", dataset);
    const std::string actions = CheckpointActions(m, dataset);
    Status s = env->WriteFile(ndjson, actions);
    if (s.ok()) s = to_checkpoint(ndjson, parquet);
    if (s.ok()) s = env->Sync(parquet);
    const fs::path dst = log / fmt::format("{:020d}.checkpoint.parquet", version);
    if (s.ok()) s = RenameNoReplace(parquet, dst, env);
    if (s.ok()) {
      const int64_t lines = std::count(actions.begin(), actions.end(), '\n');
      std::error_code ec;
      const auto bytes = fs::file_size(dst, ec);
      const int64_t adds = static_cast<int64_t>(ManifestLive(m, dataset).size());
      s = WriteFileAtomicVia(tmp_dir / "_last_checkpoint.tmp", log / "_last_checkpoint",
                             json{{"version", version},
                                  {"size", lines},
                                  {"sizeInBytes", static_cast<int64_t>(bytes)},
                                  {"numOfAddFiles", adds}}
                                 .dump(),
                             env);
    }
    if (!s.ok() && first_error.ok()) {
      first_error = s.WithContext(fmt::format(
          "no checkpoint for {} version {} (readers use the JSON versions)", dir, version));
    }
  }
  return first_error;
}

std::string CheckpointActions(const Manifest& m, const std::string& dataset) {
  const json& info = m.meta.at(kMetaKey).at(dataset);
  const std::string schema = info.at("schema");
  const int64_t created = Millis(m.committed_at);
  std::string out;
  out += json{{"protocol", {{"minReaderVersion", 1}, {"minWriterVersion", 2}}}}.dump() + "\n";
  out += json{{"metaData",
               {{"id", info.at("id")},
                {"name", dataset},
                {"format", {{"provider", "parquet"}, {"options", json::object()}}},
                {"schemaString", schema},
                {"partitionColumns", info.at("partitions")},
                {"configuration", json::object()},
                {"createdTime", created}}}}
             .dump() +
         "\n";
  for (const auto& f : m.files) {
    if (f.dataset != dataset) continue;
    const std::string dir = TableDir(f.path);
    out += json{{"add",
                 {{"path", InTable(f, dir)},
                  {"partitionValues", PartitionValues(f)},
                  {"size", f.bytes},
                  {"modificationTime", created},
                  {"dataChange", false},
                  {"stats", Stats(f, schema)}}}}
               .dump() +
           "\n";
  }
  for (const auto& r : m.retired) {
    if (r.dataset != dataset) continue;
    const std::string dir = TableDir(r.path);
    out += json{{"remove",
                 {{"path", r.path.substr(dir.size() + 1)},
                  {"deletionTimestamp", Millis(r.retired_at)},
                  {"dataChange", false}}}}
               .dump() +
           "\n";
  }
  return out;
}

const char* CheckpointColumns() {
  return "{'txn': 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)', "
         "'add': 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, "
         "modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, "
         "VARCHAR))', "
         "'remove': 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, "
         "extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)', "
         "'metaData': 'STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format "
         "STRUCT(provider VARCHAR, options MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, "
         "partitionColumns VARCHAR[], configuration MAP(VARCHAR, VARCHAR), createdTime BIGINT)', "
         "'protocol': 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)'}";
}

}  // namespace cryptolake::lake::delta
