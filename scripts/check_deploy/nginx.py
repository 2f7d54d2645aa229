"""The nginx-proxy location file and log format, and the image's healthcheck script. `nginx -t`
lives in tools.py with the other validators; these are the project's own rules."""

import os
import re
import subprocess

from .repo import read
from .report import require


def nginx_seconds(text, directive):
    m = re.search(rf"^\s*{directive}\s+(\d+)(s|m)?\s*;", text, re.M)
    require(m, f"no {directive}")
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def location_timeouts(r):
    text = read(r.location)
    ping = int(r.effective("RELAY__API__WS_PING_SECS", r.ws_ping))
    long_poll = int(r.effective("RELAY__API__LONG_POLL_MAX_SECS", r.long_poll_max))
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        secs = nginx_seconds(text, directive)
        require(secs > max(ping, long_poll, 30) * 2, f"{directive} {secs}s: want well above the {ping}s ping, the app's 30s ping and the {long_poll}s long-poll")
    require(re.search(r"^\s*proxy_buffering\s+off\s*;", text, re.M), "proxy_buffering off is missing")
    require(re.search(r"location\s*=\s*/metrics\s*\{", text), "/metrics is not kept private")
    fmt = re.search(r"access_log\s+\S+\s+(\w+)\s*;", text)
    if fmt:
        require(re.search(rf"log_format\s+{fmt.group(1)}\b", read(r.log_conf)), f"log format {fmt.group(1)} is not defined in {r.rel(r.log_conf)}")


def log_format_redacts(r):
    text = read(r.log_conf)
    m = re.search(r"log_format\s+\w+\s+(.*?);", text, re.S)
    require(m, f"no log_format in {r.rel(r.log_conf)}")
    leaks = sorted(set(re.findall(r"\$(request|args|query_string|request_uri|arg_token)\b", m.group(1))))
    require(not leaks, f"the format logs ${', $'.join(leaks)}, which carry the socket's ?token=")


def healthcheck_script(r):
    result = subprocess.run(["bash", "-n", r.healthcheck], capture_output=True, text=True)
    require(result.returncode == 0, result.stderr.strip())
    require(os.access(r.healthcheck, os.X_OK), "not executable")


CHECKS = [
    ("nginx vhost.d snippet: timeouts above the ping and long-poll, buffering off, /metrics private", location_timeouts),
    ("nginx conf.d log format: no request line or query string (the socket's ?token=)", log_format_redacts),
    ("deploy/healthcheck: bash syntax, executable", healthcheck_script),
]
