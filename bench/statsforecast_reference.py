#!/usr/bin/env python3
"""Reference benchmark: the native model suite against statsforecast (PyPI), issue 13.

For each series (BTCUSDT and ETHUSDT 1d, BTC/USD daily back to 2011, all from ../shared/data;
BTC/USD without its last, partial row) the daily close is written once as a prophet_input CSV
(ds,y) and `bench/models_bench --csv FILE` runs the native rolling-origin CV on it (730 days
initial, a cutoff every 30 days, 30 days ahead: forecast::GenerateCutoffs). At the same cutoffs
(read from models_bench's output) statsforecast fits, on log(close) with the forecasts and the
80% interval exp()'d back, as the native models do:
  naive  Naive()                  drift  RandomWalkWithDrift()
  ets    AutoETS(season_length=1, model="AZN")   (additive errors, as the native AutoETS)
  theta  AutoTheta(season_length=1)              arima  AutoARIMA(season_length=1)
A statsforecast model runs only if its native counterpart is registered (models_bench ran it),
unless --models names it. Printed, per series and model: MAPE at 1, 7 and 30 days native vs
statsforecast and their relative difference (goal <= 2%), the coverage of each model's own 80%
interval at 1/7/30 days, the median CPU time of one fit each (the fitting thread's;
statsforecast: model.fit(y) on a numpy array; native: Model::Fit, log transform included) and
the speed ratio (goal >= 10x), on CPU time and on wall time (CPU time does not count the waits
of a machine shared with other work). Both run single-threaded, one after the other, in this run.

Python is only the reference; the product does not use it. Usage (from the repository root):
  scripts/bench.sh statsforecast [--series BTCUSDT,ETHUSDT,BTCUSD] [--models ets,theta]
  .deps/statsforecast-venv/bin/python bench/statsforecast_reference.py \
      --models-bench build/release/bench/models_bench [--json-out FILE]
"""

import argparse
import json
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import statsforecast  # noqa: E402
from statsforecast.models import (  # noqa: E402
    AutoARIMA,
    AutoETS,
    AutoTheta,
    Naive,
    RandomWalkWithDrift,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
HORIZONS = (1, 7, 30)
SF_MODELS = {
    "naive": ("Naive()", Naive),
    "drift": ("RandomWalkWithDrift()", RandomWalkWithDrift),
    "ets": ('AutoETS(season_length=1, model="AZN")',
            lambda: AutoETS(season_length=1, model="AZN")),
    "theta": ("AutoTheta(season_length=1)", lambda: AutoTheta(season_length=1)),
    "arima": ("AutoARIMA(season_length=1)", lambda: AutoARIMA(season_length=1)),
}


def binance_1d(symbol):
    path = DATA / "binance-spot/klines/1d" / f"{symbol}-1d-2017-08_2026-04.csv"
    k = pd.read_csv(path, header=None)
    return pd.DataFrame({"ds": pd.to_datetime(k[0], unit="ms"), "y": k[4].astype(float)})


def btcusd_daily():
    d = pd.read_csv(DATA / "btcusd-daily/BTCUSD_1d_candles_full.csv")
    df = pd.DataFrame({"ds": pd.to_datetime(d["timestamp"]), "y": d["close"].astype(float)})
    return df.iloc[:-1]  # the data README: the last row is a partial day


SERIES = {
    "BTCUSDT": lambda: binance_1d("BTCUSDT"),
    "ETHUSDT": lambda: binance_1d("ETHUSDT"),
    "BTCUSD": btcusd_daily,
}


def write_csv(df, path):
    with open(path, "w") as f:
        f.write("ds,y\n")
        for ds, y in zip(df["ds"], df["y"]):
            f.write(f"{ds:%Y-%m-%d},{y!r}\n")


def run_native(binary, symbol, csv, models):
    cmd = [binary, "--csv", str(csv), "--symbol", symbol]
    if models:
        cmd += ["--models", ",".join(models)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_statsforecast(name, df, cutoffs, horizon):
    make = SF_MODELS[name][1]
    ds = df["ds"].dt.strftime("%Y-%m-%d").tolist()
    index = {d: i for i, d in enumerate(ds)}
    logy = np.log(df["y"].to_numpy(dtype=np.float64))
    y = df["y"].to_numpy(dtype=np.float64)
    ape = {h: [] for h in HORIZONS}
    cov = {h: [] for h in HORIZONS}
    fit_s, fit_cpu_s = [], []
    for c in cutoffs:
        end = index[c] + 1
        model = make()
        c0, t0 = time.thread_time(), time.perf_counter()
        model.fit(logy[:end])
        fit_s.append(time.perf_counter() - t0)
        fit_cpu_s.append(time.thread_time() - c0)
        p = model.predict(h=horizon, level=[80])
        for h in HORIZONS:
            if h > horizon or end + h - 1 >= len(y):
                continue
            actual = y[end + h - 1]
            yhat = np.exp(p["mean"][h - 1])
            ape[h].append(abs(yhat - actual) / abs(actual))
            lo, hi = np.exp(p["lo-80"][h - 1]), np.exp(p["hi-80"][h - 1])
            cov[h].append(1.0 if lo <= actual <= hi else 0.0)
    return {
        "mape": {str(h): float(np.mean(ape[h])) for h in HORIZONS},
        "coverage80": {str(h): float(np.mean(cov[h])) for h in HORIZONS},
        "fits": len(fit_s),
        "fit_ms_median": 1000 * statistics.median(fit_s),
        "fit_cpu_ms_median": 1000 * statistics.median(fit_cpu_s),
    }


def pct(v, digits=2):
    return "n/a" if v is None or np.isnan(v) else f"{100 * v:.{digits}f}%"


def table(results):
    head = ("| series | model | MAPE 1d native / sf (diff) | MAPE 7d native / sf (diff) "
            "| MAPE 30d native / sf (diff) | 80% coverage 1/7/30d native | sf "
            "| fit CPU ms native | sf | speed (CPU) | speed (wall) |")
    lines = [head, "|" + "---|" * 11]
    worst_diff, worst_speed = 0.0, float("inf")
    for r in results:
        for name, pair in r["models"].items():
            n, s = pair["native"], pair["statsforecast"]
            cells = [r["symbol"], f"{name} vs {SF_MODELS[name][0]}"]
            for h in map(str, HORIZONS):
                d = n["mape"][h] / s["mape"][h] - 1
                worst_diff = max(worst_diff, abs(d))
                cells.append(f"{pct(n['mape'][h])} / {pct(s['mape'][h])} ({100 * d:+.2f}%)")
            cells.append("/".join(f"{100 * n['coverage80'][h]:.0f}" for h in map(str, HORIZONS)))
            cells.append("/".join(f"{100 * s['coverage80'][h]:.0f}" for h in map(str, HORIZONS)))
            speed = s["fit_cpu_ms_median"] / n["fit_cpu_ms_median"]
            wall = s["fit_ms_median"] / n["fit_ms_median"]
            if name in ("ets", "theta", "arima"):
                worst_speed = min(worst_speed, speed)
            cells += [f"{n['fit_cpu_ms_median']:.2f}", f"{s['fit_cpu_ms_median']:.1f}",
                      f"{speed:.0f}x", f"{wall:.0f}x"]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"largest |MAPE difference|: {100 * worst_diff:.2f}% (goal <= 2%); "
                 f"slowest ets/theta/arima speed ratio: {worst_speed:.0f}x (goal >= 10x)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-bench", default=str(ROOT / "build/release/bench/models_bench"))
    ap.add_argument("--series", default="BTCUSDT,ETHUSDT,BTCUSD")
    ap.add_argument("--models", default="", help="native names (default: every one models_bench "
                    "runs that statsforecast has)")
    ap.add_argument("--json-out", default="")
    args = ap.parse_args()
    wanted = [m for m in args.models.split(",") if m]
    for m in wanted:
        if m not in SF_MODELS:
            sys.exit(f"unknown model {m!r}: expected some of {', '.join(SF_MODELS)}")
    print(f"statsforecast {statsforecast.__version__}, numpy {np.__version__}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="cl-sf-") as work:
        for symbol in [s for s in args.series.split(",") if s]:
            df = SERIES[symbol]()
            csv = Path(work) / f"{symbol}.csv"
            write_csv(df, csv)
            native = run_native(args.models_bench, symbol, csv, wanted)
            cutoffs = native["cutoffs"]
            print(f"{symbol}: {len(df)} days {native['first']}..{native['last']}, "
                  f"{len(cutoffs)} cutoffs {cutoffs[0]}..{cutoffs[-1]}", file=sys.stderr)
            r = {"symbol": symbol, "days": len(df), "cutoffs": cutoffs, "models": {}}
            for name, n in native["models"].items():
                if name not in SF_MODELS:
                    continue
                t0 = time.perf_counter()
                s = run_statsforecast(name, df, cutoffs, native["horizon_days"])
                print(f"  {name}: statsforecast {time.perf_counter() - t0:.1f} s", file=sys.stderr)
                r["models"][name] = {"native": n, "statsforecast": s}
            results.append(r)
    print(table(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
