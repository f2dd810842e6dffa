"""A rebuild killed with SIGKILL half way changes nothing that is served, and a re-run recovers:
end to end, over real write and read services, Kafka and MongoDB; the result is what a read
service that never rebuilt holds. Waits are bounded polls, never fixed sleeps."""

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.e2e.rebuild.command import SLOW_PAGE, Rebuild, print_summaries, rebuild
from tests.e2e.rebuild.database import Doc, ReadDatabase, assert_like_reference, assert_only_version
from tests.e2e.rebuild.gate import gate
from tests.e2e.rebuild.serving import WAIT, wait_applied, wait_live, wait_rebuilding
from tests.e2e.rebuild.workload import Workload
from tests.polling import poll
from tests.read_side import served, statuses
from tests.services import RunningService

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


async def test_a_rebuild_killed_half_way_serves_nothing_half_built_and_a_rerun_recovers(
    write_service: RunningService,
    staff_token: str,
    read_service: RunningService,
    reference: RunningService,
    workload: Workload,
    reader: httpx.AsyncClient,
    rebuilt: ReadDatabase,
    mongo_client: AsyncMongoClient[Doc],
) -> None:
    projection = "order_details"
    await wait_applied(write_service, read_service)
    active = await rebuilt.active(projection)
    before = await served(reader, workload.paths())
    # The rebuild reads the log through a gate that holds its pages past 60% of the log, so it
    # is half way when we kill it, however fast it replays.
    async with gate(write_service.url, share=0.6) as held:
        env = {**read_service.env, "WRITE_SERVICE_URL": held.url}
        run = await Rebuild.start(env, "--projection", projection, "--page-size", SLOW_PAGE)
        await wait_rebuilding(rebuilt, projection, run)

        async def half_way() -> Doc | None:
            assert run.running, await run.finish()
            entry: Doc = (await rebuilt.state(projection))["rebuild"]
            return entry if held.holding.is_set() and entry.get("ratio", 0) >= 0.6 else None

        entry = await poll(half_way, f"the rebuild of {projection} to reach 60%", timeout=WAIT)
        run.kill()
        killed = await run.finish()
    print(f"\nkilled at {entry['ratio']:.0%} ({entry['events']} events, {entry['phase']})")
    assert killed.code == -9, killed
    assert entry["ratio"] <= 0.9, entry
    assert entry["phase"] == "replaying", entry

    # Nothing served changed: the same version, the same answers.
    assert await rebuilt.active(projection) == active
    assert (await statuses(reader))[projection]["active_version"] == active
    assert await served(reader, workload.paths()) == before
    shown = (await statuses(reader))[projection]
    print(f"/projections after the kill: state {shown['state']}, rebuild {shown['rebuild']}")
    half_built = await rebuilt.versions(projection)
    assert f"{projection}_v{active + 1}" in half_built, "the kill left nothing to clean up"
    # Anything else the dead run might have left of its version must go too.
    leftover = rebuilt.db[f"{projection}_v{active + 1}_leftover"]
    await leftover.insert_one({"_id": "left by the killed rebuild"})

    # A re-run takes the dead holder's lock at once, builds the next version and cleans up.
    done = await rebuild(read_service.env, "--projection", projection)
    print_summaries(done)
    assert done.code == 0, done
    assert int(done.summaries()[projection]["version"]) == active + 1, done
    assert await rebuilt.active(projection) == active + 1
    await assert_only_version(rebuilt, projection, active + 1)
    assert f"{projection}_v{active + 1}_leftover" not in await rebuilt.versions(projection)
    await wait_live(read_service, {projection: active + 1})

    await wait_applied(write_service, read_service, reference)
    assert await served(reader, workload.paths()) == before  # no command ran meanwhile
    theirs = ReadDatabase(mongo_client, reference.env["MONGODB_DATABASE"])
    await assert_like_reference(rebuilt, theirs, (projection,))
