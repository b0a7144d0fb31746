"""A parked order in headless Chromium against a real stack: gunicorn, a worker and beat.

The partner refuses (422) an order's ``order.created`` webhook, so the payment and the
shipment that follow are parked behind its dead letter. The operator signs in, sees the key
in the Parked panel, opens the dead letter, skips it through the confirmation page, and the
partner then receives the payment and the shipment, in that order, and never the creation.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser_serving import ops_stack
from tests.support.fixtures import MakeStack
from tests.support.http_receiver import Answer, HttpReceiver, Request, http_receiver
from tests.support.inprocess import Api
from tests.support.outbox import outbox_stats
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

TOKEN = "parked-browser-admin-token-0123456789"
HANDLER = "forward_to_webhooks"
ORDER_EVENTS = ("order.created", "order.payment_processed", "order.shipped")


def event_type(request: Request) -> str:
    return str(json.loads(request.body)["event_type"])


def refuse_order_created(request: Request) -> Answer:
    return Answer(422 if event_type(request) == "order.created" else 200)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver(refuse_order_created) as r:
        yield r


def accepted(receiver: HttpReceiver) -> list[str]:
    """The order's events the partner accepted, in arrival order."""
    return [
        event_type(e.request)
        for e in receiver.answered()
        if e.answer.status == 200 and event_type(e.request) in ORDER_EVENTS
    ]


def test_the_operator_sees_a_parked_key_and_skips_its_head(
    make_stack: MakeStack,
    receiver: HttpReceiver,
    browser_page: Page,
    screenshot_dir: Path,
) -> None:
    stack, base = ops_stack(
        make_stack, receiver, admin_token=TOKEN, secret_key="parked-browser-session-key"
    )
    api = Api(stack.client)
    order = api.create_order(api.register()["user_id"])
    api.pay(order)
    api.ship(order)
    wait_until(
        lambda: outbox_stats(stack.engine)["parked"] == 2,
        timeout=60,
        what="the payment and the shipment to park behind the refused creation",
        describe=lambda: str(outbox_stats(stack.engine)),
    )
    stack.wait_drained(timeout=60)
    assert accepted(receiver) == []

    page = browser_page
    page.goto(f"{base}/ops")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(f"{base}/ops")
    parked = page.locator(f"#parked-table tr[data-handler={HANDLER}]")
    cells = parked.locator("td")
    expect(cells.nth(1)).to_have_text("1")  # one parked key
    expect(cells.nth(2)).to_have_text("2")  # its two parked deliveries
    expect(cells.nth(3)).to_have_text(re.compile(r"^\d+\.\d s$"))  # the oldest's age
    page.screenshot(path=str(screenshot_dir / "ops-parked.png"), full_page=True)

    cells.nth(4).locator("a").click()  # the dead letter holding them
    page.locator("tbody tr", has_text="order.created").locator("a", has_text="#").click()
    expect(page.locator("#parked-behind")).to_have_text("2 parked")
    page.click("main >> text=Skip…")
    expect(page.locator("h1")).to_contain_text("Skip dead letter")
    expect(page.locator("#releases")).to_contain_text("go on, in order")
    page.click("button:has-text('Yes, skip')")
    expect(page.locator(".flash")).to_contain_text("skipped: its delivery will never run")
    expect(page.locator("h1 .status")).to_have_text("skipped")
    expect(page.locator("#skipped")).to_contain_text("ops:session:")
    expect(page.locator("main >> text=Skip…")).to_have_count(0)

    wait_until(
        lambda: accepted(receiver) == ["order.payment_processed", "order.shipped"],
        timeout=60,
        interval=0.5,
        what="the partner to receive the payment, then the shipment",
        describe=lambda: f"accepted so far: {accepted(receiver)}",
    )
    page.goto(f"{base}/ops")
    expect(page.locator("#nothing-parked")).to_be_visible()
