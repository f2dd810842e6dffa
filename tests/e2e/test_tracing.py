"""One command followed end to end: both services export their spans over OTLP/HTTP to a real
receiver, and the spans of one command form one trace from the HTTP request to the read
document, joined through the event's metadata and the Kafka record's `traceparent`."""

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bench.otlp import GrpcOtlpReceiver, OtlpReceiver, ReceivedSpan, joined
from deploy.local.stack import LocalIssuer
from tests.auth import bearer
from tests.e2e.servers import read_env, serve, write_env
from tests.kafka_utils import read_records
from tests.polling import poll
from tests.services import RunningService

pytestmark = pytest.mark.e2e
TRACE_ID = uuid.uuid4().hex
GIVEN = f"00-{TRACE_ID}-{uuid.uuid4().hex[:16]}-01"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def traced(env: dict[str, str], receiver: OtlpReceiver | GrpcOtlpReceiver) -> dict[str, str]:
    unset = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    return {
        **unset,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": receiver.protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


@pytest.fixture(scope="module")
def traced_write(
    postgres: Any,
    kafka: Any,
    issuer: LocalIssuer,
    receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningService]:
    yield from serve(
        "write", traced(write_env(postgres, kafka, issuer), receiver), tmp_path_factory
    )


@pytest.fixture(scope="module")
def traced_read(
    traced_write: RunningService,
    mongo: Any,
    receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningService]:
    yield from serve("read", traced(read_env(traced_write, mongo), receiver), tmp_path_factory)


@pytest.fixture
async def http(staff_token: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, headers=bearer(staff_token)) as client:
        yield client


async def register(
    http: httpx.AsyncClient, write: RunningService, traceparent: str | None
) -> tuple[str, str]:
    """A new customer's id, and the trace id its answer's `traceresponse` names."""
    headers = {"traceparent": traceparent} if traceparent else {}
    body = {"name": "Ada Lovelace", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com"}
    response = await http.post(f"{write.url}/customers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answered = response.headers["traceresponse"].split("-")
    assert len(answered) == 4 and answered[0] == "00", answered
    return str(response.json()["id"]), answered[1]


async def applied(http: httpx.AsyncClient, read: RunningService, customer_id: str) -> None:
    async def found() -> bool:
        return (await http.get(f"{read.url}/customers/{customer_id}")).status_code == 200

    await poll(found, f"customer {customer_id} in the read side", timeout=60)


def names(spans: list[ReceivedSpan]) -> set[str]:
    return {span.name for span in spans}


async def test_one_command_is_one_trace_from_the_request_to_the_read_document(
    http: httpx.AsyncClient,
    traced_write: RunningService,
    traced_read: RunningService,
    receiver: OtlpReceiver,
) -> None:
    customer_id, trace_id = await register(http, traced_write, GIVEN)
    assert trace_id == TRACE_ID  # the caller's trace goes on
    await applied(http, traced_read, customer_id)
    wanted = {
        ("write-service", "server", "POST /customers"),
        ("write-service", "internal", "command registerCustomer"),
        ("write-service", "internal", "event_store append"),
        ("write-service", "internal", "relay publish"),
        ("read-service", "consumer", "apply customers"),
        ("read-service", "internal", "documents write"),
    }
    seen: list[ReceivedSpan] = []

    async def whole() -> bool:
        seen[:] = joined(receiver.spans(), TRACE_ID)
        return wanted <= {(s.service, s.kind, s.name) for s in seen}

    await poll(whole, "the command's spans", timeout=30, seen=lambda: sorted(names(seen)))
    by_name = {span.name: span for span in seen if span.trace_id == TRACE_ID}
    # parent and child in the write service: request > command > append
    command = by_name["command registerCustomer"]
    assert by_name["event_store append"].parent_id == command.span_id
    assert by_name["POST /customers"].span_id == command.parent_id
    # the relay's batch and the consumer's batch are joined by links to the command's trace
    relay = next(
        s for s in seen if s.name == "relay publish" and (TRACE_ID, command.span_id) in s.links
    )
    assert relay.trace_id != TRACE_ID or relay.parent_id != command.span_id
    apply = [
        s for s in seen if s.name == "apply customers" and any(t == TRACE_ID for t, _ in s.links)
    ]
    assert apply, sorted(names(seen))
    writes = [
        s for s in seen if s.name == "documents write" and s.parent_id in {a.span_id for a in apply}
    ]
    assert writes, "no document write under the consumer's apply"
    # the driver's own spans are there too: asyncpg's insert, pymongo's write
    assert any(
        s.service == "write-service" and s.kind == "client" and "INSERT" in s.name.upper()
        for s in receiver.spans()
    )


async def test_the_kafka_record_carries_the_trace_of_its_command(
    http: httpx.AsyncClient, traced_write: RunningService, receiver: OtlpReceiver
) -> None:
    customer_id, trace_id = await register(http, traced_write, GIVEN)
    record = await the_record(traced_write, customer_id)
    traceparents = [v for k, v in record.header_list if k == "traceparent"]
    assert len(traceparents) == 1, record.header_list
    version, record_trace, span_id, flags = traceparents[0].split("-")
    assert (version, record_trace, flags) == ("00", TRACE_ID, "01")

    async def sent() -> bool:  # the producer's span for this record, in the command's trace
        spans = receiver.spans()
        return any(s.span_id == span_id and s.trace_id == TRACE_ID for s in spans)

    await poll(sent, "the record's send span", timeout=30)


@pytest.mark.parametrize(
    "invalid",
    [
        "00-00000000000000000000000000000000-0000000000000001-01",  # all-zero trace id
        "00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-0000000000000001-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "not a traceparent",
    ],
)
async def test_an_invalid_traceparent_starts_a_new_trace(
    http: httpx.AsyncClient, traced_write: RunningService, invalid: str
) -> None:
    customer_id, trace_id = await register(http, traced_write, invalid)
    assert trace_id != "0" * 32 and trace_id not in invalid
    record = await the_record(traced_write, customer_id)
    traceparents = [v for k, v in record.header_list if k == "traceparent"]
    assert len(traceparents) == 1 and traceparents[0].split("-")[1] == trace_id


async def the_record(write: RunningService, customer_id: str) -> Any:
    topic = write.env["CUSTOMERS_TOPIC"]

    async def found() -> Any:
        records = await read_records(
            write.env["KAFKA_BOOTSTRAP_SERVERS"], [topic], expected=1, timeout=5
        )
        return next((r for r in records if r.headers.get("ce_subject") == customer_id), None)

    return await poll(found, f"the record of customer {customer_id}", timeout=60)


@pytest.fixture(scope="module")
def grpc_receiver() -> Iterator[GrpcOtlpReceiver]:
    with GrpcOtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def grpc_write(
    postgres: Any,
    kafka: Any,
    issuer: LocalIssuer,
    grpc_receiver: GrpcOtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningService]:
    yield from serve(
        "write", traced(write_env(postgres, kafka, issuer), grpc_receiver), tmp_path_factory
    )


async def test_spans_go_to_an_otlp_grpc_receiver_too(
    http: httpx.AsyncClient, grpc_write: RunningService, grpc_receiver: GrpcOtlpReceiver
) -> None:
    """`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`: the same spans, over gRPC (a collector's port 4317)."""
    _, trace_id = await register(http, grpc_write, None)

    async def arrived() -> bool:
        names = {s.name for s in grpc_receiver.spans() if s.trace_id == trace_id}
        return {"POST /customers", "command registerCustomer"} <= names

    await poll(arrived, "the command's spans over gRPC", timeout=30)


async def test_one_trace_follows_an_order_through_its_reservation(
    http: httpx.AsyncClient, traced_write: RunningService, receiver: OtlpReceiver
) -> None:
    write, trace_id = traced_write.url, uuid.uuid4().hex
    sku = f"TR-{uuid.uuid4().hex[:8]}"
    received = await http.post(f"{write}/stock/{sku}/receipts", json={"quantity": 3})
    assert received.status_code == 201, received.text
    customer_id, _ = await register(http, traced_write, None)
    body = {
        "customer_id": customer_id,
        "items": [{"sku": sku, "name": "Widget", "quantity": 2, "unit_price": "1.00"}],
        "shipping_address": {
            "line1": "1 Main St",
            "city": "Rome",
            "postal_code": "00100",
            "country": "IT",
        },
        "currency": "EUR",
    }
    headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    placed = await http.post(f"{write}/orders", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    stream: list[dict[str, Any]] = []

    async def reserved() -> bool:
        stream[:] = (await http.get(f"{write}/streams/{order_id}/events")).json()["events"]
        return any(e["event_type"] == "OrderStockReserved" for e in stream)

    await poll(reserved, f"order {order_id} reserved", timeout=60)
    marked = next(e for e in stream if e["event_type"] == "OrderStockReserved")
    # the process's command carries the order's trace, and its span is in that trace
    assert marked["metadata"]["traceparent"].split("-")[1] == trace_id
    assert marked["metadata"]["actor"]["subject"] == "process:fulfilment"
    wanted = {"POST /orders", "command placeOrder", "fulfilment handle"}

    async def whole() -> bool:
        return wanted <= {s.name for s in receiver.spans() if s.trace_id == trace_id}

    await poll(whole, "the order's spans through the process", timeout=30)
