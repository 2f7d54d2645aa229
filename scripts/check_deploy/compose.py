"""The guide's two compose files: infrastructure (Redis, Postgres, the shared network) and
application (api and worker from the one image, behind nginx-proxy)."""

import os
import re

from .repo import duration_secs, env_map, read, service_networks
from .report import require


def infrastructure_services(r):
    services = r.infra.get("services") or {}
    require({"redis", "postgres"} <= set(services), f"services are {sorted(services)}, want redis and postgres")
    volumes = r.infra.get("volumes") or {}
    for name, svc in services.items():
        named = [v.split(":", 1)[0] for v in svc.get("volumes", []) if isinstance(v, str) and not v.startswith((".", "/"))]
        require(named, f"{name} keeps its data in no named volume")
        for v in named:
            require(v in volumes, f"{name} mounts volume {v!r}, not declared under volumes:")
        require(svc.get("restart") in ("always", "unless-stopped"), f"{name}: restart is {svc.get('restart')!r}")
        require("healthcheck" in svc, f"{name} has no healthcheck")
    networks = r.infra.get("networks") or {}
    require(len(networks) >= 1, "no network declared")
    for key, net in networks.items():
        net = net or {}
        require(not net.get("external"), f"network {key} must be created here, not external")
        require(net.get("name"), f"network {key} needs a fixed `name:` so the app file can join it")
    for name, svc in services.items():
        require(service_networks(svc), f"{name} is on no named network")


def redis_durability(r):
    redis = r.infra["services"]["redis"]
    command = redis.get("command") or []
    if isinstance(command, str):
        command = command.split()
    settings, mounted = {}, {}
    for v in redis.get("volumes", []):
        if isinstance(v, str) and v.startswith("."):
            src, dst = v.split(":")[:2]
            mounted[dst] = os.path.normpath(os.path.join(r.deploy, src))
    for arg in command:
        if arg in mounted:
            require(os.path.isfile(mounted[arg]), f"{arg} is mounted from {r.rel(mounted[arg])}, which does not exist")
            for line in read(mounted[arg]).splitlines():
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 2:
                    settings[parts[0].lower()] = " ".join(parts[1:]).lower()
    for i, arg in enumerate(command):
        if isinstance(arg, str) and arg.startswith("--") and i + 1 < len(command):
            settings[arg[2:].lower()] = str(command[i + 1]).lower()
    for key, want in (("appendonly", "yes"), ("appendfsync", "everysec"), ("maxmemory-policy", "noeviction")):
        require(settings.get(key) == want, f"{key} is {settings.get(key)!r}, want {want!r} (a job queue must not lose or evict keys)")
    test = " ".join(map(str, redis["healthcheck"]["test"]))
    require("redis-cli" in test and "ping" in test, f"healthcheck is {test!r}, want redis-cli ping")


def postgres(r):
    pg = r.infra["services"]["postgres"]
    m = re.match(r"^postgres:(\d+)", pg.get("image", ""))
    require(m and int(m.group(1)) >= 15, f"image is {pg.get('image')!r}, want postgres:15 or newer")
    test = " ".join(map(str, pg["healthcheck"]["test"]))
    require("pg_isready" in test, f"healthcheck is {test!r}, want pg_isready")
    password = env_map(pg).get("POSTGRES_PASSWORD") or ""
    require(password.startswith("${"), "POSTGRES_PASSWORD must come from .env (${POSTGRES_PASSWORD}), not the file")


def app_services(r):
    services = r.app.get("services") or {}
    require({"api", "worker"} <= set(services), f"services are {sorted(services)}, want api and worker")
    images = {services[s].get("image") for s in ("api", "worker")}
    require(len(images) == 1 and None not in images, f"api and worker must run the same image, got {images}")
    for name in ("api", "worker"):
        svc = services[name]
        files = svc.get("env_file") or []
        files = [files] if isinstance(files, str) else [f if isinstance(f, str) else f.get("path") for f in files]
        require(".env" in files, f"{name}: env_file is {files}, want .env (the guide's .env)")
        require(svc.get("restart") in ("always", "unless-stopped"), f"{name}: restart is {svc.get('restart')!r} (binaries exit while Redis/Postgres are down and rely on restarts)")
        build = svc.get("build")
        if build:
            context = os.path.normpath(os.path.join(r.deploy, build.get("context", ".")))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            require(os.path.samefile(context, r.root), f"{name}: build context is {r.rel(context)}, want the repository root")
            require(os.path.isfile(dockerfile) and os.path.samefile(dockerfile, r.dockerfile), f"{name}: dockerfile {r.rel(dockerfile)} is not deploy/Dockerfile")
        command = svc.get("command")
        command = command.split() if isinstance(command, str) else command
        require(command and command[0] == name and command[0] in r.bins, f"{name}: command {command} does not run the `{name}` binary")


def app_networks(r):
    shared = [n.get("name") for n in (r.infra.get("networks") or {}).values() if n]
    require(shared, "the infrastructure file names no network")
    nets = r.app.get("networks") or {}
    joined = {k: v for k, v in nets.items() if (v or {}).get("name") == shared[0]}
    require(joined, f"no network named {shared[0]!r} (the infrastructure's) in the app file")
    key, net = next(iter(joined.items()))
    require(net.get("external") is True, f"network {key} must be `external: true` (created by the infrastructure file)")
    for name, svc in (r.app.get("services") or {}).items():
        require(key in service_networks(svc), f"{name} is not on network {key} and cannot reach redis/postgres by name")
    others = [k for k in service_networks(r.app["services"]["api"]) if k != key]
    require(others and all((nets.get(k) or {}).get("external") for k in others), "the api must also join nginx-proxy's (external) network")


def nginx_proxy_variables(r):
    env = env_map(r.app["services"]["api"])
    for key in ("VIRTUAL_HOST", "LETSENCRYPT_HOST"):
        require(re.fullmatch(r"\$\{MAIN_DOMAIN(:?[-?][^}]*)?\}", env.get(key) or ""), f"{key} is {env.get(key)!r}, want ${{MAIN_DOMAIN}}")
    require(env.get("RELAY__API__HOST") == "0.0.0.0", f"RELAY__API__HOST is {env.get('RELAY__API__HOST')!r}, want 0.0.0.0")
    port = int(env.get("RELAY__API__PORT") or r.effective("RELAY__API__PORT", r.api_port))
    require(int(env.get("VIRTUAL_PORT") or 0) == port, f"VIRTUAL_PORT {env.get('VIRTUAL_PORT')!r} is not the api port {port}")
    require(port == r.dockerfile_expose(), f"the api port {port} is not the Dockerfile's EXPOSE {r.dockerfile_expose()}")


def worker_healthcheck(r):
    worker = r.app["services"]["worker"]
    addr = r.effective("RELAY__WORKER__METRICS_ADDR", r.worker_metrics_addr)
    m = re.fullmatch(r".+:(\d+)", env_map(worker).get("RELAY__WORKER__METRICS_ADDR") or addr or "")
    require(m, f"worker.metrics_addr is {addr!r}, want host:port")
    port = m.group(1)
    test = [str(t) for t in (worker.get("healthcheck") or {}).get("test") or []]
    require(test[:2] == ["CMD", "relay-healthcheck"], f"worker healthcheck is {test}, want relay-healthcheck (the image has no curl)")
    require(test[2:] == ["/healthz", port], f"worker healthcheck asks {test[2:]}, want /healthz on the metrics port {port}")
    require(port in [str(p) for p in worker.get("expose") or []], f"worker does not expose its metrics port {port} to Prometheus")


def stop_grace(r):
    grace = int(r.effective("RELAY__WORKER__SHUTDOWN_GRACE_SECS", r.worker_grace))
    long_poll = int(r.effective("RELAY__API__LONG_POLL_MAX_SECS", r.long_poll_max))
    worker = duration_secs(r.app["services"]["worker"].get("stop_grace_period", "10s"))
    api = duration_secs(r.app["services"]["api"].get("stop_grace_period", "10s"))
    require(worker >= grace + 10, f"worker stop_grace_period {worker:g}s must exceed shutdown_grace_secs {grace}s by 10s (hand-back and exit), or SIGKILL lands mid-drain")
    require(api >= long_poll + 10, f"api stop_grace_period {api:g}s must exceed the {long_poll}s long-poll by 10s")


CHECKS = [
    ("infrastructure compose: redis and postgres services, named volumes, shared network", infrastructure_services),
    ("redis: appendonly yes, appendfsync everysec, maxmemory-policy noeviction, redis-cli ping", redis_durability),
    ("postgres: 15 or newer, pg_isready health check, password from .env", postgres),
    ("app compose: api and worker from the one image, env_file .env, restart policies", app_services),
    ("app compose: joins the infrastructure's network as external; api also on the proxy network", app_networks),
    ("app compose: api has VIRTUAL_HOST/LETSENCRYPT_HOST=${MAIN_DOMAIN}, VIRTUAL_PORT = api port, host 0.0.0.0", nginx_proxy_variables),
    ("app compose: the worker's healthcheck asks /healthz on its metrics port", worker_healthcheck),
    ("app compose: stop_grace_period above the worker's drain and the api's long-poll", stop_grace),
]
