#include "alerts/rules.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <toml.hpp>

#include "core/symbol.h"
#include "core/toml_check.h"

namespace cryptolake::alerts {

namespace {

struct KindInfo {
  Kind kind;
  const char* name;
  std::set<std::string> keys;  // the kind's own keys
};

const std::vector<KindInfo>& Kinds() {
  static const std::vector<KindInfo> kinds = {
      {Kind::kLevel, "level", {"price", "direction"}},
      {Kind::kMove, "move", {"percent", "window_minutes", "direction"}},
      {Kind::kHighLow, "high_low", {"days", "direction"}},
      {Kind::kMaCross, "ma_cross", {"ma", "direction"}},
      {Kind::kSilence, "silence", {"seconds"}},
      {Kind::kLag, "lag", {"seconds"}},
      {Kind::kReconnects, "reconnects", {"count", "window_minutes"}},
      {Kind::kGap, "gap", {"minutes"}},
      {Kind::kVerifyErrors, "verify_errors", {"count"}},
      {Kind::kWeight, "weight", {"share"}},
      {Kind::kBan, "ban", {}},
  };
  return kinds;
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

class RuleReader {
 public:
  RuleReader(const Checker& ck, const toml::value& t, std::string where)
      : ck_(ck), t_(t), where_(std::move(where)) {}

  std::string Key(std::string_view k) const { return fmt::format("{}.{}", where_, k); }
  bool Has(const char* k) const { return t_.contains(k); }

  Status Required(const char* k) const {
    if (!t_.contains(k)) return InvalidArgument("{}: {} is required", ck_.file(), Key(k));
    return Status::Ok();
  }
  StatusOr<double> Num(const char* k, double lo, double hi) const {
    RETURN_IF_ERROR(Required(k));
    return ck_.Number(Key(k), t_.at(k), lo, hi);
  }
  StatusOr<double> Positive(const char* k, double hi) const {
    RETURN_IF_ERROR(Required(k));
    return ck_.NumberAboveUpTo(Key(k), t_.at(k), 0, hi);
  }
  StatusOr<int64_t> Int(const char* k, int64_t lo, int64_t hi) const {
    RETURN_IF_ERROR(Required(k));
    return ck_.Integer(Key(k), t_.at(k), lo, hi);
  }
  StatusOr<Direction> Dir(const std::vector<std::string>& allowed, bool required) const {
    if (!t_.contains("direction")) {
      if (required) return Required("direction");
      return Direction::kAny;
    }
    ASSIGN_OR_RETURN(std::string d, ck_.OneOf(Key("direction"), t_.at("direction"), allowed));
    if (d == "above" || d == "up" || d == "high") return Direction::kUp;
    if (d == "below" || d == "down" || d == "low") return Direction::kDown;
    return Direction::kAny;
  }

 private:
  const Checker& ck_;
  const toml::value& t_;
  std::string where_;
};

Status KindParams(const RuleReader& r, AlertRule& rule) {
  switch (rule.kind) {
    case Kind::kLevel: {
      ASSIGN_OR_RETURN(rule.threshold, r.Positive("price", 1e12));
      ASSIGN_OR_RETURN(rule.direction, r.Dir({"above", "below"}, true));
      break;
    }
    case Kind::kMove: {
      ASSIGN_OR_RETURN(rule.threshold, r.Positive("percent", 1000));
      ASSIGN_OR_RETURN(int64_t w, r.Int("window_minutes", 1, 7 * 1440));
      rule.window = w * kMicrosPerMinute;
      ASSIGN_OR_RETURN(rule.direction, r.Dir({"up", "down", "any"}, false));
      break;
    }
    case Kind::kHighLow: {
      ASSIGN_OR_RETURN(int64_t d, r.Int("days", 1, 366));
      rule.threshold = static_cast<double>(d);
      ASSIGN_OR_RETURN(rule.direction, r.Dir({"high", "low"}, true));
      break;
    }
    case Kind::kMaCross: {
      ASSIGN_OR_RETURN(int64_t ma, r.Int("ma", 7, 30));
      if (ma != 7 && ma != 30) return r.Int("ma", 7, 7).status();  // "an integer in [7, 7]"
      rule.ma = static_cast<int>(ma);
      rule.threshold = static_cast<double>(ma);
      ASSIGN_OR_RETURN(rule.direction, r.Dir({"above", "below"}, true));
      break;
    }
    case Kind::kSilence:
    case Kind::kLag: {
      ASSIGN_OR_RETURN(rule.threshold, r.Positive("seconds", 7 * 86400));
      break;
    }
    case Kind::kReconnects: {
      ASSIGN_OR_RETURN(int64_t n, r.Int("count", 1, 1000000));
      rule.threshold = static_cast<double>(n);
      ASSIGN_OR_RETURN(int64_t w, r.Int("window_minutes", 1, 1440));
      rule.window = w * kMicrosPerMinute;
      break;
    }
    case Kind::kGap: {
      ASSIGN_OR_RETURN(rule.threshold, r.Positive("minutes", 7 * 1440));
      break;
    }
    case Kind::kVerifyErrors: {
      rule.threshold = 1;
      if (r.Has("count")) {
        ASSIGN_OR_RETURN(int64_t n, r.Int("count", 1, 1000000000));
        rule.threshold = static_cast<double>(n);
      }
      break;
    }
    case Kind::kWeight: {
      ASSIGN_OR_RETURN(rule.threshold, r.Positive("share", 1));
      break;
    }
    case Kind::kBan:
      rule.threshold = 1;
      break;
  }
  return Status::Ok();
}

StatusOr<AlertRule> ParseRule(const Checker& ck, const toml::value& t, size_t i) {
  const std::string at = fmt::format("alerts[{}]", i);
  RETURN_IF_ERROR(ck.Table(at, t));
  AlertRule rule;
  if (!t.contains("name")) return InvalidArgument("{}: {}.name is required", ck.file(), at);
  ASSIGN_OR_RETURN(rule.name, ck.String(at + ".name", t.at("name")));
  if (!ValidName(rule.name)) {
    return ck.Bad(at + ".name", "1 to 64 letters, digits, '-', '_' or '.'", t.at("name"));
  }
  const std::string where = fmt::format("{} ({})", at, rule.name);
  RuleReader r(ck, t, where);
  RETURN_IF_ERROR(r.Required("kind"));
  std::vector<std::string> names;
  for (const auto& k : Kinds()) names.push_back(k.name);
  ASSIGN_OR_RETURN(std::string kind, ck.OneOf(r.Key("kind"), t.at("kind"), names));
  const KindInfo* info = nullptr;
  for (const auto& k : Kinds()) {
    if (kind == k.name) info = &k;
  }
  rule.kind = info->kind;
  std::set<std::string> known = {"name", "kind", "severity", "cooldown_seconds", "hysteresis"};
  if (IsPerSymbol(rule.kind)) known.insert("symbols");
  known.insert(info->keys.begin(), info->keys.end());
  RETURN_IF_ERROR(ck.UnknownKeys(t, known, where + "."));
  if (t.contains("severity")) {
    ASSIGN_OR_RETURN(rule.severity, ck.OneOf(r.Key("severity"), t.at("severity"),
                                             {"info", "warning", "critical"}));
  }
  if (t.contains("symbols")) {
    ASSIGN_OR_RETURN(rule.symbols, ck.Strings(r.Key("symbols"), t.at("symbols")));
    for (auto& s : rule.symbols) {
      auto norm = NormalizeSymbol(s);
      if (!norm.ok()) return norm.status().WithContext(ck.file() + ": " + r.Key("symbols"));
      s = *norm;
    }
  }
  if (t.contains("cooldown_seconds")) {
    ASSIGN_OR_RETURN(int64_t c, ck.Integer(r.Key("cooldown_seconds"), t.at("cooldown_seconds"), 0,
                                           30LL * 86400, " number of seconds"));
    rule.cooldown = c * kMicrosPerSecond;
  }
  if (t.contains("hysteresis")) {
    ASSIGN_OR_RETURN(rule.hysteresis, ck.Number(r.Key("hysteresis"), t.at("hysteresis"), 0, 1e12));
  }
  RETURN_IF_ERROR(KindParams(r, rule));
  return rule;
}

StatusOr<WebhookConfig> ParseWebhook(const Checker& ck, const toml::value& t, size_t i) {
  const std::string at = fmt::format("webhooks[{}]", i);
  RETURN_IF_ERROR(ck.Table(at, t));
  RETURN_IF_ERROR(
      ck.UnknownKeys(t, {"name", "url", "min_severity", "backoff_max_seconds"}, at + "."));
  WebhookConfig w;
  if (!t.contains("name")) return InvalidArgument("{}: {}.name is required", ck.file(), at);
  ASSIGN_OR_RETURN(w.name, ck.String(at + ".name", t.at("name")));
  if (!ValidName(w.name)) {
    return ck.Bad(at + ".name", "1 to 64 letters, digits, '-', '_' or '.'", t.at("name"));
  }
  const std::string where = fmt::format("{} ({})", at, w.name);
  if (!t.contains("url")) return InvalidArgument("{}: {}.url is required", ck.file(), where);
  const auto& url = t.at("url");
  // The URL may hold a secret: the message never quotes it.
  if (!url.is_string() || !(url.as_string().str.rfind("http://", 0) == 0 ||
                            url.as_string().str.rfind("https://", 0) == 0)) {
    return InvalidArgument("{}: {}.url must be an http:// or https:// URL (value not shown)",
                           ck.file(), where);
  }
  w.url = url.as_string().str;
  if (t.contains("min_severity")) {
    ASSIGN_OR_RETURN(w.min_severity, ck.OneOf(where + ".min_severity", t.at("min_severity"),
                                              {"info", "warning", "critical"}));
  }
  if (t.contains("backoff_max_seconds")) {
    ASSIGN_OR_RETURN(int64_t b, ck.Integer(where + ".backoff_max_seconds",
                                           t.at("backoff_max_seconds"), 1, 3600));
    w.backoff_max_seconds = static_cast<int>(b);
  }
  return w;
}

Status ParseAll(const toml::value& doc, const Checker& ck, AlertConfig& out) {
  std::set<std::string> names;
  if (doc.contains("alerts")) {
    const auto& a = doc.at("alerts");
    if (!a.is_array()) return ck.Bad("alerts", "an array of tables ([[alerts]])", a);
    for (size_t i = 0; i < a.as_array().size(); ++i) {
      ASSIGN_OR_RETURN(AlertRule rule, ParseRule(ck, a.as_array()[i], i));
      if (!names.insert(rule.name).second) {
        return InvalidArgument("{}: alerts[{}]: name '{}' is used twice", ck.file(), i, rule.name);
      }
      out.rules.push_back(std::move(rule));
    }
  }
  names.clear();
  if (doc.contains("webhooks")) {
    const auto& w = doc.at("webhooks");
    if (!w.is_array()) return ck.Bad("webhooks", "an array of tables ([[webhooks]])", w);
    for (size_t i = 0; i < w.as_array().size(); ++i) {
      ASSIGN_OR_RETURN(WebhookConfig hook, ParseWebhook(ck, w.as_array()[i], i));
      if (!names.insert(hook.name).second) {
        return InvalidArgument("{}: webhooks[{}]: name '{}' is used twice", ck.file(), i,
                               hook.name);
      }
      out.webhooks.push_back(std::move(hook));
    }
  }
  return Status::Ok();
}

}  // namespace

const char* KindName(Kind k) {
  for (const auto& i : Kinds()) {
    if (i.kind == k) return i.name;
  }
  return "?";
}

bool IsPriceKind(Kind k) {
  return k == Kind::kLevel || k == Kind::kMove || k == Kind::kHighLow || k == Kind::kMaCross;
}

bool IsPerSymbol(Kind k) { return IsPriceKind(k) || k == Kind::kGap; }

int SeverityRank(const std::string& s) {
  if (s == "info") return 0;
  if (s == "warning") return 1;
  if (s == "critical") return 2;
  return -1;
}

StatusOr<AlertConfig> LoadAlertConfig(const std::filesystem::path& file) {
  AlertConfig out;
  if (file.empty()) return out;
  const Checker ck(file);
  try {
    RETURN_IF_ERROR(ParseAll(toml::parse(file.string()), ck, out));
  } catch (const std::exception& e) {
    return InvalidArgument("{}: {}", file.string(), e.what());
  }
  return out;
}

}  // namespace cryptolake::alerts
