// Blocking HTTP(S) GET and POST over libcurl, for the REST clients and the alert webhooks.
//
// Contract:
//  * One HttpClient per thread: it owns a curl easy handle and keeps its connection alive across
//    calls. It is not thread-safe; distinct clients may be used from distinct threads at once.
//  * An HTTP error status (4xx, 5xx) is NOT a Status error: it comes back in HttpResponse with its
//    body and headers, for the caller to interpret.
//  * Transport failures are errors, with the URL and curl's reason in the message:
//      DeadlineExceeded-like timeouts  -> kUnavailable "GET <url>: timeout after 2000 ms (...)"
//      refused / reset / no response   -> kUnavailable "GET <url>: <curl error text>"
//      a body shorter than its Content-Length (connection closed mid-body)
//                                      -> kUnavailable "GET <url>: truncated response (...)"
//      a reused keep-alive connection closed before any response byte
//                                      -> kUnavailable "GET <url>: connection closed without a
//                                         response (reused keep-alive connection)"
//    All of them are retryable by the caller; HttpClient itself never retries (libcurl's own
//    silent resend on a dead reused connection is aborted, so every request on the wire is one
//    the caller counted). A URL libcurl cannot use is kInvalidArgument "GET <url>: <reason>".
//  * Post is Get's twin: the same statuses and error contract, with messages "POST <url>: ...".
//    It sends `body` as is (Content-Length set; no "Expect: 100-continue"), with the client's
//    headers and then the call's own `headers` ("Name: value"; give Content-Type there).
//    Error messages hold the URL: a caller whose URL carries a secret must not pass them on.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace cryptolake::exchange {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  // The header's value, or "" when absent. `name` must be lower-case.
  std::string Header(const std::string& name) const;
};

struct HttpOptions {
  Micros connect_timeout = 5 * kMicrosPerSecond;
  Micros timeout = 30 * kMicrosPerSecond;  // whole request, including the body
  std::vector<std::string> headers;        // extra request headers, "Name: value"
  std::string user_agent = "cryptolake/0.1";
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  StatusOr<HttpResponse> Get(const std::string& url);
  StatusOr<HttpResponse> Post(const std::string& url, const std::string& body,
                              const std::vector<std::string>& headers = {});

 private:
  // One request: a GET when body is null, else a POST of *body with `headers` added.
  StatusOr<HttpResponse> Perform(const char* method, const std::string& url,
                                 const std::string* body, const std::vector<std::string>& headers);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::exchange
