"""The static checker of deploy/ and docker-compose.yml (`python -m deploy.check`)."""

from pathlib import Path

import yaml

from deploy.check import (
    ROOT,
    check_compose,
    check_dockerfile,
    check_k8s_doc,
    check_rule_tests,
    run,
)


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
