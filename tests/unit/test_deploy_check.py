"""The static checker of deploy/ and docker-compose.yml (`python -m deploy.check`)."""

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from deploy.check import (
    ROOT,
    check_compose,
    check_dockerfile,
    check_k8s_doc,
    check_rule_tests,
    run,
)
from deploy.check_k8s import check_k8s_tree
from deploy.check_realm import check_realm

REALM_FILE = ROOT / "deploy" / "keycloak" / "ordering-realm.json"


def test_the_repository_deploy_files_are_valid() -> None:
    count, problems = run(ROOT)

    assert problems == []
    assert count > 5


def test_depends_on_an_undefined_service_is_reported(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n"
        "  api:\n"
        "    image: example/api:1\n"
        "    healthcheck: {test: [CMD, 'true']}\n"
        "    depends_on:\n"
        "      db: {condition: service_healthy}\n"
    )

    problems = check_compose(yaml.safe_load(compose.read_text()), tmp_path)

    assert problems == ["docker-compose.yml: service 'api': depends on undefined service 'db'"]


def test_a_missing_bind_mount_and_the_version_key_are_reported(tmp_path: Path) -> None:
    data = {
        "version": "3.8",
        "services": {"db": {"image": "postgres:17", "volumes": ["./nowhere:/data"]}},
    }

    problems = check_compose(data, tmp_path)

    assert any("version" in p for p in problems)
    assert any("'./nowhere' does not exist" in p for p in problems)
    assert any("without a healthcheck" in p for p in problems)


def test_a_root_image_with_dev_dependencies_is_reported(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11-slim\nCOPY missing.txt /app/\nRUN uv sync --frozen --group dev\n"
    )

    problems = "\n".join(check_dockerfile(dockerfile, tmp_path))

    for expected in ("runs as root", "no HEALTHCHECK", "dev/test dependency", "'missing.txt'"):
        assert expected in problems


def test_a_committed_secret_and_a_deployment_without_probes_are_reported() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "e"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
    }

    assert check_k8s_doc(secret, "x.yaml") == [
        "x.yaml (Secret s): Secret with values committed to the repository"
    ]
    problems = "\n".join(check_k8s_doc(deployment, "x.yaml"))
    for expected in ("resources", "readinessProbe", "livenessProbe"):
        assert f"missing {expected}" in problems


def test_an_alert_without_a_firing_case_and_a_missing_rule_file_are_reported(
    tmp_path: Path,
) -> None:
    (tmp_path / "alerts.yml").write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - {alert: Tested, expr: up == 0}\n      - {alert: Untested, expr: up == 0}\n"
    )
    cases = {
        "rule_files": ["alerts.yml", "missing.yml"],
        "tests": [
            {
                "input_series": [{"series": "up", "values": "0x5"}],
                "alert_rule_test": [
                    {"eval_time": "1m", "alertname": "Tested", "exp_alerts": [{}]},
                    {"eval_time": "1m", "alertname": "Untested", "exp_alerts": []},
                ],
            },
            {"alert_rule_test": []},
        ],
    }

    problems = check_rule_tests(cases, tmp_path / "alerts.test.yml", tmp_path)

    assert problems == [
        "alerts.test.yml: a test without input_series",
        "alerts.test.yml: rule file 'missing.yml' does not exist",
        "alerts.test.yml: no case where Untested fires",
    ]


# --- compose: what the infrastructure publishes, secrets, the services' auth settings ----------


def test_infrastructure_published_beyond_loopback_is_reported() -> None:
    healthy = {"test": ["CMD", "true"]}
    ports = ["127.0.0.1:5432:5432", "[::1]:5433:5433", "9092:9092", "27017", "${PORT:-1}:1"]
    data = {
        "services": {
            "db": {"image": "postgres:17", "healthcheck": healthy, "ports": ports},
            "cache": {"image": "x", "healthcheck": healthy, "ports": [{"target": 6379}]},
        }
    }

    problems = check_compose(data, ROOT)

    assert problems == [
        "docker-compose.yml: service 'db': publishes '9092:9092' on every interface; "
        "bind it to 127.0.0.1",
        "docker-compose.yml: service 'db': publishes '27017' on every interface; "
        "bind it to 127.0.0.1",
        "docker-compose.yml: service 'db': publishes '${PORT:-1}:1' on every interface; "
        "bind it to 127.0.0.1",
        "docker-compose.yml: service 'cache': publishes {'target': 6379} on every interface; "
        "bind it to 127.0.0.1",
    ]


def test_a_written_in_secret_and_a_service_without_auth_settings_are_reported() -> None:
    build = {"context": ".", "dockerfile": "deploy/docker/Dockerfile", "target": "read-service"}
    data = {
        "services": {
            "read": {
                "build": build,
                "environment": {"AUTH_CLIENT_SECRET": "hunter2", "DB_PASSWORD": "${DB:-dev}"},
            }
        }
    }

    problems = "\n".join(check_compose(data, ROOT))

    assert "AUTH_CLIENT_SECRET is written in" in problems
    assert "DB_PASSWORD" not in problems
    assert "has neither AUTH_ISSUER and AUTH_AUDIENCE nor AUTH_DISABLED=true" in problems


def test_services_expecting_another_issuer_than_the_realms_are_reported(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / ".env.example").touch()
    keycloak = compose["services"]["keycloak"]
    del keycloak["environment"]["READ_SERVICE_CLIENT_SECRET"]
    compose["services"]["write-service"]["environment"]["AUTH_ISSUER"] = (
        "http://keycloak:8080/realms/other"
    )

    problems = check_compose(compose, tmp_path)

    assert problems == [
        "docker-compose.yml: service 'keycloak': ordering-realm.json needs "
        "READ_SERVICE_CLIENT_SECRET in its environment",
        "docker-compose.yml: service 'write-service': AUTH_ISSUER is not the realm's issuer "
        "http://keycloak:8080/realms/ordering",
    ]


# --- the Keycloak realm ----------------------------------------------------------------------


def realm() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REALM_FILE.read_text())
    return copy.deepcopy(data)


def client(data: dict[str, Any], client_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in data["clients"] if c["clientId"] == client_id)
    return found


def test_the_repository_realm_is_valid() -> None:
    assert check_realm(realm(), "realm.json") == []


def test_a_realm_with_wrong_clients_and_scopes_is_reported() -> None:
    data = realm()
    data["clientScopes"] = [s for s in data["clientScopes"] if s["name"] != "ordering:operate"]
    reader = client(data, "read-service")
    reader["defaultClientScopes"] = ["basic", "ordering:events", "ordering:command"]
    reader["secret"] = "a-real-secret"
    client(data, "back-office")["publicClient"] = True

    problems = check_realm(data, "realm.json")

    assert problems == [
        "realm.json: no client scope 'ordering:operate'",
        "realm.json: client 'read-service' tokens may carry ['ordering:command', "
        "'ordering:events'], not ['ordering:events', 'ordering:operate']",
        "realm.json: client 'read-service' tokens lack the audience 'ordering'",
        "realm.json: client 'back-office' is not confidential with a service account",
        "realm.json: client 'back-office' tokens may carry ['ordering:command', 'ordering:events', "
        "'ordering:query'], not ['ordering:command', 'ordering:events', 'ordering:operate', "
        "'ordering:query']",
        "realm.json: client 'read-service' has a secret committed; use ${VARIABLE}",
    ]


def test_customer_tokens_without_customer_id_or_with_a_user_editable_one_are_reported() -> None:
    data = realm()
    shop = client(data, "shop")
    mappers = shop.pop("protocolMappers")

    assert check_realm(data, "r") == ["r: no public client whose tokens carry 'customer_id'"]

    shop["protocolMappers"] = mappers
    shop["optionalClientScopes"].append("ordering:query")
    config = data["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
    profile = json.loads(config["kc.user.profile.config"][0])
    for attribute in profile["attributes"]:
        if attribute["name"] == "customer_id":
            attribute["permissions"]["edit"] = ["admin", "user"]
    config["kc.user.profile.config"] = [json.dumps(profile)]

    assert check_realm(data, "r") == [
        "r: client 'shop' gives customers staff scopes ['ordering:query']",
        "r: users may set 'customer_id' themselves: only admins may edit it",
    ]


# --- Kubernetes: Secrets, NetworkPolicies ---------------------------------------------------


def manifests(root: Path) -> dict[Path, tuple[str, list[Any]]]:
    files = sorted((root / "deploy" / "k8s").glob("*.yaml"))
    return {f: (f.read_text(), list(yaml.safe_load_all(f.read_text()))) for f in files}


def test_a_malformed_network_policy_is_reported() -> None:
    policy: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress", "Sideways"],
            "ingress": [
                {"ports": [{"port": 5432}]},
                {"from": [{"pods": {}}], "ports": [{"port": 5432, "protocol": "HTTP"}]},
            ],
        },
    }

    assert check_k8s_doc(policy, "x.yaml") == [
        "x.yaml (NetworkPolicy p): unknown policyType 'Sideways'",
        "x.yaml (NetworkPolicy p): ingress[0] has no 'from': it admits every source and "
        "destination",
        "x.yaml (NetworkPolicy p): ingress[1].from[0] needs podSelector, namespaceSelector or "
        "ipBlock",
        "x.yaml (NetworkPolicy p): ingress[1]: port {'port': 5432, 'protocol': 'HTTP'} needs a "
        "protocol of ['SCTP', 'TCP', 'UDP']",
    ]
    del policy["spec"]["podSelector"]
    assert check_k8s_doc(policy, "x.yaml") == [
        "x.yaml (NetworkPolicy p): spec.podSelector is missing (use {} for every pod)"
    ]


def test_a_secret_read_but_never_created_and_a_policy_admitting_strangers_are_reported(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "deploy" / "k8s", tmp_path / "deploy" / "k8s")
    k8s = tmp_path / "deploy" / "k8s"
    configmap = k8s / "configmap.yaml"
    configmap.write_text(configmap.read_text().replace("AUTH_CLIENT_SECRET=", "CLIENT_SECRET="))
    policies = k8s / "networkpolicy.yaml"
    policies.write_text(policies.read_text().replace("name: read-service", "name: debug-shell"))

    problems = check_k8s_tree(manifests(tmp_path), tmp_path)

    assert problems == [
        "deploy/k8s/read-service.yaml (Deployment read-service): reads key 'AUTH_CLIENT_SECRET' "
        "of Secret 'ordering-secrets', which nothing here creates",
        "deploy/k8s/rebuild-projections-job.yaml (Job rebuild-projections): reads key "
        "'AUTH_CLIENT_SECRET' of Secret 'ordering-secrets', which nothing here creates",
        "deploy/k8s/networkpolicy.yaml (NetworkPolicy kafka-clients): ingress[0] admits pods no "
        "workload here has: {'app.kubernetes.io/name': 'debug-shell'}",
        "deploy/k8s/networkpolicy.yaml (NetworkPolicy mongodb-clients): ingress[0] admits pods "
        "no workload here has: {'app.kubernetes.io/name': 'debug-shell'}",
    ]


def test_network_policies_missing_or_never_applied_are_reported(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "deploy" / "k8s", tmp_path / "deploy" / "k8s")
    k8s = tmp_path / "deploy" / "k8s"
    kustomization = k8s / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("  - networkpolicy.yaml\n", ""))

    unlisted = check_k8s_tree(manifests(tmp_path), tmp_path)
    (k8s / "networkpolicy.yaml").unlink()
    missing = check_k8s_tree(manifests(tmp_path), tmp_path)

    assert len(unlisted) == 3
    assert all("not among kustomization.yaml's resources" in p for p in unlisted)
    assert missing == ["deploy/k8s: no NetworkPolicy keeps other pods from the datastores"]


def test_a_secret_in_a_config_map_or_a_literal_env_value_is_reported() -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"AUTH_CLIENT_SECRET": "s3cret", "DATABASE_URL": "postgresql://u:pw@db/x"},
    }
    container: dict[str, Any] = {"name": "c", "image": "i", "resources": {"requests": {}}}
    container["env"] = [{"name": "KAFKA_SASL_PASSWORD", "value": "s3cret"}]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }

    assert check_k8s_doc(configmap, "c.yaml") == [
        "c.yaml (ConfigMap c): AUTH_CLIENT_SECRET holds a secret; it belongs in a Secret",
        "c.yaml (ConfigMap c): DATABASE_URL holds a secret; it belongs in a Secret",
    ]
    assert check_k8s_doc(job, "j.yaml") == [
        "j.yaml (Job j) container 'c': missing resources.requests",
        "j.yaml (Job j) container 'c': missing resources.limits",
        "j.yaml (Job j) container 'c': KAFKA_SASL_PASSWORD is a literal value, not a secretKeyRef",
    ]
