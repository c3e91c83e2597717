"""Premium registration over real HTTP, driven with the wallet's library: the whole flow and
every refusal the issue names, each with its code and nothing stored after it.  The wallet
CLI's own flow is in test_wallet_premium.py, the console in test_console.py.

People (tests/premium/oidc_provider.USERS): ichiro lives in 千代田区 (131016), hanako in
札幌市中央区 (札幌市 011002), shota (a minor) in 那覇市 (472018).  Municipalities of the
issuer: 015814 厚真町, 011002 札幌市, 202118 中野市, 131016 千代田区, 472018 那覇市.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from issuer.db import Activity, IssuedCredential, PremiumApplication, PremiumMembership
from tests.premium.conftest import (
    SAPPORO_MINOR,
    PremiumWorld,
    Registrant,
    new_site,
    prove_with_oidc,
    refusal_code,
    site_qr,
)
from wallet_cli.store import WalletError

LG = "015814"  # 厚真町


def snapshot(pw: PremiumWorld) -> dict[str, list[str]]:
    """Every row of every table (nonces aside: each presentation consumes one)."""
    engine = pw.world.svc.db.engine
    tables = MetaData()
    tables.reflect(engine)
    out: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for name, table in sorted(tables.tables.items()):
            if name in ("nonces", "alembic_version"):
                continue
            rows = connection.execute(select(table)).all()
            out[name] = sorted(
                json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows
            )
    return out


def assert_unchanged(before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    changed = {name for name in before if before[name] != after.get(name)}
    assert not changed, {name: (before[name], after[name]) for name in changed}


def three_checkins(pw: PremiumWorld, resident: Registrant) -> None:
    site = new_site(pw, resident.lg_code)
    for _ in range(3):
        done = resident.checkin(site_qr(pw, resident.lg_code, site["id"]))
        assert done.status_code == 201, done.text


def apply(resident: Registrant) -> dict[str, Any]:
    applied = resident.apply()
    assert applied.status_code == 201, applied.text
    application: dict[str, Any] = applied.json()
    return application


def approve(pw: PremiumWorld, lg_code: str, application: dict[str, Any]) -> httpx.Response:
    with pw.admin(lg_code) as admin:
        return admin.post(f"/admin/api/premium/applications/{application['applicationId']}/approve")


def premium_through_oidc(
    pw: PremiumWorld, lg_code: str, user: str
) -> tuple[Registrant, dict[str, Any]]:
    """The whole process in ``lg_code`` for ``user``: the premium credential."""
    resident = Registrant.register(pw.url, lg_code)
    three_checkins(pw, resident)
    application = apply(resident)
    page = prove_with_oidc(application["identityUrl"], user)
    assert page.status_code == 200, page.text
    assert 'data-state="submitted"' in page.text
    assert approve(pw, lg_code, application).status_code == 200
    offer = resident.status(application).json()["offerUri"]
    return resident, resident.receive_premium(offer)


def credential_state(pw: PremiumWorld, lg_code: str, credential_id: str) -> str:
    with pw.world.svc.db.read() as session:
        row = session.get(IssuedCredential, (lg_code, credential_id))
        assert row is not None
        return row.state


# --- the whole process ---------------------------------------------------------------------------


def test_oidc_checkins_apply_approve_receive(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    three_checkins(premium, resident)
    application = apply(resident)
    assert application["minActivities"] == 3
    assert resident.status(application).json()["state"] == "identity"

    page = prove_with_oidc(application["identityUrl"], "ichiro")
    assert page.status_code == 200, page.text
    assert 'data-state="submitted"' in page.text
    assert resident.status(application).json()["state"] == "submitted"
    with premium.admin(LG) as admin:
        queue = admin.get("/admin/api/premium/applications").json()["applications"]
    assert [a["applicationId"] for a in queue] == [application["applicationId"]]
    assert queue[0]["identityMethod"] == "oidc"
    assert queue[0]["activitiesInLast12Months"] == 3
    assert queue[0]["replaces"] == resident.credential["id"]

    assert approve(premium, LG, application).status_code == 200
    status = resident.status(application).json()
    assert status["state"] == "approved", status
    credential = resident.receive_premium(status["offerUri"])
    assert credential["credentialSubject"]["registrationTier"] == "premium"
    assert credential["credentialSubject"]["id"] == resident.did
    assert resident.status(application).json()["state"] == "issued"
    # the basic credential it replaces is revoked; the premium one is active
    assert credential_state(premium, LG, resident.credential["id"]) == "revoked"
    assert credential_state(premium, LG, credential["id"]) == "active"
    # the offer works once
    with pytest.raises(WalletError, match="already used"):
        resident.receive_premium(status["offerUri"])


def test_jpki_identity_and_a_minor(premium: PremiumWorld) -> None:
    """A card-reading client signs the challenge; a minor (born 2015) may apply."""
    resident = Registrant.register(premium.url, LG)
    application = apply(resident)
    answer = premium.prove_jpki(LG, application["identityUrl"], premium.card(SAPPORO_MINOR))
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "submitted"
    with premium.admin(LG) as admin:
        detail = admin.get(f"/admin/api/premium/applications/{application['applicationId']}")
    assert detail.json()["identityMethod"] == "jpki"
    # the link is used up: no second challenge
    login = httpx.URL(application["identityUrl"]).params["login"]
    again = httpx.post(
        f"{premium.url}/lg/{LG}/premium/identity/jpki/challenge", json={"login": login}, timeout=30
    )
    assert again.status_code == 404
    assert again.json()["code"] == "application_link_invalid"


def test_the_premium_offer_goes_only_to_the_key_that_applied(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    three_checkins(premium, resident)
    application = apply(resident)
    prove_with_oidc(application["identityUrl"], "ichiro")
    approve(premium, LG, application)
    offer = resident.status(application).json()["offerUri"]
    stranger = Registrant.register(premium.url, LG)
    with pytest.raises(WalletError, match="registration key that applied"):
        stranger.receive_premium(offer)
    assert resident.receive_premium(offer)["credentialSubject"]["id"] == resident.did


def test_renewal_checks_again_and_keeps_the_place(premium: PremiumWorld) -> None:
    resident, first = premium_through_oidc(premium, LG, "ichiro")
    renewal = Registrant(premium.url, LG, first, resident.holder)
    application = apply(renewal)
    page = prove_with_oidc(application["identityUrl"], "ichiro")
    assert 'data-state="submitted"' in page.text, page.text
    with premium.admin(LG) as admin:
        detail = admin.get(f"/admin/api/premium/applications/{application['applicationId']}")
    assert detail.json()["renewal"] is True
    assert approve(premium, LG, application).status_code == 200
    second = renewal.receive_premium(renewal.status(application).json()["offerUri"])
    assert credential_state(premium, LG, first["id"]) == "revoked"
    assert credential_state(premium, LG, second["id"]) == "active"
    with premium.world.svc.db.read() as session:
        places = session.execute(select(PremiumMembership)).scalars().all()
    assert [(m.lg_code, m.state) for m in places] == [(LG, "active")]


# --- the programme's rules -----------------------------------------------------------------------


def test_a_fourth_municipality_is_refused_and_nothing_stored(premium: PremiumWorld) -> None:
    for lg_code in ("015814", "011002", "202118"):
        premium_through_oidc(premium, lg_code, "ichiro")
    fourth = Registrant.register(premium.url, "472018")
    three_checkins(premium, fourth)
    application = apply(fourth)
    before = snapshot(premium)
    page = prove_with_oidc(application["identityUrl"], "ichiro")
    assert page.status_code == 403, page.text
    assert refusal_code(page) == "premium_limit"
    assert "3" in page.text
    after = snapshot(premium)
    # the application is gone (nothing about the person stays); nothing else changed
    assert [
        r for r in before["premium_applications"] if application["applicationId"] not in r
    ] == after["premium_applications"]
    assert_unchanged(
        {k: v for k, v in before.items() if k != "premium_applications"},
        {k: v for k, v in after.items() if k != "premium_applications"},
    )
    assert fourth.status(application).status_code == 404
    # a different person may still apply there
    again = apply(fourth)
    assert prove_with_oidc(again["identityUrl"], "hanako").status_code == 200


def test_the_home_municipality_is_refused_and_nothing_stored(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, "011002")  # 札幌市; hanako lives in 中央区
    application = apply(resident)
    page = prove_with_oidc(application["identityUrl"], "hanako")
    assert page.status_code == 403, page.text
    assert refusal_code(page) == "home_municipality"
    with premium.world.svc.db.read() as session:
        assert session.execute(select(PremiumApplication)).scalars().all() == []
        assert session.execute(select(PremiumMembership)).scalars().all() == []
    # JPKI: the card of someone living in 札幌市北区 is refused there too
    application = apply(resident)
    answer = premium.prove_jpki("011002", application["identityUrl"], premium.card(SAPPORO_MINOR))
    assert answer.status_code == 403
    assert answer.json()["code"] == "home_municipality"
    with premium.world.svc.db.read() as session:
        assert session.execute(select(PremiumApplication)).scalars().all() == []


def test_too_few_activities_are_refused_at_approval(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    site = new_site(premium, LG)
    resident.checkin(site_qr(premium, LG, site["id"]))
    application = apply(resident)
    prove_with_oidc(application["identityUrl"], "ichiro")
    before = snapshot(premium)
    refused = approve(premium, LG, application)
    assert refused.status_code == 403
    assert refused.json()["code"] == "activities_insufficient"
    assert_unchanged(before, snapshot(premium))


# --- identity refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lie", "code"),
    [
        (lambda m: setattr(m, "nonce", "not-the-nonce-we-sent"), "oidc_nonce_mismatch"),
        (lambda m: setattr(m, "audience", "another-client"), "oidc_audience_mismatch"),
        (lambda m: setattr(m, "forgery", "wrong_key_same_kid"), "oidc_id_token_invalid"),
        (lambda m: setattr(m, "forgery", "tampered"), "oidc_id_token_invalid"),
    ],
    ids=["wrong-nonce", "wrong-audience", "bad-signature", "tampered"],
)
def test_a_bad_id_token_is_refused_and_nothing_stored(
    premium: PremiumWorld, lie: Callable[[Any], None], code: str
) -> None:
    resident = Registrant.register(premium.url, LG)
    application = apply(resident)
    before = snapshot(premium)
    lie(premium.oidc.misbehaviour)
    page = prove_with_oidc(application["identityUrl"], "ichiro")
    assert page.status_code in (400, 401, 403), page.text
    assert refusal_code(page) == code
    assert_unchanged(before, snapshot(premium))
    assert resident.status(application).json()["state"] == "identity"


@pytest.mark.parametrize("problem", ["expired", "revoked", "untrusted"])
def test_a_bad_jpki_certificate_is_refused_and_nothing_stored(
    premium: PremiumWorld, problem: str
) -> None:
    now = datetime.now(UTC)
    if problem == "expired":
        card = premium.card(not_before=now - timedelta(days=800), not_after=now - timedelta(days=1))
    elif problem == "untrusted":
        card = premium.card(issuer=premium.pki.unrelated)
    else:
        card = premium.card()
        premium.publish_crl(revoked=(card.certificate.serial_number,))
    resident = Registrant.register(premium.url, LG)
    application = apply(resident)
    before = snapshot(premium)
    answer = premium.prove_jpki(LG, application["identityUrl"], card)
    expected = {
        "expired": "jpki_certificate_expired",
        "revoked": "jpki_certificate_revoked",
        "untrusted": "jpki_certificate_untrusted",
    }[problem]
    assert answer.status_code in (400, 403), answer.text
    assert answer.json()["code"] == expected
    assert_unchanged(before, snapshot(premium))


# --- check-in refusals ---------------------------------------------------------------------------


def test_checkin_refusals_store_nothing(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    now = datetime.now(UTC)
    site = new_site(premium, LG)
    fenced = new_site(premium, LG, geofence=(42.7236, 141.8808, 300))  # 厚真町役場
    other_site = new_site(premium, "011002")
    good = site_qr(premium, LG, site["id"])
    assert resident.checkin(good).status_code == 201
    cases = {
        "checkin_outside_window": resident.checkin(
            site_qr(
                premium,
                LG,
                site["id"],
                valid_from=now - timedelta(hours=3),
                valid_until=now - timedelta(hours=1),
            )
        ),
        "checkin_outside_window ": resident.checkin(
            site_qr(
                premium,
                LG,
                site["id"],
                valid_from=now + timedelta(hours=1),
                valid_until=now + timedelta(hours=2),
            )
        ),
        "checkin_outside_area": resident.checkin(
            site_qr(premium, LG, fenced["id"]),
            location=(42.7236, 141.9208),  # ~3.3 km east
        ),
        "checkin_location_required": resident.checkin(site_qr(premium, LG, fenced["id"])),
        "checkin_wrong_municipality": resident.checkin(
            site_qr(premium, "011002", other_site["id"])
        ),
        "checkin_duplicate": resident.checkin(good),
    }
    before = snapshot(premium)
    for code, answer in cases.items():
        assert answer.status_code in (400, 403, 409), (code, answer.text)
        assert answer.json()["code"] == code.strip(), (code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    # each refusal above happened before the snapshot; one more, to compare with it
    assert resident.checkin(good).json()["code"] == "checkin_duplicate"
    assert_unchanged(before, snapshot(premium))
    with premium.world.svc.db.read() as session:
        assert len(session.execute(select(Activity)).scalars().all()) == 1
    # inside the geofence it is accepted
    inside = resident.checkin(site_qr(premium, LG, fenced["id"]), location=(42.7240, 141.8810))
    assert inside.status_code == 201, inside.text


def test_an_activity_receipt_is_no_registration(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    site = new_site(premium, LG)
    receipt = resident.checkin(site_qr(premium, LG, site["id"])).json()["credential"]
    assert receipt["type"] == ["VerifiableCredential", "FurusatoActivityCredential"]
    answer = httpx.post(
        f"{resident.issuer_url}/premium/applications",
        json={"presentation": resident.presentation(receipt)},
        timeout=30,
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "registration_required"


def test_revoking_a_premium_credential_frees_the_place(premium: PremiumWorld) -> None:
    for lg_code in ("015814", "011002", "202118"):
        _, credential = premium_through_oidc(premium, lg_code, "ichiro")
    with premium.admin("202118") as admin:
        revoked = admin.post(f"/admin/api/credentials/{credential['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    fourth = Registrant.register(premium.url, "472018")
    page = prove_with_oidc(apply(fourth)["identityUrl"], "ichiro")
    assert page.status_code == 200, page.text
    assert 'data-state="submitted"' in page.text


def test_a_jpki_signature_counts_once_and_for_its_own_challenge(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    application = apply(resident)
    login = httpx.URL(application["identityUrl"]).params["login"]
    card = premium.card()
    body = {
        "login": login,
        "signature": base64.b64encode(card.sign(b"a challenge we never issued" * 2)).decode(),
        "certificate": base64.b64encode(card.der).decode(),
        "chain": [base64.b64encode(premium.pki.intermediate.der).decode()],
    }
    url = f"{premium.url}/lg/{LG}/premium/identity/jpki"
    no_challenge = httpx.post(url, json=body, timeout=30)
    assert no_challenge.status_code == 400, no_challenge.text
    assert no_challenge.json()["code"] == "jpki_no_challenge"
    httpx.post(f"{url}/challenge", json={"login": login}, timeout=30)
    wrong = httpx.post(url, json=body, timeout=30)
    assert wrong.json()["code"] == "jpki_signature_invalid", wrong.text
    # the challenge was used up by the failed attempt
    assert httpx.post(url, json=body, timeout=30).json()["code"] == "jpki_no_challenge"
    assert resident.status(application).json()["state"] == "identity"


def test_another_municipality_sees_and_decides_nothing(premium: PremiumWorld) -> None:
    resident = Registrant.register(premium.url, LG)
    application = apply(resident)
    prove_with_oidc(application["identityUrl"], "ichiro")
    site = new_site(premium, LG)
    path = f"/admin/api/premium/applications/{application['applicationId']}"
    before = snapshot(premium)
    with premium.admin("011002") as other:
        assert other.get("/admin/api/premium/applications").json() == {"applications": []}
        assert other.get("/admin/api/sites").json() == {"sites": []}
        answers = [
            other.get(path),
            other.post(f"{path}/approve"),
            other.post(f"{path}/reject", json={"reason": "no"}),
            other.post(
                f"{path}/documents",
                params={"category": "volunteer", "activityDate": "2026-11-01", "name": "x"},
                content=b"%PDF-1.4\n",
                headers={"Content-Type": "application/pdf"},
            ),
            other.post(f"/admin/api/sites/{site['id']}/close"),
            other.post(
                f"/admin/api/sites/{site['id']}/qr",
                json={"validFrom": "2026-12-01T00:00:00Z", "validUntil": "2026-12-02T00:00:00Z"},
            ),
        ]
    assert [a.status_code for a in answers] == [404] * len(answers), [a.text for a in answers]
    assert_unchanged(before, snapshot(premium))
    with httpx.Client(base_url=premium.url, timeout=30) as anonymous:
        assert anonymous.get(path).status_code == 401
    auditor = premium.world.auditor_token
    with httpx.Client(
        base_url=premium.url, headers={"Authorization": f"Bearer {auditor}"}, timeout=30
    ) as client:
        assert client.get("/admin/api/premium/applications").status_code == 403
