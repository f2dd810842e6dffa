"""The write service's read endpoints: a stream's history (gap healing), the log (rebuilds)."""

from typing import Any

import httpx
import orjson

from ..application.ports import LogPage, Unavailable
from ..projections.base import Event
from .codec import from_row, from_rows, internal
from .tokens import ClientCredentials, TokenUnavailable, bearer_auth


class WriteApiError(Unavailable):
    """The write service could not be reached or answered unexpectedly."""


class WriteApi:
    """An HTTP client of the write service, with the service's own token when given one."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: ClientCredentials | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        auth = bearer_auth(tokens)
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, auth=auth, transport=transport
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def stream_events(self, stream_id: str, *, after_version: int) -> list[Event]:
        """The stream's events after a version; empty when the write service has none (or for
        one of its internal streams, which no projection reads)."""
        body = await self._get(
            f"/streams/{stream_id}/events",
            {"after_version": after_version, "limit": 10_000},
            missing={"events": []},
        )
        return [from_row(row) for row in body["events"] if not internal(row)]

    async def stream_exists(self, stream_id: str, *, customer_id: str | None = None) -> bool:
        """Whether the event store holds a stream of this id (begun for `customer_id`, when
        given: an order's first event names its customer)."""
        body = await self._get(f"/streams/{stream_id}/events", {"limit": 1}, missing={})
        if not body.get("events"):
            return False
        return customer_id is None or body["events"][0]["data"].get("customer_id") == customer_id

    async def head_position(self) -> int:
        """The position of the last event in the log (0 when it is empty)."""
        return int((await self._get("/events/head", {}))["position"])

    async def page(self, after: str | None, limit: int) -> LogPage:
        """Up to `limit` rows of the log after the cursor `after` (from the start: None): their
        events, and the rows passed over (internal streams, types unknown here)."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        body = await self._get("/events", params)
        rows = from_rows(body["events"], trusted=True)
        return LogPage(
            rows.events,
            body["next"],
            bool(body["has_more"]),
            passed_over=rows.passed_over,
            unknown=tuple(rows.unknown),
        )

    async def _get(
        self, path: str, params: dict[str, Any], *, missing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON body of a GET; `missing` answers a 404 when given."""
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise WriteApiError(f"write service unreachable: {exc!r}") from exc
        except TokenUnavailable as exc:
            raise WriteApiError(f"no token for the write service: {exc}") from exc
        if response.status_code == 404 and missing is not None:
            return missing
        if response.status_code != 200:
            raise WriteApiError(f"GET {path} answered {response.status_code}")
        body: dict[str, Any] = orjson.loads(response.content)
        return body
