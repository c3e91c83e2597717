"""手を挙げる over real HTTP: a registrant answers a call with a presentation of its
registration; staff see the answers; a full, closed or past-deadline call refuses with a
clear problem+json; withdrawing frees the place; only a valid registration of this
municipality, of a tier the call is for, may answer — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from issuer.db import NoticeResponse
from tests.issuer.conftest import LiveServer
from tests.notices.conftest import (
    HTTP_TIMEOUT,
    LG,
    OTHER,
    Registrant,
    answer,
    assert_problem,
    call_body,
    clock_at,
    feed_claims,
    notice_body,
    premium_registrant,
    publish,
    staff,
    withdraw,
)
from vc.dates import format_datetime


def responses(live: LiveServer, notice_id: str) -> dict[str, Any]:
    with staff(live) as api:
        listed = api.get(f"/admin/api/notices/{notice_id}/responses")
    assert listed.status_code == 200, listed.text
    body: dict[str, Any] = listed.json()
    return body


def active_rows(live: LiveServer, notice_id: str) -> int:
    with live.world.svc.db.read() as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(NoticeResponse)
                .where(
                    NoticeResponse.tenant_id == LG,
                    NoticeResponse.notice_id == notice_id,
                    NoticeResponse.withdrawn_at.is_(None),
                )
            ).scalar_one()
        )


def test_raise_a_hand_staff_see_it_the_call_fills_the_next_is_refused(live: LiveServer) -> None:
    call = publish(live, call_body(places=2))
    first, second, third = (Registrant.register(live.url, LG) for _ in range(3))

    done = answer(first, call["id"], "田中です。090-0000-0000 に連絡ください")
    assert done.status_code == 201, done.text
    assert done.headers["cache-control"] == "no-store"
    assert done.json()["placesLeft"] == 1
    assert done.json()["noticeId"] == call["id"]

    seen = responses(live, call["id"])
    assert seen["active"] == 1
    (row,) = seen["responses"]
    assert row["message"] == "田中です。090-0000-0000 に連絡ください"
    assert row["tier"] == "basic"
    assert row["credentialId"] == first.credential["id"]
    assert row["state"] == "active"
    assert first.did not in str(seen)  # staff get the answer, not the registration key

    assert answer(second, call["id"]).status_code == 201  # no message: none needed
    full = answer(third, call["id"], "私も")
    body = assert_problem(full, 409, "call_full")
    assert "定員" in body["messages"]["ja"]
    assert "full" in body["messages"]["en"]
    english = httpx.post(
        f"{third.issuer_url}/notices/{call['id']}/responses",
        json={"presentation": third.presentation()},
        headers={"Accept-Language": "en"},
        timeout=HTTP_TIMEOUT,
    )
    assert assert_problem(english, 409, "call_full")["detail"].startswith("this call is full")
    item = feed_claims(live)["notices"][0]
    assert item["call"]["placesLeft"] == 0
    assert item["call"]["state"] == "full"
    with staff(live) as api:
        assert api.get(f"/admin/api/notices/{call['id']}").json()["call"]["answers"] == 2

    # withdrawing frees a place, which the third then takes
    freed = withdraw(first, call["id"])
    assert freed.status_code == 200, freed.text
    assert freed.json()["placesLeft"] == 1
    assert answer(third, call["id"]).status_code == 201
    seen = responses(live, call["id"])
    assert seen["active"] == 2
    assert [r["state"] for r in seen["responses"]] == ["withdrawn", "active", "active"]
    assert seen["responses"][0]["withdrawnAt"] is not None
    again = withdraw(first, call["id"])
    assert_problem(again, 404, "no_answer")


def test_the_same_registration_answers_once(live: LiveServer) -> None:
    call = publish(live, call_body(places=5))
    resident = Registrant.register(live.url, LG)
    assert answer(resident, call["id"]).status_code == 201
    twice = answer(resident, call["id"], "もう一度")
    assert_problem(twice, 409, "already_answered")
    assert active_rows(live, call["id"]) == 1
    assert withdraw(resident, call["id"]).status_code == 200
    assert answer(resident, call["id"], "やはり参加します").status_code == 201  # after withdrawing
    assert active_rows(live, call["id"]) == 1
    assert len(responses(live, call["id"])["responses"]) == 2


def test_a_call_past_its_deadline_or_closed_refuses(live: LiveServer) -> None:
    now = datetime.now(UTC)
    with clock_at(live.world, now - timedelta(hours=3)):
        late = publish(
            live,
            notice_body(
                "募集", call={"places": 3, "deadline": format_datetime(now - timedelta(hours=1))}
            ),
        )
    resident = Registrant.register(live.url, LG)
    assert_problem(answer(resident, late["id"]), 409, "call_deadline_passed")
    assert feed_claims(live)["notices"][0]["call"]["state"] == "closed"

    closed = publish(live, call_body())
    with staff(live) as api:
        assert api.post(f"/admin/api/notices/{closed['id']}/close").status_code == 200
        assert api.post(f"/admin/api/notices/{closed['id']}/close").status_code == 200  # again
    body = assert_problem(answer(resident, closed["id"]), 409, "call_closed")
    assert body["messages"]["ja"] == "この募集は締め切られました"

    withdrawn = publish(live, call_body())
    with staff(live) as api:
        assert api.post(f"/admin/api/notices/{withdrawn['id']}/withdraw").status_code == 200
    assert_problem(answer(resident, withdrawn["id"]), 409, "notice_withdrawn")

    plain = publish(live, notice_body())
    assert_problem(answer(resident, plain["id"]), 409, "not_a_call")
    assert_problem(answer(resident, "0123456789abcdef"), 404, "notice_not_found")
    assert active_rows(live, late["id"]) == 0


def test_only_a_valid_registration_of_this_municipality_and_tier(live: LiveServer) -> None:
    world = live.world
    call = publish(live, call_body(places=10))
    elsewhere = Registrant.register(live.url, OTHER)
    # a registration of 札幌市 presented to 厚真町 (over 厚真町's nonce and domain)
    foreign = httpx.post(
        f"{live.url}/lg/{LG}/notices/{call['id']}/responses",
        json={"presentation": _presentation_for(elsewhere, LG)},
        timeout=HTTP_TIMEOUT,
    )
    assert_problem(foreign, 403, "credential_request_denied")

    revoked = Registrant.register(live.url, LG)
    with staff(live) as api:
        done = api.post(f"/admin/api/credentials/{revoked.credential['id']}/revoke", json={})
        assert done.status_code == 200, done.text
    body = assert_problem(answer(revoked, call["id"]), 400, "invalid_proof")
    assert "失効" in body["messages"]["ja"]
    assert "revoked" in body["messages"]["en"]

    suspended = Registrant.register(live.url, LG)
    with staff(live) as api:
        api.post(f"/admin/api/credentials/{suspended.credential['id']}/suspend", json={})
    assert_problem(answer(suspended, call["id"]), 400, "invalid_proof")

    # premium only: a basic registration is refused, a premium one answers
    premium_call = publish(live, call_body(audience="premium"))
    basic = Registrant.register(live.url, LG)
    body = assert_problem(answer(basic, premium_call["id"]), 403, "audience_not_admitted")
    assert "プレミアム登録の方" in body["messages"]["ja"]
    premium = premium_registrant(world, live.url)
    assert answer(premium, premium_call["id"]).status_code == 201
    assert responses(live, premium_call["id"])["responses"][0]["tier"] == "premium"
    basic_call = publish(live, call_body(audience="basic"))
    assert_problem(answer(premium, basic_call["id"]), 403, "audience_not_admitted")
    assert answer(basic, basic_call["id"]).status_code == 201
    assert active_rows(live, call["id"]) == 0


def _presentation_for(resident: Registrant, lg_code: str) -> dict[str, Any]:
    """``resident``'s registration presented to another municipality's issuer."""
    from did.key import did_key_verification_method_id
    from vc.presentation import create_presentation, sign_presentation

    issuer_url = f"{resident.base_url}/lg/{lg_code}"
    nonce = httpx.post(f"{issuer_url}/nonce", timeout=HTTP_TIMEOUT).json()["c_nonce"]
    return sign_presentation(
        create_presentation([resident.credential], holder=resident.did),
        resident.holder,
        verification_method=did_key_verification_method_id(resident.holder.public_key),
        challenge=nonce,
        domain=issuer_url,
        created=datetime.now(UTC),
    )


def test_a_message_is_bounded_and_checked_before_the_nonce_is_used(live: LiveServer) -> None:
    call = publish(live, call_body())
    resident = Registrant.register(live.url, LG)
    presentation = resident.presentation()
    for message in ("x" * 501, "制御\x07文字", "\u202eevil", 5):
        refused = httpx.post(
            f"{resident.issuer_url}/notices/{call['id']}/responses",
            json={"presentation": presentation, "message": message},
            timeout=HTTP_TIMEOUT,
        )
        assert_problem(refused, 400)
    # the same presentation (its c_nonce unused) still answers
    done = httpx.post(
        f"{resident.issuer_url}/notices/{call['id']}/responses",
        json={"presentation": presentation, "message": "  よろしくお願いします\r\n  "},
        timeout=HTTP_TIMEOUT,
    )
    assert done.status_code == 201, done.text
    assert responses(live, call["id"])["responses"][0]["message"] == "よろしくお願いします"


def test_concurrent_answers_never_overfill_a_call(live: LiveServer) -> None:
    places, people = 3, 8
    call = publish(live, call_body(places=places))
    residents = [Registrant.register(live.url, LG) for _ in range(people)]
    bodies = [{"presentation": r.presentation()} for r in residents]
    url = f"{live.url}/lg/{LG}/notices/{call['id']}/responses"
    start = threading.Barrier(people)
    results: list[int] = []
    lock = threading.Lock()

    def send(body: dict[str, Any]) -> None:
        start.wait()
        status = httpx.post(url, json=body, timeout=60).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * places + [409] * (people - places)
    assert active_rows(live, call["id"]) == places
    assert feed_claims(live)["notices"][0]["call"]["placesLeft"] == 0
