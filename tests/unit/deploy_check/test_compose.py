"""The static checker over docker-compose.yml: services and mounts, what the infrastructure
publishes, secrets, the services' auth settings."""

import shutil
from pathlib import Path

import yaml

from deploy.check import ROOT, check_compose


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


def test_a_key_that_seals_data_is_required_from_the_environment_never_defaulted() -> None:
    build = {"context": ".", "dockerfile": "deploy/docker/Dockerfile", "target": "write-service"}
    env = {
        "AUTH_DISABLED": "true",
        "PII_KEK": "${PII_KEK:-c2VjcmV0}",
        "PII_INDEX_KEY": "c2VjcmV0",
        "PII_KEK_ID": "local-1",
        "PII_KEY_CACHE_SECONDS": "300",
    }
    data = {"services": {"write": {"build": build, "environment": env}}}

    problems = check_compose(data, ROOT)

    assert problems == [
        "docker-compose.yml: service 'write': PII_INDEX_KEY is written in; take it from the"
        " environment (${PII_INDEX_KEY:?...})",
        "docker-compose.yml: service 'write': PII_KEK must come from the environment, required"
        " and without a default (${PII_KEK:?...})",
    ]
    env |= {"PII_KEK": "${PII_KEK:?set it}", "PII_INDEX_KEY": "${PII_INDEX_KEY:?set it}"}
    assert check_compose(data, ROOT) == []


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
