"""Idempotency fingerprints are keyed: without the index key, a stored fingerprint of a body
holding an email cannot be matched against guesses."""

import hashlib
import hmac
import os
from types import SimpleNamespace

import orjson
from starlette.requests import Request

from services.write.adapters.blind_index import BlindIndex
from services.write.entrypoints.deps import fingerprint

BODY = {"name": "Ann", "email": "ann@example.com"}


def request(key: bytes, body: bytes) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(service=SimpleNamespace()))
    app.state.service.keyed_digest = BlindIndex(key).digest
    scope = {"type": "http", "method": "POST", "path": "/customers", "headers": [], "app": app}
    sent = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, object]:
        return sent.pop(0)

    return Request(scope, receive)


async def test_the_fingerprint_is_an_hmac_of_method_path_and_canonical_body() -> None:
    key = os.urandom(32)
    reordered = orjson.dumps({"email": BODY["email"], "name": BODY["name"]})
    first = await fingerprint(request(key, orjson.dumps(BODY)))
    assert first == await fingerprint(request(key, reordered))  # canonical JSON
    canonical = orjson.dumps(BODY, option=orjson.OPT_SORT_KEYS)
    expected = hmac.new(key, b"POST /customers\n" + canonical, hashlib.sha256).hexdigest()
    assert first == expected
    assert first != hashlib.sha256(b"POST /customers\n" + canonical).hexdigest()
    assert first != await fingerprint(request(os.urandom(32), orjson.dumps(BODY)))
