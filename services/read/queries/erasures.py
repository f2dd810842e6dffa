"""Whether a projection has applied a customer's erasure: the marker its active version keeps of
each CustomerErased it applied (application/personal.py)."""

from ..projections import PROJECTIONS
from .orders import Docs

NAMES = tuple(PROJECTIONS)


async def caught_up(markers: Docs, customer_id: str) -> bool:
    """The customer's CustomerErased is applied in the version whose markers these are."""
    return await markers.find_one({"_id": customer_id}, projection={"_id": 1}) is not None
