// webhook_receiver: a JSON webhook receiver for the end-to-end tests (a real net::HttpServer).
//
//   webhook_receiver --port-file F --log F [--status-file F]
//
// Listens on 127.0.0.1, on an ephemeral port, and writes that port ("<port>\n") to the port file
// atomically once it accepts connections. Every POST, whatever its path, is answered 200 and
// logged as one line "<Idempotency-Key>\t<X-Cryptolake-Sequence>\t<body>" appended to the log
// (flushed per line; a body's newlines, which a compact JSON body has none of, would be written
// as they are) -- unless the status file exists and holds a number (e.g. "503"): then the POST
// is answered with that status and not logged. Other methods get 405. SIGTERM or SIGINT stops it
// (exit 0). Usage errors exit 2, a failure to listen or write 1.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>

#include "core/fsutil.h"
#include "net/http_server.h"

namespace {

using cryptolake::net::Request;
using cryptolake::net::Response;

struct Args {
  std::string port_file, log, status_file;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--port-file") {
      a->port_file = value;
    } else if (flag == "--log") {
      a->log = value;
    } else if (flag == "--status-file") {
      a->status_file = value;
    } else {
      return false;
    }
  }
  return !a->port_file.empty() && !a->log.empty();
}

// The status the status file asks for, or 0 when it is absent or holds no number.
int ForcedStatus(const std::string& file) {
  if (file.empty()) return 0;
  std::ifstream in(file);
  int status = 0;
  if (!(in >> status) || status < 100 || status > 599) return 0;
  return status;
}

Response Answer(int status, const std::string& body) {
  Response r;
  r.status = status;
  r.body = body;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, &a)) {
    std::cerr << "usage: webhook_receiver --port-file F --log F [--status-file F]\n";
    return 2;
  }
  std::FILE* log = std::fopen(a.log.c_str(), "a");
  if (log == nullptr) {
    std::cerr << "webhook_receiver: cannot open " << a.log << "\n";
    return 1;
  }
  // Blocked before the server's threads start, so that they inherit the mask and sigwait gets it.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::mutex mu;
  cryptolake::net::Router router;
  router.Fallback([&](const Request& req) {
    if (req.method != "POST") return Answer(405, "{\"error\":\"POST only\"}");
    if (int status = ForcedStatus(a.status_file); status != 0) {
      return Answer(status, "{\"error\":\"forced\"}");
    }
    const std::string line = req.Header("Idempotency-Key") + "\t" +
                             req.Header("X-Cryptolake-Sequence") + "\t" + req.body + "\n";
    std::lock_guard lock(mu);
    std::fwrite(line.data(), 1, line.size(), log);
    std::fflush(log);
    return Answer(200, "{\"ok\":true}");
  });
  cryptolake::net::ServerOptions opt;
  opt.threads = 1;
  auto server = cryptolake::net::HttpServer::Start(opt, std::move(router));
  if (!server.ok()) {
    std::cerr << "webhook_receiver: " << server.status().ToString() << "\n";
    return 1;
  }
  cryptolake::Status st =
      cryptolake::WriteFileAtomic(a.port_file, std::to_string((*server)->port()) + "\n");
  if (!st.ok()) {
    std::cerr << "webhook_receiver: " << st.ToString() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->Stop();
  std::fclose(log);
  return 0;
}
