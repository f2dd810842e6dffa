"""The customers' data keys, from the write service (`POST /personal-data/keys`, with the read
service's own token, whose scope names `ordering:keys`), kept in memory for a bounded time and
number.

A key is held here as its 32 bytes, and made a cipher for the batch that asks for it (an AESGCM
object holds about 2.5 KB of OpenSSL state; the bytes, 32): never logged, never written anywhere
(not to MongoDB, not into an error's message). An erased customer is kept as such (an erasure is for
good, and the write service's answer checks its journal every time); a customer the write
service knows no key of is asked about again next time (a key may be made on first need).
"""

import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any
from uuid import UUID

import httpx
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.personal import KEY_BYTES

from ..application.ports import Unavailable
from .tokens import ClientCredentials, TokenUnavailable, bearer_auth

PATH = "/personal-data/keys"
MAX_IDS = 500  # customers a request may ask about (the write service's limit)
Kept = tuple[bytes | None, float]  # the key (None: erased), and until when it is kept


class KeyRingUnavailable(Unavailable):
    """The write service could not give the keys: unreachable, refused, or an answer that is
    not one."""


class HttpKeyRing:
    """The data keys the write service gives, as ciphers, kept for `ttl` seconds and at most
    `size` of them (the least recently used leave first)."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: ClientCredentials | None = None,
        ttl: float = 300.0,
        size: int = 10_000,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, auth=bearer_auth(tokens), transport=transport
        )
        self.ttl, self.size = ttl, size
        self._clock = clock
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self.requests = 0  # how many times the write service was asked

    async def close(self) -> None:
        await self._client.aclose()

    async def keys(self, customer_ids: Collection[str]) -> dict[str, AESGCM | None]:
        now = self._clock()
        found: dict[str, bytes | None] = {}
        missing = []
        for customer_id in set(customer_ids):
            kept = self._kept.get(customer_id)
            if kept is not None and kept[1] > now:
                self._kept.move_to_end(customer_id)
                found[customer_id] = kept[0]
            else:
                missing.append(customer_id)
        missing.sort()
        for start in range(0, len(missing), MAX_IDS):
            found.update(await self._fetch(missing[start : start + MAX_IDS], now))
        return {c: None if key is None else AESGCM(key) for c, key in found.items()}

    def forget(self, customer_id: str) -> None:
        self._kept.pop(customer_id, None)

    async def _fetch(self, customer_ids: list[str], now: float) -> dict[str, bytes | None]:
        """One request: the key of each customer with one, None for the others."""
        asked = {_canonical(c): c for c in customer_ids}
        body = await self._post({"customer_ids": list(asked)})
        try:
            keys, erased = dict(body["keys"]), list(body["erased"])
            found: dict[str, bytes | None] = dict.fromkeys(customer_ids)
            for given, encoded in keys.items():
                customer_id = asked[_canonical(given)]
                found[customer_id] = self._keep(customer_id, _key(encoded), now)
            for given in erased:
                self._keep(asked[_canonical(given)], None, now)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            # The message names what was wrong, never a value of the answer.
            raise KeyRingUnavailable(f"POST {PATH} answered {type(exc).__name__}") from None
        return found

    def _keep(self, customer_id: str, key: bytes | None, now: float) -> bytes | None:
        if self.ttl > 0 and self.size > 0:
            self._kept[customer_id] = (key, now + self.ttl)
            self._kept.move_to_end(customer_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return key

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        try:
            response = await self._client.post(PATH, content=orjson.dumps(body), headers=_JSON)
        except httpx.HTTPError as exc:
            raise KeyRingUnavailable(f"write service unreachable: {exc!r}") from exc
        except TokenUnavailable as exc:
            raise KeyRingUnavailable(f"no token for the write service: {exc}") from exc
        if response.status_code != 200:
            raise KeyRingUnavailable(f"POST {PATH} answered {response.status_code}")
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise KeyRingUnavailable(f"POST {PATH} answered with no JSON") from None
        if not isinstance(answer, dict):
            raise KeyRingUnavailable(f"POST {PATH} answered with no JSON object")
        return answer


_JSON = {"Content-Type": "application/json"}


def _canonical(customer_id: str) -> str:
    """A customer id as the write service writes it (a UUID's canonical form)."""
    try:
        return str(UUID(str(customer_id)))
    except ValueError:
        return str(customer_id)


def _key(encoded: Any) -> bytes:
    key = base64.b64decode(encoded, validate=True)
    if len(key) != KEY_BYTES:
        raise ValueError("a data key of the wrong length")
    return key
