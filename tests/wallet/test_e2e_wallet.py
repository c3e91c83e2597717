"""Issue 4, "Done means": the wallet end to end against a real issuer server.

Two municipalities (015814 北海道厚真町, 011002 北海道札幌市) on one live uvicorn server; the
wallet receives one credential from each through OID4VCI (offers made by staff through the
admin API), lists them, presents one as a PNG; the PNG decodes back (zxing-cpp) to the payload;
``furusato-verifier verify --registry … --registry-key …`` accepts it with a registry that
lists the issuer (built with ``furusato-issuer registry``) and refuses it with one that does
not; ``decode`` prints the exact VP, which Digital Bazaar's stack verifies.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from issuer.issuance import issue_resident
from issuer.tenants import did_document
from shellkit.qrimage import read_one_qr, read_qr_texts
from tests.cli.helpers import assert_one_line_error
from tests.interop.jsbridge import JsBridge
from tests.issuer.conftest import make_world
from tests.wallet.helpers import (
    LG,
    OTHER_LG,
    Setup,
    expect,
    key_created_at,
    short,
    verifier,
    verify_json,
)
from vc import envelope
from vc.envelope import GENERIC_PREFIX, PROFILE_PREFIX, QR_DOMAIN
from vc.registry import Registry, entry_from_did_document
from vc.verify import VerifyOptions, verify_credential
from wallet_cli.store import StoredCredential

Doc = dict[str, Any]


@pytest.fixture
def setup(shared_setup: Setup) -> Setup:
    """Nothing here changes the wallet or the server: one setup for the module."""
    return shared_setup


def _valid_until(stored: StoredCredential) -> str:
    """validUntil as the wallet prints it: the date in JST."""
    from wallet_cli.cli import _jst

    return _jst(stored.credential["validUntil"])


def _pick(setup: Setup, which: str) -> StoredCredential:
    return setup.basic if which == "basic" else setup.premium


# --- receive and list ----------------------------------------------------------------------------


def test_the_wallet_holds_one_credential_from_each_municipality(setup: Setup) -> None:
    wallet = setup.wallet.open()
    assert {c.id for c in wallet.credentials} == {setup.basic.id, setup.premium.id}
    basic, premium = setup.basic.credential, setup.premium.credential
    assert basic["credentialSubject"]["municipality"]["lgCode"] == LG
    assert basic["credentialSubject"]["registrationTier"] == "basic"
    assert premium["credentialSubject"]["municipality"]["lgCode"] == OTHER_LG
    assert premium["credentialSubject"]["registrationTier"] == "premium"
    # a fresh holder key per registration, each the subject of its credential
    assert setup.basic.holder_jwk["x"] != setup.premium.holder_jwk["x"]
    for stored in (setup.basic, setup.premium):
        assert (
            stored.issuer_url
            == f"{setup.live.url}/lg/{stored.credential['credentialSubject']['municipality']['lgCode']}"
        )
        assert stored.credential["credentialSubject"]["id"].startswith("did:key:z6Mk")
        assert stored.state == "active"


def test_list_in_japanese(setup: Setup) -> None:
    lines = setup.wallet.ok("list").splitlines()
    assert len(lines) == 2, lines
    by_id = {line.split()[0]: line for line in lines}
    basic = by_id[short(setup.basic.id)]
    premium = by_id[short(setup.premium.id)]
    assert "北海道厚真町" in basic
    assert "ベーシック" in basic
    assert f"有効期限 {_valid_until(setup.basic)}" in basic
    assert "状態 有効" in basic
    assert "北海道札幌市" in premium
    assert "プレミアム" in premium
    assert f"有効期限 {_valid_until(setup.premium)}" in premium
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", _valid_until(setup.basic))


def test_list_in_english(setup: Setup) -> None:
    lines = setup.wallet.ok("--lang", "en", "list").splitlines()
    assert len(lines) == 2, lines
    by_id = {line.split()[0]: line for line in lines}
    basic = by_id[short(setup.basic.id)]
    premium = by_id[short(setup.premium.id)]
    assert "厚真町 (北海道)" in basic  # names are proper nouns: the MIC table has no romaji
    assert "basic" in basic
    assert f"valid until {_valid_until(setup.basic)}" in basic
    assert "active" in basic
    assert "札幌市 (北海道)" in premium
    assert "premium" in premium
    for label in ("ベーシック", "プレミアム", "有効期限", "状態"):
        assert label not in basic + premium


def test_list_json(setup: Setup) -> None:
    rows = json.loads(setup.wallet.ok("list", "--json"))
    by_lg = {row["lgCode"]: row for row in rows}
    assert by_lg[LG]["municipality"] == "厚真町"
    assert by_lg[LG]["tier"] == "basic"
    assert by_lg[LG]["id"] == setup.basic.id
    assert by_lg[LG]["validUntil"] == setup.basic.credential["validUntil"]
    assert by_lg[OTHER_LG]["municipality"] == "札幌市"
    assert by_lg[OTHER_LG]["tier"] == "premium"
    assert {row["state"] for row in rows} == {"active"}


def test_show_in_both_languages(setup: Setup) -> None:
    ja = setup.wallet.ok("show", short(setup.premium.id))
    assert "自治体: 北海道 札幌市 (011002)" in ja
    assert "登録区分: プレミアム" in ja
    assert f"有効期限: {_valid_until(setup.premium)}" in ja
    assert f"ID: {setup.premium.id}" in ja
    en = setup.wallet.ok("--lang", "en", "show", short(setup.premium.id))
    assert "Municipality: 北海道 札幌市 (011002)" in en
    assert "Tier: premium" in en
    assert f"Valid until: {_valid_until(setup.premium)}" in en
    shown = json.loads(setup.wallet.ok("show", setup.premium.id, "--json"))
    assert shown["credential"] == setup.premium.credential


# --- present: the PNG is the payload -------------------------------------------------------------


@pytest.mark.parametrize("which", ["basic", "premium"])
def test_png_decodes_back_to_the_payload(setup: Setup, tmp_path: Path, which: str) -> None:
    stored = _pick(setup, which)
    png = tmp_path / "qr.png"
    payload = setup.wallet.payload(short(stored.id), "--png", str(png))
    assert payload.startswith(PROFILE_PREFIX), payload[:8]
    assert read_one_qr(png) == payload
    assert read_qr_texts(png) == [payload]
    # the size goal of the issue: version 12 at level M or smaller
    version = segno.make_qr(payload, error="m").version
    assert isinstance(version, int)
    assert version <= 12


def test_present_png_alone_reports_the_version(setup: Setup, tmp_path: Path) -> None:
    png, svg = tmp_path / "qr.png", tmp_path / "qr.svg"
    out = setup.wallet.ok("present", short(setup.basic.id), "--png", str(png), "--svg", str(svg))
    match = re.search(r"バージョン (\d+)", out)
    assert match is not None, out
    assert int(match.group(1)) <= 12
    assert read_one_qr(png).startswith(PROFILE_PREFIX)
    assert svg.read_text("utf-8").lstrip().startswith(("<?xml", "<svg"))


def test_two_presentations_differ_only_in_the_holder_proof(setup: Setup) -> None:
    """With a fixed challenge, two presentations of one credential carry the same VP apart
    from the holder proof's created and proofValue (every QR is freshly signed)."""
    args = ("--challenge", "counter-7")
    first = setup.wallet.payload(short(setup.basic.id), *args)
    time.sleep(1.1)  # created has whole seconds (Ed25519 is deterministic: same second, same QR)
    second = setup.wallet.payload(short(setup.basic.id), *args)
    decoded = [_decode(setup, p) for p in (first, second)]
    for vp in decoded:
        assert vp["proof"]["challenge"] == "counter-7"
        assert vp["proof"]["domain"] == QR_DOMAIN
    assert decoded[0]["proof"]["created"] < decoded[1]["proof"]["created"]
    assert decoded[0]["proof"]["proofValue"] != decoded[1]["proof"]["proofValue"]

    def without_variable_parts(vp: Doc) -> Doc:
        proof = {k: v for k, v in vp["proof"].items() if k not in ("created", "proofValue")}
        return {**vp, "proof": proof}

    assert without_variable_parts(decoded[0]) == without_variable_parts(decoded[1])


def test_present_picks_a_fresh_challenge_each_time(setup: Setup) -> None:
    challenges = {
        _decode(setup, setup.wallet.payload(short(setup.basic.id)))["proof"]["challenge"]
        for _ in range(3)
    }
    assert len(challenges) == 3
    assert all(len(c) >= 12 for c in challenges)


# --- the verifier with the national registry -----------------------------------------------------


@pytest.mark.parametrize("which", ["basic", "premium"])
def test_verifier_accepts_the_png_with_the_issuer_in_the_registry(
    setup: Setup, tmp_path: Path, which: str
) -> None:
    stored = _pick(setup, which)
    png = tmp_path / "qr.png"
    setup.wallet.ok("present", short(stored.id), "--png", str(png))
    code, result = verify_json(str(png), *setup.trust())
    assert code == 0, result
    assert result["verified"] is True
    assert result["codes"] == []
    checks = {c["check"]: c for c in _all_checks(result)}
    for name in ("holder_proof", "freshness", "holder_binding", "registry", "proof", "status"):
        assert checks[name]["ok"] is True, checks[name]
    # human output
    human = expect(verifier("verify", str(png), *setup.trust()), 0).stdout
    assert human.startswith("✓ 有効です")
    lg = stored.credential["credentialSubject"]["municipality"]["lgCode"]
    assert f"({lg})" in human


def test_verifier_accepts_the_payload_text(setup: Setup) -> None:
    payload = setup.wallet.payload(short(setup.basic.id))
    code, result = verify_json(payload, *setup.trust())
    assert code == 0, result
    english = expect(verifier("verify", payload, *setup.trust(), "--lang", "en"), 0).stdout
    assert english.startswith("✓ VALID")


def test_verifier_refuses_an_issuer_missing_from_the_registry(setup: Setup, tmp_path: Path) -> None:
    """The registry lists 011002 only; the QR of 015814 names its issuer through the
    registry, so the verifier cannot find it: issuer_unknown, exit 1.

    Where the code appears depends on the verifier's version: at c484516 the payload cannot
    be decoded, so ``--json`` prints nothing and the code is on the one stderr error line;
    the verifier rework in progress reports it as a result object.  Either is accepted here.
    """
    png = tmp_path / "qr.png"
    setup.wallet.ok("present", short(setup.basic.id), "--png", str(png))
    trust = setup.trust(setup.partial_registry)
    result = verifier("verify", str(png), *trust, "--json")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    if result.stdout.strip():
        answer = json.loads(result.stdout)
        assert answer["verified"] is False
        assert "issuer_unknown" in answer["codes"], answer["codes"]
    else:
        assert_one_line_error(result.stderr, contains=["[issuer_unknown]"])
    # the other municipality's QR still verifies with that registry
    other = tmp_path / "other.png"
    setup.wallet.ok("present", short(setup.premium.id), "--png", str(other))
    assert verify_json(str(other), *trust)[0] == 0


def test_verifier_refuses_a_self_contained_qr_of_an_unlisted_issuer(setup: Setup) -> None:
    """``present --self-contained`` carries the issuer DID: the registry check itself says
    issuer_unknown (and nothing else fails)."""
    payload = setup.wallet.payload(short(setup.basic.id), "--self-contained")
    assert payload.startswith(PROFILE_PREFIX)
    code, result = verify_json(payload, *setup.trust(setup.partial_registry))
    assert code == 1
    assert result["verified"] is False
    assert _codes(result) == ["issuer_unknown"]
    # and with the full registry it verifies
    assert verify_json(payload, *setup.trust())[0] == 0


def test_the_registry_names_the_issuer_the_credential_carries(setup: Setup) -> None:
    registry = setup.registry.load(setup.full_registry)
    for stored in (setup.basic, setup.premium):
        lg = stored.credential["credentialSubject"]["municipality"]["lgCode"]
        entry = registry.entry_for_lg_code(lg)
        assert entry is not None
        assert entry.did == stored.credential["issuer"]["id"]
        assert entry.key(stored.credential["proof"]["verificationMethod"]) is not None
    partial = setup.registry.load(setup.partial_registry)
    assert partial.entry_for_lg_code(LG) is None
    assert partial.sequence == registry.sequence + 1


def test_credential_signed_in_the_second_its_key_was_made_verifies(tmp_path: Path) -> None:
    world = make_world(
        f"sqlite:///{tmp_path / 'issuer.db'}", tmp_path / "data", "http://localhost:8000"
    )
    try:
        key_from = key_created_at(world, LG)
        signed_at = key_from + timedelta(microseconds=1)
        if signed_at.second != key_from.second:  # pragma: no cover - 1 in a million
            pytest.skip("the key was made in the last microsecond of a second")
        holder = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
        issued = issue_resident(
            world.svc.db,
            world.svc.ring,
            world.svc.settings,
            lg_code=LG,
            holder=did_key_from_public_key(holder.public_key),
            tier="basic",
            now=signed_at,
            source="test",
            actor="test",
        )
        with world.svc.db.read() as session:
            document = did_document(session, world.tenant)
        entry = entry_from_did_document(
            document, lg_code=LG, status_base_url=f"http://localhost:8000/status/{LG}"
        )
        registry = Registry(
            sequence=1,
            issued_at=signed_at,
            next_update=signed_at + timedelta(days=7),
            entries=[entry],
            authority="test",
        )
        result = verify_credential(
            issued.credential,
            resolver=Resolver(documents=dict(registry.did_documents())),
            options=VerifyOptions(now=signed_at + timedelta(seconds=5), registry=registry),
        )
        assert "key_not_valid_at_time" not in result.codes, (
            issued.credential["proof"]["created"],
            entry.keys[0].valid_from,
        )
    finally:
        world.svc.close()


# --- decode: the exact VP, for any W3C verifier --------------------------------------------------


def _decode(setup: Setup, payload_or_file: str, registry: Path | None = None) -> Doc:
    result = expect(
        verifier(
            "decode",
            payload_or_file,
            "--registry",
            str(registry or setup.full_registry),
            "--registry-key",
            str(setup.registry.public_key),
        ),
        0,
    )
    vp: Doc = json.loads(result.stdout)
    return vp


def test_decode_prints_the_vp_around_the_stored_credential(setup: Setup, tmp_path: Path) -> None:
    png = tmp_path / "qr.png"
    payload = setup.wallet.payload(
        short(setup.basic.id), "--challenge", "nursery-42", "--png", str(png)
    )
    vp = _decode(setup, payload)
    assert vp["type"] == ["VerifiablePresentation"]
    assert vp["verifiableCredential"] == setup.basic.credential  # lossless, issuer proof too
    assert vp["holder"] == setup.basic.credential["credentialSubject"]["id"]
    assert vp["proof"]["type"] == "DataIntegrityProof"
    assert vp["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert vp["proof"]["proofPurpose"] == "authentication"
    assert vp["proof"]["challenge"] == "nursery-42"
    assert vp["proof"]["domain"] == QR_DOMAIN
    assert vp["proof"]["verificationMethod"].startswith(vp["holder"] + "#")
    # from the image, from a file holding the payload: the same JSON
    assert _decode(setup, str(png)) == vp
    text_file = tmp_path / "payload.txt"
    text_file.write_text(payload + "\n", encoding="ascii")
    assert _decode(setup, str(text_file)) == vp
    # the decoded JSON verifies as a presentation file in our verifier too
    vp_file = tmp_path / "vp.json"
    vp_file.write_text(json.dumps(vp, ensure_ascii=False), encoding="utf-8")
    code, result = verify_json(
        str(vp_file), *setup.trust(), "--challenge", "nursery-42", "--domain", QR_DOMAIN
    )
    assert code == 0, result


def test_decode_gives_exactly_the_vp_the_wallet_signed(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lossless: the wallet's own VP (caught on its way into the encoder) is the decoded
    JSON, member for member — as the short form (issuer by registry) and self-contained."""
    signed: list[Doc] = []
    real = envelope.encode_presentation

    def spy(vp: Doc, **kwargs: Any) -> str:
        signed.append(json.loads(json.dumps(vp)))
        return real(vp, **kwargs)

    monkeypatch.setattr(envelope, "encode_presentation", spy)  # as wallet_cli.cli calls it
    for stored in (setup.basic, setup.premium):
        for extra in ((), ("--self-contained",)):
            payload = setup.wallet.payload(short(stored.id), *extra)
            assert _decode(setup, payload) == signed[-1]
            assert json.dumps(_decode(setup, payload), sort_keys=True) == json.dumps(
                signed[-1], sort_keys=True
            )
    assert len(signed) == 4


def test_decode_without_the_registry_entry_fails_cleanly(setup: Setup) -> None:
    payload = setup.wallet.payload(short(setup.basic.id))
    result = verifier(
        "decode",
        payload,
        "--registry",
        str(setup.partial_registry),
        "--registry-key",
        str(setup.registry.public_key),
    )
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[issuer_unknown]", LG])
    result = verifier("decode", payload)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[issuer_unknown]"])


@pytest.mark.interop
@pytest.mark.parametrize("which", ["basic", "premium"])
def test_decoded_vp_verifies_in_digital_bazaar(
    setup: Setup, js: JsBridge, tmp_path: Path, which: str
) -> None:
    stored = _pick(setup, which)
    png = tmp_path / "qr.png"
    setup.wallet.ok("present", short(stored.id), "--challenge", "kiosk-3", "--png", str(png))
    vp = _decode(setup, str(png))  # read back from the image
    documents = dict(setup.registry.load(setup.full_registry).did_documents())
    answer = js.verify_vp(vp, challenge="kiosk-3", domain=QR_DOMAIN, documents=documents)
    assert answer["verified"] is True, answer
    # not vacuous: the same VP with a wrong challenge, or an altered credential, fails there
    wrong = js.verify_vp(vp, challenge="kiosk-4", domain=QR_DOMAIN, documents=documents)
    assert wrong["verified"] is False
    altered = json.loads(json.dumps(vp))
    altered["verifiableCredential"]["validUntil"] = "2099-01-01T00:00:00Z"
    bad = js.verify_vp(altered, challenge="kiosk-3", domain=QR_DOMAIN, documents=documents)
    assert bad["verified"] is False


@pytest.mark.interop
def test_self_contained_payload_decodes_without_a_registry_and_verifies_in_js(
    setup: Setup, js: JsBridge
) -> None:
    payload = setup.wallet.payload(short(setup.basic.id), "--challenge", "c-1", "--self-contained")
    vp: Doc = json.loads(expect(verifier("decode", payload), 0).stdout)
    assert vp["verifiableCredential"] == setup.basic.credential
    documents = dict(setup.registry.load(setup.full_registry).did_documents())
    answer = js.verify_vp(vp, challenge="c-1", domain=QR_DOMAIN, documents=documents)
    assert answer["verified"] is True, answer


def test_payload_uses_the_profile_not_the_generic_form(setup: Setup) -> None:
    for stored in (setup.basic, setup.premium):
        payload = setup.wallet.payload(short(stored.id))
        assert payload.startswith(PROFILE_PREFIX)
        assert not payload.startswith(GENERIC_PREFIX)
        assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", payload), "QR alphanumeric only"


# --- helpers -------------------------------------------------------------------------------------


def _all_checks(result: Doc) -> list[Doc]:
    checks: list[Doc] = list(result.get("checks", []))
    for inner in result.get("credentials", []):
        checks += _all_checks(inner)
    return checks


def _codes(result: Doc) -> list[str]:
    return list(result["codes"])
