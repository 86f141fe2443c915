// `cryptolake backfill`: its flags and help; RunBackfill (backfill_cmd.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::IntAtLeast;
using flags::IntIn;
using flags::NonEmpty;
using flags::NonEmptyList;
using flags::Number;
using flags::Seconds;

Command RegisterBackfill(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<BackfillArgs>();
  auto* c = app.add_subcommand(
      "backfill", "Fetch missing and new klines from the exchange's REST API into the lake");
  c->add_option("--exchange", a->exchange,
                "REST base URL (default: exchange in the config, https://api.binance.com)")
      ->check(NonEmpty());
  c->add_option("--symbol", a->symbols, "Symbols, repeatable or comma-separated (default: config)")
      ->transform(flags::SymbolList());
  c->add_option("--interval", a->intervals,
                "Intervals, repeatable or comma-separated, e.g. 1m,1d (default: config, 1m)")
      ->check(NonEmptyList());
  c->add_option("--from", a->from,
                "First open time to complete, e.g. 2025-01-01 (default: the first stored "
                "candle, or [backfill] start)")
      ->check(NonEmpty());
  c->add_option("--to", a->to, "Stop before this open time (default: the exchange's now)")
      ->check(NonEmpty());
  c->add_option("--concurrency", a->concurrency, "Parallel requests (default: config, 4)")
      ->check(IntIn(1, kMaxBackfillConcurrency));
  c->add_option("--budget", a->budget, "Share of the weight limit to use (default: config, 0.8)")
      ->check(Number(0, true, 1, false));
  c->add_option("--weight-limit", a->weight_limit, "The exchange's REQUEST_WEIGHT per minute")
      ->default_val(6000)
      ->check(IntAtLeast(1));
  c->add_option("--page-limit", a->page_limit, "Klines per request (Binance's maximum: 1000)")
      ->default_val(1000)
      ->check(IntIn(1, 1000));
  c->add_option("--chunk-rows", a->chunk_rows, "Commit after this many fetched klines")
      ->default_val(200000)
      ->check(IntAtLeast(1));
  c->add_option("--timeout", a->timeout_seconds, "Per-request timeout in seconds")
      ->default_val(30)
      ->check(Seconds());
  c->add_option("--max-attempts", a->max_attempts,
                "Attempts per request on 5xx, timeouts, broken or malformed responses")
      ->default_val(8)
      ->check(IntAtLeast(1));
  c->add_option("--backoff-ms", a->backoff_ms,
                "First retry delay in milliseconds; doubles, with full jitter")
      ->default_val(500)
      ->check(Number(0, true, 3'600'000, false));
  c->add_flag("--no-batch", a->no_batch, "Do not refresh the batch views afterwards");
  c->footer(
      "Finds, per symbol and interval, every candle missing between the first stored one (or\n"
      "--from) and the last one closed at the exchange's time, and fetches them (GET\n"
      "/api/v3/klines, 1000 per request) under one rate governor: at most --budget of the\n"
      "weight limit per minute, Retry-After honoured on 429, every call stopped during a 418\n"
      "ban, 5xx/timeouts retried with backoff. Ranges the exchange has no data for (outages)\n"
      "are recorded as confirmed empty and never fetched again. Progress is committed in\n"
      "chunks: after a crash, rerun it; nothing committed is fetched twice.");
  auto run = [a, &g] { return RunWithEnv(g, {}, [&](Env& env) { return RunBackfill(env, *a); }); };
  return {c, run};
}

}  // namespace cryptolake::app
