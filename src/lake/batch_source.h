// KlineBatches as a DuckDB table function, so that AppendKlines (lake/typed.h: the importer's and
// the backfill's writes) stages parsed rows with one SQL statement and no copy into DuckDB's
// storage.
#pragma once

#include <algorithm>
#include <type_traits>
#include <vector>

#include "lake/duck.h"
#include "model/kline.h"

namespace cryptolake::lake {

using model::KlineBatch;

// Batches of one interval, scanned by DuckDB in place (one scan unit per batch). Columns: symbol,
// ord (the row's position over all batches, in order) and the 11 kline fields; absent fields
// (KlineBatch::full == false) are NULL. The batches must outlive the scan.
class BatchSource final : public TableSource {
 public:
  explicit BatchSource(std::vector<const KlineBatch*> batches) : b_(std::move(batches)) {
    size_t ord = 0;
    for (auto* b : b_) {
      first_ord_.push_back(ord);
      ord += b->size();
    }
  }
  std::vector<ColumnDef> Columns() const override {
    return {{"symbol", DUCKDB_TYPE_VARCHAR},
            {"ord", DUCKDB_TYPE_BIGINT},
            {"open_time", DUCKDB_TYPE_TIMESTAMP_TZ},
            {"open", DUCKDB_TYPE_DOUBLE},
            {"high", DUCKDB_TYPE_DOUBLE},
            {"low", DUCKDB_TYPE_DOUBLE},
            {"close", DUCKDB_TYPE_DOUBLE},
            {"volume", DUCKDB_TYPE_DOUBLE},
            {"close_time", DUCKDB_TYPE_TIMESTAMP_TZ},
            {"quote_volume", DUCKDB_TYPE_DOUBLE},
            {"trades", DUCKDB_TYPE_BIGINT},
            {"taker_buy_base", DUCKDB_TYPE_DOUBLE},
            {"taker_buy_quote", DUCKDB_TYPE_DOUBLE}};
  }
  size_t Units() const override { return b_.size(); }
  size_t UnitRows(size_t u) const override { return b_[u]->size(); }
  void Fill(size_t u, size_t off, size_t n, duckdb_data_chunk out) const override {
    const KlineBatch& b = *b_[u];
    auto vec = [&](size_t col) { return duckdb_data_chunk_get_vector(out, col); };
    auto copy = [&](size_t col, const auto& v) {
      using T = typename std::decay_t<decltype(v)>::value_type;
      std::copy_n(v.data() + off, n, static_cast<T*>(duckdb_vector_get_data(vec(col))));
    };
    duckdb_vector sym = vec(0);
    for (size_t i = 0; i < n; ++i) {
      duckdb_vector_assign_string_element_len(sym, i, b.symbol.data(), b.symbol.size());
    }
    auto* ord = static_cast<int64_t*>(duckdb_vector_get_data(vec(1)));
    for (size_t i = 0; i < n; ++i) ord[i] = static_cast<int64_t>(first_ord_[u] + off + i);
    copy(2, b.open_time);
    copy(3, b.open);
    copy(4, b.high);
    copy(5, b.low);
    copy(6, b.close);
    copy(7, b.volume);
    if (b.full) {
      copy(8, b.close_time);
      copy(9, b.quote_volume);
      copy(10, b.trades);
      copy(11, b.taker_buy_base);
      copy(12, b.taker_buy_quote);
    } else {
      for (size_t c = 8; c <= 12; ++c) {  // absent fields are NULL
        duckdb_vector v = vec(c);
        duckdb_vector_ensure_validity_writable(v);
        std::fill_n(duckdb_vector_get_validity(v), (n + 63) / 64, uint64_t{0});
      }
    }
  }

 private:
  std::vector<const KlineBatch*> b_;
  std::vector<size_t> first_ord_;
};

}  // namespace cryptolake::lake
