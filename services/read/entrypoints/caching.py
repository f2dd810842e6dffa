"""HTTP caching of query answers (RFC 9110, RFC 9111).

A single document answers with an ETag and `Cache-Control: no-cache`: a client may keep it but
asks again with If-None-Match, and gets a 304 without a body until the document changes. Lists
and statistics have no validator; they say how long they may be reused (`max-age`). Every answer
is `private`: what it holds depends on the caller's token, so no shared cache may keep it.
"""

import hashlib
import re
from typing import Any

import orjson
from fastapi.responses import Response

# An entity tag in an If-None-Match list: `"opaque"` or `W/"opaque"`.
_TAG = re.compile(r'(?:W/)?"([^"]*)"')


def etag(body: bytes, version: int) -> str:
    """A strong tag of exactly what is shown.

    The version alone would not do: an order shows its customer's name and email, which change
    without the order's version changing. The revision (`_rev`) would not do either: a rebuild
    numbers revisions anew in its new collections. A digest of the body changes exactly when
    what is shown changes; the version in front is for people reading logs.
    """
    return f'"{version}-{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def none_match(header: str | None, tag: str) -> bool:
    """If-None-Match names `tag` (weak comparison: `W/` is ignored) or is `*` (any current
    representation, and there is one)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return tag.strip('"') in _TAG.findall(header)


def document(doc: dict[str, Any], if_none_match: str | None) -> Response:
    """One document: 200 with its ETag, or 304 (no body) when the client already has it."""
    body = orjson.dumps(doc)
    tag = etag(body, int(doc.get("version", 0)))
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if none_match(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def listing(body: Any, max_age: int) -> Response:
    """A list or statistics: 200, reusable for `max_age` seconds."""
    headers = {"Cache-Control": f"private, max-age={max_age}"}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


NO_STORE = {"Cache-Control": "no-store"}


def unstored(body: Any, status: int = 200) -> Response:
    """An answer that changes as projections catch up or operators act: never reused."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=NO_STORE
    )
