#!/usr/bin/env python3
"""Reference check: cryptolake's native Prophet model against the real Prophet (PyPI), issue 6.

For each series (BTCUSDT and ETHUSDT 1d, BTC/USD daily back to 2011, all from ../shared/data) the
daily close is written once as a prophet_input CSV (ds,y) and that same file is fitted by
prophet.Prophet and by `cryptolake forecast predict --csv-in FILE --json-out OUT` with the same
settings (Prophet's defaults: linear growth, 25 changepoints in the first 80%, yearly and weekly
seasonality auto, additive, 80% interval from 1000 samples). Both predict the history + 30 days.
Reported: max and mean |yhat difference| / max|y| (the series' scale), the mean interval width of
each and their mean difference / scale, fit and predict times (median of 3) and the fit speed
ratio; then rolling-origin CV (prophet.diagnostics.cross_validation + performance_metrics with
rolling_window=0, against `cryptolake forecast cv --csv-in FILE --threads 1`): mape, rmse and
coverage at horizons 1, 7 and 30 days, with cryptolake's naive baseline beside them.

Python is only the reference: the product has no Python dependency. scripts/bench.sh prophet
creates .deps/prophet-venv with the pinned prophet (PIP_BENCH in scripts/deps.env) and runs this.

--features-fixture PATH fits Prophet's features beyond the defaults (issue 13) on Prophet's own
example series (tests/forecast/fixtures/example_*.csv, from facebook/prophet's examples/), as
Prophet's documentation uses them: logistic growth with a cap, and with a floor; flat growth; a
custom monthly seasonality; weekly seasonalities conditional on the NFL season; multiplicative
seasonality (air passengers); explicit changepoints; changepoint_range 0.9; and missing y (a
year of NaN). It writes Prophet's yhat at every 7th day of history + future into PATH (read by
tests/forecast/prophet_features_reference_test.cc, which fits the same cases natively) and
prints each case's Prophet fit time; the series part is then skipped.

Usage (from the repository root):
  scripts/bench.sh prophet [--series BTCUSDT,ETHUSDT,BTCUSD] [--no-cv] [--write-fixture PATH]
  scripts/bench.sh prophet --features-fixture tests/forecast/fixtures/prophet_features.json
  .deps/prophet-venv/bin/python bench/prophet_reference.py --cryptolake build/release/src/app/cryptolake
"""

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

logging.getLogger("prophet.plot").disabled = True  # "Importing plotly failed": not needed here

import prophet  # noqa: E402
from prophet import Prophet  # noqa: E402
from prophet.diagnostics import cross_validation, performance_metrics  # noqa: E402

logging.getLogger("cmdstanpy").disabled = True  # a line per Stan run
logging.getLogger("prophet").setLevel(logging.WARNING)

ROOT = Path(__file__).resolve().parent.parent
DATA = (ROOT / ".." / "shared" / "data").resolve()
PERIODS = 30
REPS = 3
GOAL_MEAN_DYHAT = 0.01  # mean |yhat diff| <= 1% of scale
GOAL_FIT_SPEEDUP = 20.0  # cryptolake's fit >= 20x faster
CV_INITIAL, CV_HORIZON = "730d", "30d"
HORIZONS = (1, 7, 30)
# The dates whose Prophet yhat goes into the fixture (tests/forecast/prophet_reference_test.cc):
# the first day, turning points, the last day, and 1, 7 and 30 days after it.
FIXTURE_DATES = ["2017-08-17", "2018-12-15", "2020-03-12", "2021-04-14", "2021-11-10",
                 "2022-11-09", "2024-03-14", "2025-10-06"]
FIXTURE_AHEAD = [0, 1, 7, 30]  # days after the last history day (0: the last day itself)


def binance_1d(symbol):
    path = DATA / "binance-spot/klines/1d" / f"{symbol}-1d-2017-08_2026-04.csv"
    k = pd.read_csv(path, header=None)
    return path, pd.DataFrame({"ds": pd.to_datetime(k[0], unit="ms"), "y": k[4].astype(float)})


def btcusd_daily():
    path = DATA / "btcusd-daily/BTCUSD_1d_candles_full.csv"
    d = pd.read_csv(path)
    df = pd.DataFrame({"ds": pd.to_datetime(d["timestamp"]), "y": d["close"].astype(float)})
    return path, df.iloc[:-1]  # the data README: the last row is a partial day


# name: loader, CV period (30d for all: BTC/USD's 14 years give 147 cutoffs, about 1.5 min of
# Prophet's cross_validation here, so no coarser period is needed)
SERIES = {
    "BTCUSDT": (lambda: binance_1d("BTCUSDT"), "30d"),
    "ETHUSDT": (lambda: binance_1d("ETHUSDT"), "30d"),
    "BTCUSD": (btcusd_daily, "30d"),
}


def prophet_model():
    # Prophet's defaults, spelled out: these are the settings cryptolake's defaults mirror.
    return Prophet(growth="linear", n_changepoints=25, changepoint_range=0.8,
                   changepoint_prior_scale=0.05, yearly_seasonality="auto",
                   weekly_seasonality="auto", daily_seasonality="auto",
                   seasonality_mode="additive", seasonality_prior_scale=10.0,
                   interval_width=0.8, uncertainty_samples=1000)


# Stan's L-BFGS stopping tests, tightened (defaults: tol_obj 1e-12, tol_rel_obj 1e4, tol_grad
# 1e-8, tol_rel_grad 1e7, tol_param 1e-8, iter 10000): Prophet fitted to its optimum, to tell how
# much of the difference is Prophet stopping early on the non-smooth Laplace prior.
STAN_TIGHT = dict(tol_obj=1e-14, tol_rel_obj=1, tol_grad=1e-12, tol_rel_grad=1, tol_param=1e-14,
                  iter=200000)


def neg_log_posterior(m):
    """prophet.stan's negative log posterior at m's MAP parameters, constants dropped (additive
    model), as cryptolake's Params::objective: T log s + rss / 2s^2 + 2 s^2 + (k^2 + m^2) / 50
    + sum beta_i^2 / 2 prior_i^2 + sum |delta_j| / changepoint_prior_scale."""
    x, prior_scales, _, _ = m.make_all_seasonality_features(m.history)
    y, t = m.history["y_scaled"].to_numpy(), m.history["t"].to_numpy()
    p = {k: np.asarray(v).ravel() for k, v in m.params.items()}
    trend = m.piecewise_linear(t, p["delta"], p["k"][0], p["m"][0], m.changepoints_t)
    r = y - trend - x.to_numpy() @ p["beta"]
    s = p["sigma_obs"][0]
    return float(len(y) * np.log(s) + r @ r / (2 * s * s) + 2 * s * s
                 + (p["k"][0] ** 2 + p["m"][0] ** 2) / 50
                 + 0.5 * np.sum(p["beta"] ** 2 / np.asarray(prior_scales) ** 2)
                 + np.sum(np.abs(p["delta"])) / m.changepoint_prior_scale)


def write_prophet_input(df, path):
    with open(path, "w") as f:
        f.write("ds,y\n")
        for ds, y in zip(df["ds"], df["y"]):
            f.write(f"{ds:%Y-%m-%d},{y!r}\n")


def run_prophet(csv):
    hist = pd.read_csv(csv, parse_dates=["ds"])
    fits, preds = [], []
    for _ in range(REPS):
        m = prophet_model()
        t0 = time.perf_counter()
        m.fit(hist)
        fits.append(time.perf_counter() - t0)
        future = m.make_future_dataframe(periods=PERIODS)
        np.random.seed(0)  # the interval's samples: reproducible fixture values
        t0 = time.perf_counter()
        fc = m.predict(future)
        preds.append(time.perf_counter() - t0)
    return m, {"fit": statistics.median(fits), "predict": statistics.median(preds),
               "objective": neg_log_posterior(m),
               "ds": fc["ds"].dt.strftime("%Y-%m-%d").tolist(),
               "yhat": fc["yhat"].to_numpy(), "lower": fc["yhat_lower"].to_numpy(),
               "upper": fc["yhat_upper"].to_numpy()}


def run_prophet_tight(csv):
    hist = pd.read_csv(csv, parse_dates=["ds"])
    m = prophet_model()
    m.uncertainty_samples = 0  # yhat only
    t0 = time.perf_counter()
    m.fit(hist, **STAN_TIGHT)
    fit = time.perf_counter() - t0
    fc = m.predict(m.make_future_dataframe(periods=PERIODS))
    return {"fit": fit, "objective": neg_log_posterior(m), "yhat": fc["yhat"].to_numpy()}


def run_cryptolake(binary, symbol, csv, work):
    fits, preds, out = [], [], work / f"{symbol}-fit.json"
    for _ in range(REPS):
        subprocess.run([str(binary), "--data", str(work / "lake"), "forecast", "predict",
                        "--symbol", symbol, "--csv-in", str(csv), "--json-out", str(out),
                        "--periods", str(PERIODS)], check=True, cwd=work, stdout=subprocess.DEVNULL)
        j = json.loads(out.read_text())
        fits.append(j["fit_seconds"])
        preds.append(j["predict_seconds"])
    return {"fit": statistics.median(fits), "predict": statistics.median(preds),
            "objective": j["objective"], "ds": j["ds"],
            "yhat": np.array(j["yhat"], dtype=float),
            "lower": np.array(j["yhat_lower"], dtype=float),
            "upper": np.array(j["yhat_upper"], dtype=float)}


def compare(symbol, df, p, c, pt):
    if p["ds"] != c["ds"]:
        sys.exit(f"{symbol}: Prophet and cryptolake predicted different days")
    scale = float(np.abs(df["y"]).max())
    d = np.abs(c["yhat"] - p["yhat"]) / scale
    dt = np.abs(c["yhat"] - pt["yhat"]) / scale
    n_hist = len(df)
    wp, wc = p["upper"] - p["lower"], c["upper"] - c["lower"]
    return {"symbol": symbol, "days": n_hist, "first": p["ds"][0], "last": p["ds"][n_hist - 1],
            "scale": scale, "max_d": float(d.max()), "mean_d": float(d.mean()),
            "max_d_at": p["ds"][int(d.argmax())], "max_d_future": float(d[n_hist:].max()),
            "width_p": float(wp.mean() / scale), "width_c": float(wc.mean() / scale),
            "width_d": float((wc - wp).mean() / scale),
            "obj_p": p["objective"], "obj_c": c["objective"], "obj_t": pt["objective"],
            "tight_mean_d": float(dt.mean()), "tight_max_d": float(dt.max()),
            "fit_t": pt["fit"],
            "fit_p": p["fit"], "fit_c": c["fit"], "pred_p": p["predict"], "pred_c": c["predict"]}


def cv_prophet(m, period):
    t0 = time.perf_counter()
    df_cv = cross_validation(m, initial=CV_INITIAL.replace("d", " days"),
                             period=period.replace("d", " days"),
                             horizon=CV_HORIZON.replace("d", " days"), disable_tqdm=True)
    secs = time.perf_counter() - t0
    pm = performance_metrics(df_cv, rolling_window=0)
    rows = {}
    for _, r in pm.iterrows():
        h = int(r["horizon"] / pd.Timedelta(days=1))
        if h in HORIZONS:
            rows[h] = {"mape": r["mape"], "rmse": r["rmse"], "coverage": r["coverage"]}
    return {"seconds": secs, "cutoffs": int(df_cv["cutoff"].nunique()), "rows": rows}


def cv_cryptolake(binary, symbol, csv, period, work):
    out = work / f"{symbol}-cv"
    t0 = time.perf_counter()
    subprocess.run([str(binary), "--data", str(work / "lake"), "forecast", "cv", "--symbol", symbol,
                    "--csv-in", str(csv), "--initial", CV_INITIAL, "--period", period, "--horizon",
                    CV_HORIZON, "--threads", "1", "--out", str(out)], check=True, cwd=work,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    j = json.loads((out / "metrics.json").read_text())
    rows, naive = {}, {}
    for model in j["models"]:
        for r in model["metrics"]:
            if r["horizon_days"] in HORIZONS:
                if model["name"] == "prophet":
                    rows[r["horizon_days"]] = r
                elif model["name"] == "naive":
                    naive[r["horizon_days"]] = r
    return {"seconds": secs, "cutoffs": len(j["cutoffs"]), "rows": rows, "naive": naive}


def pct(v, digits=2):
    return "-" if v is None or not np.isfinite(v) else f"{v * 100:.{digits}f}%"


def fit_table(results):
    lines = [
        "| series | days | mean \\|Δyhat\\| / scale (goal <= 1%) | max \\|Δyhat\\| / scale (day) "
        "| max over the 30 days ahead | interval width / scale: Prophet, cryptolake (mean Δ) "
        "| -log posterior: Prophet, cryptolake |",
        "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['symbol']} {r['first']}..{r['last']} | {r['days']} "
            f"| {pct(r['mean_d'], 3)} {'meets' if r['mean_d'] <= GOAL_MEAN_DYHAT else 'MISSES'} "
            f"| {pct(r['max_d'], 3)} ({r['max_d_at']}) | {pct(r['max_d_future'], 3)} "
            f"| {pct(r['width_p'])}, {pct(r['width_c'])} ({r['width_d'] * 100:+.3f}%) "
            f"| {r['obj_p']:.2f}, {r['obj_c']:.2f} |")
    return "\n".join(lines)


def time_table(results):
    lines = [
        "| series | fit: Prophet, cryptolake | fit speed-up (goal >= 20x) "
        "| predict (1000 samples): Prophet, cryptolake |",
        "|---|---|---|---|"]
    for r in results:
        speed = r["fit_p"] / r["fit_c"]
        lines.append(
            f"| {r['symbol']} | {r['fit_p']:.3f} s, {r['fit_c']:.4f} s "
            f"| {speed:.0f}x {'meets' if speed >= GOAL_FIT_SPEEDUP else 'MISSES'} "
            f"| {r['pred_p']:.3f} s, {r['pred_c']:.4f} s |")
    return "\n".join(lines)


def tight_table(results):
    lines = [
        "| series | mean \\|Δyhat\\| / scale | max \\|Δyhat\\| / scale "
        "| -log posterior: Prophet tight, cryptolake | Prophet tight fit |",
        "|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['symbol']} | {pct(r['tight_mean_d'], 3)} | {pct(r['tight_max_d'], 3)} "
            f"| {r['obj_t']:.2f}, {r['obj_c']:.2f} | {r['fit_t']:.3f} s |")
    return "\n".join(lines)


def cv_table(cvs):
    lines = [
        "| series (cutoffs every) | h | mape: Prophet, cryptolake | rmse: Prophet, cryptolake "
        "| coverage (80%): Prophet, cryptolake | naive mape | cutoffs | CV time: Prophet, "
        "cryptolake (1 thread) |",
        "|---|---|---|---|---|---|---|---|"]
    for symbol, period, p, c in cvs:
        for h in HORIZONS:
            pr, cr, nr = p["rows"].get(h, {}), c["rows"].get(h, {}), c["naive"].get(h, {})
            first = h == HORIZONS[0]
            label = f"{symbol} ({period})" if first else ""
            cutoffs = f"{p['cutoffs']}, {c['cutoffs']}" if first else ""
            times = f"{p['seconds']:.0f} s, {c['seconds']:.1f} s" if first else ""
            lines.append(
                f"| {label} | {h}d "
                f"| {pct(pr.get('mape'))}, {pct(cr.get('mape'))} "
                f"| {pr.get('rmse', float('nan')):.1f}, {cr.get('rmse', float('nan')):.1f} "
                f"| {pct(pr.get('coverage'), 1)}, {pct(cr.get('coverage'), 1)} "
                f"| {pct(nr.get('mape'))} "
                f"| {cutoffs} | {times} |")
    return "\n".join(lines)


def fixture_entry(symbol, df, p, c, pt, cmp):
    idx = {d: i for i, d in enumerate(p["ds"])}
    last = len(df) - 1
    dates = [d for d in FIXTURE_DATES if d in idx and idx[d] < last]
    dates += [p["ds"][last + a] for a in FIXTURE_AHEAD]
    width = (p["upper"] - p["lower"]).mean()
    return {
        "file": str(SERIES_FILES[symbol].relative_to(DATA)),
        "days": len(df), "first": p["ds"][0], "last": p["ds"][last], "periods": PERIODS,
        "scale": cmp["scale"],
        "prophet_yhat": {d: round(float(p["yhat"][idx[d]]), 6) for d in dates},
        "prophet_interval_width_mean": round(float(width), 6),
        "prophet_tight_yhat": {d: round(float(pt["yhat"][idx[d]]), 6) for d in dates},
        "measured_when_generated": {
            "cryptolake_yhat_diff_over_scale": {
                d: round(float(abs(c["yhat"][idx[d]] - p["yhat"][idx[d]]) / cmp["scale"]), 6)
                for d in dates},
            "cryptolake_yhat_diff_over_scale_vs_tight": {
                d: round(float(abs(c["yhat"][idx[d]] - pt["yhat"][idx[d]]) / cmp["scale"]), 6)
                for d in dates},
            "cryptolake_interval_width_mean": round(float((c["upper"] - c["lower"]).mean()), 6),
            "mean_abs_yhat_diff_over_scale_all_days": round(cmp["mean_d"], 6),
        },
    }


SERIES_FILES = {}

FIXTURES = ROOT / "tests" / "forecast" / "fixtures"
FEATURE_STRIDE = 7  # every 7th row of history + future goes into the features fixture


def is_nfl_season(ds):
    return ds.month > 8 or ds.month < 2


def feature_cases():
    """name -> (input CSV, a function preparing (history, future) and returning the Prophet to
    fit, future periods, future freq, what the case is). The C++ test builds the same cases."""
    def peyton():
        return pd.read_csv(FIXTURES / "example_wp_log_peyton_manning.csv", parse_dates=["ds"])

    def air():
        # The file has classic Mac line endings (CR); pandas reads them.
        return pd.read_csv(FIXTURES / "example_air_passengers.csv", parse_dates=["ds"])

    def logistic_cap(df):
        df["cap"] = 8.5
        return Prophet(growth="logistic"), {"cap": 8.5}

    def logistic_cap_floor(df):
        df["cap"] = 8.5
        df["floor"] = 1.5
        return Prophet(growth="logistic"), {"cap": 8.5, "floor": 1.5}

    def logistic_floor(df):
        df["y"] = 10 - df["y"]
        df["cap"] = 6
        df["floor"] = 1.5
        return Prophet(growth="logistic"), {"cap": 6, "floor": 1.5}

    def flat(df):
        return Prophet(growth="flat"), {}

    def monthly(df):
        m = Prophet(weekly_seasonality=False)
        m.add_seasonality(name="monthly", period=30.5, fourier_order=5)
        return m, {}

    def conditional_weekly(df):
        df["on_season"] = df["ds"].apply(is_nfl_season)
        df["off_season"] = ~df["ds"].apply(is_nfl_season)
        m = Prophet(weekly_seasonality=False)
        m.add_seasonality(name="weekly_on_season", period=7, fourier_order=3,
                          condition_name="on_season")
        m.add_seasonality(name="weekly_off_season", period=7, fourier_order=3,
                          condition_name="off_season")
        return m, {"conditions": True}

    def multiplicative(df):
        return Prophet(seasonality_mode="multiplicative"), {}

    def changepoints(df):
        return Prophet(changepoints=["2014-01-01"]), {}

    def changepoint_range(df):
        return Prophet(changepoint_range=0.9), {}

    def missing_y(df):
        df.loc[(df["ds"] > "2010-01-01") & (df["ds"] < "2011-01-01"), "y"] = None
        return Prophet(), {}

    return {
        "logistic_cap": (peyton, logistic_cap, 1826, "D",
                         "Prophet(growth='logistic'), cap 8.5 (docs: Forecasting Growth)"),
        "logistic_cap_floor": (peyton, logistic_cap_floor, 1826, "D",
                               "Prophet(growth='logistic'), cap 8.5, floor 1.5"),
        "logistic_floor": (peyton, logistic_floor, 1826, "D",
                           "y = 10 - y, Prophet(growth='logistic'), cap 6, floor 1.5 (docs: "
                           "Saturating Minimum)"),
        "flat": (peyton, flat, 365, "D", "Prophet(growth='flat')"),
        "monthly": (peyton, monthly, 365, "D",
                    "Prophet(weekly_seasonality=False), add_seasonality('monthly', period=30.5, "
                    "fourier_order=5) (docs: Specifying Custom Seasonalities)"),
        "conditional_weekly": (peyton, conditional_weekly, 365, "D",
                               "Prophet(weekly_seasonality=False), weekly_on_season and "
                               "weekly_off_season (period 7, order 3) conditional on the NFL "
                               "season, month > 8 or < 2 (docs: Seasonalities that depend on "
                               "other factors)"),
        "multiplicative": (air, multiplicative, 50, "MS",
                           "air passengers, Prophet(seasonality_mode='multiplicative') (docs: "
                           "Multiplicative Seasonality)"),
        "changepoints": (peyton, changepoints, 365, "D",
                         "Prophet(changepoints=['2014-01-01']) (docs: Specifying the locations "
                         "of the changepoints)"),
        "changepoint_range": (peyton, changepoint_range, 365, "D",
                              "Prophet(changepoint_range=0.9)"),
        "missing_y": (peyton, missing_y, 365, "D",
                      "y set to NaN for 2010-01-01 < ds < 2011-01-01 (docs: Outliers), "
                      "Prophet()"),
    }


def neg_log_posterior_any(m):
    """neg_log_posterior for any growth and seasonality mode: prophet.stan's negative log
    posterior at m's MAP parameters, constants dropped, as cryptolake's Params::objective."""
    x, prior_scales, _, _ = m.make_all_seasonality_features(m.history)
    s_a = m.train_component_cols["additive_terms"].to_numpy()
    s_m = m.train_component_cols["multiplicative_terms"].to_numpy()
    y, t = m.history["y_scaled"].to_numpy(), m.history["t"].to_numpy()
    p = {k: np.asarray(v).ravel() for k, v in m.params.items()}
    if m.growth == "logistic":
        trend = m.piecewise_logistic(t, m.history["cap_scaled"].to_numpy(), p["delta"], p["k"][0],
                                     p["m"][0], m.changepoints_t)
    elif m.growth == "flat":
        trend = m.flat_trend(t, p["m"][0])
    else:
        trend = m.piecewise_linear(t, p["delta"], p["k"][0], p["m"][0], m.changepoints_t)
    x = x.to_numpy()
    r = y - trend * (1 + x @ (p["beta"] * s_m)) - x @ (p["beta"] * s_a)
    s = p["sigma_obs"][0]
    return float(len(y) * np.log(s) + r @ r / (2 * s * s) + 2 * s * s
                 + (p["k"][0] ** 2 + p["m"][0] ** 2) / 50
                 + 0.5 * np.sum(p["beta"] ** 2 / np.asarray(prior_scales) ** 2)
                 + np.sum(np.abs(p["delta"])) / m.changepoint_prior_scale)


def write_features_fixture(path):
    cases, lines = {}, []
    for name, (load, prepare, periods, freq, what) in feature_cases().items():
        df = load()
        m, extra = prepare(df)
        t0 = time.perf_counter()
        m.fit(df.copy())
        fit = time.perf_counter() - t0
        future = m.make_future_dataframe(periods=periods, freq=freq)
        if "cap" in extra:
            future["cap"] = extra["cap"]
        if "floor" in extra:
            future["floor"] = extra["floor"]
        if extra.get("conditions"):
            future["on_season"] = future["ds"].apply(is_nfl_season)
            future["off_season"] = ~future["ds"].apply(is_nfl_season)
        np.random.seed(0)
        fc = m.predict(future)
        idx = list(range(0, len(fc), FEATURE_STRIDE))
        if idx[-1] != len(fc) - 1:
            idx.append(len(fc) - 1)
        y = df["y"].dropna()
        cases[name] = {
            "what": what,
            "history_rows": len(df), "non_nan_y": int(y.shape[0]),
            "periods": periods, "freq": freq,
            "scale": float(np.abs(y).max()),
            "ds": [fc["ds"][i].strftime("%Y-%m-%d") for i in idx],
            "yhat": [round(float(fc["yhat"][i]), 9) for i in idx],
            "prophet_objective": round(neg_log_posterior_any(m), 6),
            "prophet_fit_seconds": round(fit, 3),
            "prophet_interval_width_mean": round(float((fc["yhat_upper"] - fc["yhat_lower"]).mean()), 6),
        }
        lines.append(f"| {name} | {len(df)} + {periods} | {fit:.3f} s |")
        print(f"[prophet-ref] features: {name} fitted in {fit:.3f} s", file=sys.stderr, flush=True)
    doc = {
        "what": "Prophet's yhat for its features beyond the defaults, on Prophet's example series "
                "(fixtures/example_*.csv), at every 7th row of history + future and the last "
                "one; read by tests/forecast/prophet_features_reference_test.cc",
        "regenerate": "scripts/bench.sh prophet --features-fixture "
                      "tests/forecast/fixtures/prophet_features.json (from the repository root)",
        "prophet_version": prophet.__version__,
        "cases": cases,
    }
    text = json.dumps(doc, indent=1)
    # One line per list (not per number): the fixture stays readable in a diff.
    text = re.sub(r"\[\s+([^\[\]]*?)\s+\]",
                  lambda mt: "[" + re.sub(r",\s+", ", ", mt.group(1)) + "]", text)
    Path(path).write_text(text + "\n")
    print(f"prophet {prophet.__version__}: the features cases, Prophet's fit time")
    print()
    print("| case | rows (history + future) | Prophet fit |")
    print("|---|---|---|")
    print("\n".join(lines))
    print(f"\nwrote {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cryptolake", default=str(ROOT / "build/release/src/app/cryptolake"),
                    help="the cryptolake binary (a Release build)")
    ap.add_argument("--series", default=",".join(SERIES), help="comma-separated: " +
                    ", ".join(SERIES))
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    ap.add_argument("--write-fixture", metavar="PATH",
                    help="write Prophet's reference values for BTCUSDT/ETHUSDT (the test fixture)")
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    ap.add_argument("--features-fixture", metavar="PATH",
                    help="write Prophet's yhat for the features cases (the features test's "
                         "fixture) and stop")
    args = ap.parse_args()
    if args.features_fixture:
        write_features_fixture(args.features_fixture)
        return
    binary = Path(args.cryptolake).resolve()
    names = [s for s in args.series.split(",") if s]
    for s in names:
        if s not in SERIES:
            sys.exit(f"unknown series {s} (known: {', '.join(SERIES)})")

    results, cvs, fixture = [], [], {}
    with tempfile.TemporaryDirectory(prefix="cl-prophet-ref-") as tmp:
        work = Path(tmp)
        for symbol in names:
            load, period = SERIES[symbol]
            path, df = load()
            SERIES_FILES[symbol] = path
            csv = work / f"{symbol}.csv"
            write_prophet_input(df, csv)
            print(f"[prophet-ref] {symbol}: {len(df)} days, fitting Prophet x{REPS}",
                  file=sys.stderr, flush=True)
            m, p = run_prophet(csv)
            pt = run_prophet_tight(csv)
            print(f"[prophet-ref] {symbol}: fitting cryptolake x{REPS}", file=sys.stderr,
                  flush=True)
            c = run_cryptolake(binary, symbol, csv, work)
            cmp = compare(symbol, df, p, c, pt)
            results.append(cmp)
            if symbol in ("BTCUSDT", "ETHUSDT"):
                fixture[symbol] = fixture_entry(symbol, df, p, c, pt, cmp)
            if not args.no_cv:
                print(f"[prophet-ref] {symbol}: cross-validation, cutoffs every {period}",
                      file=sys.stderr, flush=True)
                cvs.append((symbol, period, cv_prophet(m, period),
                            cv_cryptolake(binary, symbol, csv, period, work)))

    print(f"prophet {prophet.__version__} (PyPI, cmdstan L-BFGS) vs cryptolake (native, OWL-QN), "
          f"same prophet_input, Prophet's defaults, history + {PERIODS} days; times median of "
          f"{REPS}, {os.cpu_count()} cores")
    print()
    print(fit_table(results))
    print()
    print(time_table(results))
    print()
    print("The same cryptolake fit against Prophet fitted with Stan's stopping tests tightened "
          "(" + ", ".join(f"{k}={v:g}" for k, v in STAN_TIGHT.items()) + "): what is left once "
          "Prophet reaches its optimum. A lower -log posterior is the better MAP fit.")
    print()
    print(tight_table(results))
    if cvs:
        print()
        print(f"Rolling-origin CV: initial {CV_INITIAL}, horizon {CV_HORIZON}, "
              f"period as given per series; Prophet's cross_validation (sequential) and "
              f"performance_metrics(rolling_window=0), cryptolake's forecast cv --threads 1.")
        print()
        print(cv_table(cvs))
    if args.write_fixture:
        doc = {
            "what": "Prophet's yhat on the daily close at chosen days (history and 1, 7, 30 days "
                    "ahead) and its mean interval width over history + 30 days, Prophet's "
                    "default settings (prophet_tight_yhat: the same fit with Stan's stopping "
                    "tests tightened, stan_tight); read by "
                    "tests/forecast/prophet_reference_test.cc",
            "regenerate": "scripts/bench.sh prophet --series BTCUSDT,ETHUSDT --no-cv "
                          "--write-fixture tests/forecast/fixtures/prophet_reference.json "
                          "(from the repository root)",
            "prophet_version": prophet.__version__,
            "interval_samples_seed": "numpy.random.seed(0) before predict",
            "stan_tight": STAN_TIGHT,
            "series": fixture,
        }
        Path(args.write_fixture).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {args.write_fixture}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"fit": results,
             "cv": [{"symbol": s, "period": per, "prophet": p, "cryptolake": c}
                    for s, per, p, c in cvs]}, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
