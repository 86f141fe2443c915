#include "batch/reads.h"

#include <fmt/format.h>

#include "batch/views.h"
#include "lake/duck.h"

namespace cryptolake::batch {

StatusOr<std::map<std::string, Micros>> CompleteDaysEnd(lake::Connection& con,
                                                        const lake::Snapshot& snap) {
  std::map<std::string, Micros> out;
  if (snap.Files(kDailyRaw).empty()) return out;
  ASSIGN_OR_RETURN(lake::Result r,
                   con.Query(fmt::format("SELECT symbol, max(epoch_us(day)) + {} FROM {} WHERE "
                                         "minutes_present = 1440 GROUP BY symbol",
                                         kMicrosPerDay, ViewSql(snap, kDailyRaw))));
  for (size_t i = 0; i < r.rows(); ++i) {
    if (!r.IsNull(1, i)) out[r.GetString(0, i)] = r.GetInt64(1, i);
  }
  return out;
}

StatusOr<std::map<std::string, std::vector<model::DailyBar>>> ReadDailyFilled(
    lake::Connection& con, const lake::Snapshot& snap) {
  std::map<std::string, std::vector<model::DailyBar>> out;
  if (snap.Files(kDailyFilled).empty()) return out;
  ASSIGN_OR_RETURN(
      lake::Result r,
      con.Query(fmt::format(
          "SELECT symbol, epoch_us(day), open, high, low, close, volume, ma7, ma30, filled, "
          "minutes_present FROM {} ORDER BY symbol, day",
          ViewSql(snap, kDailyFilled))));
  for (size_t i = 0; i < r.rows(); ++i) {
    model::DailyBar d;
    d.day = r.GetInt64(1, i);
    d.open = r.GetDouble(2, i);
    d.high = r.GetDouble(3, i);
    d.low = r.GetDouble(4, i);
    d.close = r.GetDouble(5, i);
    d.volume = r.GetDouble(6, i);
    if (!r.IsNull(7, i)) d.ma7 = r.GetDouble(7, i);
    if (!r.IsNull(8, i)) d.ma30 = r.GetDouble(8, i);
    d.filled = r.GetBool(9, i);
    d.minutes = r.IsNull(10, i) ? 0 : r.GetInt64(10, i);
    out[r.GetString(0, i)].push_back(d);
  }
  return out;
}

}  // namespace cryptolake::batch
