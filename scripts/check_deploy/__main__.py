"""python -m check_deploy [--root DIR] [--self-test [PYTEST ARGS...]]"""

import argparse
import os
import sys

from . import compose, dockerfile, env, k8s, nginx, prometheus, tools
from .repo import Repo
from .report import Report, require

MODULES = (compose, env, dockerfile, k8s, nginx, prometheus, tools)


def all_checks():
    """(name, function) of every check, in the order they are reported."""
    checks = [
        ("every YAML file under deploy/ parses (PyYAML, duplicate keys refused)", yaml_parses),
        ("the deploy files exist", files_exist),
    ]
    for module in MODULES:
        checks += module.CHECKS
    return checks


def yaml_parses(r):
    require(r.yaml_files, "no YAML file found under deploy/")
    require(not r.yaml_errors, "; ".join(r.yaml_errors))


def files_exist(r):
    missing = [r.rel(p) for p in r.required if not os.path.isfile(p)]
    require(not missing, f"missing: {', '.join(missing)}")


def check(root, out=sys.stdout):
    """Runs every check on the repository at `root`; returns the report."""
    r = Repo(root)
    print(f"check-deploy: {len(r.yaml_files)} YAML files under deploy/, api routes {', '.join(r.api_routes) or 'none'}", file=out)
    report = Report(out)
    for name, fn in all_checks():
        report.run(name, fn, r)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="check-deploy", description="Validate deploy/ offline.")
    parser.add_argument("--root", default=os.getcwd(), help="the repository root (default: the current folder)")
    parser.add_argument("--self-test", action="store_true", help="run check-deploy's own tests (pytest) instead")
    args, rest = parser.parse_known_args(argv)
    if args.self_test:
        import pytest

        return pytest.main([os.path.join(os.path.dirname(__file__), "tests"), "-q", "-p", "no:cacheprovider", *rest])
    if rest:
        parser.error(f"unknown arguments {rest}")
    report = check(args.root)
    print("check-deploy: the files were checked, not run: no image is built and no container or cluster is started here")
    total = report.ok + len(report.failed)
    if report.failed:
        print(f"check-deploy: {len(report.failed)} of {total} checks FAILED")
        return 1
    print(f"check-deploy: all {total} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
