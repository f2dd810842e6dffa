"""The read side seen from outside: whether its projections caught up, what its API serves, what
its MongoDB collections hold, what its metrics say."""

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from pymongo.asynchronous.database import AsyncDatabase

from tests.polling import poll

PROJECTIONS = ("order_details", "customers", "sales", "stock")
# The collections of every projection's first version: its main documents and its auxiliary roles.
FIRST_VERSION_COLLECTIONS = {
    "order_details_v1",
    "order_details_v1_customers",
    "customers_v1",
    "customers_v1_orders",
    "sales_v1",
    "sales_v1_orders",
    "stock_v1",
}
Doc = dict[str, Any]
Snapshot = dict[str, list[Doc]]
Watch = Callable[[dict[str, Doc]], None]


async def statuses(reader: httpx.AsyncClient) -> dict[str, Doc]:
    """`GET /projections` of the read service `reader` is a client of, by projection."""
    body = (await reader.get("/projections")).raise_for_status().json()
    return {p["name"]: p for p in body["projections"]}


def caught_up(status: Doc, head: int) -> bool:
    """Healthy, at `head` or past it, its lag measured at least once (it reads 0 until then)
    and nothing left to apply."""
    return bool(
        status["healthy"]
        and status["position"] >= head
        and status["lag_measured"]
        and status["lag_events"] == 0
        and status["lag_seconds"] == 0
    )


async def wait_caught_up(
    reader: httpx.AsyncClient,
    head: int,
    *,
    names: Iterable[str] = PROJECTIONS,
    timeout: float = 60.0,
    settle: float = 0.0,
    watch: Watch | None = None,
) -> dict[str, Doc]:
    """Bounded polling of `/projections` until each of `names` is caught up with the log up to
    position `head`, and has stayed so for `settle` seconds; returns the last statuses.

    `watch` sees every answer (to sample it, or to fail early). An answer that is an HTTP error
    (a 503 while MongoDB is away) is waited past, and shown if the wait times out."""
    wanted = tuple(names)
    found: dict[str, Doc] = {}
    errors: list[str] = []
    since: float | None = None

    async def check() -> bool:
        nonlocal since
        try:
            found.update(await statuses(reader))
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
            return False
        if watch is not None:
            watch(found)
        now = time.monotonic()
        done = all(name in found and caught_up(found[name], head) for name in wanted)
        since = (since or now) if done else None
        return since is not None and now - since >= settle

    def seen() -> Doc:
        return {"projections": found, "errors": errors[-3:]}

    what = f"{wanted} to reach position {head} with no lag"
    await poll(check, what, seen=seen, timeout=timeout, interval=0.1)
    return found


async def served(reader: httpx.AsyncClient, paths: Iterable[str]) -> dict[str, Doc]:
    """What the read API answers for each path (a query string included); each must be 200."""
    answers = {}
    for path in paths:
        response = await reader.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        answers[path] = response.json()
    return answers


async def snapshot(db: AsyncDatabase[Doc], *, only: re.Pattern[str] | None = None) -> Snapshot:
    """Every collection's documents (of the collections `only` matches in full), sorted by `_id`,
    without `_rev` (a write counter)."""
    names = [n for n in await db.list_collection_names() if only is None or only.fullmatch(n)]
    result: Snapshot = {}
    for name in sorted(names):
        cursor = db[name].find({}).sort("_id", 1)
        result[name] = [{k: v for k, v in doc.items() if k != "_rev"} async for doc in cursor]
    return result


def metric(source: str | CollectorRegistry, name: str, projection: str) -> float:
    """The sum of the samples of `name` labelled with `projection`, read from a Prometheus
    exposition's text or from a registry of this process."""
    text = source if isinstance(source, str) else generate_latest(source).decode()
    pattern = re.compile(rf'^{name}\{{[^}}]*projection="{projection}"[^}}]*\}} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(text))
