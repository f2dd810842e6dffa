"""Personal data over HTTP: erasing a customer and the erasure's receipt, an event's personal
values disclosed (audited), and customers' data keys for the read service."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from shared.plumbing.access import CUSTOMER_TOKENS, SCHEME, authorize, requires, secured
from shared.plumbing.auth import ERASE, KEYS, OPERATE, PII, Principal
from shared.plumbing.tracing import span

from ..metrics import COMMANDS
from . import links
from .deps import Service, get_context
from .personal_schemas import (
    DataKeys,
    ErasureState,
    KeysRequest,
    PersonalData,
    Receipt,
    disclosure_body,
    keys_body,
    receipt_body,
    status_body,
)
from .problems import documented


class AuthorizedFirst(APIRoute):
    """A route that checks its caller's permission (as `secured` documents it) before FastAPI
    reads the body: 401 or 403, never a 422 about a body the caller may not send."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        extra = self.openapi_extra or {}
        scopes = [scope for need in extra.get("security", []) for scope in need[SCHEME]]
        customers = CUSTOMER_TOKENS in extra

        async def authorized(request: Request) -> Response:
            await authorize(request, *scopes, customers=customers)
            return await handler(request)

        return authorized


router = APIRouter(tags=["personal data"], route_class=AuthorizedFirst)
Eraser = Annotated[Principal, Depends(requires(ERASE, customers=True))]
Auditor = Annotated[Principal, Depends(requires(ERASE, OPERATE))]
Discloser = Annotated[Principal, Depends(requires(PII))]
KeyHolder = Annotated[Principal, Depends(requires(KEYS))]
# Answers that hold personal values or keys are kept by no cache, shared or private.
NO_STORE = {"Cache-Control": "no-store"}
NO_STORE_HEADER = {"Cache-Control": {"description": "no-store", "schema": {"type": "string"}}}


def _json(body: Any, headers: dict[str, str] | None = None) -> Response:
    # The driver's UUIDs are a subclass orjson only takes through `default`.
    return Response(orjson.dumps(body, default=str), media_type="application/json", headers=headers)


@router.post(
    "/customers/{customer_id}/erasure",
    operation_id="eraseCustomer",
    response_model=Receipt,
    **secured(
        ERASE,
        customers=True,
        responses={
            200: {
                "description": "Erased, now or before (the same receipt again)",
                "headers": {
                    "Location": {
                        "description": "The erasure: /erasures/{customer_id}",
                        "schema": {"type": "string"},
                    }
                },
                "links": links.CUSTOMER_ERASED,
            },
            **documented(404, 409, 422, 503),
        },
    ),
)
async def erase_customer(
    customer_id: UUID, service: Service, caller: Eraser, request: Request
) -> Response:
    """Erase a customer (a customer's token: themselves): CustomerErased appended, their data
    key destroyed and their emails released in one transaction, so every copy of their personal
    data, in the log, on the topics and in backups, is unreadable. Again: the same receipt."""
    with span("command eraseCustomer", headers=request.headers):
        ctx = await get_context(request, caller, staff=ERASE)
        receipt = await service.personal_data.erase_customer(customer_id, ctx)
    COMMANDS.labels("EraseCustomer", "ok").inc()
    return _json(receipt_body(receipt), {"Location": f"/erasures/{customer_id}"})


@router.get(
    "/erasures/{customer_id}",
    operation_id="getErasure",
    response_model=ErasureState,
    **secured(ERASE, OPERATE, responses=documented(404, 422, 503)),
)
async def get_erasure(
    customer_id: UUID, service: Service, caller: Auditor, request: Request
) -> Response:
    """A customer's erasure: its receipt, and whether it holds (no key, no email claimed, each
    projection of the read service caught up, asked with the caller's token)."""
    credentials = request.headers.get("authorization")
    status = await service.personal_data.erasure_status(customer_id, credentials=credentials)
    return _json(status_body(status))


@router.get(
    "/events/{event_id}/personal-data",
    operation_id="getPersonalData",
    response_model=PersonalData,
    **secured(
        PII,
        responses={
            200: {"description": "The event's personal values", "headers": NO_STORE_HEADER},
            **documented(404, 410, 422, 503),
        },
    ),
)
async def get_personal_data(event_id: UUID, service: Service, caller: Discloser) -> Response:
    """An event's personal values in clear (none: `fields` is empty); 410 once its customer is
    erased. Every call is audited: who asked, for which event and fields, never the values."""
    found = await service.personal_data.disclose(event_id, caller.actor())
    return _json(disclosure_body(found), NO_STORE)


@router.post(
    "/personal-data/keys",
    operation_id="lookupDataKeys",
    response_model=DataKeys,
    **secured(
        KEYS,
        responses={
            200: {"description": "The keys, and who has none", "headers": NO_STORE_HEADER},
            **documented(413, 422, 503),
        },
    ),
)
async def lookup_data_keys(body: KeysRequest, service: Service, caller: KeyHolder) -> Response:
    """The data keys of up to 500 customers, for the read service to open what it shows; an
    erased customer's is never given again (the erasure journal is checked on every call)."""
    found = await service.personal_data.data_keys(body.customer_ids)
    return _json(keys_body(found), NO_STORE)
