#include <cstdio>
#include "lake/duck.h"
int main() {
  auto db = cryptolake::lake::Database::Open();
  auto con = cryptolake::lake::Connection::Open(*db);
  auto r = con->Query("SELECT extension_name, loaded, installed FROM duckdb_extensions() ORDER BY 1");
  if (!r.ok()) { std::puts(r.status().ToString().c_str()); return 1; }
  for (size_t i = 0; i < r->rows(); ++i) std::printf("%s %s %s\n", r->GetString(0,i).c_str(), r->GetString(1,i).c_str(), r->GetString(2,i).c_str());
}
