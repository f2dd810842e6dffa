"""Who may read what from the read service, end to end: the real services over Kafka and MongoDB,
tokens of the development issuer (and forged ones it would never give)."""

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import bearer, token
from tests.e2e.read_api import WAIT, caught_up_log, get_json
from tests.e2e.write_api import confirm, item, place, register
from tests.integration.test_tokens import refused_tokens
from tests.polling import poll
from tests.services import ROOT, RunningService

pytestmark = pytest.mark.e2e

Doc = dict[str, Any]
ANY_ID = uuid.uuid4()
QUERIES = [
    f"/orders/{ANY_ID}",
    f"/customers/{ANY_ID}",
    f"/customers/{ANY_ID}/orders",
    "/customers?email=a@example.com",
    "/stats/daily?from=2030-01-01&to=2030-01-02",
    "/stats/top-products",
]
PROTECTED = [
    *(("GET", path) for path in QUERIES),
    ("GET", "/projections"),
    ("POST", "/projections/sales/pause"),
    ("POST", "/projections/sales/resume"),
]


def as_(issuer: LocalIssuer, *scopes: str) -> dict[str, str]:
    return bearer(token(issuer, scopes))


async def test_every_protected_route_challenges_a_missing_or_bad_token(
    read_service: RunningService, issuer: LocalIssuer
) -> None:
    bad = {name: bearer(value) for name, value in refused_tokens(issuer).items()}
    async with httpx.AsyncClient(base_url=read_service.url, timeout=30) as http:
        for method, path in PROTECTED:
            missing = await http.request(method, path)
            assert missing.status_code == 401, (path, missing.text)
            assert missing.headers["www-authenticate"] == 'Bearer realm="ordering"'
            for name, headers in bad.items():
                refused = await http.request(method, path, headers=headers)
                assert refused.status_code == 401, (path, name, refused.text)
                challenge = refused.headers["www-authenticate"]
                assert challenge.startswith('Bearer realm="ordering", error="invalid_token"')
        for path in ("/health/live", "/health/ready", "/metrics"):
            assert (await http.get(path)).status_code == 200, path


async def test_each_route_needs_its_permission(
    read_service: RunningService, issuer: LocalIssuer
) -> None:
    async with httpx.AsyncClient(base_url=read_service.url, timeout=30) as http:
        command = as_(issuer, "ordering:command", "ordering:events")
        for method, path in PROTECTED:
            refused = await http.request(method, path, headers=command)
            assert refused.status_code == 403, (path, refused.text)
            assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        query = as_(issuer, "ordering:query")
        for method, path in PROTECTED:  # every query and the status; no operator's action
            answer = await http.request(method, path, headers=query)
            allowed = answer.status_code not in (401, 403)
            assert allowed == (method == "GET"), (path, answer.status_code, answer.text)
        operate = as_(issuer, "ordering:operate")
        paused = await http.post("/projections/sales/pause", headers=operate)
        assert (paused.status_code, paused.json()["paused"]) == (200, True), paused.text
        shown = await http.get("/projections", headers=operate)
        assert {p["name"]: p["paused"] for p in shown.json()["projections"]}["sales"] is True
        resumed = await http.post("/projections/sales/resume", headers=operate)
        assert (resumed.status_code, resumed.json()["paused"]) == (200, False), resumed.text
        assert (await http.get("/stats/top-products", headers=operate)).status_code == 403


async def test_a_customer_reads_their_own_profile_and_orders_and_nothing_of_another(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    read_service: RunningService,
    issuer: LocalIssuer,
) -> None:
    tag = uuid.uuid4().hex[:8]
    ann = await register(client, "Ann", f"ann.{tag}@example.com")
    bob = await register(client, "Bob", f"bob.{tag}@example.com")
    anns, bobs = await place(client, ann, item("A", 1)), await place(client, bob, item("B", 2))
    await caught_up_log(client, reader)
    as_ann = bearer(token(issuer, customer=ann, subject=f"customer-{ann}"))
    async with httpx.AsyncClient(base_url=read_service.url, timeout=30, headers=as_ann) as http:
        assert (await get_json(http, f"/customers/{ann}"))["name"] == "Ann"
        assert (await get_json(http, f"/orders/{anns}"))["customer_id"] == ann
        listed = await get_json(http, f"/customers/{ann}/orders")
        assert [o["id"] for o in listed["orders"]] == [anns]
        found = await get_json(http, "/customers", email=f"ANN.{tag}@example.com")
        assert [c["id"] for c in found["customers"]] == [ann]
        assert await get_json(http, "/customers", email=f"bob.{tag}@example.com") == {
            "customers": []
        }
        for path in (f"/customers/{bob}", f"/orders/{bobs}", f"/customers/{bob}/orders"):
            theirs = await http.get(path)
            assert theirs.status_code == 404, (path, theirs.text)
            assert (await reader.get(path)).status_code == 200, path  # staff see it
        waited = await http.get(f"/orders/{bobs}", params={"min_version": 1, "wait_ms": 50})
        assert waited.status_code == 404, waited.text
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for path in (f"/stats/daily?from={today}&to={today}", "/stats/top-products"):
            assert (await http.get(path)).status_code == 403, path
        assert (await http.get("/projections")).status_code == 403


async def test_the_status_history_names_who_made_each_change_as_the_log_records_it(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    customer_id = await register(client, "Cleo", f"cleo.{uuid.uuid4().hex[:8]}@example.com")
    order_id = await place(client, customer_id, item("C", 1))
    await confirm(client, order_id)
    log = await caught_up_log(client, reader)
    recorded = {
        e["version"]: (e["metadata"].get("actor") or {}).get("subject")
        for e in log
        if e["stream_id"] == order_id
    }
    history = (await get_json(reader, f"/orders/{order_id}"))["status_history"]
    assert [(h["version"], h.get("by")) for h in history] == [(1, recorded[1]), (2, recorded[2])]


# -- a read service whose projections fail: their errors are for operators ---------------------


@contextlib.contextmanager
def read_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """The read service as a process, once it is live (it will never be ready)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.read"],
            cwd=ROOT,
            env={**env, "READ_PORT": str(port)},
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _live(url):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def _live(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/live", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
async def failing(
    read_service: RunningService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A read service whose Kafka is nowhere to be found, that wants a token for /metrics."""
    env = {
        **read_service.env,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "MONGODB_DATABASE": f"failing_{uuid.uuid4().hex[:8]}",
        "AUTH_METRICS_REQUIRED": "true",
    }
    with read_process(env, tmp_path_factory.mktemp("failing") / "read.log") as url:
        yield url


async def test_projection_errors_are_shown_to_operators_only(
    failing: str, issuer: LocalIssuer
) -> None:
    async with httpx.AsyncClient(base_url=failing, timeout=30) as http:
        operate = as_(issuer, "ordering:operate")

        async def errors() -> dict[str, str] | None:
            shown = (await http.get("/projections", headers=operate)).json()["projections"]
            found = {p["name"]: p["last_error"] for p in shown if p["last_error"]}
            return found if len(found) == len(shown) else None

        operators = await poll(errors, "every projection to report its error", timeout=WAIT)
        assert all("Kafka" in error for error in operators.values()), operators
        shown = await http.get("/projections", headers=as_(issuer, "ordering:query"))
        for projection in shown.json()["projections"]:
            assert (projection["healthy"], projection["last_error"]) == (False, None)
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert "Kafka" not in ready.text and "failing, see /projections" in ready.text


async def test_metrics_can_require_an_operators_token(failing: str, issuer: LocalIssuer) -> None:
    async with httpx.AsyncClient(base_url=failing, timeout=30) as http:
        assert (await http.get("/metrics")).status_code == 401
        query = await http.get("/metrics", headers=as_(issuer, "ordering:query"))
        assert query.status_code == 403
        operate = await http.get("/metrics", headers=as_(issuer, "ordering:operate"))
        assert operate.status_code == 200 and "projection_lag_events" in operate.text
