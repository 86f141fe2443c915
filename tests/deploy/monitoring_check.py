#!/usr/bin/env python3
"""Checks of deploy/ (the Prometheus rules and the Grafana dashboard) that promtool does not make.

Usage: monitoring_check.py ROOT names|coverage|dashboard

  names      every cryptolake_* metric named in the rules, their unit tests and the dashboard
             is registered in src/ (a "cryptolake_..." string literal there; the _bucket, _sum
             and _count series only for a name registered with AddHistogram).
  coverage   every alerting rule fires in some unit test (an eval with exp_labels, so its labels
             and annotations are asserted exactly), and every alertname the tests name exists
             (a misspelt one would pass silently with exp_alerts: []); every alert has for:,
             annotations summary and description, and a severity label (CryptolakeAlertFiring
             keeps the severity of cryptolake's own rule).
  dashboard  the dashboard JSON parses; it declares the DS_PROMETHEUS input (and a datasource
             variable of that name, for file provisioning); every panel and query uses
             ${DS_PROMETHEUS}; panel ids are unique; panels fit the 24-column grid without
             overlapping; every query is valid PromQL (promtool check rules on the queries as
             recording rules, Grafana's variables replaced by values).

Standard library only. Exit 0 when clean, 1 with each problem printed.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

NAME = re.compile(r"\bcryptolake_[a-z0-9_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
RULES = "deploy/prometheus/cryptolake.rules.yml"
TESTS = "deploy/prometheus/cryptolake.rules.test.yml"
DASHBOARD = "deploy/grafana/cryptolake.json"
# Grafana's variables in queries, replaced to make them PromQL.
GRAFANA_VARS = [("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h"),
                ("${instance}", ".*"), ("$instance", ".*")]


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def registered(root):
    """(all names, histogram names) registered in src/."""
    names, histograms = set(), set()
    for d, _, files in os.walk(os.path.join(root, "src")):
        for fn in files:
            if not fn.endswith((".cc", ".h")):
                continue
            with open(os.path.join(d, fn), encoding="utf-8") as f:
                text = f.read()
            names.update(re.findall(r'"(cryptolake_[a-z0-9_]+)"', text))
            histograms.update(re.findall(r'AddHistogram\(\s*"(cryptolake_[a-z0-9_]+)"', text))
    return names, histograms


def known(name, names, histograms):
    if name in names:
        return True
    return any(name.endswith(s) and name[: -len(s)] in histograms for s in HISTOGRAM_SUFFIXES)


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):  # a collapsed row holds its panels
            yield q


def dashboard_queries(dash):
    """(where, query) for every PromQL query in the dashboard, and the variables' queries."""
    out = []
    for p in panels_of(dash):
        for t in p.get("targets", []):
            out.append((f"panel {p.get('id')} '{p.get('title')}' {t.get('refId')}", t.get("expr", "")))
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a:
            out.append((f"annotation '{a.get('name')}'", a["expr"]))
    return out


def variable_queries(dash):
    out = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            out.append((f"variable {v.get('name')}", q.get("query", "") if isinstance(q, dict) else q or ""))
            out.append((f"variable {v.get('name')} definition", v.get("definition", "")))
    return out


def check_names(root):
    names, histograms = registered(root)
    problems = []
    sources = [(RULES, read(root, RULES)), (TESTS, read(root, TESTS))]
    dash = json.loads(read(root, DASHBOARD))
    sources += [(f"{DASHBOARD}: {w}", q) for w, q in dashboard_queries(dash) + variable_queries(dash)]
    used = 0
    for where, text in sources:
        for n in sorted(set(NAME.findall(text))):
            used += 1
            if not known(n, names, histograms):
                problems.append(f"{where}: {n} is not registered in src/")
    print(f"names: {len(names)} metrics registered in src/ ({len(histograms)} histograms); "
          f"{used} uses checked")
    return problems


def alert_blocks(rules_text):
    """{alert name: its block of the rules file}."""
    blocks = {}
    parts = re.split(r"(?m)^\s*- (?=alert:|record:|name:)", rules_text)
    for part in parts:
        m = re.match(r"alert:\s*(\S+)", part)
        if m:
            blocks[m.group(1)] = part
    return blocks


def check_coverage(root):
    problems = []
    blocks = alert_blocks(read(root, RULES))
    for name, block in blocks.items():
        for key in ("expr:", "for:", "summary:", "description:"):
            if not re.search(rf"(?m)^\s*{key}", block):
                problems.append(f"{RULES}: alert {name} has no {key}")
        if name != "CryptolakeAlertFiring" and not re.search(r"(?m)^\s*severity:\s*(critical|warning|info)\s*$", block):
            problems.append(f"{RULES}: alert {name} has no severity label (critical, warning or info)")
    fired, named = set(), set()
    for chunk in re.split(r"(?m)^\s*-\s*\{?\s*eval_time:", read(root, TESTS))[1:]:
        m = re.search(r"alertname:\s*([A-Za-z0-9_]+)", chunk)
        if not m:
            continue
        named.add(m.group(1))
        if re.search(r"(?m)^\s*-?\s*exp_labels:", chunk):
            fired.add(m.group(1))
    for name in sorted(set(blocks) - fired):
        problems.append(f"{TESTS}: alert {name} never fires in a unit test")
    for name in sorted(named - set(blocks)):
        problems.append(f"{TESTS}: alertname {name} is not a rule in {RULES}")
    print(f"coverage: {len(blocks)} alerts, {len(fired & set(blocks))} fire in the unit tests")
    return problems


def overlap(a, b):
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and
            a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def check_dashboard(root):
    problems = []
    try:
        dash = json.loads(read(root, DASHBOARD))
    except json.JSONDecodeError as e:
        return [f"{DASHBOARD}: not JSON: {e}"]
    ds = "${DS_PROMETHEUS}"
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("type") == "datasource" and
               i.get("pluginId") == "prometheus" for i in dash.get("__inputs", [])):
        problems.append("no __inputs entry DS_PROMETHEUS (a prometheus datasource)")
    if not any(v.get("name") == "DS_PROMETHEUS" and v.get("type") == "datasource" and
               v.get("query") == "prometheus" for v in dash.get("templating", {}).get("list", [])):
        problems.append("no datasource variable DS_PROMETHEUS (for file provisioning)")
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append(f"schemaVersion {dash.get('schemaVersion')!r}: want 36 or later")
    if not dash.get("uid") or not dash.get("title"):
        problems.append("no uid or title")
    ids, grid = set(), []
    for p in panels_of(dash):
        pid, title = p.get("id"), p.get("title")
        where = f"panel {pid} '{title}'"
        if pid in ids:
            problems.append(f"{where}: id used twice")
        ids.add(pid)
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")) or g["x"] + g["w"] > 24:
            problems.append(f"{where}: gridPos {g} outside the 24 columns")
        else:
            for other_where, og in grid:
                if overlap(g, og):
                    problems.append(f"{where} overlaps {other_where}")
            grid.append((where, g))
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != ds:
            problems.append(f"{where}: datasource is not {ds}")
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"{where}: no query")
        for t in targets:
            if t.get("datasource", {}).get("uid") != ds:
                problems.append(f"{where} {t.get('refId')}: datasource is not {ds}")
            if not t.get("expr", "").strip():
                problems.append(f"{where} {t.get('refId')}: empty expr")
    queries = [(w, q) for w, q in dashboard_queries(dash) if q.strip()]
    # Each query as a recording rule, checked by promtool (its PromQL parser).
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (_, q) in enumerate(queries):
        for var, value in GRAFANA_VARS:
            q = q.replace(var, value)
        if "$" in q:
            problems.append(f"query {i} uses a Grafana variable this check does not know: {q}")
        rules += [f"      - record: dashboard:query_{i}", f"        expr: {json.dumps(q)}"]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("\n".join(rules) + "\n")
    try:
        r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    except FileNotFoundError:
        problems.append("promtool not found: install Debian's prometheus package (scripts/setup.sh --test)")
    else:
        if r.returncode != 0:
            problems.append("promtool rejects a dashboard query:\n" + r.stdout + r.stderr +
                            "\n".join(f"  query {i}: {w}" for i, (w, _) in enumerate(queries)))
    finally:
        os.unlink(f.name)
    print(f"dashboard: {len(ids)} panels, {len(queries)} queries checked by promtool")
    return problems


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("names", "coverage", "dashboard"):
        print(__doc__, file=sys.stderr)
        return 2
    root, what = sys.argv[1], sys.argv[2]
    problems = {"names": check_names, "coverage": check_coverage, "dashboard": check_dashboard}[what](root)
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
