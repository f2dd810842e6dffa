"""What a customer's token lets its bearer read: their own documents only."""

from uuid import uuid4

import httpx
import pytest

from deploy.local.stack import LocalIssuer
from tests.integration.read_queries.documents import T0, customer_doc, order_doc
from tests.integration.read_queries.live_side import FakeLiveSide, customer, seed

pytestmark = pytest.mark.integration


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
