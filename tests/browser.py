"""Headless Chromium (Debian's ``chromium``) driven by Playwright, for the browser tests.

Skipped, with the reason shown, when Chromium or Playwright is absent; with
``FURUSATO_REQUIRE_BROWSER=1`` (CI) their absence fails instead.  Import the fixture where it
is used: ``from tests.browser import browser_factory as browser_factory``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable(reason: str) -> None:
    if os.environ.get("FURUSATO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FURUSATO_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser_factory() -> Iterator[Any]:
    """``launch(*extra_args)`` → a headless Chromium browser (all closed after the test)."""
    executable = chromium()
    if executable is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched: list[Any] = []

        def launch(*extra: str) -> Any:
            browser = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage", *extra],
            )
            launched.append(browser)
            return browser

        yield launch
        for browser in launched:
            browser.close()
