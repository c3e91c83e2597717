"""The premium SD-JWT VC with selectively disclosable name and birth date (issuer.personal).

Over real HTTP (tests/premium/conftest.py: loopback issuer, local OpenID provider, test JPKI
CA; SQLite and PostgreSQL): a municipality that offers it, an approved application, the
wallet asking with ``premium-status --format sd-jwt --personal-claims``, the identity proven
again in a browser, the credential sealed to the wallet's key, received, verified, and
presented without and with ``--disclose name,birthDate``.  Refusals: another person, a
municipality that does not offer it, a bad encryption key.  And the promise: after the whole
flow, no table holds the name or the birth date.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwe, jwk
from sqlalchemy import MetaData, select

from issuer import oid4vci
from issuer import premium as premium_rules
from issuer.cli import main as issuer_main
from issuer.db import AuditEvent, IssuedCredential, PremiumApplication
from issuer.tenants import get_tenant, update_settings
from tests.premium.conftest import (
    CHIYODA,
    HTTP_TIMEOUT,
    PremiumWorld,
    Registrant,
    new_site,
    prove_with_oidc,
    refusal_code,
    site_qr,
)
from tests.premium.oidc_provider import USERS
from tests.premium.test_service_flow import apply, approve, three_checkins
from tests.wallet.helpers import (
    WalletCli,
    download_status_lists,
    registration_offer,
    run_cli,
    short,
)
from tests.wallet.helpers import verify_json as verifier_json
from vc import oid4vp, sdjwt
from wallet_cli import client
from wallet_cli.store import WalletError

LG = "015814"  # 厚真町; ichiro lives in 千代田区
CHALLENGE = "nursery-challenge-0001"
ICHIRO = USERS["ichiro"]


def offer_personal_claims(pw: PremiumWorld, lg_code: str = LG, value: str = "true") -> None:
    with pw.world.svc.db.transaction() as session:
        update_settings(
            session,
            lg_code,
            set_values={"premium.sdJwtPersonalClaims": value},
            actor="test",
            now=datetime.now(UTC),
        )


def approved_application(pw: PremiumWorld, user: str = "ichiro") -> tuple[Registrant, Any]:
    resident = Registrant.register(pw.url, LG)
    three_checkins(pw, resident)
    application = apply(resident)
    page = prove_with_oidc(application["identityUrl"], user)
    assert 'data-state="submitted"' in page.text, page.text
    assert approve(pw, LG, application).status_code == 200
    return resident, application


def ask_personal(
    pw: PremiumWorld, application: dict[str, Any], key: dict[str, Any]
) -> httpx.Response:
    return httpx.post(
        f"{application['statusUrl']}/personal",
        json={"encryptionJwk": client.public_encryption_jwk(key)},
        headers={"Authorization": f"Bearer {application['statusToken']}"},
        timeout=HTTP_TIMEOUT,
    )


def every_row(pw: PremiumWorld) -> str:
    """Every value of every table, as text (and the SQLite file's bytes, if any)."""
    engine = pw.world.svc.db.engine
    tables = MetaData()
    tables.reflect(engine)
    parts = []
    with engine.connect() as connection:
        for table in tables.tables.values():
            for row in connection.execute(select(table)).all():
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        parts.append(Path(engine.url.database).read_bytes().decode("utf-8", "replace"))
    text = "\n".join(parts)
    # and every base64url run decoded (a Disclosure or a JWT part hides text that way)
    for run in re.findall(r"[A-Za-z0-9_-]{16,}", text):
        padded = run + "=" * (-len(run) % 4)
        with contextlib.suppress(ValueError):
            parts.append(base64.urlsafe_b64decode(padded).decode("utf-8", "replace"))
    return "\n".join(parts)


def assert_no_personal_data(pw: PremiumWorld, *values: str) -> None:
    stored = every_row(pw)
    for value in values:
        assert value not in stored, value
        assert value.replace(" ", "") not in stored, value


# --- the whole flow, with the wallet's command line ----------------------------------------------


def test_wallet_receives_and_presents_name_and_birth_date(
    premium: PremiumWorld, tmp_path: Path
) -> None:
    offer_personal_claims(premium)
    wallet = WalletCli(tmp_path / "wallet").init()
    basic = wallet.receive(registration_offer(premium.live, LG)["offerUri"])
    site = new_site(premium, LG)
    for _ in range(3):
        wallet.ok("checkin", site_qr(premium, LG, site["id"]))
    wallet.ok("apply-premium", "--lg-code", LG)
    application = wallet.open().applications[0]
    assert application.identity_url is not None
    assert 'data-state="submitted"' in prove_with_oidc(application.identity_url, "ichiro").text
    approve(premium, LG, {"applicationId": application.application_id})

    out = wallet.ok("premium-status", "--format", "sd-jwt", "--personal-claims")
    assert "もう一度本人確認" in out
    asked = wallet.open().applications[0]
    assert asked.personal_key is not None
    assert asked.personal_url is not None
    assert asked.personal_url in out
    assert asked.state == "approved"
    # asking again before the identity step shows the same link (no second key)
    assert asked.personal_url in wallet.ok("premium-status")
    assert wallet.open().applications[0].personal_key == asked.personal_key

    page = prove_with_oidc(asked.personal_url, "ichiro")
    assert page.status_code == 200, page.text
    assert 'data-state="issued"' in page.text, page.text
    # the issuer holds only a JWE it cannot open; the wallet collects it
    with premium.world.svc.db.read() as session:
        row = session.get(PremiumApplication, (LG, application.application_id))
        assert row is not None
        assert row.state == "issued"
        assert isinstance(row.session, dict)
        assert row.session["sealed"].count(".") == 4
    out = wallet.ok("premium-status")
    assert "プレミアム証明書を受け取りました" in out
    assert "氏名・生年月日入り" in out
    with premium.world.svc.db.read() as session:
        row = session.get(PremiumApplication, (LG, application.application_id))
        assert row is not None
        assert row.session is None

    held = wallet.open()
    assert held.applications[0].personal_key is None
    assert held.find(basic.id).state == "revoked"  # replaced, as with any premium credential
    premium_sd = [c for c in held.credentials if c.format == "dc+sd-jwt"]
    assert len(premium_sd) == 1
    stored = premium_sd[0]
    assert stored.holder_jwk == basic.holder_jwk
    assert stored.credential["registrationTier"] == "premium"
    assert stored.credential["name"] == ICHIRO.name
    assert stored.credential["birthDate"] == ICHIRO.birthdate
    assert stored.encoded is not None
    names = sorted(d.name or "" for d in sdjwt.parse(stored.encoded).disclosures)
    assert names == ["birthDate", "name", "registeredSince"]
    issuer_jwt = sdjwt.parse(stored.encoded).issuer_jwt.unverified_payload
    assert "name" not in issuer_jwt
    assert "birthDate" not in issuer_jwt

    # the record keeps the SD-JWT without the personal Disclosures
    with premium.world.svc.db.read() as session:
        record = session.get(IssuedCredential, (LG, stored.id))
        assert record is not None
        assert record.format == "dc+sd-jwt"
        assert record.source == "premium-personal"
        kept = sdjwt.parse(record.document)
        assert [d.name for d in kept.disclosures] == ["registeredSince"]
        assert kept.issuer_jwt.text == sdjwt.parse(stored.encoded).issuer_jwt.text
        events = session.execute(
            select(AuditEvent.action).where(AuditEvent.lg_code == LG)
        ).scalars()
        assert "premium.personal_claims" in set(events)

    # presented without choosing: no name, no birth date; chosen: both, verified
    status_args: list[str | Path] = []
    for path in download_status_lists(stored.credential, tmp_path / "status"):
        status_args += ["--status-list", path]
    did = tmp_path / "did.json"
    did.write_bytes(httpx.get(f"{premium.url}/lg/{LG}/did.json", timeout=HTTP_TIMEOUT).content)
    status_args += ["--did-document", did]
    plain = wallet.payload(short(stored.id), "--format", "sd-jwt", "--challenge", CHALLENGE)
    code, result = verifier_json(plain, "--any-issuer", "--challenge", CHALLENGE, *status_args)
    assert code == 0, result
    assert ICHIRO.name not in json.dumps(result, ensure_ascii=False)
    assert ICHIRO.birthdate not in json.dumps(result)
    chosen = wallet.payload(
        short(stored.id),
        "--format",
        "sd-jwt",
        "--challenge",
        CHALLENGE,
        "--disclose",
        "name,birthDate",
    )
    code, result = verifier_json(chosen, "--any-issuer", "--challenge", CHALLENGE, *status_args)
    assert code == 0, result
    assert result["verified"] is True
    shown = json.dumps(result, ensure_ascii=False)
    assert ICHIRO.name in shown
    assert ICHIRO.birthdate in shown

    # an OpenID4VP request for the name (not the birth date) discloses exactly that
    query = oid4vp.furusato_dcql_query(["dc+sd-jwt"], claims=[["registrationTier"], ["name"]])
    matches = oid4vp.match_dcql(query, [oid4vp.candidate("c", "dc+sd-jwt", stored.encoded)])
    ((match,),) = matches.values()
    assert [tuple(p) for p in match.disclose] == [("registrationTier",), ("name",)]
    assert oid4vp.sd_jwt_disclosures_for(stored.encoded, match.disclose) == ["name"]

    assert_no_personal_data(premium, ICHIRO.name, ICHIRO.birthdate)


def test_jpki_card_proves_it_too(premium: PremiumWorld) -> None:
    """A card-reading client (JPKI) for both identity steps; the name is the card's."""
    offer_personal_claims(premium)
    resident = Registrant.register(premium.url, LG)
    three_checkins(premium, resident)
    application = apply(resident)
    assert premium.prove_jpki(LG, application["identityUrl"]).json()["state"] == "submitted"
    assert approve(premium, LG, application).status_code == 200
    status = resident.status(application).json()
    assert status["personalClaimsOffered"] is True
    key = client.new_encryption_key()
    asked = ask_personal(premium, application, key)
    assert asked.status_code == 201, asked.text
    assert resident.status(application).json()["personalClaimsPending"] is True
    answer = premium.prove_jpki(LG, asked.json()["identityUrl"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "issued"
    status = resident.status(application).json()
    assert status["state"] == "issued"
    text = client.open_sealed(status["sealedCredential"], key)
    claims = sdjwt.parse(text)
    values = {d.name: d.value for d in claims.disclosures}
    assert values["name"] == CHIYODA.name
    assert values["birthDate"] == "1980-12-31"  # the card's 319801231: 昭和55年12月31日
    # the offer is used: the ordinary way cannot issue a second premium credential
    with pytest.raises(WalletError, match=r"already used|expired"):
        resident.receive_premium(application_offer(premium, resident))
    # another key cannot open it
    with pytest.raises(WalletError) as wrong:
        client.open_sealed(status["sealedCredential"], client.new_encryption_key())
    assert wrong.value.code == "sealed_unreadable"
    gone = httpx.delete(
        f"{application['statusUrl']}/sealed",
        headers={"Authorization": f"Bearer {application['statusToken']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert gone.status_code == 204
    assert "sealedCredential" not in resident.status(application).json()
    assert_no_personal_data(premium, CHIYODA.name, "1980-12-31")


def application_offer(pw: PremiumWorld, resident: Registrant) -> str:
    """The premium offer of the resident's application, read as staff would see it."""
    with pw.world.svc.db.read() as session:
        row = session.execute(
            select(PremiumApplication).where(PremiumApplication.holder_did == resident.did)
        ).scalar_one()
        tenant = get_tenant(session, LG)
        return oid4vci.offer_uri(
            tenant, premium_rules.offer_ref_for(pw.world.svc.secret, LG, row.application_id)
        )


# --- refusals -----------------------------------------------------------------------------------


def test_another_person_is_refused_and_nothing_is_issued(premium: PremiumWorld) -> None:
    offer_personal_claims(premium)
    resident, application = approved_application(premium, "ichiro")
    key = client.new_encryption_key()
    asked = ask_personal(premium, application, key)
    assert asked.status_code == 201, asked.text
    page = prove_with_oidc(asked.json()["identityUrl"], "misaki")  # someone else's card
    assert refusal_code(page) == "personal_claims_other_person"
    status = resident.status(application).json()
    assert status["state"] == "approved"
    assert "personalClaimsPending" not in status  # the step is closed
    again = httpx.get(asked.json()["identityUrl"], timeout=HTTP_TIMEOUT)
    assert refusal_code(again) == "application_link_invalid"
    with premium.world.svc.db.read() as session:
        premiums = session.execute(
            select(IssuedCredential).where(
                IssuedCredential.lg_code == LG, IssuedCredential.tier == "premium"
            )
        ).all()
    assert premiums == []
    # the approved credential can still be received the ordinary way
    credential = resident.receive_premium(status["offerUri"])
    assert credential["credentialSubject"]["registrationTier"] == "premium"
    assert_no_personal_data(premium, USERS["misaki"].name, ICHIRO.name)


def test_not_offered_by_the_municipality(premium: PremiumWorld, tmp_path: Path) -> None:
    resident, application = approved_application(premium)
    status = resident.status(application).json()
    assert status["personalClaimsOffered"] is False
    refused = ask_personal(premium, application, client.new_encryption_key())
    assert refused.status_code == 404
    assert refused.json()["code"] == "personal_claims_not_offered"
    offer_personal_claims(premium, value="false")
    refused = ask_personal(premium, application, client.new_encryption_key())
    assert refused.json()["code"] == "personal_claims_not_offered"


def test_wallet_says_when_it_is_not_offered(premium: PremiumWorld, tmp_path: Path) -> None:
    wallet = WalletCli(tmp_path / "wallet").init()
    wallet.receive(registration_offer(premium.live, LG)["offerUri"])
    site = new_site(premium, LG)
    for _ in range(3):
        wallet.ok("checkin", site_qr(premium, LG, site["id"]))
    wallet.ok("apply-premium", "--lg-code", LG)
    application = wallet.open().applications[0]
    assert application.identity_url is not None
    prove_with_oidc(application.identity_url, "ichiro")
    approve(premium, LG, {"applicationId": application.application_id})
    result = wallet("premium-status", "--format", "sd-jwt", "--personal-claims")
    assert result.exit_code == 1
    assert "personal_claims_not_offered" in result.stderr
    assert "氏名・生年月日入り" in result.stderr
    assert wallet.open().applications[0].state == "approved"  # nothing received
    usage = wallet("premium-status", "--format", "jwt", "--personal-claims")
    assert usage.exit_code == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"encryptionJwk": "x"},
        {"encryptionJwk": {"kty": "RSA", "n": "x", "e": "AQAB"}},
        {"encryptionJwk": {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}},
        {"encryptionJwk": {"kty": "OKP", "crv": "X25519", "x": "A" * 43, "d": "B" * 43}},
        {"encryptionJwk": {"kty": "OKP", "crv": "X25519", "x": "not base64!"}},
        {"encryptionJwk": {"kty": "OKP", "crv": "X25519", "x": "A" * 43, "use": "sig"}},
        {"encryptionJwk": {"kty": "EC", "crv": "P-256", "x": "A" * 43}},
        {"encryptionJwk": {"kty": "OKP", "crv": "X25519", "x": "A" * 43}, "extra": 1},
    ],
)
def test_bad_encryption_keys_are_refused(premium: PremiumWorld, body: Any) -> None:
    offer_personal_claims(premium)
    resident, application = approved_application(premium)
    refused = httpx.post(
        f"{application['statusUrl']}/personal",
        json=body,
        headers={"Authorization": f"Bearer {application['statusToken']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "personalClaimsPending" not in resident.status(application).json()


def test_only_an_approved_application_with_its_status_token(premium: PremiumWorld) -> None:
    offer_personal_claims(premium)
    resident = Registrant.register(premium.url, LG)
    application = apply(resident)  # still in its identity step
    key = client.new_encryption_key()
    early = ask_personal(premium, application, key)
    assert early.status_code == 409
    assert early.json()["code"] == "invalid_state"
    stolen = httpx.post(
        f"{application['statusUrl']}/personal",
        json={"encryptionJwk": client.public_encryption_jwk(key)},
        headers={"Authorization": "Bearer " + "x" * 43},
        timeout=HTTP_TIMEOUT,
    )
    assert stolen.status_code == 404


# --- the sealed credential, as outside data for the wallet --------------------------------------


def _sealed(payload: bytes, key: dict[str, Any], **header: str) -> str:
    protected = {"alg": "ECDH-ES", "enc": "A256GCM", "cty": "dc+sd-jwt", **header}
    message = jwe.JWE(payload, protected=json.dumps(protected))
    message.add_recipient(jwk.JWK(**client.public_encryption_jwk(key)))
    text: str = message.serialize(compact=True)
    return text


def test_open_sealed_checks_the_header_and_the_key() -> None:
    key = client.new_encryption_key()
    assert client.open_sealed(_sealed(b"a~b~", key), key) == "a~b~"
    for header in ({"enc": "A128GCM"}, {"cty": "jwt"}):
        with pytest.raises(WalletError) as bad:
            client.open_sealed(_sealed(b"a~b~", key, **header), key)
        assert bad.value.code == "unexpected_answer"
    with pytest.raises(WalletError) as other:
        client.open_sealed(_sealed(b"a~b~", key), client.new_encryption_key())
    assert other.value.code == "sealed_unreadable"
    sealed = _sealed(b"a~b~", key)
    head, rest = sealed.split(".", 1)
    tampered = head + "." + rest[:-2] + ("A" if rest[-2] != "A" else "B") + rest[-1]
    with pytest.raises(WalletError):
        client.open_sealed(tampered, key)


FIXED_KEY = client.new_encryption_key()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=100), st.none(), st.integers()))
def test_open_sealed_never_fails_unexpectedly(value: Any) -> None:
    with pytest.raises(WalletError):
        client.open_sealed(value, FIXED_KEY)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ABCDEFabcdef0123456789-_", max_size=60), min_size=5, max_size=5))
def test_open_sealed_on_five_part_garbage(parts: list[str]) -> None:
    with pytest.raises(WalletError):
        client.open_sealed(".".join(parts), FIXED_KEY)


# --- the municipality's setting, with the issuer's command line ----------------------------------


def test_settings_command(premium: PremiumWorld) -> None:
    settings_ = premium.world.svc.settings
    base = ["settings", "--data-dir", str(settings_.data_dir)]
    if settings_.database_url:
        base += ["--database-url", settings_.database_url]
    env = {"FURUSATO_ISSUER_SECRET": premium.world.svc.secret}
    shown = run_cli(issuer_main, [*base, "--lg-code", LG], env=env)
    assert shown.exit_code == 0, shown.stderr
    assert "premium.sdJwtPersonalClaims = (既定 / default)" in shown.stdout
    done = run_cli(
        issuer_main,
        [
            *base,
            "--lg-code",
            LG,
            "--set",
            "premium.sdJwtPersonalClaims=true",
            "--set",
            "premium.minActivities=5",
            "--json",
        ],
        env=env,
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {"premium": {"sdJwtPersonalClaims": True, "minActivities": 5}}
    resident = Registrant.register(premium.url, LG)
    assert apply(resident)["minActivities"] == 5  # in force at once
    unset = run_cli(
        issuer_main, [*base, "--lg-code", LG, "--unset", "premium.minActivities", "--json"], env=env
    )
    assert json.loads(unset.stdout) == {"premium": {"sdJwtPersonalClaims": True}}
    for bad in ("premium.minActivities=many", "premium.minActivities=51", "premium.nope=1", "x"):
        refused = run_cli(issuer_main, [*base, "--lg-code", LG, "--set", bad], env=env)
        assert refused.exit_code == 2, (bad, refused.stdout)
        assert "Traceback" not in refused.stderr
    flag = run_cli(
        issuer_main, [*base, "--lg-code", LG, "--set", "premium.sdJwtPersonalClaims=yes"], env=env
    )
    assert flag.exit_code == 2
    assert "true か false" in flag.stderr
