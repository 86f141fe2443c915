// `cryptolake backfill`: flags and config -> backfill::Backfill, then an incremental view refresh.
#include <cstdio>

#include "app/commands.h"
#include "backfill/backfill.h"
#include "batch/views.h"
#include "exchange/binance_rest.h"
#include "exchange/governor.h"

namespace cryptolake::app {

int RunBackfill(Env& env, const BackfillArgs& a) {
  const Config& cfg = env.config;
  backfill::BackfillOptions o;
  o.symbols = SplitList(a.symbols.empty() ? cfg.symbols : a.symbols);
  for (const auto& name : SplitList(a.intervals.empty() ? cfg.intervals : a.intervals)) {
    auto iv = Interval::Parse(name);
    if (!iv.ok()) return Fail(iv.status());
    o.intervals.push_back(*iv);
  }
  std::optional<std::string> from = a.from;
  if (!from && !cfg.backfill_start.empty()) from = cfg.backfill_start;
  if (from) {
    auto t = ParseTime(*from);
    if (!t.ok()) return Fail(t.status());
    o.from = *t;
  }
  if (a.to) {
    auto t = ParseTime(*a.to);
    if (!t.ok()) return Fail(t.status());
    o.to = *t;
  }
  o.concurrency = a.concurrency.value_or(cfg.backfill_concurrency);
  o.page_limit = a.page_limit;
  o.chunk_rows = a.chunk_rows;

  exchange::GovernorOptions go;
  go.weight_limit = a.weight_limit;
  go.budget_fraction = a.budget.value_or(cfg.backfill_weight_budget);  // both checked in (0, 1]
  const Clock& clock = env.lake->clock();
  exchange::RateGovernor governor(clock, go);
  exchange::RestOptions ro;
  ro.base_url = a.exchange.empty() ? cfg.exchange : a.exchange;
  ro.timeout = static_cast<Micros>(a.timeout_seconds * kMicrosPerSecond);
  ro.max_attempts = a.max_attempts;
  ro.backoff_base = static_cast<Micros>(a.backoff_ms * 1000);
  exchange::BinanceRest rest(ro, governor, clock);

  auto st = backfill::Backfill(*env.lake, *env.con, rest, o);
  if (!st.ok()) return Fail(st.status());
  std::printf("%s\n", backfill::FormatBackfillSummary(*st).c_str());
  std::fflush(stdout);
  if (!a.no_batch && st->fetched() > 0) {
    auto rs = batch::RefreshViews(*env.lake, *env.con, {});
    if (!rs.ok()) return Fail(rs.status());
    std::fputs(batch::FormatRefreshSummary(*rs).c_str(), stdout);
  }
  if (!st->failures.empty()) {
    std::fprintf(stderr,
                 "error: %zu range(s) could not be fetched (listed above); everything else is "
                 "committed, rerun to retry them\n",
                 st->failures.size());
    return 3;
  }
  return 0;
}

}  // namespace cryptolake::app
