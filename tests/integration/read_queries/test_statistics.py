"""The daily sales and the top products over a range of days."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.integration.read_queries.documents import day_doc
from tests.integration.read_queries.live_side import FakeLiveSide, seed

pytestmark = pytest.mark.integration


async def test_daily_stats_in_range(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    days = [date(2031, 3, d) for d in (4, 1, 2, 10)]
    await seed(read, "sales", *(day_doc(d, [("A", 1, "9.99")]) for d in days))
    params = {"from": "2031-03-01", "to": "2031-03-05"}
    body = (await api.get("/stats/daily", params=params)).json()
    assert [d["day"] for d in body["days"]] == ["2031-03-01", "2031-03-02", "2031-03-04"]
    assert body["days"][0]["id"] == "2031-03-01" and "_rev" not in body["days"][0]
    assert body["days"][0]["revenue"] == "9.99"
    leap_year = {"from": "2028-01-01", "to": "2028-12-31"}  # 366 days: the longest range
    assert (await api.get("/stats/daily", params=leap_year)).status_code == 200


async def test_top_products_sums_and_ranks(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    await seed(
        read,
        "sales",
        day_doc(date(2032, 5, 1), [("A", 1, "0.10"), ("B", 5, "5.00"), ("C", 3, "30.00")]),
        day_doc(date(2032, 5, 2), [("A", 2, "0.20"), ("B", 5, "25.00"), ("D", 10, "1.00")]),
        day_doc(date(2032, 5, 9), [("E", 99, "999.00")]),
    )
    params: dict[str, Any] = {"from": "2032-05-01", "to": "2032-05-03"}
    body = (await api.get("/stats/top-products", params=params)).json()
    assert body["from"] == "2032-05-01" and body["to"] == "2032-05-03"
    assert body["products"] == [
        {"sku": "B", "name": "Name B", "units": 10, "revenue": "30.00"},
        {"sku": "C", "name": "Name C", "units": 3, "revenue": "30.00"},
        {"sku": "D", "name": "Name D", "units": 10, "revenue": "1.00"},
        {"sku": "A", "name": "Name A", "units": 3, "revenue": "0.30"},
    ]
    by_units = await api.get("/stats/top-products", params={**params, "by": "units", "limit": 3})
    assert [p["sku"] for p in by_units.json()["products"]] == ["B", "D", "A"]


async def test_top_products_default_to_the_last_30_days(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    today = datetime.now(UTC).date()
    sku = f"TODAY-{uuid4().hex[:6]}"
    await seed(read, "sales", day_doc(today, [(sku, 1, "1.00")]))
    body = (await api.get("/stats/top-products")).json()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert sku in [p["sku"] for p in body["products"]]
