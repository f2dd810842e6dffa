"""An operator in the console: signs in on the issuer's page, sees every projection with its
lag, pauses and resumes one, rebuilds one up to the switch, replays a dead letter, reads a
stream's events with their actor and trace, and retries a suspended process. axe-core checks
each page and each is photographed."""

import re

import pytest
from playwright.async_api import BrowserContext, expect

from tests.e2e.console import world
from tests.e2e.console.conftest import Stack, accessible, screenshot, sign_in

pytestmark = pytest.mark.e2e
PROJECTIONS = ("order_details", "customers", "sales", "stock")


async def test_the_overview_lists_every_projection_with_its_lag(
    stack: Stack, context: BrowserContext
) -> None:
    await world.order(stack, await world.customer(stack))
    page = await sign_in(context, stack, "operator")
    for name in PROJECTIONS:
        row = page.locator(f"tr[data-projection={name}]")
        await expect(row.get_by_test_id("lag-events")).to_have_text(re.compile(r"^\d+$"))
        await expect(row.get_by_test_id("lag-seconds")).to_have_text(re.compile(r"\d s$"))
    await expect(page.get_by_test_id("background")).to_contain_text("Relay lag")
    await expect(page.locator(".health")).to_contain_text("PostgreSQL")
    await accessible(page)
    await screenshot(page, "overview")


async def test_an_operator_pauses_and_resumes_a_projection(
    stack: Stack, context: BrowserContext
) -> None:
    page = await sign_in(context, stack, "operator", "#/projections/customers")
    status = page.get_by_test_id("status")
    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_role("status")).to_have_text("customers is paused.")
    await expect(status).to_contain_text("paused")
    async with stack.reader() as reader:
        shown = (await reader.get("/projections")).json()["projections"]
    assert next(p for p in shown if p["name"] == "customers")["paused"] is True
    await accessible(page)
    await screenshot(page, "projection-paused")
    await page.get_by_role("button", name="Resume").focus()  # by keyboard this time
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("customers is applying events again.")
    await expect(status).to_contain_text("live")


async def test_a_rebuild_shows_its_progress_until_the_switch(
    stack: Stack, context: BrowserContext
) -> None:
    await world.order(stack, await world.customer(stack))
    page = await sign_in(context, stack, "operator", "#/projections/order_details")
    version = page.get_by_test_id("version")
    await expect(version).to_have_text(re.compile(r"^\d+$"))
    before = int(await version.inner_text())
    await page.get_by_role("button", name="Start a rebuild").click()
    await expect(page.get_by_role("status")).to_have_text("A rebuild of order_details started.")
    await expect(page.get_by_test_id("rebuild-phase")).to_have_text("done")
    await expect(version).to_have_text(str(before + 1))
    await expect(page.get_by_test_id("rebuild-events")).to_contain_text("(100%)")
    await expect(page.get_by_role("progressbar")).to_have_attribute("value", "1")
    await accessible(page)
    await screenshot(page, "projection-rebuilt")


async def test_a_dead_letter_is_shown_inspected_and_replayed(
    stack: Stack, context: BrowserContext
) -> None:
    letter, customer_id = await world.dead_letter(stack)
    page = await sign_in(context, stack, "operator", "#/dead-letters")
    row = page.locator(f'tr[data-letter="{letter}"]')
    await expect(row).to_contain_text("TimeoutError: made by the test")
    await accessible(page)
    await screenshot(page, "dead-letters")
    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Dead letter", exact=True)).to_be_visible()
    await expect(page.get_by_test_id("letter-error")).to_have_text("TimeoutError: made by the test")
    await expect(page.locator(".facts")).to_contain_text("Attempts3")
    await expect(page.locator("pre.raw")).to_contain_text("Grace Hopper")
    await accessible(page)
    await screenshot(page, "dead-letter")
    await page.get_by_role("button", name="Replay").click()
    await expect(page.get_by_role("status")).to_have_text(f"{letter} was applied and removed.")
    await page.get_by_role("link", name="Dead letters", exact=True).first.click()
    await expect(page.get_by_test_id("no-dead-letters")).to_be_visible()
    async with stack.reader() as reader:
        assert (await reader.get(f"/customers/{customer_id}")).status_code == 200


async def test_a_streams_events_show_their_actor_and_trace(
    stack: Stack, context: BrowserContext
) -> None:
    customer_id = await world.customer(stack, traceparent=world.TRACEPARENT)
    page = await sign_in(context, stack, "operator", "#/streams")
    await expect(page.get_by_role("heading", name="The whole log, in commit order")).to_be_visible()
    await page.get_by_label("Stream id").fill(customer_id)
    await page.get_by_role("button", name="Look up").click()
    await expect(page).to_have_url(re.compile(f"#/streams/{customer_id}$"))
    registered = page.locator("tr", has_text="CustomerRegistered")
    await expect(registered.get_by_test_id("actor")).to_have_text("console-e2e, client dev")
    trace = registered.get_by_role("link", name=world.TRACE_ID)
    await expect(trace).to_have_attribute("href", f"http://traces.test/trace/{world.TRACE_ID}")
    await accessible(page)
    await screenshot(page, "stream")
    await page.get_by_role("link", name="Streams", exact=True).first.click()
    await expect(page.locator("tr", has_text=customer_id[:8]).first).to_be_visible()
    await accessible(page)
    await screenshot(page, "log")


async def test_a_suspended_process_is_shown_first_and_retried(
    stack: Stack, context: BrowserContext
) -> None:
    await world.receive(stack, "POISON-9", 5)
    await world.sql(stack, world.POISON)
    try:
        poisoned = await world.order(stack, await world.customer(stack), sku="POISON-9")
        page = await sign_in(context, stack, "operator", "#/processes")
        suspended = page.get_by_test_id("processes-suspended").locator(
            f'tr[data-order="{poisoned}"]'
        )
        # the page refreshes itself every few seconds: the instance appears once suspended
        await expect(suspended).to_contain_text("reservations of POISON-9 are refused")
        await accessible(page)
        await screenshot(page, "processes")
    finally:
        await world.sql(stack, world.CURE)
    await suspended.get_by_role("link").click()
    await expect(page.get_by_test_id("process")).to_contain_text("suspended")
    await accessible(page)
    await screenshot(page, "process")
    await page.get_by_role("button", name="Retry").click()
    await expect(page.get_by_role("status")).to_have_text(
        f"The process of order {poisoned} is active again."
    )
    await expect(page.locator("tr", has_text="FulfilmentRetried")).to_contain_text("operator")
