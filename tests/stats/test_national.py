"""The national aggregate (``GET /stats/national``): k-anonymity.

Seven municipalities in four prefectures, from a town of 700 registrations down to a ward of 3
and a city of none, on SQLite and PostgreSQL.  Checked from the outside, with the figures
reckoned from the generated rows:

* no count below k is published — not in a municipality's cells, not in a total, not in a
  month; zeros neither;
* every total is the sum of the published cells under it, so a total minus published cells
  leaves nothing;
* the one identity the data has (a municipality's registrations by tier and state add up to
  its new registrations over all months) cannot narrow any suppressed cell: for each, every
  value from 0 to k-1 stays possible, with the months of the whole history published;
* k is the setting (``FURUSATO_STATS_K``).
"""

from __future__ import annotations

import csv
import io
import math
import secrets
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from issuer import stats
from issuer.app import create_app
from issuer.settings import Settings
from issuer.tenants import create_tenant
from tests.issuer.conftest import World, with_settings
from tests.stats.conftest import signing_key_id
from tests.stats.dataset import NOW, STATES, TIERS, Generated, generate, insert, jst_month

# lgCode: registrations in the 12 months up to NOW — all municipalities began the same month, as
# they will in January 2027, so the big town has no small month to hide its small cells behind
SIZES = {
    "015814": 1200,  # 北海道 厚真町
    "011002": 90,  # 北海道 札幌市
    "012025": 25,  # 北海道 函館市
    "202118": 160,  # 長野県 中野市
    "202011": 12,  # 長野県 長野市
    "131016": 3,  # 東京都 千代田区
    "472018": 0,  # 沖縄県 那覇市
}


def national_world(world: World) -> Generated:
    with world.svc.db.transaction() as session:
        for lg_code in SIZES:
            if lg_code in ("015814", "011002"):
                continue
            create_tenant(
                session,
                world.svc.ring,
                lg_code=lg_code,
                public_url=world.base_url,
                did_method="web",
                now=datetime.now(UTC),
                random_bytes=secrets.token_bytes,
            )
    data = Generated(NOW)
    for seed, (lg_code, recent) in enumerate(SIZES.items(), start=20):
        data.extend(
            generate(
                lg_code,
                signing_key_id(world, lg_code),
                registrations=recent,
                seed=seed,
                extra_applications=False,
            )
        )
    insert(world.svc.db, data)
    world.svc.clock = lambda: NOW
    return data


def truth(
    data: Generated,
) -> tuple[dict[str, dict[tuple[str, str], int]], dict[str, dict[str, int]]]:
    """Registrations by (tier, state) and new registrations per month, per municipality."""
    chains: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in data.credentials:
        if row["tier"] in TIERS:
            chains[(row["lg_code"], row["holder_did"])].append(row)
    cells: dict[str, dict[tuple[str, str], int]] = {
        lg: {(t, s): 0 for t in TIERS for s in STATES} for lg in SIZES
    }
    new: dict[str, dict[str, int]] = {lg: defaultdict(int) for lg in SIZES}
    for (lg_code, _), chain in chains.items():
        chain.sort(key=lambda row: (row["issued_at"], row["credential_id"]))
        last = chain[-1]
        state = (
            "revoked"
            if last["state"] == "revoked"
            else "expired"
            if last["valid_until"] <= NOW
            else last["state"]
        )
        cells[lg_code][(last["tier"], state)] += 1
        new[lg_code][jst_month(chain[0]["issued_at"])] += 1
    return cells, new


def all_months(data: Generated) -> list[str]:
    first = min(jst_month(row["issued_at"]) for row in data.credentials if row["tier"])
    months, year, month = [], int(first[:4]), int(first[5:])
    while f"{year:04d}-{month:02d}" <= jst_month(NOW):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def published_counts(body: dict[str, Any]) -> list[tuple[str, int | None]]:
    """Every published count of the body (not its metadata), with where it is."""
    found: list[tuple[str, int | None]] = []
    groups = [("national", body["national"])]
    groups += [(p["prefectureCode"], p) for p in body["prefectures"]]
    groups += [(m["lgCode"], m) for m in body["municipalities"]]
    for where, group in groups:
        for tier in TIERS:
            for state in STATES:
                found.append((f"{where} {tier} {state}", group["registrations"][tier][state]))
        found.append((f"{where} total", group["registrationsTotal"]))
        for month, value in zip(body["period"]["months"], group["newPerMonth"], strict=True):
            found.append((f"{where} {month}", value))
    return found


@pytest.fixture
def national(world: World) -> Generated:
    return national_world(world)


def fetch(world: World, query: str = "") -> dict[str, Any]:
    with TestClient(create_app(world.svc), base_url="http://localhost:8000") as client:
        answer = client.get(f"/stats/national{query}")  # public: no token
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "public, max-age=600"
    body: dict[str, Any] = answer.json()
    return body


def test_counts_below_k_never_appear(world: World, national: Generated) -> None:
    months = all_months(national)
    body = fetch(world, f"?from={months[0]}&to={months[-1]}")
    assert body["k"] == 10
    counts = published_counts(body)
    assert len(counts) > 200
    small = [(where, value) for where, value in counts if value is not None and value < 10]
    assert small == []
    # and suppression did happen, where the truth is small
    cells, new = truth(national)
    by_code = {m["lgCode"]: m for m in body["municipalities"]}
    assert cells["131016"][("basic", "active")] == 3
    assert by_code["131016"]["registrations"]["basic"]["active"] is None
    assert by_code["472018"]["registrationsTotal"] is None  # none at all: not 0
    assert all(v is None for v in by_code["472018"]["newPerMonth"])
    big = by_code["015814"]
    assert big["registrations"]["basic"]["active"] == cells["015814"][("basic", "active")]
    assert [v for v in big["newPerMonth"] if v is not None] == [
        new["015814"][m] for m, v in zip(months, big["newPerMonth"], strict=True) if v is not None
    ]


def test_totals_are_sums_of_published_cells_only(world: World, national: Generated) -> None:
    """A total minus the published cells under it is 0: nothing suppressed is in a total."""
    body = fetch(world)
    months = body["period"]["months"]

    def add(values: list[int | None]) -> int | None:
        published = [v for v in values if v is not None]
        return sum(published) if published else None

    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for municipality in body["municipalities"]:
        members[municipality["prefectureCode"]].append(municipality)
    for group, parts in [(p, members[p["prefectureCode"]]) for p in body["prefectures"]] + [
        (body["national"], body["prefectures"])
    ]:
        for tier in TIERS:
            for state in STATES:
                assert group["registrations"][tier][state] == add(
                    [part["registrations"][tier][state] for part in parts]
                )
        for i, _ in enumerate(months):
            assert group["newPerMonth"][i] == add([part["newPerMonth"][i] for part in parts])
    for group in [*body["municipalities"], *body["prefectures"], body["national"]]:
        assert group["registrationsTotal"] == add(
            [group["registrations"][t][s] for t in TIERS for s in STATES]
        )
    # the cells left out are counted beside each total
    hokkaido = next(p for p in body["prefectures"] if p["prefectureCode"] == "010006")
    assert hokkaido["suppressedRegistrationCells"] == sum(
        1
        for m in members["010006"]
        for t in TIERS
        for s in STATES
        if m["registrations"][t][s] is None
    )


def feasible(
    unknowns: list[tuple[int, float, float]], difference: int
) -> list[tuple[float, float]]:
    """For ``sum(sign * v) = difference`` over unknowns ``(sign, low, high)``: the range each
    unknown can take (interval arithmetic over the others)."""
    ranges = []
    for i, (sign, _low, _high) in enumerate(unknowns):
        rest_min = sum(
            s * (lo if s > 0 else hi) for j, (s, lo, hi) in enumerate(unknowns) if j != i
        )
        rest_max = sum(
            s * (hi if s > 0 else lo) for j, (s, lo, hi) in enumerate(unknowns) if j != i
        )
        # sign * v = difference - rest
        low, high = sorted(((difference - rest_max) * sign, (difference - rest_min) * sign))
        own_low, own_high = unknowns[i][1], unknowns[i][2]
        ranges.append((max(low, own_low), min(high, own_high)))
    return ranges


def test_no_suppressed_cell_can_be_recovered_by_subtraction(
    world: World, national: Generated
) -> None:
    """With every month of the history published, each municipality's registrations (by tier
    and state) and its new registrations (by month) both add up to its total.  The attacker
    knows the published cells, that a cell below k is in [0, k-1] and that a cell hidden to
    protect another is at least k; for each cell below k, every value in [0, k-1] stays
    possible."""
    k = 10
    months = all_months(national)
    body = fetch(world, f"?from={months[0]}&to={months[-1]}")
    assert body["period"]["months"] == months
    cells, new = truth(national)
    complementary = 0
    for municipality in body["municipalities"]:
        lg_code = municipality["lgCode"]
        unknowns: list[tuple[int, float, float]] = []
        below_k: list[int] = []
        # sum(hidden cells) - sum(hidden months) = published months - published cells
        difference = 0
        for tier in TIERS:
            for state in STATES:
                value = municipality["registrations"][tier][state]
                true = cells[lg_code][(tier, state)]
                if value is None:
                    if true < k:
                        below_k.append(len(unknowns))
                    else:
                        complementary += 1
                    unknowns.append((1, 0.0, k - 1.0) if true < k else (1, float(k), math.inf))
                else:
                    assert value == true
                    difference -= value
        for month, value in zip(months, municipality["newPerMonth"], strict=True):
            true = new[lg_code].get(month, 0)
            if value is None:
                if municipality["monthlyWithheld"]:
                    continue  # withheld months are not cells the attacker can bound
                assert true < k
                below_k.append(len(unknowns))
                unknowns.append((-1, 0.0, k - 1.0))
            else:
                assert value == true
                difference += value
        if municipality["monthlyWithheld"]:
            continue  # no published side: no equation
        ranges = feasible(unknowns, difference)
        for i in below_k:
            assert ranges[i] == (0.0, k - 1.0), (lg_code, i, ranges[i])
    assert complementary > 0  # the rule had work to do here


def test_k_is_the_setting(world: World, national: Generated) -> None:
    cells, _ = truth(national)
    with_settings(world, stats_k=3)
    body = fetch(world)
    assert body["k"] == 3
    assert all(v is None or v >= 3 for _, v in published_counts(body))
    chiyoda = next(m for m in body["municipalities"] if m["lgCode"] == "131016")
    assert cells["131016"][("basic", "active")] == 3
    assert chiyoda["registrations"]["basic"]["active"] == 3  # published with k = 3
    with_settings(world, stats_k=50)
    body = fetch(world)
    assert body["k"] == 50
    values = [v for _, v in published_counts(body) if v is not None]
    assert values
    assert min(values) >= 50


def test_the_national_csv(world: World, national: Generated) -> None:
    with TestClient(create_app(world.svc), base_url="http://localhost:8000") as client:
        registrations = client.get("/stats/national.csv")
        monthly = client.get("/stats/national.csv", params={"table": "monthly"})
        bad = client.get("/stats/national.csv", params={"table": "people"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    for answer in (registrations, monthly):
        assert answer.status_code == 200
        assert answer.content.startswith(b"\xef\xbb\xbf")
        assert answer.headers["cache-control"] == "public, max-age=600"
    rows = list(csv.reader(io.StringIO(registrations.content.decode("utf-8-sig"), newline="")))
    assert rows[0][:4] == [
        "区分 / Level",
        "団体コード / Code",
        "都道府県 / Prefecture",
        "名称 / Name",
    ]
    assert rows[1][0] == "全国"
    chiyoda = next(row for row in rows if row[1] == "131016")
    assert chiyoda[3] == "千代田区"
    assert chiyoda[4] == "<10"  # basic active: 3, shown as "<10", not 3 and not 0
    for row in rows[1:]:
        for value in row[4:]:
            assert value == "<10" or int(value) >= 10
    rows = list(csv.reader(io.StringIO(monthly.content.decode("utf-8-sig"), newline="")))
    assert rows[0][4].startswith("新規登録 ")
    assert len(rows[0]) == 4 + 12


def test_the_settings_read_FURUSATO_STATS_K(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FURUSATO_STATS_K", raising=False)
    assert Settings.from_env().stats_k == 10
    monkeypatch.setenv("FURUSATO_STATS_K", "25")
    assert Settings.from_env().stats_k == 25
    for bad in ("1", "0", "-3", "1001", "ten", "2.5"):
        monkeypatch.setenv("FURUSATO_STATS_K", bad)
        with pytest.raises(ValueError, match="整数です") as refused:
            Settings.from_env()
        assert "whole number" in str(refused.value)


# --- the suppression rule, case by case ------------------------------------------------------------

TOWN = stats.Municipality("015814", "厚真町", "北海道", "010006")


def cells_of(**values: int) -> dict[tuple[str, str], int]:
    out = dict.fromkeys(stats.CELLS, 0)
    for name, value in values.items():
        tier, state = name.split("_")
        out[(tier, state)] = value
    return out


def test_a_city_whose_months_are_all_published() -> None:
    """Every month is published, so the city's total is known; its three small premium cells
    would be known to add up to 7.  The smallest published cell is hidden beside them."""
    registrations = cells_of(
        basic_active=400,
        basic_suspended=30,
        basic_expired=50,
        basic_revoked=20,
        premium_active=60,
        premium_suspended=5,
        premium_expired=2,
    )
    months = ["2027-01", "2027-02"]
    new = {"2027-01": 300, "2027-02": 267}
    assert sum(new.values()) == sum(registrations.values())
    published = stats.suppress_municipality(TOWN, registrations, new, months, 10)
    hidden = [cell for cell, value in published.registrations.items() if value is None]
    assert hidden == [
        ("basic", "revoked"),
        ("premium", "suspended"),
        ("premium", "expired"),
        ("premium", "revoked"),
    ]
    assert published.new == new
    assert not published.monthly_withheld


def test_nothing_small_nothing_hidden() -> None:
    registrations = {cell: 100 + i for i, cell in enumerate(stats.CELLS)}
    months = ["2027-01"]
    new = {"2027-01": sum(registrations.values())}
    published = stats.suppress_municipality(TOWN, registrations, new, months, 10)
    assert published.registrations == registrations
    assert published.new == new


def test_a_small_month_is_protected_too() -> None:
    """Every cell published, one month of 4: the total would give the month away."""
    registrations = {cell: 100 for cell in stats.CELLS}
    months = ["2027-01", "2027-02", "2027-03"]
    new = {"2027-01": 396, "2027-02": 400, "2027-03": 4}
    published = stats.suppress_municipality(TOWN, registrations, new, months, 10)
    assert published.new["2027-03"] is None
    assert sum(v is None for v in published.registrations.values()) == 1  # one hidden beside it


def test_when_nothing_else_protects_the_months_are_withheld() -> None:
    """One month, one cell of 12, the other cells 0: whatever is hidden, the zeros would show
    through the month's 12 — so the monthly series is withheld."""
    registrations = cells_of(basic_active=12)
    published = stats.suppress_municipality(TOWN, registrations, {"2027-03": 12}, ["2027-03"], 10)
    assert published.monthly_withheld
    assert published.new == {"2027-03": None}
    assert published.registrations[("basic", "active")] == 12


def test_a_municipality_with_no_registrations() -> None:
    published = stats.suppress_municipality(TOWN, {}, {}, ["2027-02", "2027-03"], 10)
    assert set(published.registrations.values()) == {None}
    assert set(published.new.values()) == {None}
