"""Resolver: local did:key / did:jwk, did:web through an injected fetcher, bounds and checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from did.document import public_key_from_verification_method
from did.errors import (
    DIDError,
    DIDResolutionError,
    KeyFormatError,
    LimitExceededError,
    UnsupportedError,
)
from did.jwk import did_jwk_from_public_key
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document

DID = "did:web:furusato.example.jp:lg:015814"
URL = "https://furusato.example.jp/lg/015814/did.json"
KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([4]) * 32)
OLD_KEY = PrivateKey.from_seed(KeyType.P256, bytes([5]) * 32)


def _web_document() -> dict[str, Any]:
    return build_did_document(
        DID,
        [
            VerificationKeyEntry("key-1", OLD_KEY.public_key, valid_until="2027-01-01T00:00:00Z"),
            VerificationKeyEntry("key-2", KEY.public_key),
        ],
    )


class FakeWeb:
    """A fetcher over a dict of URL → body; counts calls."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.pages[url]  # KeyError = not found


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_did_key_and_did_jwk_resolve_locally() -> None:
    resolver = Resolver()  # no fetcher: offline
    did = did_key_from_public_key(KEY.public_key)
    assert resolver.resolve(did)["id"] == did
    vm = resolver.dereference(did_key_verification_method_id(KEY.public_key), "assertionMethod")
    assert public_key_from_verification_method(vm) == KEY.public_key
    jwk_did = did_jwk_from_public_key(OLD_KEY.public_key)
    vm = resolver.dereference(jwk_did + "#0", "authentication")
    assert public_key_from_verification_method(vm) == OLD_KEY.public_key


def test_did_web_is_fetched_checked_and_cached() -> None:
    web = FakeWeb({URL: _body(_web_document())})
    resolver = Resolver(web)
    document = resolver.resolve(DID)
    assert document == _web_document()
    document["id"] = "tampered"  # callers get copies
    assert resolver.resolve(DID)["id"] == DID
    vm = resolver.dereference(f"{DID}#key-1", "assertionMethod")
    assert public_key_from_verification_method(vm) == OLD_KEY.public_key
    assert vm["validUntil"] == "2027-01-01T00:00:00Z"
    assert web.calls == [URL]  # fetched once


def test_shared_cache_is_used() -> None:
    cache: dict[str, dict[str, Any]] = {}
    Resolver(FakeWeb({URL: _body(_web_document())}), cache=cache).resolve(DID)
    assert DID in cache
    offline = Resolver(cache=cache)
    assert offline.resolve(DID)["id"] == DID


def test_seeded_documents_work_offline_and_are_checked() -> None:
    resolver = Resolver(documents={DID: _web_document()})
    assert resolver.dereference(f"{DID}#key-2", "authentication")["id"] == f"{DID}#key-2"
    wrong = Resolver(documents={DID: {**_web_document(), "id": "did:web:other.example"}})
    with pytest.raises(DIDResolutionError):
        wrong.resolve(DID)


def test_offline_did_web_is_unresolved() -> None:
    with pytest.raises(DIDResolutionError) as info:
        Resolver().resolve(DID)
    assert info.value.code == "verification_method_unresolved"


def test_fetcher_exception_means_not_found() -> None:
    web = FakeWeb({})
    with pytest.raises(DIDResolutionError) as info:
        Resolver(web).resolve(DID)
    assert info.value.code == "verification_method_unresolved"
    assert URL in info.value.message_en
    assert info.value.message_ja
    assert web.calls == [URL]


def _with(**changes: Any) -> dict[str, Any]:
    document = _web_document()
    document.update(changes)
    return document


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _relative_vm() -> dict[str, Any]:
    document = _web_document()
    document["verificationMethod"][0]["id"] = "#key-1"
    return document


def _relative_controller() -> dict[str, Any]:
    document = _web_document()
    document["verificationMethod"][0]["controller"] = "#"
    return document


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", DIDResolutionError),
        (b"\xff\xfe{}", DIDResolutionError),
        (b"[]", DIDResolutionError),
        (b'{"id": "did:web:a.example", "id": "did:web:a.example"}', DIDResolutionError),
        (_body(_with(id="did:web:attacker.example")), DIDResolutionError),
        (_body({k: v for k, v in _web_document().items() if k != "id"}), DIDResolutionError),
        (_body(_relative_vm()), DIDResolutionError),
        (_body(_relative_controller()), DIDResolutionError),
        (_body(_with(assertionMethod=["#key-2"])), DIDResolutionError),
        (_body(_with(verificationMethod={"id": "x"})), DIDResolutionError),
        (_body(_with(verificationMethod=["did:web:x#1"])), DIDResolutionError),
        (_body(_with(authentication=[5])), DIDResolutionError),
        (_body(_with(deep=_nested(40))), LimitExceededError),
        (_body(_with(padding="x" * 300_000)), LimitExceededError),
        (b"[" * 100_000 + b"]" * 100_000, LimitExceededError),
        (b'{"n": NaN}', DIDResolutionError),
    ],
)
def test_bad_did_web_documents(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Resolver(FakeWeb({URL: body})).resolve(DID)


def test_max_document_bytes_is_configurable() -> None:
    body = _body(_web_document())
    with pytest.raises(LimitExceededError):
        Resolver(FakeWeb({URL: body}), max_document_bytes=len(body) - 1).resolve(DID)
    Resolver(FakeWeb({URL: body}), max_document_bytes=len(body)).resolve(DID)


def test_fetcher_returning_non_bytes() -> None:
    with pytest.raises(DIDResolutionError):
        Resolver(lambda url: "text").resolve(DID)  # type: ignore[arg-type, return-value]


def test_failed_fetch_is_not_cached() -> None:
    web = FakeWeb({})
    resolver = Resolver(web)
    with pytest.raises(DIDResolutionError):
        resolver.resolve(DID)
    web.pages[URL] = _body(_web_document())
    assert resolver.resolve(DID)["id"] == DID


@pytest.mark.parametrize(
    ("did", "error"),
    [
        ("did:example:123", UnsupportedError),
        ("did:ion:EiA", UnsupportedError),
        ("did:web:127.0.0.1", DIDError),
        (DID + "#key-1", DIDError),  # a DID URL, not a DID
        ("did:web", DIDError),
        ("web:example.com", DIDError),
        ("", DIDError),
        (None, DIDError),
        ("did:key:z6MkINVALID0", DIDError),
        ("did:key:z" + "2" * 5000, LimitExceededError),
    ],
)
def test_resolve_negative_cases(did: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Resolver(FakeWeb({})).resolve(did)


def test_dereference_checks() -> None:
    resolver = Resolver(FakeWeb({URL: _body(_web_document())}))
    with pytest.raises(DIDError):
        resolver.dereference(DID)  # no fragment
    with pytest.raises(DIDResolutionError):
        resolver.dereference(f"{DID}#key-3")
    with pytest.raises(DIDResolutionError):
        resolver.dereference(
            f"{DID}#key-1", "authentication"
        )  # retired key: no longer authenticates
    did = did_key_from_public_key(KEY.public_key)
    with pytest.raises(DIDResolutionError):  # did:key with another fragment
        resolver.dereference(did + "#0")


def test_private_key_in_document_is_refused_when_extracting() -> None:
    document = _web_document()
    document["verificationMethod"][1]["secretKeyMultibase"] = KEY.secret_multikey
    vm = Resolver(documents={DID: document}).dereference(f"{DID}#key-2", "assertionMethod")
    with pytest.raises(KeyFormatError):
        public_key_from_verification_method(vm)
