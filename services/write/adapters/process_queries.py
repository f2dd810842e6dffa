"""The fulfilment instances as operators read them, from PostgreSQL: the instances table and
the events about each instance (read-only; the process alone writes them)."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg

from shared.contracts.events import fulfilment_stream_id, stock_stream_id

from ..application.processes import (
    DEADLINE_GRACE_SECONDS,
    TERMINAL_STAGES,
    PageAfter,
    ProcessDetail,
    ProcessPage,
    ProcessState,
    ProcessSummary,
    Stream,
    TimelineEntry,
    without_personal_data,
)
from .event_log import postgres_call

_TERMINAL = ", ".join(f"'{stage}'" for stage in TERMINAL_STAGES)
# Stuck (of the row `i`, with the stuck time in seconds as $1): active and not done, and either
# no progress for that long while its order has events recorded since, or a deadline not fired.
_STUCK = f"""(i.state = 'active' AND i.stage NOT IN ({_TERMINAL}) AND (
    (i.progressed_at < now() - make_interval(secs => $1)
     AND EXISTS (SELECT 1 FROM events e
                 WHERE e.stream_id = i.order_id AND e.recorded_at > i.progressed_at))
    OR i.deadline_at < now() - make_interval(secs => {DEADLINE_GRACE_SECONDS})))"""
_SUMMARY = f"""i.order_id, i.state, i.stage, i.reservations, i.deadline_at, i.attempts, i.error,
    i.progressed_at, i.updated_at, {_STUCK} AS stuck"""
# Newest first; the order id breaks ties between rows updated in the same transaction.
_NEWEST = "ORDER BY updated_at DESC, order_id DESC"
# One state's rows, along the (state, updated_at) index: $2 the limit, $3 and $4 the cursor.
_PAGE_OF_STATE = f"""(SELECT {_SUMMARY} FROM fulfilment_instances i
    WHERE i.state = '{{state}}' {{stuck}} {{after}} {_NEWEST} LIMIT $2)"""
_AFTER = "AND (i.updated_at, i.order_id) < ($3::timestamptz, $4::uuid)"

_INSTANCE = f"""SELECT {_SUMMARY}, i.rules, i.version, i.started_at
FROM fulfilment_instances i WHERE i.order_id = $2"""
_EVENT = """SELECT position, stream_type, event_type, data, recorded_at,
       metadata->'actor'->>'subject' AS actor
FROM events"""
_OWN_EVENTS = f"{_EVENT} WHERE stream_id = ANY($1::uuid[]) ORDER BY position"
# A stock item's events about the order: after the order began, on the streams of its SKUs.
_STOCK_EVENTS = f"""{_EVENT}
WHERE stream_id = ANY($1::uuid[]) AND position > $2 AND data->>'order_id' = $3
ORDER BY position"""
_COUNT = f"""SELECT i.state, count(*) AS n, count(*) FILTER (WHERE {_STUCK}) AS stuck
FROM fulfilment_instances i GROUP BY i.state"""
_STREAMS: dict[str, Stream] = {"order": "order", "fulfilment": "process", "stock": "stock"}
_ROW_STATES = (ProcessState.ACTIVE, ProcessState.SUSPENDED, ProcessState.COMPLETED)


class PostgresProcessQueries:
    """ProcessQueries over the fulfilment_instances table and the events table."""

    def __init__(self, pool: asyncpg.Pool, *, stuck_seconds: float) -> None:
        self._pool = pool
        self._stuck_seconds = float(stuck_seconds)

    @postgres_call
    async def list(
        self, *, state: ProcessState | None, limit: int, after: PageAfter | None = None
    ) -> ProcessPage:
        sql, args = _page_query(state, limit + 1, after)
        rows = await self._pool.fetch(sql, self._stuck_seconds, *args)
        items = [_summary(row) for row in rows[:limit]]
        more = len(rows) > limit
        last = items[-1] if more else None
        return ProcessPage(items, PageAfter(last.updated_at, last.order_id) if last else None)

    @postgres_call
    async def get(self, order_id: UUID) -> ProcessDetail | None:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):  # one snapshot: the row and the events it was made of
            row = await conn.fetchrow(_INSTANCE, self._stuck_seconds, order_id)
            if row is None:
                return None
            own = await conn.fetch(_OWN_EVENTS, [order_id, fulfilment_stream_id(order_id)])
            stock = await conn.fetch(
                _STOCK_EVENTS, _stock_streams(own), own[0]["position"] if own else 0, str(order_id)
            )
        timeline = sorted((_entry(r) for r in (*own, *stock)), key=lambda e: e.position)
        return ProcessDetail(
            summary=_summary(row),
            rules=row["rules"],
            version=row["version"],
            started_at=row["started_at"],
            timeline=timeline,
        )

    @postgres_call
    async def find(self, order_id: UUID) -> ProcessSummary | None:
        row = await self._pool.fetchrow(_INSTANCE, self._stuck_seconds, order_id)
        return None if row is None else _summary(row)

    @postgres_call
    async def count_by_state(self) -> dict[ProcessState, int]:
        rows = await self._pool.fetch(_COUNT, self._stuck_seconds)
        counts = dict.fromkeys(ProcessState, 0)
        for row in rows:
            if row["state"] in counts:
                counts[ProcessState(row["state"])] = row["n"]
            counts[ProcessState.STUCK] += row["stuck"]
        return counts


def _page_query(
    state: ProcessState | None, limit: int, after: PageAfter | None
) -> tuple[str, list[Any]]:
    """The statement of a page and its arguments after the stuck time ($1). Without a state,
    the newest of each state's newest: each along the index, never a sort of the table."""
    stuck = state is ProcessState.STUCK
    states = [ProcessState.ACTIVE] if stuck else [state] if state else list(_ROW_STATES)
    parts = [
        _PAGE_OF_STATE.format(
            state=s.value, stuck=f"AND {_STUCK}" if stuck else "", after=_AFTER if after else ""
        )
        for s in states
    ]
    sql = f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS page {_NEWEST} LIMIT $2"
    args: list[Any] = [limit]
    if after is not None:
        args += [after.updated_at, after.order_id]
    return sql, args


def _summary(row: asyncpg.Record) -> ProcessSummary:
    return ProcessSummary(
        order_id=row["order_id"],
        state=row["state"],
        stage=row["stage"],
        reservations={str(sku): int(qty) for sku, qty in (row["reservations"] or {}).items()},
        deadline_at=row["deadline_at"],
        attempts=row["attempts"],
        error=row["error"],
        progressed_at=row["progressed_at"],
        updated_at=row["updated_at"],
        stuck=bool(row["stuck"]),
    )


def _stock_streams(rows: Iterable[asyncpg.Record]) -> list[UUID]:
    """The stock streams the order's events and the process's name: of its lines' SKUs, and
    of those the process reserved, refused, released or shipped out."""
    skus: set[str] = set()
    for row in rows:
        data = row["data"] or {}
        skus.update(str(line["sku"]) for line in data.get("items", ()) if "sku" in line)
        skus.update(str(sku) for sku in data.get("skus", ()))
        if "sku" in data:
            skus.add(str(data["sku"]))
    return [stock_stream_id(sku) for sku in sorted(skus)]


def _entry(row: asyncpg.Record) -> TimelineEntry:
    return TimelineEntry(
        position=row["position"],
        stream=_STREAMS[row["stream_type"]],
        type=row["event_type"],
        data=without_personal_data(row["data"] or {}),
        recorded_at=row["recorded_at"],
        actor=row["actor"],
    )
