"""Checks, offline, that the test-only Delta Lake readers work: delta-rs (deltalake), polars, and
Spark 3.5 with Delta 3.3 in local mode, all from .deps (scripts/setup.sh --test).

It writes a small table partitioned by symbol with deltalake's write_deltalake (version 0: 5 rows),
appends a second version (version 1: 8 rows), then reads both versions back with deltalake,
polars (pl.read_delta) and one local SparkSession (spark.read.format("delta")), asserting the exact
rows, and Spark's DESCRIBE HISTORY through Delta's SQL extension. Spark gets Delta's jars from
.deps/delta-jars as spark.jars and resolves nothing, so no network is needed (it passes in a
network namespace with only loopback up: `unshare -n sh -c 'ip link set lo up && exec ...'`).
Prints the wall time of each step, of Spark's start-up and of each Spark read.

Usage: .deps/venv/bin/python tests/scripts/delta_env_check.py
Stops at the first failed check; ends with "N passed, N failed" and exit code 0 only if all pass.
"""
import glob
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JAR_DIR = os.path.join(ROOT, ".deps", "delta-jars")

# (symbol, open_time in ms, close): version 0, then the rows version 1 appends.
V0 = [("BTCUSDT", 1_700_000_000_000, 37_000.5),
      ("BTCUSDT", 1_700_000_060_000, 37_010.25),
      ("BTCUSDT", 1_700_000_120_000, 36_990.0),
      ("ETHUSDT", 1_700_000_000_000, 2_050.75),
      ("ETHUSDT", 1_700_000_060_000, 2_051.5)]
V1_APPEND = [("BTCUSDT", 1_700_000_180_000, 37_020.125),
             ("SOLUSDT", 1_700_000_000_000, 55.5),
             ("SOLUSDT", 1_700_000_060_000, 55.75)]
V1 = V0 + V1_APPEND


def arrow_table(rows):
    import pyarrow as pa
    return pa.table({"symbol": pa.array([r[0] for r in rows], pa.string()),
                     "open_time": pa.array([r[1] for r in rows], pa.int64()),
                     "close": pa.array([r[2] for r in rows], pa.float64())})


def sorted_rows(symbols, open_times, closes):
    return sorted(zip(symbols, open_times, closes))


passed = 0


def expect(what, got, want):
    global passed
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    passed += 1
    print(f"ok   {what}")


def write_with_deltalake(path):
    from deltalake import DeltaTable, write_deltalake
    write_deltalake(path, arrow_table(V0), partition_by=["symbol"])
    write_deltalake(path, arrow_table(V1_APPEND), partition_by=["symbol"], mode="append")
    dt = DeltaTable(path)
    expect("deltalake: table version after the append", dt.version(), 1)
    expect("deltalake: partition columns", dt.metadata().partition_columns, ["symbol"])
    parts = sorted(os.path.basename(os.path.dirname(f)) for f in dt.file_uris())
    expect("deltalake: data files' partition folders", parts,
           ["symbol=BTCUSDT", "symbol=BTCUSDT", "symbol=ETHUSDT", "symbol=SOLUSDT"])


def read_with_deltalake(path):
    from deltalake import DeltaTable
    for version, want in ((None, V1), (0, V0)):
        dt = DeltaTable(path, version=version)
        t = dt.to_pyarrow_table()
        got = sorted_rows(t["symbol"].to_pylist(), t["open_time"].to_pylist(),
                          t["close"].to_pylist())
        expect(f"deltalake: rows at version {dt.version()}", got, sorted(want))


def read_with_polars(path):
    import polars as pl
    for version, want in ((None, V1), (0, V0)):
        label = "latest" if version is None else version
        df = pl.read_delta(path, version=version)
        expect(f"polars: schema at version {label}", dict(df.schema),
               {"symbol": pl.String, "open_time": pl.Int64, "close": pl.Float64})
        got = sorted_rows(df["symbol"].to_list(), df["open_time"].to_list(),
                          df["close"].to_list())
        expect(f"polars: rows at version {label}", got, sorted(want))


def java_major():
    """The major version of the Java that PySpark will start: JAVA_HOME's, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if not home:
        java = shutil.which("java")
        if java is None:
            raise AssertionError("no java on PATH: run scripts/setup.sh --test")
        home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
    try:
        with open(os.path.join(home, "release")) as f:
            line = next(x for x in f if x.startswith("JAVA_VERSION="))
    except (OSError, StopIteration):
        raise AssertionError(f"no JAVA_VERSION in {home}/release")
    version = line.split("=", 1)[1].strip().strip('"')
    return int(version.split(".")[1] if version.startswith("1.") else version.split(".")[0]), home


def spark_session(scratch):
    """One local SparkSession with Delta, from local jars only (no ivy, no network)."""
    jars = sorted(glob.glob(os.path.join(JAR_DIR, "*.jar")))
    if len(jars) != 2:
        raise AssertionError(f"want delta-spark and delta-storage in {JAR_DIR}, found {jars}: "
                             "run scripts/setup.sh --test")
    major, home = java_major()
    if major not in (11, 17, 21):  # Hadoop 3.3 in Spark 3.5 fails on Java 23+ (Subject.getSubject)
        raise AssertionError(f"Spark 3.5 runs on Java 11, 17 or 21; {home} is Java {major}")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no look-up of the host's address
    os.environ["PYSPARK_PYTHON"] = sys.executable         # workers (if any) use this venv
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    local_dir = os.path.join(scratch, "spark-local")
    os.makedirs(local_dir)
    log4j = os.path.join(scratch, "log4j2.properties")
    # Errors only; org.apache.spark gets a logger of its own, or PySpark resets the level to WARN.
    with open(log4j, "w") as f:
        f.write("rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
                "logger.spark.name = org.apache.spark\nlogger.spark.level = error\n"
                "appender.console.type = Console\nappender.console.name = console\n"
                "appender.console.target = SYSTEM_ERR\n"
                "appender.console.layout.type = PatternLayout\n"
                "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n")
    from pyspark.sql import SparkSession
    return (SparkSession.builder.master("local[2]").appName("delta_env_check")
            .config("spark.jars", ",".join(jars))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog",
                    "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            # Delta replays its log in 50 partitions by default: 2 are plenty for a test table.
            .config("spark.databricks.delta.snapshotPartitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.memory", "1g")
            .config("spark.local.dir", local_dir)
            .config("spark.sql.warehouse.dir", os.path.join(scratch, "spark-warehouse"))
            .config("spark.sql.session.timeZone", "UTC")
            # C1 only: a short-lived JVM spends its first query compiling; this halves it here.
            .config("spark.driver.extraJavaOptions",
                    f"-XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.io.tmpdir={local_dir} "
                    f"-Dlog4j2.configurationFile=file:{log4j} -Dderby.system.home={scratch}")
            .getOrCreate())


def read_with_spark(path, scratch):
    t0 = time.monotonic()
    spark = spark_session(scratch)
    print(f"time spark start-up: {time.monotonic() - t0:.2f} s")
    try:
        expect("spark: version", spark.version, "3.5.3")
        for version, want in ((None, V1), (0, V0)):
            label = "latest" if version is None else version
            t0 = time.monotonic()
            reader = spark.read.format("delta")
            if version is not None:
                reader = reader.option("versionAsOf", version)
            df = reader.load(path)
            rows = df.collect()
            elapsed = time.monotonic() - t0
            expect(f"spark: schema at version {label}",
                   [(f.name, f.dataType.simpleString()) for f in df.schema],
                   [("symbol", "string"), ("open_time", "bigint"), ("close", "double")])
            got = sorted_rows([r.symbol for r in rows], [r.open_time for r in rows],
                              [r.close for r in rows])
            expect(f"spark: rows at version {label}", got, sorted(want))
            print(f"time spark read at version {label}: {elapsed:.2f} s")
        t0 = time.monotonic()
        counts = {r.symbol: r["count"] for r in spark.read.format("delta").load(path)
                  .where("open_time >= 1700000060000").groupBy("symbol").count().collect()}
        print(f"time spark filtered group-by: {time.monotonic() - t0:.2f} s")
        expect("spark: rows per symbol with open_time >= 1700000060000", counts,
               {"BTCUSDT": 3, "ETHUSDT": 1, "SOLUSDT": 1})
        t0 = time.monotonic()
        history = [(r.version, r.operation, r.operationParameters["mode"])
                   for r in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()]
        print(f"time spark DESCRIBE HISTORY: {time.monotonic() - t0:.2f} s")
        expect("spark: DESCRIBE HISTORY (Delta's SQL extension)", history,
               [(1, "WRITE", "Append"), (0, "WRITE", "ErrorIfExists")])
    finally:
        t0 = time.monotonic()
        spark.stop()
        print(f"time spark stop: {time.monotonic() - t0:.2f} s")


def main():
    import deltalake
    import polars
    import pyspark
    print(f"deltalake {deltalake.__version__}, polars {polars.__version__}, "
          f"pyspark {pyspark.__version__}, python {sys.version.split()[0]}")
    scratch = tempfile.mkdtemp(prefix="delta_env_check.")
    try:
        table = os.path.join(scratch, "klines_1m")
        for step in (write_with_deltalake, read_with_deltalake, read_with_polars):
            t0 = time.monotonic()
            step(table)
            print(f"time {step.__name__}: {time.monotonic() - t0:.2f} s")
        read_with_spark(table, scratch)
    except AssertionError as e:
        print(f"FAIL {e}", file=sys.stderr)
        print(f"{passed} passed, 1 failed")
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
