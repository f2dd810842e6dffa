"""An OTLP/HTTP trace receiver: what the services' exporters send to `/v1/traces`, decoded with
the protocol's own messages and kept (or only counted).

In a thread for the tests (`OtlpReceiver`), or as a process for the benchmark:
`python -m bench.otlp --port N`, which answers `GET /stats` with the spans and bytes received
and how many spans each service sent by name.
"""

import argparse
import gzip
import json
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[tuple[str, str], ...]
    attributes: dict[str, Any] = field(hash=False, compare=False)


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one ExportTraceServiceRequest."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ReceivedSpan(
                        service=service,
                        name=span.name,
                        kind=KINDS.get(span.kind, str(span.kind)),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        links=tuple((lk.trace_id.hex(), lk.span_id.hex()) for lk in span.links),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return found


class Received:
    """What exporters sent: the spans (when kept), and counts."""

    def __init__(self, *, keep: bool = True) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.keep = keep
        self.received = 0
        self.bytes = 0
        self.exports = 0
        self._names: Counter[str] = Counter()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            names = dict(sorted(self._names.items()))
            return {"spans": self.received, "bytes": self.bytes, "exports": self.exports} | {
                "by_name": names
            }

    def _take(self, body: bytes) -> None:
        spans = decode(body)
        with self._lock:
            self.received += len(spans)
            self.bytes += len(body)
            self.exports += 1
            self._names.update(f"{span.service}: {span.name}" for span in spans)
            if self.keep:
                self._spans += spans


class OtlpReceiver(Received):
    """Receives OTLP/HTTP protobuf exports on a free port until stopped."""

    protocol = "http/protobuf"  # as OTEL_EXPORTER_OTLP_PROTOCOL names it

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, keep: bool = True) -> None:
        super().__init__(keep=keep)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path != "/v1/traces":
                    self._answer(404, b"", "text/plain")
                    return
                try:
                    receiver._take(body)
                except Exception:  # noqa: BLE001 - not an OTLP message: the exporter is told
                    self._answer(400, b"not an ExportTraceServiceRequest", "text/plain")
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self._answer(200, answer, "application/x-protobuf")

            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/stats":
                    self._answer(404, b"", "text/plain")
                    return
                self._answer(200, json.dumps(receiver.stats()).encode(), "application/json")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        return Handler


class GrpcOtlpReceiver(Received):
    """Receives OTLP/gRPC exports (the TraceService) on a free port until stopped."""

    protocol = "grpc"

    def __init__(self, host: str = "127.0.0.1", *, keep: bool = True) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as service

        super().__init__(keep=keep)
        receiver = self

        class TraceService(service.TraceServiceServicer):
            def Export(  # noqa: N802 - the service's method name
                self, request: ExportTraceServiceRequest, context: Any
            ) -> ExportTraceServiceResponse:
                receiver._take(request.SerializeToString())
                return ExportTraceServiceResponse()

        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        service.add_TraceServiceServicer_to_server(TraceService(), self._server)  # type: ignore[no-untyped-call]
        self.url = f"http://{host}:{self._server.add_insecure_port(f'{host}:0')}"

    def __enter__(self) -> "GrpcOtlpReceiver":
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)


def joined(spans: list[ReceivedSpan], trace_id: str) -> Iterator[ReceivedSpan]:
    """The spans of `trace_id` and of every trace joined to it by links, either way."""
    traces = {trace_id}
    grown = True
    while grown:
        grown = False
        for span in spans:
            linked = {t for t, _ in span.links}
            mine = span.trace_id in traces
            if mine and not linked <= traces:
                traces |= linked
                grown = True
            elif not mine and linked & traces:
                traces.add(span.trace_id)
                grown = True
    return (span for span in spans if span.trace_id in traces)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otlp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    OtlpReceiver(args.host, args.port, keep=False).serve_forever()


if __name__ == "__main__":
    main()
