// A scripted HTTP server on 127.0.0.1, for tests of clients that need answers a real server never
// gives (a body cut short, a connection closed without a response, a response that never comes).
// One thread, one connection at a time: each step reads one request's head (up to the blank line;
// requests are expected to have no body), records it, writes the step's bytes as they are, and
// then keeps the connection for the next step, closes it, or holds it until the client closes
// it. Steps run in order; a connection closed before it sent a whole request head is counted
// and skipped (its step waits for the next connection). When the steps are used up the server
// accepts nothing more.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cryptolake::testing {

struct RawStep {
  enum class After {
    kKeep,   // the next step reads the next request on this connection
    kClose,  // close the connection (the next step accepts a new one)
    kHold,   // wait until the client closes the connection (e.g. after its timeout), then close
  };
  std::string bytes;  // written once the request's head has arrived (may be empty)
  After after = After::kClose;
};

// "HTTP/1.1 <status> <reason>\r\n", the headers ("Name: value"), Content-Length: body's size,
// the blank line and the body.
std::string HttpReply(int status, const std::string& reason, const std::string& body,
                      const std::vector<std::string>& headers = {});

class RawServer {
 public:
  explicit RawServer(std::vector<RawStep> steps);
  // Closes the listener and any connection still open, and joins the thread.
  ~RawServer();
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The head of every request received (request line and headers), in order.
  std::vector<std::string> requests() const;
  // Connections accepted so far.
  int connections() const;
  // Returns once every step has run (its connection closed, unless it was kept for a next
  // step that never came).
  void WaitDone();

 private:
  void Serve();
  bool ReadHead(int fd, std::string* head);

  std::vector<RawStep> steps_;
  int fd_ = -1;
  int port_ = 0;
  mutable std::mutex mu_;
  int conn_ = -1;  // the connection open now, guarded by mu_ (shut down by the destructor)
  bool stopping_ = false;
  bool done_ = false;
  std::condition_variable done_cv_;
  std::vector<std::string> requests_;
  int connections_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace cryptolake::testing
