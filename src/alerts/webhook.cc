#include "alerts/webhook.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "alerts/rules.h"
#include "core/fsutil.h"
#include "exchange/http.h"

namespace cryptolake::alerts {

namespace fs = std::filesystem;

namespace {

constexpr size_t kReadBatch = 64;

bool IsToken(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

bool HasControl(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; });
}

bool SameName(std::string a, std::string b) {
  auto lower = [](std::string& s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  };
  lower(a);
  lower(b);
  return a == b;
}

Status CheckOptions(const WebhookOptions& o) {
  if (!IsToken(o.name)) {
    return InvalidArgument("webhook '{}': the name must be letters, digits, '-' and '_'", o.name);
  }
  auto bad = [&](std::string_view what) {
    return InvalidArgument("webhook '{}': {}", o.name, what);
  };
  if (!o.url.starts_with("http://") && !o.url.starts_with("https://")) {
    return bad("the url must start with http:// or https://");
  }
  if (HasControl(o.url) || o.url.find(' ') != std::string::npos) {
    return bad("the url holds a space or a control character");
  }
  if (o.timeout <= 0) return bad("timeout must be positive");
  if (o.backoff_initial <= 0 || o.backoff_max < o.backoff_initial) {
    return bad("backoff must be positive, its maximum at least its initial value");
  }
  if (o.wait_step <= 0) return bad("wait_step must be positive");
  for (const auto& [name, value] : o.headers) {
    if (!IsToken(name)) return bad("a header name must be letters, digits, '-' and '_'");
    for (const char* own : {"Content-Type", "Idempotency-Key", "X-Cryptolake-Sequence"}) {
      if (SameName(name, own)) {
        return InvalidArgument("webhook '{}': header {} is the sink's own", o.name, name);
      }
    }
    if (HasControl(value)) {
      return InvalidArgument("webhook '{}': the value of header {} holds a control character",
                             o.name, name);
    }
  }
  return Status::Ok();
}

StatusOr<size_t> LoadCursor(const fs::path& file, const std::string& name, size_t log_size) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return size_t{0};
  ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  size_t n = 0;
  const char* end = text.data() + text.size();
  auto [p, err] = std::from_chars(text.data(), end, n);
  if (err != std::errc() || p == text.data() || (p != end && std::string_view(p, end) != "\n")) {
    return DataLoss("webhook '{}': {}: not a number", name, file.string());
  }
  if (n > log_size) {
    return DataLoss("webhook '{}': {}: cursor {} is beyond the log's {} events", name,
                    file.string(), n, log_size);
  }
  return n;
}

// Appends `text` to `file` (created if absent) and fsyncs it when `sync`.
Status AppendToFile(const fs::path& file, const std::string& text, bool sync) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return IOError("open {}: {}", file.string(), std::strerror(errno));
  std::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = IOError("write {}: {}", file.string(), std::strerror(errno));
      ::close(fd);
      return s;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  Status s;
  if (sync && ::fsync(fd) != 0) s = IOError("fsync {}: {}", file.string(), std::strerror(errno));
  ::close(fd);
  return s;
}

std::string Seconds(Micros d) {
  return fmt::format("{:g} s", static_cast<double>(d) / kMicrosPerSecond);
}

// What Redact() hides for `url`: the URL, the URL without its scheme, the part after the host,
// the user info and the host.
std::vector<std::string> UrlSecrets(const std::string& url) {
  std::vector<std::string> out{url};
  const size_t scheme = url.find("://");
  const std::string rest = url.substr(scheme + 3);
  out.push_back(rest);
  const size_t host_end = rest.find_first_of("/?#");
  const std::string authority = rest.substr(0, host_end);
  const size_t at = authority.rfind('@');
  if (at != std::string::npos) out.push_back(authority.substr(0, at));
  out.push_back(at == std::string::npos ? authority : authority.substr(at + 1));
  if (host_end != std::string::npos) out.push_back(rest.substr(host_end));
  return out;
}

}  // namespace

WebhookSink::WebhookSink(EventLog& log, WebhookOptions options, const Clock& clock, size_t cursor)
    : log_(log), opt_(std::move(options)), clock_(clock), cursor_(cursor) {
  exchange::HttpOptions ho;
  ho.timeout = opt_.timeout;
  ho.connect_timeout = std::min(opt_.timeout, 5 * kMicrosPerSecond);
  for (const auto& [name, value] : opt_.headers) ho.headers.push_back(name + ": " + value);
  http_ = std::make_unique<exchange::HttpClient>(std::move(ho));
  secrets_ = UrlSecrets(opt_.url);
  for (const auto& h : opt_.headers) secrets_.push_back(h.second);
  std::erase_if(secrets_, [](const std::string& s) { return s.size() < 4; });
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

WebhookSink::~WebhookSink() { Stop(); }

StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Create(EventLog& log, WebhookOptions options,
                                                           const Clock& clock) {
  RETURN_IF_ERROR(CheckOptions(options));
  const fs::path file = log.dir() / ("webhook-" + options.name + ".cursor");
  ASSIGN_OR_RETURN(size_t cursor, LoadCursor(file, options.name, log.size()));
  return std::unique_ptr<WebhookSink>(new WebhookSink(log, std::move(options), clock, cursor));
}

void WebhookSink::Start() {
  std::lock_guard lock(mu_);
  if (running_ || stop_) return;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void WebhookSink::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  log_.Wake();
  std::lock_guard lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

size_t WebhookSink::cursor() const {
  std::lock_guard lock(mu_);
  return cursor_;
}

size_t WebhookSink::pending() const {
  const size_t size = log_.size();
  std::lock_guard lock(mu_);
  return size - std::min(size, cursor_);
}

std::string WebhookSink::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

bool WebhookSink::WaitCursor(size_t n) const {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return cursor_ >= n || stop_; });
  return cursor_ >= n;
}

bool WebhookSink::Drain(std::chrono::steady_clock::time_point deadline) const {
  const size_t size = log_.size();
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return cursor_ >= size || stop_; }) &&
         cursor_ >= size;
}

void WebhookSink::Run() {
  spdlog::info("alerts: webhook '{}' delivering from event {} of {}", opt_.name, cursor(),
               log_.size());
  size_t next = cursor();
  while (!stop_) {
    if (!log_.WaitBeyond(next, stop_) || stop_) break;
    for (const AlertEvent& e : log_.Read(next, kReadBatch)) {
      // Below the sink's minimum severity: passed over, not sent (resolutions follow their
      // firing's severity, which is the rule's).
      if (SeverityRank(e.severity) >= opt_.min_severity && (stop_ || !Deliver(e, next))) break;
      Advance(++next);
    }
  }
  std::lock_guard lock(mu_);
  running_ = false;
  cv_.notify_all();
}

bool WebhookSink::Deliver(const AlertEvent& e, size_t seq) {
  const std::string body = ToJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::vector<std::string> headers = {"Content-Type: application/json",
                                            "Idempotency-Key: " + e.key,
                                            "X-Cryptolake-Sequence: " + std::to_string(seq)};
  Micros backoff = opt_.backoff_initial;
  for (int attempt = 1;; ++attempt) {
    StatusOr<exchange::HttpResponse> r = http_->Post(opt_.url, body, headers);
    const int code = r.ok() ? r->status : 0;
    if (code >= 200 && code < 300) {
      Record(e, attempt, fmt::format("delivered (HTTP {})", code));
      if (attempt > 1) {
        spdlog::info("alerts: webhook '{}': event {} ({}) delivered at attempt {}", opt_.name, seq,
                     e.key, attempt);
      }
      delivered_++;
      std::lock_guard lock(mu_);
      last_error_.clear();
      return true;
    }
    if (code >= 400 && code < 500 && code != 408 && code != 429) {
      const std::string file = "webhook-" + opt_.name + ".rejected.jsonl";
      Status kept = AppendToFile(
          log_.dir() / file,
          ToJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", true);
      if (!kept.ok()) {
        spdlog::error("alerts: webhook '{}': cannot keep rejected event {}: {}", opt_.name, e.key,
                      kept.message());
      }
      Record(e, attempt, fmt::format("rejected: HTTP {} (kept in {})", code, file));
      spdlog::error("alerts: webhook '{}' rejected event {} ({}) with HTTP {}; kept in {}",
                    opt_.name, seq, e.key, code, file);
      rejected_++;
      return true;
    }
    const std::string why = r.ok() ? fmt::format("HTTP {}", code) : Describe(r.status());
    Record(e, attempt, fmt::format("failed: {}, retrying in {}", why, Seconds(backoff)));
    spdlog::warn("alerts: webhook '{}': event {} ({}) attempt {} failed: {}; retrying in {}",
                 opt_.name, seq, e.key, attempt, why, Seconds(backoff));
    failures_++;
    {
      std::lock_guard lock(mu_);
      last_error_ = why;
    }
    if (!WaitUntil(clock_.Now() + backoff)) return false;
    backoff = backoff > opt_.backoff_max / 2 ? opt_.backoff_max : backoff * 2;
  }
}

bool WebhookSink::WaitUntil(Micros t) {
  if (&clock_ == &SystemClock::Instance()) {
    std::unique_lock lock(mu_);
    for (Micros now = clock_.Now(); now < t && !stop_; now = clock_.Now()) {
      cv_.wait_for(lock, std::chrono::microseconds(t - now), [&] { return stop_.load(); });
    }
    return !stop_;
  }
  for (Micros now = clock_.Now(); now < t && !stop_; now = clock_.Now()) {
    clock_.SleepUntil(std::min(t, now + opt_.wait_step));
  }
  return !stop_;
}

void WebhookSink::Advance(size_t to) {
  const fs::path file = log_.dir() / ("webhook-" + opt_.name + ".cursor");
  Status s = WriteFileAtomic(file, std::to_string(to) + "\n");
  if (!s.ok()) {
    // The event is delivered; a restart before the next good write sends it again (at least
    // once), which the receiver's dedup absorbs.
    spdlog::error("alerts: webhook '{}': cannot save the cursor: {}", opt_.name, s.message());
  }
  std::lock_guard lock(mu_);
  cursor_ = to;
  cv_.notify_all();
}

void WebhookSink::Record(const AlertEvent& e, int attempt, const std::string& outcome) {
  const fs::path file = log_.dir() / ("webhook-" + opt_.name + ".log");
  const std::string line =
      fmt::format("{}\t{}\t{}\t{}\n", FormatIso(clock_.Now()), e.key, attempt, outcome);
  Status s = AppendToFile(file, line, false);
  if (!s.ok()) {
    spdlog::warn("alerts: webhook '{}': cannot write the delivery log: {}", opt_.name, s.message());
  }
}

std::string WebhookSink::Describe(const Status& failure) const {
  std::string why = failure.message();
  const std::string prefix = "POST " + opt_.url + ": ";
  if (why.starts_with(prefix)) why.erase(0, prefix.size());
  if (why.find("Couldn't connect to server") != std::string::npos) return "connection refused";
  if (why == "Empty reply from server") return "empty reply";
  if (why.starts_with("timeout after ")) return why.substr(0, why.find(" ("));
  if (why.starts_with("connection closed without a response")) {
    return "connection closed without a response";
  }
  return Redact(why);
}

std::string WebhookSink::Redact(std::string text) const {
  for (const std::string& s : secrets_) {
    for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 10)) {
      text.replace(at, s.size(), "<redacted>");
    }
  }
  return text;
}

}  // namespace cryptolake::alerts
