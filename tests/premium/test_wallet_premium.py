"""Premium registration with the wallet's command line (``furusato-wallet checkin``,
``apply-premium``, ``premium-status``) against the live issuer (tests/premium/conftest.py:
loopback, a local OpenID provider, SQLite and PostgreSQL).

The whole flow — basic registration, three check-ins (one from a photo of the QR), the
application, the identity step, staff approval, the premium credential received with the
registration's key, the basic one revoked — and every refusal: forged check-in QR codes are
refused before the wallet sends anything, the issuer's refusals are one bilingual line with
their code (exit 1), bad input exits 2.  Also the store's ``applications`` (older wallets load).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno

from did.keys import KeyType, PrivateKey
from did.multibase import base64url_decode, base64url_encode
from issuer import activities
from issuer.db import PremiumApplication
from issuer.tenants import get_tenant
from tests.cli.helpers import assert_one_line_error
from tests.premium.conftest import PremiumWorld, new_site, prove_with_oidc, site_qr
from tests.wallet.helpers import PASSPHRASE, WalletCli, expect, registration_offer, short
from wallet_cli import client
from wallet_cli.store import (
    StoredApplication,
    StoredCredential,
    Wallet,
    WalletError,
    WalletStore,
    seal_json,
)

LG = "015814"  # 厚真町 (ichiro lives in 千代田区: he may apply here)
OTHER_LG = "131016"  # 千代田区
FENCE = (42.7238, 141.8810, 200)  # 厚真町役場, 200 m
INSIDE = "42.7240,141.8812"
OUTSIDE = "35.6812,139.7671"  # 東京駅


@pytest.fixture
def wallet(tmp_path: Path) -> WalletCli:
    return WalletCli(tmp_path / "wallet").init()


def register(premium: PremiumWorld, wallet: WalletCli, lg_code: str = LG) -> StoredCredential:
    """A basic registration received with ``furusato-wallet receive``."""
    return wallet.receive(registration_offer(premium.live, lg_code)["offerUri"])


def recorded(premium: PremiumWorld, stored: StoredCredential) -> int:
    """Activities the issuer recorded for this registration's key."""
    holder = stored.credential["credentialSubject"]["id"]
    with premium.world.svc.db.read() as session:
        return len(activities.activities_of(session, LG, holder))


def refused(result: Any, exit_code: int, *needles: str) -> str:
    """The command failed with ``exit_code`` and one bilingual error line holding ``needles``."""
    expect(result, exit_code)
    return assert_one_line_error(result.stderr, contains=needles)


def only_application(wallet: WalletCli) -> StoredApplication:
    applications = wallet.open().applications
    assert len(applications) == 1, applications
    return applications[0]


def admin_post(premium: PremiumWorld, path: str, body: Any = None) -> httpx.Response:
    with premium.admin(LG) as admin:
        response = admin.post(path, json=body)
    assert response.status_code == 200, response.text
    return response


def apply_and_prove(premium: PremiumWorld, wallet: WalletCli) -> StoredApplication:
    """``apply-premium`` then the identity step in a browser (ichiro, 千代田区)."""
    out = wallet.ok("apply-premium", "--lg-code", LG)
    application = only_application(wallet)
    assert application.identity_url is not None
    assert application.identity_url in out
    page = prove_with_oidc(application.identity_url, "ichiro")
    assert page.status_code == 200, page.text
    assert 'data-state="submitted"' in page.text
    return application


# --- the whole flow ---------------------------------------------------------------------------------


def test_checkins_apply_identity_approve_receive_premium(
    premium: PremiumWorld, wallet: WalletCli, tmp_path: Path
) -> None:
    basic = register(premium, wallet)
    site = new_site(premium, LG)

    out = wallet.ok("checkin", site_qr(premium, LG, site["id"]))
    assert "チェックインしました: 公民館の清掃" in out
    assert "過去12か月の活動 1 / 3 件" in out
    out = wallet.ok("--lang", "en", "checkin", site_qr(premium, LG, site["id"]))
    assert "Checked in: 公民館の清掃" in out
    assert "activities in the last 12 months: 2 / 3" in out
    png = tmp_path / "checkin.png"
    segno.make_qr(site_qr(premium, LG, site["id"]), error="m").save(str(png), scale=4, border=4)
    out = wallet.ok("checkin", png)
    assert "過去12か月の活動 3 / 3 件" in out
    held = wallet.open()
    receipts = [c for c in held.credentials if "FurusatoActivityCredential" in c.credential["type"]]
    assert len(receipts) == 3
    assert all(r.holder_jwk == basic.holder_jwk for r in receipts)
    assert all(r.issuer_url == basic.issuer_url for r in receipts)
    assert "活動記録" in wallet.ok("list")

    out = wallet.ok("apply-premium", "--lg-code", LG)
    application = only_application(wallet)
    assert application.credential_id == basic.id
    assert application.state == "identity"
    assert application.min_activities == 3
    assert application.identity_url is not None
    assert application.identity_url in out
    assert "本人確認" in out
    assert "premium-status" in out
    assert "▀" in out or "█" in out  # the terminal QR of the link
    out = wallet.ok("premium-status")
    assert "本人確認待ち" in out
    assert application.identity_url in out

    page = prove_with_oidc(application.identity_url, "ichiro")
    assert 'data-state="submitted"' in page.text, page.text
    out = wallet.ok("--lang", "en", "premium-status")
    assert "waiting for the municipality's staff" in out
    assert "activities in the last 12 months 3 / 3" in out

    admin_post(premium, f"/admin/api/premium/applications/{application.application_id}/approve")
    out = wallet.ok("premium-status", "--lg-code", LG)
    assert "プレミアム証明書を受け取りました" in out
    assert f"以前の証明書 {short(basic.id)} は「失効」" in out
    held = wallet.open()
    premiums = [
        c
        for c in held.credentials
        if c.credential["credentialSubject"].get("registrationTier") == "premium"
    ]
    assert len(premiums) == 1
    assert premiums[0].holder_jwk == basic.holder_jwk  # the same registration key
    assert (
        premiums[0].credential["credentialSubject"]["id"]
        == (basic.credential["credentialSubject"]["id"])
    )
    assert held.find(basic.id).state == "revoked"
    assert only_application(wallet).state == "issued"
    assert client.current_state(client.HttpClient(), basic.credential, now=datetime.now(UTC)) == (
        "revoked"
    )

    rows = json.loads(wallet.ok("list", "--json"))
    assert sum(r["kind"] == "activity" for r in rows) == 3
    assert {(r["tier"], r["state"]) for r in rows if r["kind"] == "registration"} == {
        ("basic", "revoked"),
        ("premium", "active"),
    }
    listed = wallet.ok("list")
    assert "プレミアム" in listed
    assert "失効" in listed
    assert "完了" in wallet.ok("premium-status")  # asks nothing more
    # the premium registration checks in too (it is preferred over the revoked basic one)
    out = wallet.ok("checkin", site_qr(premium, LG, site["id"]))
    assert "過去12か月の活動 4 / 3 件" in out
    assert "apply-premium" not in out


# --- check-in refusals -------------------------------------------------------------------------------


def _signed_elsewhere(premium: PremiumWorld, site_id: str, public_url: str) -> str:
    """A QR signed with the municipality's real key but sending check-ins to ``public_url``
    (what a stolen or misused signing service could make)."""
    svc = premium.world.svc
    now = datetime.now(UTC)
    with svc.db.read() as session:
        tenant = get_tenant(session, LG)
        site = activities.get_site(session, LG, site_id)
        return activities.checkin_payload(
            session,
            svc.ring,
            replace(tenant, public_url=public_url),
            site,
            valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(hours=1),
        )


def _tampered(payload: str, **changes: Any) -> str:
    """The QR with its claims changed and the original signature kept."""
    header, claims, signature = payload.removeprefix("FCI1:").split(".")
    body = json.loads(base64url_decode(claims))
    body.update(changes)
    encoded = base64url_encode(json.dumps(body, ensure_ascii=False).encode())
    return f"FCI1:{header}.{encoded}.{signature}"


def _signed_by(payload: str, key: PrivateKey) -> str:
    """The QR re-signed by another key, still naming the municipality's key."""
    header, claims, _ = payload.removeprefix("FCI1:").split(".")
    signature = key.sign(f"{header}.{claims}".encode("ascii"))
    return f"FCI1:{header}.{claims}.{base64url_encode(signature)}"


def test_forged_qr_codes_are_refused_before_anything_is_sent(
    premium: PremiumWorld, wallet: WalletCli
) -> None:
    basic = register(premium, wallet)
    site = new_site(premium, LG)
    genuine = site_qr(premium, LG, site["id"])
    elsewhere = _signed_elsewhere(premium, site["id"], "http://127.0.0.1:9")
    line = refused(wallet("checkin", elsewhere), 1, "checkin_url_mismatch", "127.0.0.1:9")
    assert "送信しません" in line
    refused(
        wallet("checkin", _tampered(genuine, url="http://127.0.0.1:9/lg/015814/checkins")),
        1,
        "checkin_url_mismatch",
    )
    refused(wallet("checkin", _tampered(genuine, name="別の場所")), 1, "checkin_signature_invalid")
    other_key = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
    refused(wallet("checkin", _signed_by(genuine, other_key)), 1, "checkin_signature_invalid")
    assert recorded(premium, basic) == 0
    assert not [c for c in wallet.open().credentials if c.id != basic.id]

    chiyoda = site_qr(premium, OTHER_LG, new_site(premium, OTHER_LG)["id"])
    line = refused(wallet("checkin", chiyoda), 1, "131016")
    assert "登録がウォレットにありません" in line
    assert "no registration" in line

    for text in ("FCI1:abc", "FCI1:a.b.c", "FCI1:" + "a" * 5000, "hello"):
        refused(wallet("checkin", text), 2)
    assert recorded(premium, basic) == 0
    # the genuine QR still works
    wallet.ok("checkin", genuine)
    assert recorded(premium, basic) == 1


def test_geofenced_site_needs_the_location_inside_the_area(
    premium: PremiumWorld, wallet: WalletCli
) -> None:
    basic = register(premium, wallet)
    site = new_site(premium, LG, geofence=FENCE)
    qr = site_qr(premium, LG, site["id"])
    line = refused(wallet("checkin", qr), 2, "--location")
    assert "送信していません" in line
    assert "nothing was sent" in line
    assert recorded(premium, basic) == 0
    line = refused(wallet("checkin", qr, "--location", OUTSIDE), 1, "[checkin_outside_area]")
    assert "活動場所の範囲外です" in line
    assert "not at the activity site" in line
    assert recorded(premium, basic) == 0
    assert "チェックインしました" in wallet.ok("checkin", qr, "--location", INSIDE)
    assert recorded(premium, basic) == 1


def test_the_same_qr_twice_and_a_qr_out_of_its_window(
    premium: PremiumWorld, wallet: WalletCli
) -> None:
    basic = register(premium, wallet)
    site = new_site(premium, LG)
    qr = site_qr(premium, LG, site["id"])
    wallet.ok("checkin", qr)
    line = refused(wallet("checkin", qr), 1, "[checkin_duplicate]")
    assert "既にチェックインしています" in line
    past = datetime.now(UTC) - timedelta(days=2)
    old = site_qr(premium, LG, site["id"], valid_from=past, valid_until=past + timedelta(hours=2))
    result = expect(wallet("checkin", old), 1)
    assert "注意: この QR の有効期間" in result.stderr  # the wallet warns, the issuer decides
    assert "[checkin_outside_window]" in result.stderr
    assert recorded(premium, basic) == 1


@pytest.mark.parametrize(
    "text", ["north", "42.7", "42.7,141.8,3", "91,0", "0,181", "nan,0", "inf,1", "42.7;141.8", ""]
)
def test_bad_location_text_exits_2(wallet: WalletCli, text: str) -> None:
    result = wallet("checkin", "FCI1:a.b.c", "--location", text)
    refused(result, 2, "--location")


def test_checkin_input_that_is_neither_text_nor_image(wallet: WalletCli, tmp_path: Path) -> None:
    text_file = tmp_path / "note.txt"
    text_file.write_text("not an image", encoding="utf-8")
    refused(wallet("checkin", str(text_file)), 2, "not an image")
    refused(wallet("checkin", str(tmp_path / "missing.png")), 2, "neither")
    refused(wallet("checkin", "x" * 5000), 2, "neither")  # not even a possible file name
    blank = tmp_path / "blank.png"
    segno.make_qr("FCI1:x").save(str(blank), scale=2)
    refused(wallet("checkin", str(blank)), 2, "checkin_malformed")


# --- applications -------------------------------------------------------------------------------------


def test_rejected_application_shows_the_reason(premium: PremiumWorld, wallet: WalletCli) -> None:
    register(premium, wallet)
    application = apply_and_prove(premium, wallet)
    refused(wallet("apply-premium", "--lg-code", LG), 1, "[application_pending]")
    assert only_application(wallet).application_id == application.application_id
    reason = "活動の記録が確認できません (Activities could not be confirmed)"
    admin_post(
        premium,
        f"/admin/api/premium/applications/{application.application_id}/reject",
        {"reason": reason},
    )
    out = wallet.ok("premium-status")
    assert "却下されました" in out
    assert reason in out
    rows = json.loads(wallet.ok("premium-status", "--json"))
    assert [(r["state"], r["reason"]) for r in rows] == [("rejected", reason)]
    assert only_application(wallet).state == "rejected"
    assert "rejected. Reason: " + reason in wallet.ok("--lang", "en", "premium-status")
    # a new application replaces the decided one
    wallet.ok("apply-premium", "--lg-code", LG)
    assert only_application(wallet).state == "identity"


def test_unknown_application_is_removed_and_the_choice_of_registration(
    premium: PremiumWorld, wallet: WalletCli
) -> None:
    first = register(premium, wallet)
    second = register(premium, wallet)  # a second registration, with its own key
    line = refused(wallet("apply-premium", "--lg-code", LG), 2, "--credential")
    assert short(first.id) in line
    assert short(second.id) in line
    refused(wallet("apply-premium", "--lg-code", "12345"), 2, "--lg-code")
    refused(wallet("apply-premium", "--lg-code", OTHER_LG), 1, "no registration")
    wallet.ok("apply-premium", "--lg-code", LG, "--credential", short(second.id))
    assert only_application(wallet).credential_id == second.id

    store = WalletStore(wallet.directory)
    held = store.load(PASSPHRASE)
    held.applications[0].status_token = "x" * 43  # not the application's token: "not found"
    store.save(held, PASSPHRASE, secrets.token_bytes)
    out = wallet.ok("premium-status", "--lg-code", LG)
    assert "申請が見つかりません" in out
    assert f"apply-premium --lg-code {LG}" in out
    assert wallet.open().applications == []
    out = wallet.ok("premium-status")
    assert "申請はありません" in out
    refused(wallet("premium-status", "--lg-code", LG), 1, LG)


def _expire_identity_step(premium: PremiumWorld, application_id: str) -> None:
    with premium.world.svc.db.transaction() as session:
        row = session.get(PremiumApplication, (LG, application_id))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)


def test_expired_identity_step_is_removed(premium: PremiumWorld, wallet: WalletCli) -> None:
    register(premium, wallet)
    wallet.ok("apply-premium", "--lg-code", LG)
    application = only_application(wallet)
    _expire_identity_step(premium, application.application_id)
    out = wallet.ok("--lang", "en", "premium-status")
    assert "the identity step expired" in out
    assert "apply again" in out
    assert wallet.open().applications == []


def test_issuer_status_of_an_expired_identity_step_is_not_found(
    premium: PremiumWorld, wallet: WalletCli
) -> None:
    register(premium, wallet)
    wallet.ok("apply-premium", "--lg-code", LG)
    application = only_application(wallet)
    _expire_identity_step(premium, application.application_id)
    answer = httpx.get(
        application.status_url,
        headers={"Authorization": f"Bearer {application.status_token}"},
        timeout=30.0,
    )
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "application_not_found"


# --- the store --------------------------------------------------------------------------------------


def _application() -> StoredApplication:
    return StoredApplication(
        lg_code=LG,
        application_id="A" * 24,
        status_token="t" * 43,
        status_url=f"http://localhost:1/lg/{LG}/premium/applications/{'A' * 24}",
        credential_id="urn:uuid:00000000-0000-4000-8000-000000000000",
        issuer_url=f"http://localhost:1/lg/{LG}",
        created_at="2027-03-01T09:00:00Z",
        state="submitted",
        identity_url=None,
        identity_expires_at=None,
        min_activities=3,
        reason=None,
        checked_at="2027-03-01T09:05:00Z",
    )


def test_wallet_json_round_trips_applications() -> None:
    wallet = Wallet(applications=[_application()])
    data = wallet.to_json()
    assert data["applications"][0]["statusToken"] == "t" * 43
    again = Wallet.from_json(json.loads(json.dumps(data)))
    assert again == wallet
    assert "t" * 43 not in repr(again.applications[0])  # the token is not shown


def test_wallets_written_before_applications_still_load(tmp_path: Path) -> None:
    key = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
    credential = {
        "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "format": "ldp_vc",
        "credential": {"id": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        "holderJwk": key.to_jwk(include_private=True),
        "issuerUrl": f"http://localhost:1/lg/{LG}",
        "receivedAt": "2027-03-01T09:00:00Z",
        "state": "active",
        "checkedAt": None,
    }
    old = {"format": 1, "credentials": [credential], "prefs": {"lang": "ja"}}  # no applications
    loaded = Wallet.from_json(old)
    assert [c.to_json() for c in loaded.credentials] == [credential]
    assert loaded.prefs == {"lang": "ja"}
    assert loaded.applications == []
    # a sealed wallet of the old shape opens with the store, and gains the member when saved
    store = WalletStore(tmp_path / "old")
    store.directory.mkdir()
    store.path.write_bytes(seal_json(old, PASSPHRASE, secrets.token_bytes))
    loaded = store.load(PASSPHRASE)
    assert loaded.applications == []
    loaded.applications.append(_application())
    store.save(loaded, PASSPHRASE, secrets.token_bytes)
    again = store.load(PASSPHRASE)
    assert again.applications == [_application()]
    assert [c.to_json() for c in again.credentials] == [credential]


@pytest.mark.parametrize(
    "applications",
    [[{"lgCode": LG}], ["not an object"], [{**_application().to_json(), "state": "unknown"}], 7],
)
def test_damaged_applications_are_refused(applications: Any) -> None:
    with pytest.raises(WalletError) as caught:
        Wallet.from_json({"format": 1, "credentials": [], "applications": applications})
    assert "damaged" in caught.value.message_en
