"""The admin console's premium pages over real HTTP, driven as a browser would: sign in with
the token (the ``fvc_admin`` cookie), read the page, take the CSRF token from its form, post
the form.  The queue, one application and its evidence, approve / reject, a document staff
reviewed, the activity sites and their printed check-in QR — and every refusal shown on the
page (``data-code``) with nothing changed.  One test in headless Chromium (Playwright)."""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime, timedelta
from html import escape, unescape
from typing import Any

import httpx
import pytest
import segno
from sqlalchemy import func, select

from issuer.activities import JST, MAX_DOCUMENT
from issuer.api.premium_pages import CATEGORIES, STATES
from issuer.db import Activity, ActivityDocument, IssuedCredential, Offer
from shellkit.qrimage import read_one_qr_bytes
from tests.browser import browser_factory as browser_factory  # the fixture
from tests.premium.conftest import (
    HTTP_TIMEOUT,
    PremiumWorld,
    Registrant,
    new_site,
    prove_with_oidc,
    site_qr,
)
from vc.furusato import ACTIVITY_CATEGORIES

LG = "015814"  # 厚真町; ichiro lives in 千代田区
OTHER = "011002"  # 札幌市
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_QR = re.compile(r'<img class="qr qr-big" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


class Console:
    """A browser on the admin console: signed in with a token, no redirects followed."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT)
        signed_in = self.http.post("/admin/login", data={"token": token})
        assert signed_in.status_code == 303, signed_in.text
        assert "fvc_admin" in self.http.cookies

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def get(self, path: str, status: int = 200) -> str:
        page = self.http.get(path)
        assert page.status_code == status, page.text
        assert page.headers["content-type"].startswith("text/html")
        return page.text

    def csrf(self, path: str = "/admin/sites") -> str:
        found = _CSRF.search(self.get(path))
        assert found is not None
        return found.group(1)

    def post(self, path: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        return self.http.post(path, data=data, **kw)

    def follow(self, response: httpx.Response, done: str) -> str:
        """The page a successful action redirects to (303, ``?done=…``)."""
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.endswith(f"?done={done}"), location
        page = self.get(location)
        assert code_of(page) == done
        return page


def code_of(page: str) -> str | None:
    found = re.search(r'data-code="([a-z_]+)"', page)
    return found.group(1) if found else None


def sign_in(pw: PremiumWorld, lg_code: str = LG) -> Console:
    return Console(pw.url, pw.token(lg_code))


def applied(
    pw: PremiumWorld, checkins: int, *, user: str = "ichiro"
) -> tuple[Registrant, dict[str, Any]]:
    """A registrant of LG with ``checkins`` check-ins whose application waits for staff
    (the identity of ``user``: ichiro lives in 千代田区, hanako in 札幌市)."""
    resident = Registrant.register(pw.url, LG)
    if checkins:
        site = new_site(pw, LG)
        for _ in range(checkins):
            done = resident.checkin(site_qr(pw, LG, site["id"]))
            assert done.status_code == 201, done.text
    answer = resident.apply()
    assert answer.status_code == 201, answer.text
    application: dict[str, Any] = answer.json()
    page = prove_with_oidc(application["identityUrl"], user)
    assert 'data-state="submitted"' in page.text, page.text
    return resident, application


def state_of(resident: Registrant, application: dict[str, Any]) -> dict[str, Any]:
    status = resident.status(application)
    assert status.status_code == 200, status.text
    body: dict[str, Any] = status.json()
    return body


def png(text: str = "活動証明書") -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(text).save(buffer, kind="png", scale=3)
    return buffer.getvalue()


def upload(
    console: Console,
    application_id: str,
    data: bytes,
    *,
    csrf: str | None = None,
    when: str | None = None,
    name: str = "夏祭りの運営",
) -> httpx.Response:
    fields = {
        "csrf": csrf if csrf is not None else console.csrf(f"/admin/premium/{application_id}"),
        "category": "event",
        "activity_date": when or (datetime.now(JST).date() - timedelta(days=10)).isoformat(),
        "name": name,
    }
    return console.http.post(
        f"/admin/premium/{application_id}/document",
        data=fields,
        files={"file": ("certificate.png", data, "image/png")},
    )


def count(pw: PremiumWorld, model: Any) -> int:
    with pw.world.svc.db.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def premium_offers(pw: PremiumWorld) -> int:
    with pw.world.svc.db.read() as session:
        return int(
            session.execute(
                select(func.count()).select_from(Offer).where(Offer.tier == "premium")
            ).scalar_one()
        )


# --- labels ---------------------------------------------------------------------------------------


def test_every_category_and_state_has_its_japanese_label() -> None:
    assert tuple(CATEGORIES) == ACTIVITY_CATEGORIES
    assert CATEGORIES["twoRegionLiving"][0] == "二地域居住"
    assert {state: ja for state, (ja, _) in STATES.items()} == {
        "identity": "本人確認待ち",
        "submitted": "審査待ち",
        "approved": "承認済み",
        "rejected": "却下",
        "issued": "発行済み",
    }


# --- the queue and one application ----------------------------------------------------------------


def test_the_queue_lists_applications_oldest_first_with_their_activities(
    premium: PremiumWorld,
) -> None:
    _, first = applied(premium, 2)
    _, second = applied(premium, 0, user="hanako")
    with sign_in(premium) as console:
        page = console.get("/admin/premium")
        rows = re.findall(r'<tr data-application="([^"]+)">', page)
        assert rows == [first["applicationId"], second["applicationId"]]
        row = page.split(f'data-application="{first["applicationId"]}"')[1].split("</tr>")[0]
        assert 'data-activities="2"' in row
        assert 'class="below"' in row  # 2 of the 3 required
        assert "マイナンバーカード (OIDC)" in row
        assert "新規" in row
        assert " JST" in row
        assert f'href="/admin/premium/{first["applicationId"]}"' in row
        # the other lists, by their tabs
        for state in ("approved", "rejected", "issued"):
            assert f'href="/admin/premium?state={state}"' in page
            assert "data-application=" not in console.get(f"/admin/premium?state={state}")
        assert code_of(console.get("/admin/premium?state=identity", 400)) == "malformed"


def test_the_application_page_shows_the_evidence(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 2)
    with sign_in(premium) as console:
        page = console.get(f"/admin/premium/{application['applicationId']}")
    assert 'data-state="submitted"' in page
    assert "審査待ち" in page
    assert resident.credential["id"] in page  # the basic credential it replaces
    assert 'data-activities="2"' in page
    evidence = page.split('<table class="evidence">')[1].split("</table>")[0]
    assert evidence.count("<tr data-activity=") == 2
    assert "公民館の清掃" in evidence
    assert "ボランティア" in evidence
    assert "チェックイン" in evidence
    assert ">checkin<" in evidence  # recorded by the check-in itself
    assert resident.did not in page  # the registration key is not staff's business
    for action in ("approve", "reject", "document"):
        assert f'action="/admin/premium/{application["applicationId"]}/{action}"' in page
    assert 'enctype="multipart/form-data"' in page


def test_approve_through_the_console_and_the_resident_receives_it(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 3)
    path = f"/admin/premium/{application['applicationId']}"
    with sign_in(premium) as console:
        csrf = console.csrf(path)
        page = console.follow(console.post(f"{path}/approve", {"csrf": csrf}), "approved")
        assert 'data-state="approved"' in page
        assert "furusato-wallet premium-status" in page
        status = state_of(resident, application)
        assert status["state"] == "approved"
        assert status["offerUri"] not in unescape(page)  # the credential is not shown to staff
        assert 'action="/admin/premium/' not in page  # no more forms
        # a browser refresh of the POST repeats nothing
        again = console.post(f"{path}/approve", {"csrf": csrf})
        assert again.status_code == 409
        assert code_of(again.text) == "invalid_state"
        assert premium_offers(premium) == 1
        listed = console.get("/admin/premium?state=approved")
        assert f'data-application="{application["applicationId"]}"' in listed
    credential = resident.receive_premium(status["offerUri"])
    assert credential["credentialSubject"]["registrationTier"] == "premium"
    assert state_of(resident, application)["state"] == "issued"


def test_approving_with_too_few_activities_is_refused_and_changes_nothing(
    premium: PremiumWorld,
) -> None:
    resident, application = applied(premium, 2)
    path = f"/admin/premium/{application['applicationId']}"
    with sign_in(premium) as console:
        refused = console.post(f"{path}/approve", {"csrf": console.csrf(path)})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert code_of(refused.text) == "activities_insufficient"
    assert "過去12か月の活動が 2 件です" in refused.text
    assert "2 activities in the last 12 months" in refused.text
    assert 'data-state="submitted"' in refused.text  # the application, still waiting
    status = state_of(resident, application)
    assert status["state"] == "submitted"
    assert "offerUri" not in status
    assert premium_offers(premium) == 0


def test_reject_needs_a_reason_the_applicant_then_reads(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 1)
    path = f"/admin/premium/{application['applicationId']}"
    with sign_in(premium) as console:
        csrf = console.csrf(path)
        for reason in ("", "   ", "x" * 501):
            refused = console.post(f"{path}/reject", {"csrf": csrf, "reason": reason})
            assert refused.status_code == 400, reason
            assert code_of(refused.text) == "reason_required"
            assert "理由を入力してください" in refused.text
        assert "x" * 501 in refused.text  # what was typed is kept for editing
        assert state_of(resident, application)["state"] == "submitted"
        reason = "活動の記録を確認できませんでした。<書類> をお持ちください。"
        page = console.follow(
            console.post(f"{path}/reject", {"csrf": csrf, "reason": reason}), "rejected"
        )
        assert 'data-state="rejected"' in page
        assert escape(reason) in page  # shown as text, never as markup
    status = state_of(resident, application)
    assert (status["state"], status["reason"]) == ("rejected", reason)


# --- documents staff reviewed ---------------------------------------------------------------------


def test_a_reviewed_document_counts_and_downloads_back_identical(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 2)
    path = f"/admin/premium/{application['applicationId']}"
    document = png()
    with sign_in(premium) as console:
        page = console.follow(upload(console, application["applicationId"], document), "document")
        assert 'data-activities="3"' in page
        evidence = page.split('<table class="evidence">')[1].split("</table>")[0]
        assert "地域行事" in evidence
        assert "書類" in evidence
        links = re.findall(r'href="(/admin/premium/activities/[0-9a-f]{32}/document)"', evidence)
        assert len(links) == 1
        download = console.http.get(links[0])
        assert download.status_code == 200
        assert download.content == document
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.headers["cache-control"] == "no-store"
        # three activities now: approval goes through
        console.follow(console.post(f"{path}/approve", {"csrf": console.csrf(path)}), "approved")
    assert state_of(resident, application)["activitiesInLast12Months"] == 3
    with premium.world.svc.db.read() as session:
        sealed = session.execute(select(ActivityDocument.sealed)).scalars().all()
    assert len(sealed) == 1
    assert document not in sealed[0]
    assert document[8:40] not in sealed[0]  # not even a piece past the PNG signature


def test_an_oversize_or_wrong_upload_is_refused_with_a_message(premium: PremiumWorld) -> None:
    _, application = applied(premium, 0)
    application_id = application["applicationId"]
    path = f"/admin/premium/{application_id}"
    with sign_in(premium) as console:
        csrf = console.csrf(path)
        too_big = upload(console, application_id, b"\x89PNG\r\n\x1a\n" + bytes(MAX_DOCUMENT))
        assert too_big.status_code == 413
        assert code_of(too_big.text) == "document_too_large"
        assert "10 MB を超えています" in too_big.text
        assert "larger than 10 MB" in too_big.text
        gif = upload(console, application_id, b"GIF89a" + bytes(100), csrf=csrf)
        assert gif.status_code == 400
        assert code_of(gif.text) == "document_type"
        assert "PDF・PNG・JPEG のファイルのみです" in gif.text
        empty = upload(console, application_id, b"", csrf=csrf)
        assert (empty.status_code, code_of(empty.text)) == (400, "document_empty")
        no_file = console.http.post(
            f"{path}/document",
            files={"csrf": (None, csrf), "category": (None, "event")},
        )
        assert (no_file.status_code, code_of(no_file.text)) == (400, "document_missing")
        two_files = console.http.post(
            f"{path}/document",
            files=[
                ("file", ("a.png", png(), "image/png")),
                ("other", ("b.png", png(), "image/png")),
            ],
            data={"csrf": csrf},
        )
        assert (two_files.status_code, code_of(two_files.text)) == (400, "malformed")
        assert "フォームを読み取れませんでした" in two_files.text
        future = (datetime.now(JST).date() + timedelta(days=2)).isoformat()
        late = upload(console, application_id, png(), csrf=csrf, when=future)
        assert late.status_code == 400
        assert "活動日は過去12か月以内にしてください" in late.text
        assert 'value="夏祭りの運営"' in late.text  # the form keeps what was typed
        not_multipart = console.post(f"{path}/document", {"csrf": csrf})
        assert (not_multipart.status_code, code_of(not_multipart.text)) == (
            415,
            "unsupported_media_type",
        )
        # beyond what the body-size middleware lets through at all
        huge = upload(console, application_id, b"\x89PNG\r\n\x1a\n" + bytes(MAX_DOCUMENT + 70_000))
        assert huge.status_code == 413
    assert count(premium, Activity) == 0
    assert count(premium, ActivityDocument) == 0


# --- who may do what ------------------------------------------------------------------------------


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 3)
    path = f"/admin/premium/{application['applicationId']}"
    with sign_in(premium, OTHER) as other:
        foreign = other.csrf()
    with sign_in(premium) as console:
        for data in ({}, {"csrf": "0" * 64}, {"csrf": foreign}):
            refused = console.post(f"{path}/approve", {**data, "go": "1"})
            assert refused.status_code == 403
            assert code_of(refused.text) == "csrf"
            assert "フォームの有効期限が切れました" in refused.text
            rejected = console.post(f"{path}/reject", {**data, "reason": "理由"})
            assert (rejected.status_code, code_of(rejected.text)) == (403, "csrf")
            created = console.post("/admin/sites", {**data, "name": "畑", "category": "other"})
            assert (created.status_code, code_of(created.text)) == (403, "csrf")
        stale = upload(console, application["applicationId"], png(), csrf=foreign)
        assert (stale.status_code, code_of(stale.text)) == (403, "csrf")
    assert state_of(resident, application)["state"] == "submitted"
    assert count(premium, ActivityDocument) == 0
    with premium.admin(LG) as admin:
        assert len(admin.get("/admin/api/sites").json()["sites"]) == 1  # applied()'s own


def test_an_auditor_cannot_see_the_premium_pages(premium: PremiumWorld) -> None:
    _, application = applied(premium, 0)
    with Console(premium.url, premium.world.auditor_token) as auditor:
        assert 'href="/admin/premium"' not in auditor.get("/admin")  # no link offered
        for path in ("/admin/premium", f"/admin/premium/{application['applicationId']}"):
            page = auditor.get(path, 403)
            assert code_of(page) == "insufficient_role"
            assert application["applicationId"] not in page
        assert code_of(auditor.get("/admin/sites", 403)) == "insufficient_role"
        csrf = _CSRF.search(auditor.get("/admin"))
        assert csrf is not None
        refused = auditor.post(
            f"/admin/premium/{application['applicationId']}/approve", {"csrf": csrf.group(1)}
        )
        assert (refused.status_code, code_of(refused.text)) == (403, "insufficient_role")
        uploaded = upload(auditor, application["applicationId"], png(), csrf=csrf.group(1))
        assert (uploaded.status_code, code_of(uploaded.text)) == (403, "insufficient_role")
    assert count(premium, ActivityDocument) == 0
    with httpx.Client(base_url=premium.url, timeout=HTTP_TIMEOUT) as anonymous:
        signed_out = anonymous.get("/admin/premium")
        assert signed_out.status_code == 401
        assert code_of(signed_out.text) == "unauthenticated"
        assert 'href="/admin"' in signed_out.text  # to the sign-in page


def test_another_municipalitys_admin_sees_and_does_nothing_here(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 3)
    application_id = application["applicationId"]
    path = f"/admin/premium/{application_id}"
    with sign_in(premium) as console:
        console.follow(upload(console, application_id, png()), "document")
        page = console.get(path)
        download = re.search(r'href="(/admin/premium/activities/[0-9a-f]{32}/document)"', page)
        assert download is not None
    with sign_in(premium, OTHER) as other:
        assert application_id not in other.get("/admin/premium")
        assert code_of(other.get(path, 404)) == "application_not_found"
        csrf = other.csrf()
        for action, data in (
            ("approve", {"csrf": csrf}),
            ("reject", {"csrf": csrf, "reason": "理由"}),
        ):
            refused = other.post(f"{path}/{action}", data)
            assert (refused.status_code, code_of(refused.text)) == (404, "application_not_found")
        stale = upload(other, application_id, png(), csrf=csrf)
        assert (stale.status_code, code_of(stale.text)) == (404, "application_not_found")
        document = other.http.get(download.group(1))
        assert (document.status_code, code_of(document.text)) == (404, "document_not_found")
    assert state_of(resident, application)["state"] == "submitted"
    assert count(premium, ActivityDocument) == 1


# --- activity sites -------------------------------------------------------------------------------


def test_create_a_site_print_its_qr_check_in_then_close_it(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    with sign_in(premium) as console:
        csrf = console.csrf("/admin/sites")
        incomplete = console.post(
            "/admin/sites",
            {"csrf": csrf, "name": "棚田の草刈り", "category": "volunteer", "latitude": "42.7"},
        )
        assert incomplete.status_code == 400
        assert "緯度・経度・半径をすべて指定してください" in incomplete.text
        assert 'value="棚田の草刈り"' in incomplete.text
        page = console.follow(
            console.post(
                "/admin/sites", {"csrf": csrf, "name": "厚真神社例大祭", "category": "event"}
            ),
            "site_created",
        )
        site_id = re.findall(r'<tr data-site="([0-9a-f]{16})">', page)[-1]
        row = page.split(f'data-site="{site_id}"')[1].split("</tr>")[0]
        assert "厚真神社例大祭" in row
        assert "地域行事" in row
        assert 'data-active="true"' in row
        today = datetime.now(JST).date().isoformat()
        assert f'value="{today}T00:00"' in row
        assert f'value="{today}T23:59"' in row
        now = datetime.now(JST)
        window = {
            "csrf": csrf,
            "valid_from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "valid_until": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        }
        payloads = []
        for _ in range(2):  # two sheets printed before the site closes
            sheet = console.post(f"/admin/sites/{site_id}/qr", window)
            assert sheet.status_code == 200, sheet.text
            assert "厚真神社例大祭" in sheet.text
            assert "厚真町" in sheet.text
            assert "ウォレットで読み取ってチェックイン" in sheet.text
            assert "furusato-wallet checkin" in sheet.text
            assert window["valid_from"].replace("T", " ") in sheet.text
            found = _QR.search(sheet.text)
            assert found is not None
            payloads.append(read_one_qr_bytes(base64.b64decode(found.group(1))))
        assert all(p.startswith("FCI1:") for p in payloads)
        done = resident.checkin(payloads[0])
        assert done.status_code == 201, done.text
        assert done.json()["activitiesInLast12Months"] == 1
        unconfirmed = console.post(f"/admin/sites/{site_id}/close", {"csrf": csrf})
        assert (unconfirmed.status_code, code_of(unconfirmed.text)) == (400, "confirm_required")
        page = console.follow(
            console.post(f"/admin/sites/{site_id}/close", {"csrf": csrf, "confirm": "1"}),
            "site_closed",
        )
        row = page.split(f'data-site="{site_id}"')[1].split("</tr>")[0]
        assert 'data-active="false"' in row
        assert f"/admin/sites/{site_id}/qr" not in row
        closed = console.post(f"/admin/sites/{site_id}/qr", window)
        assert (closed.status_code, code_of(closed.text)) == (409, "site_closed")
        backwards = console.post(
            f"/admin/sites/{site_id}/qr",
            {**window, "valid_until": window["valid_from"], "valid_from": window["valid_until"]},
        )
        assert backwards.status_code in (400, 409)
    refused = resident.checkin(payloads[1])
    assert refused.status_code == 400
    assert refused.json()["code"] == "checkin_site_closed"


def test_a_window_that_is_not_a_time_is_refused_on_the_page(premium: PremiumWorld) -> None:
    site = new_site(premium, LG)
    with sign_in(premium) as console:
        csrf = console.csrf("/admin/sites")
        for start, end in (
            ("tomorrow", "2030-01-01T00:00"),
            ("2027-02-30T00:00", "2027-03-01T00:00"),
        ):
            refused = console.post(
                f"/admin/sites/{site['id']}/qr",
                {"csrf": csrf, "valid_from": start, "valid_until": end},
            )
            assert refused.status_code == 400
            assert code_of(refused.text) == "malformed"
            assert "日本時間" in refused.text
        missing = console.post(
            "/admin/sites/0123456789abcdef/qr",
            {"csrf": csrf, "valid_from": "2030-01-01T00:00", "valid_until": "2030-01-01T09:00"},
        )
        assert (missing.status_code, code_of(missing.text)) == (404, "site_not_found")


def test_the_console_links_the_premium_pages_and_offers_no_premium_at_the_counter(
    premium: PremiumWorld,
) -> None:
    with sign_in(premium) as console:
        page = console.get("/admin")
    assert 'href="/admin/premium"' in page
    assert 'href="/admin/sites"' in page
    assert 'value="premium"' not in page


# --- documents: the reviewed date, the 12 months -----------------------------------------------------------------


def test_a_document_receipt_carries_the_reviewed_activity_date(premium: PremiumWorld) -> None:
    _, application = applied(premium, 0)
    when = (datetime.now(JST).date() - timedelta(days=40)).isoformat()
    with sign_in(premium) as console:
        console.follow(upload(console, application["applicationId"], png(), when=when), "document")
    with premium.world.svc.db.read() as session:
        credential_id = session.execute(select(Activity.credential_id)).scalar_one()
        document = session.execute(
            select(IssuedCredential.document).where(IssuedCredential.credential_id == credential_id)
        ).scalar_one()
    assert f'"activityDate": "{when}"' in document


def test_a_document_activity_that_is_accepted_is_counted(premium: PremiumWorld) -> None:
    resident, application = applied(premium, 0)
    when = (datetime.now(JST).date() - timedelta(days=366)).isoformat()
    with sign_in(premium) as console:
        answer = upload(console, application["applicationId"], png(), when=when)
    assert answer.status_code == 400 or (
        state_of(resident, application)["activitiesInLast12Months"] == 1
    )


# --- in a real browser ----------------------------------------------------------------------------


@pytest.fixture
def browser(browser_factory: Any) -> Any:
    return browser_factory()


def test_in_a_browser_at_phone_and_desktop_width(premium: PremiumWorld, browser: Any) -> None:
    resident, application = applied(premium, 3)
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(premium.url + "/admin")
    page.get_by_label(re.compile("アクセストークン")).fill(premium.token(LG))
    page.get_by_role("button", name=re.compile("ログイン")).click()
    page.wait_for_url(premium.url + "/admin")
    page.get_by_role("link", name=re.compile("プレミアム審査")).first.click()
    page.wait_for_url(premium.url + "/admin/premium")
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits), "the queue scrolls sideways at phone width"
    assert (
        page.get_by_role("link", name=re.compile("審査待ち")).get_attribute("aria-current")
        == "page"
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate(fits)
    details = page.get_by_role("link", name=re.compile(f"申請 {application['applicationId']}"))
    assert details.is_visible()
    details.click()
    page.wait_for_url(re.compile(r"/admin/premium/[A-Za-z0-9_-]+$"))
    # every control has an accessible name, in Japanese and English
    assert page.get_by_role("button", name=re.compile("承認する.*Approve")).is_visible()
    assert page.get_by_role("button", name=re.compile("却下する.*Reject")).is_visible()
    reason = page.get_by_role("textbox", name=re.compile("却下の理由.*Reason"))
    assert reason.get_attribute("required") is not None
    assert page.get_by_label(re.compile("書類のファイル")).get_attribute("type") == "file"
    assert page.get_by_role("combobox", name=re.compile("活動の種類")).is_visible()
    assert page.get_by_label(re.compile("活動日")).get_attribute("type") == "date"
    assert page.get_by_role("textbox", name=re.compile("活動名")).is_visible()
    page.set_viewport_size({"width": 375, "height": 740})
    assert page.evaluate(fits), "the application page scrolls sideways at phone width"
    page.get_by_role("button", name=re.compile("承認する")).click()
    page.wait_for_url(re.compile(r"\?done=approved$"))
    assert "承認しました" in page.get_by_role("status").inner_text()
    context.close()
    assert state_of(resident, application)["state"] == "approved"
