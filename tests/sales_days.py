"""A day's sales statistics computed at once from all the orders placed on it, by the sales
projection's own rules: what its running totals, kept event by event, must come to."""

from collections.abc import Iterable

from services.read.projections.base import Doc
from services.read.projections.rollup import Rollup
from services.read.projections.sales import contribution, day_of


def day_document(day: str, orders: Iterable[Doc]) -> Doc:
    rollup = Rollup()
    for order in orders:
        rollup.set(order["_id"], contribution(order))
    return day_of(day, rollup)
