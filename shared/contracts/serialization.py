"""One mapper between domain events and stored JSON, with upcasters keyed on schema version."""

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from shared.contracts.events import EVENT_TYPES, DomainEvent

JSONObject = dict[str, Any]
Upcaster = Callable[[JSONObject], JSONObject]


class UnknownEventType(LookupError):
    """The event type is not known to this version of the contracts."""


class EventSerializer:
    """Turns events into (type, schema version, JSON object) and back, upcasting old versions.

    `upcasters[(event_type, n)]` turns the data of schema version n into version n + 1.
    """

    def __init__(
        self,
        registry: Mapping[str, type[DomainEvent]] = EVENT_TYPES,
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._registry = registry
        self._upcasters = dict(upcasters or {})

    def is_current(self, event_type: str, schema_version: int) -> bool:
        """Known, and stored at the schema version this code writes (no upcasting needed)."""
        cls = self._registry.get(event_type)
        return cls is not None and cls.schema_version == schema_version

    def to_data(self, event: DomainEvent) -> JSONObject:
        # The model's own serializer, without model_dump's handling of its options: what
        # model_dump(mode="json") gives, a third faster.
        data: JSONObject = type(event).__pydantic_serializer__.to_python(event, mode="json")
        return data

    def from_json(self, event_type: str, raw: bytes) -> DomainEvent:
        """An event of the current schema version straight from its JSON bytes (raises
        pydantic's ValidationError, also for bytes that are not a JSON object)."""
        cls = self._registry.get(event_type)
        if cls is None:
            raise UnknownEventType(event_type)
        event: DomainEvent = cls.__pydantic_validator__.validate_json(raw)  # model_validate_json
        return event

    def from_data(self, event_type: str, schema_version: int, data: JSONObject) -> DomainEvent:
        cls = self._registry.get(event_type)
        if cls is None:
            raise UnknownEventType(event_type)
        version = schema_version
        while version < cls.schema_version:
            data = self._upcasters[(event_type, version)](data)
            version += 1
        return cls.model_validate(data)


def dumps(value: Any) -> bytes:
    """JSON bytes for any contract payload (UUIDs, datetimes, decimals as strings)."""
    return orjson.dumps(value, default=_default)


def _default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
