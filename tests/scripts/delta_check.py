"""Checks a lake's Delta logs with delta-rs (the `deltalake` package, test-only): for every
dataset the manifest names, the Delta table at its latest version names exactly the manifest's
live files of the dataset, at the version the manifest records, and delta-rs loads every version
of every table (so each is a valid commit). With --allow-pending, a table may instead be behind
its manifest by exactly the versions the manifest still records as pending (a commit killed
after its commit point), and must then match the manifest once those are in place.
With --cat BINARY, every table is also read row for row (polars over delta-rs; the master
dataset through the outside reader's dedup) and compared with what `BINARY cat` prints.
Usage: delta_check.py LAKE [--allow-pending] [--all-versions] [--cat BINARY]
Exit 0 and one summary line, or exit 1 naming the first difference.
"""
import json
import sys
from pathlib import Path

from deltalake import DeltaTable

root = Path(sys.argv[1])
allow_pending = "--allow-pending" in sys.argv
all_versions = "--all-versions" in sys.argv
man = json.loads((root / "_manifest.json").read_text())
meta = man.get("meta", {})
tables = meta.get("delta", {})
pending = {}
for p in meta.get("delta_pending", []):
    if not (root / p["dir"] / "_delta_log" / f"{p['version']:020d}.json").exists():
        pending.setdefault(p["dataset"], []).append(p)


def fail(msg):
    print(f"delta_check FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


datasets = sorted({f["dataset"] for f in man["files"]} | set(tables))
versions = 0
for ds in datasets:
    if ds not in tables:
        fail(f"{ds}: the manifest records no Delta table")
    info = tables[ds]
    d = root / info["dir"]
    want = {f["path"][len(info["dir"]) + 1:] for f in man["files"] if f["dataset"] == ds}
    dt = DeltaTable(str(d))
    have = set(dt.get_add_actions(flatten=True).column("path").to_pylist())
    if dt.version() != info["version"] or have != want:
        p = pending.get(ds, [])
        if allow_pending and p and dt.version() + len(p) == info["version"]:
            continue
        fail(f"{ds}: Delta version {dt.version()} with {len(have)} files, manifest version "
             f"{man['version']} records {info['version']} with {len(want)} files; "
             f"only in Delta: {sorted(have - want)[:3]}, only in the manifest: {sorted(want - have)[:3]}")
    if all_versions:
        for v in range(dt.version() + 1):
            DeltaTable(str(d), version=v).get_add_actions(flatten=True)
            versions += 1
rows_checked = 0
if "--cat" in sys.argv:
    import polars as pl
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import delta_interop_test as it  # its canonical rows, dedup and cat reader
    it.BIN = sys.argv[sys.argv.index("--cat") + 1]
    for ds in datasets:
        kl = ds.startswith("klines_")
        cols, want = it.cat_rows(root, ds, it.KLINE_TYPES if kl else it.VIEW_TYPES)
        df = pl.from_arrow(DeltaTable(str(root / tables[ds]["dir"])).to_pyarrow_table())
        got = it.delta_rows((it.dedup_polars(df) if kl else df).to_dicts(), cols)
        if got != want:
            fail(f"{ds}: delta-rs reads {len(got)} rows, cryptolake cat prints {len(want)}"
                 + ("" if len(got) != len(want) else " (values differ)"))
        rows_checked += len(want)
print(f"delta_check: {len(datasets)} tables match the manifest (version {man['version']})"
      + (f", {versions} versions loaded" if all_versions else "")
      + (f", {rows_checked} rows equal to cryptolake cat" if rows_checked else ""))
