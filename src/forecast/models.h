// The model suite (issue 13): every forecasting model behind one interface, so that the same
// rolling-origin CV, the selection by honest (nested) CV and the conformal intervals treat them
// alike.
//
// A model fits on a daily history of closes (Frame: ds contiguous UTC days, y > 0 and finite; NaN
// y are refused here: the suite forecasts complete series) and predicts h = 1..H days after it:
// a point forecast per day and the model's own interval at the fit's interval_width (NaN bounds
// where the model has no error distribution). Points and bounds are on the scale of y (closes).
//
// Most models work on log(close) (`log_scale`): a forecast f of log y is reported as exp(f), and
// the model's interval as exp of its bounds. Conformal intervals (forecast/select.h) replace
// these intervals in what the product shows; the model's own are kept for comparison.
//
// The suite, simplest first (ties go to the simpler model, see complexity()):
//   naive     y(T+h) = y(T)                                      on log: the random walk
//   drift     log y(T+h) = log y(T) + h c, c the mean daily log return of the history
//   ets       AutoETS: ETS(A,N,N), (A,A,N), (A,Ad,N) on log y by maximum likelihood, least AICc
//   theta     AutoTheta: the Theta method family (STM, OTM, DSTM, DOTM), least in-sample MSE
//   arima     AutoARIMA: Hyndman-Khandakar stepwise order search on log y, least AICc
//   ensemble  the median of naive, drift, ets, theta and arima, day by day
//   prophet   the native Prophet model (forecast/prophet.h) with its defaults, on y itself
//
// Errors (InvalidArgument, exact messages, <model> the name):
//   "<model>: history has <n> days, at least <m> are needed"
//   "<model>: y is not a positive finite number at <date>: <y>"
//   "<model>: days not contiguous (<date> follows <date>)"
//   "unknown model '<name>': expected one of naive, drift, ets, theta, arima, ensemble, prophet"
// Thread-safety: a Model is immutable and Fit may run concurrently; a FittedModel is immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "forecast/prophet.h"

namespace cryptolake::forecast {

struct FitOptions {
  double interval_width = 0.8;  // the model's own interval
  uint64_t seed = 0;            // for models that sample (prophet)
};

// h days of forecasts after the history: point, lower and upper, on the scale of y.
struct PathForecast {
  std::vector<double> yhat, lower, upper;
};

class FittedModel {
 public:
  virtual ~FittedModel() = default;
  // Days 1..h after the history (h >= 1).
  virtual PathForecast Predict(int h) const = 0;
  // What was fitted, for reports: "ETS(A,Ad,N) alpha=0.9999 beta=0.0001 phi=0.98", "naive".
  virtual std::string Describe() const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  // 0 = simplest (naive). Selection keeps the simpler of two models unless the other wins.
  virtual int complexity() const = 0;
  // The fewest days of history the model fits on.
  virtual int min_history() const = 0;
  virtual StatusOr<std::unique_ptr<FittedModel>> Fit(const Frame& history,
                                                     const FitOptions& options = {}) const = 0;
};

// The suite's names, simplest first: naive, drift, ets, theta, arima, ensemble, prophet.
const std::vector<std::string>& ModelNames();
// The model named `name` (ModelNames), or InvalidArgument "unknown model ...".
StatusOr<std::unique_ptr<Model>> MakeModel(std::string_view name);

// Checks a history as every model needs it (contiguous days, y > 0 finite, at least
// `min_days`); the messages above, prefixed with `model`.
Status CheckHistory(const Frame& history, std::string_view model, int min_days);

// --- models on log y (ets, theta, arima) ---
// h days of forecasts of log y: the point and the interval's bounds.
struct LogPath {
  std::vector<double> mean, lower, upper;
};

// A model fitted on log y: Predict reports exp of PredictLog's path (point and bounds).
class LogScaleFitted : public FittedModel {
 public:
  PathForecast Predict(int h) const final;

 protected:
  virtual LogPath PredictLog(int h) const = 0;
};

// A model that fits on log y: Fit checks the history (CheckHistory with name() and
// min_history()), then FitLog fits on log(history.y).
class LogScaleModel : public Model {
 public:
  StatusOr<std::unique_ptr<FittedModel>> Fit(const Frame& history,
                                             const FitOptions& options) const final;

 protected:
  virtual StatusOr<std::unique_ptr<FittedModel>> FitLog(const std::vector<double>& logy,
                                                        const FitOptions& options) const = 0;
};

// The two simplest models, exposed for the others (ensemble, tests).
std::unique_ptr<Model> MakeNaiveModel();
std::unique_ptr<Model> MakeDriftModel();
std::unique_ptr<Model> MakeProphetSuiteModel();

// --- selection (forecast/select.h) ---
// The median ensemble of naive, drift, ets, theta and arima (those registered), day by day; its
// own interval is NaN (conformal intervals give it one). Defined in select.cc.
std::unique_ptr<Model> MakeEnsembleModel();

}  // namespace cryptolake::forecast
