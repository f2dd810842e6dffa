"""History sent again (republished to Kafka, replayed by rebuilds) is only read again: the
process issues no command for it."""

import asyncio
import subprocess
import sys

from tests.e2e.fulfilment.conftest import MakeShop
from tests.e2e.fulfilment.shop import Shop
from tests.services import ROOT


def run(module: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{module} {args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


async def log_size(shop: Shop) -> tuple[int, int]:
    rows = await shop.query("SELECT count(*) AS n, coalesce(max(position), 0) AS head FROM events")
    return int(rows[0]["n"]), int(rows[0]["head"])


async def test_a_republish_and_a_rebuild_of_every_projection_issue_no_command(
    make_shop: MakeShop,
) -> None:
    shop = make_shop()
    await shop.start_writes()
    read = await shop.start_read()
    await shop.receive("R-1", 2)
    customer = await shop.customer()
    kept, short = await shop.place(customer, ("R-1", 2)), await shop.place(customer, ("R-1", 1))
    assert (await shop.outcome(kept), await shop.outcome(short)) == (
        "OrderStockReserved",
        "OrderRejected",
    )
    await shop.confirm(kept)
    await shop.ship(kept)
    await shop.stock_doc("R-1", lambda d: d.get("on_hand") == 0)
    before = await log_size(shop)
    printed = await asyncio.to_thread(
        run, "services.write.entrypoints.republish", shop.writes[0].env, "--from-position", "0"
    )
    published = await shop.query(
        "SELECT count(*) AS n FROM events WHERE stream_type <> 'fulfilment'"
    )  # the process's own streams are internal: never published
    assert f"{published[0]['n']} events republished" in printed
    await asyncio.to_thread(run, "services.read.cli", read.env, "rebuild")
    rebuilt = await shop.stock_doc("R-1", lambda d: d.get("on_hand") == 0)
    assert (rebuilt["reserved"], rebuilt["available"]) == (0, 0)
    # the process's own streams are as they were, and nothing else was appended
    assert await log_size(shop) == before
    assert (await shop.order_events(kept)).count("OrderStockReserved") == 1
