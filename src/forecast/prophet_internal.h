// The parts of the native Prophet (forecast/prophet.h) that its fit (prophet_fit.cc) and its
// prediction (prophet.cc) share, internal to src/forecast: the checks of the options and of a
// frame, and the feature matrix. The error messages are prophet.h's (InvalidArgument, exact).
// Thread-safety: pure functions.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "forecast/prophet.h"

namespace cryptolake::forecast::prophet_internal {

// The options' values and names (growth, modes, orders, scales, windows, duplicates).
Status ValidateOptions(const ProphetOptions& o);

// ds strictly increasing: "ds not strictly increasing at row <i>: <ds> after <ds>".
Status CheckIncreasing(const std::vector<Micros>& ds);

// The frame's regressor `name`: one value per ds, finite at `rows`; `which` names the frame in
// the messages ("history", "future").
StatusOr<const std::vector<double>*> RegressorValues(const Frame& f, const std::string& name,
                                                     const char* which,
                                                     const std::vector<size_t>& rows);

// Logistic growth's cap (required: the frame's column or options.cap) and floor (the column or
// options.floor; required in the future frame if the history had one, else 0), checked: cap >
// floor at `rows`. floor is nullptr without one; constants are expanded into `store`.
Status CapAndFloor(const Frame& f, const char* which, const std::vector<size_t>& rows,
                   const ProphetOptions& o, std::optional<bool> need_floor,
                   const std::vector<double>** cap, const std::vector<double>** floor,
                   std::array<std::vector<double>, 2>* store);

// The 0/1 condition columns of the seasonalities, checked at `rows`.
Status CheckConditions(const std::vector<Seasonality>& seasonalities, const Frame& f,
                       const char* which, const std::vector<size_t>& rows);

// Feature matrix (rows x columns) of `f` at `rows`, regressors already checked.
template <typename Column>
Eigen::MatrixXd BuildFeatures(const std::vector<Column>& columns, const Frame& f,
                              const std::vector<size_t>& rows) {
  Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()),
                    static_cast<Eigen::Index>(columns.size()));
  constexpr double kTwoPi = 2 * std::numbers::pi;
  for (size_t c = 0; c < columns.size(); ++c) {
    const Column& col = columns[c];
    const auto ci = static_cast<Eigen::Index>(c);
    switch (col.kind) {
      case Column::Kind::kSin:
      case Column::Kind::kCos: {
        // As Prophet's fourier_series: (n / P) * (2 pi t_days), t_days since the epoch.
        const double w = static_cast<double>(col.harmonic) / col.period;
        const bool sine = col.kind == Column::Kind::kSin;
        const std::vector<double>* on =
            col.condition.empty() ? nullptr : &f.regressors.at(col.condition);
        for (size_t i = 0; i < rows.size(); ++i) {
          const double t_days =
              static_cast<double>(f.ds[rows[i]]) / static_cast<double>(kMicrosPerDay);
          const double a = w * (kTwoPi * t_days);
          // As Prophet: the seasonality's features are 0 where its condition is false.
          x(static_cast<Eigen::Index>(i), ci) =
              on && (*on)[rows[i]] == 0 ? 0.0 : (sine ? std::sin(a) : std::cos(a));
        }
        break;
      }
      case Column::Kind::kRegressor: {
        const std::vector<double>& v = f.regressors.at(col.regressor);
        for (size_t i = 0; i < rows.size(); ++i) {
          x(static_cast<Eigen::Index>(i), ci) = (v[rows[i]] - col.mu) / col.sd;
        }
        break;
      }
      case Column::Kind::kHoliday:
        for (size_t i = 0; i < rows.size(); ++i) {
          x(static_cast<Eigen::Index>(i), ci) =
              std::binary_search(col.days.begin(), col.days.end(), DayFloor(f.ds[rows[i]])) ? 1.0
                                                                                            : 0.0;
        }
        break;
    }
  }
  return x;
}

}  // namespace cryptolake::forecast::prophet_internal
