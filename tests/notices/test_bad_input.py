"""Bad input to every endpoint of notices gives a 4xx problem+json with the reason in both
languages — over real HTTP, on SQLite and PostgreSQL; and the admin API's edits keep a call's
answers consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.issuer.conftest import LiveServer
from tests.notices.conftest import (
    HTTP_TIMEOUT,
    LG,
    Registrant,
    answer,
    assert_problem,
    bearer,
    call_body,
    notice_body,
    publish,
    staff,
)
from vc.dates import format_datetime

NOW = datetime.now(UTC)
SOON = format_datetime(NOW + timedelta(days=2))
PAST = format_datetime(NOW - timedelta(days=2))
FAR = format_datetime(NOW + timedelta(days=800))

FEED_CASES: list[tuple[str, dict[str, Any], int]] = [
    (f"/lg/{LG}/notices", {"limit": 0}, 400),
    (f"/lg/{LG}/notices", {"limit": 51}, 400),
    (f"/lg/{LG}/notices", {"limit": "many"}, 400),
    (f"/lg/{LG}/notices", {"cursor": "garbage"}, 400),
    (f"/lg/{LG}/notices", {"cursor": "1.zzzzzzzzzzzzzzzz"}, 400),
    (f"/lg/{LG}/notices", {"cursor": "1" * 18 + ".0123456789abcdef"}, 400),
    (f"/lg/{LG}/notices", {"cursor": "x1.0123456789abcdef"}, 400),
    ("/lg/999999/notices", {}, 404),
    ("/lg/12/notices", {}, 400),
]


def test_bad_feed_requests(live: LiveServer) -> None:
    for path, params, status in FEED_CASES:
        response = httpx.get(live.url + path, params=params, timeout=HTTP_TIMEOUT)
        assert response.status_code == status, (path, params, response.text)
        assert_problem(response, status)


ANSWER_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("responses", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}, 415, None),
    (
        "responses",
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        400,
        None,
    ),
    ("responses", {"json": []}, 400, "malformed"),
    ("responses", {"json": {}}, 400, "malformed"),
    ("responses", {"json": {"presentation": {}, "name": "山田"}}, 400, "malformed"),
    ("responses", {"json": {"presentation": "vp"}}, 400, "invalid_request"),
    ("responses", {"json": {"presentation": {"proof": {}}}}, 400, "invalid_nonce"),
    ("responses", {"json": {"presentation": {}, "message": "x" * 501}}, 400, "notice_invalid"),
    ("responses", {"json": {"presentation": {}, "message": ["a"]}}, 400, "notice_invalid"),
    (
        "responses",
        {"content": b"{" + b" " * 70_000 + b"}", "headers": {"Content-Type": "application/json"}},
        413,
        None,
    ),
    ("responses/withdraw", {"json": {"presentation": {}, "message": "x"}}, 400, "malformed"),
    ("responses/withdraw", {"json": {"message": "x"}}, 400, "malformed"),
    (
        "responses/withdraw",
        {"json": {"presentation": {"proof": {"challenge": "old"}}}},
        400,
        "invalid_nonce",
    ),
]


def test_bad_answers(live: LiveServer) -> None:
    call = publish(live, call_body())
    for suffix, request_kw, status, code in ANSWER_CASES:
        response = httpx.post(
            f"{live.url}/lg/{LG}/notices/{call['id']}/{suffix}", timeout=HTTP_TIMEOUT, **request_kw
        )
        assert_problem(response, status, code)
    with staff(live) as api:
        assert api.get(f"/admin/api/notices/{call['id']}/responses").json()["responses"] == []


def test_bad_notice_ids_in_paths(live: LiveServer) -> None:
    for path in ("/lg/015814/notices/XYZ/responses", "/lg/015814/notices/0123/responses/withdraw"):
        assert_problem(httpx.post(live.url + path, json={"presentation": {}}), 400)
    with staff(live) as api:
        for path in ("/admin/api/notices/XYZ", "/admin/api/notices/0123456789ABCDEF/responses"):
            assert_problem(api.get(path), 400)
        for method, suffix in (
            ("GET", ""),
            ("PATCH", ""),
            ("POST", "/close"),
            ("POST", "/withdraw"),
            ("GET", "/responses"),
        ):
            body = {"title": {"ja": "x"}} if method == "PATCH" else None
            assert_problem(api.request(method, f"/admin/api/notices/zz{suffix}", json=body), 400)
            missing = api.request(method, f"/admin/api/notices/0123456789abcdef{suffix}", json=body)
            assert_problem(missing, 404, "notice_not_found")
    missing = httpx.post(
        f"{live.url}/lg/{LG}/notices/0123456789abcdef/responses/withdraw",
        json={"presentation": {}},
        timeout=HTTP_TIMEOUT,
    )
    assert_problem(missing, 400, "invalid_nonce")  # the presentation is checked first


CREATE_CASES: list[tuple[Any, str | None]] = [
    ({}, "notice_invalid"),
    ([], "malformed"),
    ({**notice_body(), "author": "x"}, "malformed"),
    (notice_body(topic="天気"), "notice_invalid"),
    ({**notice_body(), "topic": 7}, "malformed"),
    ({**notice_body(), "title": "件名"}, "malformed"),
    ({**notice_body(), "title": {"ja": "件名", "fr": "titre"}}, "malformed"),
    ({**notice_body(), "title": {"ja": "あ" * 121}}, "notice_invalid"),
    ({**notice_body(), "title": {"ja": "一行目\n二行目"}}, "notice_invalid"),
    ({**notice_body(), "title": {"ja": "\u202e逆向き"}}, "notice_invalid"),
    ({**notice_body(), "body": {"ja": "   "}}, "notice_invalid"),
    ({**notice_body(), "body": {"ja": "あ" * 4001}}, "notice_invalid"),
    ({**notice_body(), "body": {"ja": "ベル\x07"}}, "notice_invalid"),
    ({**notice_body(), "body": {"ja": "本文", "en": 5}}, "malformed"),
    (notice_body(link="http://example.jp/"), "notice_invalid"),
    (notice_body(link="https://user:pass@example.jp/"), "notice_invalid"),
    (notice_body(link="https://localhost/"), "notice_invalid"),
    (notice_body(link="https://127.0.0.1/"), "notice_invalid"),
    (notice_body(link="javascript:alert(1)"), "notice_invalid"),
    (notice_body(link="https://example.jp/a b"), "notice_invalid"),
    (notice_body(link="https://例え.jp/"), "notice_invalid"),
    (notice_body(link="https://example.jp:99999/"), "notice_invalid"),
    (notice_body(link="https://" + "a" * 2050 + ".jp/"), "notice_invalid"),
    (notice_body(link=["https://example.jp/"]), "malformed"),
    (notice_body(audience="everyone"), "notice_invalid"),
    (notice_body(publishedAt="tomorrow"), "malformed"),
    (notice_body(publishedAt="2027-03-01T09:00:00"), "malformed"),
    (notice_body(publishedAt=FAR), "notice_invalid"),
    (notice_body(expiresAt=PAST), "notice_invalid"),
    (
        notice_body(publishedAt=SOON, expiresAt=format_datetime(NOW + timedelta(days=1))),
        "notice_invalid",
    ),
    (notice_body(expiresAt=format_datetime(NOW + timedelta(days=6 * 366))), "notice_invalid"),
    (notice_body("募集"), "notice_invalid"),
    (notice_body("募集", call={"places": 0, "deadline": SOON}), "notice_invalid"),
    (notice_body("募集", call={"places": 10_001, "deadline": SOON}), "notice_invalid"),
    (notice_body("募集", call={"places": "3", "deadline": SOON}), "malformed"),
    (notice_body("募集", call={"places": True, "deadline": SOON}), "malformed"),
    (notice_body("募集", call={"places": 3, "deadline": PAST}), "notice_invalid"),
    (notice_body("募集", call={"places": 3, "deadline": FAR}), "notice_invalid"),
    (notice_body("募集", call={"places": 3}), "notice_invalid"),
    (notice_body("募集", call={"places": 3, "deadline": SOON, "x": 1}), "malformed"),
    (notice_body("募集", call=[3]), "malformed"),
    (
        notice_body(
            "募集",
            call={"places": 3, "deadline": SOON},
            expiresAt=format_datetime(NOW + timedelta(days=1)),
        ),
        "notice_invalid",
    ),
    (notice_body("防災", call={"places": 3, "deadline": SOON}), "notice_invalid"),
]


def test_bad_notices_are_refused(live: LiveServer) -> None:
    with staff(live) as api:
        for body, code in CREATE_CASES:
            refused = api.post("/admin/api/notices", json=body)
            assert refused.status_code == 400, (body, refused.text)
            assert_problem(refused, 400, code)
        assert api.get("/admin/api/notices").json()["notices"] == []


def test_bad_admin_requests(live: LiveServer) -> None:
    plain = publish(live, notice_body())
    with staff(live) as api:
        assert_problem(api.get("/admin/api/notices", params={"limit": 0}), 400)
        assert_problem(api.get("/admin/api/notices", params={"cursor": "z"}), 400)
        assert_problem(api.post(f"/admin/api/notices/{plain['id']}/close"), 409, "not_a_call")
        assert_problem(
            api.patch(f"/admin/api/notices/{plain['id']}", json={"link": "ftp://x.jp"}),
            400,
            "notice_invalid",
        )
        as_json = {"Content-Type": "application/json"}
        as_form = {"Content-Type": "application/x-www-form-urlencoded"}
        path = f"/admin/api/notices/{plain['id']}"
        assert_problem(api.patch(path, content=b"[]", headers=as_json), 400)
        assert_problem(api.post("/admin/api/notices", content=b"topic=x", headers=as_form), 415)
        assert api.post(f"/admin/api/notices/{plain['id']}/withdraw").status_code == 200
        assert_problem(
            api.patch(f"/admin/api/notices/{plain['id']}", json={"title": {"ja": "新"}}),
            409,
            "notice_withdrawn",
        )
        assert_problem(api.post(f"/admin/api/notices/{plain['id']}/close"), 409)
        assert api.post(f"/admin/api/notices/{plain['id']}/withdraw").status_code == 200
    with httpx.Client(
        base_url=live.url, headers=bearer("fvc_015814_nothere1_" + "x" * 40), timeout=HTTP_TIMEOUT
    ) as forged:
        assert_problem(forged.get("/admin/api/notices"), 401)


def test_edits_keep_a_calls_answers_consistent(live: LiveServer) -> None:
    call = publish(live, call_body(places=3))
    for _ in range(2):
        assert answer(Registrant.register(live.url, LG), call["id"]).status_code == 201
    path = f"/admin/api/notices/{call['id']}"
    with staff(live) as api:
        assert_problem(
            api.patch(path, json={"call": {"places": 1, "deadline": call["call"]["deadline"]}}),
            409,
            "places_below_answers",
        )
        assert_problem(
            api.patch(path, json={"topic": "防災", "call": None}), 409, "call_has_answers"
        )
        edited = api.patch(
            path,
            json={
                "title": {"ja": "雪かき (追加募集)", "en": None},
                "call": {"places": 5, "deadline": call["call"]["deadline"]},
                "link": "https://example.jp/yuki",
            },
        )
        assert edited.status_code == 200, edited.text
        body = edited.json()
        assert body["title"] == {"ja": "雪かき (追加募集)"}
        assert body["body"] == call["body"]  # what was not given is kept
        assert body["call"]["places"] == 5
        assert body["call"]["answers"] == 2
        assert body["call"]["placesLeft"] == 3
        assert body["link"] == "https://example.jp/yuki"
        assert body["publishedAt"] == call["publishedAt"]
        plain = publish(live, notice_body())
        became = api.patch(
            f"/admin/api/notices/{plain['id']}",
            json={"topic": "募集", "call": {"places": 2, "deadline": SOON}},
        )
        assert became.status_code == 200, became.text
        assert became.json()["call"]["state"] == "open"
