// `forecast fit|predict --model auto` (app/forecast_cmd.cc) without its I/O: from the suite's CV
// on the history (forecast/select.h), the forecast that report.h writes.
//
// Every suite model is fitted on the whole history (the ensemble as the median of its members'
// paths, as in the CV) and forecasts `periods` days. The rows ("selected", models[0]): per day
// the model selected at the last day for that horizon (SelectAt; days beyond the CV horizon use
// the last horizon's selection and calibration), its point and its conformal band yhat *
// exp(+-q v sqrt(h)) (ConformalQAt, v the EWMA volatility at the last day); if any day has no
// conformal quantile (too few CV points), every row takes the selected models' own bands and
// the selection's `interval` is "model". The selection also holds the rule, the choices at
// horizons 1, 7, 30 (those <= periods and the CV horizon; else a line for day 1 with "no inner-CV
// point yet"), a `why` line, and the leaderboard of the nested CV when the grid has outer
// cutoffs. Then every model's own forecast, and those of `also_fit` models not in the suite
// (fitted on the history only, described "... (not in the CV)").
// Errors: a model that cannot be made or fitted (its status; also_fit ones prefixed with the name).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "forecast/evaluate.h"
#include "forecast/report.h"
#include "forecast/select.h"

namespace cryptolake::forecast {

struct SuiteForecastOptions {
  int periods = 30;  // days ahead, >= 1
  double interval_width = 0.8;
  uint64_t seed = 0;
  std::vector<std::string> also_fit;
};

struct SuiteForecast {
  Forecast forecast;      // symbol, history, interval_width, models, selection (no notes)
  Evaluation evaluation;  // the nested CV's (no cutoffs if the grid has no outer cutoff)
};

// `future` holds the `periods` days after the history.
StatusOr<SuiteForecast> ForecastSuite(const SuiteCv& cv, const Frame& history,
                                      const std::vector<Micros>& future,
                                      const SuiteForecastOptions& options);

}  // namespace cryptolake::forecast
