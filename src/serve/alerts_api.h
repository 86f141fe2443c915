// The API's alert routes, over a running AlertService (alerts/service.h):
//   GET /api/v1/alerts[?limit=N]  {"rules":R,"active":[event...],"recent":[event...]}: the firing
//                                 events of the active alerts (oldest first) and the newest N
//                                 events (newest first; N in [1, 500], default 50), each as
//                                 alerts::ToJson writes it. Without a service (no rules, or
//                                 `serve`): {"rules":0,"active":[],"recent":[]}.
//   GET /api/v1/alerts/stream     Server-Sent Events: an "alerts" event with the body above
//                                 (limit 20) at once, then whenever an event is added.
// A bad limit is 400 {"error":{"parameter":"limit",...}}; any other parameter is 400 too.
#pragma once

#include <chrono>

#include "alerts/service.h"
#include "net/http_server.h"

namespace cryptolake::serve {

// `service` may be null; else it must outlive the router.
void AddAlertRoutes(net::Router& router, const alerts::AlertService* service,
                    std::chrono::milliseconds poll);

}  // namespace cryptolake::serve
