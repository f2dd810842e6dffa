"""Route dependencies of the read service, as Annotated aliases (all async: FastAPI runs a sync
one in a thread)."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from shared.contracts.events import SKU_PATTERN
from shared.plumbing.access import requires
from shared.plumbing.auth import ERASE, OPERATE, QUERY, Principal

from ..application.operations import ProjectionOperations
from ..queries import orders, stock
from ..queries.facade import ReadQueries
from ..queries.stats import DateRange

MAX_SPAN_DAYS = 366
DEFAULT_SPAN_DAYS = 30
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# The caller, once its token allows the route (else 401 or 403). A route's first parameter, so
# that nothing else is looked at for a caller without the permission.
Staff = Annotated[Principal, Depends(requires(QUERY))]
Reader = Annotated[Principal, Depends(requires(QUERY, customers=True))]
Observer = Annotated[Principal, Depends(requires(QUERY, OPERATE))]
Operator = Annotated[Principal, Depends(requires(OPERATE))]
# Who may see whether an erasure reached the projections: operators, and whoever may erase.
ErasureReader = Annotated[Principal, Depends(requires(ERASE, OPERATE))]


def owner(caller: Principal) -> str | None:
    """The customer whose data alone a Reader may see; None when it may see everyone's."""
    if caller.has(QUERY) or caller.customer_id is None:
        return None
    return str(caller.customer_id)


async def get_read(request: Request) -> ReadQueries:
    read: ReadQueries = request.app.state.read
    return read


async def get_operations(request: Request) -> ProjectionOperations:
    operations: ProjectionOperations = request.app.state.operations
    return operations


# What the query routes ask (the composition root's ReadQueries), and the operations routes.
Read = Annotated[ReadQueries, Depends(get_read)]
Operations = Annotated[ProjectionOperations, Depends(get_operations)]


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


# A page cursor as the lists give them (base64url), before it is decoded.
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


async def page_cursor(cursor: Cursor = None) -> tuple[datetime, str] | None:
    try:
        return None if cursor is None else orders.decode_cursor(cursor)
    except orders.InvalidCursor as exc:
        raise invalid(("query", "cursor"), str(exc)) from exc


After = Annotated[tuple[datetime, str] | None, Depends(page_cursor)]


async def stock_cursor(cursor: Cursor = None) -> str | None:
    try:
        return None if cursor is None else stock.decode_cursor(cursor)
    except orders.InvalidCursor as exc:
        raise invalid(("query", "cursor"), str(exc)) from exc


StockAfter = Annotated[str | None, Depends(stock_cursor)]
Sku = Annotated[str, Path(max_length=64, pattern=SKU_PATTERN, description="the SKU")]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", description="ETags the client holds: 304 if one is current"),
]
