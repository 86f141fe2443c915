#include "serve/refresh_health.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "serve/http_server.h"

namespace cryptolake::serve {

namespace {

std::string JsonText(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

}  // namespace

RefreshHealth::RefreshHealth(Metrics& metrics)
    : failures_total_(metrics
                          .AddCounter("cryptolake_batch_refresh_failures_total",
                                      "Batch view refreshes that failed")
                          .WithLabels({})),
      last_success_seconds_(metrics
                                .AddGauge("cryptolake_batch_refresh_last_success_seconds",
                                          "Unix time of the last successful batch view refresh "
                                          "(0: none yet)")
                                .WithLabels({})) {}

void RefreshHealth::Record(const Status& outcome, Micros at) {
  std::lock_guard lock(mu_);
  last_error_ = outcome;
  if (outcome.ok()) {
    last_success_ = at;
    last_success_seconds_.Set(static_cast<double>(at) / kMicrosPerSecond);
    return;
  }
  ++failures_;
  failures_total_.Inc();
  spdlog::error("batch refresh failed (will retry): {}", outcome.ToString());
}

std::pair<int, std::string> RefreshHealth::Healthz() const {
  std::lock_guard lock(mu_);
  if (last_error_.ok()) return {200, "{\"status\":\"ok\"}"};
  return {503, fmt::format("{{\"status\":\"unhealthy\",\"batch_refresh\":{{\"error\":{},"
                           "\"failures\":{},\"last_success\":{}}}}}",
                           JsonText(last_error_.ToString()), failures_,
                           last_success_ > 0 ? JsonText(FormatIso(last_success_)) : "null")};
}

}  // namespace cryptolake::serve
