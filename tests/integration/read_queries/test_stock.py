"""A SKU's stock by its SKU, and the tracked SKUs (low in stock when asked) page by page in SKU
order: over documents the stock projection wrote into a real MongoDB, from stock events."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import httpx
import pytest

from deploy.local.stack import LocalIssuer
from services.read.adapters.collection_names import Collections
from services.read.adapters.documents import MongoDocumentStore
from services.read.projections import stock
from services.read.projections.base import Event
from services.read.projections.rollup import Rollups
from shared.contracts.events import StockEvent, StockReceived, StockReserved, stock_stream_id
from shared.plumbing.http import PROBLEM_JSON
from tests.integration.read_queries.live_side import FakeLiveSide, customer
from tests.integration.read_queries.test_customers import assert_revalidated
from tests.openapi import assert_documented

pytestmark = pytest.mark.integration

AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Stocked(Protocol):
    """What the `stocked` fixture gives: stock received for a SKU, some of it reserved."""

    async def __call__(self, sku: str, on_hand: int, reserved: int = 0) -> None: ...


def as_event(version: int, event: StockEvent) -> Event:
    stream = str(stock_stream_id(event.sku))
    data = event.model_dump(mode="json")
    kind = event.event_type()
    return Event(f"{stream}-{version}", "stock", stream, version, kind, version, AT, data)


async def no_gaps(stream_id: str, have: int) -> list[Event]:
    raise AssertionError(f"unexpected gap in {stream_id}")


@pytest.fixture
async def stocked(read: FakeLiveSide) -> AsyncIterator[Stocked]:
    """Stock received (and some reserved) for a SKU, projected; no other SKU is tracked."""
    await read.db[Collections("stock", 1).main].delete_many({})
    store = MongoDocumentStore(read.db, Collections("stock", 1))

    async def receive(sku: str, on_hand: int, reserved: int = 0) -> None:
        events = [
            as_event(1, StockReceived(sku=sku, on_hand=on_hand, reserved=0, quantity=on_hand))
        ]
        if reserved:
            held = StockReserved(
                sku=sku, on_hand=on_hand, reserved=reserved, order_id=uuid4(), quantity=reserved
            )
            events.append(as_event(2, held))
        await stock.PROJECTION.apply(store, events, no_gaps, Rollups())

    yield receive
    await read.db[Collections("stock", 1).main].delete_many({})


async def test_a_skus_stock_is_its_levels(
    api: httpx.AsyncClient, stocked: Stocked, openapi: dict[str, Any]
) -> None:
    await stocked("APL.green~1", 12, 5)
    response = await api.get("/stock/APL.green~1")
    assert response.status_code == 200, response.text
    assert_documented(openapi, "/stock/{sku}", "get", response)
    assert response.json() == {
        "sku": "APL.green~1", "on_hand": 12, "reserved": 5, "available": 7, "version": 2
    }  # fmt: skip
    await assert_revalidated(api, "/stock/APL.green~1")


async def test_a_sku_whose_stock_is_not_tracked_is_not_found(
    api: httpx.AsyncClient, stocked: Stocked, openapi: dict[str, Any]
) -> None:
    await stocked("APL", 1)
    for sku in ("BRD", "apl"):  # SKUs are case-sensitive
        response = await api.get(f"/stock/{sku}", headers={"If-None-Match": "*"})
        assert response.status_code == 404, response.text
        assert_documented(openapi, "/stock/{sku}", "get", response)
        assert response.json()["detail"] == f"no stock is tracked for SKU {sku}"


async def pages(api: httpx.AsyncClient, limit: int, **params: int) -> list[list[str]]:
    """Every page of `GET /stock`, as the SKUs of each."""
    found: list[list[str]] = []
    cursor = None
    while len(found) < 20:
        asked = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = await api.get("/stock", params=asked)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "private, max-age=2"
        body = response.json()
        found.append([item["sku"] for item in body["items"]])
        if (cursor := body["next_cursor"]) is None:
            return found
    raise AssertionError(f"pages without end: {found}")


async def test_low_stock_is_the_skus_below_a_level_in_sku_order_page_by_page(
    api: httpx.AsyncClient, stocked: Stocked, openapi: dict[str, Any]
) -> None:
    levels = {"b-2": (3, 0), "A-1": (10, 9), "c-3": (4, 2), "B-1": (9, 0), "a-1": (5, 5)}
    for sku, (on_hand, reserved) in levels.items():
        await stocked(sku, on_hand, reserved)
    # available: A-1 1, B-1 9, a-1 0, b-2 3, c-3 2; SKUs compare as their characters' codes
    assert await pages(api, 2, available_below=3) == [["A-1", "a-1"], ["c-3"]]
    assert await pages(api, 1, available_below=3) == [["A-1"], ["a-1"], ["c-3"]]
    assert await pages(api, 3, available_below=1) == [["a-1"]]
    assert await pages(api, 2, available_below=0) == [[]]
    assert await pages(api, 2) == [["A-1", "B-1"], ["a-1", "b-2"], ["c-3"]]
    response = await api.get("/stock", params={"available_below": 2, "limit": 1})
    assert_documented(openapi, "/stock", "get", response)
    assert response.json()["next_cursor"] is not None
    body = (await api.get("/stock", params={"available_below": 2})).json()
    assert body == {
        "items": [
            {"sku": "A-1", "on_hand": 10, "reserved": 9, "available": 1, "version": 2},
            {"sku": "a-1", "on_hand": 5, "reserved": 5, "available": 0, "version": 2},
        ],
        "next_cursor": None,
    }


async def test_stock_is_for_staff_only(
    api: httpx.AsyncClient, stocked: Stocked, issuer: LocalIssuer
) -> None:
    await stocked("APL", 1)
    as_customer = customer(issuer, str(uuid4()))
    for path in ("/stock/APL", "/stock?available_below=5", "/stock"):
        assert (await api.get(path)).status_code == 200
        refused = await api.get(path, headers=as_customer)
        assert refused.status_code == 403, (path, refused.text)
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/stock/-APL", {}),
        ("/stock/" + "A" * 65, {}),
        ("/stock/A%20B", {}),
        ("/stock/%24ne", {}),
        ("/stock/A%00", {}),
        ("/stock/ÄPL", {}),
        ("/stock", {"available_below": "-1"}),
        ("/stock", {"available_below": "1.5"}),
        ("/stock", {"available_below": "ten"}),
        ("/stock", {"available_below": ""}),
        ("/stock", {"available_below": "true"}),
        ("/stock", {"available_below": "１"}),
        ("/stock", {"available_below": '{"$gt": 0}'}),
        ("/stock", {"available_below[$gt]": "0", "available_below": "x"}),
        ("/stock", {"available_below": str(2**63)}),
        ("/stock", {"limit": "0"}),
        ("/stock", {"limit": "101"}),
        ("/stock", {"cursor": "bm9w ZQ"}),
        ("/stock", {"cursor": cursor_of("-APL")}),
        ("/stock", {"cursor": cursor_of('{"$gt": ""}')}),
        ("/stock", {"cursor": "_w"}),  # not UTF-8
    ],
)
async def test_invalid_stock_input_is_422(
    api: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_the_largest_level_asked_for_is_taken(
    api: httpx.AsyncClient, stocked: Stocked
) -> None:
    await stocked("APL", 1)
    response = await api.get("/stock", params={"available_below": str(2**63 - 1)})
    assert [item["sku"] for item in response.json()["items"]] == ["APL"]
