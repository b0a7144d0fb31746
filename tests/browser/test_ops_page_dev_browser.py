"""The ops page in headless Chromium as a developer meets it: no ADMIN_TOKEN, nothing relaying.

The app runs in this process behind Werkzeug's server, with dead letters made the real way
(``dead_letters_made``); no relay runs, so a re-driven delivery stays ``pending`` and the
page must say it may be stale. Checks the sign-in form that needs no token, the view of
re-driven dead letters (``?status=all``), and the links from a dead letter to its event and
its trace. (test_ops_page_browser.py drives the signed-in page against real processes.)
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from tests.support.dead_letters import ORDER_WEBHOOK, Graveyard, dead_letters_made
from tests.support.inprocess import app_factory


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Graveyard, str]]:
    with app_factory(tmp_path) as make_app, dead_letters_made(make_app) as graveyard:
        server = make_server("127.0.0.1", 0, graveyard.app)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield graveyard, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)


def test_a_developer_finds_re_drives_and_follows_a_dead_letter(
    served: tuple[Graveyard, str], browser_page: Page
) -> None:
    graveyard, base = served
    page = browser_page
    dead_letter_id = graveyard.ids[ORDER_WEBHOOK]

    page.goto(f"{base}/ops/sign-in?next=/ops/dead-letters")
    expect(page.locator("#no-sign-in-needed")).to_contain_text("needs no sign-in")
    expect(page.locator("input[name=token]")).to_have_count(0)
    page.click("#no-sign-in-needed >> text=Continue")
    expect(page).to_have_url(f"{base}/ops/dead-letters")
    expect(page.locator("tbody tr")).to_have_count(3)

    page.click(f"a[href='/ops/dead-letters/{dead_letter_id}']")
    expect(page.locator("#reload-hint")).to_have_count(0)
    page.click("main >> text=Re-drive…")
    page.click("button:has-text('Yes, re-drive')")
    expect(page.locator(".flash")).to_contain_text("re-driven")
    expect(page.locator("[data-delivery-status]")).to_have_text("pending")
    expect(page.locator("#reload-hint")).to_contain_text("Reload")

    page.click("header >> text=Dead letters")
    expect(page.locator("tbody tr")).to_have_count(2)  # the re-driven one is not dead now
    page.click("#show-all")
    expect(page.locator("select[name=status]")).to_have_value("all")
    row = page.locator(
        "tbody tr", has=page.locator(f"a[href='/ops/dead-letters/{dead_letter_id}']")
    )
    expect(row.locator(".status")).to_have_text("redriven")
    expect(page.locator("tbody tr")).to_have_count(3)

    row.locator("a", has_text="#").click()
    event_id = graveyard.dead_letter(ORDER_WEBHOOK)["event_id"]
    page.click("#event-link")
    expect(page).to_have_url(f"{base}/ops/events/{event_id}")
    expect(page.locator("h1")).to_contain_text("order.created")
    expect(page.locator("tr", has_text="forward_to_webhooks").locator(".status")).to_have_text(
        "pending"
    )
    page.click("#trace-link")
    expect(page.locator(f"[id='event-{event_id}']")).to_contain_text("order.created")
    expect(page.locator("h2", has_text="user.registered")).to_have_count(0)
