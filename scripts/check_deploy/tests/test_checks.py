"""Each invariant, proved to fail on a copy of the deploy files broken in one place; and every
check, including the external validators, passing on the files as they are."""

import io
import os
import shutil

import pytest

from check_deploy import __main__ as cli
from check_deploy import compose, dockerfile, env, k8s, nginx, prometheus, tools
from check_deploy.report import Failed, Report

INFRA = "deploy/docker-compose.infrastructure.yml"
APP = "deploy/docker-compose.app.yml"
LOCATION = "deploy/nginx/vhost.d/MAIN_DOMAIN_location"

# (file, text there, broken text, the check that must fail, words of its message)
BROKEN = [
    ("deploy/redis.conf", "appendonly yes", "appendonly no", compose.redis_durability, "appendonly is 'no'"),
    (INFRA, "      - ${REDIS_MAXMEMORY:-512mb}", "      - ${REDIS_MAXMEMORY:-512mb}\n      - --appendfsync\n      - always", compose.redis_durability, "appendfsync is 'always'"),
    ("deploy/redis.conf", "maxmemory-policy noeviction", "maxmemory-policy allkeys-lru", compose.redis_durability, "maxmemory-policy"),
    (INFRA, "postgres:16-alpine", "postgres:14-alpine", compose.postgres, "postgres:15 or newer"),
    (INFRA, "      - redis-data:/data", "      - redis-store:/data", compose.infrastructure_services, "not declared under volumes"),
    (INFRA, "    restart: unless-stopped\n    logging: &logging", "    restart: \"no\"\n    logging: &logging", compose.infrastructure_services, "restart is 'no'"),
    (INFRA, "    name: recipe-relay\n    driver: bridge", "    external: true", compose.infrastructure_services, "must be created here"),
    (APP, "command: [\"worker\"]", "command: [\"wrker\"]", compose.app_services, "does not run the `worker` binary"),
    (APP, "  env_file:\n    - .env", "  env_file:\n    - prod.env", compose.app_services, "want .env"),
    (APP, "    name: recipe-relay\n    external: true", "    name: recipe-relay\n    external: false", compose.app_networks, "external: true"),
    (APP, "      - recipe-relay\n      - proxy", "      - recipe-relay", compose.app_networks, "nginx-proxy's (external) network"),
    (APP, "VIRTUAL_PORT: \"8000\"", "VIRTUAL_PORT: \"8080\"", compose.nginx_proxy_variables, "is not the api port 8000"),
    (APP, "LETSENCRYPT_HOST: ${MAIN_DOMAIN:?set MAIN_DOMAIN in .env}", "LETSENCRYPT_HOST: recipes.example.com", compose.nginx_proxy_variables, "LETSENCRYPT_HOST"),
    (APP, "stop_grace_period: 40s", "stop_grace_period: 20s", compose.stop_grace, "worker stop_grace_period 20s"),
    (APP, "stop_grace_period: 45s", "stop_grace_period: 30s", compose.stop_grace, "api stop_grace_period 30s"),
    (APP, "${RELAY_IMAGE:-recipe-relay:latest}", "${RELAY_IMAGE_TAG}", env.compose_variables_in_env, "RELAY_IMAGE_TAG"),
    ("deploy/.env.example", "REDIS_MAXMEMORY=512mb", "REDIS_MAXMEMORY=512mb\nRELAY__API__PROT=8000", env.every_name_is_read, "RELAY__API__PROT"),
    ("deploy/.env.example", "REDIS_URL=redis://redis:6379/0", "REDIS_URL=redis://localhost:6379/0", env.urls_point_at_services, "REDIS_URL host 'localhost'"),
    ("deploy/.env.example", "POSTGRES_PASSWORD=change-me", "POSTGRES_PASSWORD=other-", env.urls_point_at_services, "password is not POSTGRES_PASSWORD"),
    ("deploy/Dockerfile", "USER 10001:10001", "USER root", dockerfile.images_and_user, "numeric non-root uid"),
    ("deploy/Dockerfile", "ARG RUNTIME_IMAGE=debian:bookworm-slim", "ARG RUNTIME_IMAGE=ubuntu:24.04", dockerfile.images_and_user, "want debian:bookworm-slim"),
    ("deploy/Dockerfile", "--bin api --bin worker", "--bin api --bin wrker", dockerfile.built_binaries, "wrker"),
    ("deploy/Dockerfile", "COPY config/ /app/config/", "COPY conf/ /app/config/", dockerfile.copy_sources, "COPY conf/: no such path"),
    (".dockerignore", "target/\n**/target/\n", "", dockerfile.copy_sources, "does not exclude target"),
    ("deploy/Dockerfile", "EXPOSE 8000", "EXPOSE 8080", k8s.api_probes, "is not the Dockerfile's EXPOSE"),
    ("deploy/k8s/api.yaml", "  replicas: 2", "  replicas: 3", k8s.deployments, "want replicas: 2"),
    ("deploy/k8s/api.yaml", "runAsNonRoot: true", "runAsNonRoot: false", k8s.deployments, "runAsNonRoot must be true"),
    ("deploy/k8s/api.yaml", "path: /readyz", "path: /ready", k8s.api_probes, "readinessProbe must be GET /readyz"),
    ("deploy/k8s/api.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30", k8s.api_probes, "terminationGracePeriodSeconds 30 < 45"),
    ("deploy/k8s/worker.yaml", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 20", k8s.worker_grace, "must exceed shutdown_grace_secs"),
    ("deploy/k8s/worker.yaml", "containerPort: 9091", "containerPort: 9090", k8s.worker_probes, "want metrics: 9091"),
    ("deploy/k8s/worker.yaml", "path: /readyz", "path: /healthz", k8s.worker_probes, "readinessProbe must be GET /readyz"),
    ("deploy/k8s/worker.yaml", "prometheus.io/port: \"9091\"", "prometheus.io/port: \"8000\"", k8s.worker_probes, "want 9091"),
    (APP, "\"relay-healthcheck\", \"/healthz\", \"9091\"", "\"relay-healthcheck\", \"/healthz\"", compose.worker_healthcheck, "want /healthz on the metrics port 9091"),
    (APP, "      - \"9091\"", "      - \"9092\"", compose.worker_healthcheck, "does not expose its metrics port 9091"),
    ("deploy/grafana/recipe-relay.json", "relay_queue_wait_seconds_bucket", "relay_queue_waiting_seconds_bucket", prometheus.dashboards, "documents no relay_queue_waiting_seconds_bucket"),
    ("deploy/grafana/recipe-relay.json", "\"uid\": \"${datasource}\"", "\"uid\": \"prometheus-main\"", prometheus.dashboards, "want the variable ${datasource}"),
    ("deploy/grafana/recipe-relay.json", "\"title\": \"recipe-relay\",", "\"title\": \"recipe-relay\"", prometheus.dashboards, "not JSON"),
    ("deploy/k8s/ingress.yaml", "proxy-read-timeout: \"3600\"", "proxy-read-timeout: \"20\"", k8s.ingress_timeouts, "proxy-read-timeout is '20'"),
    ("deploy/k8s/ingress.yaml", "path: /task/", "path: /tasks/", k8s.routes, "/task/{task_id}"),
    ("deploy/k8s/keda/worker-scaledobject.yaml", "listName: relay:queue", "listName: relay:jobs", k8s.keda, "want relay:queue"),
    (LOCATION, "proxy_read_timeout 120s;", "proxy_read_timeout 60s;", nginx.location_timeouts, "proxy_read_timeout 60s"),
    (LOCATION, "proxy_buffering off;", "proxy_buffering on;", nginx.location_timeouts, "proxy_buffering off is missing"),
    (LOCATION, "location = /metrics {", "location = /metrix {", nginx.location_timeouts, "/metrics is not kept private"),
    ("deploy/nginx/conf.d/recipe-relay-log.conf", "$request_method $uri", "$request", nginx.log_format_redacts, "$request"),
    ("deploy/healthcheck", "    exit 0\nfi", "    exit 0\n", nginx.healthcheck_script, "syntax error"),
]


@pytest.mark.parametrize(("rel", "old", "new", "check", "words"), BROKEN, ids=[f"{c.__module__.split('.')[-1]}.{c.__name__}:{n}" for _, _, n, c, _ in BROKEN])
def test_an_invariant_fails_on_a_file_broken_against_it(copy, rel, old, new, check, words):
    assert check(copy.repo()) is None, "the check passes on the unbroken copy"
    copy.edit(rel, old, new)
    with pytest.raises(Failed) as failure:
        check(copy.repo())
    assert words in str(failure.value)


def test_a_duplicate_yaml_key_fails_the_parse_check(copy):
    copy.edit("deploy/k8s/api.yaml", "  replicas: 2", "  replicas: 2\n  replicas: 3")
    with pytest.raises(Failed, match="duplicate key 'replicas'"):
        cli.yaml_parses(copy.repo())


def test_a_missing_deploy_file_fails(copy):
    os.remove(copy.path("deploy/redis.conf"))
    with pytest.raises(Failed, match="deploy/redis.conf"):
        cli.files_exist(copy.repo())


def test_a_route_the_ingress_does_not_know_fails(copy):
    # A new api route is caught through the api's sources, not a list in the checker.
    copy.edit("deploy/k8s/ingress.yaml", "path: /shopping-list", "path: /shopping")
    with pytest.raises(Failed, match="/shopping-list"):
        k8s.routes(copy.repo())


# --- the external validators, on files each of them rejects ---------------------------------


def test_the_compose_schema_rejects_an_unknown_service_key(copy):
    copy.edit(APP, "    stop_grace_period: 40s", "    stop_grace_period: 40s\n    restart_policy: always")
    with pytest.raises(Failed, match="restart_policy"):
        tools.compose_schema(copy.repo())


def test_nginx_t_rejects_an_unknown_directive(copy):
    copy.edit(LOCATION, "proxy_buffering off;", "proxy_bufering off;")
    with pytest.raises(Failed, match="proxy_bufering"):
        tools.nginx_t(copy.repo())


def test_nginx_t_checks_the_optional_access_log_against_its_format(copy):
    copy.edit(LOCATION, "access.log relay_redacted;", "access.log relay_missing;")
    with pytest.raises(Failed, match="relay_missing"):
        tools.nginx_t(copy.repo())


def test_shellcheck_reads_every_shell_script_in_scripts(copy):
    # A new script is found by its shebang, not by a list.
    copy.write("scripts/new-tool", "#!/usr/bin/env bash\nrm -rf $1/*\n")
    with pytest.raises(Failed, match="SC2086"):
        tools.shellcheck(copy.repo())


def test_shellcheck_also_reads_the_healthcheck(copy):
    copy.edit("deploy/healthcheck", 'path=${1:-/readyz}', 'path=${1:-/readyz}\necho $path')
    with pytest.raises(Failed, match="healthcheck.*SC2086"):
        tools.shellcheck(copy.repo())


def test_hadolint_rejects_a_relative_workdir(copy):
    copy.edit("deploy/Dockerfile", "WORKDIR /app", "WORKDIR app")
    with pytest.raises(Failed, match="DL3000"):
        tools.hadolint(copy.repo())


def test_kubernetes_validate_rejects_a_misspelt_field(copy):
    copy.edit("deploy/k8s/api.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSecond: 45")
    with pytest.raises(Failed, match="terminationGracePeriodSecond"):
        tools.kubernetes_validate(copy.repo())


def test_kubernetes_validate_reads_the_secret_template(copy):
    copy.edit("deploy/k8s/secret.yaml.example", "stringData:", "stringDatum:")
    with pytest.raises(Failed, match="stringDatum"):
        tools.kubernetes_validate(copy.repo())


def test_promtool_counts_zero_rule_files_as_ok(copy):
    shutil.rmtree(copy.path("deploy/prometheus"))
    assert tools.promtool(copy.repo()) == "0 rule files under deploy/prometheus/"


def test_promtool_check_rules_rejects_a_broken_expression(copy):
    copy.edit("deploy/prometheus/relay-alerts.yml", "expr: absent(relay_queue_depth)", "expr: absent(relay_queue_depth")
    with pytest.raises(Failed, match="relay-alerts.yml"):
        tools.promtool(copy.repo())


def test_promtool_test_rules_fails_when_an_alert_no_longer_fires_as_tested(copy):
    copy.edit("deploy/prometheus/relay-alerts.yml", "[15m:1m]) > 50", "[15m:1m]) > 70")
    with pytest.raises(Failed, match="RelayQueueGrowing"):
        tools.promtool(copy.repo())


def test_a_rule_over_a_series_the_docs_do_not_list_fails(copy):
    copy.edit("deploy/prometheus/relay-alerts.yml", "relay_lease_losses_total", "relay_leases_lost_total")
    with pytest.raises(Failed, match=r"relay_leases_lost_total \(RelayLeaseLosses\)"):
        prometheus.rules_name_documented_series(copy.repo())


def test_once_the_gateway_table_exists_only_its_series_count(copy):
    copy.edit("docs/operations.md", "## Worker metrics", "## Gateway metrics\n\n| `relay_ws_open_sockets` | gauge | | |\n\n## Worker metrics")
    with pytest.raises(Failed, match="relay_http_request_duration_seconds"):
        prometheus.rules_name_documented_series(copy.repo())


def test_a_missing_tool_is_a_failure_naming_the_install_not_a_skip(monkeypatch, copy):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(tools.os, "access", lambda path, mode: False)
    with pytest.raises(Failed, match="nginx is not installed.*apt-get install -y nginx"):
        tools.nginx_t(copy.repo())


# --- the whole run ---------------------------------------------------------------------------


def test_every_check_passes_on_the_repository_as_it_is(copy):
    out = io.StringIO()
    report = cli.check(copy.root, out)
    assert report.failed == [], out.getvalue()
    assert "skip" not in out.getvalue().lower()
    assert report.ok == len(cli.all_checks())


def test_one_broken_file_fails_the_run_and_names_the_check(copy):
    copy.edit(LOCATION, "proxy_read_timeout 120s;", "proxy_read_timeout 30s;")
    out = io.StringIO()
    report = cli.check(copy.root, out)
    assert len(report.failed) == 1, out.getvalue()
    assert "FAIL  nginx vhost.d snippet" in out.getvalue()


def test_an_unexpected_shape_is_a_failure_line_not_a_crash():
    out = io.StringIO()
    report = Report(out)
    report.run("shape", lambda: {}["services"])
    assert report.failed == ["shape"]
    assert "FAIL  shape: KeyError" in out.getvalue()
