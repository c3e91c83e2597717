"""Status lists in a verifier process (issue 9): verified once per content, held in memory.

* ``verifier.statusmemo``: the canonicalization of a status list credential is memoized per
  (URL, content digest); a list whose content changed — a new version synced, a tampered
  file — is verified again; the signature, the key and the validity period are still checked
  on every call; only status lists are memoized; the memo is bounded.
* ``VerifierCache.get`` reads and parses each list file once and again only when the file or
  its sync entry changed (a tampered file with its old size and time too).

Everything runs offline with did:key / in-memory DID documents: no issuer service needed.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from did.errors import FurusatoError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc.dataintegrity import ASSERTION_METHOD, verify_proof
from vc.dates import format_datetime
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.result import VerificationResult
from vc.statuslist import BitstringStatusList, build_status_list_credential
from vc.verify import VerifyOptions, verify_credential
from verifier import statusmemo
from verifier.cache import VerifierCache
from verifier.check import check
from verifier.policy import Policy
from verifier.statusmemo import MemoizedSuite, VerifiedListMemo, memoized_suites

LG = "015814"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
BASE = "https://furusato.example.jp/status/015814"
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(1, 33)))
ISSUER = did_key_from_public_key(ISSUER_KEY.public_key)
METHOD = did_key_verification_method_id(ISSUER_KEY.public_key)
INDEX = {"revocation": 1234, "suspension": 99}


def status_list(purpose: str, *, revoked: tuple[int, ...] = (), at: datetime = NOW) -> Any:
    bits = BitstringStatusList()
    for index in revoked:
        bits.set(index, True)
    unsigned = build_status_list_credential(
        list_url=f"{BASE}/{purpose}/1",
        issuer=ISSUER,
        purpose=purpose,
        status_list=bits,
        valid_from=format_datetime(at),
        valid_until=format_datetime(at + timedelta(days=2)),
    )
    return issue_credential(unsigned, ISSUER_KEY, verification_method=METHOD, created=at)


def resident() -> dict[str, Any]:
    unsigned = resident_credential(
        credential_id="urn:uuid:0b6c1f0e-3f0a-4c1e-9d55-2b7b6a4c1d10",
        issuer=ISSUER,
        issuer_name="厚真町",
        municipality=municipality_table().get(LG),
        holder=did_key_from_public_key(HOLDER_KEY.public_key),
        tier="basic",
        registered_since=date(2027, 1, 15),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=364),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": f"{BASE}/{purpose}/1",
            }
            for purpose, index in INDEX.items()
        ],
    )
    signed: dict[str, Any] = issue_credential(
        unsigned, ISSUER_KEY, verification_method=METHOD, created=NOW - timedelta(days=1)
    )
    return signed


@dataclass
class Place:
    cache: VerifierCache
    memo: VerifiedListMemo
    credential: dict[str, Any]

    def sync(self, *documents: Any, at: datetime = NOW) -> None:
        self.cache.store_statuses({d["id"]: d for d in documents}, at)

    def check(self, at: datetime = NOW + timedelta(hours=1)) -> VerificationResult:
        return check(
            self.credential,
            qr=False,
            policy=Policy(),
            now=at,
            registry=None,
            status_lists=self.cache,
            any_issuer=True,
        )


def status_codes(result: VerificationResult) -> list[str]:
    return [c.code for c in result.checks if c.check == "status"]


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Place:
    memo = VerifiedListMemo()
    monkeypatch.setattr(statusmemo, "PROCESS_MEMO", memo)
    cache = VerifierCache(tmp_path / "cache")
    cache.directory.mkdir()
    p = Place(cache, memo, resident())
    p.sync(status_list("revocation"), status_list("suspension"))
    return p


def test_a_status_list_is_canonicalized_once_per_content(place: Place) -> None:
    for _ in range(3):
        result = place.check()
        assert result.verified, result.to_json()
        assert status_codes(result) == ["ok", "ok"]
    assert (place.memo.misses, place.memo.hits, len(place.memo)) == (2, 4, 2)


def test_a_changed_list_is_verified_again(place: Place) -> None:
    assert place.check().verified
    place.sync(
        status_list("revocation", revoked=(INDEX["revocation"],), at=NOW + timedelta(minutes=5))
    )
    result = place.check()
    assert status_codes(result) == ["revoked", "ok"]
    assert place.memo.misses == 3  # the new revocation list, once
    assert status_codes(place.check()) == ["revoked", "ok"]
    assert place.memo.misses == 3


@pytest.mark.parametrize("keep_size_and_time", [False, True])
def test_a_tampered_list_file_is_verified_again_and_refused(
    place: Place, keep_size_and_time: bool
) -> None:
    """A list file changed after the sync — the revoked bit set or cleared, or its validity
    stretched by a forger who keeps the file's size and modification time — no longer
    matches its signature: ``status_invalid``, never the memoized genuine list."""
    assert place.check().verified
    path = place.cache._list_path(f"{BASE}/revocation/1")
    before = path.stat()
    original = path.read_bytes()
    if keep_size_and_time:
        valid_until = format_datetime(NOW + timedelta(days=2)).encode()
        stretched = format_datetime(NOW + timedelta(days=9)).encode()
        assert len(stretched) == len(valid_until)
        path.write_bytes(original.replace(valid_until, stretched))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size
    else:
        document = json.loads(original)
        forged = status_list("revocation", revoked=(INDEX["revocation"],))
        document["credentialSubject"]["encodedList"] = forged["credentialSubject"]["encodedList"]
        path.write_text(json.dumps(document))
    result = place.check()
    assert not result.verified
    assert status_codes(result) == ["status_invalid", "ok"]
    assert place.memo.misses == 3  # canonicalized again; then its signature failed


def test_the_memo_does_not_skip_the_validity_period(place: Place) -> None:
    assert place.check().verified
    result = place.check(at=NOW + timedelta(days=3))  # the lists' validUntil is NOW + 2 days
    assert set(status_codes(result)) == {"status_stale"}
    assert place.memo.misses == 2


def test_the_memo_does_not_skip_the_signature_or_the_key(tmp_path: Path) -> None:
    """The memo holds what the signature covers, not a verdict: the signature is checked on
    every call against the key the resolver gives then."""
    did = "did:web:furusato.example.jp:lg:015814"
    document = status_list("revocation")
    document = issue_credential(
        {k: v for k, v in document.items() if k != "proof"} | {"issuer": did},
        ISSUER_KEY,
        verification_method=f"{did}#key-1",
        created=NOW,
    )
    memo = VerifiedListMemo()
    suites = memoized_suites(memo)

    def resolver(key: PrivateKey) -> Resolver:
        entry = VerificationKeyEntry(
            "key-1", key.public_key, valid_from=format_datetime(NOW - timedelta(days=1))
        )
        return Resolver(documents={did: build_did_document(did, [entry])})

    def verify(key: PrivateKey) -> None:
        verify_proof(
            document,
            document["proof"],
            resolver=resolver(key),
            expected_purpose=ASSERTION_METHOD,
            suites=suites,
        )

    verify(ISSUER_KEY)
    verify(ISSUER_KEY)
    assert (memo.misses, memo.hits) == (1, 1)
    with pytest.raises(FurusatoError):
        verify(HOLDER_KEY)  # the DID document now names another key
    assert memo.hits == 2
    forged = json.loads(json.dumps(document))
    forged["proof"]["proofValue"] = "z" + "1" * 80
    with pytest.raises(FurusatoError):
        verify_proof(
            forged,
            forged["proof"],
            resolver=resolver(ISSUER_KEY),
            expected_purpose=ASSERTION_METHOD,
            suites=suites,
        )


def test_only_status_lists_are_memoized() -> None:
    memo = VerifiedListMemo()
    options = VerifyOptions(now=NOW, suites=memoized_suites(memo))
    credential = resident()
    credential.pop("credentialStatus")  # no lists to check: only the credential's own proof
    credential["type"] = ["VerifiableCredential"]  # (a resident credential must have them)
    credential = issue_credential(
        {k: v for k, v in credential.items() if k != "proof"},
        ISSUER_KEY,
        verification_method=METHOD,
        created=NOW,
    )
    for _ in range(2):
        assert verify_credential(credential, resolver=Resolver(), options=options).verified
    assert (len(memo), memo.hits, memo.misses) == (0, 0, 0)


def test_the_memo_is_bounded_least_recently_used_first() -> None:
    memo = VerifiedListMemo(max_entries=2)
    memo.put(("a",), b"1")
    memo.put(("b",), b"2")
    assert memo.get(("a",)) == b"1"
    memo.put(("c",), b"3")
    assert memo.get(("b",)) is None
    assert (memo.get(("a",)), memo.get(("c",)), len(memo)) == (b"1", b"3", 2)


def test_the_memoized_suites_are_the_same_allow_list() -> None:
    from vc.suites import ALL_SUITES

    suites = memoized_suites(VerifiedListMemo())
    assert set(suites) == set(ALL_SUITES)
    assert all(isinstance(s, MemoizedSuite) for s in suites.values())
    assert {s.name: s.key_types for s in suites.values()} == {
        n: s.key_types for n, s in ALL_SUITES.items()
    }


# --- the cache holds lists in memory ----------------------------------------------------------


def test_the_cache_reads_a_list_once_until_it_changes(place: Place) -> None:
    url = f"{BASE}/revocation/1"
    first = place.cache.get(url)
    assert first is not None
    assert place.cache.get(url) is first
    # a new sync: read again
    place.sync(status_list("revocation", revoked=(7,), at=NOW + timedelta(minutes=1)))
    second = place.cache.get(url)
    assert second is not None
    assert second is not first
    assert second.credential != first.credential
    assert second.retrieved_at == NOW
    # changed under us, same size and modification time: read again (the inode change time)
    path = place.cache._list_path(url)
    before = path.stat()
    text = path.read_bytes()
    changed = text.replace(b'"revocation"', b'"Revocation"', 1)
    assert len(changed) == len(text)
    path.write_bytes(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    third = place.cache.get(url)
    assert third is not None
    assert third.credential["credentialSubject"]["statusPurpose"] == "Revocation"


def test_a_list_missing_from_the_state_is_no_longer_held(place: Place) -> None:
    url = f"{BASE}/revocation/1"
    assert place.cache.get(url) is not None
    state = json.loads((place.cache.directory / "state.json").read_text())
    del state["lists"][url]
    (place.cache.directory / "state.json").write_text(json.dumps(state))
    assert place.cache.get(url) is None
    assert url not in place.cache._lists


# --- a product bug found on the way (vc/, not fixed here) -------------------------------------


def test_a_list_with_thousands_of_set_bits_decodes() -> None:
    """A list whose GZIP is over 4,096 base64url characters (a few thousand entries set)
    decodes: lists accumulate revoked bits over the years."""
    bits = BitstringStatusList()
    for index in random.Random(5).sample(range(bits.length), 5000):
        bits.set(index, True)
    encoded = bits.encode()
    assert len(encoded) > 4096
    assert BitstringStatusList.decode(encoded).bits == bits.bits
