"""The rebuild tests' view of the running services: the log's head, the read services caught up
with it, each projection live on a version, a rebuild under way."""

import httpx

from tests.auth import bearer, client_token
from tests.e2e.rebuild.command import Rebuild
from tests.e2e.rebuild.database import Doc, ReadDatabase
from tests.polling import poll
from tests.read_side import statuses, wait_caught_up
from tests.services import RunningService

WAIT = 120.0  # bound of every poll: two cores shared with other runs, and a slow MongoDB stand-in


def operator(service: RunningService) -> httpx.AsyncClient:
    """A client of `service` with the read service's own token, as the operator commands use."""
    headers = bearer(client_token(service.env))
    return httpx.AsyncClient(base_url=service.url, timeout=30, headers=headers)


async def head(write_service: RunningService) -> int:
    async with operator(write_service) as http:
        return int((await http.get("/events/head")).raise_for_status().json()["position"])


async def wait_applied(write_service: RunningService, *readers: RunningService) -> None:
    """Every projection of every reader applied the log up to its head and has no lag."""
    position = await head(write_service)
    for reader in readers:
        async with operator(reader) as http:
            await wait_caught_up(http, position, timeout=WAIT)


async def wait_live(read_service: RunningService, versions: dict[str, int]) -> None:
    """/projections shows each projection live on the version given (its state is cached 0.25 s)."""
    found: dict[str, Doc] = {}

    async def check() -> bool:
        nonlocal found
        async with operator(read_service) as http:
            found = await statuses(http)
        return all(
            found[p]["state"] == "live" and found[p]["active_version"] == v
            for p, v in versions.items()
        )

    try:
        await poll(check, f"/projections to show {versions} live", timeout=10)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last: {[found[p] for p in versions]}") from None


async def wait_rebuilding(rebuilt: ReadDatabase, projection: str, run: Rebuild) -> Doc:
    """The `rebuild` entry of the state, once `run` holds the lock and has replayed events."""

    async def check() -> Doc | None:
        assert run.running, await run.finish()
        entry: Doc = (await rebuilt.state(projection)).get("rebuild") or {}
        mine = str(entry.get("owner", "")).split(":")[1:2] == [str(run.proc.pid)]
        return entry if mine and entry.get("running") and entry.get("events") else None

    return await poll(check, f"the rebuild of {projection} to be under way", timeout=WAIT)
