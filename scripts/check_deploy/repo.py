"""The repository as the checks see it: the deploy files, parsed once, and the facts of the
workspace they must agree with (config/base.toml, crates/settings, the api's routes, the
workspace's bin targets). Everything is read from `root`, so the tests can point it at a copy."""

import glob
import os
import re
import tomllib

import yaml

from .report import require


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`; overriding a merged key is allowed
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=UniqueKeyLoader) if d is not None]


def load_toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def parse_env_file(path):
    """.env lines: KEY=VALUE (set) and `# KEY=...` (documented, commented out)."""
    values, commented = {}, set()
    for line in read(path).splitlines():
        s = line.strip()
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", s)
        if m:
            require(m.group(1) not in values, f"{os.path.basename(path)}: {m.group(1)} is set twice")
            values[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^#\s*([A-Z_][A-Z0-9_]*)=", s)
        if m:
            commented.add(m.group(1))
    return values, commented


def duration_secs(value):
    """Compose durations ("40s", "1m30s") or plain seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", str(value))
    require(parts and "".join(a + b for a, b in parts) == str(value), f"unreadable duration {value!r}")
    unit = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * unit[u] for n, u in parts)


def strings_in(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_in(v)


INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolations(doc):
    """(name, operator) of every ${VAR} / $VAR in the values of a compose file ($$ escapes)."""
    found = []
    for s in strings_in(doc):
        for m in INTERPOLATION.finditer(s.replace("$$", "")):
            found.append((m.group(1) or m.group(4), m.group(2) or ""))
    return found


def env_map(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def service_networks(service):
    nets = service.get("networks") or []
    return list(nets) if isinstance(nets, (list, dict)) else []


# Routes the public proxy must not serve, by path prefix, with the reason.
INTERNAL_ROUTES = {
    "/metrics": "internal: Prometheus scrapes the pods",
    "/readyz": "internal: the kubelet probes the pods",
    "/demo": "development only (api.demo_enabled, off in production)",
    "/dev": "development only (api.dev_mode, off in production)",
    "/admin": "operators only (admin.enabled, off by default): reach it with kubectl port-forward",
}

# Secret settings: no default in config/base.toml (secrets never live in files), set only by
# their RELAY__ variable.
SECRET_SETTINGS = {"RELAY__ADMIN__TOKEN"}

# Variables the binaries read directly that the settings source does not spell `env("...")`.
DIRECT_VARIABLES = {"APP_ENVIRONMENT", "RELAY_CONFIG_DIR", "RUST_LOG"}


def internal_route(route):
    return any(route == p or route.startswith(p.rstrip("/") + "/") for p in INTERNAL_ROUTES)


class Repo:
    """The files under `root` the checks read, parsed once."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.deploy = os.path.join(self.root, "deploy")
        d = self.deploy
        self.infra_path = os.path.join(d, "docker-compose.infrastructure.yml")
        self.app_path = os.path.join(d, "docker-compose.app.yml")
        self.env_example = os.path.join(d, ".env.example")
        self.dockerfile = os.path.join(d, "Dockerfile")
        self.k8s = os.path.join(d, "k8s")
        self.location = os.path.join(d, "nginx", "vhost.d", "MAIN_DOMAIN_location")
        self.log_conf = os.path.join(d, "nginx", "conf.d", "recipe-relay-log.conf")
        self.redis_conf = os.path.join(d, "redis.conf")
        self.healthcheck = os.path.join(d, "healthcheck")
        self.prometheus = os.path.join(d, "prometheus")
        self.grafana = os.path.join(d, "grafana")
        self.operations = os.path.join(self.root, "docs", "operations.md")
        self.required = [self.infra_path, self.app_path, self.env_example, self.dockerfile,
                         self.location, self.redis_conf, self.healthcheck]

        # Facts from the workspace: the single sources the deploy files must agree with.
        self.base = load_toml(os.path.join(self.root, "config", "base.toml"))
        self.key_prefix = self.base["redis"]["key_prefix"]
        self.api_port = int(self.base["api"]["port"])
        self.worker_grace = int(self.base["worker"]["shutdown_grace_secs"])
        self.worker_metrics_addr = str(self.base["worker"].get("metrics_addr", ""))
        self.long_poll_max = int(self.base["api"]["long_poll_max_secs"])
        self.ws_ping = int(self.base["api"]["ws_ping_secs"])
        settings_src = read(os.path.join(self.root, "crates", "settings", "src", "lib.rs"))
        self.seed_variables = dict(re.findall(r'\("([A-Z][A-Z0-9_]*)",\s*"([a-z_]+\.[a-z_]+)"\)', settings_src))
        # Read by name (`env("PORT")`): APP_ENVIRONMENT, RELAY_CONFIG_DIR, the platform's PORT.
        self.direct_variables = DIRECT_VARIABLES | set(re.findall(r'\benv\("([A-Z][A-Z0-9_]*)"\)', settings_src))
        self.bins = self._workspace_bins()
        self.api_routes = self._api_routes()

        # The deploy files. A YAML file that does not parse is recorded, not raised: the parse
        # check reports it and the other checks see an empty document.
        self.yaml_files = []
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames.sort()
            self.yaml_files += [os.path.join(dirpath, n) for n in sorted(filenames) if re.search(r"\.ya?ml(\.example)?$", n)]
        self.docs, self.yaml_errors = {}, []
        for path in self.yaml_files:
            try:
                self.docs[path] = load_yaml_docs(path)
            except (yaml.YAMLError, OSError) as e:
                self.yaml_errors.append(f"{self.rel(path)}: {' '.join(str(e).split())}")
        self.infra = (self.docs.get(self.infra_path) or [{}])[0]
        self.app = (self.docs.get(self.app_path) or [{}])[0]
        if os.path.isfile(self.env_example):
            self.env_values, self.env_commented = parse_env_file(self.env_example)
        else:
            self.env_values, self.env_commented = {}, set()
        self.k8s_docs = [(p, doc) for p in self.yaml_files if p.startswith(self.k8s + os.sep) for doc in self.docs.get(p, [])]
        self.compose_variables = {name for doc in (self.infra, self.app) for name, _ in interpolations(doc)}

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def effective(self, name, default):
        """A setting's value in the compose deployment: .env.example if set there, else the default."""
        return self.env_values.get(name) or default

    # --- variables ---------------------------------------------------------------------------

    def relay_variable_ok(self, name):
        """RELAY__SECTION__KEY naming a setting of config/base.toml (or a seed-backed one)."""
        m = re.fullmatch(r"RELAY__([A-Z0-9_]+?)__([A-Z0-9_]+)", name)
        if not m:
            return False
        section, key = m.group(1).lower(), m.group(2).lower()
        return (isinstance(self.base.get(section), dict) and key in self.base[section]) or (
            f"{section}.{key}" in self.seed_variables.values()
        )

    def binary_variable_ok(self, name):
        return (name in self.seed_variables or name in self.direct_variables or name in SECRET_SETTINGS
                or self.relay_variable_ok(name))

    # --- workspace ---------------------------------------------------------------------------

    def _workspace_bins(self):
        """bin target name -> crate folder, for every workspace member."""
        manifest = load_toml(os.path.join(self.root, "Cargo.toml"))
        members = []
        for pattern in manifest.get("workspace", {}).get("members", []):
            members += [p for p in sorted(glob.glob(os.path.join(self.root, pattern))) if os.path.isfile(os.path.join(p, "Cargo.toml"))]
        bins = {}
        for member in members:
            crate = load_toml(os.path.join(member, "Cargo.toml"))
            package = crate.get("package", {}).get("name")
            autobins = crate.get("package", {}).get("autobins", True)
            for b in crate.get("bin", []) or []:
                bins[b["name"]] = member
            if autobins and package and os.path.isfile(os.path.join(member, "src", "main.rs")):
                bins.setdefault(package, member)
            bin_dir = os.path.join(member, "src", "bin")
            if autobins and os.path.isdir(bin_dir):
                for entry in os.listdir(bin_dir):
                    path = os.path.join(bin_dir, entry)
                    if entry.endswith(".rs") and os.path.isfile(path):
                        bins.setdefault(entry[:-3], member)
                    elif os.path.isfile(os.path.join(path, "main.rs")):
                        bins.setdefault(entry, member)
        return bins

    def _api_routes(self):
        """Every path the api registers: `.route("/...")`, `.route(CONST, ...)` or a
        `resource("/...")` (actix's `web::resource` or the api's `routes::resource`)."""
        src = os.path.join(self.root, "crates", "api", "src")
        texts = []
        for dirpath, _, filenames in os.walk(src):
            texts += [read(os.path.join(dirpath, f)) for f in sorted(filenames) if f.endswith(".rs")]
        text = "\n".join(texts)
        consts = dict(re.findall(r'const\s+([A-Z][A-Z0-9_]*)\s*:\s*&str\s*=\s*"(/[^"]*)"', text))
        return sorted(
            set(re.findall(r'(?:\.route|\bresource)\(\s*"(/[^"]*)"', text))
            | {consts[c] for c in re.findall(r"\.route\(\s*([A-Z][A-Z0-9_]*)\s*,", text) if c in consts}
        )

    # --- Dockerfile --------------------------------------------------------------------------

    def dockerfile_instructions(self):
        lines, current = [], ""
        for raw in read(self.dockerfile).splitlines():
            s = raw.strip()
            if s.startswith("#") or (not current and not s):
                continue
            if s.endswith("\\"):
                current += s[:-1] + " "
                continue
            current += s
            word, _, rest = current.partition(" ")
            lines.append((word.upper(), rest.strip()))
            current = ""
        return lines

    def dockerfile_expose(self):
        ports = [int(re.match(r"\d+", rest).group()) for word, rest in self.dockerfile_instructions() if word == "EXPOSE"]
        require(len(ports) == 1, f"want exactly one EXPOSE, got {ports}")
        return ports[0]

    def dockerfile_user(self):
        users = [rest for word, rest in self.dockerfile_instructions() if word == "USER"]
        require(users, "no USER")
        return users[-1]

    def dockerignore_patterns(self):
        path = os.path.join(self.root, ".dockerignore")
        require(os.path.isfile(path), ".dockerignore is missing at the repository root")
        patterns = [line.strip() for line in read(path).splitlines() if line.strip() and not line.strip().startswith("#")]
        return [p.rstrip("/").replace("**/", "") for p in patterns if not p.startswith("!")]

    # --- Kubernetes --------------------------------------------------------------------------

    def kind(self, k):
        return [(p, d) for p, d in self.k8s_docs if isinstance(d, dict) and d.get("kind") == k]

    def by_name(self, k, name):
        return next((d for _, d in self.kind(k) if d["metadata"]["name"] == name), None)

    def configmap_data(self):
        return (self.by_name("ConfigMap", "recipe-relay-config") or {"data": {}}).get("data") or {}
