"""The static checker of deploy/ (`python -m deploy.check`) over the repository's files, a
Dockerfile and the alert rules' tests."""

from pathlib import Path

from deploy.check import ROOT, check_dockerfile, check_rule_tests, run


def test_the_repository_deploy_files_are_valid() -> None:
    count, problems = run(ROOT)

    assert problems == []
    assert count > 5


def test_a_root_image_with_dev_dependencies_is_reported(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11-slim\nCOPY missing.txt /app/\nRUN uv sync --frozen --group dev\n"
    )

    problems = "\n".join(check_dockerfile(dockerfile, tmp_path))

    for expected in ("runs as root", "no HEALTHCHECK", "dev/test dependency", "'missing.txt'"):
        assert expected in problems


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
