"""Registry trust in verification (DESIGN.md §5, §9): member issuer, valid key, own lgCode."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from tests.vc.qr_fixtures import ISSUER_KEY, NOW, issuer_did, presentation, signed_credential
from vc.dataintegrity import add_proof
from vc.dates import format_datetime
from vc.registry import Registry, RegistryEntry, entry_from_did_document
from vc.suites import EDDSA_RDFC_2022
from vc.verify import VerifyOptions, verify_credential, verify_presentation


def _entry(lg_code: str = "015814", **key_window: str) -> RegistryEntry:
    did = issuer_did(lg_code)
    document = build_did_document(
        did, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key, **key_window)]
    )
    return entry_from_did_document(
        document, lg_code=lg_code, status_base_url=f"https://furusato.example.jp/status/{lg_code}"
    )


def _registry(*entries: RegistryEntry) -> Registry:
    return Registry(
        sequence=7,
        issued_at=NOW - timedelta(days=1),
        next_update=NOW + timedelta(days=6),
        entries=list(entries),
        authority="総務省 (test)",
    )


def _verify(credential: dict[str, Any], registry: Registry) -> list[str]:
    resolver = Resolver(documents=registry.did_documents())
    result = verify_credential(
        credential, resolver=resolver, options=VerifyOptions(now=NOW, registry=registry)
    )
    return result.codes


def test_member_issuer_passes_registry_trust() -> None:
    # status_unknown: no status lists in this unit test; the registry check itself passes
    registry = _registry(_entry())
    resolver = Resolver(documents=registry.did_documents())
    result = verify_credential(
        signed_credential(), resolver=resolver, options=VerifyOptions(now=NOW, registry=registry)
    )
    assert [c.code for c in result.checks if c.check == "registry"] == ["ok"]
    assert result.codes == ["status_unknown"]


def test_issuer_missing_from_the_registry() -> None:
    registry = _registry(_entry("011002"))
    documents = {
        issuer_did(): build_did_document(
            issuer_did(), [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)]
        )
    }
    result = verify_credential(
        signed_credential(),
        resolver=Resolver(documents=documents),
        options=VerifyOptions(now=NOW, registry=registry),
    )
    assert result.codes == ["issuer_unknown"]


def test_revoked_key_fails_everything_it_signed() -> None:
    entry = _entry()
    revoked = entry.with_key_revoked(entry.keys[0].id, format_datetime(NOW - timedelta(hours=1)))
    assert "key_revoked" in _verify(signed_credential(), _registry(revoked))


def test_key_used_outside_its_window() -> None:
    retired = _entry(
        valid_from=format_datetime(NOW - timedelta(days=400)),
        valid_until=format_datetime(NOW - timedelta(days=300)),
    )
    # the credential was signed 30 days ago, after the key retired
    assert _verify(signed_credential(), _registry(retired)) == ["key_not_valid_at_time"]


def test_key_retired_after_signing_still_verifies_what_it_signed() -> None:
    retired = _entry(
        valid_from=format_datetime(NOW - timedelta(days=100)),
        valid_until=format_datetime(NOW - timedelta(days=1)),
    )
    assert _verify(signed_credential(), _registry(retired)) == ["status_unknown"]


def test_lg_code_of_another_municipality() -> None:
    """A member issuer signing claims about another municipality (bypassing our own issuer's
    profile checks, as a rogue municipality would) fails with municipality_mismatch."""
    registry = _registry(_entry())
    unsigned = {k: v for k, v in signed_credential(lg_code="011002").items() if k != "proof"}
    unsigned["issuer"] = {"id": issuer_did("015814"), "name": "札幌市"}
    claim = add_proof(
        unsigned,
        ISSUER_KEY,
        verification_method=issuer_did("015814") + "#key-1",
        suite=EDDSA_RDFC_2022,
        created=NOW - timedelta(days=1),
    )
    assert _verify(claim, registry) == ["municipality_mismatch"]


def test_presentation_with_registry() -> None:
    registry = _registry(_entry())
    vp = presentation()
    result = verify_presentation(
        vp,
        resolver=Resolver(documents=registry.did_documents()),
        options=VerifyOptions(
            now=NOW,
            registry=registry,
            challenge="q83vEjRWeJq8",
            domain="furusato-qr",
            require_holder_binding=True,
            presentation_max_age=timedelta(seconds=120),
        ),
    )
    assert result.codes == ["status_unknown"]
    outsider = _registry(_entry("011002"))
    result = verify_presentation(
        vp,
        resolver=Resolver(
            documents={**outsider.did_documents(), **_registry(_entry()).did_documents()}
        ),
        options=VerifyOptions(
            now=NOW,
            registry=outsider,
            challenge="q83vEjRWeJq8",
            domain="furusato-qr",
            require_holder_binding=True,
        ),
    )
    assert result.codes == ["issuer_unknown"]
