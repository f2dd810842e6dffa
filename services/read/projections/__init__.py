"""The read side's projections, one module each (see base.py for what they share)."""

from . import customers, order_details, sales, stock
from .base import Projection

PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (order_details.PROJECTION, customers.PROJECTION, sales.PROJECTION, stock.PROJECTION)
}
