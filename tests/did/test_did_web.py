"""did:web (W3C-CCG did:web §"Read"; REFERENCES.md §4 table) and DID documents with key history."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from did.document import find_verification_method, public_key_from_verification_method
from did.errors import (
    DIDError,
    DIDResolutionError,
    FurusatoError,
    LimitExceededError,
    MalformedValueError,
)
from did.keys import KeyType, PrivateKey
from did.web import VerificationKeyEntry, build_did_document, did_web_to_url, url_to_did_web

# REFERENCES.md §4 (did:web spec examples, plus our platform layout).
DID_WEB_TABLE = [
    ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
    ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
    ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ("did:web:furusato.example.jp:lg:015814", "https://furusato.example.jp/lg/015814/did.json"),
    ("did:web:xn--r8jz45g.jp", "https://xn--r8jz45g.jp/.well-known/did.json"),
    ("did:web:localhost%3A8443", "https://localhost:8443/.well-known/did.json"),
]


@pytest.mark.parametrize(("did", "url"), DID_WEB_TABLE)
def test_did_web_table(did: str, url: str) -> None:
    assert did_web_to_url(did) == url
    assert url_to_did_web(url) == did


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("https://example.com", "did:web:example.com"),
        ("https://example.com/", "did:web:example.com"),
        ("https://Example.COM/.well-known/did.json", "did:web:example.com"),
        ("https://example.com/user/alice", "did:web:example.com:user:alice"),
        ("https://example.com/user/alice/", "did:web:example.com:user:alice"),
        ("HTTPS://example.com:3000/user/alice/did.json", "did:web:example.com%3A3000:user:alice"),
        ("http://localhost:8000/lg/015814", "did:web:localhost%3A8000:lg:015814"),
    ],
)
def test_url_to_did_web_forms(url: str, did: str) -> None:
    assert url_to_did_web(url) == did


def test_port_colon_may_be_lowercase_percent_encoding() -> None:
    assert (
        did_web_to_url("did:web:example.com%3a3000")
        == "https://example.com:3000/.well-known/did.json"
    )


@pytest.mark.parametrize(
    "did",
    [
        "did:web:127.0.0.1",  # IP address
        "did:web:192.168.0.1%3A8080",
        "did:web:[::1]",
        "did:web:example.com%3A",  # empty port
        "did:web:example.com%3A0",
        "did:web:example.com%3A65536",
        "did:web:example.com%3A080",  # leading zero
        "did:web:example.com%3Ahttp",
        "did:web:example.com%3A80%3A81",
        "did:web:example.com:3000",  # unescaped port colon → segment "3000" is fine, so next:
        "did:web:Example.com",  # uppercase host
        "did:web:exa_mple.com",
        "did:web:-example.com",
        "did:web:example",  # single label
        "did:web:example..com",
        "did:web:例え.jp",  # Unicode: must be punycode
        "did:web:example.com%2Fpath",
        "did:web:example.com::alice",  # empty segment
        "did:web:example.com:",
        "did:web:example.com:..",
        "did:web:example.com:user#key-1",  # DID URL
        "did:web:example.com?x=1",
        "did:web:",
        "did:key:example.com",
        "did:web:" + "a" * 64 + ".com",  # label too long
    ],
)
def test_did_web_to_url_rejects(did: str) -> None:
    if did == "did:web:example.com:3000":
        # Without %3A the "port" is just a path segment (the spec's reason for %3A).
        assert did_web_to_url(did) == "https://example.com/3000/did.json"
        return
    with pytest.raises(DIDError):
        did_web_to_url(did)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",  # http only for localhost
        "http://127.0.0.1:8000/",  # and no IP addresses at all
        "https://127.0.0.1/",
        "https://[::1]/",
        "ftp://example.com/",
        "example.com",
        "https://user@example.com/",
        "https://example.com/?q=1",
        "https://example.com/#frag",
        "https://example.com:99999/",
        "https://example.com:/",
        "https://example.com/did.json",
        "https://example.com/a b",
        "https://example.com/a//b",
        "https://example.com/a:b",
        "https://例え.jp/",
    ],
)
def test_url_to_did_web_rejects(url: str) -> None:
    with pytest.raises(DIDError):
        url_to_did_web(url)


def test_length_bound() -> None:
    with pytest.raises(LimitExceededError):
        did_web_to_url("did:web:example.com:" + "a" * 3000)
    with pytest.raises(LimitExceededError):
        url_to_did_web("https://example.com/" + "a" * 3000)


def test_error_messages_are_bilingual() -> None:
    with pytest.raises(DIDError) as info:
        did_web_to_url("did:web:127.0.0.1")
    assert "IP" in info.value.message_en
    assert "IP アドレス" in info.value.message_ja


_host = st.from_regex(
    r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9-]{0,8}[a-z0-9])?\.(jp|com|example)", fullmatch=True
)
_segment = st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)


@given(_host, st.one_of(st.none(), st.integers(1, 65535)), st.lists(_segment, max_size=4))
def test_did_web_round_trip(host: str, port: int | None, segments: list[str]) -> None:
    did = "did:web:" + host + (f"%3A{port}" if port else "") + "".join(":" + s for s in segments)
    url = did_web_to_url(did)
    assert url.startswith("https://" + host)
    assert url_to_did_web(url) == did


@given(st.text(max_size=80))
def test_did_web_parsers_raise_only_our_errors(text: str) -> None:
    for call, candidate in (
        (did_web_to_url, text),
        (did_web_to_url, "did:web:" + text),
        (url_to_did_web, text),
        (url_to_did_web, "https://" + text),
    ):
        with contextlib.suppress(FurusatoError):
            call(candidate)


# --- DID documents with key history ------------------------------------------------------------

DID = "did:web:furusato.example.jp:lg:015814"


def _key(n: int) -> PrivateKey:
    return PrivateKey.from_seed(KeyType.ED25519, bytes([n]) * 32)


def _entries() -> list[VerificationKeyEntry]:
    return [
        VerificationKeyEntry(
            "key-2026",
            _key(1).public_key,
            valid_from="2026-01-01T00:00:00Z",
            valid_until="2027-01-01T00:00:00Z",
        ),
        VerificationKeyEntry("key-2027", _key(2).public_key, valid_from="2027-01-01T00:00:00Z"),
        VerificationKeyEntry("key-leaked", _key(3).public_key, revoked="2026-06-01T00:00:00Z"),
    ]


def test_build_did_document_with_key_history() -> None:
    document = build_did_document(DID, _entries())
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    assert document["id"] == DID
    methods = {vm["id"]: vm for vm in document["verificationMethod"]}
    assert list(methods) == [f"{DID}#key-2026", f"{DID}#key-2027", f"{DID}#key-leaked"]
    for vm in methods.values():
        assert vm["type"] == "Multikey"
        assert vm["controller"] == DID
    assert methods[f"{DID}#key-2026"]["validFrom"] == "2026-01-01T00:00:00Z"
    assert methods[f"{DID}#key-2026"]["validUntil"] == "2027-01-01T00:00:00Z"
    assert "revoked" not in methods[f"{DID}#key-2026"]
    assert "validUntil" not in methods[f"{DID}#key-2027"]
    assert methods[f"{DID}#key-leaked"]["revoked"] == "2026-06-01T00:00:00Z"
    assert "validFrom" not in methods[f"{DID}#key-leaked"]
    # Retired keys stay under assertionMethod (old credentials verify); revoked ones do not;
    # only the current key authenticates.
    assert document["assertionMethod"] == [f"{DID}#key-2026", f"{DID}#key-2027"]
    assert document["authentication"] == [f"{DID}#key-2027"]
    assert "service" not in document


def test_built_document_round_trips_through_find_verification_method() -> None:
    document = build_did_document(DID, _entries())
    vm = find_verification_method(document, "#key-2026", "assertionMethod")
    assert public_key_from_verification_method(vm) == _key(1).public_key
    with pytest.raises(DIDResolutionError):
        find_verification_method(document, "#key-leaked", "assertionMethod")
    with pytest.raises(DIDResolutionError):
        find_verification_method(document, "#key-2026", "authentication")


def test_explicit_relationships_and_services() -> None:
    document = build_did_document(
        DID,
        _entries(),
        assertion=["key-2027"],
        authentication=[],
        services=[
            {
                "id": "#status",
                "type": "BitstringStatusList",
                "serviceEndpoint": "https://x.example/s",
            },
            {"type": "LinkedDomains", "serviceEndpoint": "https://furusato.example.jp"},
        ],
    )
    assert document["assertionMethod"] == [f"{DID}#key-2027"]
    assert document["authentication"] == []
    assert document["service"][0]["id"] == f"{DID}#status"
    assert "id" not in document["service"][1]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"assertion": ["nope"]}, MalformedValueError),
        ({"authentication": "key-2027"}, MalformedValueError),
        ({"services": [{"type": "X"}]}, MalformedValueError),
    ],
)
def test_build_rejects_bad_input(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        build_did_document(DID, _entries(), **kwargs)  # type: ignore[arg-type]


def test_build_rejects_bad_did_and_fragments() -> None:
    with pytest.raises(DIDError):
        build_did_document("did:web:127.0.0.1", _entries())
    key = _key(1).public_key
    with pytest.raises(MalformedValueError):
        build_did_document(DID, [VerificationKeyEntry("a", key), VerificationKeyEntry("a", key)])
    with pytest.raises(MalformedValueError):
        build_did_document(DID, [VerificationKeyEntry("a#b", key)])
    with pytest.raises(MalformedValueError):
        build_did_document(DID, [VerificationKeyEntry("", key)])
