"""Secure by default: a service without auth settings refuses to start, unless told in so many
words (AUTH_DISABLED=true) to serve without access control, which it then says."""

import os
import subprocess
import sys

import httpx
import pytest

from deploy.local.stack import free_port
from tests.auth import pii_env
from tests.services import ROOT, RunningService, run_service

AUTH = ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_DISABLED", "AUTH_CLIENT_ID", "AUTH_CLIENT_SECRET")

pytestmark = pytest.mark.e2e


def without_auth(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in AUTH}


@pytest.mark.parametrize("service", ["write", "read"])
def test_a_service_without_auth_settings_refuses_to_start(service: str) -> None:
    env = {**without_auth(dict(os.environ)), "WRITE_PORT": str(free_port()), **pii_env()}
    env["READ_PORT"] = str(free_port())
    done = start(service, env)
    assert done.returncode != 0, done.stdout
    for setting in ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_DISABLED=true"):
        assert setting in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_the_write_service_without_its_personal_data_keys_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PII_")}
    env |= {"AUTH_DISABLED": "true", "WRITE_PORT": str(free_port()), "PII_INDEX_KEY": "short"}
    done = start("write", env)
    assert done.returncode != 0, done.stdout
    assert "PII_KEK: not set" in done.stderr, done.stderr
    assert "PII_INDEX_KEY: not base64" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "short" not in done.stderr, done.stderr


def test_a_service_with_auth_disabled_serves_everyone_and_says_so(
    write_service: RunningService, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    env = {**without_auth(write_service.env), "AUTH_DISABLED": "true", "WRITE_PORT": str(port)}
    env["RELAY_ENABLED"] = "false"  # the fixture's service relays this store already
    log = tmp_path_factory.mktemp("open") / "write-service.log"
    with run_service("write", env, port, log) as open_service:
        ready = httpx.get(f"{open_service.url}/health/ready", timeout=10).json()
        assert ready["access_control"] == "disabled", ready
        email = f"open.{port}@example.com"
        answer = httpx.post(
            f"{open_service.url}/customers", json={"name": "Open", "email": email}, timeout=10
        )
        assert answer.status_code == 201, answer.text
    assert "AUTH_DISABLED=true: every request is accepted without a token" in log.read_text()


def start(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`service` started with `env`, until it exits (it is expected to refuse to start)."""
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
