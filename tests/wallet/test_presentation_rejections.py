"""Issue 4, "Done means": four bad presentations, each rejected with its own code.

A presentation older than the freshness window (presentation_stale), one over another
challenge (challenge_mismatch), one signed by a key other than the credential subject's
(holder_binding_failed), one whose credential was altered (signature_invalid) — each through
``furusato-verifier verify --json`` with the registry and the status lists, so that the one
thing wrong is the only code reported.  The bad presentations that a wallet cannot be made to
produce are built with the library from the credential the wallet stores, and encoded with
``vc.envelope.encode_presentation`` exactly as ``present`` does.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from tests.wallet.helpers import Setup, short, verify_json
from vc.envelope import GENERIC_PREFIX, PROFILE_PREFIX, QR_DOMAIN, encode_presentation
from vc.presentation import create_presentation, sign_presentation

Doc = dict[str, Any]
OTHER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(100, 132)))


@pytest.fixture
def setup(shared_setup: Setup) -> Setup:
    """Nothing here changes the wallet or the server: one setup for the module."""
    return shared_setup


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _holder_vp(
    credential: Doc, key: PrivateKey, *, challenge: str, holder: str | None = "key"
) -> Doc:
    """A presentation of ``credential`` signed by ``key`` now, as the wallet signs it."""
    holder_did = did_key_from_public_key(key.public_key) if holder == "key" else holder
    return sign_presentation(
        create_presentation([credential], holder=holder_did),
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        challenge=challenge,
        domain=QR_DOMAIN,
        created=datetime.now(UTC),
    )


def _rejected(setup: Setup, payload: str, *extra: str) -> list[str]:
    code, result = verify_json(payload, *setup.trust(), *extra)
    assert code == 1, result
    assert result["verified"] is False
    codes: list[str] = result["codes"]
    return codes


def test_the_fresh_presentation_is_accepted(setup: Setup) -> None:
    """The control: the same wallet, registry and status lists verify a fresh QR."""
    payload = setup.wallet.payload(short(setup.basic.id), "--challenge", "c-42")
    code, result = verify_json(payload, *setup.trust(), "--challenge", "c-42")
    assert code == 0, result
    assert result["warnings"] == []


@pytest.mark.parametrize("minutes", [5, -5], ids=["five-minutes-later", "five-minutes-early"])
def test_a_presentation_outside_the_window_is_stale(setup: Setup, minutes: int) -> None:
    payload = setup.wallet.payload(short(setup.basic.id))
    later = _iso(datetime.now(UTC) + timedelta(minutes=minutes))
    assert _rejected(setup, payload, "--now", later) == ["presentation_stale"]
    # a wider window accepts it (the window is the verifier's setting)
    code, result = verify_json(payload, *setup.trust(), "--now", later, "--window", "600")
    assert code == 0, result


def test_a_screenshot_two_minutes_old_is_at_the_edge(setup: Setup) -> None:
    payload = setup.wallet.payload(short(setup.basic.id))
    now = datetime.now(UTC)
    inside = _iso(now + timedelta(seconds=100))
    outside = _iso(now + timedelta(seconds=130))
    assert verify_json(payload, *setup.trust(), "--now", inside)[0] == 0
    assert _rejected(setup, payload, "--now", outside) == ["presentation_stale"]


def test_a_wrong_challenge_is_challenge_mismatch(setup: Setup) -> None:
    payload = setup.wallet.payload(short(setup.basic.id), "--challenge", "counter-1")
    codes = _rejected(setup, payload, "--challenge", "counter-2")
    assert codes[0] == "challenge_mismatch", codes
    assert "presentation_stale" not in codes
    assert "signature_invalid" not in codes


@pytest.mark.parametrize(
    ("option", "expected"),
    [("--challenge", "challenge_mismatch"), ("--domain", "domain_mismatch")],
    ids=["challenge", "domain"],
)
def test_a_wrong_challenge_or_domain_is_its_only_code(
    setup: Setup, option: str, expected: str
) -> None:
    payload = setup.wallet.payload(short(setup.basic.id), "--challenge", "counter-1")
    assert _rejected(setup, payload, option, "counter-2") == [expected]


def test_a_presentation_by_another_key_is_holder_binding_failed(setup: Setup) -> None:
    """Someone holding a copy of the credential signs a presentation with their own key."""
    vp = _holder_vp(setup.basic.credential, OTHER_KEY, challenge="c-7")
    payload = encode_presentation(vp)
    assert payload.startswith(GENERIC_PREFIX)  # the profile has one key for both roles
    assert _rejected(setup, payload, "--challenge", "c-7") == ["holder_binding_failed"]


def test_a_presentation_by_another_key_without_holder_is_holder_binding_failed(
    setup: Setup,
) -> None:
    vp = _holder_vp(setup.basic.credential, OTHER_KEY, challenge="c-8", holder=None)
    assert "holder" not in vp
    payload = encode_presentation(vp)
    assert _rejected(setup, payload, "--challenge", "c-8") == ["holder_binding_failed"]


def test_a_presentation_naming_the_subject_but_signed_by_another_key_fails(
    setup: Setup,
) -> None:
    """The VP claims the subject as holder, but the proof is another key's: a holder proof
    whose key is not the holder's fails (the library refuses to make one, so forge it)."""
    subject = setup.basic.credential["credentialSubject"]["id"]
    vp = _holder_vp(setup.basic.credential, OTHER_KEY, challenge="c-9")
    vp["holder"] = subject  # after signing: the proof no longer covers it either
    payload = encode_presentation(vp)
    codes = _rejected(setup, payload, "--challenge", "c-9")
    assert codes
    assert "holder_binding_failed" in codes or "signature_invalid" in codes, codes


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "registrationTier"), "premium"),
        (("validUntil",), "2099-12-31T00:00:00Z"),
        (("credentialSubject", "registeredSince"), "2020-01-01"),
    ],
    ids=["tier", "validUntil", "registeredSince"],
)
def test_an_altered_credential_is_signature_invalid(
    setup: Setup, path: tuple[str, ...], value: str
) -> None:
    """The holder alters the credential and signs a fresh, correct presentation around it."""
    credential = copy.deepcopy(setup.basic.credential)
    target = credential
    for name in path[:-1]:
        target = target[name]
    assert target[path[-1]] != value
    target[path[-1]] = value
    vp = _holder_vp(credential, setup.holder_key(setup.basic), challenge="c-10")
    payload = encode_presentation(vp)
    assert payload.startswith(PROFILE_PREFIX)  # the altered values fit the profile: a real QR
    assert _rejected(setup, payload, "--challenge", "c-10") == ["signature_invalid"]


def test_an_unaltered_library_presentation_verifies(setup: Setup) -> None:
    """The control of the two tests above: built the same way, nothing changed → verified."""
    vp = _holder_vp(setup.basic.credential, setup.holder_key(setup.basic), challenge="c-11")
    payload = encode_presentation(vp)
    assert payload.startswith(PROFILE_PREFIX)
    code, result = verify_json(payload, *setup.trust(), "--challenge", "c-11")
    assert code == 0, result


def test_each_rejection_has_its_own_code(setup: Setup) -> None:
    now = datetime.now(UTC)
    stale = setup.wallet.payload(short(setup.basic.id), "--challenge", "x")
    other = encode_presentation(_holder_vp(setup.basic.credential, OTHER_KEY, challenge="x"))
    altered_credential = copy.deepcopy(setup.basic.credential)
    altered_credential["credentialSubject"]["registrationTier"] = "premium"
    altered = encode_presentation(
        _holder_vp(altered_credential, setup.holder_key(setup.basic), challenge="x")
    )
    codes = {
        "stale": _rejected(
            setup, stale, "--challenge", "x", "--now", _iso(now + timedelta(minutes=5))
        ),
        "challenge": _rejected(setup, stale, "--challenge", "y"),
        "holder": _rejected(setup, other, "--challenge", "x"),
        "altered": _rejected(setup, altered, "--challenge", "x"),
    }
    # the first code names the fault (the challenge case also says holder_binding_failed:
    # see test_a_wrong_challenge_or_domain_is_its_only_code)
    assert {case: found[0] for case, found in codes.items()} == {
        "stale": "presentation_stale",
        "challenge": "challenge_mismatch",
        "holder": "holder_binding_failed",
        "altered": "signature_invalid",
    }
    assert codes["stale"] == ["presentation_stale"]
    assert codes["holder"] == ["holder_binding_failed"]
    assert codes["altered"] == ["signature_invalid"]
