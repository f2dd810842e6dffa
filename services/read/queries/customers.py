"""Customer queries: by id and by email (case-insensitive). Version 0 means not registered yet.

For a customer's token, `owner` is that customer: no other customer is ever found.
"""

from typing import Any

from .orders import Doc, Docs, public

PROJECTION = "customers"
MAX_BY_EMAIL = 100

# A customer document at version 0 only holds what orders told about it before its registration.
_REGISTERED: dict[str, Any] = {"version": {"$gte": 1}}


async def find_customer(docs: Docs, customer_id: str, *, owner: str | None = None) -> Doc | None:
    doc = await docs.find_one({"_id": customer_id, **_REGISTERED})
    if doc is None or (owner is not None and doc["_id"] != owner):
        return None
    return public(doc)


async def customers_by_email(docs: Docs, email: str, *, owner: str | None = None) -> list[Doc]:
    """Registered customers whose email, lower-cased, is `email` lower-cased."""
    query: Doc = {"email_lower": email.lower(), **_REGISTERED}
    if owner is not None:
        query["_id"] = owner
    found = await docs.find(query).sort("_id", 1).limit(MAX_BY_EMAIL).to_list()
    return [public(d) for d in found]
