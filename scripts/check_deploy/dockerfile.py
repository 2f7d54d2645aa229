"""deploy/Dockerfile and the build context it sees (.dockerignore)."""

import fnmatch
import os
import re

from .repo import read
from .report import require


def images_and_user(r):
    ins = r.dockerfile_instructions()
    args = {}
    for word, rest in ins:
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args.setdefault(k.strip(), v.strip())
    froms = [
        re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), rest.split()[0])
        for word, rest in ins
        if word == "FROM"
    ]
    require(froms, "no FROM")
    require("rust:1-bookworm" in froms, f"no rust:1-bookworm stage (FROM {froms})")
    require(froms[-1] == "debian:bookworm-slim", f"the final stage is FROM {froms[-1]}, want debian:bookworm-slim")
    user = r.dockerfile_user().split(":")[0]
    require(user.isdigit() and int(user) != 0, f"USER {user!r}: want a numeric non-root uid (Kubernetes runAsNonRoot checks it)")
    envs = " ".join(rest for word, rest in ins if word == "ENV")
    require(re.search(r"\bAPP_ENVIRONMENT=production\b", envs), "ENV APP_ENVIRONMENT=production is missing")
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    require("ca-certificates" in runs, "ca-certificates is not installed in the runtime image")
    require(any(word in ("CMD", "ENTRYPOINT") for word, _ in ins), "no CMD/ENTRYPOINT")


def built_binaries(r):
    runs = " ".join(rest for word, rest in r.dockerfile_instructions() if word == "RUN")
    built = re.findall(r"--bin\s+([A-Za-z0-9_-]+)", runs)
    require(set(built) == {"api", "worker"}, f"the Dockerfile builds {built}, want api and worker")
    for b in built:
        require(b in r.bins, f"no workspace crate has a bin target `{b}` (found {sorted(r.bins)})")
        require(re.search(rf"target/release/{b}\b", runs), f"target/release/{b} is not copied out of the builder")


def _ignored_by(plain, path):
    return next((p for p in plain if fnmatch.fnmatch(path, p) or path.startswith(p + "/")), None)


def copy_sources(r):
    plain = r.dockerignore_patterns()
    for want in ("target", ".data", ".git", "node_modules"):
        require(any(fnmatch.fnmatch(want, p) for p in plain), f".dockerignore does not exclude {want}")
    sources = []
    for word, rest in r.dockerfile_instructions():
        if word == "COPY" and "--from=" not in rest:
            sources += [p for p in rest.split() if not p.startswith("--")][:-1]
    require(sources, "no COPY from the build context")
    for src in sources:
        path = src.rstrip("/")
        if path == ".":
            for needed in ("Cargo.toml", "Cargo.lock", "crates", "config"):
                require(not _ignored_by(plain, needed), f".dockerignore excludes {needed}, which the build needs")
            continue
        require(os.path.exists(os.path.join(r.root, path)), f"COPY {src}: no such path in the repository")
        require(not _ignored_by(plain, path), f"COPY {src}: excluded by .dockerignore ({_ignored_by(plain, path)})")


def embedded_files(r):
    plain = r.dockerignore_patterns()
    embedded = 0
    for dirpath, dirnames, filenames in os.walk(os.path.join(r.root, "crates"), followlinks=True):
        dirnames[:] = [d for d in dirnames if d != "target"]
        for name in filenames:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            for lit in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)', read(path)):
                target = os.path.relpath(os.path.normpath(os.path.join(dirpath, lit)), r.root)
                embedded += 1
                p = _ignored_by(plain, target)
                require(not p, f"{r.rel(path)} embeds {target}, which .dockerignore ({p}) keeps out of the build")
    require(embedded, "found no include_str!/include_bytes! at all (is the scan broken?)")


CHECKS = [
    ("Dockerfile: rust:1-bookworm builder, debian:bookworm-slim runtime, non-root numeric USER, production", images_and_user),
    ("Dockerfile: the binaries it builds (--bin) are bin targets of the workspace: api, worker", built_binaries),
    ("Dockerfile: COPY sources exist, .dockerignore keeps them and drops target/.data/.git/node_modules", copy_sources),
    ("Docker build context: files the crates embed (include_str!/include_bytes!) are not .dockerignored", embedded_files),
]
