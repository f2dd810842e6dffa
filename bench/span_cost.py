"""What one recorded span costs this process: CPU time to start and end it (OpenTelemetry's SDK,
a batch-free processor that only keeps it), then to encode it for OTLP export (what the batch
span processor's thread does before sending).

python -m bench.span_cost [--spans 20000] [--attributes 3]
"""

import argparse
import json
import time

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

BATCH = 512  # the batch span processor's default export size


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: "list[ReadableSpan]") -> SpanExportResult:  # type: ignore[override]
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def measure(spans: int, attributes: int) -> dict[str, float]:
    kept = Keep()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("bench")
    values = {f"ordering.attribute_{i}": f"value {i}" for i in range(attributes)}
    started = time.process_time()
    for _ in range(spans):
        with tracer.start_as_current_span("event_store append", attributes=values):
            pass
    recorded = time.process_time() - started
    started = time.process_time()
    for i in range(0, spans, BATCH):
        encode_spans(kept.spans[i : i + BATCH]).SerializeToString()
    encoded = time.process_time() - started
    return {
        "start_and_end_us": 1e6 * recorded / spans,
        "encode_us": 1e6 * encoded / spans,
        "spans": spans,
        "attributes": attributes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.span_cost")
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--attributes", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.spans, args.attributes), indent=2))


if __name__ == "__main__":
    main()
