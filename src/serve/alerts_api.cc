#include "serve/alerts_api.h"

#include <fmt/format.h>

#include <charconv>
#include <memory>

namespace cryptolake::serve {

namespace {

using net::EventSink;
using net::Request;
using net::Response;
using net::StreamReply;

std::string Body(const alerts::AlertService* s, size_t limit) {
  nlohmann::json active = nlohmann::json::array(), recent = nlohmann::json::array();
  size_t rules = 0;
  if (s) {
    rules = s->rules();
    for (const auto& e : s->Active()) active.push_back(alerts::ToJson(e));
    auto r = s->Recent(limit);
    for (auto it = r.rbegin(); it != r.rend(); ++it) recent.push_back(alerts::ToJson(*it));
  }
  return nlohmann::json{{"rules", rules}, {"active", active}, {"recent", recent}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Only `allowed` parameters; limit an integer in [1, 500].
std::optional<Response> Check(const Request& q, bool with_limit, size_t* limit) {
  for (const auto& [k, v] : q.query) {
    if (!(with_limit && k == "limit")) {
      return net::JsonError(400, k, fmt::format("unknown parameter '{}'", k));
    }
  }
  if (auto l = q.Param("limit"); l && with_limit) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
    if (ec != std::errc() || p != l->data() + l->size() || n < 1 || n > 500) {
      return net::JsonError(400, "limit",
                            fmt::format("limit must be an integer in [1, 500], got '{}'", *l));
    }
    *limit = static_cast<size_t>(n);
  }
  return std::nullopt;
}

}  // namespace

void AddAlertRoutes(net::Router& router, const alerts::AlertService* service,
                    std::chrono::milliseconds poll) {
  router.Get("/api/v1/alerts", [service](const Request& q) {
    size_t limit = 50;
    if (auto bad = Check(q, true, &limit)) return *bad;
    Response r;
    r.body = Body(service, limit);
    return r;
  });
  router.Stream("/api/v1/alerts/stream", [service, poll](const Request& q) {
    size_t limit = 20;
    if (auto bad = Check(q, false, &limit)) return StreamReply::Refuse(*bad);
    auto seen = std::make_shared<uint64_t>(UINT64_MAX);
    return StreamReply::Poll(
        [service, seen](EventSink& sink) {
          const uint64_t v = service ? service->version() : 0;
          if (v == *seen) return;
          *seen = v;
          sink.Send("alerts", Body(service, 20));
        },
        poll);
  });
}

}  // namespace cryptolake::serve
