"""Whole verification flows of a furusato credential: profile, status, presentation.

A municipality on did:web signs a FurusatoResidentCredential with revocation and suspension
entries and publishes the two status lists; each test changes one thing and checks that
exactly the expected check fails, with its code.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from did.errors import FurusatoError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc.dates import format_datetime
from vc.furusato import profile_problems, resident_credential
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from vc.statuslist import (
    BitstringStatusList,
    StatusListDocument,
    build_status_list_credential,
)
from vc.verify import VerifyOptions, verify, verify_credential, verify_presentation

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ISSUER = "did:web:furusato.example.jp:lg:015814"
METHOD = ISSUER + "#key-1"
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([7]) * 32)
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([9]) * 32)
HOLDER = did_key_from_public_key(HOLDER_KEY.public_key)
HOLDER_VM = did_key_verification_method_id(HOLDER_KEY.public_key)
INDEX = {"revocation": 1234, "suspension": 98765}


def list_url(purpose: str) -> str:
    return f"https://furusato.example.jp/status/015814/{purpose}/1"


@dataclass
class World:
    lists: dict[str, BitstringStatusList] = field(
        default_factory=lambda: {p: BitstringStatusList() for p in INDEX}
    )
    published: dict[str, StatusListDocument] = field(default_factory=dict)
    resolver: Resolver = field(
        default_factory=lambda: Resolver(
            documents={
                ISSUER: build_did_document(
                    ISSUER, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)]
                )
            }
        )
    )

    def get(self, url: str) -> StatusListDocument | None:
        return self.published.get(url)

    def publish(
        self,
        purpose: str,
        *,
        retrieved_at: datetime = NOW,
        key: PrivateKey = ISSUER_KEY,
        length: int = 131_072,
        valid_until: datetime | None = None,
    ) -> None:
        status_list = self.lists[purpose]
        if length != status_list.length:
            status_list = BitstringStatusList(length)
        unsigned = build_status_list_credential(
            list_url=list_url(purpose),
            issuer=ISSUER,
            purpose=purpose,
            status_list=status_list,
            valid_from=format_datetime(NOW - timedelta(hours=1)),
            valid_until=format_datetime(valid_until or NOW + timedelta(days=1)),
            ttl_ms=3_600_000,
        )
        signed = issue_credential(unsigned, key, verification_method=METHOD, created=NOW)
        self.published[list_url(purpose)] = StatusListDocument(signed, retrieved_at)

    def options(self, **kw: Any) -> VerifyOptions:
        return VerifyOptions(now=NOW, status_lists=self, **kw)


def credential(tier: str = "basic", **changes: Any) -> dict[str, Any]:
    unsigned = resident_credential(
        credential_id="urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        issuer=ISSUER,
        issuer_name="厚真町",
        municipality=municipality_table().get("015814"),
        holder=HOLDER,
        tier=tier,
        registered_since=date(2027, 1, 15),
        valid_from=datetime(2027, 1, 15, tzinfo=UTC),
        valid_until=datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": list_url(purpose),
            }
            for purpose, index in INDEX.items()
        ],
    )
    unsigned.update(changes)
    return unsigned


@pytest.fixture
def world() -> World:
    w = World()
    for purpose in INDEX:
        w.publish(purpose)
    return w


@pytest.fixture
def signed() -> dict[str, Any]:
    return issue_credential(credential(), ISSUER_KEY, verification_method=METHOD, created=NOW)


def test_credential_shape_matches_design() -> None:
    cred = credential("premium")
    assert list(cred) == [
        "@context",
        "id",
        "type",
        "issuer",
        "validFrom",
        "validUntil",
        "credentialSubject",
        "credentialStatus",
    ]
    assert cred["credentialSubject"]["municipality"] == {
        "lgCode": "015814",
        "name": "厚真町",
        "prefecture": "北海道",
        "prefectureCode": "010006",
    }
    assert profile_problems(cred) == []


def test_valid_credential(world: World, signed: dict[str, Any]) -> None:
    result = verify_credential(signed, resolver=world.resolver, options=world.options())
    assert result.verified, result.to_json()
    assert [c.check for c in result.checks] == [
        "data_model",
        "profile",
        "contexts",
        "proof",
        "validity",
        "status",
        "status",
    ]


@pytest.mark.parametrize(
    ("purpose", "code"), [("revocation", "revoked"), ("suspension", "suspended")]
)
def test_revoked_and_suspended(
    world: World, signed: dict[str, Any], purpose: str, code: str
) -> None:
    world.lists[purpose].set(INDEX[purpose], True)
    world.publish(purpose)
    assert verify(signed, resolver=world.resolver, options=world.options()).codes == [code]


def test_suspension_is_reversible(world: World, signed: dict[str, Any]) -> None:
    world.lists["suspension"].set(INDEX["suspension"], True)
    world.publish("suspension")
    world.lists["suspension"].set(INDEX["suspension"], False)
    world.publish("suspension")
    assert verify(signed, resolver=world.resolver, options=world.options()).verified


def test_neighbouring_bits_do_not_matter(world: World, signed: dict[str, Any]) -> None:
    for purpose, index in INDEX.items():
        world.lists[purpose].set(index - 1, True)
        world.lists[purpose].set(index + 1, True)
        world.publish(purpose)
    assert verify(signed, resolver=world.resolver, options=world.options()).verified


def test_no_status_source_is_status_unknown(world: World, signed: dict[str, Any]) -> None:
    result = verify(signed, resolver=world.resolver, options=VerifyOptions(now=NOW))
    assert result.codes == ["status_unknown"]


def test_missing_list_is_status_unknown(world: World, signed: dict[str, Any]) -> None:
    del world.published[list_url("suspension")]
    assert verify(signed, resolver=world.resolver, options=world.options()).codes == [
        "status_unknown"
    ]


def test_old_cache_is_status_stale(world: World, signed: dict[str, Any]) -> None:
    world.publish("revocation", retrieved_at=NOW - timedelta(days=3))
    result = verify(
        signed, resolver=world.resolver, options=world.options(status_max_age=timedelta(days=1))
    )
    assert result.codes == ["status_stale"]
    assert "72" in result.errors[0].message_en or "3 d" in result.errors[0].message_en


def test_expired_list_is_status_stale(world: World, signed: dict[str, Any]) -> None:
    world.publish("revocation", valid_until=NOW - timedelta(hours=1))
    assert verify(signed, resolver=world.resolver, options=world.options()).codes == [
        "status_stale"
    ]


def test_list_signed_by_another_key_is_invalid(world: World, signed: dict[str, Any]) -> None:
    intruder = PrivateKey.from_seed(KeyType.ED25519, bytes([1]) * 32)
    world.publish("revocation", key=intruder)
    assert verify(signed, resolver=world.resolver, options=world.options()).codes == [
        "status_invalid"
    ]


def test_short_list_is_invalid(world: World, signed: dict[str, Any]) -> None:
    world.publish("revocation", length=1024 * 8)
    assert verify(signed, resolver=world.resolver, options=world.options()).codes == [
        "status_invalid"
    ]


def test_list_of_the_wrong_purpose_is_invalid(world: World, signed: dict[str, Any]) -> None:
    world.published[list_url("revocation")] = world.published[list_url("suspension")]
    assert verify(signed, resolver=world.resolver, options=world.options()).codes == [
        "status_invalid"
    ]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        (
            {
                "credentialSubject": {
                    **credential()["credentialSubject"],
                    "registrationTier": "gold",
                }
            },
            "credentialSubject.registrationTier",
        ),
        (
            {
                "credentialSubject": {
                    **credential()["credentialSubject"],
                    "municipality": {
                        **credential()["credentialSubject"]["municipality"],
                        "name": "札幌市",
                    },
                }
            },
            "credentialSubject.municipality.name",
        ),
        (
            {
                "credentialSubject": {
                    **credential()["credentialSubject"],
                    "municipality": {
                        **credential()["credentialSubject"]["municipality"],
                        "lgCode": "015815",
                    },
                }
            },
            "credentialSubject.municipality.lgCode",
        ),
        (
            {"credentialSubject": {**credential()["credentialSubject"], "name": "山田太郎"}},
            "credentialSubject",
        ),
        ({"credentialStatus": credential()["credentialStatus"][:1]}, "credentialStatus"),
    ],
)
def test_profile_violations_are_refused_at_issue_and_verify(
    world: World, changes: dict[str, Any], path: str
) -> None:
    bad = credential(**changes)
    with pytest.raises(FurusatoError):
        issue_credential(bad, ISSUER_KEY, verification_method=METHOD, created=NOW)
    from vc.dataintegrity import add_proof
    from vc.suites import EDDSA_RDFC_2022

    forced = add_proof(
        bad, ISSUER_KEY, verification_method=METHOD, suite=EDDSA_RDFC_2022, created=NOW
    )
    result = verify(forced, resolver=world.resolver, options=world.options())
    assert result.codes == ["malformed"]
    assert result.errors[0].check == "profile"
    assert (result.errors[0].path or "").startswith(path.split(".")[0])


def test_prefecture_cannot_be_the_municipality() -> None:
    cred = credential()
    cred["credentialSubject"]["municipality"] = {
        "lgCode": "010006",
        "name": "北海道",
        "prefecture": "北海道",
        "prefectureCode": "010006",
    }
    assert any("prefecture" in p.message_en for p in profile_problems(cred))


# --- presentations ----------------------------------------------------------------------------


def presentation(
    signed: dict[str, Any],
    *,
    key: PrivateKey = HOLDER_KEY,
    created: datetime = NOW,
    challenge: str = "c-123",
    holder: str = HOLDER,
) -> dict[str, Any]:
    return sign_presentation(
        create_presentation([signed], holder=holder),
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        challenge=challenge,
        domain="nursery.example.jp",
        created=created,
    )


def qr_options(world: World, **kw: Any) -> VerifyOptions:
    return world.options(
        challenge="c-123",
        domain="nursery.example.jp",
        presentation_max_age=timedelta(seconds=120),
        require_holder_binding=True,
        **kw,
    )


def test_holder_bound_presentation(world: World, signed: dict[str, Any]) -> None:
    result = verify_presentation(
        presentation(signed), resolver=world.resolver, options=qr_options(world)
    )
    assert result.verified, result.to_json()
    assert {c.check for c in result.checks} >= {"holder_proof", "freshness", "holder_binding"}
    assert result.credentials[0].verified


@pytest.mark.parametrize("age", [timedelta(seconds=121), timedelta(seconds=-121)])
def test_screenshot_replay_is_stale(world: World, signed: dict[str, Any], age: timedelta) -> None:
    old = presentation(signed, created=NOW - age)
    result = verify_presentation(old, resolver=world.resolver, options=qr_options(world))
    assert result.codes == ["presentation_stale"]


def test_someone_elses_key_fails_binding(world: World, signed: dict[str, Any]) -> None:
    thief = PrivateKey.from_seed(KeyType.ED25519, bytes([3]) * 32)
    thief_did = did_key_from_public_key(thief.public_key)
    stolen = presentation(signed, key=thief, holder=thief_did)
    result = verify_presentation(stolen, resolver=world.resolver, options=qr_options(world))
    assert result.codes == ["holder_binding_failed"]


def test_revoked_credential_inside_a_presentation(world: World, signed: dict[str, Any]) -> None:
    world.lists["revocation"].set(INDEX["revocation"], True)
    world.publish("revocation")
    result = verify_presentation(
        presentation(signed), resolver=world.resolver, options=qr_options(world)
    )
    assert not result.verified
    assert result.codes == ["revoked"]
    assert result.errors[0].target == "verifiableCredential[0]"


def test_tampered_credential_inside_a_valid_presentation(
    world: World, signed: dict[str, Any]
) -> None:
    forged = copy.deepcopy(signed)
    forged["credentialSubject"]["registrationTier"] = "premium"
    result = verify_presentation(
        presentation(forged), resolver=world.resolver, options=qr_options(world)
    )
    assert result.codes == ["signature_invalid"]


def test_result_json_is_stable(world: World, signed: dict[str, Any]) -> None:
    result = verify_presentation(
        presentation(signed), resolver=world.resolver, options=qr_options(world)
    ).to_json()
    assert set(result) == {"verified", "kind", "codes", "checks", "warnings", "credentials"}
    check = result["checks"][0]
    assert set(check) >= {"check", "ok", "code", "message"}
    assert set(check["message"]) == {"ja", "en"}
