"""Route dependencies of the read service, as Annotated aliases (all async: FastAPI runs a sync
one in a thread)."""

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.plumbing.access import requires
from shared.plumbing.auth import OPERATE, QUERY, Principal

from ..adapters.collections import Collections
from ..queries import customers, orders, stats
from ..queries.stats import DateRange

MAX_SPAN_DAYS = 366
DEFAULT_SPAN_DAYS = 30
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReadModel(Protocol):
    """What the query routes need from the read service (`app.state.read`)."""

    @property
    def db(self) -> AsyncDatabase[Any]: ...

    @property
    def max_wait_ms(self) -> int: ...

    @property
    def cache_max_age(self) -> int:
        """Seconds a list or statistics answer may be reused."""
        ...

    def collections(self, projection: str) -> Collections:
        """The active collections of "order_details", "customers" or "sales"."""
        ...

    async def wait_for_order(self, order_id: str, timeout: float) -> None:
        """Return once the order was written, or after `timeout` seconds."""
        ...

    async def pause_reason(self, projection: str) -> str | None:
        """Why the projection is paused (an operator, a rebuild's switch), or None."""
        ...

    async def order_exists(self, order_id: str, customer_id: str | None = None) -> bool | None:
        """Whether the event store has the order (placed by `customer_id`, when given); None
        when that cannot be known now."""
        ...


# The caller, once its token allows the route (else 401 or 403). A route's first parameter, so
# that nothing else is looked at for a caller without the permission.
Staff = Annotated[Principal, Depends(requires(QUERY))]
Reader = Annotated[Principal, Depends(requires(QUERY, customers=True))]
Observer = Annotated[Principal, Depends(requires(QUERY, OPERATE))]
Operator = Annotated[Principal, Depends(requires(OPERATE))]


def owner(caller: Principal) -> str | None:
    """The customer whose data alone a Reader may see; None when it may see everyone's."""
    if caller.has(QUERY) or caller.customer_id is None:
        return None
    return str(caller.customer_id)


async def get_read(request: Request) -> ReadModel:
    read: ReadModel = request.app.state.read
    return read


Read = Annotated[ReadModel, Depends(get_read)]


def _active(projection: str) -> Callable[[ReadModel], Awaitable[AsyncCollection[Any]]]:
    # Resolved on every request: a rebuild may have switched the active version meanwhile.
    async def main_collection(read: Read) -> AsyncCollection[Any]:
        return read.db[read.collections(projection).main]

    return main_collection


OrderDocs = Annotated[AsyncCollection[Any], Depends(_active(orders.PROJECTION))]
CustomerDocs = Annotated[AsyncCollection[Any], Depends(_active(customers.PROJECTION))]
SalesDocs = Annotated[AsyncCollection[Any], Depends(_active(stats.PROJECTION))]


def invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, for checks that span parameters."""
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


def _iso_day(value: Any) -> Any:
    # pydantic alone would also take "1704067200" or a datetime; the API promises YYYY-MM-DD.
    if not isinstance(value, str) or not _DAY.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day)]


def checked(start: date, end: date) -> DateRange:
    if start > end:
        raise invalid(("query", "from"), "must not be after `to`")
    days = DateRange(start, end)
    if days.days > MAX_SPAN_DAYS:
        raise invalid(("query", "to"), f"the range spans more than {MAX_SPAN_DAYS} days")
    return days


async def required_range(
    start: Annotated[IsoDay, Query(alias="from")], to: Annotated[IsoDay, Query()]
) -> DateRange:
    return checked(start, to)


async def recent_range(
    start: Annotated[IsoDay | None, Query(alias="from")] = None,
    to: Annotated[IsoDay | None, Query()] = None,
) -> DateRange:
    """Missing `to` is today (UTC); missing `from` is 30 days up to `to`."""
    end = to or datetime.now(UTC).date()
    return checked(start or _days_before(end, DEFAULT_SPAN_DAYS - 1), end)


def _days_before(day: date, days: int) -> date:
    """`days` before `day`, or the calendar's first day (date arithmetic overflows there)."""
    return date.fromordinal(max(date.min.toordinal(), day.toordinal() - days))


DaysRequired = Annotated[DateRange, Depends(required_range)]
DaysRecent = Annotated[DateRange, Depends(recent_range)]


async def page_cursor(
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> tuple[datetime, str] | None:
    try:
        return None if cursor is None else orders.decode_cursor(cursor)
    except orders.InvalidCursor as exc:
        raise invalid(("query", "cursor"), str(exc)) from exc


After = Annotated[tuple[datetime, str] | None, Depends(page_cursor)]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", description="ETags the client holds: 304 if one is current"),
]
