"""Interop: the lake read as Delta Lake tables by delta-rs (deltalake), polars and Spark (with
delta-spark, local mode), all test-only from .deps (scripts/setup.sh --test), offline.

With the cryptolake binary and the replay exchange, on real data of ../shared/data:
  1. import the 2025 1m window of BTCUSDT and ETHUSDT with a hole (BTCUSDT 2025-06-01 10:00..10:59
     left out), and BTCUSDT's 2022 1h files one month per import (so that klines_1h passes its
     first checkpoint, version 10, which every reader then reads);
  2. backfill 1m from the replay exchange: the hole comes back from REST (source rest);
  3. stream from the replay exchange for two exchange minutes: ETHUSDT's hole gets stream rows;
     then ETHUSDT's whole file imported again adds those keys from import (which outranks the
     stream): shadowed duplicates, which the outside reader's dedup must drop;
  4. batch (the views); 5. compact; 6. gc.
After every step, every dataset's Delta table (delta-rs at the manifest's version, then polars)
must hold exactly the rows `cryptolake cat` prints (klines through the documented outside-reader
dedup: rest > import > stream, then the latest ingested_at), and tests/scripts/delta_check.py
must find every table naming exactly the manifest's files, every version loadable.
Then one Spark session: the daily aggregation of klines_1m (deduplicated the same way, volume
summed as DECIMAL(38,10) as the lake sums it) equals daily_raw on every day of the 2025 window,
both symbols; time travel (versionAsOf 0) returns the rows of the import only, and so do
delta-rs and polars at version 0; the README's DuckDB command (DuckDB over delta-rs's Arrow
dataset, with the dedup SQL) counts what `cat` prints.
Usage: delta_interop_test.py CRYPTOLAKE_BINARY SHARED_DATA
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from delta_env_check import spark_session  # noqa: E402  (one Spark set-up for the suite)

BIN, SHARED = (sys.argv[1], Path(sys.argv[2])) if __name__ == "__main__" else ("", None)
HERE = Path(__file__).resolve().parent
failures, checks = [], 0


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, file=sys.stderr)


def cl(root, *args, ok=(0,)):
    r = subprocess.run([BIN, "--data", str(root), *args], capture_output=True, text=True)
    if r.returncode not in ok:
        raise SystemExit(f"cryptolake {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


# ---- canonical rows: every value as cryptolake's CSV and the Delta readers would agree on it

def norm(v):
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        v = v.astimezone(timezone.utc)
        return int(v.timestamp()) * 1_000_000 + v.microsecond
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return v


def norm_csv(s, col_type):
    if s == "":
        return None
    if col_type == "ts":  # '2025-05-20 00:00:00+00' or with a fraction
        return norm(datetime.fromisoformat(s.replace("+00", "+00:00")))
    if col_type == "num":
        return float(s)
    if col_type == "bool":
        return s.lower() == "true"
    return s


def cat_rows(root, dataset, types):
    text = cl(root, "cat", dataset)
    rows = list(csv.DictReader(io.StringIO(text)))
    cols = [c for c in (rows[0].keys() if rows else []) if c in types]
    return cols, sorted(tuple(norm_csv(r[c], types[c]) for c in cols) for r in rows)


def delta_rows(records, cols):
    return sorted(tuple(norm(r.get(c)) for c in cols) for r in records)


KLINE_TYPES = {"symbol": "str", "open_time": "ts", "open": "num", "high": "num", "low": "num",
               "close": "num", "volume": "num", "close_time": "ts", "quote_volume": "num",
               "trades": "num", "taker_buy_base": "num", "taker_buy_quote": "num"}
VIEW_TYPES = {"symbol": "str", "day": "str", "ds": "str", "open": "num", "high": "num",
              "low": "num", "close": "num", "volume": "num", "quote_volume": "num",
              "trades": "num", "minutes_present": "num", "source_interval": "str",
              "filled": "bool", "ma7": "num", "ma30": "num", "y": "num"}


def dedup_polars(df):
    """The outside reader's dedup, as documented: one row per (symbol, open_time), the highest
    source (rest > import > stream), then the latest ingested_at."""
    prio = (pl.when(pl.col("source") == "rest").then(3)
            .when(pl.col("source") == "import").then(2).otherwise(1))
    return (df.with_columns(prio.alias("_prio"))
            .sort(["symbol", "open_time", "_prio", "ingested_at"],
                  descending=[False, False, True, True])
            .unique(subset=["symbol", "open_time"], keep="first", maintain_order=True)
            .drop("_prio"))


def check_tables(root, step):
    r = subprocess.run([sys.executable, str(HERE / "delta_check.py"), str(root), "--all-versions"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"{step}: delta_check: {r.stderr.strip()}")
    man = json.loads((root / "_manifest.json").read_text())
    tables = man["meta"].get("delta", {})
    for ds, info in sorted(tables.items()):
        path = str(root / info["dir"])
        kl = ds.startswith("klines_")
        cols, want = cat_rows(root, ds, KLINE_TYPES if kl else VIEW_TYPES)
        t0 = time.monotonic()
        dt = DeltaTable(path)
        check(dt.version() == info["version"],
              f"{step}: {ds}: delta-rs at version {dt.version()}, manifest records {info['version']}")
        df = pl.from_arrow(dt.to_pyarrow_table())
        if kl:
            df = dedup_polars(df)
        got = delta_rows(df.to_dicts(), cols)
        check(got == want, f"{step}: {ds}: delta-rs reads {len(got)} rows, cryptolake cat {len(want)}"
              + ("" if len(got) != len(want) else ", values differ"))
        pdf = pl.read_delta(path)
        if kl:
            pdf = dedup_polars(pdf)
        got = delta_rows(pdf.to_dicts(), cols)
        check(got == want, f"{step}: {ds}: polars reads {len(got)} rows, cryptolake cat {len(want)}")
        print(f"{step}: {ds} version {info['version']}: {len(want)} rows, delta-rs and polars "
              f"match cat ({time.monotonic() - t0:.1f} s)")


def spark_checks(root, import_rows, scratch):
    from pyspark.sql import functions as F
    t0 = time.monotonic()
    spark = spark_session(scratch)
    print(f"spark: started in {time.monotonic() - t0:.1f} s")
    try:
        path = str(root / "klines_1m")
        # The README's Spark commands: the table, then the outside reader's dedup in Spark SQL.
        spark.read.format("delta").load(path).createOrReplaceTempView("k")
        k = spark.sql("""SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY symbol, open_time ORDER BY
                         CASE source WHEN 'rest' THEN 3 WHEN 'import' THEN 2 ELSE 1 END DESC,
                         ingested_at DESC) AS rk FROM k) WHERE rk = 1""")
        daily = (k.groupBy("symbol", F.to_date("open_time").alias("day"))
                 .agg(F.min_by("open", "open_time").alias("open"), F.max("high").alias("high"),
                      F.min("low").alias("low"), F.max_by("close", "open_time").alias("close"),
                      F.sum(F.col("volume").cast("decimal(38,10)")).cast("double").alias("volume"),
                      F.count("*").alias("minutes_present"))
                 .where("day >= '2025-05-20' AND day <= '2025-08-18'"))
        got = sorted((r.symbol, r.day.isoformat(), r.open, r.high, r.low, r.close, r.volume,
                      r.minutes_present) for r in daily.collect())
        raw = list(csv.DictReader(io.StringIO(cl(root, "cat", "daily_raw"))))
        want = sorted((r["symbol"], r["day"], float(r["open"]), float(r["high"]), float(r["low"]),
                       float(r["close"]), float(r["volume"]), int(r["minutes_present"]))
                      for r in raw if "2025-05-20" <= r["day"] <= "2025-08-18")
        check(len(want) == 2 * 91, f"daily_raw holds {len(want)} days of the 2025 window, want 182")
        check(got == want, f"spark: the daily aggregation of klines_1m ({len(got)} days) differs "
              f"from daily_raw ({len(want)} days); first difference: "
              f"{next(((a, b) for a, b in zip(got, want) if a != b), None)}")
        print(f"spark: daily aggregation of klines_1m equals daily_raw on {len(got)} days "
              f"({time.monotonic() - t0:.1f} s)")
        n0 = spark.read.format("delta").option("versionAsOf", 0).load(path).count()
        check(n0 == import_rows, f"spark: klines_1m at version 0 holds {n0} rows, the import {import_rows}")
        # klines_1h through its checkpoint: every row of cat, and the history of 12 imports.
        h = spark.read.format("delta").load(str(root / "klines_1h"))
        want_h = sorted(tuple(norm_csv(r[c], KLINE_TYPES[c]) for c in ("symbol", "open_time", "close"))
                        for r in csv.DictReader(io.StringIO(cl(root, "cat", "klines_1h"))))
        got_h = sorted((r.symbol, norm(r.open_time), float(r.close)) for r in h.collect())
        check(got_h == want_h, f"spark: klines_1h reads {len(got_h)} rows, cryptolake cat {len(want_h)}")
        hist = spark.sql(f"DESCRIBE HISTORY delta.`{root / 'klines_1h'}`").count()
        check(hist == 12, f"spark: klines_1h history has {hist} versions, want 12")
    finally:
        spark.stop()


class replay_exchange:
    """`cryptolake replay-exchange` serving the 2025 1m files from 2025-06-01 12:00 at `speed`;
    the context value is its host:port."""

    def __init__(self, tmp, btc, eth, speed):
        self.port_file = tmp / f"replay-{speed}.port"
        self.args = [BIN, "replay-exchange", "--data", str(btc), "--data", str(eth), "--start",
                     "2025-06-01 12:00", "--speed", str(speed), "--weight-limit", "1000000000",
                     "--port-file", str(self.port_file)]

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(1200):  # start-up only
            if self.port_file.exists() and self.port_file.read_text().strip():
                return f"127.0.0.1:{self.port_file.read_text().strip()}"
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.proc.kill()
        raise SystemExit("the replay exchange did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def main():
    m1 = SHARED / "binance-spot" / "klines" / "1m"
    h1 = SHARED / "binance-spot" / "klines" / "1h"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "lake"
        # 1. Import, BTCUSDT with a hole that backfill fills from REST, ETHUSDT with one that the
        #    stream fills (it appends only the keys the lake lacks).
        btc = next(m1.glob("BTCUSDT-1m-20250520_*.csv"))
        eth = next(m1.glob("ETHUSDT-1m-20250520_*.csv"))

        def holed(src, lo, hi):
            out = tmp / src.name.replace("-1m-", "-1m-holed-")
            with open(src) as f, open(out, "w") as g:
                for i, line in enumerate(f):
                    if i > 0 and lo <= int(line.split(",", 1)[0]) < hi:
                        continue
                    g.write(line)
            return out

        btc_holed = holed(btc, 1748772000000, 1748775600000)  # 2025-06-01 10:00..10:59
        eth_holed = holed(eth, 1748779200000, 1748779800000)  # 2025-06-01 12:00..12:09
        cl(root, "import", str(btc_holed), str(eth_holed))
        import_rows = 2 * 130708 - 60 - 10
        # The 2022 1h files of BTCUSDT, one import a month: klines_1h reaches version 11, past
        # its first checkpoint (version 10), which the readers below then start from.
        for month in range(1, 13):
            cl(root, "import", str(h1 / f"BTCUSDT-1h-2022-{month:02d}.csv"))
        check((root / "klines_1h" / "_delta_log" / "00000000000000000010.checkpoint.parquet").exists(),
              "klines_1h has a checkpoint at version 10")
        check_tables(root, "import")
        # 2. Backfill from the replay exchange (2025-06-01 12:00, 600x).
        with replay_exchange(tmp, btc, eth, 600) as hp:
            cl(root, "backfill", "--exchange", f"http://{hp}", "--symbol", "BTCUSDT",
               "--interval", "1m", "--from", "2025-06-01", "--weight-limit", "1000000000",
               "--no-batch")
        rest = [r for r in csv.DictReader(io.StringIO(cl(root, "cat", "klines_1m", "--symbol", "BTCUSDT")))
                if r["source"] == "rest"]
        check(len(rest) == 60, f"backfill stored {len(rest)} REST rows, want the 60 of the hole")
        check_tables(root, "backfill")
        # 3. Stream from a fresh replay exchange (2025-06-01 12:00, 60x) for two exchange minutes.
        with replay_exchange(tmp, btc, eth, 60) as hp:
            now_ms = json.loads(subprocess.run(["curl", "-s", f"http://{hp}/api/v3/time"],
                                               capture_output=True, text=True).stdout)["serverTime"]
            until = datetime.fromtimestamp(now_ms // 60000 * 60 + 120, tz=timezone.utc)
            cl(root, "stream", "--ws", f"ws://{hp}", "--exchange", f"http://{hp}",
               "--append-every", "0.5", "--no-trades", "--until", until.strftime("%Y-%m-%d %H:%M"))
        man = json.loads((root / "_manifest.json").read_text())
        check(any(f["source"] == "stream" for f in man["files"]), "the stream appended a file")
        check_tables(root, "stream")
        # Import outranks the stream: importing ETHUSDT's whole file again adds the keys the
        # stream stored, so the table holds them twice (the outside reader's dedup picks import).
        cl(root, "import", str(eth))
        man = json.loads((root / "_manifest.json").read_text())
        check(sum(f["rows"] for f in man["files"] if f["dataset"] == "klines_1m")
              > 2 * 130708, "klines_1m holds keys twice (stream and import)")
        check_tables(root, "import again")
        # 4.-6. Views, compaction, gc.
        cl(root, "batch")
        check_tables(root, "batch")
        cl(root, "compact")
        check_tables(root, "compact")
        cl(root, "gc")
        check_tables(root, "gc")
        # Time travel with delta-rs and polars: version 0 of klines_1m is the import.
        path = str(root / "klines_1m")
        check(DeltaTable(path, version=0).to_pyarrow_table().num_rows == import_rows,
              "delta-rs: klines_1m version 0 is the import")
        check(pl.read_delta(path, version=0).height == import_rows,
              "polars: klines_1m version 0 is the import")
        # The README's DuckDB command: DuckDB over delta-rs's Arrow dataset, with the dedup SQL.
        import duckdb
        k = DeltaTable(path).to_pyarrow_dataset()  # noqa: F841 (DuckDB finds it by name)
        got = duckdb.sql("""SELECT symbol, count(*) FROM (SELECT *, row_number() OVER (PARTITION BY
                            symbol, open_time ORDER BY CASE source WHEN 'rest' THEN 3 WHEN 'import'
                            THEN 2 ELSE 1 END DESC, ingested_at DESC) AS rk FROM k) WHERE rk = 1
                            GROUP BY ALL ORDER BY 1""").fetchall()
        want = {}
        for r in csv.DictReader(io.StringIO(cl(root, "cat", "klines_1m"))):
            want[r["symbol"]] = want.get(r["symbol"], 0) + 1
        check(got == sorted(want.items()), f"duckdb over delta-rs: {got}, cryptolake cat {sorted(want.items())}")
        spark_checks(root, import_rows, tmp)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
