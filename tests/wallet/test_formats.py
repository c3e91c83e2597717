"""The wallet receives, keeps and presents the three formats (docs/formats.md, docs/wallet.md).

A wallet takes one offer of the live issuer per format (``receive --format ldp|jwt|sd-jwt``);
``list``/``show`` read every one; ``present --payload`` gives the ``FR1:`` QR for ``ldp_vc``
and, for the JOSE formats, an ``EnvelopedVerifiablePresentation`` in the generic ``FRJ:`` QR,
checked here with the libraries (``vc.jose.verify_vp_jwt``, ``vc.sdjwt.verify_sd_jwt`` with
key binding) and — in the tests named ``…_verifier_cli`` — with ``furusato-verifier verify``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from did.document import public_key_from_verification_method
from did.key import did_key_from_public_key
from did.keys import PrivateKey, PublicKey
from did.multibase import base64url_decode
from did.resolver import Resolver
from tests.cli.helpers import assert_one_line_error
from tests.issuer.conftest import LiveServer, free_port, make_world
from tests.wallet.helpers import (
    HTTP_TIMEOUT,
    LG,
    WalletCli,
    expect,
    registration_offer,
    short,
    verify_json,
)
from vc import envelope, jose, oid4vci, sdjwt
from vc.furusato import RESIDENT_VCT
from wallet_cli.store import StoredCredential, Wallet, WalletStore

Doc = dict[str, Any]
FORMATS = {"ldp": "ldp_vc", "jwt": "jwt_vc_json", "sd-jwt": "dc+sd-jwt"}
CHALLENGE = "fmt-challenge-42"


@dataclass
class Formats:
    live: LiveServer
    wallet: WalletCli
    stored: dict[str, StoredCredential]  # by --format option
    tmp: Path

    def resolver(self) -> Resolver:
        def fetch(url: str) -> bytes:
            response = httpx.get(url.replace("https://localhost", "http://localhost"))
            response.raise_for_status()
            return response.content

        return Resolver(fetch)

    def key_for(self, kid: str) -> PublicKey:
        return public_key_from_verification_method(
            self.resolver().dereference(kid, "assertionMethod")
        )


def _receive(live: LiveServer, wallet: WalletCli, option: str) -> StoredCredential:
    before = {c.id for c in wallet.open().credentials}
    args = ["receive", registration_offer(live, LG)["offerUri"]]
    if option != "ldp":
        args += ["--format", option]
    wallet.ok(*args)
    added = [c for c in wallet.open().credentials if c.id not in before]
    assert len(added) == 1, added
    return added[0]


@pytest.fixture(scope="module")
def formats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Formats]:
    """One wallet with a credential of 015814 in each format (nothing here changes them)."""
    tmp = tmp_path_factory.mktemp("wallet-formats")
    port = free_port()
    world = make_world(
        f"sqlite:///{tmp / 'issuer.db'}", tmp / "data", f"http://localhost:{port}", pool_size=20
    )
    try:
        with LiveServer(world, port) as server:
            wallet = WalletCli(tmp / "wallet").init()
            stored = {option: _receive(server, wallet, option) for option in FORMATS}
            yield Formats(server, wallet, stored, tmp)
    finally:
        world.svc.close()


# --- receive and store ---------------------------------------------------------------------------


@pytest.mark.parametrize("option", list(FORMATS))
def test_receive_keeps_the_format(formats: Formats, option: str) -> None:
    stored = formats.stored[option]
    assert stored.format == FORMATS[option]
    assert stored.state == "active"
    key = PrivateKey.from_jwk(stored.holder_jwk)
    if option == "ldp":
        assert stored.encoded is None
        assert "proof" in stored.credential
        return
    assert isinstance(stored.encoded, str)
    if option == "jwt":
        assert stored.encoded.count(".") == 2
        assert stored.credential["credentialSubject"]["id"] == did_key_from_public_key(
            key.public_key
        )
        assert len(stored.credential["credentialStatus"]) == 2
        assert stored.id == stored.credential["id"]
    else:
        assert stored.encoded.endswith("~")
        assert stored.credential["vct"] == RESIDENT_VCT
        assert PublicKey.from_jwk(stored.credential["cnf"]["jwk"]) == key.public_key
        assert len(stored.credential["status"]["bitstring_status_list"]) == 2
        assert stored.id == stored.credential["jti"]


def test_the_three_keys_differ(formats: Formats) -> None:
    """A new key for each registration, whatever the format."""
    keys = {json.dumps(s.holder_jwk, sort_keys=True) for s in formats.stored.values()}
    assert len(keys) == 3


def test_list_shows_every_format(formats: Formats) -> None:
    lines = formats.wallet.ok("list").splitlines()
    by_id = {line.split()[0]: line for line in lines}
    assert "形式 JSON-LD" in by_id[short(formats.stored["ldp"].id)]
    assert "形式 VC-JWT" in by_id[short(formats.stored["jwt"].id)]
    assert "形式 SD-JWT VC" in by_id[short(formats.stored["sd-jwt"].id)]
    for line in lines:
        assert "北海道厚真町" in line
        assert "ベーシック" in line
        assert "状態 有効" in line
    rows = json.loads(formats.wallet.ok("list", "--json"))
    assert {r["format"] for r in rows} == set(FORMATS.values())
    assert {r["lgCode"] for r in rows} == {LG}
    assert {r["tier"] for r in rows} == {"basic"}
    valid = {r["format"]: r["validUntil"][:10] for r in rows}
    assert len(set(valid.values())) == 1, valid  # the same registration facts


@pytest.mark.parametrize("option", ["jwt", "sd-jwt"])
def test_show_a_compact_credential(formats: Formats, option: str) -> None:
    stored = formats.stored[option]
    ja = formats.wallet.ok("show", short(stored.id))
    assert f"形式: {'VC-JWT' if option == 'jwt' else 'SD-JWT VC'} ({FORMATS[option]})" in ja
    assert f"北海道 厚真町 ({LG})" in ja
    en = formats.wallet.ok("--lang", "en", "show", short(stored.id))
    assert "Format: " in en
    assert "Tier: basic" in en
    shown = json.loads(formats.wallet.ok("show", short(stored.id), "--json"))
    assert shown["format"] == FORMATS[option]
    assert shown["credential"] == stored.credential
    refreshed = formats.wallet.ok("--lang", "en", "show", short(stored.id), "--refresh")
    assert "Status: active" in refreshed


# --- present -------------------------------------------------------------------------------------


def _enveloped(text: str, media_type: str) -> str:
    assert text.startswith(envelope.GENERIC_PREFIX), text[:10]
    document = envelope.decode(text)
    assert document["type"] == "EnvelopedVerifiablePresentation"
    assert document["@context"] == "https://www.w3.org/ns/credentials/v2"
    prefix = f"data:{media_type},"
    assert document["id"].startswith(prefix)
    compact: str = document["id"][len(prefix) :]
    return compact


def test_present_ldp_is_the_profile_qr(formats: Formats) -> None:
    text = formats.wallet.payload(short(formats.stored["ldp"].id), "--format", "ldp")
    assert text.startswith(envelope.PROFILE_PREFIX)


def test_present_jwt(formats: Formats) -> None:
    stored = formats.stored["jwt"]
    text = formats.wallet.payload(short(stored.id), "--format", "jwt", "--challenge", CHALLENGE)
    token = _enveloped(text, "application/vp+jwt")
    now = datetime.now(UTC)
    vp = jose.verify_vp_jwt(
        token,
        key_for=lambda kid: PrivateKey.from_jwk(stored.holder_jwk).public_key,
        nonce=CHALLENGE,
        audience=envelope.QR_DOMAIN,
        now=now,
        max_age=timedelta(minutes=2),
    )
    assert vp.holder == did_key_from_public_key(PrivateKey.from_jwk(stored.holder_jwk).public_key)
    assert vp.unverified_credentials == (stored.encoded,)
    vc = jose.verify_vc_jwt(vp.unverified_credentials[0], key_for=formats.key_for, now=now)
    assert vc.credential["credentialSubject"]["id"] == vp.holder
    with pytest.raises(jose.JoseChallengeError):
        jose.verify_vp_jwt(
            token,
            key_for=lambda kid: PrivateKey.from_jwk(stored.holder_jwk).public_key,
            nonce="another",
            audience=envelope.QR_DOMAIN,
            now=now,
            max_age=timedelta(minutes=2),
        )


def test_present_jwt_with_a_fresh_challenge(formats: Formats) -> None:
    """Without --challenge the wallet makes a random one, as for the FR1 QR."""
    stored = formats.stored["jwt"]
    first = _enveloped(formats.wallet.payload(short(stored.id)), "application/vp+jwt")
    second = _enveloped(formats.wallet.payload(short(stored.id)), "application/vp+jwt")
    nonces = {_payload(first)["nonce"], _payload(second)["nonce"]}
    assert len(nonces) == 2
    assert {_payload(first)["aud"], _payload(second)["aud"]} == {envelope.QR_DOMAIN}


def _payload(token: str) -> Doc:
    """The payload of a JWS, not verified (what to look at only)."""
    value: Doc = json.loads(base64url_decode(token.split(".")[1]))
    return value


def test_present_sd_jwt(formats: Formats) -> None:
    stored = formats.stored["sd-jwt"]
    text = formats.wallet.payload(short(stored.id), "--format", "sd-jwt", "--challenge", CHALLENGE)
    presented = _enveloped(text, "application/dc+sd-jwt")
    issuer_jwt = str(stored.encoded).partition("~")[0]
    assert presented.startswith(issuer_jwt + "~")
    resolver = formats.resolver()

    def issuer_key(header: Any, payload: Any) -> PublicKey:
        assert header["kid"].partition("#")[0] == payload["iss"]
        return public_key_from_verification_method(
            resolver.dereference(header["kid"], "assertionMethod")
        )

    verified = sdjwt.verify_sd_jwt(
        presented,
        issuer_key=issuer_key,
        now=datetime.now(UTC),
        key_binding=sdjwt.KeyBindingPolicy(nonce=CHALLENGE, audience=envelope.QR_DOMAIN),
    )
    assert verified.key_bound
    assert verified.kb_payload is not None
    assert verified.kb_payload["nonce"] == CHALLENGE
    assert verified.processed_claims["municipality"]["lgCode"] == LG
    assert "registeredSince" not in verified.processed_claims  # not disclosed unless chosen
    chosen = formats.wallet.payload(
        short(stored.id),
        "--format",
        "sd-jwt",
        "--challenge",
        CHALLENGE,
        "--disclose",
        "registeredSince",
    )
    disclosed = sdjwt.verify_sd_jwt(
        _enveloped(chosen, "application/dc+sd-jwt"),
        issuer_key=issuer_key,
        now=datetime.now(UTC),
        key_binding=sdjwt.KeyBindingPolicy(nonce=CHALLENGE, audience=envelope.QR_DOMAIN),
    )
    assert disclosed.disclosed == ("registeredSince",)
    with pytest.raises(sdjwt.SdJwtError) as wrong:
        sdjwt.verify_sd_jwt(
            presented,
            issuer_key=issuer_key,
            now=datetime.now(UTC),
            key_binding=sdjwt.KeyBindingPolicy(nonce="another", audience=envelope.QR_DOMAIN),
        )
    assert wrong.value.code == "challenge_mismatch"


def _status_lists(formats: Formats, stored: StoredCredential) -> list[str]:
    entries = (
        stored.credential["status"]["bitstring_status_list"]
        if stored.format == "dc+sd-jwt"
        else stored.credential["credentialStatus"]
    )
    directory = formats.tmp / "status"
    directory.mkdir(exist_ok=True)
    args = []
    for entry in entries:
        url = entry["statusListCredential"]
        response = httpx.get(url, timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, response.text
        path = directory / (url.rsplit("/", 3)[-2] + "-" + url.rsplit("/", 1)[-1] + ".json")
        path.write_bytes(response.content)
        args += ["--status-list", str(path)]
    did_document = formats.tmp / "did.json"
    response = httpx.get(f"{formats.live.url}/lg/{LG}/did.json", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    did_document.write_bytes(response.content)
    return [*args, "--did-document", str(did_document)]


@pytest.mark.parametrize("option", ["jwt", "sd-jwt"])
def test_present_then_verifier_cli(formats: Formats, option: str) -> None:
    """**The verifier CLI** (the other helper's work: it accepts the enveloped JOSE
    presentations in ``FRJ:``) verifies what the wallet shows."""
    stored = formats.stored[option]
    payload = formats.wallet.payload(short(stored.id), "--challenge", CHALLENGE)
    code, result = verify_json(
        payload, "--any-issuer", "--challenge", CHALLENGE, *_status_lists(formats, stored)
    )
    assert code == 0, result
    assert result["verified"] is True


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "args", "needle"),
    [
        ("ldp", ["--format", "jwt"], "ldp_vc"),
        ("jwt", ["--format", "sd-jwt"], "jwt_vc_json"),
        ("sd-jwt", ["--disclose", "name"], "name"),
        ("jwt", ["--disclose", "name"], "--disclose"),
        ("ldp", ["--disclose", "name,birthDate"], "--disclose"),
        ("sd-jwt", ["--disclose", "name,,x"], "--disclose"),
    ],
)
def test_present_usage_errors(formats: Formats, option: str, args: list[str], needle: str) -> None:
    result = expect(
        formats.wallet("present", short(formats.stored[option].id), "--payload", *args), 2
    )
    assert result.stdout == ""
    assert needle in result.stderr
    assert_one_line_error(result.stderr)


def test_receive_a_format_the_offer_lacks(
    formats: Formats, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An offer that does not list the configuration asked for: refused, nothing kept."""
    offer = registration_offer(formats.live, LG)["offerUri"]
    real = oid4vci.parse_credential_offer

    def ldp_only(value: Any, **kwargs: Any) -> oid4vci.CredentialOffer:
        parsed = real(value, **kwargs)
        return replace(
            parsed, credential_configuration_ids=(parsed.credential_configuration_ids[0],)
        )

    monkeypatch.setattr(oid4vci, "parse_credential_offer", ldp_only)
    before = len(formats.wallet.open().credentials)
    result = expect(formats.wallet("receive", offer, "--format", "sd-jwt"), 1)
    assert "format_not_offered" in result.stderr
    assert_one_line_error(result.stderr)
    assert len(formats.wallet.open().credentials) == before


# --- the store -----------------------------------------------------------------------------------


def test_an_old_wallet_file_loads(formats: Formats, tmp_path: Path) -> None:
    """A wallet written before the compact formats (no "encoded" member) loads and works."""
    store = WalletStore(formats.wallet.directory)
    data = store.load(formats.wallet.passphrase).to_json()
    data["credentials"] = [c for c in data["credentials"] if c["format"] == "ldp_vc"]
    assert all("encoded" not in c for c in data["credentials"])
    old = WalletCli(tmp_path / "old").init()
    WalletStore(old.directory).save(Wallet.from_json(data), old.passphrase, secrets.token_bytes)
    loaded = old.open()
    assert [c.format for c in loaded.credentials] == ["ldp_vc"]
    assert loaded.credentials[0].encoded is None
    assert "形式 JSON-LD" in old.ok("list")
    assert old.payload(short(loaded.credentials[0].id)).startswith(envelope.PROFILE_PREFIX)


# --- revocation of a compact credential -------------------------------------------------------


@pytest.mark.parametrize("option", ["jwt", "sd-jwt"])
def test_revoked_compact_credential_shows_revoked(
    live: LiveServer, tmp_path: Path, option: str
) -> None:
    wallet = WalletCli(tmp_path / "wallet").init()
    stored = _receive(live, wallet, option)
    response = httpx.post(
        f"{live.url}/admin/api/credentials/{stored.id}/revoke",
        json={"reason": "test"},
        headers={"Authorization": f"Bearer {live.world.staff_token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    out = wallet.ok("--lang", "en", "show", short(stored.id), "--refresh")
    assert "Status: revoked" in out
    assert wallet.open().credentials[0].state == "revoked"
