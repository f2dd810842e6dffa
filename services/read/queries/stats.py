"""Sales statistics over the per-day documents: the days of a range and the top products."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from shared.contracts.money import format_money

from .orders import Doc, Docs, public

PROJECTION = "sales"


class DateRange(NamedTuple):
    """UTC days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self) -> dict[str, Any]:
        return {"_id": {"$gte": self.start.isoformat(), "$lte": self.end.isoformat()}}


class Measure(StrEnum):
    """What the top products are ranked by."""

    REVENUE = "revenue"
    UNITS = "units"


@dataclass
class _Tally:
    sku: str
    name: str
    units: int = 0
    revenue: Decimal = Decimal(0)

    def add(self, product: dict[str, Any]) -> None:
        self.name = product.get("name", self.name)  # days come in order: the latest name wins
        self.units += int(product.get("units", 0))
        self.revenue += Decimal(product.get("revenue", "0"))

    def rank(self, by: Measure) -> tuple[Decimal, str]:
        amount = self.revenue if by is Measure.REVENUE else Decimal(self.units)
        return -amount, self.sku

    def shown(self) -> Doc:
        return {
            "sku": self.sku,
            "name": self.name,
            "units": self.units,
            "revenue": format_money(self.revenue),
        }


async def daily(docs: Docs, days: DateRange) -> list[Doc]:
    """The day documents of the range, oldest first; days without orders have none."""
    found = await docs.find(days.query()).sort("_id", 1).to_list()
    return [public(d) for d in found]


async def top_products(docs: Docs, days: DateRange, *, by: Measure, limit: int) -> list[Doc]:
    """Units and revenue per SKU summed over the range, best first, ties by SKU."""
    found = docs.find(days.query(), projection={"products": 1}).sort("_id", 1)
    tallies: dict[str, _Tally] = {}
    for doc in await found.to_list():
        for product in doc.get("products", []):
            sku = str(product["sku"])
            tallies.setdefault(sku, _Tally(sku, str(product.get("name", "")))).add(product)
    ranked = sorted(tallies.values(), key=lambda t: t.rank(by))
    return [t.shown() for t in ranked[:limit]]
