"""deploy/.env.example: the one .env both compose files and both binaries read."""

from urllib.parse import urlsplit

from .repo import interpolations
from .report import require


def compose_variables_in_env(r):
    missing = []
    for path, doc in ((r.infra_path, r.infra), (r.app_path, r.app)):
        for name, op in interpolations(doc):
            if name in r.env_values or (op in ("-", ":-") and name in r.env_commented):
                continue
            note = ", commented out in .env.example" if name in r.env_commented else ""
            missing.append(f"{name} ({r.rel(path)}{note})")
    require(not missing, "not set in .env.example: " + ", ".join(sorted(set(missing))))


def every_name_is_read(r):
    for name in ("REDIS_URL", "DATABASE_URL", "SUPABASE_JWT_SECRET", "MAIN_DOMAIN"):
        require(name in r.env_values, f"{name} is not set in .env.example")
    names = set(r.env_values) | r.env_commented
    unknown = sorted(n for n in names if not r.binary_variable_ok(n) and n not in r.compose_variables)
    require(not unknown, f"no binary or compose file reads {', '.join(unknown)} (typo?)")


def urls_point_at_services(r):
    services = set(r.infra.get("services") or {})
    redis = urlsplit(r.env_values["REDIS_URL"])
    require(redis.scheme == "redis" and redis.hostname in services, f"REDIS_URL host {redis.hostname!r} is not a service of the infrastructure file")
    db = urlsplit(r.env_values["DATABASE_URL"])
    require(db.scheme in ("postgres", "postgresql") and db.hostname in services, f"DATABASE_URL host {db.hostname!r} is not a service of the infrastructure file")
    require(db.username == r.env_values.get("POSTGRES_USER", "postgres"), "DATABASE_URL's user is not POSTGRES_USER")
    require(db.password == r.env_values.get("POSTGRES_PASSWORD"), "DATABASE_URL's password is not POSTGRES_PASSWORD")
    require(db.path.lstrip("/") == r.env_values.get("POSTGRES_DB", db.username), "DATABASE_URL's database is not POSTGRES_DB")


CHECKS = [
    ("every ${VAR} in the compose files is in deploy/.env.example", compose_variables_in_env),
    (".env.example: the guide's variables are there, every name is read by a binary or a compose file", every_name_is_read),
    (".env.example: REDIS_URL and DATABASE_URL point at the infrastructure services", urls_point_at_services),
]
