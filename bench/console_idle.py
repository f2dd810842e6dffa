"""The operator console left open on its overview, as the idle part measures it: headless
Chromium (the distribution's, driven by Playwright) signed in as the development issuer's
`operator` through its login page, kept on the overview while the stack is measured at rest.
The browser's own CPU is not the stack's and is not counted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from .servers import Stack

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 60_000
PROJECTIONS = ("order_details", "customers", "sales", "stock")


def missing() -> str | None:
    """Why the console cannot be opened here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (make install)"
    return None


@contextlib.asynccontextmanager
async def console_open(stack: Stack, read_url: str) -> AsyncIterator[None]:
    """The console signed in and showing every projection on its overview, until the block
    ends."""
    from playwright.async_api import async_playwright, expect

    assert stack.issuer is not None, "the services were started with the stack's issuer"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = await browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(WAIT_MS)
            await page.goto(f"{read_url}/console/")
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_label("User name").fill("operator")
            await page.get_by_label("Password").fill(stack.issuer.user_password("operator"))
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_test_id("user")).to_have_text("operator", timeout=WAIT_MS)
            for name in PROJECTIONS:
                link = page.get_by_role("link", name=name, exact=True)
                await expect(link).to_be_visible(timeout=WAIT_MS)
            yield
        finally:
            await browser.close()
