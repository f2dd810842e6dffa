"""The documents of the worked history hold the values worked out by hand."""

from collections import Counter
from datetime import datetime
from decimal import Decimal

import pytest

from tests.integration.projections.projecting import Doc, Snapshot
from tests.integration.projections.worked_history import EXPECTED_ORDERS, ORDERS, History

pytestmark = pytest.mark.integration


def by_id(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["_id"]: doc for doc in docs}


def to_ms(moment: datetime) -> datetime:
    """What MongoDB keeps of a timestamp: milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_order_documents_hold_the_values_worked_out_by_hand(
    history: History, reference: Snapshot
) -> None:
    orders = by_id(reference["order_details_v1"])
    assert len(orders) == len(ORDERS)
    for order_id, (total, count, status, version) in zip(
        history.orders, EXPECTED_ORDERS, strict=True
    ):
        doc = orders[order_id]
        assert (doc["total"], doc["item_count"], doc["status"], doc["version"]) == (
            total,
            count,
            status,
            version,
        ), order_id
    first = orders[history.orders[0]]
    assert [(x["sku"], x["quantity"], x["line_total"]) for x in first["items"]] == [
        ("APL", 5, "6.25"),
        ("BRD", 1, "3.40"),
    ]
    assert first["status_history"] == [
        {"status": s, "version": v, "at": to_ms(history.of(first["_id"], v).recorded_at)}
        for s, v in [("placed", 1), ("confirmed", 4), ("shipped", 5)]
    ]
    assert first["carrier"] == "DHL" and first["placed_at"] == first["status_history"][0]["at"]
    from_placed, from_confirmed = orders[history.orders[1]], orders[history.orders[2]]
    assert [h["status"] for h in from_placed["status_history"]] == ["placed", "cancelled"]
    assert [h["status"] for h in from_confirmed["status_history"]] == [
        "placed",
        "confirmed",
        "cancelled",
    ]
    assert from_confirmed["cancel_reason"] == "changed mind"


def test_customer_details_are_denormalized_as_of_their_latest_change(
    history: History, reference: Snapshot
) -> None:
    orders = by_id(reference["order_details_v1"])
    # both renames of Ada came after her orders were placed
    assert {
        (orders[o]["customer_name"], orders[o]["customer_email"], orders[o]["customer_version"])
        for o in history.orders[:2]
    } == {("Ada King", "ada@example.org", 3)}
    dee = orders[history.orders[6]]
    assert (dee["customer_name"], dee["customer_email"]) == ("Dee Dee", "dee.dee@example.org")
    cy = orders[history.orders[4]]
    assert (cy["customer_name"], cy["customer_version"]) == ("Cy", 1)


def test_customers_count_every_order_and_value_the_kept_ones(
    history: History, reference: Snapshot
) -> None:
    customers = by_id(reference["customers_v1"])
    values = ["9.65", "14.79", "6.05", "15.98", "17.09", "2.45"]  # cancelled orders excluded
    for customer_id, value in zip(history.customers, values, strict=True):
        doc = customers[customer_id]
        assert (doc["order_count"], doc["lifetime_value"]) == (2, value), doc["name"]
    bob = customers[history.customers[1]]
    assert bob["email"] == "bob.builder@example.org"
    assert bob["email_lower"] == "bob.builder@example.org"
    assert [(h["email"], h["version"]) for h in bob["email_history"]] == [
        ("bob@example.org", 1),
        ("bob.builder@example.org", 2),
    ]
    assert customers[history.customers[0]]["name"] == "Ada King"


def test_daily_sales_count_cancellations_and_sum_the_kept_orders(
    history: History, reference: Snapshot
) -> None:
    days = reference["sales_v1"]
    placed_on = {history.of(o, 1).recorded_at.date().isoformat() for o in history.orders}
    assert {d["day"] for d in days} == placed_on  # one day, unless run across midnight UTC
    assert sum(d["orders_placed"] for d in days) == 12
    assert sum(d["orders_cancelled"] for d in days) == 4
    assert sum(Decimal(d["revenue"]) for d in days) == Decimal("66.01")
    assert sum(d["units"] for d in days) == 28
    products: Counter[tuple[str, str]] = Counter()
    for day in days:
        for p in day["products"]:
            products[(p["sku"], "units")] += p["units"]
            products[(p["sku"], "revenue")] += int(Decimal(p["revenue"]) * 100)
    assert products == {
        ("APL", "units"): 13, ("APL", "revenue"): 1625,
        ("BRD", "units"): 4, ("BRD", "revenue"): 1360,
        ("CHS", "units"): 4, ("CHS", "revenue"): 3196,
        ("DTE", "units"): 6, ("DTE", "revenue"): 210,
        ("EGG", "units"): 1, ("EGG", "revenue"): 210,
    }  # fmt: skip
    if len(days) == 1:
        assert days[0]["average_order_value"] == "8.25"  # 66.01 over 8 kept orders
