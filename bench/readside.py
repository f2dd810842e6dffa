"""Waiting for the pipeline from outside: the relay's progress from the write service's metrics,
the projections' from the read service's operator API, with bounded polling."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from .httpclient import HttpPool
from .promtext import scrape

PROJECTIONS = ("order_details", "customers", "sales")
HEAD, PUBLISHED = "eventstore_head_position", "outbox_published_position"


async def write_head(write: HttpPool) -> int:
    """The event store's highest committed position (the write service reads it per scrape)."""
    return int((await scrape(write)).get(HEAD, 0))


async def wait_published(write: HttpPool, *, timeout: float = 300.0) -> int:
    """Until the relay has published everything committed so far; returns that position."""
    deadline = time.monotonic() + timeout
    while True:
        samples = await scrape(write)
        head, published = int(samples.get(HEAD, 0)), int(samples.get(PUBLISHED, 0))
        if published >= head:
            return head
        if time.monotonic() > deadline:
            raise TimeoutError(f"the relay published up to {published} of {head} in {timeout} s")
        await asyncio.sleep(0.1)


async def projections(read: HttpPool) -> dict[str, dict[str, Any]]:
    """GET /projections, by name."""
    response = await read.request("GET", "/projections")
    if response.status != 200:
        raise RuntimeError(f"GET /projections answered {response.status}: {response.body[:200]!r}")
    return {p["name"]: p for p in response.json()["projections"]}


async def wait_caught_up(write: HttpPool, read: HttpPool, *, timeout: float = 120.0) -> None:
    """Until every projection has applied the write side's head and measures no lag."""
    head = await write_head(write)
    deadline = time.monotonic() + timeout
    while True:
        found = await projections(read)
        if all(
            p["position"] >= head and p["lag_measured"] and p["lag_events"] == 0
            for p in found.values()
        ):
            return
        if time.monotonic() > deadline:
            late = {n: (p["position"], p["lag_events"]) for n, p in found.items()}
            raise TimeoutError(f"not caught up with {head} in {timeout} s: {late}")
        await asyncio.sleep(0.2)


async def set_paused(read: HttpPool, name: str, *, paused: bool) -> None:
    """An operator's pause or resume of one projection."""
    verb = "pause" if paused else "resume"
    response = await read.request("POST", f"/projections/{name}/{verb}")
    if response.status != 200:
        raise RuntimeError(f"{verb} {name} answered {response.status}: {response.body[:200]!r}")


async def wait_holding(
    mongo: Any, database: str, names: tuple[str, ...], *, since: datetime, timeout: float = 30
) -> None:
    """Until the consumers of `names` have acknowledged holding still after `since`, in the
    read service's projection_state (as a rebuild waits for them); `mongo` is a client."""
    deadline = time.monotonic() + timeout
    states = mongo[database]["projection_state"]
    while True:
        holding = set()
        async for state in states.find({"_id": {"$in": list(names)}}):
            acks = list((state.get("acks") or {}).values())
            if acks and all(a["paused"] and _utc(a["at"]) >= since for a in acks):
                holding.add(state["_id"])
        if holding == set(names):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not holding still after {timeout} s: {set(names) - holding}")
        await asyncio.sleep(0.1)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
