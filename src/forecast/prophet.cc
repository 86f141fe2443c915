#include "forecast/prophet.h"

#include <lbfgs.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <set>
#include <utility>

#include "forecast/objective.h"

namespace cryptolake::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Eigen::MatrixXd;
using Eigen::VectorXd;

bool ValidMode(const std::string& m) { return m == "additive" || m == "multiplicative"; }

Status CheckIncreasing(const std::vector<Micros>& ds) {
  for (size_t i = 1; i < ds.size(); ++i) {
    if (ds[i] <= ds[i - 1]) {
      return InvalidArgument("ds not strictly increasing at row {}: {} after {}", i,
                             FormatIso(ds[i]), FormatIso(ds[i - 1]));
    }
  }
  return Status::Ok();
}

// The frame's regressor `name`: one value per ds, finite at `rows`.
StatusOr<const std::vector<double>*> RegressorValues(const Frame& f, const std::string& name,
                                                     const char* which,
                                                     const std::vector<size_t>& rows) {
  auto it = f.regressors.find(name);
  if (it == f.regressors.end()) {
    return InvalidArgument("regressor '{}' is missing from the {} frame", name, which);
  }
  const std::vector<double>& v = it->second;
  if (v.size() != f.ds.size()) {
    return InvalidArgument("regressor '{}' has {} values for {} ds in the {} frame", name, v.size(),
                           f.ds.size(), which);
  }
  for (size_t i : rows) {
    if (!std::isfinite(v[i])) {
      return InvalidArgument("regressor '{}' is not finite at {}", name, FormatIso(f.ds[i]));
    }
  }
  return &v;
}

// The frame's column `name` (cap, floor): one value per ds, finite at `rows`; nullptr if the
// frame has none.
StatusOr<const std::vector<double>*> OptionalColumn(const Frame& f, const std::string& name,
                                                    const char* which,
                                                    const std::vector<size_t>& rows) {
  auto it = f.regressors.find(name);
  if (it == f.regressors.end()) return nullptr;
  const std::vector<double>& v = it->second;
  if (v.size() != f.ds.size()) {
    return InvalidArgument("{} has {} values for {} ds in the {} frame", name, v.size(),
                           f.ds.size(), which);
  }
  for (size_t i : rows) {
    if (!std::isfinite(v[i]))
      return InvalidArgument("{} is not finite at {}", name, FormatIso(f.ds[i]));
  }
  return &v;
}

// Logistic growth's cap (required: the frame's column or options.cap) and floor (the column or
// options.floor; required in the future frame if the history had one, else 0), checked: cap >
// floor at `rows`. floor is nullptr without one; constants are expanded into `store`.
Status CapAndFloor(const Frame& f, const char* which, const std::vector<size_t>& rows,
                   const ProphetOptions& o, std::optional<bool> need_floor,
                   const std::vector<double>** cap, const std::vector<double>** floor,
                   std::array<std::vector<double>, 2>* store) {
  ASSIGN_OR_RETURN(*cap, OptionalColumn(f, "cap", which, rows));
  if (*cap == nullptr && o.cap) {
    (*store)[0].assign(f.ds.size(), *o.cap);
    *cap = &(*store)[0];
  }
  if (*cap == nullptr) {
    return InvalidArgument("logistic growth needs a cap column in the {} frame", which);
  }
  ASSIGN_OR_RETURN(*floor, OptionalColumn(f, "floor", which, rows));
  if (*floor == nullptr && o.floor) {
    (*store)[1].assign(f.ds.size(), *o.floor);
    *floor = &(*store)[1];
  }
  if (need_floor && *need_floor && *floor == nullptr) {
    return InvalidArgument("floor is missing from the future frame (the history has one)");
  }
  if (need_floor && !*need_floor) *floor = nullptr;  // as Prophet: a floor only if fitted with one
  for (size_t i : rows) {
    const double c = (**cap)[i], fl = *floor ? (**floor)[i] : 0.0;
    if (!(c > fl)) {
      return InvalidArgument(
          "cap must be greater than floor (which defaults to 0) at {}: cap {}, floor {}",
          FormatIso(f.ds[i]), c, fl);
    }
  }
  return Status::Ok();
}

// The 0/1 condition columns of the seasonalities, checked at `rows`.
Status CheckConditions(const std::vector<Seasonality>& seasonalities, const Frame& f,
                       const char* which, const std::vector<size_t>& rows) {
  for (const Seasonality& s : seasonalities) {
    if (s.condition_name.empty()) continue;
    auto it = f.regressors.find(s.condition_name);
    if (it == f.regressors.end()) {
      return InvalidArgument("condition '{}' is missing from the {} frame", s.condition_name,
                             which);
    }
    const std::vector<double>& v = it->second;
    if (v.size() != f.ds.size()) {
      return InvalidArgument("condition '{}' has {} values for {} ds in the {} frame",
                             s.condition_name, v.size(), f.ds.size(), which);
    }
    for (size_t i : rows) {
      if (v[i] != 0 && v[i] != 1) {
        return InvalidArgument("condition '{}' is not 0 or 1 at {}: {}", s.condition_name,
                               FormatIso(f.ds[i]), v[i]);
      }
    }
  }
  return Status::Ok();
}

Status ValidateOptions(const ProphetOptions& o) {
  auto bad = [](std::string_view what) { return InvalidArgument("invalid option: {}", what); };
  if (o.growth != "linear" && o.growth != "logistic" && o.growth != "flat") {
    return InvalidArgument("unknown growth '{}': expected linear, logistic or flat", o.growth);
  }
  if (o.growth == "logistic" && o.log_transform) return bad("log_transform with logistic growth");
  if (!ValidMode(o.seasonality_mode)) {
    return InvalidArgument("unknown seasonality_mode '{}': expected additive or multiplicative",
                           o.seasonality_mode);
  }
  auto check_mode = [](const std::optional<std::string>& m, const std::string& name) {
    if (m && !ValidMode(*m)) {
      return InvalidArgument("unknown mode '{}' for '{}': expected additive or multiplicative", *m,
                             name);
    }
    return Status::Ok();
  };
  if (o.n_changepoints < 0) return bad(fmt::format("n_changepoints {} < 0", o.n_changepoints));
  if (!(o.changepoint_range >= 0 && o.changepoint_range <= 1)) {
    return bad(fmt::format("changepoint_range {} outside [0, 1]", o.changepoint_range));
  }
  if (!(o.changepoint_prior_scale > 0)) {
    return bad(fmt::format("changepoint_prior_scale {} <= 0", o.changepoint_prior_scale));
  }
  if (!(o.seasonality_prior_scale > 0)) {
    return bad(fmt::format("seasonality_prior_scale {} <= 0", o.seasonality_prior_scale));
  }
  if (!(o.holidays_prior_scale > 0)) {
    return bad(fmt::format("holidays_prior_scale {} <= 0", o.holidays_prior_scale));
  }
  if (o.yearly_order < 0 || o.weekly_order < 0 || o.daily_order < 0) {
    return bad("a built-in seasonality order < 0");
  }
  if (!(o.interval_width > 0 && o.interval_width < 1)) {
    return bad(fmt::format("interval_width {} outside (0, 1)", o.interval_width));
  }
  if (o.uncertainty_samples < 0) {
    return bad(fmt::format("uncertainty_samples {} < 0", o.uncertainty_samples));
  }
  if (o.max_iterations <= 0) return bad(fmt::format("max_iterations {} <= 0", o.max_iterations));
  if (!(o.tolerance >= 0)) return bad(fmt::format("tolerance {} < 0", o.tolerance));
  std::set<std::string> names;
  for (const Seasonality& s : o.extra_seasonalities) {
    if (s.name.empty()) return bad("a seasonality without a name");
    if (!names.insert(s.name).second) return bad(fmt::format("duplicate seasonality '{}'", s.name));
    if (!(s.period_days > 0)) return bad(fmt::format("seasonality '{}' period <= 0", s.name));
    if (s.order < 1) return bad(fmt::format("seasonality '{}' order < 1", s.name));
    if (s.prior_scale && !(*s.prior_scale > 0)) {
      return bad(fmt::format("seasonality '{}' prior_scale <= 0", s.name));
    }
    RETURN_IF_ERROR(check_mode(s.mode, s.name));
  }
  names.clear();
  for (const RegressorSpec& r : o.regressors) {
    if (r.name.empty()) return bad("a regressor without a name");
    if (!names.insert(r.name).second) return bad(fmt::format("duplicate regressor '{}'", r.name));
    if (r.prior_scale && !(*r.prior_scale > 0)) {
      return bad(fmt::format("regressor '{}' prior_scale <= 0", r.name));
    }
    RETURN_IF_ERROR(check_mode(r.mode, r.name));
  }
  std::map<std::string, double> holiday_scales;
  for (const Holiday& h : o.holidays) {
    if (h.name.empty()) return bad("a holiday without a name");
    if (h.lower_window > 0 || h.upper_window < 0) {
      return bad(fmt::format("holiday '{}' window [{}, {}] does not contain 0", h.name,
                             h.lower_window, h.upper_window));
    }
    double ps = h.prior_scale.value_or(o.holidays_prior_scale);
    if (!(ps > 0)) return bad(fmt::format("holiday '{}' prior_scale <= 0", h.name));
    auto [it, fresh] = holiday_scales.emplace(h.name, ps);
    if (!fresh && it->second != ps) {
      return bad(fmt::format("holiday '{}' has inconsistent prior scales", h.name));
    }
  }
  return Status::Ok();
}

// numpy.percentile's default (linear) quantile of v, q in [0, 1]; reorders v.
double Quantile(std::vector<double>& v, double q) {
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  double frac = pos - static_cast<double>(lo);
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(lo), v.end());
  double a = v[lo];
  if (frac == 0 || lo + 1 >= v.size()) return a;
  double b = *std::min_element(v.begin() + static_cast<ptrdiff_t>(lo) + 1, v.end());
  return a + (b - a) * frac;
}

struct Optimization {
  Objective* objective;
  double tolerance;
  std::array<double, 10> past{};  // objective at the last 10 iterations (ring)
  int done = 0;                   // iterations of the previous runs (restarts)
  int iterations = 0;             // in all
};

lbfgsfloatval_t EvaluateCallback(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g,
                                 int n, lbfgsfloatval_t step) {
  return static_cast<Optimization*>(instance)->objective->EvaluateZ(x, g);
}

// Stops (returns 1, LBFGS_STOP) once the objective decreased by less than tolerance * |f| over the
// last 10 iterations. liblbfgs' own `past`/`delta` test divides by f, which is negative here.
int ProgressCallback(void* instance, const lbfgsfloatval_t* x, const lbfgsfloatval_t* g,
                     lbfgsfloatval_t fx, lbfgsfloatval_t xnorm, lbfgsfloatval_t gnorm,
                     lbfgsfloatval_t step, int n, int k, int ls) {
  auto* o = static_cast<Optimization*>(instance);
  o->iterations = o->done + k;
  const size_t slot = static_cast<size_t>(o->iterations) % o->past.size();
  if (static_cast<size_t>(o->iterations) >= o->past.size() &&
      o->past[slot] - fx <= o->tolerance * std::abs(fx)) {
    return LBFGS_STOP;
  }
  o->past[slot] = fx;
  return 0;
}

struct LbfgsFree {
  void operator()(lbfgsfloatval_t* p) const { lbfgs_free(p); }
};

}  // namespace

std::vector<Micros> FutureDays(Micros last, int periods) {
  std::vector<Micros> out;
  for (int i = 1; i <= periods; ++i) out.push_back(last + i * kMicrosPerDay);
  return out;
}

namespace {

// Feature matrix (rows x columns) of `f` at `rows`, regressors already checked.
template <typename Column>
MatrixXd BuildFeatures(const std::vector<Column>& columns, const Frame& f,
                       const std::vector<size_t>& rows) {
  MatrixXd x(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(columns.size()));
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

// Prophet's piecewise_linear at t.
double PiecewiseLinear(double t, double k, double m, const std::vector<double>& delta,
                       const std::vector<double>& changepoints_t) {
  double slope = k, offset = m;
  for (size_t j = 0; j < changepoints_t.size(); ++j) {
    if (changepoints_t[j] <= t) {
      slope += delta[j];
      offset -= delta[j] * changepoints_t[j];
    }
  }
  return slope * t + offset;
}

// The rate and offset of each segment of Prophet's piecewise logistic trend: segment j (after
// changepoint j) has k_j = k + delta_1..j and m_j = m + gamma_1..j, gamma as logistic_gamma.
void LogisticSegments(double k, double m, const std::vector<double>& delta,
                      const std::vector<double>& changepoints_t, std::vector<double>* ks,
                      std::vector<double>* ms) {
  ks->assign(1, k);
  ms->assign(1, m);
  for (size_t j = 0; j < changepoints_t.size(); ++j) {
    const double k_prev = ks->back(), m_prev = ms->back(), k_next = k_prev + delta[j];
    const double gamma = (changepoints_t[j] - m_prev) * (1 - k_prev / k_next);
    ks->push_back(k_next);
    ms->push_back(m_prev + gamma);
  }
}

// Prophet's piecewise_logistic at t, with the segments from LogisticSegments.
double PiecewiseLogistic(double t, double cap, const std::vector<double>& ks,
                         const std::vector<double>& ms, const std::vector<double>& changepoints_t) {
  size_t j = 0;
  while (j < changepoints_t.size() && changepoints_t[j] <= t) ++j;
  return cap / (1 + std::exp(-ks[j] * (t - ms[j])));
}

}  // namespace

StatusOr<ProphetModel> ProphetModel::Fit(const Frame& history, const ProphetOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  if (history.y.size() != history.ds.size()) {
    return InvalidArgument("history has {} ds but {} y", history.ds.size(), history.y.size());
  }
  RETURN_IF_ERROR(CheckIncreasing(history.ds));
  std::vector<size_t> rows;  // the non-NaN y
  for (size_t i = 0; i < history.y.size(); ++i) {
    const double y = history.y[i];
    if (std::isnan(y)) continue;
    if (std::isinf(y)) {
      return InvalidArgument("y is not finite at {}: {}", FormatIso(history.ds[i]), y);
    }
    if (options.log_transform && !(y > 0)) {
      return InvalidArgument("log_transform needs y > 0, got {} at {}", y,
                             FormatIso(history.ds[i]));
    }
    rows.push_back(i);
  }
  if (rows.size() < 2) {
    return InvalidArgument("history has {} non-NaN y, at least 2 are needed", rows.size());
  }
  std::vector<const std::vector<double>*> regressor_values;
  for (const RegressorSpec& r : options.regressors) {
    ASSIGN_OR_RETURN(const std::vector<double>* v,
                     RegressorValues(history, r.name, "history", rows));
    regressor_values.push_back(v);
  }
  const bool logistic = options.growth == "logistic", flat = options.growth == "flat";
  const std::vector<double>*cap = nullptr, *floor = nullptr;
  std::array<std::vector<double>, 2> constants;
  if (logistic) {
    RETURN_IF_ERROR(
        CapAndFloor(history, "history", rows, options, std::nullopt, &cap, &floor, &constants));
  }
  RETURN_IF_ERROR(CheckConditions(options.extra_seasonalities, history, "history", rows));

  ProphetModel model;
  model.options_ = options;
  Params& p = model.params_;
  const size_t n = rows.size();
  const Eigen::Index rows_e = static_cast<Eigen::Index>(n);

  // Scales: y - floor by its max |.| (absmax; floor 0 unless logistic with a floor), t over the
  // history.
  p.logistic_floor = floor != nullptr;
  VectorXd y(rows_e);
  for (size_t i = 0; i < n; ++i) {
    const double v = history.y[rows[i]];
    y[static_cast<Eigen::Index>(i)] =
        (options.log_transform ? std::log(v) : v) - (floor ? (*floor)[rows[i]] : 0.0);
  }
  p.y_scale = y.cwiseAbs().maxCoeff();
  if (p.y_scale == 0) p.y_scale = 1;
  y /= p.y_scale;
  VectorXd cap_scaled;
  if (logistic) {
    cap_scaled.resize(rows_e);
    for (size_t i = 0; i < n; ++i) {
      cap_scaled[static_cast<Eigen::Index>(i)] =
          ((*cap)[rows[i]] - (floor ? (*floor)[rows[i]] : 0.0)) / p.y_scale;
    }
  }
  p.start = history.ds[rows.front()];
  p.t_scale = history.ds[rows.back()] - p.start;
  VectorXd t(rows_e);
  for (size_t i = 0; i < n; ++i) {
    t[static_cast<Eigen::Index>(i)] =
        static_cast<double>(history.ds[rows[i]] - p.start) / static_cast<double>(p.t_scale);
  }

  // Seasonalities: the extra ones in order, then the built-ins (Prophet's set_auto_seasonalities:
  // a custom seasonality of the same name disables an auto built-in; a forced one replaces it).
  struct Season {
    std::string name;
    double period;
    int order;
    double prior_scale;
    std::string mode;
    std::string condition;
  };
  std::vector<Season> seasons;
  for (const Seasonality& s : options.extra_seasonalities) {
    seasons.push_back({s.name, s.period_days, s.order,
                       s.prior_scale.value_or(options.seasonality_prior_scale),
                       s.mode.value_or(options.seasonality_mode), s.condition_name});
  }
  const Micros span = history.ds[rows.back()] - history.ds[rows.front()];
  Micros min_dt = std::numeric_limits<Micros>::max();
  for (size_t i = 1; i < n; ++i)
    min_dt = std::min(min_dt, history.ds[rows[i]] - history.ds[rows[i - 1]]);
  auto builtin = [&](const char* name, std::optional<bool> arg, bool disable, int order,
                     double period) {
    auto it = std::find_if(seasons.begin(), seasons.end(),
                           [&](const Season& s) { return s.name == name; });
    int fourier_order = 0;
    if (!arg) {
      if (it == seasons.end() && !disable) fourier_order = order;
    } else if (*arg) {
      fourier_order = order;
    }
    if (fourier_order <= 0) return;
    Season s{name, period, fourier_order, options.seasonality_prior_scale, options.seasonality_mode,
             ""};
    if (it != seasons.end()) {
      *it = s;
    } else {
      seasons.push_back(s);
    }
  };
  builtin("yearly", options.yearly_seasonality, span < 730 * kMicrosPerDay, options.yearly_order,
          365.25);
  builtin("weekly", options.weekly_seasonality,
          span < 14 * kMicrosPerDay || min_dt >= 7 * kMicrosPerDay, options.weekly_order, 7);
  builtin("daily", options.daily_seasonality, span < 2 * kMicrosPerDay || min_dt >= kMicrosPerDay,
          options.daily_order, 1);

  for (const Season& s : seasons) {
    for (int h = 1; h <= s.order; ++h) {
      for (Column::Kind kind : {Column::Kind::kSin, Column::Kind::kCos}) {
        Column c;
        c.kind = kind;
        c.period = s.period;
        c.harmonic = h;
        c.prior_scale = s.prior_scale;
        c.multiplicative = s.mode == "multiplicative";
        c.condition = s.condition;
        model.columns_.push_back(std::move(c));
        p.columns.push_back(
            fmt::format("{}_{}{}", s.name, kind == Column::Kind::kSin ? "sin" : "cos", h));
      }
    }
  }
  // Holidays: one column per name and offset, ordered as Prophet's sorted "<name>_delim_<+-k>".
  {
    struct HolidayColumn {
      std::string name;
      std::set<Micros> days;
      double prior_scale;
    };
    std::map<std::string, HolidayColumn> by_key;
    for (const Holiday& h : options.holidays) {
      for (int off = h.lower_window; off <= h.upper_window; ++off) {
        std::string sign = off >= 0 ? "+" : "-";
        std::string key = fmt::format("{}_delim_{}{}", h.name, sign, std::abs(off));
        auto [it, fresh] = by_key.try_emplace(key);
        HolidayColumn& hc = it->second;
        if (fresh) {
          hc.name = fmt::format("{}{}{}", h.name, sign, std::abs(off));
          hc.prior_scale = h.prior_scale.value_or(options.holidays_prior_scale);
        }
        for (Micros d : h.days) hc.days.insert(DayFloor(d) + off * kMicrosPerDay);
      }
    }
    for (auto& [key, hc] : by_key) {
      Column c;
      c.kind = Column::Kind::kHoliday;
      c.days.assign(hc.days.begin(), hc.days.end());
      c.prior_scale = hc.prior_scale;
      c.multiplicative = options.seasonality_mode == "multiplicative";
      model.columns_.push_back(std::move(c));
      p.columns.push_back(hc.name);
    }
  }
  // Extra regressors, standardized as Prophet's standardize="auto" (not binary 0/1 columns, not
  // constant ones), with the sample standard deviation.
  for (size_t r = 0; r < options.regressors.size(); ++r) {
    const RegressorSpec& spec = options.regressors[r];
    const std::vector<double>& v = *regressor_values[r];
    Column c;
    c.kind = Column::Kind::kRegressor;
    c.regressor = spec.name;
    c.prior_scale = spec.prior_scale.value_or(options.holidays_prior_scale);
    c.multiplicative = spec.mode.value_or(options.seasonality_mode) == "multiplicative";
    std::set<double> unique;
    for (size_t i : rows) unique.insert(v[i]);
    bool standardize = spec.standardize && unique.size() >= 2 &&
                       !(unique.size() == 2 && *unique.begin() == 0 && *unique.rbegin() == 1);
    if (standardize) {
      double mu = 0;
      for (size_t i : rows) mu += v[i];
      mu /= static_cast<double>(n);
      double ss = 0;
      for (size_t i : rows) ss += (v[i] - mu) * (v[i] - mu);
      c.mu = mu;
      c.sd = std::sqrt(ss / static_cast<double>(n - 1));
    }
    model.columns_.push_back(std::move(c));
    p.columns.push_back(spec.name);
  }

  // Changepoints as Prophet's set_changepoints: the explicit ones, or round(linspace(0,
  // hist_size - 1, S + 1))[1:], numpy's round (half to even); a dummy changepoint at t = 0 if
  // there are none.
  const int hist_size =
      static_cast<int>(std::floor(static_cast<double>(n) * options.changepoint_range));
  int n_cp = options.n_changepoints;
  if (options.changepoints) {
    n_cp = static_cast<int>(options.changepoints->size());
  } else if (n_cp + 1 > hist_size) {
    n_cp = hist_size - 1;
  }
  const bool dummy_changepoint = n_cp <= 0;
  if (dummy_changepoint) {
    p.changepoints_t = {0.0};
  } else if (options.changepoints) {
    const Micros first = history.ds[rows.front()], last = history.ds[rows.back()];
    for (Micros c : *options.changepoints) {
      if (c < first || c > last) {
        return InvalidArgument("changepoint {} is outside the history {}..{}", FormatIso(c),
                               FormatIso(first), FormatIso(last));
      }
      p.changepoints_t.push_back(static_cast<double>(c - p.start) / static_cast<double>(p.t_scale));
    }
    std::sort(p.changepoints_t.begin(), p.changepoints_t.end());
  } else {
    const double step = static_cast<double>(hist_size - 1) / n_cp;
    for (int i = 1; i <= n_cp; ++i) {
      const double pos = i == n_cp ? hist_size - 1 : i * step;
      p.changepoints_t.push_back(t[static_cast<Eigen::Index>(std::nearbyint(pos))]);
    }
    std::sort(p.changepoints_t.begin(), p.changepoints_t.end());
  }
  const auto s = static_cast<Eigen::Index>(p.changepoints_t.size());

  // Design matrices, built once.
  MatrixXd x = BuildFeatures(model.columns_, history, rows);
  std::vector<Eigen::Index> add_cols, mul_cols;
  for (size_t c = 0; c < model.columns_.size(); ++c) {
    (model.columns_[c].multiplicative ? mul_cols : add_cols)
        .push_back(static_cast<Eigen::Index>(c));
  }
  auto pick = [&](const std::vector<Eigen::Index>& cols, MatrixXd* xs, VectorXd* inv_var) {
    xs->resize(rows_e, static_cast<Eigen::Index>(cols.size()));
    inv_var->resize(static_cast<Eigen::Index>(cols.size()));
    for (size_t j = 0; j < cols.size(); ++j) {
      const auto je = static_cast<Eigen::Index>(j);
      xs->col(je) = x.col(cols[j]);
      const double ps = model.columns_[static_cast<size_t>(cols[j])].prior_scale;
      (*inv_var)[je] = 1 / (ps * ps);
    }
  };
  MatrixXd xa, xm;
  VectorXd inv_var_a, inv_var_m;
  pick(add_cols, &xa, &inv_var_a);
  pick(mul_cols, &xm, &inv_var_m);
  MatrixXd b(rows_e, s);
  for (Eigen::Index j = 0; j < s; ++j) {
    b.col(j) = (t.array() - p.changepoints_t[static_cast<size_t>(j)]).max(0.0);
  }
  // Flat growth: trend = m. With t = 0 and no ramps the objective's trend is m, and k and delta
  // are left to their priors (they fit to 0, as Stan's k and delta that the flat trend ignores).
  if (flat) b.setZero();

  // Initialization as Prophet: linear_growth_init (the line through the first and last points),
  // logistic_growth_init or flat_growth_init; sigma_obs = 1.
  double k0 = 0, m0 = 0;
  if (logistic) {
    const double span_t = t[rows_e - 1] - t[0];
    const double c0 = cap_scaled[0], c1 = cap_scaled[rows_e - 1];
    const double y0 = std::max(0.01 * c0, std::min(0.99 * c0, y[0]));
    const double y1 = std::max(0.01 * c1, std::min(0.99 * c1, y[rows_e - 1]));
    double r0 = c0 / y0;
    const double r1 = c1 / y1;
    if (std::abs(r0 - r1) <= 0.01) r0 = 1.05 * r0;
    const double l0 = std::log(r0 - 1), l1 = std::log(r1 - 1);
    m0 = l0 * span_t / (l0 - l1);
    k0 = (l0 - l1) / span_t;
  } else if (flat) {
    m0 = y.mean();
  } else {
    k0 = (y[rows_e - 1] - y[0]) / (t[rows_e - 1] - t[0]);
    m0 = y[0] - k0 * t[0];
  }
  // As Prophet: no optimization for a constant y with linear or flat growth.
  const bool constant_y = !logistic && y.maxCoeff() == y.minCoeff();

  Objective objective(flat ? VectorXd(VectorXd::Zero(rows_e)) : t, y, p.changepoints_t,
                      std::move(b), std::move(xa), std::move(xm), std::move(inv_var_a),
                      std::move(inv_var_m), std::move(cap_scaled));
  const int nvar = objective.size();
  std::unique_ptr<lbfgsfloatval_t, LbfgsFree> xv(lbfgs_malloc(nvar));
  if (!xv) return Internal("lbfgs_malloc({}) failed", nvar);
  std::fill(xv.get(), xv.get() + nvar, 0.0);
  xv.get()[0] = k0;
  xv.get()[1] = m0;
  xv.get()[2 + s] = constant_y ? std::log(1e-9) : 0.0;  // log sigma_obs

  std::vector<double> x0(xv.get(), xv.get() + nvar), g(static_cast<size_t>(nvar));
  if (!constant_y) {  // Prophet skips the optimization for a constant y
    objective.Precondition(k0, m0);
    objective.ToZ(x0.data(), xv.get());
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    param.epsilon = 0;  // stop on the relative decrease (ProgressCallback) or max_iterations
    param.past = 0;
    param.linesearch = LBFGS_LINESEARCH_BACKTRACKING;
    param.max_linesearch = 60;
    param.orthantwise_c = objective.delta_scale() / options.changepoint_prior_scale;
    param.orthantwise_start = objective.delta_begin();
    param.orthantwise_end = objective.delta_end();
    Optimization opt{&objective, options.tolerance};
    opt.past[0] = objective.Evaluate(x0.data(), g.data());  // + 0: delta starts at 0
    // The objective with its L1 term at z = xv.
    auto total = [&] {
      double f = objective.EvaluateZ(xv.get(), g.data());
      for (Eigen::Index j = 0; j < s; ++j) f += param.orthantwise_c * std::abs(xv.get()[2 + j]);
      return f;
    };
    double f_run = opt.past[0];
    for (int restarts = 0;; ++restarts) {
      param.max_iterations = options.max_iterations - opt.done;
      lbfgsfloatval_t fx = 0;
      const int ret = lbfgs(nvar, xv.get(), &fx, EvaluateCallback, ProgressCallback, &opt, &param);
      bool line_search_failed = false;
      switch (ret) {
        case LBFGS_SUCCESS:
        case LBFGS_STOP:
        case LBFGS_ALREADY_MINIMIZED:
        case LBFGSERR_MAXIMUMITERATION:
          break;
        // No decrease along the direction: xv is the last accepted point. Either converged to
        // rounding, or the quasi-Newton memory went stale (OWL-QN keeps pairs with y's <= 0):
        // restart from xv with an empty memory while that still makes progress.
        case LBFGSERR_ROUNDING_ERROR:
        case LBFGSERR_MINIMUMSTEP:
        case LBFGSERR_MAXIMUMSTEP:
        case LBFGSERR_MAXIMUMLINESEARCH:
        case LBFGSERR_INCREASEGRADIENT:
          line_search_failed = true;
          break;
        default:
          return Internal("L-BFGS failed with code {}", ret);
      }
      opt.done = opt.iterations;
      if (!line_search_failed || opt.done >= options.max_iterations || restarts == 20) break;
      const double f = total();
      if (!(f_run - f > options.tolerance * std::abs(f))) break;
      f_run = f;
    }
    p.iterations = opt.iterations;
    objective.ToX(xv.get(), x0.data());
    // Exact zeros in z are exact zeros in x; keep them exact through rounding in ToX.
    for (Eigen::Index j = 0; j < s; ++j) {
      if (xv.get()[2 + j] == 0) x0[static_cast<size_t>(2 + j)] = 0;
    }
  }
  const double* xs = x0.data();
  p.objective = objective.Evaluate(xs, g.data());
  for (Eigen::Index j = 0; j < s; ++j) {
    p.objective += std::abs(xs[2 + j]) / options.changepoint_prior_scale;
  }
  if (!std::isfinite(p.objective)) return Internal("the fit diverged (objective {})", p.objective);

  p.k = xs[0];
  p.m = xs[1];
  p.delta.assign(xs + 2, xs + 2 + s);
  p.sigma_obs = std::exp(xs[2 + s]);
  p.beta.assign(model.columns_.size(), 0.0);
  size_t next = static_cast<size_t>(3 + s);
  for (Eigen::Index c : add_cols) p.beta[static_cast<size_t>(c)] = xs[next++];
  for (Eigen::Index c : mul_cols) p.beta[static_cast<size_t>(c)] = xs[next++];
  if (dummy_changepoint) {  // as Prophet: fold the dummy's rate into k
    p.k += p.delta[0];
    p.delta[0] = 0;
  }
  return model;
}

StatusOr<Prediction> ProphetModel::Predict(const Frame& future) const {
  if (params_.t_scale <= 0) return FailedPrecondition("the model is not fitted");
  RETURN_IF_ERROR(CheckIncreasing(future.ds));
  const size_t n = future.ds.size();
  std::vector<size_t> rows(n);
  for (size_t i = 0; i < n; ++i) rows[i] = i;
  for (const RegressorSpec& r : options_.regressors) {
    RETURN_IF_ERROR(RegressorValues(future, r.name, "future", rows).status());
  }
  const bool logistic = options_.growth == "logistic", flat = options_.growth == "flat";
  const std::vector<double>*cap = nullptr, *floor = nullptr;
  std::array<std::vector<double>, 2> constants;
  if (logistic) {
    RETURN_IF_ERROR(CapAndFloor(future, "future", rows, options_, params_.logistic_floor, &cap,
                                &floor, &constants));
  }
  RETURN_IF_ERROR(CheckConditions(options_.extra_seasonalities, future, "future", rows));
  const Params& p = params_;
  Prediction out;
  out.ds = future.ds;
  if (n == 0) return out;

  MatrixXd x = BuildFeatures(columns_, future, rows);
  VectorXd beta_a(static_cast<Eigen::Index>(columns_.size())), beta_m(beta_a.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    const auto ce = static_cast<Eigen::Index>(c);
    beta_a[ce] = columns_[c].multiplicative ? 0.0 : p.beta[c];
    beta_m[ce] = columns_[c].multiplicative ? p.beta[c] : 0.0;
  }
  const VectorXd xa = x * beta_a, xm = x * beta_m;
  std::vector<double> t(n), trend(n), cap_scaled;
  std::vector<double> ks, ms;  // logistic: the segments' rates and offsets
  if (logistic) {
    LogisticSegments(p.k, p.m, p.delta, p.changepoints_t, &ks, &ms);
    cap_scaled.resize(n);
    for (size_t i = 0; i < n; ++i) {
      cap_scaled[i] = ((*cap)[i] - (floor ? (*floor)[i] : 0.0)) / p.y_scale;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    t[i] = static_cast<double>(future.ds[i] - p.start) / static_cast<double>(p.t_scale);
    if (logistic) {
      trend[i] = PiecewiseLogistic(t[i], cap_scaled[i], ks, ms, p.changepoints_t);
    } else if (flat) {
      trend[i] = p.m;
    } else {
      trend[i] = PiecewiseLinear(t[i], p.k, p.m, p.delta, p.changepoints_t);
    }
  }
  // On y's scale, as Prophet: (trend * y_scale + floor) * (1 + X_m beta) + X_a beta * y_scale.
  // (With noise e, in scaled units, added before the scale as the linear model always did.)
  auto combine = [&](size_t i, double tr, double xm_i, double xa_i, double e) {
    if (floor == nullptr) return (tr * (1 + xm_i) + xa_i + e) * p.y_scale;
    return (tr * p.y_scale + (*floor)[i]) * (1 + xm_i) + (xa_i + e) * p.y_scale;
  };
  auto out_scale = [&](double v) { return options_.log_transform ? std::exp(v) : v; };
  out.yhat.resize(n);
  out.trend.resize(n);
  out.additive.resize(n);
  out.multiplicative.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto ie = static_cast<Eigen::Index>(i);
    out.trend[i] = trend[i] * p.y_scale + (floor ? (*floor)[i] : 0.0);
    out.additive[i] = xa[ie] * p.y_scale;
    out.multiplicative[i] = xm[ie];
    out.yhat[i] = out_scale(combine(i, trend[i], xm[ie], xa[ie], 0.0));
  }

  const int n_samples = options_.uncertainty_samples;
  if (n_samples == 0) {
    out.yhat_lower.assign(n, kNaN);
    out.yhat_upper.assign(n, kNaN);
    return out;
  }
  // Prophet's sample_predictive_trend: per sample, Poisson(S (T - 1)) new changepoints placed
  // uniformly on [1, T] (T the frame's last t) with Laplace(0, mean |delta| + 1e-8) rate changes.
  std::mt19937_64 rng(options_.seed);
  const double t_max = t.back();
  double lambda = 0;
  for (double d : p.delta) lambda += std::abs(d);
  lambda = lambda / static_cast<double>(p.delta.size()) + 1e-8;
  const auto ns = static_cast<size_t>(n_samples);
  std::vector<size_t> offsets(ns + 1, 0);
  std::vector<double> cp_t, cp_d;
  if (t_max > 1 && !flat) {  // flat: no trend uncertainty, as Prophet
    std::poisson_distribution<int> poisson(static_cast<double>(p.changepoints_t.size()) *
                                           (t_max - 1));
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    std::exponential_distribution<double> expo(1 / lambda);
    for (size_t smp = 0; smp < ns; ++smp) {
      const int changes = poisson(rng);
      const size_t begin = cp_t.size();
      for (int c = 0; c < changes; ++c) cp_t.push_back(1 + unif(rng) * (t_max - 1));
      std::sort(cp_t.begin() + static_cast<ptrdiff_t>(begin), cp_t.end());
      for (int c = 0; c < changes; ++c) {
        const double mag = expo(rng);
        cp_d.push_back(unif(rng) < 0.5 ? -mag : mag);
      }
      offsets[smp + 1] = cp_t.size();
    }
  }
  // Sweep the rows in time order, carrying each sample's extra slope and offset.
  std::vector<double> slope(ns, 0.0), offset(ns, 0.0), values(ns);
  // Logistic: each sample's rate and offset once past a sampled changepoint (crossed), from the
  // fitted last segment on, with the continuity offsets.
  std::vector<double> rate(ns, logistic ? ks.back() : 0.0), base(ns, logistic ? ms.back() : 0.0);
  std::vector<char> crossed(ns, 0);
  std::vector<size_t> next(offsets.begin(), offsets.end() - 1);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double lower_q = (1 - options_.interval_width) / 2;
  const double upper_q = (1 + options_.interval_width) / 2;
  out.yhat_lower.resize(n);
  out.yhat_upper.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto ie = static_cast<Eigen::Index>(i);
    const double ti = t[i];
    for (size_t smp = 0; smp < ns; ++smp) {
      size_t& j = next[smp];
      while (j < offsets[smp + 1] && cp_t[j] <= ti) {
        if (logistic) {
          const double k_next = rate[smp] + cp_d[j];
          base[smp] += (cp_t[j] - base[smp]) * (1 - rate[smp] / k_next);
          rate[smp] = k_next;
          crossed[smp] = 1;
        } else {
          slope[smp] += cp_d[j];
          offset[smp] -= cp_d[j] * cp_t[j];
        }
        ++j;
      }
      double tr = trend[i] + slope[smp] * ti + offset[smp];
      if (crossed[smp]) tr = cap_scaled[i] / (1 + std::exp(-rate[smp] * (ti - base[smp])));
      values[smp] = combine(i, tr, xm[ie], xa[ie], p.sigma_obs * normal(rng));
    }
    out.yhat_lower[i] = out_scale(Quantile(values, lower_q));
    out.yhat_upper[i] = out_scale(Quantile(values, upper_q));
  }
  return out;
}

}  // namespace cryptolake::forecast
