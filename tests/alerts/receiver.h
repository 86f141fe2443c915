// A webhook receiver for the tests: a real net::HttpServer on 127.0.0.1 whose fallback records
// every request (method, target, the sink's headers, body) and answers what the test's script
// says for the n-th request (0-based): a status, or a response held back (Response::delay).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/http_server.h"

namespace cryptolake::alerts::testing {

struct Received {
  std::string method, target, content_type, key, sequence, body;
};

class Receiver {
 public:
  using Script = std::function<net::Response(size_t n)>;

  // Answers 200 to everything; `port` 0: an ephemeral one.
  explicit Receiver(Script script = nullptr, int port = 0) : script_(std::move(script)) {
    net::Router router;
    router.Fallback([this](const net::Request& req) {
      size_t n = 0;
      {
        std::lock_guard lock(mu_);
        n = got_.size();
        got_.push_back({req.method, req.target, req.Header("Content-Type"),
                        req.Header("Idempotency-Key"), req.Header("X-Cryptolake-Sequence"),
                        req.body});
        cv_.notify_all();
      }
      return script_ ? script_(n) : Status(200);
    });
    net::ServerOptions opt;
    opt.port = port;
    opt.threads = 1;
    auto s = net::HttpServer::Start(opt, std::move(router));
    if (s.ok()) server_ = std::move(s).value();
    error_ = s.status().ToString();
  }

  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  int port() const { return server_->port(); }
  std::string url() const { return server_->url(); }
  void Stop() { server_->Stop(); }

  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return got_;
  }
  // Blocks until n requests have arrived.
  void WaitFor(size_t n) const {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return got_.size() >= n; });
  }

  static net::Response Status(int status) {
    net::Response r;
    r.status = status;
    r.body = status < 300 ? "{\"ok\":true}" : "{\"error\":\"no\"}";
    return r;
  }

 private:
  Script script_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Received> got_;
  std::string error_;
  std::unique_ptr<net::HttpServer> server_;  // last: stopped before the members above go
};

}  // namespace cryptolake::alerts::testing
