#include "core/symbol.h"

namespace cryptolake {

StatusOr<std::string> NormalizeSymbol(std::string_view s) {
  std::string out(s);
  bool ok = !out.empty() && out.size() <= kMaxSymbolLength;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      ok = false;
    }
  }
  if (ok) return out;
  std::string shown(s.substr(0, 40));
  if (s.size() > 40) shown += "...";
  return InvalidArgument("symbol '{}' is not a Binance symbol (1-20 of A-Z 0-9 - _ .)", shown);
}

}  // namespace cryptolake
