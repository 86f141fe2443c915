// `cryptolake backfill`: flags and config -> backfill::Backfill, then an incremental view refresh.
#include <cstdio>

#include "app/commands.h"
#include "backfill/backfill.h"
#include "batch/views.h"
#include "exchange/governor.h"
#include "venues/binance/rest.h"

namespace cryptolake::app {

Status BackfillLake(Env& env, const BackfillArgs& a) {
  const Config& cfg = env.config;
  backfill::BackfillOptions o;
  o.symbols = SplitList(a.symbols.empty() ? cfg.symbols : a.symbols);
  for (const auto& name : SplitList(a.intervals.empty() ? cfg.intervals : a.intervals)) {
    ASSIGN_OR_RETURN(Interval iv, Interval::Parse(name));
    o.intervals.push_back(iv);
  }
  std::optional<std::string> from = a.from;
  if (!from && !cfg.backfill_start.empty()) from = cfg.backfill_start;
  if (from) {
    ASSIGN_OR_RETURN(o.from, ParseTime(*from));
  }
  if (a.to) {
    ASSIGN_OR_RETURN(o.to, ParseTime(*a.to));
  }
  o.concurrency = a.concurrency.value_or(cfg.backfill_concurrency);
  o.page_limit = a.page_limit;
  o.chunk_rows = a.chunk_rows;

  exchange::GovernorOptions go;
  go.weight_limit = a.weight_limit;
  go.budget_fraction = a.budget.value_or(cfg.backfill_weight_budget);  // both checked in (0, 1]
  const Clock& clock = env.lake->clock();
  exchange::RateGovernor governor(clock, go);
  venues::binance::RestOptions ro;
  ro.base_url = a.exchange.empty() ? cfg.exchange : a.exchange;
  ro.timeout = static_cast<Micros>(a.timeout_seconds * kMicrosPerSecond);
  ro.max_attempts = a.max_attempts;
  ro.backoff_base = static_cast<Micros>(a.backoff_ms * 1000);
  venues::binance::BinanceRest rest(ro, governor, clock);

  ASSIGN_OR_RETURN(backfill::BackfillStats st, backfill::Backfill(*env.lake, *env.con, rest, o));
  std::printf("%s\n", backfill::FormatBackfillSummary(st).c_str());
  std::fflush(stdout);
  if (!a.no_batch && st.fetched() > 0) {
    ASSIGN_OR_RETURN(batch::RefreshStats rs, batch::RefreshViews(*env.lake, *env.con, {}));
    std::fputs(batch::FormatRefreshSummary(rs).c_str(), stdout);
  }
  if (!st.failures.empty()) {
    return Unavailable(
        "{} range(s) could not be fetched (listed above); everything else is committed, rerun "
        "to retry them",
        st.failures.size());
  }
  return Status::Ok();
}

int RunBackfill(Env& env, const BackfillArgs& a) { return ExitCode(BackfillLake(env, a)); }

}  // namespace cryptolake::app
