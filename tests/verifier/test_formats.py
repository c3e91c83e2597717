"""``furusato-verifier verify`` with the three formats, from a synced cache (docs/formats.md).

The live issuer issues the Data Integrity credential (tests/verifier/conftest.py); the same
registration is secured here as a ``vc+jwt`` and as an SD-JWT VC with 厚真町's own signing key
from the issuer's key ring — the key the registry lists — so the verifier trusts them through
the registry and checks them against the status lists it synced, exactly as the Data
Integrity credential.  Revoking the registration at the issuer reaches all three formats.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import segno

from did.key import did_key_verification_method_id
from schemas.loader import CREDENTIALS_V2
from tests.verifier.conftest import Site, municipality_key, sd_jwt_claims_of, sync_site
from tests.wallet.helpers import HTTP_TIMEOUT, LG, verifier
from vc import envelope, formats, jose, sdjwt
from vc.dates import parse_datetime
from vc.presentation import create_presentation, sign_presentation

Doc = dict[str, Any]
WALLET_CHALLENGE = "wallet-made-7Qx2"


@dataclass
class Shown:
    """The basic credential of 015814 in every format, and what its holder shows."""

    di_vp_qr: str  # FR1
    vc_jwt: str
    vp_jwt: str
    sd_jwt: str  # no KB-JWT
    sd_jwt_kb: str


def build(site: Site, *, now: datetime, challenge: str = WALLET_CHALLENGE) -> Shown:
    stored = site.setup.basic
    credential = {k: v for k, v in stored.credential.items() if k != "proof"}
    holder = site.setup.holder_key(stored)
    holder_did = credential["credentialSubject"]["id"]
    holder_vm = did_key_verification_method_id(holder.public_key)
    key = municipality_key(site)
    signed_at = parse_datetime(credential["validFrom"], "validFrom")

    vc_jwt = jose.sign_vc_jwt(
        credential, key.signer, kid=key.verification_method, issued_at=signed_at
    )
    vp_jwt = jose.sign_vp_jwt(
        {
            "@context": [CREDENTIALS_V2],
            "type": ["VerifiablePresentation"],
            "holder": holder_did,
            "verifiableCredential": [jose.envelope(vc_jwt)],
        },
        holder,
        kid=holder_vm,
        nonce=challenge,
        audience=envelope.QR_DOMAIN,
        issued_at=now,
    )
    claims = sd_jwt_claims_of(credential, holder)
    sd_jwt = sdjwt.issue_sd_jwt(
        claims,
        key.signer,
        kid=key.verification_method,
        disclosable=["registrationTier", "registeredSince"],
        random_bytes=secrets.token_bytes,
    )
    sd_jwt = sdjwt.present(sd_jwt, disclose=["registrationTier", "registeredSince"], holder=None)
    sd_jwt_kb = sdjwt.present(
        sd_jwt,
        disclose=["registrationTier", "registeredSince"],
        holder=holder,
        nonce=challenge,
        audience=envelope.QR_DOMAIN,
        issued_at=now,
    )
    di_vp = sign_presentation(
        create_presentation([stored.credential], holder=holder_did),
        holder,
        verification_method=holder_vm,
        challenge=challenge,
        domain=envelope.QR_DOMAIN,
        created=now,
    )
    return Shown(envelope.encode_presentation(di_vp), vc_jwt, vp_jwt, sd_jwt, sd_jwt_kb)


def check(site: Site, source: str | Path, *args: str | Path) -> tuple[int, Doc]:
    result = verifier("verify", source, "--cache-dir", site.cache, "--json", *args)
    assert result.stderr == "", result.stderr
    answer: Doc = json.loads(result.stdout)
    return result.exit_code, answer


def test_every_format_verifies_from_the_cache(site: Site, tmp_path: Path) -> None:
    sync_site(site)
    now = datetime.now(UTC)
    shown = build(site, now=now)
    cases = {
        "FR1": (shown.di_vp_qr, formats.LDP_VC, "presentation"),
        "vp+jwt": (shown.vp_jwt, formats.JWT_VC_JSON, "presentation"),
        "sd-jwt+kb": (shown.sd_jwt_kb, formats.DC_SD_JWT, "credential"),
        "vc+jwt": (shown.vc_jwt, formats.JWT_VC_JSON, "credential"),
        "sd-jwt": (shown.sd_jwt, formats.DC_SD_JWT, "credential"),
        "FRJ vp+jwt": (
            formats.encode_enveloped(formats.VP_JWT_MEDIA_TYPE, shown.vp_jwt),
            formats.JWT_VC_JSON,
            "presentation",
        ),
        "FRJ sd-jwt+kb": (
            formats.encode_enveloped(formats.SD_JWT_MEDIA_TYPE, shown.sd_jwt_kb),
            formats.DC_SD_JWT,
            "credential",
        ),
    }
    for name, (text, fmt, kind) in cases.items():
        code, answer = check(site, text)
        assert code == 0, (name, answer["codes"], answer)
        assert answer["format"] == fmt, name
        assert answer["kind"] == kind, name
        summary = answer["summary"]
        assert summary["lgCode"] == LG, name
        assert summary["tier"] == "basic", name
        assert summary["format"] == fmt, name
        assert summary["validUntil"] is not None, name
        assert summary["issuer"] == site.setup.basic.credential["issuer"]["id"], name

    # a file holding the compact text, and stdin, read the same
    path = tmp_path / "presentation.txt"
    path.write_text(shown.sd_jwt_kb + "\n")
    code, answer = check(site, path)
    assert (code, answer["format"]) == (0, formats.DC_SD_JWT), answer["codes"]
    path.write_text(shown.vc_jwt)
    code, answer = check(site, path)
    assert (code, answer["format"], answer["kind"]) == (0, formats.JWT_VC_JSON, "credential")

    # the human output names the format
    human = verifier("verify", shown.sd_jwt_kb, "--cache-dir", site.cache)
    assert human.exit_code == 0, human.stdout
    assert "形式: SD-JWT VC" in human.stdout
    assert "自治体: 北海道 厚真町 (015814)" in human.stdout
    english = verifier("verify", shown.vp_jwt, "--cache-dir", site.cache, "--lang", "en")
    assert "Format: VC-JOSE (JWT)" in english.stdout


def test_the_frj_qr_image_of_an_sd_jwt_with_key_binding(site: Site, tmp_path: Path) -> None:
    sync_site(site)
    shown = build(site, now=datetime.now(UTC))
    text = formats.encode_enveloped(formats.SD_JWT_MEDIA_TYPE, shown.sd_jwt_kb)
    image = tmp_path / "qr.png"
    segno.make(text, error="m", micro=False).save(str(image), scale=4, border=4)
    code, answer = check(site, image)
    assert code == 0, answer["codes"]
    assert answer["format"] == formats.DC_SD_JWT
    # seen twice within the window: a replay warning, as for FR1
    code, answer = check(site, image)
    assert code == 0
    assert [w["code"] for w in answer["warnings"]] == ["challenge_not_checked", "replayed"]


def test_policy_refuses_the_tier_in_every_format(site: Site) -> None:
    sync_site(site)
    shown = build(site, now=datetime.now(UTC))
    policy = site.cache.parent / "nursery.json"
    policy.write_text(json.dumps({"name": "厚真町保育所", "tiers": ["premium"]}))
    for text in (shown.di_vp_qr, shown.vp_jwt, shown.sd_jwt_kb):
        code, answer = check(site, text, "--policy", policy)
        assert code == 1
        assert answer["codes"] == ["policy_tier"], answer["codes"]
    other_town = site.cache.parent / "sapporo.json"
    other_town.write_text(json.dumps({"municipalities": ["011002"]}))
    for text in (shown.di_vp_qr, shown.vp_jwt, shown.sd_jwt_kb):
        code, answer = check(site, text, "--policy", other_town)
        assert answer["codes"] == ["policy_municipality"], answer["codes"]


def test_the_verifiers_challenge_binds_every_format(site: Site) -> None:
    sync_site(site)
    shown = build(site, now=datetime.now(UTC), challenge="counter-challenge-1")
    for text in (shown.di_vp_qr, shown.vp_jwt, shown.sd_jwt_kb):
        code, answer = check(site, text, "--challenge", "counter-challenge-1")
        assert code == 0, answer["codes"]
        assert answer["warnings"] == []
        code, answer = check(site, text, "--challenge", "counter-challenge-2")
        assert code == 1
        assert answer["codes"] == ["challenge_mismatch"], answer["codes"]
    # a credential alone where a challenge is asked: no presentation, no key binding
    code, answer = check(site, shown.sd_jwt, "--challenge", "counter-challenge-1")
    assert answer["codes"] == ["sd_jwt_key_binding_missing"]
    # a screenshot: the same presentations ten minutes later
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    for text in (shown.di_vp_qr, shown.vp_jwt, shown.sd_jwt_kb):
        code, answer = check(site, text, "--now", later)
        assert answer["codes"] == ["presentation_stale"], answer["codes"]


def test_revocation_at_the_issuer_reaches_every_format(site: Site) -> None:
    sync_site(site)
    shown = build(site, now=datetime.now(UTC))
    stored = site.setup.basic
    response = httpx.post(
        f"{site.live.url}/admin/api/credentials/{stored.credential['id']}/revoke",
        headers={"Authorization": f"Bearer {site.live.world.staff_token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code in (200, 201), response.text
    for text in (shown.di_vp_qr, shown.vp_jwt, shown.sd_jwt_kb):
        code, answer = check(site, text)
        assert code == 0  # the cache still has yesterday's lists
    sync_site(site)
    for text in (shown.di_vp_qr, shown.vp_jwt, shown.sd_jwt_kb, shown.vc_jwt, shown.sd_jwt):
        code, answer = check(site, text)
        assert code == 1
        assert answer["codes"] == ["revoked"], answer["codes"]


def test_the_scanner_accepts_the_compact_text(site: Site) -> None:
    from fastapi.testclient import TestClient

    from verifier.cache import VerifierCache
    from verifier.policy import Policy
    from verifier.web import create_app

    sync_site(site)
    shown = build(site, now=datetime.now(UTC))
    app = create_app(VerifierCache(site.cache), Policy(), clock=lambda: datetime.now(UTC))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for text, fmt in (
            (shown.vp_jwt, formats.JWT_VC_JSON),
            (shown.sd_jwt_kb, formats.DC_SD_JWT),
            (formats.encode_enveloped(formats.SD_JWT_MEDIA_TYPE, shown.sd_jwt_kb), "dc+sd-jwt"),
        ):
            answer = client.post("/api/verify", json={"payload": text}).json()
            assert answer["verified"] is True, answer["reasons"]
            assert answer["summary"]["format"] == fmt
            assert answer["summary"]["formatName"]["ja"] == formats.FORMAT_NAMES[fmt][0]
            assert answer["result"]["format"] == fmt
        # a credential on its own is not a presentation: the counter wants the holder
        answer = client.post("/api/verify", json={"payload": shown.vc_jwt}).json()
        assert answer["verified"] is False
        assert [r["code"] for r in answer["reasons"]] == ["holder_binding_failed"]
        response = client.post("/api/verify", json={"payload": "not.a.token"})
        assert response.status_code == 400
        assert response.json()["code"] == "not_a_payload"
