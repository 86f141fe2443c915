// ProphetModel::Fit (forecast/prophet.h): the MAP fit by OWL-QN, in steps.
#include <fmt/format.h>
#include <lbfgs.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "forecast/objective.h"
#include "forecast/prophet.h"
#include "forecast/prophet_internal.h"

namespace cryptolake::forecast {

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace prophet_internal;

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

// The fit's state, filled step by step (the names are those of prophet.h's description).
struct ProphetModel::Fitter {
  Fitter(const Frame& h, const ProphetOptions& o) : history(h), options(o) {}

  const Frame& history;
  const ProphetOptions& options;
  ProphetModel model;
  Params& p = model.params_;
  std::vector<size_t> rows;  // the non-NaN y
  std::vector<const std::vector<double>*> regressor_values;
  bool logistic = false, flat = false;
  const std::vector<double>*cap = nullptr, *floor = nullptr;
  std::array<std::vector<double>, 2> constants;
  size_t n = 0;
  Eigen::Index rows_e = 0;
  VectorXd y, t, cap_scaled;  // scaled
  bool dummy_changepoint = false;
  Eigen::Index s = 0;  // changepoints
  std::vector<Eigen::Index> add_cols, mul_cols;

  StatusOr<ProphetModel> Run() {
    RETURN_IF_ERROR(Check());
    Scale();
    AddSeasonalities();
    AddHolidays();
    AddRegressors();
    RETURN_IF_ERROR(SetChangepoints());
    double k0 = 0, m0 = 0;
    InitialValues(k0, m0);
    // As Prophet: no optimization for a constant y with linear or flat growth.
    const bool constant_y = !logistic && y.maxCoeff() == y.minCoeff();
    Objective objective = MakeObjective();
    const int nvar = objective.size();
    std::vector<double> x0, g(static_cast<size_t>(nvar));
    RETURN_IF_ERROR(Optimize(objective, k0, m0, constant_y, x0, g));
    RETURN_IF_ERROR(Finish(objective, x0, g));
    return std::move(model);
  }

  // The options and the history's rows (y finite, > 0 for the log; regressors; cap and floor).
  Status Check() {
    RETURN_IF_ERROR(ValidateOptions(options));
    if (history.y.size() != history.ds.size()) {
      return InvalidArgument("history has {} ds but {} y", history.ds.size(), history.y.size());
    }
    RETURN_IF_ERROR(CheckIncreasing(history.ds));
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
    for (const RegressorSpec& r : options.regressors) {
      ASSIGN_OR_RETURN(const std::vector<double>* v,
                       RegressorValues(history, r.name, "history", rows));
      regressor_values.push_back(v);
    }
    logistic = options.growth == "logistic";
    flat = options.growth == "flat";
    if (logistic) {
      RETURN_IF_ERROR(
          CapAndFloor(history, "history", rows, options, std::nullopt, &cap, &floor, &constants));
    }
    RETURN_IF_ERROR(CheckConditions(options.extra_seasonalities, history, "history", rows));
    return Status::Ok();
  }

  // Scales: y - floor by its max |.| (absmax; floor 0 unless logistic with a floor), t over the
  // history.
  void Scale() {
    model.options_ = options;
    n = rows.size();
    rows_e = static_cast<Eigen::Index>(n);

    p.logistic_floor = floor != nullptr;
    y.resize(rows_e);
    for (size_t i = 0; i < n; ++i) {
      const double v = history.y[rows[i]];
      y[static_cast<Eigen::Index>(i)] =
          (options.log_transform ? std::log(v) : v) - (floor ? (*floor)[rows[i]] : 0.0);
    }
    p.y_scale = y.cwiseAbs().maxCoeff();
    if (p.y_scale == 0) p.y_scale = 1;
    y /= p.y_scale;
    if (logistic) {
      cap_scaled.resize(rows_e);
      for (size_t i = 0; i < n; ++i) {
        cap_scaled[static_cast<Eigen::Index>(i)] =
            ((*cap)[rows[i]] - (floor ? (*floor)[rows[i]] : 0.0)) / p.y_scale;
      }
    }
    p.start = history.ds[rows.front()];
    p.t_scale = history.ds[rows.back()] - p.start;
    t.resize(rows_e);
    for (size_t i = 0; i < n; ++i) {
      t[static_cast<Eigen::Index>(i)] =
          static_cast<double>(history.ds[rows[i]] - p.start) / static_cast<double>(p.t_scale);
    }
  }

  void AddSeasonalities() {
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
      Season s{
          name, period, fourier_order, options.seasonality_prior_scale, options.seasonality_mode,
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
  }

  // Holidays: one column per name and offset, ordered as Prophet's sorted "<name>_delim_<+-k>".
  void AddHolidays() {
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
  void AddRegressors() {
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
  }

  // Changepoints as Prophet's set_changepoints: the explicit ones, or round(linspace(0,
  // hist_size - 1, S + 1))[1:], numpy's round (half to even); a dummy changepoint at t = 0 if
  // there are none.
  Status SetChangepoints() {
    const int hist_size =
        static_cast<int>(std::floor(static_cast<double>(n) * options.changepoint_range));
    int n_cp = options.n_changepoints;
    if (options.changepoints) {
      n_cp = static_cast<int>(options.changepoints->size());
    } else if (n_cp + 1 > hist_size) {
      n_cp = hist_size - 1;
    }
    dummy_changepoint = n_cp <= 0;
    if (dummy_changepoint) {
      p.changepoints_t = {0.0};
    } else if (options.changepoints) {
      const Micros first = history.ds[rows.front()], last = history.ds[rows.back()];
      for (Micros c : *options.changepoints) {
        if (c < first || c > last) {
          return InvalidArgument("changepoint {} is outside the history {}..{}", FormatIso(c),
                                 FormatIso(first), FormatIso(last));
        }
        p.changepoints_t.push_back(static_cast<double>(c - p.start) /
                                   static_cast<double>(p.t_scale));
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
    s = static_cast<Eigen::Index>(p.changepoints_t.size());
    return Status::Ok();
  }

  // Initialization as Prophet: linear_growth_init (the line through the first and last points),
  // logistic_growth_init or flat_growth_init; sigma_obs = 1.
  void InitialValues(double& k0, double& m0) const {
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
  }

  // The objective on the design matrices (built once); takes cap_scaled.
  Objective MakeObjective() {
    // Design matrices, built once.
    MatrixXd x = BuildFeatures(model.columns_, history, rows);
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
    return Objective(flat ? VectorXd(VectorXd::Zero(rows_e)) : t, y, p.changepoints_t, std::move(b),
                     std::move(xa), std::move(xm), std::move(inv_var_a), std::move(inv_var_m),
                     std::move(cap_scaled));
  }

  // OWL-QN from the initial values (none for a constant y): x0 the optimum, g a buffer.
  Status Optimize(Objective& objective, double k0, double m0, bool constant_y,
                  std::vector<double>& x0, std::vector<double>& g) {
    const int nvar = objective.size();
    std::unique_ptr<lbfgsfloatval_t, LbfgsFree> xv(lbfgs_malloc(nvar));
    if (!xv) return Internal("lbfgs_malloc({}) failed", nvar);
    std::fill(xv.get(), xv.get() + nvar, 0.0);
    xv.get()[0] = k0;
    xv.get()[1] = m0;
    xv.get()[2 + s] = constant_y ? std::log(1e-9) : 0.0;  // log sigma_obs

    x0.assign(xv.get(), xv.get() + nvar);
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
        const int ret =
            lbfgs(nvar, xv.get(), &fx, EvaluateCallback, ProgressCallback, &opt, &param);
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
    return Status::Ok();
  }

  // The parameters at x0: the objective there, k, m, delta, sigma_obs, beta.
  Status Finish(Objective& objective, const std::vector<double>& x0, std::vector<double>& g) {
    const double* xs = x0.data();
    p.objective = objective.Evaluate(xs, g.data());
    for (Eigen::Index j = 0; j < s; ++j) {
      p.objective += std::abs(xs[2 + j]) / options.changepoint_prior_scale;
    }
    if (!std::isfinite(p.objective))
      return Internal("the fit diverged (objective {})", p.objective);

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
    return Status::Ok();
  }
};

StatusOr<ProphetModel> ProphetModel::Fit(const Frame& history, const ProphetOptions& options) {
  return Fitter(history, options).Run();
}

}  // namespace cryptolake::forecast
