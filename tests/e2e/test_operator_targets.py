"""The operator's make targets, run from a second shell next to `make run`, as they are.

`make run` starts the whole embedded stack here on free ports, with a state folder of its own;
the targets then get no environment but that folder's name (which only keeps this test away from
a developer's own .local/), and must find the running stack by themselves.
"""

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from deploy.local.stack import free_port
from tests.services import ROOT

PORTS = ("POSTGRES_PORT", "KAFKA_PORT", "MONGODB_PORT", "WRITE_PORT", "READ_PORT", "ISSUER_PORT")
# What a second shell does not have: anything that points at servers or tunes the clients.
STACK_VARIABLES = (
    *PORTS,
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "MONGODB_URL",
    "WRITE_SERVICE_URL",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_CLIENT_ID",
    "AUTH_CLIENT_SECRET",
    "AUTH_DISABLED",
    "TOKEN_CLIENT_SECRET",
    "PII_KEK",
    "PII_INDEX_KEY",
)
START_TIMEOUT = 180.0

pytestmark = pytest.mark.e2e


def second_shell(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    return {**env, "LOCAL_STATE_DIR": str(state)}


def wait_until_ready(proc: subprocess.Popen[bytes], ports: dict[str, int], log: Path) -> None:
    urls = [f"http://127.0.0.1:{ports[p]}/health/ready" for p in ("WRITE_PORT", "READ_PORT")]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early:\n{log.read_text()[-3000:]}")
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for url in urls):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"make run not ready in {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    state = tmp_path_factory.mktemp("state")
    ports = {name: free_port() for name in PORTS}
    log = state.parent / "make-run.log"
    env = {**second_shell(state), **{k: str(v) for k, v in ports.items()}}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        wait_until_ready(proc, ports, log)
        yield state, ports
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert not (state / "stack.env").exists(), "make run left its stack.env behind"


def make(state: Path, *args: str) -> str:
    result = subprocess.run(
        ["make", *args],
        cwd=ROOT,
        env=second_shell(state),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"make {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def place_an_order(write_url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=write_url, timeout=10, headers=headers) as http:
        email = f"op.{uuid.uuid4().hex[:8]}@example.com"
        customer = http.post("/customers", json={"name": "Op Erator", "email": email})
        assert customer.status_code == 201, customer.text
        order = {
            "customer_id": customer.json()["id"],
            "currency": "EUR",
            "items": [{"sku": "OPS-1", "name": "Runbook", "quantity": 1, "unit_price": "9.50"}],
            "shipping_address": {
                "line1": "1 Main St",
                "city": "Leeds",
                "postal_code": "LS1 1AA",
                "country": "GB",
            },
        }
        placed = http.post("/orders", json=order)
        assert placed.status_code == 201, placed.text


def test_operator_targets_work_from_a_second_shell_next_to_make_run(
    make_run: tuple[Path, dict[str, int]],
) -> None:
    state, ports = make_run
    printed = make(state, "-s", "token", "SCOPES=ordering:command", "SUBJECT=operator")
    claims = jwt.decode(printed.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["scope"]) == ("operator", "ordering:command"), printed
    place_an_order(f"http://127.0.0.1:{ports['WRITE_PORT']}", printed.strip())

    assert "done: 2 events republished" in make(state, "republish", "FROM=0")
    table = make(state, "projections")
    for name in ("order_details", "customers", "sales", "stock"):
        assert name in table
    assert "not answering" not in table, table
    rebuilt = make(state, "rebuild-projections", "PROJECTION=order_details")
    assert "order_details" in rebuilt
    make(state, "dead-letters")
    # the order placed above is untracked: the fulfilment process has no instance of it
    assert "no instances" in make(state, "-s", "processes")
    assert "no suspended instances" in make(state, "-s", "processes", "STATE=suspended")
    # the write service's keys come from the stack's state, as every other setting does
    sealed = make(state, "-s", "encrypt-history", "BATCH=100")
    assert "batch 1:" in sealed and "events still holding a clear value: 0" in sealed
