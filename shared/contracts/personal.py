"""Personal data in events: which fields hold it, whose it is, and the sealed form it travels in.

Every personal value is stored and published sealed: AES-256-GCM under its data subject's own
key (one per customer), with associated data that binds subject, event and field, so that a
sealed value moved to another customer, event or field does not open. Erasing a customer
destroys their key: every sealed copy (the log, the topics, backups of them) is unreadable.

What is personal: a customer's name and every email; the street, city and postal code of an
order's shipping address. The country stays clear (statistics by country need no person), and so
do identifiers (customer and order ids), which name nobody outside this system.

An order's personal values are its customer's (`subject_of`). Values written before sealing
existed may still be clear strings in old records; `unseal` leaves them as they are.
"""

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ConfigDict, StringConstraints, create_model

from shared.contracts.events import (
    CUSTOMER,
    CUSTOMER_EMAIL_CHANGED,
    CUSTOMER_REGISTERED,
    CUSTOMER_RENAMED,
    EVENT_TYPES,
    ORDER_PLACED,
    Contract,
    DomainEvent,
    Email,
    Name,
    ShippingAddress,
    Text,
    text,
)

ALGORITHM: Final = "A256GCM"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_B64 = r"^[A-Za-z0-9+/]+={0,2}$"
# The associated data's first part: a value sealed under another scheme never opens here.
_CONTEXT = b"ordering.personal.v1"

PERSONAL_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    CUSTOMER_REGISTERED: ("name", "email"),
    CUSTOMER_RENAMED: ("name",),
    CUSTOMER_EMAIL_CHANGED: ("old_email", "new_email"),
    ORDER_PLACED: (
        "shipping_address.line1",
        "shipping_address.city",
        "shipping_address.postal_code",
    ),
}
# What an erasure makes unreadable, as `CustomerErased.fields` lists it.
ERASED_FIELDS: Final = (
    "name",
    "email",
    "shipping_address.line1",
    "shipping_address.city",
    "shipping_address.postal_code",
)


class EncryptedValue(Contract):
    """A personal value sealed with AES-256-GCM under its data subject's key: `iv` is the
    96-bit nonce, `ct` the ciphertext with its 128-bit tag (both base64). The associated data
    is `ordering.personal.v1|<customer id>|<event id>|<field path>` (UTF-8)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"x-personal-data": True},
    )

    alg: Literal["A256GCM"]
    iv: Annotated[str, StringConstraints(min_length=16, max_length=16, pattern=_B64)]
    ct: Annotated[str, StringConstraints(min_length=24, max_length=4096, pattern=_B64)]


class Unreadable(Exception):
    """A sealed value that does not open under the key given: tampered with, moved from another
    record, or sealed under another key."""


def personal_paths(event_type: str) -> tuple[str, ...]:
    """The dotted paths of an event type's personal fields (none for most types)."""
    return PERSONAL_FIELDS.get(event_type, ())


# Each personal path split once: (path, field, subfield or "", the path's bytes).
_SPLIT: Final[Mapping[str, tuple[tuple[str, str, str, bytes], ...]]] = {
    event_type: tuple((path, *path.partition(".")[::2], path.encode()) for path in paths)
    for event_type, paths in PERSONAL_FIELDS.items()
}


def any_sealed(data: Mapping[str, Any], event_type: str) -> bool:
    """Whether an event's data holds a personal value in its sealed form."""
    for _, head, tail, _ in _SPLIT.get(event_type, ()):
        value = data.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, Mapping) else None
        if is_sealed(value):
            return True
    return False


def subject_of(
    event_type: str, stream_type: str, stream_id: Any, data: Mapping[str, Any]
) -> str | None:
    """The customer whose personal data an event holds (as a string), or None if it holds none.

    A customer's own events are theirs; an order's placement is its customer's."""
    if event_type not in PERSONAL_FIELDS:
        return None
    if stream_type == CUSTOMER:
        return str(stream_id)
    customer = data.get("customer_id")
    return None if customer is None else str(customer)


def new_data_key() -> bytes:
    """A fresh 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def associated_data(subject: Any, event_id: Any, path: str) -> bytes:
    """What a sealed value is bound to: its customer, its event and its field."""
    return b"|".join((_CONTEXT, str(subject).encode(), str(event_id).encode(), path.encode()))


def is_sealed(value: Any) -> bool:
    """A value in its sealed form (a JSON object of `EncryptedValue`'s shape)."""
    return isinstance(value, dict) and value.get("alg") == ALGORITHM


def seal_value(cipher: AESGCM, value: str, aad: bytes) -> dict[str, str]:
    """One clear value sealed, as the JSON object `EncryptedValue` describes."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher.encrypt(nonce, value.encode(), aad)
    return {
        "alg": ALGORITHM,
        "iv": base64.b64encode(nonce).decode(),
        "ct": base64.b64encode(sealed).decode(),
    }


def open_value(cipher: AESGCM, value: Mapping[str, Any], aad: bytes) -> str:
    """One sealed value opened; Unreadable when it does not open under this key and binding."""
    try:
        # strict: only the base64 alphabet, padding where it belongs (binascii.Error is a
        # ValueError)
        nonce = binascii.a2b_base64(value["iv"], strict_mode=True)
        sealed = binascii.a2b_base64(value["ct"], strict_mode=True)
        return cipher.decrypt(nonce, sealed, aad).decode()
    except (InvalidTag, KeyError, TypeError, ValueError) as exc:
        raise Unreadable("a sealed value does not open under its customer's key") from exc


def seal(
    data: Mapping[str, Any],
    event_type: str,
    cipher: AESGCM,
    *,
    subject: Any,
    event_id: Any,
) -> dict[str, Any]:
    """A copy of an event's data with its personal values sealed (None and sealed ones stay)."""
    bound = _bound(subject, event_id)
    return _each(data, event_type, lambda path, v: seal_value(cipher, v, bound + path.encode()))


def unseal(
    data: Mapping[str, Any],
    event_type: str,
    cipher: AESGCM | None,
    *,
    subject: Any,
    event_id: Any,
) -> dict[str, Any]:
    """A copy of an event's data with its sealed values opened, or None where `cipher` is None
    (the customer was erased: their key is gone). Clear values (written before sealing) stay.
    Raises Unreadable for a value that does not open.

    Every read path (the live apply, rebuilds, healing) opens values here: one walk over the
    event's personal paths, a nested object (the shipping address) copied once, however many
    of its fields are opened."""
    out = dict(data)
    bound = _bound(subject, event_id)
    copied: dict[str, dict[str, Any]] = {}  # nested objects copied so far, by field
    for _, head, tail, path in _SPLIT.get(event_type, ()):
        holder: Any = out
        if tail:
            holder = copied.get(head)
            if holder is None:
                inner = out.get(head)
                if not isinstance(inner, Mapping):
                    continue
                holder = copied[head] = out[head] = dict(inner)  # the caller's stays as it is
        key = tail or head
        value = holder.get(key)
        if is_sealed(value):
            holder[key] = None if cipher is None else open_value(cipher, value, bound + path)
    return out


def clear_values(data: Mapping[str, Any], event_type: str) -> dict[str, Any]:
    """The personal values of an (unsealed) event's data by path, for disclosure."""
    found: dict[str, Any] = {}
    for path in personal_paths(event_type):
        head, _, tail = path.partition(".")
        value = data.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, Mapping) else None
        found[path] = value
    return found


def _bound(subject: Any, event_id: Any) -> bytes:
    """The associated data of an event's values but their field's path (which ends it)."""
    return associated_data(subject, event_id, "")


def _each(data: Mapping[str, Any], event_type: str, change: Any) -> dict[str, Any]:
    """A copy of `data` with `change(path, value)` at each personal path holding a clear
    string."""
    out = dict(data)
    for path, head, tail, _ in _SPLIT.get(event_type, ()):
        if not tail:
            if isinstance(out.get(head), str):
                out[head] = change(path, out[head])
            continue
        inner = out.get(head)
        if isinstance(inner, Mapping) and isinstance(inner.get(tail), str):
            copied: dict[str, Any] = dict(inner)  # the caller's data is never changed
            copied[tail] = change(path, inner[tail])
            out[head] = copied
    return out


# The wire form of the events (what the log stores and the topics carry): each personal field
# an EncryptedValue, or (written before sealing existed) the clear value it replaced.
SealedShippingAddress = create_model(
    "SealedShippingAddress",
    __base__=ShippingAddress,
    line1=(EncryptedValue | Text, ...),
    city=(EncryptedValue | Name, ...),
    postal_code=(EncryptedValue | Annotated[str, text(20)], ...),
)
_CLEAR: Final[Mapping[str, Any]] = {
    "name": Name,
    "email": Email,
    "old_email": Email,
    "new_email": Email,
}


def _sealed_model(cls: type[DomainEvent]) -> type[DomainEvent]:
    paths = personal_paths(cls.event_type())
    if not paths:
        return cls
    overrides: dict[str, Any] = {}
    for path in paths:
        head, _, tail = path.partition(".")
        if tail:
            overrides[head] = (SealedShippingAddress, ...)
        else:
            overrides[head] = (EncryptedValue | _CLEAR[head], ...)
    model: type[DomainEvent] = create_model(cls.__name__, __base__=cls, **overrides)
    return model


SEALED_EVENT_TYPES: Final[Mapping[str, type[DomainEvent]]] = {
    name: _sealed_model(cls) for name, cls in EVENT_TYPES.items()
}
