// The lake as Delta Lake tables: each dataset's folder (klines_<interval>/, views/<view>/) also
// carries the Delta transaction log of that dataset (<folder>/_delta_log/), written natively
// (delta-io/delta PROTOCOL.md: reader 1 / writer 2), so that Spark, delta-rs, polars, DuckDB's
// delta extension or Trino read the lake without knowing the manifest.
//
// Contract:
//  * A Delta version of a dataset is one file <folder>/_delta_log/<version, 20 digits>.json of
//    newline-delimited actions: version 0 starts with `protocol` and `metaData` (the schema of
//    the dataset's Parquet files as Delta's JSON schema, with the Hive partition columns symbol
//    (string), year and month (integer) appended and named in partitionColumns); then `add`
//    (path relative to the folder, partitionValues, size, modificationTime, dataChange, stats:
//    numRecords and, when the manifest knows the file's time column, its minValues/maxValues)
//    and `remove` (deletionTimestamp, dataChange, extendedFileMetadata, partitionValues, size)
//    actions, and a `commitInfo` naming the manifest version.
//  * Every lake commit that adds or retires files of a dataset makes exactly one Delta version
//    of that dataset, and after it the Delta table names exactly the manifest's live files of
//    the dataset. The manifest is the commit point (multi-dataset commits are atomic there);
//    the Delta versions a commit makes are planned before it and recorded in the manifest
//    itself (meta "delta": per dataset the table's version, id, schema and partition columns;
//    meta "delta_pending": the planned versions' text), then put in place after it. A crash in
//    between leaves a Delta table one version behind its manifest, which readers see as the
//    previous consistent version; the next writer (any commit, or gc) puts the recorded
//    versions in place first (Recover), so a Delta version's text never depends on who writes it.
//  * Put-if-absent: a version file is written to a temp file and linked into place with
//    RENAME_NOREPLACE (link() on file systems without it), never over an existing file. A
//    version present with the same bytes is taken as done (a recovery re-run); one present with
//    other bytes was written by someone else: kAlreadyExists "<folder>/_delta_log/<v>.json was
//    written by another writer: ...". On an object store this maps to a conditional put
//    (If-None-Match: *).
//  * Checkpoints: after every 10th version, <v>.checkpoint.parquet (the table's protocol,
//    metaData, live `add`s and the `remove` tombstones of retired files not yet collected,
//    written by DuckDB with the checkpoint schema of PROTOCOL.md) and _last_checkpoint
//    ({"version", "size", "sizeInBytes", "numOfAddFiles"}). A failed checkpoint is reported, but
//    readers need none: they fall back to the JSON versions, all of which are kept.
//  * A lake written before the Delta logs (no meta "delta"), or whose manifest `repair` rebuilt,
//    gets its logs at its next commit: the existing log is read back (Replay) and one version
//    takes it to the manifest's files (version 0 if there is no log).
//  * gc deletes a retired file after the lake's gc grace, as Delta's VACUUM would: time travel
//    to a version older than that may name files that are gone.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"

namespace cryptolake::lake::delta {

namespace fs = std::filesystem;

inline constexpr const char* kMetaKey = "delta";
inline constexpr const char* kPendingKey = "delta_pending";
inline constexpr int64_t kCheckpointInterval = 10;

// The table folder of a lake data path ("klines_1m/symbol=X/..." -> "klines_1m",
// "views/daily_raw/symbol=X/..." -> "views/daily_raw"); "" if it has no "symbol=" folder.
std::string TableDir(std::string_view path);

// "<folder>/_delta_log/00000000000000000012.json", relative to the data root.
std::string CommitPath(std::string_view table_dir, int64_t version);

// The Delta schema (JSON text of a struct type) of a Parquet data file, with `partitions`
// appended: supplied by the caller (it reads the file's footer), so this module does no SQL.
using SchemaOf = std::function<StatusOr<std::string>(const fs::path& file,
                                                     const std::vector<std::string>& partitions)>;

// One planned Delta version.
struct Pending {
  std::string dataset;
  std::string dir;  // the table folder
  int64_t version = 0;
  std::string text;  // the NDJSON actions
};

// A table's state read back from its log.
struct TableState {
  int64_t version = -1;  // -1: no log
  std::string id, schema;
  std::vector<std::string> partitions;
  std::set<std::string> live;  // paths relative to the table folder
};

// Reads <root>/<dir>/_delta_log/*.json from version 0 up (every version is kept), replaying
// add and remove. kDataLoss naming the file for a version that does not parse, and for a gap
// in the version numbers.
// With `up_to` >= 0, versions after it are not read (a reader's snapshot of an older manifest).
StatusOr<TableState> Replay(const fs::path& root, std::string_view dir, int64_t up_to = -1);

// Plans the Delta versions that take each dataset's table from `before` to `after` (the
// manifest being committed, whose meta kMetaKey / kPendingKey it updates); `now` is the commit
// time. Datasets whose files did not change get no version.
Status Plan(const fs::path& root, const Manifest& before, Manifest* after, Micros now,
            const SchemaOf& schema_of);

// Puts the pending versions recorded in `m` (meta kPendingKey) in place, then the checkpoints
// they fall due for. `tmp_dir` is a private folder for temp files. Versions already in place
// (same bytes) are skipped.
Status Publish(const fs::path& root, const fs::path& tmp_dir, const Manifest& m, Env* env,
               const std::function<Status(const fs::path& ndjson, const fs::path& parquet)>&
                   ndjson_to_checkpoint);

// The NDJSON of the checkpoint of `dataset` at `m` (one action per line, with the fields and
// types of PROTOCOL.md's checkpoint schema); CheckpointColumns() is DuckDB's read_json column
// spec for it.
std::string CheckpointActions(const Manifest& m, const std::string& dataset);
const char* CheckpointColumns();

// The manifest's live files of `dataset`, relative to its table folder.
std::set<std::string> ManifestLive(const Manifest& m, const std::string& dataset);

// DuckDB's side (delta_duck.cc): the SchemaOf of a Parquet file (its footer's columns as Delta
// types: TIMESTAMPTZ timestamp, DATE date, DOUBLE double, BIGINT long, INTEGER integer, VARCHAR
// string, BOOLEAN boolean, DECIMAL(p,s) decimal(p,s); another type is kUnimplemented naming it;
// partition columns: symbol string, the others integer), and the checkpoint's Parquet written
// from CheckpointActions' NDJSON.
StatusOr<std::string> ParquetSchema(const fs::path& file,
                                    const std::vector<std::string>& partitions);
Status NdjsonToCheckpoint(const fs::path& ndjson, const fs::path& parquet);

}  // namespace cryptolake::lake::delta
