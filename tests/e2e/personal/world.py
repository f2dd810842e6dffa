"""The personal-data tests' world: the scopes each caller holds, an erasure and the wait for
the read side to apply it, and what was seen of the canary before it."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from deploy.local.stack import LocalIssuer
from shared.contracts.personal import PERSONAL_FIELDS
from tests.auth import ALL_SCOPES, bearer, token
from tests.e2e.personal.canary import Canary
from tests.e2e.rebuild.serving import WAIT, wait_applied
from tests.polling import poll
from tests.services import RunningService

Doc = dict[str, Any]
ERASE = ("ordering:erase", "ordering:operate")  # erase, and see the erasure's progress
PII = ("ordering:pii",)
KEYS = ("ordering:keys",)
ALL_BUT_PII = tuple(s for s in ALL_SCOPES if s not in PII)
ERASER = "privacy-officer"  # the eraser token's subject, as the receipt names it


@dataclass(frozen=True)
class Erased:
    """The canary after its erasure, the neighbour beside it, and what was seen before."""

    canary: Canary
    neighbour: Canary
    receipt: httpx.Response
    key_rows: list[asyncpg.Record]  # the canary's customer_keys rows before the erasure
    documents: dict[str, Doc]  # the canary's profile and orders as the read service served them
    streams: dict[str, list[Doc]]  # stream id -> its events, of both customers' streams

    @property
    def event_ids(self) -> set[str]:
        return {str(e["event_id"]) for events in self.streams.values() for e in events}

    @property
    def paths(self) -> list[str]:
        """The read documents of both customers."""
        return [*self.canary.paths, *self.neighbour.paths]

    def personal_events(self, who: Canary) -> list[str]:
        """The ids of `who`'s events that hold personal data."""
        streams = (who.customer_id, *who.orders)
        return [
            str(e["event_id"])
            for s in streams
            for e in self.streams[s]
            if e["event_type"] in PERSONAL_FIELDS
        ]

    def event(self, stream_id: str, event_type: str) -> str:
        """The id of the first event of `event_type` in the stream."""
        return next(
            str(e["event_id"]) for e in self.streams[stream_id] if e["event_type"] == event_type
        )


def client_of(service: RunningService, issuer: LocalIssuer, *scopes: str) -> httpx.AsyncClient:
    """A client of `service` with a token holding exactly `scopes`."""
    headers = bearer(token(issuer, scopes, subject=ERASER))
    return httpx.AsyncClient(base_url=service.url, timeout=30, headers=headers)


async def stream_events(write: httpx.AsyncClient, *stream_ids: str) -> dict[str, list[Doc]]:
    found = {}
    for stream_id in stream_ids:
        response = (await write.get(f"/streams/{stream_id}/events")).raise_for_status()
        found[stream_id] = response.json()["events"]
    return found


@dataclass(frozen=True)
class Stack:
    """The services of the module: the write service (with the relay), the read service, and
    a second write replica that asks that read service how far an erasure got
    (READ_SERVICE_URL), as operators' write services do."""

    write: RunningService
    read: RunningService
    replica: RunningService
    issuer: LocalIssuer

    @property
    def logs(self) -> list[Path]:
        return [self.write.log, self.read.log, self.replica.log]


async def erasure_state(stack: Stack, customer_id: str) -> httpx.Response:
    """GET /erasures/{id} of the replica that asks the read side."""
    async with client_of(stack.replica, stack.issuer, *ERASE) as eraser:
        return await eraser.get(f"/erasures/{customer_id}")


async def erase(stack: Stack, customer_id: str) -> httpx.Response:
    """POST /customers/{id}/erasure, then wait until every projection applied it."""
    async with client_of(stack.write, stack.issuer, *ERASE) as eraser:
        answer = await eraser.post(f"/customers/{customer_id}/erasure")
    assert answer.status_code == 200, answer.text
    last: list[object] = []

    async def applied() -> Doc | None:
        now = await erasure_state(stack, customer_id)
        last[:] = [now.status_code, now.text]
        body: Doc = now.json() if now.status_code == 200 else {}
        shown = body.get("projections") or {}
        return body if shown and all(p["caught_up"] for p in shown.values()) else None

    what = f"the read side to apply the erasure of {customer_id}"
    await poll(applied, what, timeout=WAIT, seen=lambda: last)
    await wait_applied(stack.write, stack.read)
    return answer
