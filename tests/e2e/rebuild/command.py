"""`python -m services.read.cli rebuild` as the operator runs it: a subprocess with the read
service's environment, and what it prints."""

import asyncio
import re
import sys
import time
from dataclasses import dataclass

from tests.services import ROOT

SUMMARY = re.compile(
    r"^(?P<name>\w+): rebuilt version (?P<version>\d+): (?P<events>[\d,]+) events replayed,"
    r" (?P<documents>[\d,]+) documents, (?P<seconds>[\d.]+) s, (?P<rate>[\d,]+) events/s,"
    r" peak RSS (?P<rss>\d+) MB$",
    re.M,
)
PHASES = (
    r"[\d.]+ s: replay (?P<replay>[\d.]+) s, writing [\d.]+ s,"
    r" MongoDB indexes (?P<indexing>[\d.]+) s, pause [\d.]+ s$"
)
SLOW_PAGE = "5"  # events per page for the rebuilds that must still be running when we act


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def summaries(self) -> dict[str, re.Match[str]]:
        return {m["name"]: m for m in SUMMARY.finditer(self.stdout)}

    def __str__(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f}s\n{self.stdout}\n{self.stderr}"


@dataclass
class Rebuild:
    """One run of `python -m services.read.cli rebuild` as a subprocess."""

    proc: asyncio.subprocess.Process
    output: asyncio.Task[tuple[bytes, bytes]]
    started: float

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> "Rebuild":
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "services.read.cli", "rebuild", *args),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc, asyncio.ensure_future(proc.communicate()), time.monotonic())

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def kill(self) -> None:
        """SIGKILL: no `finally` runs, the lock is left held by a dead process."""
        self.proc.kill()

    async def finish(self, timeout: float = 300) -> Finished:
        try:
            out, err = await asyncio.wait_for(asyncio.shield(self.output), timeout)
        except TimeoutError as exc:
            self.proc.kill()
            out, err = await self.output
            raise AssertionError(
                f"the rebuild did not end in {timeout:.0f}s:\n{out!r}\n{err!r}"
            ) from exc
        assert self.proc.returncode is not None
        elapsed = time.monotonic() - self.started
        return Finished(self.proc.returncode, out.decode(), err.decode(), elapsed)


async def rebuild(env: dict[str, str], *args: str) -> Finished:
    return await (await Rebuild.start(env, *args)).finish()


def print_summaries(done: Finished) -> None:
    for match in done.summaries().values():
        print(match.group(0))
