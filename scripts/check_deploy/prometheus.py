"""deploy/prometheus: alerting rules over the api's metrics. promtool (tools.py) checks their
syntax and runs their unit tests; this checks they name series the api exports."""

import os
import re

from .repo import read
from .report import require


def exported_series(r):
    """The `relay_*` families crates/api/src/metrics.rs writes."""
    text = read(os.path.join(r.root, "crates", "api", "src", "metrics.rs"))
    return set(re.findall(r'"(relay_[a-z0-9_]+)"', text))


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


def rules_name_exported_series(r):
    used = rule_series(r)
    if not used:
        return "no rule uses a relay_ series"
    exported = exported_series(r)
    require(exported, "found no relay_ series in crates/api/src/metrics.rs (is the scan broken?)")
    unknown = sorted(f"{name} ({alert})" for name, alert in used.items() if name not in exported)
    require(not unknown, f"the api exports no {', '.join(unknown)} (crates/api/src/metrics.rs)")
    return None


CHECKS = [
    ("prometheus rules: every relay_ series they use is one the api exports", rules_name_exported_series),
]
