"""deploy/prometheus and deploy/grafana: the alerting rules and the dashboard name only series
docs/operations.md documents (its metrics tables; the e2e test `metrics` proves each documented
series appears in a real scrape of its binary). promtool (tools.py) checks the rules' syntax
and runs their unit tests; this checks the dashboard's JSON and its datasource variable."""

import glob
import json
import os
import re

from .repo import read
from .report import require

# The series a metrics table documents: its first cell, `relay_name` or `relay_name{labels}`.
TABLE_SERIES = re.compile(r"^\|\s*`(relay_[a-z0-9_]+)")

# A histogram's series carry one of these suffixes on the documented name.
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def sections(text):
    """{heading: body} of the `## ` sections of a Markdown text."""
    found, heading = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            found[heading] = []
        elif heading is not None:
            found[heading].append(line)
    return found


def documented_series(r):
    """The `relay_*` series of the metrics tables of docs/operations.md (every `## ` section
    whose title ends in "metrics"), plus the pending gateway ones while its table is missing."""
    parts = sections(read(r.operations))
    names = set()
    for heading, lines in parts.items():
        if heading.lower().endswith("metrics"):
            names |= {m.group(1) for m in map(TABLE_SERIES.match, lines) if m}
    return names


def base_name(name, documented):
    """`relay_x_seconds_bucket` -> `relay_x_seconds` when that is documented."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in documented:
            return name[: -len(suffix)]
    return name


def undocumented(names, documented):
    return sorted({n for n in names if base_name(n, documented) not in documented})


def rule_series(r):
    found = {}
    for path in r.yaml_files:
        if not path.startswith(r.prometheus + os.sep):
            continue
        for doc in r.docs.get(path, []):
            for group in (doc or {}).get("groups", []) if isinstance(doc, dict) else []:
                for rule in group.get("rules", []):
                    for name in re.findall(r"\b(relay_[a-z0-9_]+)", str(rule.get("expr", ""))):
                        found.setdefault(name, rule.get("alert") or rule.get("record"))
    return found


def rules_name_documented_series(r):
    used = rule_series(r)
    if not used:
        return "no rule uses a relay_ series"
    documented = documented_series(r)
    require(documented, "found no relay_ series in the metrics tables of docs/operations.md (is the scan broken?)")
    unknown = [f"{name} ({used[name]})" for name in undocumented(used, documented)]
    require(not unknown, f"docs/operations.md documents no {', '.join(unknown)} (its metrics tables)")
    return None


def dashboard_targets(dashboard):
    """(panel title, panel datasource, target) of every query, rows' nested panels included."""
    def walk(panels):
        for p in panels or []:
            yield from walk(p.get("panels"))
            for t in p.get("targets") or []:
                yield p.get("title", "?"), p.get("datasource"), t
    yield from walk(dashboard.get("panels"))


def dashboards(r):
    files = sorted(glob.glob(os.path.join(r.grafana, "*.json")))
    require(files, "no dashboard JSON under deploy/grafana/")
    documented = documented_series(r)
    for path in files:
        where = r.rel(path)
        try:
            dashboard = json.loads(read(path))
        except json.JSONDecodeError as e:
            require(False, f"{where}: not JSON ({e})")
        variables = (dashboard.get("templating") or {}).get("list") or []
        sources = [v["name"] for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"]
        require(sources, f"{where}: no Prometheus datasource variable (templating)")
        wanted = "${" + sources[0] + "}"
        targets = list(dashboard_targets(dashboard))
        require(targets, f"{where}: no panel has a query")
        names = set()
        for title, source, target in targets:
            for ds in (source, target.get("datasource")):
                uid = ds.get("uid") if isinstance(ds, dict) else ds
                require(uid == wanted, f"{where}: panel {title!r} uses datasource {uid!r}, want the variable {wanted}")
            expr = target.get("expr") or ""
            require(expr.strip(), f"{where}: panel {title!r} has an empty query")
            names |= set(re.findall(r"\b(relay_[a-z0-9_]+)", expr))
        unknown = undocumented(names, documented)
        require(not unknown, f"{where}: docs/operations.md documents no {', '.join(unknown)} (its metrics tables)")
    return None


CHECKS = [
    ("prometheus rules: every relay_ series they use is documented in docs/operations.md", rules_name_documented_series),
    ("grafana: the dashboard is JSON, queries the datasource variable and documented series only", dashboards),
]
