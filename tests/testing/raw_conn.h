// A raw HTTP client over a loopback socket, for tests that need to see the bytes a server sends
// (keep-alive, Server-Sent Events, malformed requests). Reads wait for the bytes they name or the
// server's close. A socket timeout of 120 s stays as a failsafe, not a synchronisation: a broken
// server that neither sends nor closes would hang the test forever; 120 s is far more than any
// answer takes on a slow machine (milliseconds here), so it only ever ends a hang.
#pragma once

#include <string>

namespace cryptolake::testing {

class RawConn {
 public:
  // Connects to 127.0.0.1:port; throws std::runtime_error if it cannot.
  explicit RawConn(int port);
  ~RawConn() { Close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  void Close();
  // Sends all of `s`, or stops quietly when the server has closed (e.g. after a 413).
  void Send(const std::string& s);
  // Everything until the server closes the connection (or the timeout: see timed_out()).
  std::string ReadAll();
  // Reads until `needle` has arrived; returns everything up to and including it, or what arrived
  // before the server closed (or the timeout) if it never does.
  std::string ReadUntil(const std::string& needle);
  // The next `n` bytes, or fewer if the server closes first.
  std::string ReadBytes(size_t n);
  // Whether the last read ended by the timeout rather than by the server closing.
  bool timed_out() const { return timed_out_; }

 private:
  // Appends one recv() to pending_; false (and timed_out_ set) when the server closed or timed out.
  bool Receive();
  int fd_ = -1;
  std::string pending_;
  bool timed_out_ = false;
};

}  // namespace cryptolake::testing
