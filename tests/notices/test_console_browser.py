"""The notice pages in headless Chromium (Playwright) at phone (375 px) and desktop (1280 px)
width: no sideways scrolling, every control with an accessible name, a call published and
withdrawn through the forms as staff would.  SQLite only: the pages are the same on both."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from issuer.activities import JST
from tests.browser import browser_factory as browser_factory  # the fixture
from tests.issuer.conftest import LiveServer
from tests.notices.conftest import LG, Registrant, answer, staff

FITS = "document.documentElement.scrollWidth <= window.innerWidth"
# Form controls, buttons and links of the page without an accessible name (label, aria-label
# or text): there must be none.
UNNAMED = """() => [...document.querySelectorAll(
    'main input:not([type=hidden]), main select, main textarea, main button, main a, nav a')]
  .filter(el => {
    const aria = (el.getAttribute('aria-label') || '').trim();
    const labels = el.labels ? [...el.labels].map(l => l.textContent).join(' ').trim() : '';
    const text = ['A', 'BUTTON'].includes(el.tagName) ? el.textContent.trim() : '';
    return !(aria || labels || text);
  })
  .map(el => el.outerHTML.slice(0, 160))"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'issuer.db'}"


@pytest.fixture
def browser(browser_factory: Any) -> Any:
    return browser_factory()


def test_publish_and_withdraw_a_call_at_phone_and_desktop_width(
    live: LiveServer, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(live.url + "/admin")
    page.get_by_label(re.compile("アクセストークン")).fill(live.world.staff_token)
    page.get_by_role("button", name=re.compile("ログイン")).click()
    page.wait_for_url(live.url + "/admin")
    menu = page.get_by_role("navigation", name=re.compile("管理メニュー"))
    menu.get_by_role("link", name=re.compile("お知らせ")).click()
    page.wait_for_url(live.url + "/admin/notices")
    assert page.evaluate(FITS), "the list scrolls sideways at phone width"
    assert page.evaluate(UNNAMED) == []
    assert (
        menu.get_by_role("link", name=re.compile("お知らせ")).get_attribute("aria-current")
        == "page"
    )

    deadline = (datetime.now(UTC) + timedelta(days=3)).astimezone(JST).strftime("%Y-%m-%dT%H:%M")
    page.get_by_role("combobox", name=re.compile("^分類")).select_option("募集")
    page.get_by_role("combobox", name=re.compile("^対象")).select_option("all")
    page.get_by_role("textbox", name=re.compile("^件名")).fill("稲刈りの手伝い")
    page.get_by_role("textbox", name=re.compile("^本文")).fill("10月の週末、2時間ほどです。")
    page.get_by_role("textbox", name=re.compile("^関連リンク")).fill("https://example.jp/ine")
    page.get_by_role("spinbutton", name=re.compile("^募集人数")).fill("5")
    page.get_by_label(re.compile("^締切")).fill(deadline)
    page.get_by_role("button", name=re.compile("公開する")).click()
    page.wait_for_url(re.compile(r"/admin/notices/[0-9a-f]{16}\?done=created$"))
    assert page.get_by_role("status").is_visible()
    assert page.evaluate(FITS), "the notice page scrolls sideways at phone width"
    assert page.evaluate(UNNAMED) == []
    notice_id = re.findall(r"/admin/notices/([0-9a-f]{16})", page.url)[0]

    resident = Registrant.register(live.url, LG)
    assert answer(resident, notice_id, "週末なら参加できます。" * 8).status_code == 201
    page.reload()
    assert page.get_by_role("cell", name=re.compile("週末なら参加できます")).is_visible()
    assert page.evaluate(FITS), "the answers scroll sideways at phone width"

    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate(FITS)
    page.get_by_role("link", name=re.compile("一覧へ")).click()
    page.wait_for_url(live.url + "/admin/notices")
    assert page.evaluate(FITS)
    details = page.get_by_role("link", name=re.compile("お知らせ「稲刈りの手伝い」の詳細"))
    assert details.is_visible()
    details.click()
    page.wait_for_url(re.compile(rf"/admin/notices/{notice_id}$"))
    page.get_by_role("checkbox", name=re.compile("取り下げてよい")).check()
    page.get_by_role("button", name=re.compile("^取り下げる")).click()
    page.wait_for_url(re.compile(r"\?done=withdrawn$"))
    assert page.evaluate(FITS)
    assert page.evaluate(UNNAMED) == []
    context.close()
    with staff(live) as api:
        assert api.get(f"/admin/api/notices/{notice_id}").json()["state"] == "withdrawn"
