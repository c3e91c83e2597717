"""Unit tests of the offline verifier (verifier/): policy, cache, sync, challenges, check, CLI.

Everything is built in-process with the library: the registry authority's key, two member
municipalities on did:web (厚真町 015814 and 札幌市 011002) with their signed status lists and
``index.json``, a resident credential and its QR payload.  The network is a dict
(url → bytes, or an HTTP status) handed to ``sync`` as its ``fetch``; the real HTTP path runs
end to end in test_offline.py.  The helpers here are imported by test_fuzz.py.

"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from did.errors import FurusatoError, LimitExceededError, MalformedValueError
from did.keys import KeyType, PrivateKey
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from tests.cli.helpers import assert_one_line_error, generic_credential, invoke, key_did, key_vm
from tests.vc.qr_fixtures import ISSUER_KEY, NOW, issuer_did, presentation, signed_credential
from vc import envelope
from vc.dates import format_datetime
from vc.furusato import ACTIVITY_CREDENTIAL_TYPE, RESIDENT_CREDENTIAL_TYPE, municipality_claim
from vc.issue import issue_credential
from vc.registry import Registry, RegistryEntry, entry_from_did_document, sign_registry
from vc.result import Check
from vc.statuslist import BitstringStatusList, build_status_list_credential
from verifier import cache as cache_module
from verifier import web
from verifier.cache import CacheAge, CacheError, VerifierCache
from verifier.check import check
from verifier.cli import main as verifier_main
from verifier.policy import MEMBERS, TIERS, Policy
from verifier.sync import (
    MAX_INDEX_BYTES,
    MAX_LISTS_PER_MUNICIPALITY,
    HttpFetcher,
    SyncError,
    SyncReport,
    read_registry_source,
    sync,
)
from verifier.web import Challenges

Doc = dict[str, Any]

# --- the world: an authority, two municipalities, their status lists ---------------------------

ATSUMA, SAPPORO, CHIYODA = "015814", "011002", "131016"  # 千代田区: never in the registry
HOKKAIDO, TOKYO = "010006", "130001"
AUTHORITY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(100, 132)))
OTHER_AUTHORITY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(7, 39)))
KEYS = {ATSUMA: ISSUER_KEY, SAPPORO: PrivateKey.from_seed(KeyType.ED25519, bytes(range(3, 35)))}
PURPOSES = ("revocation", "suspension")
REGISTRY_URL = "https://registry.example.jp/registry.jws"
WINDOW = timedelta(seconds=120)


def base_url(lg_code: str) -> str:
    return f"https://furusato.example.jp/status/{lg_code}"


def index_url(lg_code: str) -> str:
    return base_url(lg_code) + "/index.json"


def list_url(lg_code: str, purpose: str) -> str:
    """The URL the credentials of tests/vc/qr_fixtures.py name for their status."""
    return f"{base_url(lg_code)}/{purpose}/1"


def entry(lg_code: str, *, revoked: str | None = None) -> RegistryEntry:
    did = issuer_did(lg_code)
    document = build_did_document(
        did, [VerificationKeyEntry("key-1", KEYS[lg_code].public_key, revoked=revoked)]
    )
    return entry_from_did_document(document, lg_code=lg_code, status_base_url=base_url(lg_code))


def make_registry(
    sequence: int = 1,
    *,
    codes: Sequence[str] = (ATSUMA, SAPPORO),
    revoked: Sequence[str] = (),
    valid_for: timedelta = timedelta(days=7),
) -> Registry:
    issued_at = NOW - timedelta(days=1)
    return Registry(
        sequence=sequence,
        issued_at=issued_at,
        next_update=issued_at + valid_for,
        entries=[
            entry(c, revoked=format_datetime(NOW - timedelta(days=2)) if c in revoked else None)
            for c in codes
        ],
        authority="ふるさと住民登録 全国レジストリ (test)",
    )


def signed_registry(registry: Registry | None = None, key: PrivateKey = AUTHORITY) -> bytes:
    return sign_registry(registry or make_registry(), key, kid="authority-1").encode()


@functools.cache
def _status_list(lg_code: str, purpose: str, signer: str, url: str, valid_days: int) -> str:
    unsigned = build_status_list_credential(
        list_url=url,
        issuer=issuer_did(signer),
        purpose=purpose,
        status_list=BitstringStatusList(),
        valid_from=format_datetime(NOW - timedelta(days=2)),
        valid_until=format_datetime(NOW + timedelta(days=valid_days)),
    )
    signed = issue_credential(
        unsigned,
        KEYS[signer],
        verification_method=issuer_did(signer) + "#key-1",
        created=NOW - timedelta(hours=1),
    )
    return json.dumps(signed)


def status_list(
    lg_code: str,
    purpose: str,
    *,
    signer: str | None = None,
    url: str | None = None,
    valid_days: int = 1,
) -> Doc:
    """The signed status list credential of ``lg_code`` (signed by ``signer``'s key, as
    ``signer``'s DID), served at ``url``; all bits zero."""
    document: Doc = json.loads(
        _status_list(
            lg_code, purpose, signer or lg_code, url or list_url(lg_code, purpose), valid_days
        )
    )
    return document


def index_body(lg_code: str, urls: Sequence[str] | None = None, *, of: str | None = None) -> bytes:
    """``index.json`` of ``lg_code`` (claiming to be ``of``'s) listing ``urls``."""
    listed = urls if urls is not None else [list_url(lg_code, p) for p in PURPOSES]
    return json.dumps(
        {"lgCode": of or lg_code, "lists": [{"url": u, "number": 1} for u in listed]}
    ).encode()


def site(registry: bytes | None = None) -> dict[str, bytes | int]:
    """Everything the verifier fetches: the registry, each index, each list."""
    served: dict[str, bytes | int] = {REGISTRY_URL: registry or signed_registry()}
    for code in KEYS:
        served[index_url(code)] = index_body(code)
        for purpose in PURPOSES:
            served[list_url(code, purpose)] = json.dumps(status_list(code, purpose)).encode()
    return served


@dataclass
class Network:
    """``fetch`` for ``sync``: url → bytes, or an int answered as that HTTP status; any other
    URL is unreachable.  Like ``HttpFetcher`` it raises only ``SyncError``; the size bound is
    left to the caller's parser, so that is what these tests exercise."""

    served: dict[str, bytes | int] = field(default_factory=site)
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str, max_bytes: int) -> bytes:
        self.calls.append(url)
        body = self.served.get(url)
        if body is None:
            raise SyncError(f"cannot reach {url}", f"{url} に接続できません", code="unreachable")
        if isinstance(body, int):
            raise SyncError(
                f"{url} answered HTTP {body}",
                f"{url} が HTTP {body} を返しました",
                code="http_error",
            )
        return body


def run_sync(
    cache: VerifierCache, network: Network, *, authority: bool = True, **options: Any
) -> SyncReport:
    return sync(
        cache,
        registry_source=REGISTRY_URL,
        authority=AUTHORITY.public_key if authority else None,
        now=options.pop("now", NOW),
        fetch=network,
        **options,
    )


def synced_cache(directory: Path) -> VerifierCache:
    """A cache after a complete sync at NOW."""
    cache = VerifierCache(directory)
    report = run_sync(cache, Network())
    assert report.complete, report.to_json()
    return cache


def qr_payload(challenge: str = "q83vEjRWeJq8") -> str:
    """The short (profile 1) QR of a premium credential of 厚真町, presented at NOW."""
    return envelope.encode_presentation(presentation(challenge=challenge, created=NOW))


def has_japanese(text: str) -> bool:
    return any(ord(c) > 0x3000 for c in text)


def assert_bilingual(error: FurusatoError) -> None:
    assert error.code
    assert has_japanese(error.message_ja), error.message_ja
    assert error.message_en
    assert not has_japanese(error.message_en), error.message_en


@pytest.fixture
def cache(tmp_path: Path) -> VerifierCache:
    return VerifierCache(tmp_path / "cache")


@pytest.fixture
def network() -> Network:
    return Network()


# --- Policy.from_json ------------------------------------------------------------------------


def test_the_docstring_examples() -> None:
    nursery = Policy.from_json(
        {
            "name": "厚真町保育所",
            "tiers": ["premium"],
            "municipalities": [ATSUMA],
            "statusMaxAgeHours": 24,
            "windowSeconds": 120,
            "requireChallenge": True,
        }
    )
    assert nursery == Policy(
        name="厚真町保育所",
        tiers=frozenset({"premium"}),
        municipalities=frozenset({ATSUMA}),
        status_max_age=timedelta(hours=24),
        window=timedelta(seconds=120),
        require_challenge=True,
    )
    assert nursery.restrictive
    garbage = Policy.from_json({"name": "ごみ集積所", "prefectures": [HOKKAIDO]})
    assert garbage.prefectures == frozenset({HOKKAIDO})
    assert garbage.tiers == frozenset(TIERS)
    assert garbage.restrictive


def test_every_member_is_optional() -> None:
    policy = Policy.from_json({})
    assert policy.tiers == frozenset(TIERS)
    assert policy.municipalities == policy.prefectures == frozenset()
    assert policy.status_max_age == timedelta(hours=24)
    assert policy.window == timedelta(seconds=120)
    assert policy.require_challenge is False
    assert not policy.restrictive


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"statusMaxAgeHours": 0.5}, {"status_max_age": timedelta(minutes=30)}),
        ({"statusMaxAgeHours": 24 * 366}, {"status_max_age": timedelta(days=366)}),
        ({"windowSeconds": 1}, {"window": timedelta(seconds=1)}),
        ({"windowSeconds": 3600}, {"window": timedelta(hours=1)}),
        ({"tiers": ["basic", "premium"]}, {"tiers": frozenset(TIERS)}),
        ({"name": "x" * 100}, {"name": "x" * 100}),
        (
            {"municipalities": [ATSUMA, SAPPORO], "prefectures": [TOKYO]},
            {"municipalities": frozenset({ATSUMA, SAPPORO}), "prefectures": frozenset({TOKYO})},
        ),
    ],
)
def test_good_values_at_their_bounds(value: Doc, expected: Doc) -> None:
    policy = Policy.from_json(value)
    for attribute, wanted in expected.items():
        assert getattr(policy, attribute) == wanted


def _lg_code_case(member: str, value: object) -> Any:
    return pytest.param(
        member,
        {member: value},
        id=f"{member}-{value}",
    )


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("(file)", []),
        ("(file)", "policy"),
        ("(file)", None),
        ("(file)", 7),
        ("tier", {"tier": ["premium"]}),
        ("Name", {"Name": "x"}),
        ("tiers", {"tiers": "premium"}),
        ("tiers", {"tiers": ["gold"]}),
        ("tiers", {"tiers": ["Premium"]}),
        ("tiers", {"tiers": [1]}),
        ("tiers", {"tiers": None}),
        ("municipalities", {"municipalities": ATSUMA}),
        ("municipalities", {"municipalities": [15814]}),
        ("municipalities", {"municipalities": [HOKKAIDO]}),  # a prefecture
        ("municipalities", {"municipalities": [TOKYO]}),
        ("prefectures", {"prefectures": HOKKAIDO}),
        ("prefectures", {"prefectures": [ATSUMA]}),  # a municipality
        ("prefectures", {"prefectures": [[HOKKAIDO]]}),
        _lg_code_case("municipalities", ["015815"]),  # wrong check digit
        _lg_code_case("municipalities", ["01581"]),
        _lg_code_case("municipalities", ["999997"]),  # check digit right, no such place
        _lg_code_case("prefectures", ["010007"]),
        _lg_code_case("prefectures", [""]),
        ("statusMaxAgeHours", {"statusMaxAgeHours": 0}),
        ("statusMaxAgeHours", {"statusMaxAgeHours": -1}),
        ("statusMaxAgeHours", {"statusMaxAgeHours": 24 * 366 + 0.5}),
        ("statusMaxAgeHours", {"statusMaxAgeHours": "24"}),
        ("statusMaxAgeHours", {"statusMaxAgeHours": None}),
        ("statusMaxAgeHours", {"statusMaxAgeHours": True}),
        ("statusMaxAgeHours", {"statusMaxAgeHours": [24]}),
        ("windowSeconds", {"windowSeconds": 0}),
        ("windowSeconds", {"windowSeconds": 3601}),
        ("windowSeconds", {"windowSeconds": 1.5}),
        ("windowSeconds", {"windowSeconds": 120.0}),
        ("windowSeconds", {"windowSeconds": "120"}),
        ("windowSeconds", {"windowSeconds": True}),
        ("requireChallenge", {"requireChallenge": "true"}),
        ("requireChallenge", {"requireChallenge": 1}),
        ("requireChallenge", {"requireChallenge": None}),
        ("name", {"name": ""}),
        ("name", {"name": "x" * 101}),
        ("name", {"name": 5}),
        ("name", {"name": None}),
    ],
)
def test_each_bad_member_is_named(member: str, value: object) -> None:
    with pytest.raises(MalformedValueError) as caught:
        Policy.from_json(value)
    error = caught.value
    assert error.path == member
    assert member in error.message_en
    assert member in error.message_ja
    assert_bilingual(error)


def test_members_are_the_documented_ones() -> None:
    assert (
        frozenset(
            {
                "name",
                "tiers",
                "municipalities",
                "prefectures",
                "statusMaxAgeHours",
                "windowSeconds",
                "requireChallenge",
            }
        )
        == MEMBERS
    )


# --- Policy.checks ---------------------------------------------------------------------------


def resident(tier: object = "basic", lg_code: str | None = ATSUMA) -> Doc:
    subject: Doc = {"type": "FurusatoResident", "registrationTier": tier}
    if lg_code is not None:
        subject["municipality"] = municipality_claim(municipality_table().get(lg_code))
    return {
        "type": ["VerifiableCredential", RESIDENT_CREDENTIAL_TYPE],
        "credentialSubject": subject,
    }


def activity(lg_code: str = ATSUMA) -> Doc:
    return {
        "type": ["VerifiableCredential", ACTIVITY_CREDENTIAL_TYPE],
        "credentialSubject": {
            "municipality": municipality_claim(municipality_table().get(lg_code))
        },
    }


OTHER = {"type": ["VerifiableCredential"], "credentialSubject": {"name": "Alice"}}


def codes_of(checks: Sequence[Check]) -> list[str]:
    return [c.code for c in checks]


@pytest.mark.parametrize(
    ("policy", "credential", "expected"),
    [
        ({}, resident("basic"), ["ok"]),
        ({}, resident("premium", SAPPORO), ["ok"]),
        ({"tiers": ["premium"]}, resident("basic"), ["policy_tier"]),
        ({"tiers": ["premium"]}, resident("premium"), ["ok"]),
        ({"tiers": ["basic"]}, resident("gold"), ["policy_tier"]),
        ({"tiers": ["basic"]}, resident(None), ["policy_tier"]),
        ({"municipalities": [ATSUMA]}, resident(), ["ok", "ok"]),
        ({"municipalities": [SAPPORO]}, resident(), ["ok", "policy_municipality"]),
        ({"prefectures": [HOKKAIDO]}, resident(), ["ok", "ok"]),
        ({"prefectures": [TOKYO]}, resident(), ["ok", "policy_municipality"]),
        ({"municipalities": [SAPPORO], "prefectures": [HOKKAIDO]}, resident(), ["ok", "ok"]),
        ({"municipalities": [ATSUMA]}, resident(lg_code=None), ["ok", "policy_municipality"]),
        (
            {"tiers": ["premium"], "municipalities": [SAPPORO]},
            resident("basic"),
            ["policy_tier", "policy_municipality"],
        ),
        ({}, activity(), []),
        ({"tiers": ["premium"]}, activity(), ["policy_tier"]),
        ({"municipalities": [ATSUMA]}, activity(), ["ok"]),
        ({"municipalities": [SAPPORO]}, activity(), ["policy_municipality"]),
        ({"prefectures": [HOKKAIDO]}, activity(SAPPORO), ["ok"]),
        ({}, OTHER, []),
        ({"tiers": ["basic", "premium"]}, OTHER, []),
        ({"tiers": ["basic"]}, OTHER, ["policy_tier"]),
        ({"prefectures": [HOKKAIDO]}, OTHER, ["policy_tier"]),
        ({"municipalities": [ATSUMA]}, {}, ["policy_tier"]),
    ],
)
def test_policy_checks(policy: Doc, credential: Doc, expected: list[str]) -> None:
    checks = Policy.from_json(policy).checks(credential, "verifiableCredential[0]")
    assert codes_of(checks) == expected
    for one in checks:
        assert one.check == "policy"
        assert one.ok == (one.code == "ok")
        assert one.target == "verifiableCredential[0]"
        assert has_japanese(one.message_ja)
        assert one.message_en
        assert not has_japanese(one.message_en)


def test_a_municipality_refusal_names_what_is_accepted() -> None:
    policy = Policy.from_json({"municipalities": [ATSUMA], "prefectures": [TOKYO]})
    (_, refusal) = policy.checks(resident("basic", SAPPORO))
    assert "厚真町" in refusal.message_ja
    assert "東京都" in refusal.message_ja
    assert ATSUMA in refusal.message_en
    assert TOKYO in refusal.message_en


# --- VerifierCache -----------------------------------------------------------------------------


def test_the_authority_key_is_pinned_once(cache: VerifierCache) -> None:
    assert cache.pinned_key() is None
    cache.pin_key(AUTHORITY.public_key)
    assert cache.pinned_key() == AUTHORITY.public_key
    cache.pin_key(AUTHORITY.public_key)  # the same key again: fine
    with pytest.raises(CacheError) as caught:
        cache.pin_key(OTHER_AUTHORITY.public_key)
    assert caught.value.code == "authority_key_changed"
    assert isinstance(caught.value, FurusatoError)
    assert_bilingual(caught.value)
    assert cache.pinned_key() == AUTHORITY.public_key


def test_a_registry_is_stored_and_read_back_verified(cache: VerifierCache) -> None:
    assert cache.registry(NOW) is None
    stored = cache.store_registry(signed_registry(), AUTHORITY.public_key, NOW)
    assert stored.sequence == 1
    again = VerifierCache(cache.directory).registry(NOW)
    assert again == stored
    assert cache.age().registry_fetched == NOW
    assert cache.age().registry_sequence == 1


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("refused", "code"),
    [
        (lambda: signed_registry(make_registry(1)), "registry_rollback"),
        (lambda: signed_registry(make_registry(2, codes=[ATSUMA])), "registry_sequence_conflict"),
        (lambda: signed_registry(make_registry(3), OTHER_AUTHORITY), "registry_signature_invalid"),
        (lambda: signed_registry(make_registry(3))[:-4] + b"AAAA", "registry_signature_invalid"),
        (lambda: b"not a registry", "registry_malformed"),
    ],
    ids=["rollback", "conflict", "other-authority", "bad-signature", "garbage"],
)
def test_store_registry_refuses_and_keeps_the_cache(
    cache: VerifierCache, refused: Callable[[], bytes], code: str
) -> None:
    cache.store_registry(signed_registry(make_registry(2)), AUTHORITY.public_key, NOW)
    before = _files(cache.directory)
    later = NOW + timedelta(hours=1)
    with pytest.raises(FurusatoError) as caught:
        cache.store_registry(refused(), AUTHORITY.public_key, later)
    assert caught.value.code == code
    assert_bilingual(caught.value)
    assert _files(cache.directory) == before
    registry = VerifierCache(cache.directory).registry(later)
    assert registry is not None
    assert registry.sequence == 2


def test_store_registry_accepts_a_newer_sequence(cache: VerifierCache) -> None:
    cache.store_registry(signed_registry(make_registry(1)), AUTHORITY.public_key, NOW)
    later = NOW + timedelta(hours=1)
    cache.store_registry(signed_registry(make_registry(5)), AUTHORITY.public_key, later)
    assert cache.age() == CacheAge(later, 5, None, 0)


def test_a_refused_first_registry_pins_nothing(cache: VerifierCache) -> None:
    with pytest.raises(FurusatoError) as caught:
        cache.store_registry(signed_registry(), OTHER_AUTHORITY.public_key, NOW)
    assert caught.value.code == "registry_signature_invalid"
    assert cache.pinned_key() is None
    cache.store_registry(signed_registry(), AUTHORITY.public_key, NOW)


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b'"state"',
        b"null",
        b"{",
        b"",
        b"\xff\xfe",
        b'{"lists": []}',
        b'{"registry": [1], "lists": {}}',
    ],
)
def test_a_damaged_state_is_a_cache_error(cache: VerifierCache, content: bytes) -> None:
    url = list_url(ATSUMA, "revocation")
    cache.store_statuses({url: status_list(ATSUMA, "revocation")}, NOW)
    (cache.directory / "state.json").write_bytes(content)
    with pytest.raises(CacheError) as caught:
        cache.age()  # what `cache` and the age lines report
    assert_bilingual(caught.value)
    assert "sync" in caught.value.message_en
    assert cache.get(url) is None  # a status lookup fails closed: status_unknown


def test_a_list_entry_of_the_wrong_shape_vouches_for_nothing(cache: VerifierCache) -> None:
    url = list_url(ATSUMA, "revocation")
    cache.store_statuses({url: status_list(ATSUMA, "revocation")}, NOW)
    (cache.directory / "state.json").write_text(json.dumps({"lists": {url: "yesterday"}}))
    assert cache.get(url) is None
    assert cache.age().lists == 0


def list_file(cache: VerifierCache, url: str) -> Path:
    """Where the module docstring says a list is kept: lists/<sha256 of the URL>.json."""
    return cache.directory / "lists" / (hashlib.sha256(url.encode()).hexdigest() + ".json")


def test_status_lists_are_kept_with_their_age(cache: VerifierCache) -> None:
    url = list_url(ATSUMA, "revocation")
    assert cache.get(url) is None
    document = status_list(ATSUMA, "revocation")
    cache.store_statuses({url: document}, NOW)
    found = cache.get(url)
    assert found is not None
    assert found.credential == document
    assert found.retrieved_at == NOW
    assert list_file(cache, url).is_file()
    assert cache.get(list_url(SAPPORO, "revocation")) is None


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"id": "https://furu', b"[]", b'"x"', b"\x00" * 64, b"null"],
    ids=["empty", "brace", "truncated", "array", "string", "zeros", "null"],
)
def test_a_damaged_list_file_reads_as_missing(cache: VerifierCache, content: bytes) -> None:
    url = list_url(ATSUMA, "revocation")
    cache.store_statuses({url: status_list(ATSUMA, "revocation")}, NOW)
    list_file(cache, url).write_bytes(content)
    assert cache.get(url) is None  # status_unknown: fail closed


def test_a_missing_list_file_reads_as_missing(cache: VerifierCache) -> None:
    url = list_url(ATSUMA, "revocation")
    cache.store_statuses({url: status_list(ATSUMA, "revocation")}, NOW)
    list_file(cache, url).unlink()
    assert cache.get(url) is None


def test_a_list_file_the_state_does_not_vouch_for_is_missing(cache: VerifierCache) -> None:
    known, stray = list_url(ATSUMA, "revocation"), list_url(ATSUMA, "suspension")
    cache.store_statuses({known: status_list(ATSUMA, "revocation")}, NOW)
    list_file(cache, stray).write_text(json.dumps(status_list(ATSUMA, "suspension")))
    assert cache.get(stray) is None
    assert cache.get(known) is not None


def test_age(cache: VerifierCache) -> None:
    assert cache.age() == CacheAge(None, None, None, 0)
    cache.store_registry(signed_registry(make_registry(4)), AUTHORITY.public_key, NOW)
    first, second = NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)
    cache.store_statuses({list_url(ATSUMA, "revocation"): status_list(ATSUMA, "revocation")}, first)
    cache.store_statuses({list_url(SAPPORO, p): status_list(SAPPORO, p) for p in PURPOSES}, second)
    assert cache.age() == CacheAge(NOW, 4, first, 3)
    # refreshing the oldest moves the oldest
    cache.store_statuses(
        {list_url(ATSUMA, "revocation"): status_list(ATSUMA, "revocation")}, second
    )
    assert cache.age().oldest_list == second


def test_seen_before_within_the_window(cache: VerifierCache) -> None:
    assert cache.seen_before("FR1:A", NOW, WINDOW) is False
    assert cache.seen_before("FR1:A", NOW + WINDOW, WINDOW) is True
    assert cache.seen_before("FR1:B", NOW + WINDOW, WINDOW) is False
    # each sighting is recorded: the window runs from the last one
    assert cache.seen_before("FR1:A", NOW + 2 * WINDOW + timedelta(seconds=1), WINDOW) is False
    assert cache.seen_before("FR1:B", NOW + 3 * WINDOW, WINDOW) is False


def test_seen_before_after_the_window(cache: VerifierCache) -> None:
    assert cache.seen_before("FR1:A", NOW, WINDOW) is False
    assert cache.seen_before("FR1:A", NOW + WINDOW + timedelta(seconds=1), WINDOW) is False


def _seen(cache: VerifierCache) -> dict[str, str]:
    seen: dict[str, str] = json.loads((cache.directory / "seen.json").read_text())
    return seen


def test_seen_keeps_no_payload_and_forgets_old_ones(cache: VerifierCache) -> None:
    cache.seen_before("FR1:SECRET", NOW, WINDOW)
    assert "FR1:SECRET" not in (cache.directory / "seen.json").read_text()
    assert list(_seen(cache)) == [hashlib.sha256(b"FR1:SECRET").hexdigest()]
    cache.seen_before("FR1:OTHER", NOW + 3 * WINDOW, WINDOW)
    assert list(_seen(cache)) == [hashlib.sha256(b"FR1:OTHER").hexdigest()]


def test_seen_is_pruned_to_max_seen(cache: VerifierCache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "MAX_SEEN", 3)
    for i in range(6):
        assert cache.seen_before(f"FR1:{i}", NOW + timedelta(seconds=i), WINDOW) is False
        assert len(_seen(cache)) <= 3
    later = NOW + timedelta(seconds=10)
    # the newest three are kept, the oldest forgotten
    assert cache.seen_before("FR1:5", later, WINDOW) is True
    assert cache.seen_before("FR1:0", later, WINDOW) is False


def test_seen_pruning_keeps_the_newest_with_fractions(
    cache: VerifierCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "MAX_SEEN", 1)
    cache.seen_before("FR1:old", NOW, WINDOW)
    cache.seen_before("FR1:new", NOW + timedelta(milliseconds=500), WINDOW)
    assert cache.seen_before("FR1:new", NOW + timedelta(seconds=1), WINDOW) is True


# --- sync ----------------------------------------------------------------------------------


def test_a_complete_sync(cache: VerifierCache, network: Network) -> None:
    progress: list[tuple[int, int]] = []
    report = run_sync(cache, network, progress=lambda done, total: progress.append((done, total)))
    assert (report.registry_sequence, report.municipalities, report.lists) == (1, 2, 4)
    assert report.complete
    assert sorted(progress) == [(1, 2), (2, 2)]
    for code in KEYS:
        for purpose in PURPOSES:
            found = cache.get(list_url(code, purpose))
            assert found is not None
            assert found.credential == status_list(code, purpose)
            assert found.retrieved_at == NOW
    assert cache.pinned_key() == AUTHORITY.public_key
    registry = cache.registry(NOW)
    assert registry is not None
    assert registry.sequence == 1


def test_report_to_json(cache: VerifierCache, network: Network) -> None:
    network.served[index_url(ATSUMA)] = 503
    report = run_sync(cache, network, workers=1)
    answer = report.to_json()
    assert set(answer) == {"registrySequence", "municipalities", "lists", "failures", "seconds"}
    assert (answer["registrySequence"], answer["municipalities"], answer["lists"]) == (1, 2, 2)
    assert isinstance(answer["seconds"], float)
    (failure,) = answer["failures"]
    assert set(failure) == {"lgCode", "url", "code", "messages"}
    assert (failure["lgCode"], failure["url"], failure["code"]) == (
        ATSUMA,
        index_url(ATSUMA),
        "http_error",
    )
    assert has_japanese(failure["messages"]["ja"])
    assert "503" in failure["messages"]["en"]
    json.dumps(answer)  # JSON as it is


def _many(n: int) -> bytes:
    return index_body(ATSUMA, [f"{base_url(ATSUMA)}/revocation/{i}" for i in range(n)])


@pytest.mark.parametrize(
    ("index", "code"),
    [
        (None, "unreachable"),
        (404, "http_error"),
        (index_body(ATSUMA) + b" " * MAX_INDEX_BYTES, "limit_exceeded"),
        (b"<html>maintenance</html>", "malformed"),
        (b'{"lgCode": "015814", "lists": {}}', "malformed"),
        (b'{"lists": []}', "malformed"),
        (index_body(SAPPORO, of=SAPPORO), "malformed"),  # another municipality's index
        (index_body(ATSUMA, of=SAPPORO), "malformed"),  # this one's lists, another's lgCode
        (index_body(ATSUMA, [list_url(SAPPORO, "revocation")]), "malformed"),
        (index_body(ATSUMA, [base_url(ATSUMA) + "0/revocation/1"]), "malformed"),
        (index_body(ATSUMA, ["https://evil.example/status/015814/revocation/1"]), "malformed"),
        (index_body(ATSUMA, [base_url(ATSUMA)]), "malformed"),
        (index_body(ATSUMA, [base_url(ATSUMA) + "/" + "x" * 2048]), "malformed"),
        (b'{"lgCode": "015814", "lists": [{"href": "x"}]}', "malformed"),
        (
            b'{"lgCode": "015814", "lists": ["https://furusato.example.jp/status/015814/r"]}',
            "malformed",
        ),
        (_many(MAX_LISTS_PER_MUNICIPALITY + 1), "limit_exceeded"),
    ],
    ids=[
        "unreachable",
        "http-error",
        "oversized",
        "not-json",
        "lists-not-array",
        "no-lg-code",
        "another-index",
        "another-lg-code",
        "another-base",
        "base-prefix",
        "another-host",
        "the-base-itself",
        "url-too-long",
        "item-without-url",
        "item-not-object",
        "too-many",
    ],
)
def test_a_bad_index_fails_that_municipality_only(
    cache: VerifierCache, network: Network, index: bytes | int | None, code: str
) -> None:
    if index is None:
        del network.served[index_url(ATSUMA)]
    else:
        network.served[index_url(ATSUMA)] = index
    report = run_sync(cache, network)
    assert [(f.lg_code, f.url, f.code) for f in report.failures] == [
        (ATSUMA, index_url(ATSUMA), code)
    ]
    assert has_japanese(report.failures[0].message_ja)
    assert report.lists == 2
    assert not any(
        url.startswith(base_url(ATSUMA) + "/") and "index" not in url for url in network.calls
    )
    for purpose in PURPOSES:
        assert cache.get(list_url(SAPPORO, purpose)) is not None
        assert cache.get(list_url(ATSUMA, purpose)) is None


def test_many_lists_up_to_the_bound_are_fetched(cache: VerifierCache, network: Network) -> None:
    network.served[index_url(ATSUMA)] = _many(MAX_LISTS_PER_MUNICIPALITY)
    report = run_sync(cache, network)
    asked = [url for url in network.calls if url.startswith(base_url(ATSUMA) + "/revocation/")]
    assert len(asked) == MAX_LISTS_PER_MUNICIPALITY  # every one (only …/revocation/1 exists)
    assert {f.code for f in report.failures} == {"unreachable"}
    assert (len(report.failures), report.lists) == (MAX_LISTS_PER_MUNICIPALITY - 1, 3)


def _tampered(document: Doc) -> Doc:
    changed = copy.deepcopy(document)
    changed["validUntil"] = format_datetime(NOW + timedelta(days=3650))
    return changed


REVOCATION = list_url(ATSUMA, "revocation")


@pytest.mark.parametrize(
    ("served", "code"),
    [
        (lambda: status_list(ATSUMA, "suspension"), "malformed"),  # wrong id
        (lambda: {**status_list(ATSUMA, "revocation"), "id": REVOCATION + "/"}, "malformed"),
        (
            lambda: {**status_list(ATSUMA, "revocation"), "type": ["VerifiableCredential"]},
            "malformed",
        ),
        (lambda: {**status_list(ATSUMA, "revocation"), "type": "BitstringStatusList"}, "malformed"),
        (lambda: status_list(ATSUMA, "revocation", signer=SAPPORO, url=REVOCATION), "malformed"),
        (lambda: _tampered(status_list(ATSUMA, "revocation")), "signature_invalid"),
        pytest.param(
            lambda: {k: v for k, v in status_list(ATSUMA, "revocation").items() if k != "proof"},
            "proof_missing",
        ),
        (lambda: status_list(ATSUMA, "revocation", valid_days=-1), "expired"),
        (lambda: [status_list(ATSUMA, "revocation")], "malformed"),
        (lambda: b'{"id": "https://furusato.example.jp/status/015814/revocation/1"', "malformed"),
        (lambda: 500, "http_error"),
    ],
    ids=[
        "another-lists-id",
        "id-not-the-url",
        "wrong-type",
        "type-not-credential",
        "issuer-another-municipality",
        "bad-signature",
        "no-proof",
        "expired",
        "not-an-object",
        "truncated",
        "http-error",
    ],
)
def test_a_list_that_does_not_verify_is_not_kept(
    cache: VerifierCache, network: Network, served: Callable[[], object], code: str
) -> None:
    value = served()
    network.served[REVOCATION] = (
        value if isinstance(value, bytes | int) else json.dumps(value).encode()
    )
    report = run_sync(cache, network)
    assert [(f.lg_code, f.url, f.code) for f in report.failures] == [(ATSUMA, REVOCATION, code)]
    assert report.lists == 3
    assert cache.get(REVOCATION) is None
    assert not list_file(cache, REVOCATION).exists()
    assert REVOCATION not in json.loads((cache.directory / "state.json").read_text())["lists"]
    assert cache.get(list_url(ATSUMA, "suspension")) is not None


def test_lists_signed_by_a_key_revoked_in_the_registry_are_refused(
    cache: VerifierCache, network: Network
) -> None:
    network.served[REGISTRY_URL] = signed_registry(make_registry(revoked=[ATSUMA]))
    report = run_sync(cache, network)
    assert sorted((f.lg_code, f.url, f.code) for f in report.failures) == [
        (ATSUMA, list_url(ATSUMA, p), "key_revoked") for p in PURPOSES
    ]
    for purpose in PURPOSES:
        assert cache.get(list_url(ATSUMA, purpose)) is None
        assert cache.get(list_url(SAPPORO, purpose)) is not None


def test_a_municipality_that_fails_keeps_the_lists_it_had(
    cache: VerifierCache, network: Network
) -> None:
    run_sync(cache, network)
    later = NOW + timedelta(hours=6)
    network.served[index_url(ATSUMA)] = 502
    report = run_sync(cache, network, now=later)
    assert [f.code for f in report.failures] == ["http_error"]
    for purpose in PURPOSES:
        kept = cache.get(list_url(ATSUMA, purpose))
        fresh = cache.get(list_url(SAPPORO, purpose))
        assert kept is not None
        assert fresh is not None
        assert (kept.retrieved_at, fresh.retrieved_at) == (NOW, later)


def test_the_first_sync_needs_the_authority_key(cache: VerifierCache, network: Network) -> None:
    with pytest.raises(CacheError) as caught:
        run_sync(cache, network, authority=False)
    assert caught.value.code == "authority_key_missing"
    assert "--registry-key" in caught.value.message_en
    assert_bilingual(caught.value)
    assert network.calls == []
    assert not cache.directory.exists()


def test_later_syncs_use_the_pinned_key(cache: VerifierCache, network: Network) -> None:
    run_sync(cache, network)
    network.served[REGISTRY_URL] = signed_registry(make_registry(2))
    assert run_sync(cache, network, authority=False).registry_sequence == 2


def test_a_registry_of_another_authority_stops_the_sync(
    cache: VerifierCache, network: Network
) -> None:
    run_sync(cache, network)
    before = _files(cache.directory)
    network.calls.clear()
    network.served[REGISTRY_URL] = signed_registry(make_registry(2), OTHER_AUTHORITY)
    with pytest.raises(FurusatoError) as caught:
        run_sync(cache, network, authority=False)
    assert caught.value.code == "registry_signature_invalid"
    assert network.calls == [REGISTRY_URL]
    assert _files(cache.directory) == before


def test_only_the_chosen_municipalities(cache: VerifierCache, network: Network) -> None:
    report = run_sync(cache, network, lg_codes=[SAPPORO])
    assert (report.municipalities, report.lists) == (1, 2)
    assert index_url(ATSUMA) not in network.calls
    assert cache.get(list_url(ATSUMA, "revocation")) is None


def test_a_chosen_code_not_in_the_registry(cache: VerifierCache, network: Network) -> None:
    with pytest.raises(SyncError) as caught:
        run_sync(cache, network, lg_codes=[SAPPORO, CHIYODA])
    assert caught.value.code == "issuer_unknown"
    assert CHIYODA in caught.value.message_en
    assert_bilingual(caught.value)
    assert index_url(SAPPORO) not in network.calls


def test_read_registry_source_from_a_file(tmp_path: Path) -> None:
    def no_network(url: str, max_bytes: int) -> bytes:
        raise AssertionError(url)

    path = tmp_path / "registry.jws"
    path.write_bytes(signed_registry())
    assert read_registry_source(str(path), no_network) == signed_registry()
    with pytest.raises(SyncError) as caught:
        read_registry_source(str(tmp_path / "missing.jws"), no_network)
    assert caught.value.code == "not_found"
    with path.open("r+b") as handle:
        handle.truncate(8 * 1024 * 1024 + 1)  # sparse: nothing is read
    with pytest.raises(LimitExceededError):
        read_registry_source(str(path), no_network)


# --- HttpFetcher (on httpx's MockTransport: in-process) --------------------------------------


def fetcher(handler: Callable[[httpx.Request], httpx.Response]) -> HttpFetcher:
    return HttpFetcher(httpx.Client(transport=httpx.MockTransport(handler)))


def test_http_fetcher_answers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/ok":
            return httpx.Response(200, content=b"ok")
        if path == "/big":
            return httpx.Response(200, content=b"x" * 101)
        if path == "/moved":
            return httpx.Response(302, headers={"Location": "https://evil.example/ok"})
        if path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(404)

    fetch = fetcher(handler)
    assert fetch("https://furusato.example.jp/ok", 100) == b"ok"
    for path, code in (
        ("/missing", "http_error"),
        ("/moved", "http_error"),  # redirects are not followed
        ("/big", "limit_exceeded"),
        ("/down", "unreachable"),
    ):
        with pytest.raises(FurusatoError) as caught:
            fetch(f"https://furusato.example.jp{path}", 100)
        assert caught.value.code == code
        assert_bilingual(caught.value)
    fetch.close()


@pytest.mark.parametrize("url", ["https://furusato.example.jp/x\x00", "https://[zz]/registry.jws"])
def test_http_fetcher_refuses_an_invalid_url(url: str) -> None:
    fetch = fetcher(lambda request: httpx.Response(200, content=b"ok"))
    with pytest.raises(SyncError):
        fetch(url, 100)


def test_an_index_listing_an_invalid_url_fails_that_municipality_only(
    cache: VerifierCache,
) -> None:
    served = site()
    served[index_url(ATSUMA)] = index_body(ATSUMA, [base_url(ATSUMA) + "/revocation/\x00"])

    def handler(request: httpx.Request) -> httpx.Response:
        body = served.get(str(request.url))
        return httpx.Response(200, content=body) if isinstance(body, bytes) else httpx.Response(404)

    report = sync(
        cache,
        registry_source=REGISTRY_URL,
        authority=AUTHORITY.public_key,
        now=NOW,
        fetch=fetcher(handler),
    )
    assert [f.lg_code for f in report.failures] == [ATSUMA]
    assert report.lists == 2


# --- web.Challenges ---------------------------------------------------------------------------


def test_a_challenge_is_single_use() -> None:
    challenges = Challenges(WINDOW)
    challenge, expires = challenges.issue(NOW)
    assert expires == NOW + WINDOW
    assert len(challenge) >= 16
    assert challenges.take(challenge, NOW + timedelta(seconds=1)) is True
    assert challenges.take(challenge, NOW + timedelta(seconds=1)) is False
    assert challenges.take("made-up", NOW) is False


def test_challenges_are_random() -> None:
    challenges = Challenges(WINDOW)
    issued = {challenges.issue(NOW)[0] for _ in range(50)}
    assert len(issued) == 50


def test_a_challenge_expires() -> None:
    challenges = Challenges(WINDOW)
    first, _ = challenges.issue(NOW)
    second, _ = challenges.issue(NOW)
    assert challenges.take(first, NOW + WINDOW - timedelta(microseconds=1)) is True
    assert challenges.take(second, NOW + WINDOW) is False
    # and an expired one stays refused after it was tried
    assert challenges.take(second, NOW) is False


def test_challenges_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "MAX_CHALLENGES", 3)
    challenges = Challenges(WINDOW)
    issued = [challenges.issue(NOW + timedelta(seconds=i))[0] for i in range(5)]
    now = NOW + timedelta(seconds=5)
    assert [challenges.take(c, now) for c in issued] == [False, False, True, True, True]


def test_expired_challenges_do_not_count_toward_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "MAX_CHALLENGES", 2)
    challenges = Challenges(WINDOW)
    old = [challenges.issue(NOW)[0] for _ in range(2)]
    later = NOW + 2 * WINDOW
    fresh = [challenges.issue(later)[0] for _ in range(2)]
    assert [challenges.take(c, later) for c in old + fresh] == [False, False, True, True]


# --- check() ---------------------------------------------------------------------------------


@dataclass
class ReplayLog:
    """A replay log that records what it was asked."""

    payloads: list[str] = field(default_factory=list)

    def seen_before(self, payload: str, now: datetime, window: timedelta) -> bool:
        self.payloads.append(payload)
        return False


DID_KEY_ISSUER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(40, 72)))


def did_key_credential() -> Doc:
    return issue_credential(
        generic_credential(key_did(DID_KEY_ISSUER), validFrom=format_datetime(NOW - timedelta(1))),
        DID_KEY_ISSUER,
        verification_method=key_vm(DID_KEY_ISSUER),
        created=NOW - timedelta(days=1),
    )


@pytest.mark.parametrize(
    "source", [qr_payload(), "FR1:garbage", {"type": "x"}, signed_credential()]
)
def test_without_a_registry_nothing_is_trusted(source: object) -> None:
    replay = ReplayLog()
    result = check(
        source, policy=Policy(), now=NOW, registry=None, status_lists=None, replay=replay
    )
    assert result.verified is False
    assert result.codes == ["issuer_unknown"]
    assert "sync" in result.checks[0].message_en
    assert replay.payloads == []


def test_any_issuer_ignores_the_registry() -> None:
    stale = make_registry(valid_for=timedelta(hours=1))  # past its nextUpdate at NOW
    credential = did_key_credential()
    trusted = check(
        credential, policy=Policy(), now=NOW, registry=stale, status_lists=None, any_issuer=True
    )
    assert trusted.verified, trusted.codes
    assert trusted.warnings == ()  # not even registry_stale: no registry was used
    refused = check(credential, policy=Policy(), now=NOW, registry=stale, status_lists=None)
    assert "issuer_unknown" in refused.codes
    assert "registry_stale" in [w.code for w in refused.warnings]


def test_any_issuer_without_a_registry() -> None:
    result = check(
        did_key_credential(),
        policy=Policy(),
        now=NOW,
        registry=None,
        status_lists=None,
        any_issuer=True,
    )
    assert result.verified, result.codes


def test_text_with_qr_false_is_a_document_not_decoded() -> None:
    replay = ReplayLog()
    payload = qr_payload()
    result = check(
        payload,
        qr=False,
        policy=Policy(),
        now=NOW,
        registry=make_registry(),
        status_lists=None,
        replay=replay,
    )
    assert result.codes == ["malformed"]
    assert "not a JSON object" in result.checks[0].message_en
    assert replay.payloads == []
    decoded = check(
        payload,
        policy=Policy(),
        now=NOW,
        registry=make_registry(),
        status_lists=None,
        replay=replay,
    )
    assert decoded.kind == "presentation"
    assert replay.payloads == [payload]


def test_a_qr_from_the_synced_cache(tmp_path: Path) -> None:
    cache = synced_cache(tmp_path / "cache")
    payload = qr_payload()

    def scan(policy: Policy | None = None) -> tuple[list[str], list[str]]:
        result = check(
            payload,
            policy=policy or Policy(),
            now=NOW,
            registry=cache.registry(NOW),
            status_lists=cache,
            replay=cache,
            challenge="q83vEjRWeJq8",
        )
        return result.codes, [w.code for w in result.warnings]

    assert scan() == ([], [])
    assert scan() == ([], ["replayed"])
    assert scan(Policy.from_json({"municipalities": [SAPPORO]})) == (
        ["policy_municipality"],
        ["replayed"],
    )


def test_a_place_that_requires_a_challenge() -> None:
    result = check(
        qr_payload(),
        policy=Policy(require_challenge=True),
        now=NOW,
        registry=make_registry(),
        status_lists=None,
    )
    assert result.codes == ["challenge_mismatch"]


@pytest.mark.parametrize("tier", [["premium"], {"tier": "basic"}])
def test_check_never_raises_on_an_unhashable_tier(tier: object) -> None:
    result = check(
        resident(tier),
        qr=False,
        policy=Policy(),
        now=NOW,
        registry=None,
        status_lists=None,
        any_issuer=True,
    )
    assert result.verified is False


@pytest.mark.parametrize("content", [b"{", b'{"ab": "2027-03-01T09:00:00"}'])
def test_a_damaged_replay_log_does_not_stop_verification(tmp_path: Path, content: bytes) -> None:
    cache = synced_cache(tmp_path / "cache")
    (cache.directory / "seen.json").write_bytes(content)
    result = check(
        qr_payload(),
        policy=Policy(),
        now=NOW,
        registry=cache.registry(NOW),
        status_lists=cache,
        replay=cache,
        challenge="q83vEjRWeJq8",
    )
    assert result.verified, result.codes


# --- the CLI ---------------------------------------------------------------------------------


def verifier(*args: str | Path) -> Any:
    return invoke(verifier_main, [str(a) for a in args])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    registry = tmp_path / "registry.jws"
    registry.write_bytes(signed_registry())
    key = tmp_path / "authority.jwk"
    key.write_text(json.dumps(AUTHORITY.public_key.to_jwk()))
    credential = tmp_path / "credential.json"
    credential.write_text(json.dumps(signed_credential()))
    return {"registry": registry, "key": key, "credential": credential, "cache": tmp_path / "c"}


def test_cli_first_sync_without_a_key(files: dict[str, Path]) -> None:
    result = verifier("sync", "--registry", files["registry"], "--cache-dir", files["cache"])
    assert result.exit_code == 1
    assert result.stdout == ""
    line = assert_one_line_error(result.stderr, contains=["[authority_key_missing]"])
    assert "--registry-key" in line


@pytest.mark.parametrize("with_key", [True, False])
def test_cli_sync_of_a_registry_file_that_does_not_exist(
    files: dict[str, Path], with_key: bool
) -> None:
    key: list[str | Path] = ["--registry-key", files["key"]] if with_key else []
    missing = files["registry"].parent / "missing.jws"
    result = verifier("sync", "--registry", missing, *key, "--cache-dir", files["cache"])
    assert result.exit_code in (1, 2)
    assert_one_line_error(result.stderr)
    if with_key:
        assert "missing.jws" in result.stderr


def test_cli_sync_of_an_invalid_registry_url(files: dict[str, Path]) -> None:
    result = verifier(
        "sync",
        "--registry",
        "https://[zz]/registry.jws",
        "--registry-key",
        files["key"],
        "--cache-dir",
        files["cache"],
    )
    assert result.exit_code in (1, 2)
    assert_one_line_error(result.stderr)


def _cli_cache(files: dict[str, Path]) -> VerifierCache:
    cache = synced_cache(files["cache"])
    ok = verifier("verify", files["credential"], "--cache-dir", files["cache"], "--now", NOW_TEXT)
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    return cache


NOW_TEXT = format_datetime(NOW)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[]"),
        pytest.param(b"{"),
        pytest.param(b'{"lists": []}'),
    ],
)
def test_cli_verify_with_a_damaged_state(files: dict[str, Path], content: bytes) -> None:
    cache = _cli_cache(files)
    (cache.directory / "state.json").write_bytes(content)
    result = verifier(
        "verify", files["credential"], "--cache-dir", cache.directory, "--now", NOW_TEXT
    )
    assert result.exit_code == 1
    assert_one_line_error(result.stderr)


def test_cli_verify_a_qr_with_a_damaged_replay_log(files: dict[str, Path]) -> None:
    cache = _cli_cache(files)
    (cache.directory / "seen.json").write_bytes(b"{")
    result = verifier(
        "verify",
        qr_payload(),
        "--cache-dir",
        cache.directory,
        "--now",
        NOW_TEXT,
        "--challenge",
        "q83vEjRWeJq8",
    )
    assert result.exit_code == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("policy", "member"),
    [
        ({"tier": ["premium"]}, "tier"),
        ({"windowSeconds": 0}, "windowSeconds"),
        ({"tiers": ["gold"]}, "tiers"),
        ({"prefectures": [ATSUMA]}, "prefectures"),
        ({"requireChallenge": "yes"}, "requireChallenge"),
        pytest.param(
            {"municipalities": ["015815"]},
            "municipalities",
        ),
    ],
)
def test_cli_verify_with_a_bad_policy(files: dict[str, Path], policy: Doc, member: str) -> None:
    path = files["cache"].parent / "policy.json"
    path.write_text(json.dumps(policy))
    result = verifier(
        "verify", files["credential"], "--policy", path, "--cache-dir", files["cache"]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    line = assert_one_line_error(result.stderr, contains=["policy.json"])
    ja, _, en = line.partition(" / Error: ")
    assert member in ja
    assert member in en


def test_cli_cache_json_on_an_empty_cache(files: dict[str, Path]) -> None:
    result = verifier("cache", "--cache-dir", files["cache"], "--json", "--now", NOW_TEXT)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "cacheDir": str(files["cache"]),
        "registryFetchedAt": None,
        "registrySequence": None,
        "registryNextUpdate": None,
        "registryStale": None,
        "municipalities": 0,
        "statusLists": 0,
        "oldestStatusListFetchedAt": None,
    }
    assert not files["cache"].exists()  # looking creates nothing


def test_cli_cache_json_after_a_sync(files: dict[str, Path]) -> None:
    synced_cache(files["cache"])
    result = verifier("cache", "--cache-dir", files["cache"], "--json", "--now", NOW_TEXT)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["registrySequence"], summary["municipalities"], summary["statusLists"]) == (
        1,
        2,
        4,
    )
    assert summary["registryFetchedAt"] == NOW_TEXT
    assert summary["registryStale"] is False
