"""A query string may hold personal data (`GET /customers?email=`): the server spans of the HTTP
instrumentation and uvicorn's access lines keep its names, never its values."""

import logging
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.plumbing import redaction, tracing
from shared.plumbing.logging import WithoutQueryValues

EMAIL = "ada.lovelace@example.com"


async def server_span(**options: Any) -> dict[str, Any]:
    """The attributes of the server span of `GET /customers?email=...&limit=3`."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()

    @app.get("/customers")
    async def find(email: str, limit: int = 1) -> dict[str, Any]:
        return {"customers": []}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, **options)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://read") as client:
        answered = await client.get("/customers", params={"email": EMAIL, "limit": 3})
    assert answered.status_code == 200
    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    return dict(server.attributes or {})


async def test_a_server_span_keeps_the_names_of_the_query_and_none_of_its_values() -> None:
    assert EMAIL in (await server_span())["http.url"]  # what the instrumentation alone keeps
    attributes = await server_span(**tracing.SERVER_SPAN_OPTIONS)
    assert all("ada" not in str(value) for value in attributes.values()), attributes
    assert attributes["http.url"] == "http://read/customers?email=REDACTED&limit=REDACTED"
    assert attributes["http.route"] == "/customers"


class Recorded:
    """A span as the hook sees it: its attributes, and what the hook sets."""

    def __init__(self, **attributes: str) -> None:
        self.attributes = {key.replace("_", "."): value for key, value in attributes.items()}

    def set_attribute(self, key: str, value: str) -> None:
        self.attributes[key] = value


def test_the_stable_conventions_attributes_lose_their_values_too() -> None:
    span = Recorded(url_query=f"email={EMAIL}&flag", url_full=f"http://r/c?email={EMAIL}")
    span.attributes["url.path"] = "/customers"
    redaction.without_query_values(span, {})
    assert span.attributes == {
        "url.query": "email=REDACTED&REDACTED",
        "url.full": "http://r/c?email=REDACTED",
        "url.path": "/customers",
    }


def test_an_access_line_keeps_the_path_and_the_names_of_the_query_only() -> None:
    args = ("127.0.0.1:5000", "GET", f"/customers?email={EMAIL}", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert WithoutQueryValues().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /customers?email=REDACTED HTTP/1.1" 200'
    plain = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("/x",), None)
    assert WithoutQueryValues().filter(plain) and plain.getMessage() == "/x"
