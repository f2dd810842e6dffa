"""The read service's HTTP contract end to end: caching, metrics and the OpenAPI document, against
the real services over Kafka and MongoDB. Waits are bounded polls, never fixed sleeps."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.test_read_side import WAIT, item, place_order, register, rename
from tests.polling import poll

Doc = dict[str, Any]


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
    assert first.headers["cache-control"] == "no-cache"
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
