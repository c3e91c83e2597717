"""Who reads the statistics, and what a bad request gets — on SQLite and PostgreSQL.

A municipality's statistics are its staff's: every role of its own tokens reads them (admin,
staff, auditor), a token of another municipality reads that municipality's instead, and no
parameter asks for someone else's.  Periods are bounded and refused with problem+json in
Japanese and English.  The month of a registration is the month in Japan.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert as sql_insert

from issuer.auth import revoke_token
from issuer.db import IssuedCredential
from tests.issuer.conftest import World
from tests.stats.conftest import LG, OTHER, signing_key_id
from tests.stats.dataset import NOW, Generated, generate, insert, last_months

MONTHS = last_months(NOW)


@pytest.fixture
def year(world: World) -> Generated:
    data = generate(LG, signing_key_id(world, LG), registrations=300, seed=3)
    data.extend(generate(OTHER, signing_key_id(world, OTHER), registrations=40, seed=4))
    insert(world.svc.db, data)
    world.svc.clock = lambda: NOW
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_of(body: dict[str, Any]) -> list[int]:
    values: list[int] = next(s["values"] for s in body["monthly"] if s["key"] == "newRegistrations")
    return values


def test_every_role_of_the_municipality_reads_its_statistics(
    world: World, client: TestClient, year: Generated
) -> None:
    for token in (world.admin_token, world.staff_token, world.auditor_token):
        answer = client.get("/admin/api/stats", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert answer.json()["lgCode"] == LG
        assert sum(new_of(answer.json())) == 300


def test_another_municipality_reads_only_its_own(
    world: World, client: TestClient, year: Generated
) -> None:
    mine = client.get("/admin/api/stats", headers=bearer(world.staff_token)).json()
    theirs = client.get("/admin/api/stats", headers=bearer(world.other_staff_token))
    assert theirs.status_code == 200
    body = theirs.json()
    assert body["lgCode"] == OTHER
    assert body["name"] == "札幌市"
    assert sum(new_of(body)) == 40
    assert body["registrations"] != mine["registrations"]
    # no parameter reaches another municipality: unknown ones change nothing
    again = client.get(
        "/admin/api/stats",
        params={"lgCode": LG, "lg_code": LG, "tenant": LG},
        headers=bearer(world.other_staff_token),
    ).json()
    assert again["lgCode"] == OTHER
    assert again["registrations"] == body["registrations"]
    csv_text = client.get(
        "/admin/api/stats.csv",
        params={"table": "monthly", "lgCode": LG},
        headers=bearer(world.other_staff_token),
    ).content.decode("utf-8-sig")
    assert sum(int(line.split(",")[1]) for line in csv_text.splitlines()[1:]) == 40


def test_the_console_page_shows_the_signed_in_municipality(
    world: World, client: TestClient, year: Generated
) -> None:
    signed_in = client.post(
        "/admin/login", data={"token": world.other_staff_token}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    page = client.get("/admin/stats")
    assert page.status_code == 200
    assert "札幌市 の統計" in page.text
    assert "厚真町" not in page.text
    new_cells = re.findall(
        r'data-series="newRegistrations" data-month="20[0-9-]+">([0-9,]+)<', page.text
    )
    assert sum(int(n.replace(",", "")) for n in new_cells) == 40
    download = client.get("/admin/stats.csv", params={"table": "registrations"})
    assert download.status_code == 200
    assert download.content.startswith(b"\xef\xbb\xbf")


def test_an_auditor_sees_the_page_without_the_premium_menu(
    world: World, client: TestClient, year: Generated
) -> None:
    client.post("/admin/login", data={"token": world.auditor_token}, follow_redirects=False)
    page = client.get("/admin/stats")
    assert page.status_code == 200
    assert 'href="/admin/premium"' not in page.text  # an auditor may not review applications
    assert 'href="/admin/stats" aria-current="page"' in page.text
    assert 'href="/admin/notices"' not in page.text
    # the console's own page leads an auditor to the statistics too
    console = client.get("/admin")
    assert console.status_code == 200
    assert 'href="/admin/stats"' in console.text
    assert 'href="/admin/premium"' not in console.text


def test_without_a_token(world: World, client: TestClient) -> None:
    answer = client.get("/admin/api/stats")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "unauthenticated"
    assert client.get("/admin/api/stats.csv").status_code == 401
    page = client.get("/admin/stats")
    assert page.status_code == 401
    assert 'data-code="unauthenticated"' in page.text
    assert "ログイン" in page.text
    assert "Sign in" in page.text
    assert client.get("/admin/stats.csv").status_code == 401


def test_a_revoked_token_reads_nothing(world: World, client: TestClient) -> None:
    token_id = world.staff_token.split("_")[2]
    with world.svc.db.transaction() as session:
        revoke_token(session, LG, token_id, now=datetime.now(UTC), actor="test")
    assert client.get("/admin/api/stats", headers=bearer(world.staff_token)).status_code == 401


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("from=2027-13", "from"),
        ("to=27-01", "to"),
        ("from=1999-12", "from"),
        ("from=2027-02&to=2026-12", "from"),
        ("from=2024-01&to=2027-03", "from"),  # 39 months
        ("to=2027-04", "to"),  # after the current month (NOW is in 2027-03)
        ("from=" + "9" * 50, "from"),
    ],
)
def test_periods_are_bounded(world: World, client: TestClient, query: str, path: str) -> None:
    world.svc.clock = lambda: NOW
    for url in ("/admin/api/stats", "/admin/api/stats.csv", "/stats/national"):
        answer = client.get(f"{url}?{query}", headers=bearer(world.auditor_token))
        assert answer.status_code == 400, (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["code"] == "malformed"
        assert body.get("path") == path, body
        english = client.get(
            f"{url}?{query}", headers={**bearer(world.auditor_token), "Accept-Language": "en"}
        ).json()
        assert english["detail"] != body["detail"]
        assert re.search(r"[ぁ-んァ-ン一-龥]", body["detail"]), body["detail"]


def test_a_period_of_36_months_is_the_most(world: World, client: TestClient) -> None:
    world.svc.clock = lambda: NOW
    answer = client.get(
        "/admin/api/stats?from=2024-04&to=2027-03", headers=bearer(world.auditor_token)
    )
    assert answer.status_code == 200
    assert len(answer.json()["period"]["months"]) == 36
    only_from = client.get("/admin/api/stats?from=2026-01", headers=bearer(world.auditor_token))
    assert only_from.json()["period"] == {
        "from": "2026-01",
        "to": "2026-12",
        "months": [f"2026-{m:02d}" for m in range(1, 13)],
    }


def test_an_unknown_table_is_refused(world: World, client: TestClient) -> None:
    for table in ("people", "monthly-people", "registrations; drop"):
        answer = client.get(
            "/admin/api/stats.csv", params={"table": table}, headers=bearer(world.auditor_token)
        )
        assert answer.status_code == 400, table
        assert answer.json()["path"] == "table"


def test_the_month_is_the_month_in_japan(world: World, client: TestClient) -> None:
    """2027-01-31 23:59:59 JST is January, one second later is February (UTC 14:59:59 and
    15:00:00 on the 31st) — on SQLite and PostgreSQL alike."""
    boundary = datetime(2027, 1, 31, 15, 0, tzinfo=UTC)
    key_id = signing_key_id(world, LG)
    rows = []
    for i, at in enumerate(
        [boundary - timedelta(seconds=1), boundary, boundary + timedelta(microseconds=1)]
    ):
        rows.append(
            {
                "lg_code": LG,
                "credential_id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                "holder_did": f"did:key:z6MkBoundary{i}",
                "tier": "basic",
                "state": "active",
                "source": "oid4vci",
                "key_id": key_id,
                "issued_at": at,
                "valid_from": at.replace(microsecond=0),
                "valid_until": at + timedelta(days=365),
                "format": "ldp_vc",
                "document": "{}",
            }
        )
    with world.svc.db.engine.begin() as connection:
        connection.execute(sql_insert(IssuedCredential), rows)
    world.svc.clock = lambda: NOW
    body = client.get(
        "/admin/api/stats?from=2027-01&to=2027-02", headers=bearer(world.auditor_token)
    ).json()
    assert new_of(body) == [1, 2]
