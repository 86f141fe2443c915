// The checks of Prophet's options and frames (forecast/prophet_internal.h).
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>
#include <string_view>

#include "forecast/prophet_internal.h"

namespace cryptolake::forecast::prophet_internal {

namespace {

bool ValidMode(const std::string& m) { return m == "additive" || m == "multiplicative"; }

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

}  // namespace

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

}  // namespace cryptolake::forecast::prophet_internal
