"""Headless Chromium for the browser tests: Debian's chromium, driven by playwright.

playwright cannot download its own browsers here, so it launches the system's chromium
by its executable path. Without one the tests skip with the reason, unless
``REQUIRE_BROWSER=1`` (CI) turns that into a failure.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

FLAG = "REQUIRE_BROWSER"
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def browser_required() -> bool:
    return os.environ.get(FLAG, "").strip().lower() in {"1", "true", "yes", "on"}


def find_chromium() -> str | None:
    for candidate in (shutil.which("chromium"), *CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        reason = "no chromium found (apt-get install chromium)"
        if browser_required():
            pytest.fail(f"{reason}; {FLAG}=1 turns this skip into a failure", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture
def browser_page(chromium_path: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """``SCREENSHOT_DIR`` (e.g. ``docs`` to refresh the ops page's screenshots), else a temp dir."""
    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
