"""Query strings without their values, for server spans and access logs: a query may hold
personal data (`GET /customers?email=`); the names of its parameters stay."""

from collections.abc import Mapping
from typing import Any


def without_query_values(span: Any, scope: Mapping[str, Any]) -> None:
    """A server span's request attributes without the values of the query string (names
    stay): a query may hold personal data (`GET /customers?email=`)."""
    recorded = getattr(span, "attributes", None) or {}
    for key in ("http.target", "http.url", "url.full"):
        value = recorded.get(key)
        if isinstance(value, str) and "?" in value:
            head, _, query = value.partition("?")  # a path holds no "?": the query follows
            span.set_attribute(key, f"{head}?{redact_query(query)}")
    given = recorded.get("url.query")
    if isinstance(given, str):
        span.set_attribute("url.query", redact_query(given))


def redact_query(query: str) -> str:
    """A query string with each value replaced, its names kept: `email=REDACTED&limit=REDACTED`
    (a part without a name is a value: `REDACTED`)."""
    return "&".join(
        f"{part.partition('=')[0]}=REDACTED" if "=" in part else "REDACTED"
        for part in query.split("&")
    )
