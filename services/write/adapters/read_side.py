"""The read service's view of an erasure, over its HTTP API: `GET /erasures/{customer_id}`."""

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import httpx

log = logging.getLogger(__name__)
# The answer waits for it: a read side slow to answer is reported as unavailable instead.
TIMEOUT = httpx.Timeout(2.0, connect=1.0)


class ReadSideErasures:
    """Asks the read service at `base_url` (none: not configured) with the caller's own
    Authorization, so that it answers what that caller may see."""

    def __init__(self, base_url: str, *, http: httpx.AsyncClient | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT)

    async def projections(
        self, customer_id: UUID, *, credentials: str | None
    ) -> dict[str, bool] | None:
        if not self._base:
            return None
        headers = {"Authorization": credentials} if credentials else {}
        url = f"{self._base}/erasures/{customer_id}"
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("the read service did not answer about an erasure: %r", exc)
            return None
        if response.status_code != 200:
            log.warning("the read service answered %d about an erasure", response.status_code)
            return None
        try:
            return caught_up(response.json())
        except ValueError as exc:
            log.warning("the read service's answer about an erasure is not understood: %s", exc)
            return None

    async def close(self) -> None:
        await self._http.aclose()


def caught_up(body: Any) -> dict[str, bool]:
    """`{"projections": {"<name>": {"caught_up": true}}}` -> `{"<name>": True}`."""
    found = body.get("projections") if isinstance(body, Mapping) else None
    if not isinstance(found, Mapping):
        raise ValueError("no projections in it")
    result = {}
    for name, state in found.items():
        value = state.get("caught_up") if isinstance(state, Mapping) else state
        if not isinstance(value, bool):
            raise ValueError(f"projection {str(name)[:40]!r} has no caught_up flag")
        result[str(name)] = value
    return result
