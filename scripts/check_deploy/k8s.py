"""deploy/k8s: the api and worker Deployments, Service, Ingress, PDBs, ConfigMap, the Secret
template and the KEDA ScaledObject."""

import re

from .repo import internal_route
from .report import require


def deployment(r, name):
    d = r.by_name("Deployment", name)
    require(d, f"no Deployment {name}")
    return d


def container(d):
    containers = d["spec"]["template"]["spec"]["containers"]
    require(len(containers) == 1, f"{d['metadata']['name']}: want one container")
    return containers[0]


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def documents(r):
    require(r.k8s_docs, "no manifest under deploy/k8s/")
    for path, doc in r.k8s_docs:
        where = r.rel(path)
        require(isinstance(doc, dict), f"{where}: a document is not a mapping")
        for key in ("apiVersion", "kind"):
            require(doc.get(key), f"{where}: a document has no {key}")
        meta = doc.get("metadata") or {}
        require(meta.get("name"), f"{where}: {doc['kind']} has no metadata.name")
        require("namespace" not in meta, f"{where}: {doc['kind']}/{meta['name']} sets a namespace (apply with -n instead)")


def deployments(r):
    uid = int(r.dockerfile_user().split(":")[0])
    configmaps = {d["metadata"]["name"] for _, d in r.kind("ConfigMap")}
    secrets = {d["metadata"]["name"] for _, d in r.kind("Secret")}
    for name, binary in (("recipe-relay-api", "api"), ("recipe-relay-worker", "worker")):
        d = deployment(r, name)
        spec = d["spec"]
        require(labels_match(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"]), f"{name}: selector does not match the pod labels")
        c = container(d)
        cmd = (c.get("command") or []) + (c.get("args") or [])
        require(cmd and cmd[0] == binary and binary in r.bins, f"{name}: runs {cmd}, want the `{binary}` binary")
        for ref in c.get("envFrom", []):
            if "configMapRef" in ref:
                require(ref["configMapRef"]["name"] in configmaps, f"{name}: ConfigMap {ref['configMapRef']['name']} is not defined")
            if "secretRef" in ref:
                require(ref["secretRef"]["name"] in secrets, f"{name}: Secret {ref['secretRef']['name']} has no template (secret.yaml.example)")
        pod_sc = spec["template"]["spec"].get("securityContext") or {}
        require(pod_sc.get("runAsNonRoot") is True, f"{name}: securityContext.runAsNonRoot must be true")
        require(pod_sc.get("runAsUser", uid) == uid, f"{name}: runAsUser {pod_sc.get('runAsUser')} is not the image's uid {uid}")
        resources = c.get("resources", {})
        require(resources.get("requests") and resources.get("limits"), f"{name}: resources requests and limits are required")
    require(deployment(r, "recipe-relay-api")["spec"].get("replicas") == 2, "api: want replicas: 2")
    require("replicas" not in deployment(r, "recipe-relay-worker")["spec"], "worker: leave replicas to the autoscaler (kubectl apply would reset it)")


def api_probes(r):
    d = deployment(r, "recipe-relay-api")
    c = container(d)
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    cm = r.configmap_data()
    port = int(cm.get("RELAY__API__PORT", r.api_port))
    require(list(ports.values()) == [port], f"containerPort {list(ports.values())} is not the api port {port}")
    require(port == r.dockerfile_expose(), f"the api port {port} is not the Dockerfile's EXPOSE")

    def path(probe):
        p = c.get(probe, {}).get("httpGet", {})
        require(p.get("port") in ports or p.get("port") in ports.values(), f"{probe} port {p.get('port')!r} is not a container port")
        return p.get("path")

    require(path("readinessProbe") == "/readyz", "readinessProbe must be GET /readyz")
    require(path("livenessProbe") == "/healthz", "livenessProbe must be GET /healthz (not the dependencies)")
    for p in ("/readyz", "/healthz"):
        require(p in r.api_routes, f"the api registers no route {p}")
    pre = c.get("lifecycle", {}).get("preStop", {})
    sleep = pre.get("sleep", {}).get("seconds")
    if sleep is None:
        cmd = pre.get("exec", {}).get("command", [])
        require(cmd[:1] == ["sleep"], "api needs a preStop sleep so the load balancer drains before SIGTERM")
        sleep = int(cmd[1])
    grace = d["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    long_poll = int(cm.get("RELAY__API__LONG_POLL_MAX_SECS", r.long_poll_max))
    require(grace >= 45, f"api terminationGracePeriodSeconds {grace} < 45")
    require(grace >= sleep + long_poll, f"api terminationGracePeriodSeconds {grace} < preStop {sleep}s + long-poll {long_poll}s")


def addr_port(addr, where):
    m = re.fullmatch(r".+:(\d+)", addr or "")
    require(m, f"{where} is {addr!r}, want host:port")
    return int(m.group(1))


def worker_probes(r):
    d = deployment(r, "recipe-relay-worker")
    c = container(d)
    addr = r.configmap_data().get("RELAY__WORKER__METRICS_ADDR", r.worker_metrics_addr)
    port = addr_port(addr, "worker.metrics_addr (config/base.toml or the ConfigMap)")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    require(ports.get("metrics") == port, f"worker container ports {ports}, want metrics: {port} (RELAY__WORKER__METRICS_ADDR)")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        require(get.get("path") == path, f"worker {probe} must be GET {path}, got {get.get('path')!r}")
        require(get.get("port") in ("metrics", port), f"worker {probe} port {get.get('port')!r} is not the metrics port")
    a = d["spec"]["template"]["metadata"].get("annotations") or {}
    require(a.get("prometheus.io/scrape") == "true", "worker pods need the annotation prometheus.io/scrape: \"true\"")
    require(str(a.get("prometheus.io/port")) == str(port), f"prometheus.io/port is {a.get('prometheus.io/port')!r}, want {port}")
    require(a.get("prometheus.io/path") == "/metrics", "prometheus.io/path must be /metrics")


def worker_grace(r):
    d = deployment(r, "recipe-relay-worker")
    grace = int(r.configmap_data().get("RELAY__WORKER__SHUTDOWN_GRACE_SECS", r.worker_grace))
    tgps = d["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    require(tgps >= grace + 10, f"terminationGracePeriodSeconds {tgps} must exceed shutdown_grace_secs {grace} by 10")


def config_variables(r):
    scaler_env = {t["metadata"].get("addressFromEnv") for _, so in r.kind("ScaledObject") for t in so["spec"]["triggers"]}
    for k in ("ConfigMap", "Secret"):
        require(r.kind(k), f"no {k}")
        for path, d in r.kind(k):
            data = dict(d.get("data") or {}, **(d.get("stringData") or {}))
            unknown = sorted(n for n in data if not r.binary_variable_ok(n) and n not in scaler_env)
            require(not unknown, f"{r.rel(path)}: nothing reads {', '.join(unknown)} (typo?)")
    for path, _ in r.kind("Secret"):
        require(path.endswith(".example"), f"{r.rel(path)}: the Secret must stay a template (*.example) that `kubectl apply -f deploy/k8s/` skips")


def references(r):
    svc = r.by_name("Service", "recipe-relay-api")
    require(svc, "no Service recipe-relay-api")
    api = deployment(r, "recipe-relay-api")
    require(labels_match(svc["spec"]["selector"], api["spec"]["template"]["metadata"]["labels"]), "the Service selects no api pod")
    c_ports = {p.get("name"): p["containerPort"] for p in container(api).get("ports", [])}
    for p in svc["spec"]["ports"]:
        require(p["targetPort"] in c_ports or p["targetPort"] in c_ports.values(), f"Service targetPort {p['targetPort']} is not an api port")
    svc_ports = {p.get("name") for p in svc["spec"]["ports"]} | {p["port"] for p in svc["spec"]["ports"]}
    require(r.kind("Ingress"), "no Ingress")
    for _, ing in r.kind("Ingress"):
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                backend = p["backend"]["service"]
                require(r.by_name("Service", backend["name"]), f"Ingress backend {backend['name']} is not a Service here")
                port = backend["port"].get("name", backend["port"].get("number"))
                require(port in svc_ports, f"Ingress backend port {port} is not a port of the Service")
    pods = [d["spec"]["template"]["metadata"]["labels"] for _, d in r.kind("Deployment")]
    covered = set()
    for _, pdb in r.kind("PodDisruptionBudget"):
        hits = [labels for labels in pods if labels_match(pdb["spec"]["selector"]["matchLabels"], labels)]
        require(hits, f"PodDisruptionBudget {pdb['metadata']['name']} selects no Deployment's pods")
        covered |= {labels.get("app.kubernetes.io/name") for labels in hits}
    require({"recipe-relay-api", "recipe-relay-worker"} <= covered, f"PodDisruptionBudgets cover {sorted(covered)}, want api and worker")


def ingress_timeouts(r):
    for _, ing in r.kind("Ingress"):
        a = ing["metadata"].get("annotations") or {}
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            value = a.get(f"nginx.ingress.kubernetes.io/{key}")
            require(value is not None and int(value) > max(r.ws_ping, r.long_poll_max), f"{key} is {value!r}, want more than the {r.ws_ping}s ping and the {r.long_poll_max}s long-poll")
        require(a.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off", 'proxy-buffering must be "off" for long-polls')


def routes(r):
    require(r.api_routes, "no route found in crates/api/src")
    paths = [(p["path"], p["pathType"]) for _, ing in r.kind("Ingress") for rule in ing["spec"]["rules"] for p in rule["http"]["paths"]]

    def routed(route):
        concrete = re.sub(r"\{[^}]+\}", "x", route)
        for path, path_type in paths:
            if path_type == "Exact" and concrete == path:
                return True
            if path_type in ("Prefix", "ImplementationSpecific"):
                base = path.rstrip("/")
                if concrete == base or concrete.startswith(base + "/"):
                    return True
        return False

    missing = [x for x in r.api_routes if not internal_route(x) and not routed(x)]
    leaked = [x for x in r.api_routes if internal_route(x) and routed(x)]
    require(not missing, f"not routed by deploy/k8s/ingress.yaml: {', '.join(missing)} (add a path, or list it in INTERNAL_ROUTES of scripts/check_deploy/repo.py)")
    require(not leaked, f"internal routes exposed by the Ingress: {', '.join(leaked)}")


def keda(r):
    objs = r.kind("ScaledObject")
    require(len(objs) == 1, f"want one ScaledObject, got {len(objs)}")
    so = objs[0][1]
    require(so["apiVersion"].startswith("keda.sh/"), f"apiVersion {so['apiVersion']}")
    target = so["spec"]["scaleTargetRef"]["name"]
    require(target == "recipe-relay-worker" and r.by_name("Deployment", target), f"scaleTargetRef {target} is not the worker Deployment")
    require(int(so["spec"].get("minReplicaCount", 0)) >= 1, "minReplicaCount must be at least 1: delayed retries and the reaper need a running worker")
    require(int(so["spec"].get("maxReplicaCount", 100)) >= int(so["spec"].get("minReplicaCount", 0)), "maxReplicaCount < minReplicaCount")
    cm = r.configmap_data()
    prefix = cm.get("RELAY__REDIS__KEY_PREFIX", r.key_prefix)
    require(prefix == r.key_prefix, f"the ConfigMap's key prefix {prefix!r} differs from config/base.toml's {r.key_prefix!r}")
    for t in so["spec"]["triggers"]:
        require(t["type"] == "redis", f"trigger type {t['type']}")
        m = t["metadata"]
        require(all(isinstance(v, str) for v in m.values()), "trigger metadata values must all be strings (KEDA's map[string]string)")
        require(m.get("listName") == f"{r.key_prefix}:queue", f"listName is {m.get('listName')!r}, want {r.key_prefix}:queue")
        require(str(m.get("listLength", "")).isdigit(), "listLength must be a number in a string")
        env = m.get("addressFromEnv")
        if env:
            require(env in cm, f"addressFromEnv {env} is not in the ConfigMap the worker loads")
            require(re.fullmatch(r"[^:/\s]+:\d+", cm[env]), f"{env} must be host:port, got {cm[env]!r}")
        else:
            require(m.get("address") or t.get("authenticationRef"), "the trigger has no Redis address")


CHECKS = [
    ("k8s: every document has apiVersion, kind, metadata.name and no namespace", documents),
    ("k8s: Deployments api (2 replicas) and worker: selectors, binaries, config, non-root user", deployments),
    ("k8s: api probes /readyz and /healthz exist, port = api port, preStop sleep, grace 45s", api_probes),
    ("k8s: worker probes /healthz and /readyz and is scraped on its metrics port (worker.metrics_addr)", worker_probes),
    ("k8s: worker terminationGracePeriodSeconds exceeds its drain (shutdown_grace_secs + 10)", worker_grace),
    ("k8s: ConfigMap and Secret template only name variables the binaries read", config_variables),
    ("k8s: Service, Ingress and PodDisruptionBudgets point at what exists", references),
    ("k8s: Ingress keeps sockets open (timeouts > ping, buffering off)", ingress_timeouts),
    ("k8s: every api route is routed by the Ingress, or internal / development-only", routes),
    ("k8s: KEDA ScaledObject scales the worker on <redis.key_prefix>:queue (config/base.toml)", keda),
]
