#include "alerts/event.h"

#include <fmt/format.h>

namespace cryptolake::alerts {

const char* StateName(AlertState s) { return s == AlertState::kFiring ? "firing" : "resolved"; }

std::string MakeKey(const std::string& rule, const std::string& symbol, Micros fired_at,
                    AlertState state) {
  int y = 0, mo = 0, d = 0;
  CivilFromMicros(fired_at, &y, &mo, &d);
  const Micros in_day = fired_at - AlignDown(fired_at, kMicrosPerDay);
  const int64_t s = in_day / kMicrosPerSecond;
  return fmt::format("{}:{}:{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z:{}", rule,
                     symbol.empty() ? "-" : symbol, y, mo, d, s / 3600, s / 60 % 60, s % 60,
                     StateName(state));
}

nlohmann::json ToJson(const AlertEvent& e) {
  return nlohmann::json{{"key", e.key},
                        {"rule", e.rule},
                        {"kind", e.kind},
                        {"severity", e.severity},
                        {"symbol", e.symbol},
                        {"state", StateName(e.state)},
                        {"at", FormatIso(e.at)},
                        {"at_us", e.at},
                        {"fired_at", FormatIso(e.fired_at)},
                        {"fired_at_us", e.fired_at},
                        {"value", e.value},
                        {"threshold", e.threshold},
                        {"message", e.message}};
}

StatusOr<AlertEvent> FromJson(const nlohmann::json& j) {
  AlertEvent e;
  auto str = [&](const char* f, std::string& out) -> Status {
    if (!j.is_object() || !j.contains(f) || !j[f].is_string()) {
      return InvalidArgument("alert event: {} missing or not a string", f);
    }
    out = j[f].get<std::string>();
    return Status::Ok();
  };
  auto i64 = [&](const char* f, Micros& out) -> Status {
    if (!j.is_object() || !j.contains(f) || !j[f].is_number_integer()) {
      return InvalidArgument("alert event: {} missing or not an integer", f);
    }
    out = j[f].get<Micros>();
    return Status::Ok();
  };
  auto num = [&](const char* f, double& out) -> Status {
    if (!j.is_object() || !j.contains(f) || !j[f].is_number()) {
      return InvalidArgument("alert event: {} missing or not a number", f);
    }
    out = j[f].get<double>();
    return Status::Ok();
  };
  std::string state;
  RETURN_IF_ERROR(str("key", e.key));
  RETURN_IF_ERROR(str("rule", e.rule));
  RETURN_IF_ERROR(str("kind", e.kind));
  RETURN_IF_ERROR(str("severity", e.severity));
  RETURN_IF_ERROR(str("symbol", e.symbol));
  RETURN_IF_ERROR(str("state", state));
  if (state != "firing" && state != "resolved") {
    return InvalidArgument("alert event: state must be firing or resolved, got '{}'", state);
  }
  e.state = state == "firing" ? AlertState::kFiring : AlertState::kResolved;
  RETURN_IF_ERROR(i64("at_us", e.at));
  RETURN_IF_ERROR(i64("fired_at_us", e.fired_at));
  RETURN_IF_ERROR(num("value", e.value));
  RETURN_IF_ERROR(num("threshold", e.threshold));
  RETURN_IF_ERROR(str("message", e.message));
  return e;
}

}  // namespace cryptolake::alerts
