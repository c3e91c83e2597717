"""Tenant isolation of notices and answers: another municipality's staff see nothing of this
one's notices or answers (404, the same as a notice that does not exist) and change nothing;
auditors have no access; the console pages behave alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.issuer.conftest import LiveServer
from tests.notices.conftest import (
    HTTP_TIMEOUT,
    LG,
    OTHER,
    Registrant,
    answer,
    assert_problem,
    bearer,
    call_body,
    publish,
    staff,
)

MISSING = "0123456789abcdef"


def _without_id(body: dict[str, object], notice_id: str) -> str:
    return repr(body).replace(notice_id, "<id>").replace(MISSING, "<id>")


def test_another_municipalitys_staff_cannot_see_or_change_notices(live: LiveServer) -> None:
    call = publish(live, call_body(places=3))
    resident = Registrant.register(live.url, LG)
    assert answer(resident, call["id"], "参加します").status_code == 201
    with staff(live, OTHER) as other, staff(live, LG) as mine:
        assert other.get("/admin/api/notices").json()["notices"] == []
        for method, suffix, body in (
            ("GET", "", None),
            ("PATCH", "", {"title": {"ja": "乗っ取り"}}),
            ("POST", "/close", None),
            ("POST", "/withdraw", None),
            ("GET", "/responses", None),
        ):
            foreign = other.request(method, f"/admin/api/notices/{call['id']}{suffix}", json=body)
            missing = other.request(method, f"/admin/api/notices/{MISSING}{suffix}", json=body)
            assert_problem(foreign, 404, "notice_not_found")
            assert _without_id(foreign.json(), call["id"]) == _without_id(missing.json(), MISSING)
        after = mine.get(f"/admin/api/notices/{call['id']}").json()
        assert after["state"] == "published"
        assert after["title"]["ja"] == "雪かきボランティア募集"
        assert after["call"]["state"] == "open"
        assert after["call"]["answers"] == 1
        assert mine.get(f"/admin/api/notices/{call['id']}/responses").json()["active"] == 1
    # the feed of 札幌市 does not carry it; 札幌市's own notice is not 厚真町's to touch
    theirs = publish(live, call_body(), OTHER)
    with staff(live, LG) as mine:
        assert_problem(mine.post(f"/admin/api/notices/{theirs['id']}/close"), 404)
    # a resident of 厚真町 cannot answer 札幌市's call through 厚真町's address either
    assert_problem(answer(resident, theirs["id"]), 404, "notice_not_found")


def test_roles_auditors_and_anonymous_callers(live: LiveServer) -> None:
    call = publish(live, call_body())
    world = live.world
    with httpx.Client(base_url=live.url, timeout=HTTP_TIMEOUT) as anonymous:
        assert_problem(anonymous.get("/admin/api/notices"), 401, "unauthenticated")
        assert_problem(anonymous.post("/admin/api/notices", json={}), 401)
    with httpx.Client(
        base_url=live.url, headers=bearer(world.auditor_token), timeout=HTTP_TIMEOUT
    ) as auditor:
        assert_problem(auditor.get("/admin/api/notices"), 403, "insufficient_role")
        assert_problem(auditor.get(f"/admin/api/notices/{call['id']}/responses"), 403)
    with httpx.Client(
        base_url=live.url, headers=bearer(world.admin_token), timeout=HTTP_TIMEOUT
    ) as admin:
        assert admin.get("/admin/api/notices").status_code == 200


@contextmanager
def _console(live: LiveServer, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=HTTP_TIMEOUT) as client:
        assert client.post("/admin/login", data={"token": token}).status_code == 303
        yield client


def test_the_console_pages_are_scoped_to_the_municipality(live: LiveServer) -> None:
    call = publish(live, call_body())
    resident = Registrant.register(live.url, LG)
    assert answer(resident, call["id"], "秘密のメッセージ").status_code == 201
    with _console(live, live.world.other_staff_token) as other:
        listing = other.get("/admin/notices")
        assert listing.status_code == 200
        assert call["id"] not in listing.text
        page = other.get(f"/admin/notices/{call['id']}")
        assert page.status_code == 404
        assert 'data-code="notice_not_found"' in page.text
        assert "秘密のメッセージ" not in page.text
        found = re.search(r'name="csrf" value="([0-9a-f]{64})"', listing.text)
        assert found is not None
        for action, data in (
            ("close", {}),
            ("withdraw", {"confirm": "1"}),
            ("edit", {"topic": "防災", "title_ja": "x", "body_ja": "y", "audience": "all"}),
        ):
            refused = other.post(
                f"/admin/notices/{call['id']}/{action}", data={"csrf": found.group(1), **data}
            )
            assert refused.status_code == 404
            assert 'data-code="notice_not_found"' in refused.text
    with staff(live) as mine:
        after = mine.get(f"/admin/api/notices/{call['id']}").json()
    assert (after["state"], after["call"]["state"]) == ("published", "open")
    with _console(live, live.world.auditor_token) as auditor:
        page = auditor.get("/admin/notices")
        assert page.status_code == 403
        assert 'data-code="insufficient_role"' in page.text
