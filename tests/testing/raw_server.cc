#include "testing/raw_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

namespace cryptolake::testing {

std::string HttpReply(int status, const std::string& reason, const std::string& body,
                      const std::vector<std::string>& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  for (const auto& h : headers) out += h + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

RawServer::RawServer(std::vector<RawStep> steps) : steps_(std::move(steps)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 8) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("RawServer: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

RawServer::~RawServer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);                    // wakes accept()
    if (conn_ >= 0) ::shutdown(conn_, SHUT_RDWR);  // wakes a read
  }
  thread_.join();
  ::close(fd_);
}

std::vector<std::string> RawServer::requests() const {
  std::lock_guard<std::mutex> l(mu_);
  return requests_;
}

int RawServer::connections() const {
  std::lock_guard<std::mutex> l(mu_);
  return connections_;
}

void RawServer::WaitDone() {
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [this] { return done_; });
}

bool RawServer::ReadHead(int fd, std::string* head) {
  char buf[4096];
  while (head->find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    head->append(buf, static_cast<size_t>(n));
  }
  return true;
}

void RawServer::Serve() {
  int c = -1;
  auto close_conn = [&] {
    std::lock_guard<std::mutex> l(mu_);
    ::close(c);
    conn_ = c = -1;
  };
  for (size_t i = 0; i < steps_.size();) {
    const RawStep& step = steps_[i];
    if (c < 0) {
      int a = ::accept(fd_, nullptr, nullptr);
      std::lock_guard<std::mutex> l(mu_);
      if (a < 0 || stopping_) {
        if (a >= 0) ::close(a);
        break;
      }
      conn_ = c = a;
      ++connections_;
    }
    std::string head;
    if (!ReadHead(c, &head)) {
      close_conn();  // closed before a whole request: the step waits for the next connection
      continue;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(head);
    }
    ++i;
    for (size_t off = 0; off < step.bytes.size();) {
      ssize_t n = ::send(c, step.bytes.data() + off, step.bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    if (step.after == RawStep::After::kHold) {
      char buf[4096];
      while (::read(c, buf, sizeof buf) > 0) {
      }
    }
    if (step.after != RawStep::After::kKeep) close_conn();
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
  }
  done_cv_.notify_all();
  if (c >= 0) {
    // A connection kept for a step that never came: hold it until the client or the destructor
    // ends it.
    char buf[4096];
    while (::read(c, buf, sizeof buf) > 0) {
    }
    close_conn();
  }
}

}  // namespace cryptolake::testing
