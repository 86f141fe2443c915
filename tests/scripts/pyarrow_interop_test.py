"""Interop: an independent Parquet reader (pyarrow, from PyPI) reads the lake cryptolake wrote.

It imports real sample data with the cryptolake binary, builds the batch views, then reads every
file the manifest names with pyarrow (Hive partitioning from the paths) and checks:
  * row counts per dataset and symbol equal `cryptolake stats`;
  * every value equals what `cryptolake cat` prints for klines_1d and daily_raw (full tables);
  * known prices from the sample data's README;
  * the schema: UTC microsecond timestamps, doubles, int64 trades.
Usage: pyarrow_interop_test.py CRYPTOLAKE_BINARY SHARED_DATA
"""
import csv
import io
import json
import math
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

BIN, SHARED = sys.argv[1], Path(sys.argv[2])
failures = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, file=sys.stderr)


def cl(root, *args):
    r = subprocess.run([BIN, "--data", str(root), *args], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"cryptolake {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def lake_table(root, dataset, symbol=None):
    man = json.loads((root / "_manifest.json").read_text())
    files = [str(root / f["path"]) for f in man["files"]
             if f["dataset"] == dataset and (symbol is None or f["symbol"] == symbol)]
    part = ds.partitioning(flavor="hive")
    return ds.dataset(files, format="parquet", partitioning=part,
                      partition_base_dir=str(root / (dataset if dataset.startswith("klines_") else f"views/{dataset}"))).to_table()


def ts_str(v):
    # cryptolake's CSV renders TIMESTAMPTZ as '2025-05-20 00:00:00+00'
    v = v.astimezone(timezone.utc)
    frac = f".{v.microsecond:06d}".rstrip("0") if v.microsecond else ""
    return v.strftime("%Y-%m-%d %H:%M:%S") + frac + "+00"


def same(a, b):
    if a in ("", None) and b in ("", None):
        return True
    try:
        fa, fb = float(a), float(b)
        return fa == fb or (math.isnan(fa) and math.isnan(fb))
    except (TypeError, ValueError):
        return str(a).lower() == str(b).lower()


with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp) / "lake"
    k = SHARED / "binance-spot" / "klines"
    cl(root, "import", str(k / "1d"), str(k / "1m" / "BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv"),
       str(k / "1m" / "ETHUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv"))
    cl(root, "batch")

    # 1. Row counts per dataset and symbol equal cryptolake's own.
    stats = [l.split() for l in cl(root, "stats").splitlines()[2:] if l.strip()]
    for dataset, symbol, _files, rows, stored, *_ in stats:
        t = lake_table(root, dataset, symbol)
        check(t.num_rows == int(stored), f"{dataset}/{symbol}: pyarrow reads {t.num_rows} rows, cryptolake stored {stored}")
        check(set(t.column("symbol").to_pylist()) == {symbol}, f"{dataset}/{symbol}: symbol partition column")
    check(any(s[0] == "klines_1m" and s[1] == "BTCUSDT" and s[4] == "130708" for s in stats),
          "klines_1m BTCUSDT holds the 130708 rows of the sample window")

    # 2. Schema: UTC microsecond timestamps, doubles, int64.
    t1d = lake_table(root, "klines_1d", "BTCUSDT")
    sch = t1d.schema
    check(sch.field("open_time").type == pa.timestamp("us", tz="UTC"), f"open_time type {sch.field('open_time').type}")
    check(sch.field("close").type == pa.float64(), f"close type {sch.field('close').type}")
    check(sch.field("trades").type == pa.int64(), f"trades type {sch.field('trades').type}")

    # 3. Known facts from ../shared/data/README.md, read through pyarrow.
    def day_row(table, day):
        for r in table.to_pylist():
            if r["open_time"].date().isoformat() == day:
                return r
        return None
    r = day_row(t1d, "2017-12-17"); check(r and r["close"] == 18860.02, f"BTCUSDT 2017-12-17 close: {r and r['close']}")
    r = day_row(t1d, "2021-11-10"); check(r and r["close"] == 64882.43 and r["high"] == 69000.00, "BTCUSDT 2021-11-10")
    r = day_row(lake_table(root, "klines_1d", "ETHUSDT"), "2021-11-10")
    check(r and r["close"] == 4628.78 and r["high"] == 4868.00, "ETHUSDT 2021-11-10")

    # 4. Every value of klines_1d and daily_raw equals cryptolake's own reading.
    for dataset, key in (("klines_1d", "open_time"), ("daily_raw", "day")):
        ours = list(csv.DictReader(io.StringIO(cl(root, "cat", dataset))))
        theirs = lake_table(root, dataset).to_pylist()
        theirs.sort(key=lambda r: (r["symbol"], r[key]))
        check(len(ours) == len(theirs), f"{dataset}: {len(ours)} rows via cryptolake, {len(theirs)} via pyarrow")
        cols = [c for c in ours[0].keys() if c not in ("year",)] if ours else []
        bad = 0
        for a, b in zip(ours, theirs):
            for c in cols:
                v = b.get(c)
                if isinstance(v, datetime):
                    v = ts_str(v)
                elif hasattr(v, "isoformat"):
                    v = v.isoformat()
                if not same(a[c], v):
                    bad += 1
                    if bad <= 5:
                        print(f"  {dataset} {c}: cryptolake {a[c]!r} pyarrow {v!r}", file=sys.stderr)
        check(bad == 0, f"{dataset}: {bad} values differ between cryptolake and pyarrow")

print(f"{checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
