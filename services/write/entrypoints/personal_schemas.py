"""The personal-data routes' bodies, described for the OpenAPI document (the routes serve orjson
bytes themselves, as the others do: see schemas.py), and how the answers are made."""

import base64
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ..application.personal import ErasureStatus
from ..application.ports import Disclosure, ErasureReceipt, KeyLookup

MAX_KEYS = 500  # customers per request for data keys
_BASE64_KEY = r"^[A-Za-z0-9+/]{43}=$"  # 32 bytes


class Receipt(BaseModel):
    """What an erasure did: the event that records it, the customer's key destroyed, their
    emails released (free to register again), and who asked for it."""

    customer_id: UUID
    erased_at: datetime
    event_id: UUID = Field(description="The CustomerErased event")
    position: int = Field(ge=1, description="Its place in the log")
    fields: list[str] = Field(description="What became unreadable, as dotted paths")
    key_destroyed: bool = Field(description="The customer's data key is gone: always true")
    claims_released: int = Field(ge=0, description="Emails the customer held, now free")
    requested_by: str = Field(description="The subject of the token that asked for it")


class ProjectionErasure(BaseModel):
    """Where a projection of the read side is with the erasure."""

    caught_up: bool = Field(description="It has blanked the customer's data in its documents")


class ErasureState(Receipt):
    """An erasure's receipt and what holds of it now."""

    key_present: bool = Field(description="A data key exists for the customer: never, once erased")
    claims_held: int = Field(ge=0, description="Emails the customer holds: none, once erased")
    projections: dict[str, ProjectionErasure] | None = Field(
        description="Per projection of the read service; null when it cannot be asked"
    )
    read_side: Literal["available", "unavailable"] = Field(
        description="Whether the read service (READ_SERVICE_URL) answered, with the caller's token"
    )


class PersonalData(BaseModel):
    """One event's personal values in clear; `fields` is empty for an event without any."""

    event_id: UUID
    event_type: str
    customer_id: UUID | None = Field(description="Whose data it is")
    fields: dict[str, str | None] = Field(
        description="The clear value by dotted path (null: none was given)"
    )


class KeysRequest(BaseModel):
    """The customers whose data keys are asked for."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[UUID] = Field(max_length=MAX_KEYS)


class DataKeys(BaseModel):
    """Each live customer's data key; the others are erased or unknown."""

    keys: dict[UUID, Annotated[str, Field(pattern=_BASE64_KEY)]] = Field(
        description="The AES-256-GCM data key by customer id, base64"
    )
    erased: list[UUID] = Field(description="Erased customers: their key is gone for good")
    unknown: list[UUID] = Field(description="Neither a key nor an erasure")


def receipt_body(receipt: ErasureReceipt) -> dict[str, Any]:
    return {
        "customer_id": receipt.customer_id,
        "erased_at": receipt.erased_at,
        "event_id": receipt.event_id,
        "position": receipt.position,
        "fields": list(receipt.fields),
        "key_destroyed": receipt.key_destroyed,
        "claims_released": receipt.claims_released,
        "requested_by": receipt.requested_by,
    }


def status_body(status: ErasureStatus) -> dict[str, Any]:
    projections = status.projections
    return {
        **receipt_body(status.receipt),
        "key_present": status.key_present,
        "claims_held": status.claims_held,
        "projections": None
        if projections is None
        else {name: {"caught_up": done} for name, done in sorted(projections.items())},
        "read_side": "unavailable" if projections is None else "available",
    }


def disclosure_body(found: Disclosure) -> dict[str, Any]:
    return {
        "event_id": found.event_id,
        "event_type": found.event_type,
        "customer_id": found.customer_id,
        "fields": found.fields,
    }


def keys_body(found: KeyLookup) -> dict[str, Any]:
    return {
        "keys": {str(c): base64.b64encode(key).decode() for c, key in found.keys.items()},
        "erased": sorted(str(c) for c in found.erased),
        "unknown": sorted(str(c) for c in found.unknown),
    }
