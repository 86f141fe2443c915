#include "verify/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "batch/views.h"
#include "lake/klines.h"
#include "verify/checker.h"

namespace cryptolake::verify {

namespace detail {

std::string Plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string ExpectedColumns(const std::string& dataset) {
  if (dataset.rfind("klines_", 0) == 0 && Interval::Parse(dataset.substr(7)).ok()) {
    return lake::kKlineColumns;
  }
  return batch::ViewColumns(dataset);
}

Micros NullableMicros(const Result& r, size_t col, size_t row) {
  return r.IsNull(col, row) ? 0 : r.GetInt64(col, row);
}

Status Checker::Run() {
  rep_.version = snap_.version();
  RETURN_IF_ERROR(CheckFiles());
  // Everything below reads only the files that passed.
  auto m = std::make_shared<lake::Manifest>(snap_.manifest());
  m->files.erase(std::remove_if(m->files.begin(), m->files.end(),
                                [&](const FileEntry& f) { return bad_paths_.count(f.path) > 0; }),
                 m->files.end());
  fsnap_ = std::make_unique<lake::Snapshot>(snap_.root(), m);
  for (const Interval& iv : lake::KlineIntervals(*fsnap_)) RETURN_IF_ERROR(CheckKlines(iv));
  RETURN_IF_ERROR(CheckRefetch());
  CheckDelta();
  if (opt_.views) RETURN_IF_ERROR(CheckViews());
  if (opt_.speed_view) RETURN_IF_ERROR(CheckSpeedView(*opt_.speed_view));
  return Status::Ok();
}

void Checker::Add(Finding::Kind kind, bool error, std::string dataset, std::string symbol,
                  std::string detail, int64_t count, Micros first, Micros last, int64_t filled) {
  Finding f;
  f.kind = kind;
  f.error = error;
  f.dataset = std::move(dataset);
  f.symbol = std::move(symbol);
  f.detail = std::move(detail);
  f.count = count;
  f.first = first;
  f.last = last;
  f.filled = filled;
  rep_.findings.push_back(std::move(f));
}

std::string Checker::SymbolWhere() const {
  return opt_.symbol ? "symbol = " + SqlQuote(*opt_.symbol) : "true";
}

}  // namespace detail

using detail::Checker;
using detail::Plural;

const char* KindName(Finding::Kind kind) {
  switch (kind) {
    case Finding::kGap:
      return "gap";
    case Finding::kDuplicate:
      return "duplicate";
    case Finding::kShadowed:
      return "shadowed";
    case Finding::kSchema:
      return "schema";
    case Finding::kOhlc:
      return "ohlc";
    case Finding::kMisaligned:
      return "misaligned";
    case Finding::kInvalidValue:
      return "invalid_value";
    case Finding::kViewMismatch:
      return "view_mismatch";
    case Finding::kStaleView:
      return "stale_view";
    case Finding::kMissingFile:
      return "missing_file";
    case Finding::kUnreadableFile:
      return "unreadable_file";
    case Finding::kConfirmedEmpty:
      return "confirmed_empty";
    case Finding::kRowCount:
      return "row_count";
    case Finding::kSkipped:
      return "skipped";
    case Finding::kDamagedFile:
      return "damaged_file";
    case Finding::kManifest:
      return "manifest";
    case Finding::kDeltaLog:
      return "delta_log";
  }
  return "?";
}

int64_t Report::errors() const {
  return std::count_if(findings.begin(), findings.end(), [](auto& f) { return f.error; });
}

int64_t Report::gap_ranges() const {
  return std::count_if(findings.begin(), findings.end(),
                       [](auto& f) { return f.kind == Finding::kGap; });
}

int Report::ExitCode() const {
  if (errors() > 0) return 2;
  if (gap_ranges() > 0) return 1;
  return 0;
}

Report ManifestReport(const Status& error) {
  Report rep;
  Finding f;
  f.kind = Finding::kManifest;
  f.error = true;
  f.dataset = "_manifest.json";
  f.detail = error.message();
  rep.findings.push_back(std::move(f));
  return rep;
}

StatusOr<Report> Verify(const lake::Snapshot& snap, lake::Connection& con,
                        const VerifyOptions& options) {
  Report rep;
  Checker c(snap, con, options, rep);
  Status s = c.Run();
  if (!s.ok()) return s.WithContext("verify");
  return rep;
}

std::string FormatReport(const Report& report) {
  const bool no_manifest =
      std::any_of(report.findings.begin(), report.findings.end(),
                  [](const Finding& f) { return f.kind == Finding::kManifest; });
  std::string out =
      no_manifest
          ? "verify: the manifest cannot be read\n"
          : fmt::format("verify: manifest version {}, {} checked, {} checked{}\n", report.version,
                        Plural(report.files_checked, "file", "files"),
                        Plural(report.rows_checked, "row", "rows"),
                        report.speed_view_rows > 0 ? fmt::format(" (speed view: {} closed candles)",
                                                                 report.speed_view_rows)
                                                   : "");
  int64_t notes = 0;
  for (const auto& f : report.findings) {
    std::string where = f.dataset + (f.symbol.empty() ? "" : " " + f.symbol);
    if (f.error) {
      out += fmt::format("ERROR {} {}: {}\n", KindName(f.kind), where, f.detail);
    } else if (f.kind == Finding::kGap) {
      out += fmt::format("GAP   {}: {}\n", where, f.detail);
    } else {
      ++notes;
      out += fmt::format("note  {} {}: {}\n", KindName(f.kind), where, f.detail);
    }
  }
  out += fmt::format("summary: {}, {}, {} -> exit code {}\n",
                     Plural(report.errors(), "error", "errors"),
                     Plural(report.gap_ranges(), "gap range", "gap ranges"),
                     Plural(notes, "note", "notes"), report.ExitCode());
  return out;
}

nlohmann::json ReportToJson(const Report& report) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : report.findings) {
    bool has_time = f.first != 0 || f.last != 0;
    findings.push_back({{"kind", KindName(f.kind)},
                        {"error", f.error},
                        {"dataset", f.dataset},
                        {"symbol", f.symbol},
                        {"detail", f.detail},
                        {"count", f.count},
                        {"first", has_time ? nlohmann::json(FormatIso(f.first)) : nullptr},
                        {"last", has_time ? nlohmann::json(FormatIso(f.last)) : nullptr},
                        {"filled", f.filled}});
  }
  return {{"version", report.version},           {"files_checked", report.files_checked},
          {"rows_checked", report.rows_checked}, {"speed_view_rows", report.speed_view_rows},
          {"exit_code", report.ExitCode()},      {"errors", report.errors()},
          {"gap_ranges", report.gap_ranges()},   {"findings", std::move(findings)}};
}

std::string FormatReportJson(const Report& report) { return ReportToJson(report).dump(2); }

}  // namespace cryptolake::verify
