"""The operator console in a real browser: a stack like `make run`'s on free ports (its own
development issuer, which knows the console's redirect URI), headless Chromium from the
distribution (never a downloaded build) driven by Playwright, and axe-core in each page.

Screenshots of every page go to .local/screenshots/ (CONSOLE_SCREENSHOTS moves them)."""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import AUDIENCE, bearer
from tests.e2e.servers import read_env, serve, write_env
from tests.services import ROOT, RunningService

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "services" / "read" / "console" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / ".local" / "screenshots"))
TRACES = "http://traces.test/trace/{trace_id}"
# Conditions are awaited by Playwright's polling, never by a fixed sleep; this bounds each wait
# generously, since the machine may be busy.
WAIT_MS = 60_000


def _needed() -> None:
    """Chromium and axe-core must be there: skipped without them here, failing in CI."""
    missing = [str(p) for p in (CHROMIUM, AXE) if not p.exists()]
    if missing:
        message = (
            f"the console's browser tests need {missing} (apt-get install chromium; make install)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass(frozen=True)
class Stack:
    """The services and issuer the console talks to, and a staff token of the issuer's `dev`
    client for the tests' own calls."""

    issuer: LocalIssuer
    write: RunningService
    read: RunningService
    token: str

    @property
    def console(self) -> str:
        return f"{self.read.url}/console/"

    def writer(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.write.url, headers=bearer(self.token), timeout=30)

    def reader(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.read.url, headers=bearer(self.token), timeout=30)


@pytest.fixture(scope="package")
def console_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalIssuer, int]]:
    """An issuer of its own: the console's redirect URI names the read service's port."""
    _needed()
    read_port = free_port()
    state = tmp_path_factory.mktemp("console-issuer")
    redirect = (f"http://127.0.0.1:{read_port}/console/",)
    server = LocalIssuer(
        state,
        port=free_port(),
        log_path=state / "issuer.log",
        audience=AUDIENCE,
        console_redirects=redirect,
    )
    server.start()
    try:
        yield server, read_port
    finally:
        server.stop()


@pytest.fixture(scope="package")
def stack(
    postgres: Any,
    kafka: Any,
    mongo: Any,
    console_issuer: tuple[LocalIssuer, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    issuer, read_port = console_issuer
    write_settings = write_env(postgres, kafka, issuer)
    write_settings["CORS_ALLOW_ORIGINS"] = f"http://127.0.0.1:{read_port}"
    for write in serve("write", write_settings, tmp_path_factory):
        read_settings = read_env(write, mongo)
        read_settings.update(READ_PORT=str(read_port), TRACE_VIEWER_URL=TRACES)
        for read in serve("read", read_settings, tmp_path_factory):
            yield Stack(issuer, write, read, issuer.dev_token(subject="console-e2e"))


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    _needed()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    # axe-core is added by the browser's own means (not a <script> of the page), so the page's
    # content security policy stays as it is served.
    made = await browser.new_context(viewport={"width": 1366, "height": 900})
    await made.add_init_script(path=str(AXE))
    made.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    try:
        yield made
    finally:
        await made.close()


async def sign_in(context: BrowserContext, stack: Stack, user: str, route: str = "") -> Page:
    """A page of the console signed in as `user` through the issuer's login form."""
    page = await context.new_page()
    await page.goto(stack.console + route)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(stack.issuer.user_password(user))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("user")).to_have_text(user)
    return page


SERIOUS = """async () => {
  const found = await axe.run(document, { resultTypes: ["violations"] });
  return found.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
}"""


async def accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation in the page as it is shown."""
    assert await page.evaluate(SERIOUS) == []


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def clear_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
