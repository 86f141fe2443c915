"""Delta log benchmark, the reader half (scripts/bench.sh delta runs it after delta_bench on the
same lake): the full klines_1m of both symbols read through the Delta log by delta-rs
(DeltaTable.to_pyarrow_table) and polars (pl.read_delta), median of --runs, beside the figures
delta_bench printed for the manifest + DuckDB path.
Usage: delta_read.py LAKE [--runs K]
"""
import statistics
import sys
import time

import polars as pl
from deltalake import DeltaTable

lake = sys.argv[1]
runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
path = f"{lake}/klines_1m"
for name, read in (("delta-rs (to_pyarrow_table)", lambda: DeltaTable(path).to_pyarrow_table().num_rows),
                   ("polars (read_delta)", lambda: pl.read_delta(path).height)):
    times, rows = [], 0
    for _ in range(runs):
        t = time.monotonic()
        rows = read()
        times.append(time.monotonic() - t)
    print(f"read klines_1m, Delta log + {name}: {rows} rows, median {statistics.median(times):.3f} s")
