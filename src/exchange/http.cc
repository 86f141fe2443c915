#include "exchange/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace cryptolake::exchange {

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<HttpResponse*>(user)->body.append(data, size * n);
  return size * n;
}

// Called once per header line, the status line included. A new status line (after a redirect or
// a "100 Continue") starts a new header set.
size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* resp = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    resp->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = Trim(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!name.empty()) resp->headers[name] = Trim(line.substr(colon + 1));
  return size * n;
}

// libcurl resends a request by itself, once, when a reused keep-alive connection closes before
// any response byte. The contract says HttpClient never retries (the caller's rate governor must
// see every request), so a second request within one Get() is aborted before it is sent.
int OnPrereq(void* user, char*, char*, int, int) {
  return ++*static_cast<int*>(user) > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  HttpOptions opt;
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  int sends = 0;  // requests libcurl was about to send in this Get()
};

HttpClient::HttpClient(HttpOptions options) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->opt = std::move(options);
  for (const auto& h : impl_->opt.headers)
    impl_->headers = curl_slist_append(impl_->headers, h.c_str());
  impl_->curl = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
  curl_slist_free_all(impl_->headers);
}

StatusOr<HttpResponse> HttpClient::Get(const std::string& url) {
  return Perform("GET", url, nullptr, {});
}

StatusOr<HttpResponse> HttpClient::Post(const std::string& url, const std::string& body,
                                        const std::vector<std::string>& headers) {
  return Perform("POST", url, &body, headers);
}

StatusOr<HttpResponse> HttpClient::Perform(const char* method, const std::string& url,
                                           const std::string* body,
                                           const std::vector<std::string>& headers) {
  CURL* c = impl_->curl;
  if (c == nullptr) return Internal("{} {}: curl_easy_init failed", method, url);
  const HttpOptions& o = impl_->opt;
  HttpResponse resp;
  impl_->error[0] = '\0';
  // This request's headers after the client's; "Expect:" keeps libcurl from holding a large
  // POST body back for a "100 Continue".
  curl_slist* call_headers = nullptr;
  if (body != nullptr) {
    for (const auto& h : o.headers) call_headers = curl_slist_append(call_headers, h.c_str());
    for (const auto& h : headers) call_headers = curl_slist_append(call_headers, h.c_str());
    call_headers = curl_slist_append(call_headers, "Expect:");
  }
  // Options are set on every call: the handle (and its connection cache) is reused, the response
  // pointer is not.
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout / 1000));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout / 1000));
  curl_easy_setopt(c, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, body != nullptr ? call_headers : impl_->headers);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, impl_->error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp);
  impl_->sends = 0;
  curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, &OnPrereq);
  curl_easy_setopt(c, CURLOPT_PREREQDATA, &impl_->sends);

  CURLcode rc = curl_easy_perform(c);
  // The handle must not keep pointers to this call's headers and body.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, impl_->headers);
  if (body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
  }
  curl_slist_free_all(call_headers);
  std::string why = impl_->error[0] != '\0' ? impl_->error : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OK: {
      long code = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
      resp.status = static_cast<int>(code);
      return resp;
    }
    case CURLE_OPERATION_TIMEDOUT: {
      bool connecting = why.starts_with("Connection timed out") ||
                        why.starts_with("Failed to connect") || why.starts_with("Resolving");
      Micros limit = connecting ? o.connect_timeout : o.timeout;
      return Unavailable("{} {}: timeout after {} ms ({})", method, url, limit / 1000, why);
    }
    case CURLE_ABORTED_BY_CALLBACK:
      return Unavailable(
          "{} {}: connection closed without a response (reused keep-alive "
          "connection)",
          method, url);
    case CURLE_PARTIAL_FILE:
      return Unavailable("{} {}: truncated response ({})", method, url, why);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_NOT_BUILT_IN:
      return InvalidArgument("{} {}: {}", method, url, why);
    default:
      // Refused, reset, empty reply, DNS, TLS, a corrupt gzip body...: all worth a retry.
      return Unavailable("{} {}: {}", method, url, why);
  }
}

}  // namespace cryptolake::exchange
