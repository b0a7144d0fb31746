"""The event catalog in headless Chromium, as an integrator and an operator reach it.

From Swagger UI's link to the catalog, through an event's versions and its example, to the
AsyncAPI document; and from the ops page's header. Chromium enforces the same
Content-Security-Policy as every page: the catalog's one inline stylesheet carries the
response's nonce, so the page keeps its styles and the console reports no violation.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.application.event_handlers.registry import HANDLERS
from app.domain.events import EVENT_CLASSES
from app.infrastructure.messaging import asyncapi
from tests.support.browser_serving import Served, served_to
from tests.support.inprocess import app_factory

TOKEN = "browser-catalog-admin-token-0123456789"
INK = "rgb(29, 35, 48)"
"""The catalog's header background (``--ink``), set by its inline stylesheet."""


@pytest.fixture
def served(tmp_path: Path, browser_page: Page) -> Iterator[Served]:
    with (
        app_factory(tmp_path, ADMIN_TOKEN=TOKEN, SECRET_KEY="browser-catalog-key") as make,
        served_to(browser_page, make()) as served,
    ):
        yield served


def test_an_integrator_goes_from_the_api_docs_to_an_event_and_its_document(
    browser_page: Page, served: Served, screenshot_dir: Path
) -> None:
    page = browser_page
    page.goto(f"{served.base}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("outboxflow")
    page.click("#event-catalog-link >> text=the event catalog")
    expect(page).to_have_url(f"{served.base}/api/asyncapi")
    expect(page.locator("h1")).to_have_text("outboxflow events")
    background = page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == INK, "the inline stylesheet did not apply"
    expect(page.locator("#event-index tbody tr")).to_have_count(len(EVENT_CLASSES))

    page.click("#event-index >> text=order.created")
    expect(page).to_have_url(f"{served.base}/api/asyncapi#order.created")
    current = page.locator('[id="order.created.v2"]')
    expect(current).to_be_in_viewport()
    expect(current.locator(".badge")).to_have_text("current")
    expect(current.locator(".fields")).to_contain_text("items[].unit_price")
    expect(current.locator(".consumers")).to_contain_text("handlers.send_order_confirmation")
    example = json.loads(current.locator(".example").inner_text())
    assert example["payload"]["currency"] == "EUR"
    expect(page.locator('[id="order.created.v1"] .badge')).to_have_text("stored only")
    page.screenshot(path=str(screenshot_dir / "event-catalog.png"), full_page=False)

    with page.expect_response(f"{served.base}/api/asyncapi.json") as answer:
        page.click("header >> text=AsyncAPI document")
    assert answer.value.json() == asyncapi.current()
    assert served.policy_errors == []


def test_an_operator_reaches_the_catalog_from_the_ops_page(
    browser_page: Page, served: Served
) -> None:
    page = browser_page
    page.goto(f"{served.base}/ops/sign-in")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{served.base}/ops")
    page.click("header >> text=Event catalog")
    expect(page).to_have_url(f"{served.base}/api/asyncapi")
    expect(page.locator("#handler-tasks tbody tr")).to_have_count(len(HANDLERS))
    page.click("header >> text=Ops")
    expect(page).to_have_url(f"{served.base}/ops")
    assert served.policy_errors == []
