"""A second rebuild of a projection being rebuilt is refused and changes nothing: end to end,
over real write and read services, Kafka and MongoDB. Operators see the running rebuild in
/projections and in /metrics. Waits are bounded polls, never fixed sleeps."""

import re
import signal

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.e2e.rebuild.command import SLOW_PAGE, Rebuild, print_summaries, rebuild
from tests.e2e.rebuild.database import Doc, ReadDatabase, assert_like_reference, assert_only_version
from tests.e2e.rebuild.serving import WAIT, wait_applied, wait_rebuilding
from tests.polling import poll
from tests.read_side import statuses
from tests.services import RunningService

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


async def test_a_second_rebuild_of_the_same_projection_is_refused_and_changes_nothing(
    write_service: RunningService,
    staff_token: str,
    read_service: RunningService,
    reference: RunningService,
    reader: httpx.AsyncClient,
    rebuilt: ReadDatabase,
    mongo_client: AsyncMongoClient[Doc],
) -> None:
    projection = "customers"
    await wait_applied(write_service, read_service)
    active = await rebuilt.active(projection)
    first = await Rebuild.start(
        read_service.env, "--projection", projection, "--page-size", SLOW_PAGE
    )
    held = await wait_rebuilding(rebuilt, projection, first)
    # Hold the first run still (alive, within its lease) while the second one tries, however
    # fast rebuilds get: it must still be half way when we look.
    first.proc.send_signal(signal.SIGSTOP)
    try:
        # Operators see it: the state, and the progress metric.
        async def shown_rebuilding() -> bool:
            return bool((await statuses(reader))[projection]["state"] == "rebuilding")

        await poll(shown_rebuilding, "/projections to show the rebuild", timeout=WAIT)

        async def progress_exported() -> bool:
            text = (await reader.get("/metrics")).raise_for_status().text
            pattern = rf'^projection_rebuild_progress_ratio\{{projection="{projection}"\}} (\S+)$'
            sample = re.search(pattern, text, re.M)
            return sample is not None and float(sample[1]) > 0

        await poll(
            progress_exported, "projection_rebuild_progress_ratio to show the rebuild", timeout=WAIT
        )

        second = await rebuild(read_service.env, "--projection", projection)
        assert first.running, "the first rebuild ended before the second one tried"
        assert second.code == 2, second
        assert "refused" in second.stderr, second
        assert not second.summaries(), second
        now = await rebuilt.state(projection)
        assert now["rebuild"]["owner"] == held["owner"], "the refused run took the lock"
        assert now["rebuild"]["started_at"] == held["started_at"]
        assert now["active_version"] == active
        assert f"{projection}_v{active + 1}" in await rebuilt.versions(projection)
    finally:
        first.proc.send_signal(signal.SIGCONT)

    done = await first.finish()
    print_summaries(done)
    assert done.code == 0, done
    assert int(done.summaries()[projection]["version"]) == active + 1, done
    assert await rebuilt.active(projection) == active + 1
    await assert_only_version(rebuilt, projection, active + 1)
    await wait_applied(write_service, read_service, reference)
    theirs = ReadDatabase(mongo_client, reference.env["MONGODB_DATABASE"])
    await assert_like_reference(rebuilt, theirs, (projection,))
