"""Input the queries refuse with a 422, and the ranges and cursors at the calendar's edges
they take."""

import base64
from uuid import uuid4

import httpx
import pytest

from shared.contracts.envelope import MAX_VERSION
from shared.plumbing.http import PROBLEM_JSON
from tests.integration.read_queries.documents import Doc

pytestmark = pytest.mark.integration


ID = str(uuid4())


def cursor_at(moment: str) -> str:
    """A page cursor as `encode_cursor` makes them, for any moment written as text."""
    return base64.urlsafe_b64encode(f"{moment}|{ID}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/customers", {"email[$ne]": "x"}),
        ("/customers", {}),
        ("/customers", {"email": '{"$ne": ""}'}),
        ("/customers", {"email": "a" * 250 + "@x.io"}),
        ("/customers", {"email": "ann\x7f@x.io"}),
        ("/customers", {"email": "ann@x\x9f.io"}),
        ("/customers", {"email": "ann\x00@x.io"}),
        (f"/customers/{ID}/orders", {"status": '{"$gt":""}'}),
        (f"/customers/{ID}/orders", {"limit": "100000"}),
        (f"/customers/{ID}/orders", {"limit": "0"}),
        (f"/customers/{ID}/orders", {"cursor": "bm9wZQ"}),
        (f"/customers/{ID}/orders", {"cursor": '{"$gt":""}'}),
        (f"/customers/{ID}/orders", {"cursor": cursor_at("0001-01-01T00:00:00+01:00")}),
        (f"/customers/{ID}/orders", {"cursor": cursor_at("9999-12-31T23:59:59-01:00")}),
        (f"/customers/{ID}/orders", {"cursor": cursor_at("2030-01-01T00:00:00")}),
        ("/customers/not-a-uuid/orders", {}),
        ("/customers/not-a-uuid", {}),
        ("/orders/not-a-uuid", {}),
        ("/orders/{'$ne':1}", {}),
        (f"/orders/{ID}", {"min_version": "0"}),
        (f"/orders/{ID}", {"wait_ms": "-1"}),
        (f"/orders/{ID}", {"min_version": str(MAX_VERSION + 1)}),
        (f"/orders/{ID}", {"min_version": str(2**63)}),
        (f"/orders/{ID}", {"min_version": "1", "wait_ms": str(2**63)}),
        (f"/orders/{ID}", {"min_version": "1", "wait_ms": str(10**30)}),
        (f"/customers/{ID}/orders", {"limit": str(2**63)}),
        ("/stats/top-products", {"limit": str(2**63)}),
        ("/stats/daily", {"from": "2024-13-01", "to": "2024-12-31"}),
        ("/stats/daily", {"from": "1704067200", "to": "2024-01-02"}),
        ("/stats/daily", {"from": "2024-02-01", "to": "2024-01-01"}),
        ("/stats/daily", {"from": "2023-01-01", "to": "2024-01-02"}),
        ("/stats/daily", {"to": "2024-01-01"}),
        ("/stats/top-products", {"limit": "101"}),
        ("/stats/top-products", {"by": "price"}),
        ("/stats/top-products", {"from": "2024-02-01", "to": "2024-01-01"}),
        ("/stats/top-products", {"from": "9999-12-31"}),  # after today, the default `to`
        ("/stats/top-products", {"from": "0001-01-01", "to": "9999-12-31"}),
        ("/stats/daily", {"from": "0001-01-01", "to": "9999-12-31"}),
        ("/stats/daily", {"from": "0000-12-31", "to": "0001-01-01"}),
        ("/stats/daily", {"from": "9999-12-31", "to": "10000-01-01"}),
    ],
)
async def test_invalid_input_is_422(api: httpx.AsyncClient, path: str, params: Doc) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 422


@pytest.mark.parametrize(
    ("path", "params", "days"),
    [
        ("/stats/top-products", {"to": "0001-01-01"}, ("0001-01-01", "0001-01-01")),
        ("/stats/top-products", {"to": "0001-01-05"}, ("0001-01-01", "0001-01-05")),
        ("/stats/top-products", {"to": "9999-12-31"}, ("9999-12-02", "9999-12-31")),
        ("/stats/top-products", {"from": "0001-01-01", "to": "0001-01-01"}, None),
        ("/stats/top-products", {"from": "9999-12-31", "to": "9999-12-31"}, None),
        ("/stats/daily", {"from": "0001-01-01", "to": "0001-01-01"}, None),
        ("/stats/daily", {"from": "9999-12-31", "to": "9999-12-31"}, None),
        ("/stats/daily", {"from": "0001-01-01", "to": "0001-12-31"}, None),
        ("/stats/daily", {"from": "9999-01-01", "to": "9999-12-31"}, None),
    ],
)
async def test_ranges_at_the_calendar_edges(
    api: httpx.AsyncClient, path: str, params: Doc, days: tuple[str, str] | None
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    if days is not None:  # a missing `from` is clamped to the calendar's first day
        assert (response.json()["from"], response.json()["to"]) == days


async def test_a_cursor_at_the_calendar_edge_in_utc_is_a_page(api: httpx.AsyncClient) -> None:
    for moment in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"):
        params = {"cursor": cursor_at(moment)}
        response = await api.get(f"/customers/{ID}/orders", params=params)
        assert response.status_code == 200, response.text
        assert response.json() == {"orders": [], "next_cursor": None}
