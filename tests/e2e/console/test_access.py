"""What the console shows follows the signed-in person's scopes: a viewer (ordering:query) reads
but is offered no action, and the APIs refuse them one anyway; someone without ordering:query
reads nothing. The sign-in page, the stock page and the refusals are accessible too."""

import re

import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from tests.e2e.console import world
from tests.e2e.console.conftest import Stack, accessible, screenshot, sign_in

pytestmark = pytest.mark.e2e


async def test_the_issuers_login_page_is_accessible(stack: Stack, context: BrowserContext) -> None:
    page = await context.new_page()
    await page.goto(stack.console)
    await accessible(page)
    await screenshot(page, "sign-in")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("User name").fill("operator")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Unknown user or wrong password.")
    await accessible(page)
    await screenshot(page, "issuer-login")


async def test_low_stock_is_listed(stack: Stack, context: BrowserContext) -> None:
    await world.receive(stack, "LOW-STOCK-1", 2)
    await world.receive(stack, "PLENTY-1", 500)
    page = await sign_in(context, stack, "operator", "#/stock")
    await page.get_by_label("Fewer units available than").fill("5")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"#/stock\?below=5$"))
    await expect(page.locator('tr[data-sku="LOW-STOCK-1"]')).to_contain_text("2")
    await expect(page.locator('tr[data-sku="PLENTY-1"]')).to_have_count(0)
    await accessible(page)
    await screenshot(page, "stock")


async def test_a_viewer_reads_but_is_offered_no_action(
    stack: Stack, context: BrowserContext
) -> None:
    page = await sign_in(context, stack, "viewer", "#/projections/sales")
    await expect(page.get_by_test_id("status")).to_contain_text("Active version")
    await expect(page.get_by_test_id("status")).to_contain_text("shown to operators only")
    await expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    await expect(page.get_by_role("button", name="Start a rebuild")).to_have_count(0)
    await accessible(page)
    await screenshot(page, "viewer-projection")
    for route, scope in (
        ("#/dead-letters", "ordering:operate"),
        ("#/processes", "ordering:operate"),
        ("#/streams", "ordering:events"),
    ):
        await page.goto(stack.console + route)
        await expect(page.get_by_role("note")).to_contain_text(scope)
        await expect(page.get_by_role("button", name=re.compile("Replay|Retry"))).to_have_count(0)
    await accessible(page)
    # and the APIs refuse the viewer's token whatever the page offers
    token = await page.evaluate(
        "() => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage)"
        ".find((k) => k.startsWith('oidc.user:')))).access_token"
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        paused = await http.post(f"{stack.read.url}/projections/sales/pause")
        retried = await http.post(
            f"{stack.write.url}/processes/{'0' * 8}-0000-0000-0000-{'0' * 12}/retry"
        )
        listed = await http.get(f"{stack.read.url}/projections")
    assert (paused.status_code, retried.status_code, listed.status_code) == (403, 403, 200)


async def test_without_ordering_query_nothing_is_read(
    stack: Stack, context: BrowserContext
) -> None:
    asked: list[str] = []
    page = await context.new_page()
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(stack.console)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("User name").fill("nobody")
    await page.get_by_label("Password").fill(stack.issuer.user_password("nobody"))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="No access")).to_be_visible()
    await expect(page.get_by_role("note")).to_contain_text("ordering:query")
    await expect(page.get_by_role("table")).to_have_count(0)
    assert not [url for url in asked if url.startswith(f"{stack.read.url}/projections")]
    await accessible(page)
    await screenshot(page, "no-access")
