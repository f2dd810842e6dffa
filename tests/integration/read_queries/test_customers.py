"""A customer's orders page by page, a customer by id or by email, and how long the answers
may be cached."""

from datetime import timedelta
from uuid import uuid4

import httpx
import pytest

from services.read.adapters.collection_names import Collections
from shared.plumbing.http import PROBLEM_JSON
from tests.integration.read_queries.documents import T0, customer_doc, order_doc
from tests.integration.read_queries.live_side import FakeLiveSide, seed

pytestmark = pytest.mark.integration


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
