"""Chromium enforces the Content-Security-Policy, and the pages still work under it: Swagger UI
renders the API, the ops page keeps its styles, and no page of the app opens in a frame.

The app runs in this process behind Werkzeug's threaded server (no worker is needed: the
pages are only rendered); the integration tier checks the headers themselves
(tests/hostile/test_security_headers.py).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser_serving import Served, served_to
from tests.support.inprocess import app_factory

TOKEN = "browser-headers-admin-token-0123456789"
INK = "rgb(29, 35, 48)"
"""The ops page header's background (``--ink``), set by its inline stylesheet."""


@pytest.fixture
def served(tmp_path: Path, browser_page: Page) -> Iterator[Served]:
    with (
        app_factory(tmp_path, ADMIN_TOKEN=TOKEN, SECRET_KEY="browser-headers-key") as make,
        served_to(browser_page, make()) as served,
    ):
        yield served


def test_swagger_ui_renders_the_api_under_the_policy(browser_page: Page, served: Served) -> None:
    page = browser_page
    response = page.goto(f"{served.base}/api/docs")
    assert response is not None and "frame-ancestors 'none'" in response.headers.get(
        "content-security-policy", ""
    )
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("outboxflow")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    page.locator(".opblock-summary", has_text="/healthz").first.click()
    page.click("button:has-text('Try it out')")
    page.click("button:has-text('Execute')")
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        "200"
    )
    assert served.policy_errors == []


def test_the_ops_page_keeps_its_styles_under_the_policy(browser_page: Page, served: Served) -> None:
    page = browser_page
    page.goto(f"{served.base}/ops/sign-in")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{served.base}/ops")
    background = page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == INK
    assert served.policy_errors == []


def test_no_page_opens_inside_another_sites_frame(browser_page: Page, served: Served) -> None:
    page = browser_page
    page.set_content(f'<iframe id="framed" src="{served.base}/ops/sign-in"></iframe>')
    page.wait_for_timeout(1000)
    [framed] = [frame for frame in page.frames if frame != page.main_frame]
    assert framed.query_selector("input[name=token]") is None, "the sign-in form opened framed"
    assert any("frame-ancestors" in error for error in served.policy_errors), served.policy_errors
