"""The national registry (trust list), DESIGN.md §5: vc/registry.py.

Sign → verify with our JWS code and with jwcrypto (an independent implementation, both
directions); every changed byte fails; rollback, staleness, key history and revocation; each
entry rule with its own code; lookups and offline DID resolution from the registry; property
tests that verify_registry raises nothing but FurusatoError.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from did.document import public_key_from_verification_method
from did.errors import DIDResolutionError, FurusatoError, MalformedValueError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base58btc_encode, base64url_decode, base64url_encode, varint_encode
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import check_digit, municipality_table
from vc.registry import (
    MAX_CLOCK_SKEW,
    TYP,
    Registry,
    RegistryEntry,
    RegistryError,
    RegistryKey,
    check_entries,
    entry_from_did_document,
    sign_registry,
    validate_entry,
    verify_registry,
)

Doc = dict[str, Any]
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
HOST = "furusato.example.jp"
AUTHORITY_KEYS = {
    KeyType.ED25519: PrivateKey.from_seed(KeyType.ED25519, bytes(range(100, 132))),
    KeyType.P256: PrivateKey.from_seed(KeyType.P256, bytes(range(1, 33))),
}
ED_AUTHORITY = AUTHORITY_KEYS[KeyType.ED25519]
KID = "registry-authority-1"
ATSUMA, SAPPORO, CHIYODA = "015814", "011002", "131016"
OLD_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
NEW_KEY = PrivateKey.from_seed(KeyType.P256, bytes(range(2, 34)))
SAPPORO_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(3, 35)))
PILOT_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(4, 36)))


def did_of(lg_code: str) -> str:
    return f"did:web:{HOST}:lg:{lg_code}"


def status_url(lg_code: str) -> str:
    return f"https://{HOST}/lg/{lg_code}/status/"


def atsuma_document(*, revoked: str | None = None) -> Doc:
    """厚真町: a retired Ed25519 key and a current P-256 key (a rotation)."""
    return build_did_document(
        did_of(ATSUMA),
        [
            VerificationKeyEntry(
                "key-1",
                OLD_KEY.public_key,
                valid_from="2026-01-01T00:00:00Z",
                valid_until="2026-12-01T00:00:00Z",
                revoked=revoked,
            ),
            VerificationKeyEntry("key-2", NEW_KEY.public_key, valid_from="2026-12-01T00:00:00Z"),
        ],
    )


def atsuma() -> RegistryEntry:
    return entry_from_did_document(
        atsuma_document(), lg_code=ATSUMA, status_base_url=status_url(ATSUMA), name_en="Atsuma"
    )


def sapporo() -> RegistryEntry:
    document = build_did_document(
        did_of(SAPPORO), [VerificationKeyEntry("key-1", SAPPORO_KEY.public_key)]
    )
    return entry_from_did_document(document, lg_code=SAPPORO, status_base_url=status_url(SAPPORO))


def pilot() -> RegistryEntry:
    """千代田区 on a did:key (a small pilot)."""
    did = did_key_from_public_key(PILOT_KEY.public_key)
    return RegistryEntry(
        lg_code=CHIYODA,
        name="千代田区",
        prefecture="東京都",
        prefecture_code="130001",
        did=did,
        keys=[
            RegistryKey(
                did_key_verification_method_id(PILOT_KEY.public_key), PILOT_KEY.public_key.multikey
            )
        ],
        status_base_url="http://127.0.0.1:8080/status/",
    )


def make_registry(
    sequence: int = 1,
    *,
    entries: list[RegistryEntry] | None = None,
    issued_at: datetime = NOW,
    valid_for: timedelta = timedelta(days=7),
) -> Registry:
    return Registry(
        sequence=sequence,
        issued_at=issued_at,
        next_update=issued_at + valid_for,
        entries=entries if entries is not None else [atsuma(), sapporo(), pilot()],
        authority="ふるさと住民登録 全国レジストリ (test)",
    )


def compact(header: Doc, payload: bytes, signer: PrivateKey) -> str:
    """A JWS made without vc.registry, to send what sign_registry would refuse to make."""
    signing_input = base64url_encode(json.dumps(header).encode()) + "." + base64url_encode(payload)
    return signing_input + "." + base64url_encode(signer.sign(signing_input.encode()))


def payload_of(registry: Registry) -> bytes:
    return json.dumps(registry.to_json(), ensure_ascii=False).encode()


def expect_code(code: str, call: Callable[[], object]) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        call()
    assert info.value.code == code, f"{info.value.code}: {info.value}"
    assert info.value.message_ja
    assert info.value.message_en
    return info.value


GOOD_HEADER = base64url_encode(json.dumps({"alg": "EdDSA", "typ": TYP}).encode())


def header_of(jws: str) -> Doc:
    decoded: Doc = json.loads(base64url_decode(jws.split(".")[0]))
    return decoded


# --- sign and verify ------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", list(AUTHORITY_KEYS))
def test_sign_then_verify(key_type: KeyType) -> None:
    authority = AUTHORITY_KEYS[key_type]
    registry = make_registry()
    jws = sign_registry(registry, authority, kid=KID)
    assert header_of(jws) == {"alg": authority.alg, "typ": TYP, "kid": KID}
    verified = verify_registry(jws, authority.public_key, now=NOW)
    assert verified == registry
    assert not verified.is_stale(NOW)
    # the file's final newline and bytes input are fine
    assert verify_registry((jws + "\n").encode(), authority.public_key, now=NOW) == registry


@pytest.mark.parametrize("key_type", list(AUTHORITY_KEYS))
def test_jwcrypto_verifies_our_jws(key_type: KeyType) -> None:
    """RFC 7515 compact serialization, checked by jwcrypto given only the public JWK."""
    authority = AUTHORITY_KEYS[key_type]
    registry = make_registry()
    jws = sign_registry(registry, authority, kid=KID)
    token = jwcrypto_jws.JWS()
    token.deserialize(jws)
    token.verify(jwcrypto_jwk.JWK(**authority.public_key.to_jwk()), alg=authority.alg)
    assert json.loads(token.payload) == registry.to_json()
    assert token.jose_header["typ"] == TYP


@pytest.mark.parametrize("key_type", list(AUTHORITY_KEYS))
def test_we_verify_a_jws_made_by_jwcrypto(key_type: KeyType) -> None:
    authority = AUTHORITY_KEYS[key_type]
    registry = make_registry()
    token = jwcrypto_jws.JWS(payload_of(registry))
    token.add_signature(
        jwcrypto_jwk.JWK(**authority.to_jwk()),
        alg=None,
        protected=json.dumps({"alg": authority.alg, "typ": f"application/{TYP}", "kid": KID}),
    )
    assert verify_registry(token.serialize(compact=True), authority.public_key, now=NOW) == registry


@pytest.mark.parametrize("key_type", list(AUTHORITY_KEYS))
def test_every_changed_character_fails(key_type: KeyType) -> None:
    authority = AUTHORITY_KEYS[key_type]
    jws = sign_registry(make_registry(entries=[atsuma()]), authority, kid=KID)
    for index, char in enumerate(jws):
        replacement = "B" if char == "A" else "A"
        tampered = jws[:index] + replacement + jws[index + 1 :]
        with pytest.raises(RegistryError):
            verify_registry(tampered, authority.public_key, now=NOW)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changed_byte_in_each_part_is_a_signature_failure(part: int) -> None:
    """A changed byte, re-encoded as valid base64url, reaches the signature check."""
    jws = sign_registry(make_registry(), ED_AUTHORITY, kid=KID)
    parts = jws.split(".")
    raw = bytearray(base64url_decode(parts[part], max_length=len(parts[part])))
    if part == 0:  # keep the header valid JSON: change a letter of the kid
        raw = bytearray(bytes(raw).replace(KID.encode(), KID.upper().encode()))
    elif part == 1:  # a digit of the sequence
        raw = bytearray(bytes(raw).replace(b'"sequence":1', b'"sequence":2'))
    else:
        raw[len(raw) // 2] ^= 0x01
    parts[part] = base64url_encode(bytes(raw))
    expect_code(
        "registry_signature_invalid",
        lambda: verify_registry(".".join(parts), ED_AUTHORITY.public_key, now=NOW),
    )


def test_wrong_authority_key_fails() -> None:
    jws = sign_registry(make_registry(), ED_AUTHORITY, kid=KID)
    other = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
    expect_code(
        "registry_signature_invalid",
        lambda: verify_registry(jws, other.public_key, now=NOW),
    )
    # a key of another type: the header's alg is not its algorithm
    expect_code(
        "registry_algorithm_mismatch",
        lambda: verify_registry(jws, AUTHORITY_KEYS[KeyType.P256].public_key, now=NOW),
    )


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"alg": "none", "typ": TYP}, "registry_algorithm_mismatch"),
        ({"alg": "ES256", "typ": TYP}, "registry_algorithm_mismatch"),
        ({"alg": "HS256", "typ": TYP}, "registry_algorithm_mismatch"),
        ({"typ": TYP}, "registry_algorithm_mismatch"),
        ({"alg": "EdDSA"}, "registry_header_invalid"),
        ({"alg": "EdDSA", "typ": "JWT"}, "registry_header_invalid"),
        ({"alg": "EdDSA", "typ": TYP, "crit": ["exp"]}, "registry_header_invalid"),
        (
            {"alg": "EdDSA", "typ": TYP, "jwk": ED_AUTHORITY.public_key.to_jwk()},
            "registry_header_invalid",
        ),
        ({"alg": "EdDSA", "typ": TYP, "kid": 7}, "registry_header_invalid"),
    ],
)
def test_header_rules(header: Doc, code: str) -> None:
    jws = compact(header, payload_of(make_registry()), ED_AUTHORITY)
    expect_code(code, lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW))


def test_typ_with_media_type_prefix_is_accepted() -> None:
    header = {"alg": "EdDSA", "typ": "Application/Furusato-Registry+JSON", "kid": KID}
    jws = compact(header, payload_of(make_registry()), ED_AUTHORITY)
    assert verify_registry(jws, ED_AUTHORITY.public_key, now=NOW).sequence == 1


@pytest.mark.parametrize(
    ("jws", "code"),
    [
        ("", "registry_malformed"),
        ("a.b", "registry_malformed"),
        ("a.b.c.d", "registry_malformed"),
        ("..", "registry_malformed"),
        ("ｅｙ.ｅｙ.ｅｙ", "registry_malformed"),
        (f"{GOOD_HEADER}.e30.A=", "registry_malformed"),
        (f"{GOOD_HEADER}.e30.AB", "registry_malformed"),  # non-canonical base64url
        ("eyJ hbGci.e30.AAAA", "registry_malformed"),
    ],
)
def test_malformed_jws(jws: str, code: str) -> None:
    expect_code(code, lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW))


def test_size_is_bounded_before_anything_else() -> None:
    jws = sign_registry(make_registry(), ED_AUTHORITY, kid=KID)
    expect_code(
        "registry_too_large",
        lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW, max_bytes=len(jws) - 1),
    )
    expect_code(
        "registry_too_large",
        lambda: verify_registry("A" * 10_000_000, ED_AUTHORITY.public_key, now=NOW),
    )


def test_signed_payload_that_breaks_the_format_is_refused() -> None:
    """The authority's signature does not make a bad entry acceptable."""
    document = make_registry().to_json()
    document["entries"][0]["statusBaseUrl"] = "http://furusato.example.jp/status/"
    header = {"alg": "EdDSA", "typ": TYP, "kid": KID}
    jws = compact(header, json.dumps(document).encode(), ED_AUTHORITY)
    error = expect_code(
        "registry_url_insecure", lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW)
    )
    assert error.path == "registry.entries[0].statusBaseUrl"


@pytest.mark.parametrize(
    "payload", [b"[]", b"null", b"{", b'{"sequence": 1, "sequence": 2}', b"\xff", b"NaN"]
)
def test_signed_payload_that_is_not_a_registry_object(payload: bytes) -> None:
    jws = compact({"alg": "EdDSA", "typ": TYP, "kid": KID}, payload, ED_AUTHORITY)
    expect_code(
        "registry_malformed", lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW)
    )


# --- sequence and time ----------------------------------------------------------------------


def test_rollback_is_refused() -> None:
    jws = sign_registry(make_registry(4), ED_AUTHORITY, kid=KID)
    key = ED_AUTHORITY.public_key
    error = expect_code(
        "registry_rollback", lambda: verify_registry(jws, key, now=NOW, previous_sequence=5)
    )
    assert "4" in error.message_en
    assert "5" in error.message_en
    held = make_registry(5)
    expect_code("registry_rollback", lambda: verify_registry(jws, key, now=NOW, previous=held))
    assert verify_registry(jws, key, now=NOW, previous_sequence=3).sequence == 4


def test_same_sequence_is_fine_only_with_the_same_content() -> None:
    registry = make_registry(4)
    jws = sign_registry(registry, ED_AUTHORITY, kid=KID)
    key = ED_AUTHORITY.public_key
    assert verify_registry(jws, key, now=NOW, previous_sequence=4) == registry
    assert verify_registry(jws, key, now=NOW, previous=registry) == registry
    different = make_registry(4, entries=[atsuma()])
    expect_code(
        "registry_sequence_conflict",
        lambda: verify_registry(jws, key, now=NOW, previous=different),
    )


def test_stale_registry_verifies_and_reports_it() -> None:
    registry = make_registry()
    jws = sign_registry(registry, ED_AUTHORITY, kid=KID)
    later = registry.next_update + timedelta(days=1)
    verified = verify_registry(jws, ED_AUTHORITY.public_key, now=later)
    assert verified.is_stale(later)
    assert not verified.is_stale(registry.next_update - timedelta(seconds=1))
    assert verified.is_stale(registry.next_update)
    expect_code("registry_expired", lambda: verified.require_fresh(later))
    verified.require_fresh(later, grace=timedelta(days=2))
    verified.require_fresh(NOW)


def test_registry_from_the_future_is_refused() -> None:
    jws = sign_registry(make_registry(issued_at=NOW + timedelta(hours=1)), ED_AUTHORITY, kid=KID)
    expect_code(
        "registry_not_yet_valid", lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW)
    )
    within = sign_registry(make_registry(issued_at=NOW + MAX_CLOCK_SKEW), ED_AUTHORITY, kid=KID)
    assert verify_registry(within, ED_AUTHORITY.public_key, now=NOW).sequence == 1


def test_now_must_be_aware() -> None:
    jws = sign_registry(make_registry(), ED_AUTHORITY, kid=KID)
    with pytest.raises(MalformedValueError):
        verify_registry(jws, ED_AUTHORITY.public_key, now=NOW.replace(tzinfo=None))


# --- keys -----------------------------------------------------------------------------------


def test_key_validity_window() -> None:
    key = atsuma().key("#key-1")
    assert key is not None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 12, 1, tzinfo=UTC)
    assert key.valid_at(start)
    assert key.valid_at(end - timedelta(seconds=1))
    assert not key.valid_at(start - timedelta(seconds=1))
    assert not key.valid_at(end)  # [valid_from, valid_until)
    current = atsuma().key("#key-2")
    assert current is not None
    assert current.valid_at(datetime(2099, 1, 1, tzinfo=UTC))
    unbounded = sapporo().keys[0]
    assert unbounded.valid_at(datetime(1999, 1, 1, tzinfo=UTC))
    with pytest.raises(MalformedValueError):
        unbounded.valid_at(datetime(2027, 1, 1))


def test_revoked_key_is_marked_and_never_valid() -> None:
    entry = atsuma().with_key_revoked(did_of(ATSUMA) + "#key-1", "2027-01-03T00:00:00Z")
    registry = make_registry(entries=[entry])
    verified = verify_registry(
        sign_registry(registry, ED_AUTHORITY, kid=KID), ED_AUTHORITY.public_key, now=NOW
    )
    revoked = verified.entries[0].key("#key-1")
    assert revoked is not None
    assert revoked.is_revoked
    assert revoked.revoked == "2027-01-03T00:00:00Z"
    # inside its old window too: a compromised key fails everything it signed
    assert not revoked.valid_at(datetime(2026, 6, 1, tzinfo=UTC))
    # revoking again keeps the first time
    again = entry.with_key_revoked(did_of(ATSUMA) + "#key-1", "2027-02-01T00:00:00Z")
    assert again.key("#key-1") == entry.key("#key-1")
    # the DID document keeps it, marked, and out of assertionMethod
    document = verified.did_documents()[did_of(ATSUMA)]
    methods = {vm["id"]: vm for vm in document["verificationMethod"]}
    assert methods[did_of(ATSUMA) + "#key-1"]["revoked"] == "2027-01-03T00:00:00Z"
    assert document["assertionMethod"] == [did_of(ATSUMA) + "#key-2"]
    resolver = Resolver(documents=verified.did_documents())
    with pytest.raises(DIDResolutionError):
        resolver.dereference(did_of(ATSUMA) + "#key-1", "assertionMethod")


# --- entry rules ----------------------------------------------------------------------------


def _unknown_code() -> str:
    table = municipality_table()
    for prefix in range(99999, 0, -1):
        first_five = f"{prefix:05d}"
        code = first_five + str(check_digit(first_five))
        if code not in table:
            return code
    raise AssertionError("the table has every code")


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(entry: Doc) -> None:
        target: Any = entry
        *parents, last = path.split(".")
        for name in parents:
            target = target[int(name)] if name.isdigit() else target[name]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


_DELETE = object()
OTHER_DID = did_of(SAPPORO)
SECOND_KEY = {"id": did_of(ATSUMA) + "#key-1", "publicKeyMultibase": NEW_KEY.public_key.multikey}

ENTRY_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("bad check digit", _set("lgCode", "015815"), "registry_lg_code_invalid"),
    ("five digits", _set("lgCode", "01581"), "registry_lg_code_invalid"),
    ("full-width digits", _set("lgCode", "０１５８１４"), "registry_lg_code_invalid"),
    ("not in the table", _set("lgCode", _unknown_code()), "registry_municipality_unknown"),
    ("name of another town", _set("name", "札幌市"), "registry_municipality_mismatch"),
    ("prefecture wrong", _set("prefecture", "東京都"), "registry_municipality_mismatch"),
    ("prefecture code wrong", _set("prefectureCode", "130001"), "registry_municipality_mismatch"),
    ("key of another DID", _set("keys.0.id", OTHER_DID + "#key-1"), "registry_key_not_under_did"),
    ("key id without fragment", _set("keys.0.id", did_of(ATSUMA)), "registry_key_not_under_did"),
    ("key id relative", _set("keys.0.id", "#key-1"), "registry_key_not_under_did"),
    ("key twice", lambda e: e["keys"].append(SECOND_KEY), "registry_key_duplicate"),
    ("key not multibase", _set("keys.0.publicKeyMultibase", "zzz0"), "registry_key_invalid"),
    (
        "secret key as public",
        _set("keys.0.publicKeyMultibase", OLD_KEY.secret_multikey),
        "registry_key_invalid",
    ),
    ("window reversed", _set("keys.0.validFrom", "2026-12-02T00:00:00Z"), "registry_key_invalid"),
    ("time without offset", _set("keys.0.revoked", "2026-12-02T00:00:00"), "registry_malformed"),
    ("http URL", _set("statusBaseUrl", "http://furusato.example.jp/s/"), "registry_url_insecure"),
    ("ftp URL", _set("statusBaseUrl", "ftp://furusato.example.jp/s/"), "registry_url_insecure"),
    ("no scheme", _set("statusBaseUrl", "furusato.example.jp/s/"), "registry_url_insecure"),
    (
        "URL with user",
        _set("statusBaseUrl", "https://u@furusato.example.jp/"),
        "registry_malformed",
    ),
    (
        "URL with query",
        _set("statusBaseUrl", "https://furusato.example.jp/?a"),
        "registry_malformed",
    ),
    ("other DID method", _set("did", "did:example:123"), "registry_did_invalid"),
    ("did:web with an IP", _set("did", "did:web:192.0.2.1"), "registry_did_invalid"),
    ("unknown member", _set("website", "https://x.example/"), "registry_malformed"),
    ("null nameEn", _set("nameEn", None), "registry_malformed"),
    ("no keys", _set("keys", []), "registry_malformed"),
    ("keys missing", _set("keys", _DELETE), "registry_malformed"),
    ("name with newline", _set("nameEn", "Atsuma\nTown"), "registry_malformed"),
    ("number as lgCode", _set("lgCode", 15814), "registry_malformed"),
]


@pytest.mark.parametrize(
    ("change", "code"), [(c[1], c[2]) for c in ENTRY_CASES], ids=[c[0] for c in ENTRY_CASES]
)
def test_entry_rules(change: Callable[[Doc], None], code: str) -> None:
    document = atsuma().to_json()
    change(document)
    expect_code(code, lambda: RegistryEntry.from_json(document))


@pytest.mark.parametrize(
    "url",
    [
        "https://furusato.example.jp/lg/015814/status/",
        "https://furusato.example.jp:8443/status",
        "http://localhost:8000/status/",
        "http://127.0.0.1:8080/status/",
        "http://[::1]:8080/status/",
    ],
)
def test_status_urls_accepted(url: str) -> None:
    document = atsuma().to_json()
    document["statusBaseUrl"] = url
    assert RegistryEntry.from_json(document).status_base_url == url


def test_did_key_entry_rules() -> None:
    document = pilot().to_json()
    assert RegistryEntry.from_json(document) == pilot()
    wrong_id = copy.deepcopy(document)
    wrong_id["keys"][0]["id"] = document["did"] + "#key-1"
    expect_code("registry_key_not_under_did", lambda: RegistryEntry.from_json(wrong_id))
    wrong_key = copy.deepcopy(document)
    wrong_key["keys"][0]["publicKeyMultibase"] = OLD_KEY.public_key.multikey
    expect_code("registry_key_invalid", lambda: RegistryEntry.from_json(wrong_key))


# An Ed25519 "key" of the right shape that is not a curve point (y = 2 has no x), and the
# point of order 2 (y = -1): loading a registry checks shapes only; the point is checked when
# the key is used and, for the operator, by validate_entry.
NOT_A_POINT = "z" + base58btc_encode(varint_encode(0xED) + (2).to_bytes(32, "little"))
SMALL_ORDER = "z" + base58btc_encode(varint_encode(0xED) + (2**255 - 19 - 1).to_bytes(32, "little"))


@pytest.mark.parametrize("multibase", [NOT_A_POINT, SMALL_ORDER])
def test_a_key_off_the_curve_is_refused_when_used_and_by_the_operator(multibase: str) -> None:
    document = atsuma().to_json()
    document["keys"][0]["publicKeyMultibase"] = multibase
    entry = RegistryEntry.from_json(document)  # the shape is right
    expect_code("registry_key_invalid", lambda: entry.keys[0].public_key)
    expect_code("registry_key_invalid", lambda: validate_entry(entry))
    assert validate_entry(atsuma()) == atsuma()


def test_entries_are_unique_by_lg_code_and_did() -> None:
    expect_code("registry_entry_duplicate", lambda: check_entries([atsuma(), atsuma()]))
    same_did = RegistryEntry.from_json(
        {
            **sapporo().to_json(),
            "did": did_of(ATSUMA),
            "keys": [
                {
                    "id": did_of(ATSUMA) + "#key-9",
                    "publicKeyMultibase": SAPPORO_KEY.public_key.multikey,
                }
            ],
        }
    )
    expect_code("registry_entry_duplicate", lambda: check_entries([atsuma(), same_did]))
    document = make_registry().to_json()
    document["entries"].append(document["entries"][0])
    expect_code("registry_entry_duplicate", lambda: Registry.from_json(document))


def test_sign_registry_refuses_an_invalid_registry() -> None:
    bad = RegistryEntry(
        lg_code="015815",
        name="厚真町",
        prefecture="北海道",
        prefecture_code="010006",
        did=did_of(ATSUMA),
        keys=list(atsuma().keys),
        status_base_url=status_url(ATSUMA),
    )
    expect_code(
        "registry_lg_code_invalid",
        lambda: sign_registry(make_registry(entries=[bad]), ED_AUTHORITY, kid=KID),
    )
    expect_code("registry_lg_code_invalid", lambda: validate_entry(bad))
    naive = Registry(
        sequence=1,
        issued_at=datetime(2027, 1, 1),
        next_update=NOW,
        entries=[],
        authority="x",
    )
    expect_code("registry_malformed", lambda: sign_registry(naive, ED_AUTHORITY, kid=KID))
    expect_code(
        "registry_malformed",
        lambda: sign_registry(make_registry(valid_for=timedelta(0)), ED_AUTHORITY, kid=KID),
    )
    expect_code(
        "registry_malformed", lambda: sign_registry(make_registry(0), ED_AUTHORITY, kid=KID)
    )


# --- lookups and offline resolution ---------------------------------------------------------


def test_lookups() -> None:
    registry = make_registry()
    entry = registry.entry_for_did(did_of(ATSUMA))
    assert entry is not None
    assert entry.lg_code == ATSUMA
    assert entry.name == "厚真町"
    assert entry.name_en == "Atsuma"
    assert entry.prefecture == "北海道"
    assert entry.prefecture_code == "010006"
    assert registry.entry_for_lg_code(SAPPORO) == sapporo()
    assert registry.entry_for_lg_code("131016") == pilot()
    assert registry.entry_for_did("did:web:elsewhere.example") is None
    assert registry.entry_for_lg_code("012025") is None
    key = entry.key(did_of(ATSUMA) + "#key-2")
    assert key is not None
    assert key.public_key == NEW_KEY.public_key
    assert entry.key("#key-2") == key
    assert entry.key(did_of(SAPPORO) + "#key-1") is None
    assert entry.key("#nope") is None
    assert registry.find_key(did_of(ATSUMA) + "#key-1") == (entry, entry.keys[0])
    assert registry.find_key(did_of(SAPPORO) + "#key-9") is None


def test_did_documents_resolve_offline() -> None:
    registry = make_registry()
    documents = registry.did_documents()
    assert set(documents) == {e.did for e in registry.entries}
    resolver = Resolver(documents=documents)  # no fetcher: nothing leaves the process
    for entry in registry.entries:
        assert resolver.resolve(entry.did)["id"] == entry.did
        for key in entry.keys:
            method = resolver.dereference(key.id, "assertionMethod")
            assert method["type"] == "Multikey"
            assert public_key_from_verification_method(method) == key.public_key
            for wire, value in (
                ("validFrom", key.valid_from),
                ("validUntil", key.valid_until),
                ("revoked", key.revoked),
            ):
                assert method.get(wire) == value
    # the same shape as the issuer's own did.json
    assert documents[did_of(ATSUMA)] == atsuma_document()


def test_revoked_did_key_leaves_every_relationship() -> None:
    entry = pilot()
    revoked = entry.with_key_revoked(entry.keys[0].id, "2027-01-02T00:00:00Z")
    document = revoked.did_document()
    assert document["verificationMethod"][0]["revoked"] == "2027-01-02T00:00:00Z"
    assert document["assertionMethod"] == []
    with pytest.raises(DIDResolutionError):
        Resolver(documents={entry.did: document}).dereference(entry.keys[0].id, "assertionMethod")


def test_entry_from_did_document() -> None:
    entry = atsuma()
    assert entry.to_json() == {
        "lgCode": ATSUMA,
        "name": "厚真町",
        "nameEn": "Atsuma",
        "prefecture": "北海道",
        "prefectureCode": "010006",
        "did": did_of(ATSUMA),
        "keys": [
            {
                "id": did_of(ATSUMA) + "#key-1",
                "publicKeyMultibase": OLD_KEY.public_key.multikey,
                "validFrom": "2026-01-01T00:00:00Z",
                "validUntil": "2026-12-01T00:00:00Z",
            },
            {
                "id": did_of(ATSUMA) + "#key-2",
                "publicKeyMultibase": NEW_KEY.public_key.multikey,
                "validFrom": "2026-12-01T00:00:00Z",
            },
        ],
        "statusBaseUrl": status_url(ATSUMA),
    }
    # a revoked key is kept (marked); a key only for authentication is not a signing key
    document = atsuma_document(revoked="2026-11-15T00:00:00Z")
    document["verificationMethod"].append(
        {
            "id": "#login",
            "type": "JsonWebKey",
            "controller": did_of(ATSUMA),
            "publicKeyJwk": SAPPORO_KEY.public_key.to_jwk(),
        }
    )
    document["authentication"].append("#login")
    exported = entry_from_did_document(document, lg_code=ATSUMA, status_base_url=status_url(ATSUMA))
    assert [k.fragment for k in exported.keys] == ["key-1", "key-2"]
    assert exported.keys[0].revoked == "2026-11-15T00:00:00Z"
    assert exported.name_en is None
    # a JsonWebKey method under assertionMethod becomes publicKeyMultibase
    document["assertionMethod"].append("#login")
    with_jwk = entry_from_did_document(document, lg_code=ATSUMA, status_base_url=status_url(ATSUMA))
    login = with_jwk.key("#login")
    assert login is not None
    assert login.public_key_multibase == SAPPORO_KEY.public_key.multikey
    # the names come from the table; an lgCode that does not exist is refused
    expect_code(
        "registry_lg_code_invalid",
        lambda: entry_from_did_document(
            atsuma_document(), lg_code="015815", status_base_url=status_url(ATSUMA)
        ),
    )
    expect_code(
        "registry_url_insecure",
        lambda: entry_from_did_document(
            atsuma_document(), lg_code=ATSUMA, status_base_url="http://furusato.example.jp/"
        ),
    )


def test_json_round_trip() -> None:
    registry = make_registry()
    assert Registry.from_json(json.loads(json.dumps(registry.to_json()))) == registry
    for entry in registry.entries:
        assert RegistryEntry.from_json(entry.to_json()) == entry


def test_a_registry_of_every_municipality() -> None:
    """1,741 municipalities (DESIGN.md §1) sign and verify within the default bounds."""
    key = PublicKey.from_multikey(SAPPORO_KEY.public_key.multikey)
    entries = []
    for municipality in municipality_table().municipalities():
        did = did_of(municipality.lg_code)
        entries.append(
            RegistryEntry(
                lg_code=municipality.lg_code,
                name=municipality.name,
                prefecture=municipality.prefecture,
                prefecture_code=municipality.prefecture_code,
                did=did,
                keys=[RegistryKey(did + "#key-1", key.multikey, "2026-01-01T00:00:00Z")],
                status_base_url=status_url(municipality.lg_code),
            )
        )
    registry = make_registry(entries=entries)
    jws = sign_registry(registry, ED_AUTHORITY, kid=KID)
    verified = verify_registry(jws, ED_AUTHORITY.public_key, now=NOW)
    assert len(verified.entries) == len(entries) >= 1700
    assert verified.entry_for_lg_code(ATSUMA) is not None


# --- property tests -------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
B64 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80
)


def _only_furusato_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(FurusatoError):
        call()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_verify_registry_raises_only_furusato_errors(data: str | bytes) -> None:
    _only_furusato_errors(lambda: verify_registry(data, ED_AUTHORITY.public_key, now=NOW))


@settings(max_examples=300, deadline=None)
@given(B64, B64, B64)
def test_verify_registry_on_three_parts(header: str, payload: str, signature: str) -> None:
    jws = f"{header}.{payload}.{signature}"
    _only_furusato_errors(lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW))


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, JSON_VALUES)
def test_verify_registry_on_signed_junk(header: Any, payload: Any) -> None:
    """Correctly signed, but any header and any payload: still only FurusatoError."""
    jws = compact(header, json.dumps(payload).encode(), ED_AUTHORITY)
    _only_furusato_errors(lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW))
    good_header = {"alg": "EdDSA", "typ": TYP, "kid": KID}
    jws = compact(good_header, json.dumps(payload).encode(), ED_AUTHORITY)
    _only_furusato_errors(lambda: verify_registry(jws, ED_AUTHORITY.public_key, now=NOW))


ENTRY_MEMBERS = [
    "lgCode",
    "name",
    "nameEn",
    "prefecture",
    "prefectureCode",
    "did",
    "keys",
    "statusBaseUrl",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ENTRY_MEMBERS), JSON_VALUES)
def test_entry_with_any_member_value(member: str, value: Any) -> None:
    document = atsuma().to_json()
    document[member] = value
    _only_furusato_errors(lambda: RegistryEntry.from_json(document))
    registry = make_registry().to_json()
    registry["entries"][0] = document
    _only_furusato_errors(lambda: Registry.from_json(registry))
