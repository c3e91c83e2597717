"""The statistics of a municipality with a generated year (50,000 registrations over 12
months, with renewals, moves to premium, revocations, suspensions, expiries, activities and
premium applications), over real HTTP, on SQLite and on PostgreSQL: the admin API, the CSV
files, and the console page in headless Chromium at phone and desktop width.  Every number is
checked against the figures reckoned from the generated rows (tests/stats/dataset.py), never
against :mod:`issuer.stats`."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser_factory as browser_factory  # the fixture
from tests.stats.conftest import LG, OTHER, REGISTRATIONS, Population
from tests.stats.dataset import NOW, SERIES, STATES, TIERS, last_months

MONTHS = last_months(NOW)  # 2026-04 … 2027-03
SERIES_JA = {
    "newRegistrations": "新規登録",
    "renewals": "更新",
    "tierChanges": "区分の変更",
    "checkIns": "チェックイン",
    "documents": "書類で確認した活動",
    "handsRaised": "手を挙げた数",
}


def stats_of(population: Population, token: str, query: str = "") -> dict[str, Any]:
    with population.api(token) as http:
        answer = http.get(f"/admin/api/stats{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def test_the_generated_year_has_what_the_page_is_about(population: Population) -> None:
    """The dataset itself: every figure the page shows is there, and not trivially."""
    want = population.expected(LG, MONTHS)
    assert sum(want.monthly_list("newRegistrations", MONTHS)) == REGISTRATIONS
    for series in SERIES:
        assert all(n > 0 for n in want.monthly_list(series, MONTHS)[:-1]), series
    for tier in TIERS:
        for state in STATES:
            assert want.registrations[tier][state] > 0, (tier, state)
    assert all(n > 0 for n in want.applications.values())


def test_the_admin_api_gives_the_figures_of_the_generated_year(population: Population) -> None:
    want = population.expected(LG, MONTHS)
    body = stats_of(population, population.world.auditor_token)  # read-only role
    assert body["lgCode"] == LG
    assert body["name"] == "厚真町"
    assert body["period"] == {"from": MONTHS[0], "to": MONTHS[-1], "months": MONTHS}
    assert body["asOf"] == "2027-03-15T03:00:00Z"
    for tier in TIERS:
        assert body["registrations"][tier] == want.registrations[tier], tier
    assert body["registrations"]["total"] == {
        state: sum(want.registrations[tier][state] for tier in TIERS) for state in STATES
    }
    assert body["registrationsTotal"] == sum(
        sum(states.values()) for states in want.registrations.values()
    )
    values = {entry["key"]: entry["values"] for entry in body["monthly"]}
    assert set(values) == set(SERIES)
    for series in SERIES:
        assert values[series] == want.monthly_list(series, MONTHS), series
    assert body["premiumApplications"] == want.applications


def test_a_chosen_period(population: Population) -> None:
    months = ["2026-10", "2026-11", "2026-12", "2027-01"]
    want = population.expected(LG, months)
    body = stats_of(population, population.world.staff_token, "?from=2026-10&to=2027-01")
    assert body["period"]["months"] == months
    values = {entry["key"]: entry["values"] for entry in body["monthly"]}
    for series in SERIES:
        assert values[series] == want.monthly_list(series, months), series


def test_each_municipality_reads_its_own(population: Population) -> None:
    """The other municipality's staff token reads the other municipality's figures only."""
    want = population.expected(OTHER, MONTHS)
    body = stats_of(population, population.world.other_staff_token)
    assert body["lgCode"] == OTHER
    for tier in TIERS:
        assert body["registrations"][tier] == want.registrations[tier]
    values = {entry["key"]: entry["values"] for entry in body["monthly"]}
    assert values["newRegistrations"] == want.monthly_list("newRegistrations", MONTHS)
    assert sum(values["newRegistrations"]) == 1_500  # not 厚真町's 50,000


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "a BOM, for Excel"
    text = content.decode("utf-8")[1:]
    assert "\r\n" in text
    assert "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_files(population: Population) -> None:
    want = population.expected(LG, MONTHS)
    with population.api(population.world.admin_token) as http:
        monthly = http.get("/admin/api/stats.csv", params={"table": "monthly"})
        registrations = http.get("/admin/api/stats.csv", params={"table": "registrations"})
        applications = http.get("/admin/api/stats.csv", params={"table": "applications"})
    for answer in (monthly, registrations, applications):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"].startswith("attachment; filename=")
    rows = read_csv(monthly.content)
    assert rows[0] == ["年月 / Month"] + [
        f"{SERIES_JA[s]} / {name}"
        for s, name in zip(
            SERIES,
            (
                "New registrations",
                "Renewals",
                "Tier changes",
                "Check-ins",
                "Activities from reviewed documents",
                "Hands raised",
            ),
            strict=True,
        )
    ]
    assert [row[0] for row in rows[1:]] == MONTHS
    for column, series in enumerate(SERIES, start=1):
        assert [int(row[column]) for row in rows[1:]] == want.monthly_list(series, MONTHS)
    rows = read_csv(registrations.content)
    assert rows[0][:3] == ["区分コード / Tier code", "区分 / Tier", "有効 / Active"]
    by_tier = {row[0]: [int(v) for v in row[2:]] for row in rows[1:]}
    for tier in TIERS:
        counts = [want.registrations[tier][state] for state in STATES]
        assert by_tier[tier] == [*counts, sum(counts)]
    rows = read_csv(applications.content)
    assert {row[0]: int(row[2]) for row in rows[1:]} == want.applications


# --- the console page in a real browser -----------------------------------------------------------


@pytest.fixture
def browser(browser_factory: Any) -> Any:
    return browser_factory()


def number(value: int) -> str:
    return f"{value:,}"


@pytest.mark.parametrize("width", [375, 1280])
def test_the_statistics_page_in_a_browser(population: Population, browser: Any, width: int) -> None:
    want = population.expected(LG, MONTHS)
    context = browser.new_context(viewport={"width": width, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.goto(population.url + "/admin")
    page.get_by_label(re.compile("アクセストークン")).fill(population.world.staff_token)
    page.get_by_role("button", name=re.compile("ログイン")).click()
    page.wait_for_url(population.url + "/admin")
    page.get_by_role("link", name=re.compile("統計")).first.click()
    page.wait_for_url(population.url + "/admin/stats")
    assert page.get_by_role("link", name=re.compile("統計")).first.get_attribute(
        "aria-current"
    ) == ("page")
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits), f"the page scrolls sideways at {width} px"

    # the charts, each found by its accessible name, each with its description
    monthly = page.get_by_role(
        "img", name=re.compile(r"登録の動き \(月別\).*Registrations per month")
    )
    assert monthly.is_visible()
    assert monthly.locator("rect").count() == len(MONTHS) * 3
    described = page.locator("#" + str(monthly.get_attribute("aria-describedby")))
    total_new = sum(want.monthly_list("newRegistrations", MONTHS))
    assert f"新規登録 合計 {number(total_new)}" in described.text_content()
    assert monthly.bounding_box()["width"] <= width
    by_tier = page.get_by_role("img", name=re.compile(r"登録者数 \(区分・状態別\)"))
    assert by_tier.is_visible()
    basic = sum(want.registrations["basic"].values())
    assert (
        f"ベーシック {number(basic)}"
        in page.locator("#" + str(by_tier.get_attribute("aria-describedby"))).text_content()
    )
    assert page.get_by_role("img", name=re.compile(r"活動と参加 \(月別\)")).is_visible()
    assert page.get_by_role("img", name=re.compile(r"プレミアム申請 \(状態別\)")).is_visible()

    # the numbers, in the tables
    for month in MONTHS:
        for series in SERIES:
            cell = page.locator(f'td[data-series="{series}"][data-month="{month}"]')
            assert cell.inner_text() == number(want.monthly[series].get(month, 0)), (series, month)
    for tier in TIERS:
        for state in STATES:
            cell = page.locator(f'td[data-tier="{tier}"][data-state="{state}"]')
            assert cell.inner_text() == number(want.registrations[tier][state]), (tier, state)
    for state, count in want.applications.items():
        assert page.locator(f'td[data-application-state="{state}"]').inner_text() == number(count)

    # a CSV of a chart, as staff download it
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("登録者数の CSV")).click()
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert "ベーシック" in content.decode("utf-8")

    # another period, chosen in the form
    page.get_by_label(re.compile("最初の月")).fill("2026-10")
    page.get_by_label(re.compile("最後の月")).fill("2027-01")
    page.get_by_role("button", name=re.compile("表示")).click()
    page.wait_for_url(re.compile(r"/admin/stats\?from=2026-10&to=2027-01$"))
    chosen = ["2026-10", "2026-11", "2026-12", "2027-01"]
    cells = page.locator('td[data-series="newRegistrations"]:not([data-month="total"])')
    assert cells.all_inner_texts() == [
        number(want.monthly["newRegistrations"].get(month, 0)) for month in chosen
    ]
    assert page.evaluate(fits)
    context.close()
