"""Route dependencies, as Annotated aliases."""

import hashlib
import re
import uuid
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request

from shared.envelope import EventMetadata
from shared.logging import correlation_id

from ..application.handlers import CommandContext, CommandHandlers
from ..bootstrap import WriteService
from .problems import BadHeader

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def get_service(request: Request) -> WriteService:
    service: WriteService = request.app.state.service
    return service


Service = Annotated[WriteService, Depends(get_service)]


def get_handlers(service: Service) -> CommandHandlers:
    return service.handlers


Handlers = Annotated[CommandHandlers, Depends(get_handlers)]


def parse_if_match(value: str | None) -> int | None:
    """`"3"` -> 3; `*` or absent -> None (no version expected)."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if match is None:
        raise BadHeader(f'If-Match must be a version ETag such as "3", got {value[:40]!r}')
    return int(match.group(1))


async def fingerprint(request: Request) -> str:
    """The identity of a request for idempotency: method, path and canonical JSON body."""
    body = await request.body()
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


async def get_context(
    request: Request,
    if_match: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
    traceparent: Annotated[str | None, Header(max_length=55)] = None,
) -> CommandContext:
    cid = correlation_id.get()
    return CommandContext(
        expected_version=parse_if_match(if_match),
        idempotency_key=idempotency_key,
        fingerprint=await fingerprint(request) if idempotency_key else "",
        metadata=EventMetadata(
            correlation_id=cid,
            causation_id=cid,
            command_id=idempotency_key or str(uuid.uuid4()),
            traceparent=traceparent,
        ),
    )


Context = Annotated[CommandContext, Depends(get_context)]
