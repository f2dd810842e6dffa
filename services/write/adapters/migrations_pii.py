"""Migration 3, personal data: customers' wrapped data keys, the erasure journal (a fence no key
gets past), the audit of disclosures, and email claims held as a blind index."""

import logging
from typing import TYPE_CHECKING

from .blind_index import BlindIndex

if TYPE_CHECKING:
    from .migrations import Conn

log = logging.getLogger(__name__)

# The name the trigger gives its refusal, so the adapter can tell it from any other.
ERASED_KEY_REFUSED = "customer_keys_customer_erased"

PERSONAL_DATA = f"""
CREATE TABLE customer_keys (
    customer_id  uuid PRIMARY KEY,
    wrapped      bytea NOT NULL,
    kek_id       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customer_erasures (
    customer_id      uuid PRIMARY KEY,
    event_id         uuid NOT NULL,
    position         bigint NOT NULL,
    erased_at        timestamptz NOT NULL,
    requested_by     jsonb NOT NULL DEFAULT '{{}}',
    fields           text[] NOT NULL,
    claims_released  integer NOT NULL DEFAULT 0
);

-- A key and an erasure of one customer take the same transaction lock first: whichever
-- commits second sees the other (an erasure deletes a key committed before it; a key
-- inserted after an erasure is refused).
CREATE FUNCTION personal_data_lock(customer uuid) RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(7201003, hashtext(customer::text))
$$;

CREATE FUNCTION customer_keys_refuse_erased() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM personal_data_lock(NEW.customer_id);
    IF EXISTS (SELECT 1 FROM customer_erasures WHERE customer_id = NEW.customer_id) THEN
        RAISE EXCEPTION 'customer % was erased: no key is kept for them again', NEW.customer_id
            USING ERRCODE = 'check_violation', CONSTRAINT = '{ERASED_KEY_REFUSED}';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER customer_keys_not_erased BEFORE INSERT OR UPDATE ON customer_keys
    FOR EACH ROW EXECUTE FUNCTION customer_keys_refuse_erased();

CREATE FUNCTION customer_erasures_lock() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM personal_data_lock(NEW.customer_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER customer_erasures_locked BEFORE INSERT ON customer_erasures
    FOR EACH ROW EXECUTE FUNCTION customer_erasures_lock();

CREATE TABLE personal_data_disclosures (
    at           timestamptz NOT NULL DEFAULT now(),
    actor        jsonb NOT NULL DEFAULT '{{}}',
    customer_id  uuid NULL,
    event_id     uuid NOT NULL,
    fields       text[] NOT NULL,
    outcome      text NOT NULL
);
CREATE INDEX personal_data_disclosures_customer ON personal_data_disclosures (customer_id, at);

-- The claims' key is the blind index of the email (see BlindIndex), never the email itself.
ALTER TABLE customer_emails RENAME COLUMN email TO email_index;
CREATE INDEX customer_emails_customer ON customer_emails (customer_id);
-- Claims still held clear (written before this migration): found at start without a scan.
CREATE INDEX customer_emails_clear ON customer_emails (email_index)
    WHERE strpos(email_index, '@') > 0;
"""


async def rewrite_clear_claims(conn: "Conn", index: BlindIndex) -> int:
    """Rewrite the claims still holding a clear email to its blind index (a hex digest holds no
    '@', so a second run finds nothing); returns how many. Runs under the migration lock."""
    rows = await conn.fetch(
        "SELECT email_index FROM customer_emails WHERE strpos(email_index, '@') > 0"
    )
    if not rows:
        return 0
    clear = [row["email_index"] for row in rows]
    await conn.execute(
        "UPDATE customer_emails SET email_index = x.blind"
        " FROM unnest($1::text[], $2::text[]) AS x(clear, blind)"
        " WHERE customer_emails.email_index = x.clear",
        clear,
        [index.email(email) for email in clear],
    )
    log.info("email claims rewritten to their blind index", extra={"claims": len(clear)})
    return len(clear)
