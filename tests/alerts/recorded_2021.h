// The recorded 2021-04 1m window (../shared/data), read for the alert tests independently of the
// product's parsers: `zcat` and a split on commas.
#pragma once

#include <cstdio>
#include <map>
#include <string>

#include "core/time.h"
#include "testing/testing.h"

namespace cryptolake::alerts::testing_2021 {

// open_time (micros) -> close, of SYMBOL's file *-1m-20210402_20210514__*.csv.gz.
inline std::map<Micros, double> Closes(const std::string& symbol) {
  const auto dir = cryptolake::testing::SharedData() / "binance-spot/klines/1m";
  std::string file;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(symbol + "-1m-20210402_20210514__", 0) == 0) file = e.path().string();
  }
  std::map<Micros, double> out;
  if (file.empty()) return out;
  FILE* p = popen(("zcat '" + file + "'").c_str(), "r");
  char line[512];
  while (p && fgets(line, sizeof line, p)) {
    if (line[0] < '0' || line[0] > '9') continue;  // the header
    // open_time,open,high,low,close,volume
    long long ms = 0;
    double o = 0, h = 0, l = 0, c = 0;
    if (sscanf(line, "%lld,%lf,%lf,%lf,%lf", &ms, &o, &h, &l, &c) == 5) out[ms * 1000] = c;
  }
  if (p) pclose(p);
  return out;
}

}  // namespace cryptolake::alerts::testing_2021
