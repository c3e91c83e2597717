"""Property tests (hypothesis) of every parser of outside data in the offline verifier.

What a verifying device reads from elsewhere: a municipality's ``index.json`` and status list
credentials (``sync._list_urls``, ``sync._checked_list``), a policy file
(``Policy.from_json``), requests to the scanner app (``/api/verify``) and its own cache files,
which a power cut or a person may have damaged (``state.json``, a list file, ``seen.json``,
``authority.jwk``, ``registry.jws``).  Given anything, each either returns its documented value
or raises a ``FurusatoError`` — never another exception, which would be a traceback in the
CLI and a 500 in the app.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from did.errors import MalformedValueError
from did.keys import PublicKey
from tests.properties import JSONISH_TEXT, json_values, outcome
from tests.vc.qr_fixtures import NOW
from tests.vc.test_envelope import altered_values
from tests.verifier.test_units import (
    ATSUMA,
    AUTHORITY,
    HOKKAIDO,
    SAPPORO,
    TOKYO,
    base_url,
    entry,
    has_japanese,
    list_url,
    make_registry,
    qr_payload,
    resident,
    signed_registry,
    status_list,
    synced_cache,
)
from vc import base45, cbor, envelope
from vc.furusato import ACTIVITY_CREDENTIAL_TYPE, RESIDENT_CREDENTIAL_TYPE
from vc.registry import Registry
from vc.result import Check, VerificationResult
from vc.statuslist import LIST_CREDENTIAL_TYPE, StatusListDocument
from verifier.cache import CacheAge, VerifierCache
from verifier.check import check, issuer_lookup
from verifier.policy import MEMBERS, TIERS, Policy
from verifier.sync import _checked_list, _list_urls
from verifier.web import create_app

Doc = dict[str, Any]

ENTRY = entry(ATSUMA)
REGISTRY = make_registry()
BASE = base_url(ATSUMA) + "/"
URL = list_url(ATSUMA, "revocation")
VALID_LIST = status_list(ATSUMA, "revocation")
FAST = settings(max_examples=150, deadline=None)
FEW = settings(max_examples=100, deadline=None)  # each example verifies a proof
# the app and the cache directory are fixtures shared by every example of a test
FAST_SHARED = settings(FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])
FEW_SHARED = settings(FEW, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- strategies ----------------------------------------------------------------------------------

JSON_VALUES = json_values(16)
JSONISH = JSONISH_TEXT
BYTES = st.binary(max_size=300) | JSONISH.map(lambda t: t.encode("utf-8"))
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


# --- sync._list_urls: a municipality's index.json -------------------------------------------------

URLS = (
    st.text(max_size=40).map(lambda t: BASE + t)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            BASE,
            BASE.rstrip("/"),
            base_url(ATSUMA) + "0/revocation/1",
            base_url(SAPPORO) + "/revocation/1",
            "https://evil.example/status/015814/revocation/1",
            "HTTPS://FURUSATO.EXAMPLE.JP/status/015814/revocation/1",
            BASE + "x" * 3000,
        ]
    )
    | JSON_VALUES
)
ITEMS = st.fixed_dictionaries({"url": URLS}, optional={"number": JSON_VALUES}) | JSON_VALUES
INDEXES = (
    st.fixed_dictionaries(
        {
            "lgCode": st.sampled_from([ATSUMA, SAPPORO, "", "15814"]) | JSON_VALUES,
            "lists": st.lists(ITEMS, max_size=6) | JSON_VALUES,
        },
        optional={"extra": JSON_VALUES},
    )
    | JSON_VALUES
)


def assert_urls(urls: list[str] | None) -> None:
    if urls is None:
        return
    assert isinstance(urls, list)
    for url in urls:
        assert isinstance(url, str)
        assert url.startswith(BASE)
        assert len(url) <= 2048


@FAST
@given(BYTES)
def test_list_urls_of_any_bytes(body: bytes) -> None:
    assert_urls(outcome(_list_urls, ENTRY, body))


@FAST
@given(INDEXES)
@example({"lgCode": ATSUMA, "lists": [{"url": BASE + "revocation/1"}]})
@example({"lgCode": ATSUMA, "lists": [{"url": base_url(ATSUMA) + "0/x"}]})
def test_list_urls_of_any_json(index: object) -> None:
    urls = outcome(_list_urls, ENTRY, dumps(index))
    assert_urls(urls)
    if urls is not None:  # exactly what was listed, in order
        assert isinstance(index, dict)
        assert index["lgCode"] == ATSUMA
        assert urls == [item["url"] for item in index["lists"]]


# --- sync._checked_list: a status list credential --------------------------------------------------

LIST_SHAPED = st.fixed_dictionaries(
    {
        "id": st.just(URL),
        "type": st.just(["VerifiableCredential", LIST_CREDENTIAL_TYPE]),
        "issuer": st.just(ENTRY.did) | st.just({"id": ENTRY.did}),
    },
    optional={
        name: JSON_VALUES
        for name in ("@context", "validFrom", "validUntil", "credentialSubject", "proof", "name")
    },
)


def check_list(body: bytes) -> Doc | None:
    return outcome(_checked_list, ENTRY, URL, body, REGISTRY, NOW)


@FAST
@given(BYTES | JSON_VALUES.map(dumps))
def test_checked_list_of_any_body(body: bytes) -> None:
    assert check_list(body) is None  # nothing unsigned passes


@FEW
@given(LIST_SHAPED)
def test_checked_list_of_list_shaped_json(credential: Doc) -> None:
    assert check_list(dumps(credential)) is None


def _paths(document: Doc) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, value in document.items():
        out.append((key,))
        if isinstance(value, dict):
            out += [(key, inner) for inner in value]
    return out


@FEW
@given(st.sampled_from(_paths(VALID_LIST)), JSON_VALUES)
def test_checked_list_of_an_altered_list(path: tuple[str, ...], value: object) -> None:
    altered = copy.deepcopy(VALID_LIST)
    target = altered
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    kept = check_list(dumps(altered))
    assert kept is None or kept == VALID_LIST  # only an alteration that changed nothing


def test_checked_list_keeps_the_valid_list() -> None:
    assert check_list(dumps(VALID_LIST)) == VALID_LIST


# --- Policy.from_json: a policy file ----------------------------------------------------------------

LG_CODES = st.sampled_from([ATSUMA, SAPPORO, HOKKAIDO, TOKYO, "015815", "999997", ""]) | st.text(
    alphabet="0123456789", max_size=7
)
MEMBER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.text(max_size=120),
    "tiers": st.lists(st.sampled_from([*TIERS, "gold", "Basic", ""]), max_size=3),
    "municipalities": st.lists(LG_CODES, max_size=3),
    "prefectures": st.lists(LG_CODES, max_size=3),
    "statusMaxAgeHours": st.floats() | st.integers(-10, 10_000),
    "windowSeconds": st.integers(-10, 4000) | st.floats(),
    "requireChallenge": st.booleans(),
}
POLICIES = (
    st.fixed_dictionaries(
        {},
        optional={name: strategy | JSON_VALUES for name, strategy in MEMBER_VALUES.items()},
    )
    | st.dictionaries(st.sampled_from(sorted(MEMBERS)) | st.text(max_size=10), JSON_VALUES)
    | JSON_VALUES
)


@FAST
@given(POLICIES)
def test_policy_from_any_json(value: object) -> None:
    try:
        policy = Policy.from_json(value)
    except MalformedValueError as exc:
        error = exc
    else:
        assert policy.tiers
        assert policy.tiers <= frozenset(TIERS)
        assert timedelta(0) <= policy.status_max_age <= timedelta(days=366)
        assert timedelta(seconds=1) <= policy.window <= timedelta(hours=1)
        assert isinstance(policy.require_challenge, bool)
        assert 0 < len(policy.name) <= 100
        return
    assert error.code
    assert has_japanese(error.message_ja)
    assert error.message_en


@FAST
@given(POLICIES)
@example({"municipalities": ["015815"]})
def test_policy_errors_name_the_member(value: object) -> None:
    try:
        Policy.from_json(value)
    except MalformedValueError as exc:
        error = exc
    else:
        return
    assert error.path is not None
    unknown = isinstance(value, dict) and error.path in value and error.path not in MEMBERS
    assert error.path == "(file)" or error.path in MEMBERS or unknown
    assert error.path in error.message_en
    assert error.path in error.message_ja


CREDENTIALS = st.fixed_dictionaries(
    {
        "type": st.lists(
            st.sampled_from(
                ["VerifiableCredential", RESIDENT_CREDENTIAL_TYPE, ACTIVITY_CREDENTIAL_TYPE]
            )
        )
        | JSON_VALUES,
        "credentialSubject": st.fixed_dictionaries(
            {},
            optional={
                "registrationTier": st.sampled_from([*TIERS, "gold"]) | JSON_VALUES,
                "municipality": st.fixed_dictionaries(
                    {}, optional={"lgCode": LG_CODES | JSON_VALUES, "prefectureCode": LG_CODES}
                )
                | JSON_VALUES,
            },
        )
        | st.lists(JSON_VALUES, max_size=2)
        | JSON_VALUES,
    }
)
SOME_POLICIES = st.sampled_from(
    [
        Policy(),
        Policy.from_json({"tiers": ["premium"]}),
        Policy.from_json({"municipalities": [ATSUMA], "prefectures": [TOKYO]}),
    ]
)


@FAST
@given(SOME_POLICIES, CREDENTIALS)
@example(Policy(), resident(["premium"]))
def test_policy_checks_of_any_credential(policy: Policy, credential: Doc) -> None:
    checks = policy.checks(credential)
    assert all(isinstance(c, Check) and c.check == "policy" for c in checks)


# --- the scanner app: POST /api/verify ------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on a device that has synced (so QR payloads are decoded and verified)."""
    cache = synced_cache(tmp_path_factory.mktemp("scanner") / "cache")
    app = create_app(cache, Policy(name="テスト窓口"), clock=lambda: NOW)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as test_client:
        yield test_client


def assert_answer(response: httpx.Response) -> None:
    """A result (200) or a problem+json (4xx) with its code and both messages; never 5xx."""
    if response.status_code == 200:
        body = response.json()
        assert isinstance(body["verified"], bool)
        assert body["headline"]["ja"]
        assert body["headline"]["en"]
        for reason in body["reasons"]:
            assert reason["code"]
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"]
    assert problem["messages"]["ja"]
    assert problem["messages"]["en"]


PAYLOADS = (
    st.text(max_size=60)
    | st.tuples(
        st.sampled_from(["FR1:", "FRJ:", " FR1:", "fr1:"]), st.text(alphabet=BASE45, max_size=80)
    ).map("".join)
    | JSON_VALUES
)
BODIES = (
    st.fixed_dictionaries(
        {"payload": PAYLOADS},
        optional={"challenge": st.text(max_size=70) | JSON_VALUES, "extra": JSON_VALUES},
    )
    | JSON_VALUES
)


def post(client: TestClient, content: bytes, media: str = "application/json") -> httpx.Response:
    response: httpx.Response = client.post(
        "/api/verify", content=content, headers={"Content-Type": media}
    )
    return response


@FAST_SHARED
@given(body=BODIES)
def test_api_verify_any_json_body(client: TestClient, body: object) -> None:
    assert_answer(post(client, dumps(body)))


@FAST_SHARED
@given(body=BYTES, media=st.sampled_from(["application/json", "text/plain", "image/png"]))
def test_api_verify_any_bytes(client: TestClient, body: bytes, media: str) -> None:
    assert_answer(post(client, body, media))


PAYLOAD = qr_payload()


@FAST_SHARED
@given(
    position=st.integers(len("FR1:"), len(PAYLOAD) - 1),
    character=st.sampled_from(BASE45),
    cut=st.booleans(),
)
def test_api_verify_an_altered_qr(
    client: TestClient, position: int, character: str, cut: bool
) -> None:
    altered = (
        PAYLOAD[:position] if cut else PAYLOAD[:position] + character + PAYLOAD[position + 1 :]
    )
    response = post(client, dumps({"payload": altered}))
    assert_answer(response)
    if altered != PAYLOAD and response.status_code == 200:
        assert response.json()["verified"] is False


# --- verifier.check.check: any values in a profile-1 payload ------------------------------------

_DECODED = cbor.decode(base45.decode(PAYLOAD[len(envelope.PROFILE_PREFIX) :]))
assert isinstance(_DECODED, list)
PAYLOAD_VALUES: list[Any] = _DECODED


def _payload_with(changes: dict[int, Any]) -> list[Any]:
    return [changes.get(i, value) for i, value in enumerate(PAYLOAD_VALUES)]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> VerifierCache:
    return synced_cache(tmp_path_factory.mktemp("check") / "cache")


@FEW_SHARED
@given(values=altered_values(PAYLOAD_VALUES))
@example(values=_payload_with({13: 2**38}))  # a presentation made after year 9999
@example(values=_payload_with({3: 2**40}))
@example(values=_payload_with({3: envelope.MAX_TIME, 4: 1}))  # valid until year 10000
@example(values=_payload_with({14: b""}))
def test_check_of_any_profile_values_returns_a_result(
    synced: VerifierCache, values: list[Any]
) -> None:
    """``verifier.check.check`` never raises on a payload: whatever the 16 values (times past
    year 9999 among them), a result, verified only if it is the presentation that was signed."""
    payload = envelope.PROFILE_PREFIX + base45.encode(cbor.encode(values))
    registry = synced.registry(NOW)
    result = check(
        payload,
        policy=Policy(),
        now=NOW,
        registry=registry,
        status_lists=synced,
        replay=synced,
        challenge="q83vEjRWeJq8",
    )
    assert isinstance(result, VerificationResult)
    for problem in result.errors:
        assert problem.code
        assert has_japanese(problem.message_ja)
        assert problem.message_en
    if result.verified:
        lookup = issuer_lookup(registry)
        assert envelope.decode(payload, issuer_for=lookup) == envelope.decode(
            PAYLOAD, issuer_for=lookup
        )


def test_api_verify_the_qr_itself(client: TestClient) -> None:
    response = post(client, dumps({"payload": qr_payload("fuzz-control")}))
    assert_answer(response)
    assert response.json()["verified"] is True


DOCUMENTS = st.fixed_dictionaries(
    {
        "@context": st.just(["https://www.w3.org/ns/credentials/v2"]) | JSON_VALUES,
        "type": st.sampled_from(
            [
                ["VerifiableCredential", RESIDENT_CREDENTIAL_TYPE],
                ["VerifiableCredential", ACTIVITY_CREDENTIAL_TYPE],
                ["VerifiablePresentation"],
            ]
        )
        | JSON_VALUES,
    },
    optional={
        "issuer": st.just({"id": ENTRY.did}) | JSON_VALUES,
        "credentialSubject": CREDENTIALS.map(lambda c: c["credentialSubject"]),
        "verifiableCredential": st.lists(CREDENTIALS, max_size=2) | JSON_VALUES,
        "proof": JSON_VALUES,
    },
)


@FEW_SHARED
@given(document=DOCUMENTS)
@example(document=resident(["premium"]))
def test_api_verify_any_document_in_a_generic_qr(client: TestClient, document: Doc) -> None:
    assert_answer(post(client, dumps({"payload": envelope.encode_generic(document)})))


# --- the cache's own files -------------------------------------------------------------------------


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """A synced cache; each example overwrites one file, then reads it with a new VerifierCache."""
    path = tmp_path / "cache"
    synced_cache(path)
    return path


def fresh(directory: Path, name: str, content: bytes) -> VerifierCache:
    (directory / name).write_bytes(content)
    return VerifierCache(directory)


@FAST_SHARED
@given(content=BYTES)
def test_any_bytes_as_state(directory: Path, content: bytes) -> None:
    cache = fresh(directory, "state.json", content)
    found = outcome(cache.get, URL)
    assert found is None or isinstance(found, StatusListDocument)
    age = outcome(cache.age)
    assert age is None or isinstance(age, CacheAge)


TIMES = (
    st.sampled_from(["2027-03-01T09:00:00Z", "2027-03-01T09:00:00", "2027-03-01", "yesterday", ""])
    | JSON_VALUES
)
STATES = st.fixed_dictionaries(
    {},
    optional={
        "registry": st.fixed_dictionaries(
            {}, optional={"sequence": JSON_VALUES, "fetchedAt": TIMES}
        )
        | JSON_VALUES,
        "lists": st.dictionaries(
            st.just(URL) | st.text(max_size=8),
            st.fixed_dictionaries({}, optional={"fetchedAt": TIMES}) | JSON_VALUES,
            max_size=3,
        )
        | JSON_VALUES,
    },
)


@FAST_SHARED
@given(state=STATES)
@example(state={"lists": []})
def test_any_json_as_state(directory: Path, state: Doc) -> None:
    cache = fresh(directory, "state.json", dumps(state))
    outcome(cache.get, URL)
    age = outcome(cache.age)
    assert age is None or isinstance(age, CacheAge)


@FAST_SHARED
@given(content=BYTES | JSON_VALUES.map(dumps))
def test_any_bytes_as_a_list_file(directory: Path, content: bytes) -> None:
    cache = VerifierCache(directory)
    path = directory / "lists" / (hashlib.sha256(URL.encode()).hexdigest() + ".json")
    path.write_bytes(content)
    found = cache.get(URL)  # never raises: a damaged list is a missing list
    if found is not None:
        assert isinstance(found.credential, dict)
        assert found.retrieved_at == NOW


@FAST_SHARED
@given(content=st.binary(max_size=300))
def test_any_bytes_as_the_replay_log(directory: Path, content: bytes) -> None:
    cache = fresh(directory, "seen.json", content)
    seen = outcome(cache.seen_before, "FR1:X", NOW, timedelta(seconds=120))
    assert seen is None or isinstance(seen, bool)


@FAST_SHARED
@given(seen=st.dictionaries(st.text(max_size=64), TIMES, max_size=4) | JSON_VALUES)
@example(seen={"ab": "2027-03-01"})
def test_any_json_as_the_replay_log(directory: Path, seen: object) -> None:
    cache = fresh(directory, "seen.json", dumps(seen))
    result = outcome(cache.seen_before, "FR1:X", NOW, timedelta(seconds=120))
    assert result is None or isinstance(result, bool)


@FAST_SHARED
@given(
    content=BYTES
    | JSON_VALUES.map(dumps)
    | st.fixed_dictionaries(
        {"kty": st.sampled_from(["OKP", "EC", "RSA"]) | JSON_VALUES},
        optional={"crv": st.sampled_from(["Ed25519", "P-256"]) | JSON_VALUES, "x": JSON_VALUES},
    ).map(dumps)
)
@example(content=dumps(AUTHORITY.public_key.to_jwk()))
def test_any_bytes_as_the_pinned_key(directory: Path, content: bytes) -> None:
    cache = fresh(directory, "authority.jwk", content)
    key = outcome(cache.pinned_key)
    assert key is None or isinstance(key, PublicKey)


@FAST_SHARED
@given(content=BYTES)
@example(content=signed_registry())
@example(content=signed_registry()[:-10])
def test_any_bytes_as_the_cached_registry(directory: Path, content: bytes) -> None:
    (directory / "authority.jwk").write_text(json.dumps(AUTHORITY.public_key.to_jwk()))
    cache = fresh(directory, "registry.jws", content)
    registry = outcome(cache.registry, NOW)
    assert registry is None or isinstance(registry, Registry)
    if content == signed_registry():
        assert registry == REGISTRY
