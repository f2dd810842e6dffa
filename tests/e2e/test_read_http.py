"""The read service's HTTP contract end to end: caching, metrics and the OpenAPI document, against
the real services over Kafka and MongoDB. Waits are bounded polls, never fixed sleeps."""

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.read_api import WAIT, caught_up_log, today
from tests.e2e.write_api import (
    cancel,
    change_email,
    confirm,
    item,
    place,
    place_order,
    register,
    rename,
    ship,
)
from tests.openapi import assert_documented
from tests.polling import poll
from tests.read_side import PROJECTIONS

Doc = dict[str, Any]


# The per-projection series that the alerts and the dashboard read (a histogram by its count).
SERIES = (
    "projection_dead_letters_total",
    "projection_events_applied_total",
    "projection_lag_events",
    "projection_lag_seconds",
    "projection_rebuild_progress_ratio",
    "projection_paused",
    "projection_apply_latency_seconds_count",
    "projection_unknown_events_total",
    "projection_gaps_healed_total",
)


async def test_a_fresh_read_service_has_every_series_at_zero(reader: httpx.AsyncClient) -> None:
    # First of the module: its services have seen no event yet.
    text = (await reader.get("/metrics")).text
    for projection in PROJECTIONS:
        for name in SERIES:
            sample = f'{name}{{projection="{projection}"}} 0.0'
            assert re.search(rf"^{re.escape(sample)}$", text, re.M), f"no {sample}"


async def shown(
    reader: httpx.AsyncClient, path: str, what: str, wanted: Callable[[Doc], bool]
) -> httpx.Response:
    """The answer at `path` once its document is `wanted`."""

    async def check() -> httpx.Response | None:
        response = await reader.get(path)
        return response if response.status_code == 200 and wanted(response.json()) else None

    return await poll(check, f"{path}: {what}", timeout=WAIT)


async def test_an_etag_answers_304_until_a_command_changes_the_document(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    customer_id = await register(client, "Judy", f"judy.{uuid.uuid4().hex[:8]}@example.com")
    placed = await place_order(client, customer_id, item("A", 1))
    path = f"/orders/{placed['id']}"
    first = await shown(reader, path, "named", lambda d: d["customer_name"] == "Judy")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    unchanged = await reader.get(path, headers={"If-None-Match": tag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["etag"] == tag

    # A rename changes what the order shows (its customer's name), not the order's version.
    await rename(client, customer_id, "Judy Hopps")

    async def changed() -> httpx.Response | None:
        response = await reader.get(path, headers={"If-None-Match": tag})
        return response if response.status_code == 200 else None

    after = await poll(changed, "the order to show the new name", timeout=WAIT)
    assert after.json()["customer_name"] == "Judy Hopps"
    assert after.json()["version"] == placed["version"]
    assert after.headers["etag"] != tag
    again = await reader.get(path, headers={"If-None-Match": f'W/"x", {after.headers["etag"]}'})
    assert again.status_code == 304


async def test_every_answer_fits_the_openapi_document(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    customer_id = await register(client, "Karl", f"karl.{tag}@example.com")
    shipped = await place(client, customer_id, item("A", 2))
    await confirm(client, shipped)
    await ship(client, shipped)
    cancelled = await place(client, customer_id, item("B", 1), item("C", 3))
    await cancel(client, cancelled, "too late")
    await rename(client, customer_id, "Karl Marx")
    await change_email(client, customer_id, f"KARL.{tag}@example.org")
    await caught_up_log(client, reader)
    document = (await reader.get("/openapi.json")).json()
    day = today().isoformat()
    gets: list[tuple[str, str, Doc]] = [
        ("/orders/{order_id}", f"/orders/{shipped}", {}),
        ("/orders/{order_id}", f"/orders/{cancelled}", {"min_version": 2}),
        ("/orders/{order_id}", f"/orders/{uuid.uuid4()}", {}),  # 404
        ("/orders/{order_id}", "/orders/not-an-id", {}),  # 422
        ("/customers/{customer_id}/orders", f"/customers/{customer_id}/orders", {"limit": 1}),
        ("/customers/{customer_id}", f"/customers/{customer_id}", {}),
        ("/customers", "/customers", {"email": f"karl.{tag}@example.org"}),
        ("/stats/daily", "/stats/daily", {"from": day, "to": day}),
        ("/stats/top-products", "/stats/top-products", {}),
        ("/projections", "/projections", {}),
        ("/health/live", "/health/live", {}),
        ("/health/ready", "/health/ready", {}),
        ("/metrics", "/metrics", {}),
    ]
    for template, path, params in gets:
        response = await reader.get(path, params=params)
        assert response.status_code < 500, f"{path}: {response.text}"
        assert_documented(document, template, "get", response)
    page = (await reader.get(f"/customers/{customer_id}/orders", params={"limit": 1})).json()
    assert page["next_cursor"] is not None  # both forms of the nullable field were checked
    known = await reader.get(f"/customers/{customer_id}")
    again = await reader.get(
        f"/customers/{customer_id}", headers={"If-None-Match": known.headers["etag"]}
    )
    assert_documented(document, "/customers/{customer_id}", "get", again)  # 304, no body
    for action in ("pause", "resume"):
        response = await reader.post(f"/projections/sales/{action}")
        assert response.status_code == 200, response.text
        assert_documented(document, f"/projections/{{name}}/{action}", "post", response)
