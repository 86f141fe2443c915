#include "testing/raw_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <utility>

namespace cryptolake::testing {

RawConn::RawConn(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{120, 0};  // a failsafe against a hung server only (see raw_conn.h)
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    Close();
    throw std::runtime_error("connect failed");
  }
}

void RawConn::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawConn::Send(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

bool RawConn::Receive() {
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    timed_out_ = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    return false;
  }
  pending_.append(buf, static_cast<size_t>(n));
  return true;
}

std::string RawConn::ReadAll() {
  while (Receive()) {
  }
  return std::exchange(pending_, {});
}

std::string RawConn::ReadUntil(const std::string& needle) {
  for (;;) {
    size_t at = pending_.find(needle);
    if (at != std::string::npos) {
      std::string out = pending_.substr(0, at + needle.size());
      pending_.erase(0, at + needle.size());
      return out;
    }
    if (!Receive()) return std::exchange(pending_, {});
  }
}

std::string RawConn::ReadBytes(size_t n) {
  while (pending_.size() < n && Receive()) {
  }
  std::string out = pending_.substr(0, n);
  pending_.erase(0, out.size());
  return out;
}

}  // namespace cryptolake::testing
