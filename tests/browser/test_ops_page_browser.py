"""The ops page in headless Chromium against a real stack: gunicorn, a worker and beat.

A webhook receiver that answers 400 dead-letters the ``forward_to_webhooks`` delivery of
a registration; the operator signs in, finds it, reads its traceback, fixes the receiver,
re-drives it (through the confirmation page), watches it reach ``done`` and follows the
dead letter's link to its trace.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.support.browser_serving import ops_stack
from tests.support.fixtures import MakeStack
from tests.support.http_receiver import Answer, HttpReceiver, answer_ok, http_receiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

TOKEN = "browser-admin-token-0123456789abcdef"
CORRELATION_ID = "ops-browser-demo-1"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(lambda _request: Answer(400)) as r:
        yield r


def delivery_status(page: Page) -> str:
    page.reload()
    return page.locator("[data-delivery-status]").get_attribute("data-delivery-status") or ""


def test_sign_in_find_a_dead_letter_re_drive_it_and_see_it_done(
    make_stack: MakeStack,
    receiver: HttpReceiver,
    browser_page: Page,
    screenshot_dir: Path,
) -> None:
    stack, base = ops_stack(
        make_stack, receiver, admin_token=TOKEN, secret_key="browser-test-session-key"
    )
    registered = requests.post(
        f"{base}/api/users",
        json={"email": "ops@example.com", "name": "Ops"},
        headers={"X-Correlation-ID": CORRELATION_ID},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    stats = stack.wait_drained(timeout=60)
    assert stats["dead"] == 1, stats

    page = browser_page
    refused = page.goto(f"{base}/ops")
    assert refused is not None and refused.status == 401
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{base}/ops")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    dead_link = page.locator("#backlog-table tr", has_text="forward_to_webhooks").locator("a")
    expect(dead_link).to_have_text("1")  # one dead letter, linked to the filtered list
    page.screenshot(path=str(screenshot_dir / "ops-overview.png"), full_page=True)

    page.click("header >> text=Dead letters")
    page.select_option("select[name=handler]", "forward_to_webhooks")
    page.fill("input[name=error]", "answered 400")
    page.click("button:has-text('Filter')")
    row = page.locator("tbody tr", has_text="user.registered")
    expect(row).to_contain_text("PermanentFailure")
    page.screenshot(path=str(screenshot_dir / "ops-dead-letters.png"), full_page=True)

    row.locator("a", has_text="#").click()
    expect(page.locator("pre").first).to_contain_text("Traceback (most recent call last)")
    expect(page.locator("[data-delivery-status]")).to_have_text("dead")
    page.screenshot(path=str(screenshot_dir / "ops-dead-letter.png"), full_page=True)

    receiver.respond = answer_ok
    page.click("main >> text=Re-drive…")
    expect(page.locator("h1")).to_contain_text("Re-drive dead letter")
    page.click("button:has-text('Yes, re-drive')")
    expect(page.locator(".flash")).to_contain_text("re-driven")
    wait_until(
        lambda: delivery_status(page) == "done",
        timeout=30,
        interval=0.5,
        what="the re-driven delivery to reach done on the page",
        describe=lambda: f"status shown: {delivery_status(page)!r}",
    )
    assert any(e.answer.status == 200 for e in receiver.answered())

    expect(page.locator("#reload-hint")).to_have_count(0)  # done is final: nothing to reload for
    page.click("#trace-link")
    expect(page).to_have_url(re.compile(rf"/ops/trace\?correlation_id={CORRELATION_ID}#event-"))
    expect(page.locator("h2").first).to_contain_text("user.registered")
    webhook_row = page.locator("tr", has_text="forward_to_webhooks")
    expect(webhook_row.locator(".status")).to_have_text("done")
    page.screenshot(path=str(screenshot_dir / "ops-trace.png"), full_page=True)
