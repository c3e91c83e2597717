"""The console's notice pages over real HTTP, driven as a browser would (the token cookie, the
CSRF token of each form, POST-redirect-GET): publish, the list, one notice with its answers,
edit, close, withdraw — and every refusal shown on the page with nothing changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import httpx

from issuer.activities import JST
from tests.issuer.conftest import LiveServer
from tests.notices.conftest import (
    HTTP_TIMEOUT,
    LG,
    Registrant,
    answer,
    call_body,
    feed_claims,
    notice_body,
    premium_registrant,
    publish,
    staff,
)

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def code_of(page: str) -> str | None:
    found = re.search(r'data-code="([a-z_]+)"', page)
    return found.group(1) if found else None


@contextmanager
def console(live: LiveServer, token: str | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=HTTP_TIMEOUT) as client:
        signed_in = client.post("/admin/login", data={"token": token or live.world.staff_token})
        assert signed_in.status_code == 303
        yield client


def csrf(client: httpx.Client, path: str = "/admin/notices") -> str:
    found = _CSRF.search(client.get(path).text)
    assert found is not None
    return found.group(1)


def local(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%dT%H:%M")


def call_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf": token,
        "topic": "募集",
        "audience": "all",
        "title_ja": "夏祭りのスタッフ募集",
        "title_en": "Festival staff wanted",
        "body_ja": "会場設営と片付けです。\n昼食付き。",
        "body_en": "",
        "link": "https://example.jp/matsuri",
        "published_at": "",
        "expires_at": "",
        "places": "4",
        "deadline": local(datetime.now(UTC) + timedelta(days=3)),
    }
    form.update(changes)
    return form


def follow(client: httpx.Client, response: httpx.Response, done: str) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.endswith(f"?done={done}"), location
    page = client.get(location)
    assert page.status_code == 200
    assert code_of(page.text) == done
    return page.text


def notice_id_of(location: str) -> str:
    found = re.search(r"/admin/notices/([0-9a-f]{16})\?", location)
    assert found is not None
    return found.group(1)


def test_publish_a_call_from_the_console_and_see_the_answers(live: LiveServer) -> None:
    with console(live) as client:
        listing = client.get("/admin/notices")
        assert listing.status_code == 200
        assert listing.headers["cache-control"] == "no-store"
        assert '<a href="/admin/notices" aria-current="page">' in listing.text
        assert "まだありません" in listing.text
        deadline = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
        created = client.post(
            "/admin/notices", data=call_form(csrf(client), deadline=local(deadline))
        )
        page = follow(client, created, "created")
        notice_id = notice_id_of(created.headers["location"])
        assert "夏祭りのスタッフ募集" in page
        assert 'data-call-state="open"' in page
        assert "応募 0 / 4 名" in page
        row = client.get("/admin/notices").text.split(f'data-notice="{notice_id}"')[1]
        assert "掲載中" in row.split("</tr>")[0]
    with staff(live) as api:
        stored = api.get(f"/admin/api/notices/{notice_id}").json()
    assert stored["call"]["deadline"] == deadline.strftime("%Y-%m-%dT%H:%M:%SZ")  # JST typed
    assert stored["body"] == {"ja": "会場設営と片付けです。\n昼食付き。"}
    assert stored["link"] == "https://example.jp/matsuri"

    resident = Registrant.register(live.url, LG)
    assert answer(resident, notice_id, "<script>alert(1)</script> 佐藤").status_code == 201
    assert answer(premium_registrant(live.world, live.url), notice_id).status_code == 201
    with console(live) as client:
        page = client.get(f"/admin/notices/{notice_id}").text
    answers = page.split('<table class="answers">')[1].split("</table>")[0]
    assert answers.count("<tr data-answer=") == 2
    assert escape("<script>alert(1)</script> 佐藤") in answers  # text, never markup
    assert "<script>" not in answers
    assert "ベーシック" in answers
    assert "プレミアム" in answers
    assert 'data-answers="2"' in page
    assert resident.did not in page


def test_refusals_are_shown_on_the_page_and_keep_what_was_typed(live: LiveServer) -> None:
    with console(live) as client:
        token = csrf(client)
        for changes, code, text in (
            ({"title_ja": ""}, "notice_invalid", "件名を入力してください"),
            ({"places": ""}, "notice_invalid", "募集には募集人数と締切が必要です"),
            ({"places": "three"}, "malformed", "募集人数は整数で入力してください"),
            ({"deadline": "tomorrow"}, "malformed", "日本時間"),
            ({"link": "http://example.jp"}, "notice_invalid", "https の URL"),
            ({"topic": "天気"}, "notice_invalid", "分類は"),
        ):
            refused = client.post("/admin/notices", data=call_form(token, **changes))
            assert refused.status_code == 400, changes
            assert code_of(refused.text) == code, changes
            assert text in refused.text, changes
            assert 'value="Festival staff wanted"' in refused.text  # kept for editing
        # places and a deadline on a notice that is not a call are left aside, not refused
        plain = client.post(
            "/admin/notices", data=call_form(token, topic="防災", title_ja="避難所の案内")
        )
        page = follow(client, plain, "created")
        assert "data-call-state" not in page
        stale = client.post("/admin/notices", data=call_form("0" * 64))
        assert (stale.status_code, code_of(stale.text)) == (403, "csrf")
    with staff(live) as api:
        assert [n["title"]["ja"] for n in api.get("/admin/api/notices").json()["notices"]] == [
            "避難所の案内"
        ]


def test_edit_close_and_withdraw(live: LiveServer) -> None:
    call = publish(live, call_body(places=2))
    path = f"/admin/notices/{call['id']}"
    with console(live) as client:
        page = client.get(path).text
        token = csrf(client, path)
        assert 'value="雪かきボランティア募集"' in page  # the edit form, filled in
        form: dict[str, Any] = {
            name: value
            for name, value in re.findall(
                r'id="edit-[a-z-]+" name="([a-z_]+)"[^>]*value="([^"]*)"', page
            )
        }
        assert form["places"] == "2"
        edited = client.post(
            f"{path}/edit",
            data={
                **form,
                "csrf": token,
                "topic": "募集",
                "audience": "all",
                "title_ja": "雪かき (追加募集)",
                "body_ja": "朝7時に集合です。",
                "body_en": "",
                "places": "3",
            },
        )
        page = follow(client, edited, "updated")
        assert "雪かき (追加募集)" in page
        assert "応募 0 / 3 名" in page
        bad_form = {**form, "csrf": token, "topic": "募集", "audience": "all"}
        bad_form.update(title_ja="x", body_ja="y", link="ftp://x")
        bad = client.post(f"{path}/edit", data=bad_form)
        assert (bad.status_code, code_of(bad.text)) == (400, "notice_invalid")
        closed = client.post(f"{path}/close", data={"csrf": token})
        page = follow(client, closed, "closed")
        assert 'data-call-state="closed"' in page
        assert f'action="{path}/close"' not in page
        unconfirmed = client.post(f"{path}/withdraw", data={"csrf": token})
        assert (unconfirmed.status_code, code_of(unconfirmed.text)) == (400, "confirm_required")
        withdrawn = client.post(f"{path}/withdraw", data={"csrf": token, "confirm": "1"})
        page = follow(client, withdrawn, "withdrawn")
        assert 'data-state="withdrawn"' in page
        assert "<form" not in page.split("</header>")[1].split("</main>")[0].replace(
            'action="/admin/logout"', ""
        )
        refused = client.post(f"{path}/close", data={"csrf": token})
        assert (refused.status_code, code_of(refused.text)) == (409, "notice_withdrawn")
        missing = client.get("/admin/notices/0123456789abcdef")
        assert (missing.status_code, code_of(missing.text)) == (404, "notice_not_found")
        assert code_of(client.get("/admin/notices?cursor=zz").text) == "malformed"
    assert feed_claims(live)["notices"] == []


def test_the_list_pages_through_older_notices(live: LiveServer) -> None:
    for n in range(52):
        publish(live, notice_body("お知らせ", title={"ja": f"お知らせ {n}"}))
    with console(live) as client:
        first = client.get("/admin/notices").text
        assert first.count("<tr data-notice=") == 50
        older = re.search(r'href="(/admin/notices\?cursor=[0-9.a-f]+)"', first)
        assert older is not None
        second = client.get(older.group(1)).text
        assert second.count("<tr data-notice=") == 2
        assert "お知らせ 0<" in second
        assert 'href="/admin/notices">' in second  # back to the newest


def test_the_console_links_the_notices_for_staff_roles(live: LiveServer) -> None:
    with console(live) as client:
        assert 'href="/admin/notices"' in client.get("/admin").text
    with console(live, live.world.auditor_token) as client:
        assert 'href="/admin/notices"' not in client.get("/admin").text
    with httpx.Client(base_url=live.url, timeout=HTTP_TIMEOUT) as anonymous:
        signed_out = anonymous.get("/admin/notices")
        assert (signed_out.status_code, code_of(signed_out.text)) == (401, "unauthenticated")
