"""The municipality's feed over real HTTP: a compact JWS signed with the key of its DID
document, every tier's notices with their audience, newest first, paged, with ETag → 304;
scheduled, expired and withdrawn notices are not in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from issuer import audit
from issuer.db import AuditEvent
from issuer.notices import TYP
from tests.issuer.conftest import LiveServer
from tests.notices.conftest import (
    HTTP_TIMEOUT,
    LG,
    OTHER,
    call_body,
    clock_at,
    feed_claims,
    get_feed,
    jws_parts,
    key_of,
    notice_body,
    publish,
    staff,
)
from vc.dates import format_datetime


def ids(claims: dict[str, Any]) -> list[str]:
    return [n["id"] for n in claims["notices"]]


def test_the_feed_is_signed_by_the_municipalitys_key(live: LiveServer) -> None:
    notice = publish(live, notice_body(link="https://example.jp/bousai"))
    response = get_feed(live)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwt"
    header, claims = jws_parts(response.text)
    assert header["typ"] == TYP
    assert set(header) == {"alg", "typ", "kid"}
    assert header["kid"].startswith(live.world.tenant.did + "#")
    key = key_of(header["kid"])
    assert key.alg == header["alg"] == "EdDSA"
    signing_input, _, signature = response.text.rpartition(".")
    from did.multibase import base64url_decode

    key.verify(base64url_decode(signature), signing_input.encode("ascii"))  # raises if not
    assert claims["iss"] == live.world.tenant.did
    assert (claims["lgCode"], claims["name"], claims["prefecture"]) == (LG, "厚真町", "北海道")
    assert claims["url"] == f"{live.url}/lg/{LG}/notices?limit=20"
    assert "next" not in claims
    (item,) = claims["notices"]
    assert item == {
        "id": notice["id"],
        "topic": "防災",
        "title": {"ja": "防災のお知らせ", "en": "A notice (防災)"},
        "body": {"ja": "本文です。\n二行目です。", "en": "The text.\nSecond line."},
        "audience": "all",
        "publishedAt": notice["publishedAt"],
        "updatedAt": notice["updatedAt"],
        "link": "https://example.jp/bousai",
    }


def test_every_tier_is_in_the_feed_with_its_audience(live: LiveServer) -> None:
    for audience in ("all", "basic", "premium"):
        publish(live, notice_body(audience=audience))
    claims = feed_claims(live)
    assert sorted(n["audience"] for n in claims["notices"]) == ["all", "basic", "premium"]


def test_newest_first_and_paged_with_a_cursor(live: LiveServer) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    published = []
    for day in range(7):
        with clock_at(live.world, start + timedelta(days=day)):
            published.append(publish(live, notice_body(topic="イベント"))["id"])
    claims = feed_claims(live, limit=3)
    seen = ids(claims)
    pages = 1
    while "next" in claims:
        assert claims["next"].startswith(f"{live.url}/lg/{LG}/notices?limit=3&cursor=")
        response = httpx.get(claims["next"], timeout=HTTP_TIMEOUT)
        assert response.status_code == 200
        claims = jws_parts(response.text)[1]
        assert claims["url"] == str(response.url)
        seen += ids(claims)
        pages += 1
    assert seen == list(reversed(published))
    assert pages == 3


def test_etag_and_if_none_match(live: LiveServer) -> None:
    publish(live, notice_body())
    first = get_feed(live)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = httpx.get(
        f"{live.url}/lg/{LG}/notices", headers={"If-None-Match": etag}, timeout=HTTP_TIMEOUT
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = httpx.get(
        f"{live.url}/lg/{LG}/notices",
        headers={"If-None-Match": f'"other", {etag.removeprefix("W/")}'},
        timeout=HTTP_TIMEOUT,
    )
    assert listed.status_code == 304  # weak comparison, a list of tags
    publish(live, notice_body(topic="お知らせ"))
    changed = httpx.get(
        f"{live.url}/lg/{LG}/notices", headers={"If-None-Match": etag}, timeout=HTTP_TIMEOUT
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert get_feed(live, limit=5).headers["etag"] != changed.headers["etag"]  # per page


def test_scheduled_expired_and_withdrawn_notices_are_not_in_the_feed(live: LiveServer) -> None:
    now = datetime.now(UTC)
    shown = publish(live, notice_body())
    scheduled = publish(live, notice_body(publishedAt=format_datetime(now + timedelta(days=2))))
    with clock_at(live.world, now - timedelta(days=3)):
        expired = publish(live, notice_body(expiresAt=format_datetime(now - timedelta(days=1))))
    withdrawn = publish(live, notice_body())
    with staff(live) as api:
        assert api.post(f"/admin/api/notices/{withdrawn['id']}/withdraw").status_code == 200
        listed = api.get("/admin/api/notices").json()["notices"]
    assert ids(feed_claims(live)) == [shown["id"]]
    states = {n["id"]: n["state"] for n in listed}
    assert states == {
        shown["id"]: "published",
        scheduled["id"]: "scheduled",
        expired["id"]: "expired",
        withdrawn["id"]: "withdrawn",
    }
    with clock_at(live.world, now + timedelta(days=3)):
        assert scheduled["id"] in ids(feed_claims(live))


def test_a_call_shows_its_places_left_and_state(live: LiveServer) -> None:
    call = publish(live, call_body(places=4))
    (item,) = feed_claims(live)["notices"]
    assert item["call"] == {
        "places": 4,
        "placesLeft": 4,
        "deadline": call["call"]["deadline"],
        "state": "open",
    }
    with staff(live) as api:
        closed = api.post(f"/admin/api/notices/{call['id']}/close")
    assert closed.status_code == 200
    assert closed.json()["call"]["state"] == "closed"
    assert feed_claims(live)["notices"][0]["call"]["state"] == "closed"


def test_each_municipality_has_its_own_feed(live: LiveServer) -> None:
    mine = publish(live, notice_body())
    theirs = publish(live, notice_body(topic="移住"), OTHER)
    assert ids(feed_claims(live)) == [mine["id"]]
    other = feed_claims(live, OTHER)
    assert ids(other) == [theirs["id"]]
    assert other["iss"] == live.world.other.did
    assert other["lgCode"] == OTHER


def test_staff_changes_are_in_the_audit_chain(live: LiveServer) -> None:
    call = publish(live, call_body())
    with staff(live) as api:
        assert api.post(f"/admin/api/notices/{call['id']}/close").status_code == 200
        assert api.post(f"/admin/api/notices/{call['id']}/withdraw").status_code == 200
    with live.world.svc.db.read() as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.subject, AuditEvent.details).where(
                AuditEvent.lg_code == LG, AuditEvent.action.like("notice.%")
            )
        ).all()
        assert audit.verify_chain(session, LG).ok
    assert [(action, subject) for action, subject, _ in events] == [
        ("notice.create", call["id"]),
        ("notice.close", call["id"]),
        ("notice.withdraw", call["id"]),
    ]
    assert all('"topic":"募集"' in details for *_, details in events)
