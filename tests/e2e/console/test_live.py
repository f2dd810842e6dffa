"""The console keeps itself current without reloading, and costs nothing while nobody looks:
the overview asks again every few seconds while its tab is shown, not at all while it is
hidden, and at once when it is shown again. The page's clock is Playwright's, moved by the test,
so that nothing waits on real time."""

import pytest
from playwright.async_api import BrowserContext, Request, expect

from tests.e2e.console.conftest import Stack, sign_in

pytestmark = pytest.mark.e2e
EVERY_MS = 5000  # the overview's period (app/pages/overview.js)
VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def status_request(request: Request) -> bool:
    return request.url.endswith("/projections") and request.method == "GET"


async def test_the_overview_polls_while_shown_and_not_while_hidden(
    stack: Stack, context: BrowserContext
) -> None:
    await context.clock.install()
    page = await sign_in(context, stack, "operator")
    await expect(page.locator("tr[data-projection=sales]")).to_be_visible()
    async with page.expect_request(status_request):
        await page.clock.run_for(EVERY_MS + 500)

    await page.evaluate(VISIBILITY, "hidden")
    await page.wait_for_load_state("networkidle")  # a request under way when hidden lands
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.clock.run_for(10 * 60 * 1000)  # ten minutes hidden
    await page.wait_for_load_state("networkidle")
    assert asked == []

    async with page.expect_request(status_request):
        await page.evaluate(VISIBILITY, "visible")
