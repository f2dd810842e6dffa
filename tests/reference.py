"""An independent reference model of the read side, folded from the write service's event feed.

Written from the description of the read API (not from the projections' code), so that the e2e
tests compare the product against a second, much simpler implementation. Input: the events of
`GET /events` in commit order. Output: the expected documents, with money as two-place decimal
strings and timestamps as timezone-aware datetimes.
"""

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from tests.reference_records import (
    ZERO,
    Customer,
    Doc,
    Line,
    Order,
    day_doc,
    line_doc,
    money,
    parse_time,
    products,
)


class ReferenceModel:
    """Folds the whole feed in memory; query methods return the expected API bodies."""

    def __init__(self, events: list[Doc]) -> None:
        self._orders: dict[str, Order] = {}
        self._customers: dict[str, Customer] = {}
        self._stock: dict[str, Doc] = {}  # by SKU
        self._by: str | None = None  # who made the event being folded, as the log records it
        for event in sorted(events, key=lambda e: int(e["position"])):
            self._apply(event)

    # -- folding -------------------------------------------------------------------------------

    def _apply(self, event: Doc) -> None:
        handler = getattr(self, f"_on_{event['event_type']}", None)
        if handler is None:
            return  # unknown types are skipped, as the read side does
        at, data = parse_time(event["recorded_at"]), event["data"]
        self._by = ((event.get("metadata") or {}).get("actor") or {}).get("subject")
        handler(str(event["stream_id"]), int(event["version"]), at, data)
        if event["stream_type"] == "order":
            order = self._orders[str(event["stream_id"])]
            order.version, order.updated_at = int(event["version"]), at

    def _on_CustomerRegistered(self, cid: str, version: int, at: datetime, data: Doc) -> None:
        history = [{"email": data["email"], "changed_at": at, "version": version}]
        self._customers[cid] = Customer(cid, data["name"], data["email"], at, at, version, history)

    def _on_CustomerRenamed(self, cid: str, version: int, at: datetime, data: Doc) -> None:
        customer = self._customers[cid]
        customer.name, customer.version, customer.updated_at = data["name"], version, at

    def _on_CustomerEmailChanged(self, cid: str, version: int, at: datetime, data: Doc) -> None:
        customer = self._customers[cid]
        customer.email, customer.version, customer.updated_at = data["new_email"], version, at
        customer.email_history.append(
            {"email": data["new_email"], "changed_at": at, "version": version}
        )

    def _on_OrderPlaced(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        order = Order(oid, str(data["customer_id"]), data["currency"], data["shipping_address"], at)
        for item in data["items"]:
            self._add_line(order, item)
        order.tracked = set(data.get("tracked", ()))
        order.stock = "pending" if order.tracked else None
        self._orders[oid] = order
        self._set_status(order, "placed", at, version)

    def _on_OrderItemAdded(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        order = self._orders[oid]
        self._add_line(order, data)
        if data.get("tracked"):
            order.tracked.add(data["sku"])
            order.stock = "pending"

    def _on_OrderItemRemoved(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        order = self._orders[oid]
        order.lines.pop(data["sku"], None)
        if data["sku"] in order.tracked:
            order.tracked.discard(data["sku"])
            order.stock = order.stock if order.tracked else "not_tracked"

    def _on_OrderStockReserved(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        self._orders[oid].stock = "reserved"

    def _on_OrderRejected(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        self._orders[oid].rejection = {"reason": data["reason"], "skus": data["skus"]}
        self._set_status(self._orders[oid], "rejected", at, version)

    def _stock_levels(self, version: int, data: Doc) -> None:
        on_hand, reserved = int(data["on_hand"]), int(data["reserved"])
        self._stock[data["sku"]] = {
            "sku": data["sku"],
            "on_hand": on_hand,
            "reserved": reserved,
            "available": on_hand - reserved,
            "version": version,
        }

    def _on_StockReceived(self, sid: str, version: int, at: datetime, data: Doc) -> None:
        self._stock_levels(version, data)

    _on_StockAdjusted = _on_StockReserved = _on_StockReservationRefused = _on_StockReceived
    _on_StockReleased = _on_StockShippedOut = _on_StockReceived

    def _on_OrderConfirmed(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        self._set_status(self._orders[oid], "confirmed", at, version)

    def _on_OrderShipped(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        order = self._orders[oid]
        order.carrier, order.tracking_number = data["carrier"], data["tracking_number"]
        self._set_status(order, "shipped", at, version)

    def _on_OrderCancelled(self, oid: str, version: int, at: datetime, data: Doc) -> None:
        self._orders[oid].cancel_reason = data["reason"]
        self._set_status(self._orders[oid], "cancelled", at, version)

    @staticmethod
    def _add_line(order: Order, item: Doc) -> None:
        known = order.lines.get(item["sku"])
        if known is None:
            price = Decimal(item["unit_price"])
            order.lines[item["sku"]] = Line(item["sku"], item["name"], item["quantity"], price)
        else:  # the same SKU again adds quantity, at the same unit price, under its last name
            known.quantity += int(item["quantity"])
            known.name = item["name"]

    def _set_status(self, order: Order, status: str, at: datetime, version: int) -> None:
        order.status = status
        change: Doc = {"status": status, "at": at, "version": version}
        order.history.append({**change, "by": self._by} if self._by else change)

    # -- queries -------------------------------------------------------------------------------

    def order_ids(self) -> list[str]:
        return list(self._orders)

    def customer_ids(self) -> list[str]:
        return list(self._customers)

    def order(self, order_id: str) -> Doc:
        """The expected `GET /orders/{id}` body (`stock` only for an order that ever had a
        tracked line, `rejection` only for a rejected one)."""
        order = self._orders[order_id]
        customer = self._customers[order.customer_id]
        shown = {"stock": {"state": order.stock}} if order.stock else {}
        if order.rejection is not None:
            shown["rejection"] = order.rejection
        return shown | {
            "id": order_id,
            "order_id": order_id,
            "customer_id": order.customer_id,
            "customer_name": customer.name,
            "customer_email": customer.email,
            "customer_version": customer.version,
            "currency": order.currency,
            "items": [line_doc(line) for line in order.lines.values()],
            "total": money(order.total),
            "item_count": sum(line.quantity for line in order.lines.values()),
            "status": order.status,
            "status_history": order.history,
            "shipping_address": order.shipping_address,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "cancel_reason": order.cancel_reason,
            "placed_at": order.placed_at,
            "updated_at": order.updated_at,
            "version": order.version,
        }

    def customer(self, customer_id: str) -> Doc:
        """The expected `GET /customers/{id}` body."""
        customer = self._customers[customer_id]
        orders = [o for o in self._orders.values() if o.customer_id == customer_id]
        lifetime = sum((o.total for o in orders if o.kept), ZERO)
        return {
            "id": customer_id,
            "customer_id": customer_id,
            "name": customer.name,
            "email": customer.email,
            "email_lower": customer.email.lower(),
            "email_history": customer.email_history,
            "registered_at": customer.registered_at,
            "updated_at": customer.updated_at,
            "version": customer.version,
            "order_count": len(orders),
            "lifetime_value": money(lifetime),
        }

    def customer_order_ids(self, customer_id: str, status: str | None = None) -> list[str]:
        """`GET /customers/{id}/orders`: newest first (by placement time)."""
        orders = [
            o
            for o in self._orders.values()
            if o.customer_id == customer_id and status in (None, o.status)
        ]
        return [o.order_id for o in sorted(orders, key=lambda o: o.placed_at, reverse=True)]

    def stock_item(self, sku: str) -> Doc:
        """The expected `GET /stock/{sku}` body."""
        return self._stock[sku]

    def low_stock(self, below: int | None = None) -> list[Doc]:
        """`GET /stock?available_below=`: the tracked SKUs (with fewer units available than
        `below`, when given) in SKU order."""
        found = [s for s in self._stock.values() if below is None or s["available"] < below]
        return sorted(found, key=lambda s: str(s["sku"]))

    def days(self) -> list[date]:
        return sorted({o.placed_at.date() for o in self._orders.values()})

    def daily(self, start: date, end: date) -> list[Doc]:
        """`GET /stats/daily`: one entry per UTC day of placement that has orders."""
        by_day: dict[date, list[Order]] = defaultdict(list)
        for order in self._orders.values():
            if start <= order.placed_at.date() <= end:
                by_day[order.placed_at.date()].append(order)
        return [day_doc(day, by_day[day]) for day in sorted(by_day)]

    def top_products(self, start: date, end: date, *, by: str, limit: int) -> list[Doc]:
        """`GET /stats/top-products`: products of orders neither cancelled nor rejected, best
        first."""
        orders = [o for o in self._orders.values() if start <= o.placed_at.date() <= end]
        found = products(orders)
        found.sort(key=lambda p: Decimal(p[by]), reverse=True)
        return found[:limit]
