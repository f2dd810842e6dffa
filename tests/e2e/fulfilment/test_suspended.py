"""An instance that keeps failing is suspended, shown to operators, and completed by a retry;
the other orders go on meanwhile."""

from tests.e2e.fulfilment.conftest import MakeShop
from tests.e2e.fulfilment.shop import eventually

# What makes one SKU's reservations fail in the database, as a broken constraint or a full
# disk would: every other write goes through.
POISON = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_type = 'StockReserved' AND NEW.data->>'sku' = 'POISON-1' THEN
        RAISE EXCEPTION 'reservations of POISON-1 are refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""


async def test_a_failing_instance_is_suspended_listed_and_retried(make_shop: MakeShop) -> None:
    shop = make_shop()
    await shop.start_writes()
    await shop.receive("POISON-1", 5)
    await shop.receive("FINE-1", 5)
    await shop.execute(POISON)
    customer = await shop.customer()
    poisoned = await shop.place(customer, ("POISON-1", 1))
    fine = await shop.place(customer, ("FINE-1", 1))
    assert await shop.outcome(fine) == "OrderStockReserved"
    async with shop.writes[0].client() as client:
        listed = await eventually(
            lambda: client.get("/processes", params={"state": "suspended"}),
            lambda r: (
                r.status_code == 200 and any(i["order_id"] == poisoned for i in r.json()["items"])
            ),
            timeout=60,
            what="the poisoned instance listed as suspended",
        )
        item = next(i for i in listed.json()["items"] if i["order_id"] == poisoned)
        assert "POISON-1" in item["error"] and item["attempts"] >= 3
        detail = (await client.get(f"/processes/{poisoned}")).json()
        assert detail["state"] == "suspended"
        assert (await client.post(f"/processes/{fine}/retry")).status_code == 409
        await shop.execute("DROP TRIGGER refuse_poison ON events")
        retried = await client.post(f"/processes/{poisoned}/retry")
        assert retried.status_code == 202, retried.text
    assert await shop.outcome(poisoned) == "OrderStockReserved"
    rows = await shop.query(
        "SELECT state FROM fulfilment_instances WHERE order_id = $1::uuid", poisoned
    )
    assert rows[0]["state"] == "active"
    assert "FulfilmentRetried" in await shop.process_events(poisoned)
