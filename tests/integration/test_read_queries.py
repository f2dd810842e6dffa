"""The read service's query API over documents seeded in a real MongoDB-protocol server, with
tokens of the development issuer (staff unless a test says otherwise)."""

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from deploy.local.stack import LocalIssuer
from services.read.adapters.collection_names import Collections
from services.read.entrypoints.queries import router
from services.read.queries.facade import ReadQueries
from services.read.queries.orders import Docs
from services.read.settings import ReadSettings
from shared.contracts.envelope import MAX_VERSION
from shared.plumbing.access import install_auth
from shared.plumbing.http import PROBLEM_JSON, install_problem_handlers
from tests.auth import AUDIENCE, bearer, token
from tests.backends import Backend

pytestmark = pytest.mark.integration

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
Doc = dict[str, Any]


@dataclass
class FakeLiveSide:
    """What the queries are given: a real Mongo database (version 1 of every projection), and
    fakes of the rest: a wait that only sleeps, a pause, the event store's orders."""

    db: AsyncDatabase[Doc]
    max_wait_ms: int = 1000
    cache_max_age: int = 2
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    pause: str | None = None  # what pause_reason answers
    waits: list[float] = field(default_factory=list)  # every wait asked for, in seconds
    orders: dict[str, str] = field(default_factory=dict)  # the store's orders: id -> customer

    def documents(self, projection: str) -> Docs:
        return self.db[Collections(projection, 1).main]

    async def wait_for_order(self, order_id: str, timeout: float) -> None:
        self.waiting.set()
        self.waits.append(timeout)
        await asyncio.sleep(timeout)

    async def pause_reason(self, projection: str) -> str | None:
        return self.pause

    async def stream_exists(self, stream_id: str, *, customer_id: str | None = None) -> bool:
        return stream_id in self.orders and customer_id in (None, self.orders[stream_id])

    def queries(self) -> ReadQueries:
        return ReadQueries(
            documents=self.documents,
            wait=self.wait_for_order,
            pause_reason=self.pause_reason,
            streams=self,
            max_wait_ms=self.max_wait_ms,
            cache_max_age=self.cache_max_age,
        )


@pytest.fixture(scope="module")
async def read(mongo: Backend) -> AsyncIterator[FakeLiveSide]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url)
    db = client[f"test_read_queries_{uuid4().hex[:12]}"]
    yield FakeLiveSide(db)
    await client.drop_database(db.name)
    await client.close()


@asynccontextmanager
async def serving(live: FakeLiveSide, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the query routes over `live`, with a staff token."""
    app = FastAPI()
    app.include_router(router)
    install_problem_handlers(app, [])
    app.state.read = live.queries()
    settings = ReadSettings(auth_issuer=issuer.url, auth_audience=AUDIENCE)
    transport = httpx.ASGITransport(app=app)
    staff = bearer(token(issuer))
    async with (
        httpx.AsyncClient(timeout=10) as http,
        httpx.AsyncClient(transport=transport, base_url="http://read", headers=staff) as client,
    ):
        install_auth(app, settings, http)
        yield client


@pytest.fixture(scope="module")
async def api(read: FakeLiveSide, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(read, issuer) as client:
        yield client


def customer(issuer: LocalIssuer, customer_id: str) -> dict[str, str]:
    """The headers of a request made with this customer's token."""
    return bearer(token(issuer, customer=customer_id))


def order_doc(
    customer_id: str, placed_at: datetime, status: str = "placed", version: int = 1
) -> Doc:
    order_id = str(uuid4())
    return {
        "_id": order_id, "order_id": order_id, "customer_id": customer_id,
        "customer_name": "Ann", "customer_email": "ann@x.io", "customer_version": 1,
        "currency": "EUR",
        "items": [{"sku": "A", "name": "Apple", "quantity": 2, "unit_price": "1.25",
                   "line_total": "2.50"}],
        "total": "2.50", "item_count": 2, "status": status,
        "status_history": [{"status": "placed", "at": placed_at, "version": 1}],
        "shipping_address": {"line1": "1 Road", "city": "Oslo", "postal_code": "0150",
                             "country": "NO"},
        "carrier": None, "tracking_number": None, "cancel_reason": None,
        "placed_at": placed_at, "updated_at": placed_at, "version": version, "_rev": 7,
    }  # fmt: skip


def customer_doc(email: str, version: int = 1) -> Doc:
    customer_id = str(uuid4())
    return {
        "_id": customer_id, "customer_id": customer_id, "name": "Ann Lee", "email": email,
        "email_lower": email.lower(),
        "email_history": [{"email": email, "changed_at": T0, "version": 1}],
        "registered_at": T0, "updated_at": T0, "version": version, "order_count": 0,
        "lifetime_value": "0.00", "_rev": 3,
    }  # fmt: skip


def day_doc(day: date, products: list[tuple[str, int, str]]) -> Doc:
    return {
        "_id": day.isoformat(), "day": day.isoformat(), "orders_placed": 1,
        "orders_cancelled": 0, "revenue": "9.99", "average_order_value": "9.99", "units": 1,
        "products": [{"sku": s, "name": f"Name {s}", "units": u, "revenue": r}
                     for s, u, r in products],
        "_rev": 1,
    }  # fmt: skip


async def seed(read: FakeLiveSide, projection: str, *docs: Doc) -> None:
    await read.db[Collections(projection, 1).main].insert_many(list(docs))


async def test_order_by_id_hides_internals(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    doc = order_doc(str(uuid4()), T0, version=2)
    await seed(read, "order_details", doc)
    response = await api.get(f"/orders/{doc['_id']}")
    assert response.status_code == 200
    assert response.headers["etag"].startswith('"2-')  # the version, then a digest
    body = response.json()
    assert body["id"] == doc["_id"] and body["total"] == "2.50" and body["version"] == 2
    assert not [k for k in body if k.startswith("_")]
    assert body["placed_at"] == "2030-01-01T12:00:00.000Z"
    assert body["status_history"][0]["at"] == body["placed_at"]
    missing = await api.get(f"/orders/{uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON


async def test_min_version_already_reached(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    doc = order_doc(str(uuid4()), T0, version=3)
    await seed(read, "order_details", doc)
    response = await api.get(f"/orders/{doc['_id']}", params={"min_version": 2})
    assert response.status_code == 200
    assert response.json()["version"] == 3


async def test_min_version_reached_while_waiting(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    read.waiting.clear()
    params = {"min_version": 2, "wait_ms": 1000}
    request = asyncio.create_task(api.get(f"/orders/{doc['_id']}", params=params))
    await asyncio.wait_for(read.waiting.wait(), timeout=5)
    coll = read.db[Collections("order_details", 1).main]
    await coll.update_one({"_id": doc["_id"]}, {"$set": {"version": 2, "status": "confirmed"}})
    response = await asyncio.wait_for(request, timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    assert response.headers["etag"].startswith('"2-')


@pytest.mark.parametrize("wait_ms", [100, 600_000])
async def test_min_version_never_reached(
    api: httpx.AsyncClient, read: FakeLiveSide, wait_ms: int
) -> None:
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    read.waits.clear()
    params = {"min_version": 5, "wait_ms": wait_ms}
    response = await api.get(f"/orders/{doc['_id']}", params=params)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == PROBLEM_JSON
    # the waits asked for, not the clock: they add up to the smaller of wait_ms and the cap
    # (a timer may fire a clock tick early, hence the millisecond)
    assert read.waits and sum(read.waits) <= min(wait_ms, read.max_wait_ms) / 1000 + 0.001


@pytest.mark.parametrize("min_version", [MAX_VERSION + 1, 2**63, 10**30])
async def test_min_version_past_any_version_is_422_at_once(
    read: FakeLiveSide, issuer: LocalIssuer, min_version: int
) -> None:
    # A service that would wait a minute, asked to wait far longer than this test waits for
    # its answer: a 422 at all shows that nothing waited, and no wait was asked for.
    patient = FakeLiveSide(read.db, max_wait_ms=60_000)
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    async with serving(patient, issuer) as api:
        params = {"min_version": min_version, "wait_ms": 600_000}
        response = await asyncio.wait_for(api.get(f"/orders/{doc['_id']}", params=params), 10)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "min_version"]]
    assert patient.waits == []


async def test_min_version_of_an_order_never_seen_is_404(api: httpx.AsyncClient) -> None:
    unknown = uuid4()
    response = await api.get(f"/orders/{unknown}", params={"min_version": 1, "wait_ms": 100})
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    detail = f"no order {unknown} exists (none was seen within the wait, 100 ms)"
    assert response.json()["detail"] == detail


async def test_min_version_on_a_paused_projection_says_it_is_paused(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    doc = order_doc(str(uuid4()), T0)
    await seed(read, "order_details", doc)
    placed = str(uuid4())  # in the event store, not yet projected
    read.orders[placed] = str(uuid4())
    read.pause = "paused by an operator"
    try:
        for order_id in (doc["_id"], placed):  # behind, and not there at all
            params = {"min_version": 2, "wait_ms": 100}
            response = await api.get(f"/orders/{order_id}", params=params)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            detail = response.json()["detail"]
            assert "order_details projection is paused by an operator" in detail, detail
        unknown = await api.get(f"/orders/{uuid4()}", params={"min_version": 1, "wait_ms": 100})
        assert unknown.status_code == 404, unknown.text  # paused or not, the store has none
    finally:
        read.pause = None


async def test_customer_orders_pages_newest_first(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    customer = str(uuid4())
    statuses = ["placed", "shipped", "cancelled", "shipped", "confirmed", "shipped", "placed"]
    docs = [order_doc(customer, T0 + timedelta(hours=n // 2), s) for n, s in enumerate(statuses)]
    await seed(read, "order_details", *docs, order_doc(str(uuid4()), T0))
    newest = sorted(docs, key=lambda d: (d["placed_at"], d["_id"]), reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await api.get(f"/customers/{customer}/orders", params=params)).json()
        seen += [o["id"] for o in body["orders"]]
        pages, cursor = pages + 1, body["next_cursor"]
        if cursor is None or pages > 5:
            break
    assert pages == 3
    assert seen == [d["_id"] for d in newest]
    shipped = await api.get(f"/customers/{customer}/orders", params={"status": "shipped"})
    ids = [o["id"] for o in shipped.json()["orders"]]
    assert ids == [d["_id"] for d in newest if d["status"] == "shipped"]


async def test_customer_without_orders_has_an_empty_list(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/customers/{uuid4()}/orders", params={"unknown": "ignored"})
    assert response.status_code == 200
    assert response.json() == {"orders": [], "next_cursor": None}


async def test_customer_by_id(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    known, unregistered = customer_doc("a@x.io"), customer_doc("b@x.io", version=0)
    await seed(read, "customers", known, unregistered)
    response = await api.get(f"/customers/{known['_id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == known["_id"] and "_rev" not in body
    assert body["email_history"][0]["changed_at"] == "2030-01-01T12:00:00.000Z"
    for unknown in (unregistered["_id"], str(uuid4())):
        response = await api.get(f"/customers/{unknown}")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_JSON


async def assert_revalidated(api: httpx.AsyncClient, path: str) -> str:
    """The document's answer: `no-cache`, and 304 for its ETag in every form; returns the tag."""
    first = await api.get(path)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "private, no-cache"
    tag = first.headers["etag"]
    for given in (tag, f"W/{tag}", f'"other", {tag}', f'W/"other",W/{tag} ', "*"):
        again = await api.get(path, headers={"If-None-Match": given})
        assert again.status_code == 304, given
        assert again.content == b"" and "content-type" not in again.headers
        assert (again.headers["etag"], again.headers["cache-control"]) == (
            tag,
            "private, no-cache",
        )
    for given in ('"other"', tag.strip('"'), f'W/"{tag}x"'):
        assert (await api.get(path, headers={"If-None-Match": given})).status_code == 200
    return tag


async def test_single_documents_are_revalidated_with_etags(
    api: httpx.AsyncClient, read: FakeLiveSide
) -> None:
    order, customer = order_doc(str(uuid4()), T0), customer_doc(f"{uuid4().hex[:8]}@x.io")
    await seed(read, "order_details", order)
    await seed(read, "customers", customer)
    for projection, path, doc in [
        ("order_details", f"/orders/{order['_id']}", order),
        ("customers", f"/customers/{customer['_id']}", customer),
    ]:
        tag = await assert_revalidated(api, path)
        # What is shown changes while the version stays: a customer renamed, seen in the order.
        coll = read.db[Collections(projection, 1).main]
        await coll.update_one({"_id": doc["_id"]}, {"$set": {"name": "Bo", "customer_name": "Bo"}})
        changed = await api.get(path, headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
        assert changed.json()["version"] == doc["version"]
    missing = await api.get(f"/orders/{uuid4()}", headers={"If-None-Match": "*"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"/customers/{uuid4()}/orders",
        "/customers?email=a@b.io",
        "/stats/daily?from=2024-01-01&to=2024-01-02",
        "/stats/top-products",
    ],
)
async def test_lists_say_how_long_they_stay_fresh(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, max-age=2"
    assert "etag" not in response.headers


async def test_customers_by_email_ignore_case(api: httpx.AsyncClient, read: FakeLiveSide) -> None:
    email = f"Ann.Lee.{uuid4().hex[:8]}@Example.com"
    known = customer_doc(email)
    await seed(read, "customers", known, customer_doc(email, version=0))
    found = (await api.get("/customers", params={"email": email.upper()})).json()
    assert [c["id"] for c in found["customers"]] == [known["_id"]]
    assert found["customers"][0]["email"] == email
    none = await api.get("/customers", params={"email": "nobody@example.com"})
    assert none.json() == {"customers": []}


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


async def test_a_customer_reads_their_own_profile_and_orders_only(
    api: httpx.AsyncClient, read: FakeLiveSide, issuer: LocalIssuer
) -> None:
    ann, bob = customer_doc("ann@own.io"), customer_doc("bob@own.io")
    await seed(read, "customers", ann, bob)
    anns, bobs = order_doc(ann["_id"], T0, version=2), order_doc(bob["_id"], T0)
    await seed(read, "order_details", anns, bobs)
    as_ann = customer(issuer, ann["_id"])
    assert (await api.get(f"/orders/{anns['_id']}", headers=as_ann)).json()["version"] == 2
    assert (await api.get(f"/customers/{ann['_id']}", headers=as_ann)).json()["name"] == "Ann Lee"
    page = (await api.get(f"/customers/{ann['_id']}/orders", headers=as_ann)).json()
    assert [o["id"] for o in page["orders"]] == [anns["_id"]]
    # Another customer's answers as nothing at all would.
    paths = [
        f"/orders/{bobs['_id']}",
        f"/customers/{bob['_id']}",
        f"/customers/{bob['_id']}/orders",
    ]
    for path in paths:
        assert (await api.get(path)).status_code == 200  # the staff token sees them
        refused = await api.get(path, headers=as_ann)
        assert refused.status_code == 404, (path, refused.text)
        assert refused.json()["detail"].endswith(" not found")
    found = await api.get("/customers", params={"email": "ANN@own.io"}, headers=as_ann)
    assert [c["id"] for c in found.json()["customers"]] == [ann["_id"]]
    others = await api.get("/customers", params={"email": "bob@own.io"}, headers=as_ann)
    assert others.json() == {"customers": []}
    stats = await api.get("/stats/top-products", headers=as_ann)
    assert stats.status_code == 403
    assert 'error="insufficient_scope"' in stats.headers["www-authenticate"]


async def test_a_customer_waiting_for_another_customers_order_sees_no_such_order(
    api: httpx.AsyncClient, read: FakeLiveSide, issuer: LocalIssuer
) -> None:
    ann, bob = str(uuid4()), str(uuid4())
    projected, unprojected, own = order_doc(bob, T0, version=3), str(uuid4()), str(uuid4())
    await seed(read, "order_details", projected)
    read.orders.update({projected["_id"]: bob, unprojected: bob, own: ann})
    params = {"min_version": 1, "wait_ms": 100}
    for order_id in (projected["_id"], unprojected):
        response = await api.get(
            f"/orders/{order_id}", params=params, headers=customer(issuer, ann)
        )
        assert response.status_code == 404, response.text
        detail = f"no order {order_id} exists (none was seen within the wait, 100 ms)"
        assert response.json()["detail"] == detail
    mine = await api.get(f"/orders/{own}", params=params, headers=customer(issuer, ann))
    assert mine.status_code == 503, mine.text  # in the store, theirs, not projected yet
    theirs = await api.get(
        f"/orders/{projected['_id']}", params=params, headers=customer(issuer, bob)
    )
    assert theirs.status_code == 200
