"""Shared state of the projections in MongoDB: active version, pause flag, rebuild progress.

Every read-service process and the rebuild command read it, so an operator's pause or a
rebuild's switch reaches all of them.
"""

import contextlib
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ..application.status import SharedState
from .collection_names import STATE, Collections
from .mongo import unavailable_on_error

DEFAULT_STATE: dict[str, Any] = {"active_version": 1, "paused": False}


class ControlState:
    """The `projection_state` collection, with a short-lived cache for hot paths.

    Any failure of MongoDB is `Unavailable`: without this state nothing may go on.
    """

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, ttl: float = 0.25) -> None:
        self._coll = db[STATE]
        self._ttl = ttl
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    @unavailable_on_error
    async def get(self, projection: str, *, fresh: bool = False) -> dict[str, Any]:
        cached = self._cache.get(projection)
        if cached and not fresh and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        doc = await self._coll.find_one({"_id": projection})
        if doc is None:
            # Several processes may create it at once: whoever loses finds the winner's.
            with contextlib.suppress(DuplicateKeyError):
                await self._coll.insert_one({"_id": projection, **DEFAULT_STATE})
            doc = await self._coll.find_one({"_id": projection}) or {**DEFAULT_STATE}
        self._cache[projection] = (time.monotonic(), doc)
        return doc

    @unavailable_on_error
    async def refresh(self, projections: list[str]) -> dict[str, SharedState]:
        """Read the state of every projection in one query, for the cache (a process's reader
        of the state calls this every two seconds, so that nothing else has to ask)."""
        found = {doc["_id"]: doc async for doc in self._coll.find({"_id": {"$in": projections}})}
        now = time.monotonic()
        for projection, doc in found.items():
            self._cache[projection] = (now, doc)
        for projection in set(projections) - found.keys():
            found[projection] = await self.get(projection, fresh=True)
        return {projection: shared_state(doc) for projection, doc in found.items()}

    async def shared(self, projection: str) -> SharedState:
        return shared_state(await self.get(projection))

    async def collections(self, projection: str) -> Collections:
        state = await self.get(projection)
        return Collections(projection, int(state["active_version"]))

    async def active_version(self, projection: str) -> int:
        return int((await self.get(projection))["active_version"])

    def lock(self, projection: str) -> "RebuildLock":
        return RebuildLock(self, projection)

    def cached_collections(self, projection: str) -> Collections:
        cached = self._cache.get(projection)
        version = int(cached[1]["active_version"]) if cached else 1
        return Collections(projection, version)

    async def paused(self, projection: str) -> bool:
        """Paused by an operator, or by a rebuild whose pause has not expired."""
        return await self.pause_reason(projection) is not None

    async def pause_reason(self, projection: str) -> str | None:
        """Why the projection's consumers hold still (an operator, a rebuild), or None."""
        state = await self.get(projection)
        if state.get("paused"):
            return "paused by an operator"
        until = state.get("paused_until")
        if until is not None and until > datetime.now(UTC):
            return "paused while a rebuild switches versions"
        return None

    @unavailable_on_error
    async def set_if(
        self, projection: str, condition: dict[str, Any], values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Set `values` in the projection's state if it also matches `condition`; the state as it
        was, or None when it did not match (a compare-and-set: the rebuild lock's)."""
        before: dict[str, Any] | None = await self._coll.find_one_and_update(
            {"_id": projection, **condition}, {"$set": values}
        )
        return before

    @unavailable_on_error
    async def advance(self, projection: str, position: int) -> None:
        """Record the highest event-store position applied (it only ever grows)."""
        await self._coll.update_one({"_id": projection}, {"$max": {"position": position}})

    @unavailable_on_error
    async def ack(self, projection: str, instance: str, *, paused: bool) -> None:
        """A consumer reports whether it is holding still (read by a rebuild before its switch)."""
        entry = {"paused": paused, "at": datetime.now(UTC)}
        await self._coll.update_one({"_id": projection}, {"$set": {f"acks.{instance}": entry}})

    async def all_paused(self, projection: str, *, alive_within: float = 10.0) -> bool:
        """Every consumer seen in the last `alive_within` seconds acknowledged the pause."""
        state = await self.get(projection, fresh=True)
        now = datetime.now(UTC)
        live = [
            a
            for a in (state.get("acks") or {}).values()
            if (now - a["at"]).total_seconds() < alive_within
        ]
        return all(a["paused"] for a in live)

    @unavailable_on_error
    async def set(self, projection: str, **fields: Any) -> None:
        await self.get(projection, fresh=True)
        await self._coll.update_one({"_id": projection}, {"$set": fields})
        self._cache.pop(projection, None)


def shared_state(state: dict[str, Any]) -> SharedState:
    """The application's view of a projection's state document."""
    return SharedState(
        active_version=int(state.get("active_version", 1)),
        paused=bool(state.get("paused")),
        position=int(state.get("position", 0)),
        rebuild=state.get("rebuild") or None,
        rebuilding=rebuild_running(state),
    )


def rebuild_running(state: dict[str, Any]) -> bool:
    """A rebuild holds the lock and has shown signs of life within the lease."""
    rebuild = state.get("rebuild") or {}
    beat = rebuild.get("heartbeat_at")
    fresh = beat is not None and (datetime.now(UTC) - beat).total_seconds() < LEASE_SECONDS
    return bool(rebuild.get("running")) and fresh


class RebuildRefused(Exception):
    """Another rebuild of the same projection holds the lock."""


LEASE_SECONDS = 30.0


class RebuildLock:
    """One rebuild per projection: a lease in `projection_state`, renewed by heartbeats.

    A holder that died is replaced once its lease lapses, or at once when it ran on this host
    and its process is gone.
    """

    def __init__(self, control: ControlState, projection: str) -> None:
        self.control = control
        self.projection = projection
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def acquire(self, **fields: Any) -> dict[str, Any] | None:
        """Take the lock; returns what a previous (dead) holder left in the state, if anything."""
        state = await self.control.get(self.projection, fresh=True)
        held = state.get("rebuild") or {}
        takeover: dict[str, Any] = {"rebuild.running": {"$ne": True}}
        if held.get("running") and self._dead(held):
            takeover = {"rebuild.owner": held.get("owner")}
        now = datetime.now(UTC)
        stale = now - timedelta(seconds=LEASE_SECONDS)
        entry = {"running": True, "owner": self.owner, "started_at": now, "heartbeat_at": now}
        free = {"$or": [takeover, {"rebuild.heartbeat_at": {"$lt": stale}}]}
        done = await self.control.set_if(self.projection, free, {"rebuild": {**entry, **fields}})
        if done is None:
            raise RebuildRefused(
                f"a rebuild of {self.projection} is already running ({held.get('owner')},"
                f" started {held.get('started_at')}): wait for it to finish"
            )
        previous: dict[str, Any] | None = (done.get("rebuild") or None) if held else None
        return previous

    def _dead(self, held: dict[str, Any]) -> bool:
        host, _, rest = str(held.get("owner", "")).partition(":")
        pid = rest.partition(":")[0]
        if host != socket.gethostname() or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    async def update(self, **fields: Any) -> None:
        """Heartbeat, with progress fields."""
        values = {f"rebuild.{k}": v for k, v in fields.items()}
        values["rebuild.heartbeat_at"] = datetime.now(UTC)
        await self.control.set_if(self.projection, {"rebuild.owner": self.owner}, values)

    async def release(self, **fields: Any) -> None:
        await self.update(running=False, finished_at=datetime.now(UTC), **fields)
