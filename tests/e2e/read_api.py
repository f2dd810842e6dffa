"""What the read API answers, compared with `tests.reference`'s model of the log; waits are
bounded polls on observable conditions (positions, lag), never fixed sleeps."""

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any

import httpx

from shared.contracts.personal import clear_values, is_sealed, personal_paths
from tests.read_side import PROJECTIONS, wait_caught_up
from tests.reference import ReferenceModel
from tests.reference_records import parse_time

PROBLEM = "application/problem+json"
TIME_KEYS = frozenset({"at", "changed_at", "placed_at", "updated_at", "registered_at"})
WAIT = 60.0  # bound of every poll; the dev broker alone needs ~3-6 s for a group join
STALL = 20.0  # a projection with events waiting that does not move for this long is stuck
Doc = dict[str, Any]


async def feed(client: httpx.AsyncClient) -> list[Doc]:
    """The whole log, paged through `GET /events` until `has_more` is false."""
    events: list[Doc] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = (await client.get("/events", params=params)).raise_for_status().json()
        events.extend(page["events"])
        if not page["has_more"]:
            return events
        params["after"] = page["next"]


async def disclosed(client: httpx.AsyncClient, events: list[Doc]) -> list[Doc]:
    """The events with their personal values in the clear, as an outside consumer gets them:
    `GET /events/{id}/personal-data` (ordering:pii) for each event holding a sealed value
    (null once its customer is erased, as the read side shows them)."""
    sealed = [e for e in events if _holds_sealed(e)]
    found: dict[str, Doc] = {}
    for start in range(0, len(sealed), 20):
        chunk = sealed[start : start + 20]
        answers = await asyncio.gather(*(_personal_data(client, e) for e in chunk))
        found.update((e["event_id"], fields) for e, fields in zip(chunk, answers, strict=True))
    return [_with_values(e, found[e["event_id"]]) if e["event_id"] in found else e for e in events]


def _holds_sealed(event: Doc) -> bool:
    return any(map(is_sealed, clear_values(event["data"], event["event_type"]).values()))


async def _personal_data(client: httpx.AsyncClient, event: Doc) -> Doc:
    response = await client.get(f"/events/{event['event_id']}/personal-data")
    if response.status_code == 410:  # erased
        return dict.fromkeys(personal_paths(event["event_type"]))
    fields: Doc = response.raise_for_status().json()["fields"]
    return fields


def _with_values(event: Doc, fields: Doc) -> Doc:
    data = dict(event["data"])
    for path, value in fields.items():
        head, _, tail = path.partition(".")
        data[head] = {**data[head], tail: value} if tail else value
    return {**event, "data": data}


async def caught_up_log(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, names: tuple[str, ...] = PROJECTIONS
) -> list[Doc]:
    """The whole log (its personal values disclosed), once `names` applied all of it and have
    no lag.

    Fails early when a projection with events waiting makes no progress at all for STALL s.
    """
    events = await feed(client)
    head = max((int(e["position"]) for e in events), default=0)
    progress: dict[str, tuple[tuple[int, int, int], float]] = {}

    def watch(found: dict[str, Doc]) -> None:
        for name in names:
            if name in found:
                assert_progressing(name, found[name], progress)

    await wait_caught_up(reader, head, names=names, timeout=WAIT, watch=watch)
    return await disclosed(client, events)


def assert_progressing(
    name: str, status: Doc, progress: dict[str, tuple[tuple[int, int, int], float]]
) -> None:
    marks = (status["position"], status["events_applied"], status["lag_events"])
    now = time.monotonic()
    if name not in progress or progress[name][0] != marks or not status["lag_events"]:
        progress[name] = (marks, now)
    assert now - progress[name][1] < STALL, f"projection {name} is stuck: {status}"


async def get_json(reader: httpx.AsyncClient, path: str, **params: Any) -> Doc:
    response = await reader.get(path, params=params)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    body: Doc = response.json()
    return body


def comparable(actual: Any, expected: Any) -> Any:
    """`actual` cut down to the keys `expected` has, with timestamps parsed.

    Times are compared to the millisecond: BSON dates, which MongoDB stores, carry no more.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: _field(key, actual.get(key, "<missing>"), expected[key]) for key in expected}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [comparable(a, e) for a, e in zip(actual, expected, strict=True)]
    return actual


def _field(key: str, actual: Any, expected: Any) -> Any:
    if key in TIME_KEYS and isinstance(actual, str):
        return to_millis(parse_time(actual))
    return comparable(actual, expected)


def to_millis(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def expected_times(doc: Any) -> Any:
    """The reference document with its timestamps cut to the millisecond."""
    if isinstance(doc, dict):
        return {
            k: to_millis(v) if isinstance(v, datetime) else expected_times(v)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [expected_times(v) for v in doc]
    return doc


def assert_matches(actual: Any, expected: Any) -> None:
    """`actual` has `expected`'s fields with `expected`'s values (timestamps to the ms)."""
    want = expected_times(expected)
    assert comparable(actual, want) == want


def assert_problem(response: httpx.Response, status: int) -> Doc:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: Doc = response.json()
    assert body["status"] == status and body["title"], body
    return body


def today() -> date:
    return datetime.now(UTC).date()


def every_query(model: ReferenceModel) -> list[str]:
    """A query for every document and statistic the read API serves for what `model` holds."""
    days = model.days()
    period = f"from={days[0].isoformat()}&to={days[-1].isoformat()}"
    paths = [f"/orders/{order_id}" for order_id in model.order_ids()]
    for customer_id in model.customer_ids():
        paths += [f"/customers/{customer_id}", f"/customers/{customer_id}/orders?limit=100"]
    paths.append(f"/stats/daily?{period}")
    paths += [f"/stats/top-products?by={by}&limit=100&{period}" for by in ("revenue", "units")]
    return paths
