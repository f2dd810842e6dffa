"""Customer queries: by id and by email (case-insensitive). Version 0 means not registered yet."""

from typing import Any

from .orders import Doc, Docs, public

PROJECTION = "customers"
MAX_BY_EMAIL = 100

# A customer document at version 0 only holds what orders told about it before its registration.
_REGISTERED: dict[str, Any] = {"version": {"$gte": 1}}


async def find_customer(docs: Docs, customer_id: str) -> Doc | None:
    doc = await docs.find_one({"_id": customer_id, **_REGISTERED})
    return None if doc is None else public(doc)


async def customers_by_email(docs: Docs, email: str) -> list[Doc]:
    """Registered customers whose email, lower-cased, is `email` lower-cased."""
    query = {"email_lower": email.lower(), **_REGISTERED}
    found = await docs.find(query).sort("_id", 1).limit(MAX_BY_EMAIL).to_list()
    return [public(d) for d in found]
