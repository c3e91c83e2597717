"""Property tests (hypothesis) for every parser of outside data in the core (STYLE.md 7, 10).

Each parser, given anything, either returns a value of its documented type or raises a
:class:`FurusatoError` — never another exception (which a shell would show as a traceback and a
service as a 500).  ``verify`` never raises at all (STYLE.md 4).  Codecs round-trip.

Known bugs are pinned as strict xfails next to the property they break; each names the input.
"""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from did.errors import FurusatoError, LimitExceededError
from did.jsonio import DEFAULT_LIMITS, load_json
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.multibase import base64url_encode
from did.resolver import Resolver
from schemas.loader import CREDENTIALS_V2, FURUSATO_V1, bundled_context
from tests.properties import JSONISH_TEXT, SCALARS, json_values, outcome
from vc.dates import format_datetime, parse_date, parse_datetime
from vc.issue import issue_credential
from vc.jsonld import canonicalize
from vc.model import as_list, credential_problems, presentation_problems
from vc.result import VerificationResult
from vc.statuslist import (
    ENTRY_TYPE,
    MAX_LIST_BYTES,
    MIN_ENTRIES,
    BitstringStatusList,
    StatusEntry,
    parse_status_entries,
)
from vc.verify import VerifyOptions, verify

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
ISSUER = did_key_from_public_key(KEY.public_key)
VM = did_key_verification_method_id(KEY.public_key)
OPTIONS = VerifyOptions(now=NOW)
RESOLVER = Resolver()  # offline: did:key only
Doc = dict[str, Any]


# --- strategies --------------------------------------------------------------------------------

JSON_VALUES = json_values(24)
JSON_OBJECTS = st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6)

VC_KEYS = [
    "@context",
    "id",
    "type",
    "issuer",
    "name",
    "description",
    "validFrom",
    "validUntil",
    "issuanceDate",
    "expirationDate",
    "credentialSubject",
    "credentialStatus",
    "credentialSchema",
    "evidence",
    "termsOfUse",
    "refreshService",
    "renderMethod",
    "relatedResource",
    "proof",
    "holder",
    "verifiableCredential",
]


def _fixed_offsets() -> st.SearchStrategy[timezone]:
    return st.integers(min_value=-14 * 60, max_value=14 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )


@st.composite
def date_time_texts(draw: st.DrawFn, years: tuple[int, int] = (2, 9998)) -> str:
    """Strings in the lexical space of VCDM 2.0 §5.8's dateTimeStamp pattern (days up to 31
    in every month, 24:00:00, fractions, offsets up to ±14:00), with or without the offset."""
    year = draw(st.integers(*years))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 31))
    if draw(st.booleans()):
        clock = f"{draw(st.integers(0, 23)):02}:{draw(st.integers(0, 59)):02}"
        clock += f":{draw(st.integers(0, 59)):02}"
    else:
        clock = "24:00:00"
    fraction = draw(st.sampled_from(["", ".0", ".5", ".123456", ".1234567891"]))
    if clock.startswith("24") and fraction.strip(".0"):
        fraction = ".000"
    zone = draw(
        st.sampled_from(["Z", "", "+00:00", "-00:00", "+09:00", "-05:30", "+14:00", "-13:59"])
    )
    return f"{year:04}-{month:02}-{day:02}T{clock}{fraction}{zone}"


def expected_instant(text: str) -> datetime | None:
    """An independent reading of ``text`` (as made by date_time_texts); None if no such day."""
    stamp, zone = text[:19], text[19:].lstrip(".0123456789")
    fraction = text[19 : len(text) - len(zone)]
    day_part, clock = stamp.split("T")
    year, month, day = (int(x) for x in day_part.split("-"))
    hour, minute, second = (int(x) for x in clock.split(":"))
    try:
        base = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    moment = base + timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)
    if zone not in ("", "Z"):
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment


# --- did.jsonio.load_json ----------------------------------------------------------------------


@settings(max_examples=200)
@given(st.binary(max_size=256))
@example(b"\xef\xbb\xbf{}")  # BOM
@example(b"\xff\xfe{\x00}\x00")  # UTF-16
@example(b"[" * 5000)
@example(b'{"a": NaN}')
def test_load_json_random_bytes(data: bytes) -> None:
    outcome(load_json, data)


@settings(max_examples=200)
@given(st.text(max_size=120) | JSONISH_TEXT)
@example('{"a": 1, "a": 2}')
@example("-Infinity")
@example("[" * 40 + "]" * 40)
def test_load_json_random_text(text: str) -> None:
    outcome(load_json, text)


@settings(max_examples=150)
@given(JSON_VALUES)
def test_load_json_round_trip(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert load_json(text) == value
        assert load_json(text.encode("utf-8")) == value


@settings(max_examples=50)
@given(st.integers(min_value=1, max_value=200))
def test_load_json_depth_is_bounded(extra: int) -> None:
    depth = DEFAULT_LIMITS.max_depth + extra
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        with pytest.raises(LimitExceededError):
            load_json(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "1" * 5000,
            id="5000-digit-integer",
        ),
        pytest.param(
            "[1e400]",
            id="overflowing-float",
        ),
        pytest.param(
            '"\\ud800"',
            id="lone-surrogate",
        ),
    ],
)
def test_load_json_returns_only_what_can_be_written_back(text: str) -> None:
    value = outcome(load_json, text)
    if value is not None:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("call", ["load_json", "verify"])
def test_text_with_a_lone_surrogate_character(call: str) -> None:
    text = '{"name": "\ud800"}'
    if call == "load_json":
        outcome(load_json, text)
    else:
        encoded = text.encode("utf-8", "surrogatepass")  # not valid UTF-8
        _check_result(verify(encoded, resolver=RESOLVER, options=OPTIONS))


# --- vc.dates ----------------------------------------------------------------------------------


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@settings(max_examples=200)
@given(st.text(max_size=40) | st.from_regex(r"\A[0-9T:Z.+\-]{10,32}\Z"))
@example("2027-01-15T00:00:00Z")
@example("２０２７-01-15T00:00:00Z")  # full-width digits
def test_parse_datetime_random_text(text: str) -> None:
    for require_offset in (True, False):
        moment = outcome(parse_datetime, text, "x", require_offset=require_offset)
        if moment is not None:
            assert isinstance(moment, datetime)
            assert _is_utc(moment)


@settings(max_examples=200)
@given(date_time_texts())
@example("2027-02-29T00:00:00Z")  # no such day
@example("2028-02-29T24:00:00+14:00")
def test_parse_datetime_agrees_with_an_independent_reading(text: str) -> None:
    expected = expected_instant(text)
    has_offset = text[19:].lstrip(".0123456789") != ""
    for require_offset in (True, False):
        moment = outcome(parse_datetime, text, "x", require_offset=require_offset)
        if expected is None or (require_offset and not has_offset):
            assert moment is None, text
        else:
            assert moment == expected, text
            assert _is_utc(moment)


@pytest.mark.parametrize(
    "text", ["9999-12-31T24:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"]
)
def test_parse_datetime_at_the_ends_of_the_year_range(text: str) -> None:
    outcome(parse_datetime, text, "x")


@pytest.mark.parametrize("member", ["validFrom", "id"])
def test_a_trailing_newline_is_refused(member: str) -> None:
    value = "2027-01-15T00:00:00Z\n" if member == "validFrom" else "https://example.jp/\n"
    problems = credential_problems({**_unsigned(), member: value})
    assert [p.path for p in problems] == [member]


@settings(max_examples=200)
@given(st.text(max_size=20) | st.from_regex(r"\A[0-9\-]{8,12}\s?\Z"))
@example("2027-02-30")
@example("2027-01-15\n")
def test_parse_date_random_text(text: str) -> None:
    day = outcome(parse_date, text, "x")
    if day is not None:
        assert type(day) is date
        assert day.isoformat() == text


@settings(max_examples=200)
@given(st.dates())
def test_parse_date_round_trip(day: date) -> None:
    assert parse_date(day.isoformat(), "x") == day


@settings(max_examples=200)
@given(
    st.datetimes(
        min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30), timezones=_fixed_offsets()
    )
)
def test_format_datetime_round_trip(moment: datetime) -> None:
    text = format_datetime(moment)
    assert len(text) == 20
    assert text.endswith("Z")
    assert parse_datetime(text, "x") == moment.replace(microsecond=0)


def test_format_datetime_pads_the_year() -> None:
    moment = datetime(999, 1, 1, tzinfo=UTC)
    assert parse_datetime(format_datetime(moment), "x") == moment


# --- vc.statuslist -----------------------------------------------------------------------------


def _encoded(payload: bytes) -> str:
    return "u" + base64url_encode(gzip.compress(payload, mtime=0))


def _reference_bits(length: int, indices: set[int]) -> bytes:
    """expected.json's bit order: index i is bit 7 - i % 8 of byte i // 8 (MSB first)."""
    data = bytearray(length // 8)
    for i in indices:
        data[i // 8] |= 0x80 >> (i % 8)
    return bytes(data)


@settings(max_examples=200)
@given(st.text(max_size=60) | st.text(max_size=60).map(lambda t: "u" + t) | JSON_VALUES)
@example("u")
@example("uH4sI")
def test_status_list_decode_random_text(encoded: Any) -> None:
    decoded = outcome(BitstringStatusList.decode, encoded)
    if decoded is not None:
        assert isinstance(decoded, BitstringStatusList)
        assert decoded.length == len(decoded.bits) * 8 > 0


@settings(max_examples=150)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=400))
@example(b"", 10)
def test_status_list_decode_random_gzip_payloads(payload: bytes, max_bytes: int) -> None:
    encoded = _encoded(payload)
    decoded = outcome(BitstringStatusList.decode, encoded, max_bytes=max_bytes)
    if not payload:
        assert decoded is None
    elif len(payload) > max_bytes:
        with pytest.raises(LimitExceededError):
            BitstringStatusList.decode(encoded, max_bytes=max_bytes)
    elif len(encoded) <= 2 * max_bytes:  # longer text is refused before decoding
        assert decoded is not None
        assert bytes(decoded.bits) == payload
        assert decoded.length == 8 * len(payload)


@settings(max_examples=100)
@given(st.binary(min_size=1, max_size=200), st.data())
def test_status_list_decode_damaged_gzip(payload: bytes, data: st.DataObject) -> None:
    raw = bytearray(gzip.compress(payload, mtime=0))
    how = data.draw(st.sampled_from(["truncate", "flip", "append", "raw-deflate", "zlib"]))
    if how == "truncate":
        damaged = bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
    elif how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] ^= data.draw(st.integers(1, 255))
        damaged = bytes(raw)
    elif how == "append":
        damaged = bytes(raw) + data.draw(st.binary(min_size=1, max_size=20))
    elif how == "zlib":
        damaged = zlib.compress(payload)
    else:
        damaged = zlib.compress(payload)[2:-4]
    outcome(BitstringStatusList.decode, "u" + base64url_encode(damaged))


def test_status_list_decode_refuses_a_gzip_bomb() -> None:
    bomb = _encoded(bytes(MAX_LIST_BYTES + 1))  # 16 MiB of zeros: about 16 KiB compressed
    with pytest.raises(LimitExceededError):
        BitstringStatusList.decode(bomb)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=2048).map(lambda n: n * 8) | st.just(MIN_ENTRIES), st.data()
)
def test_status_list_round_trip(length: int, data: st.DataObject) -> None:
    indices = set(data.draw(st.lists(st.integers(0, length - 1), max_size=64)))
    status_list = BitstringStatusList(length)
    for i in indices:
        status_list.set(i, True)
    decoded = BitstringStatusList.decode(status_list.encode())
    assert decoded.length == length
    assert bytes(decoded.bits) == _reference_bits(length, indices)
    for i in indices | set(data.draw(st.lists(st.integers(0, length - 1), max_size=16))):
        assert decoded.get(i) is (i in indices)


@settings(max_examples=200)
@given(JSON_VALUES)
def test_parse_status_entries_random_values(value: Any) -> None:
    for credential in ({"credentialStatus": value}, {"credentialStatus": [value, value]}):
        entries = outcome(parse_status_entries, credential)
        if entries is not None:
            assert isinstance(entries, list)
            assert all(isinstance(e, StatusEntry) for e in entries)


@st.composite
def status_entry_dicts(draw: st.DrawFn) -> Doc:
    """Status entries whose members are each right or wrong."""
    entry: Doc = {}
    fields: dict[str, st.SearchStrategy[Any]] = {
        "type": st.sampled_from([ENTRY_TYPE, "StatusList2021Entry"]) | SCALARS,
        "statusPurpose": st.sampled_from(["revocation", "suspension", "message", ""]) | SCALARS,
        "statusListIndex": st.integers(0, 10**13).map(str)
        | st.sampled_from(["00", "-1", "１２", "1e3", " 7", "7 "])
        | SCALARS,
        "statusListCredential": st.sampled_from(["https://example.jp/status/1", "relative"])
        | SCALARS,
        "statusSize": st.integers(-1, 9) | SCALARS,
    }
    for name, strategy in fields.items():
        if draw(st.integers(0, 5)):  # usually present
            entry[name] = draw(strategy)
    return entry


@settings(max_examples=200)
@given(st.lists(status_entry_dicts(), min_size=1, max_size=3))
def test_parse_status_entries_structured(items: list[Doc]) -> None:
    entries = outcome(parse_status_entries, {"credentialStatus": items})
    if entries is not None:
        assert len(entries) == len(items)
        for entry, item in zip(entries, items, strict=True):
            assert entry.index == int(item["statusListIndex"])
            assert str(entry.index) == item["statusListIndex"]
            assert entry.purpose == item["statusPurpose"]
            assert entry.list_url == item["statusListCredential"]
            assert 1 <= entry.size <= 8


# --- vc.model ----------------------------------------------------------------------------------


def _unsigned() -> Doc:
    return {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alice", "name": "Alice"},
    }


@st.composite
def credential_like(draw: st.DrawFn) -> Doc:
    """A credential whose members are replaced, dropped or added at random."""
    document = _unsigned()
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(VC_KEYS))
        action = draw(st.sampled_from(["replace", "drop", "date"]))
        if action == "drop":
            document.pop(key, None)
        elif action == "date":
            document[key] = draw(date_time_texts())
        else:
            document[key] = draw(JSON_VALUES)
    return document


@settings(max_examples=200)
@given(JSON_VALUES | credential_like())
def test_credential_problems_never_raise(document: Any) -> None:
    for allow_v1 in (True, False):
        problems = credential_problems(document, allow_v1=allow_v1)
        assert isinstance(problems, list)
        assert all(isinstance(p, FurusatoError) for p in problems)


@settings(max_examples=200)
@given(JSON_VALUES | credential_like(), st.sampled_from(["object", "list", "raw"]))
def test_presentation_problems_never_raise(content: Any, shape: str) -> None:
    presentation: Any = {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": content if shape != "list" else [content, content],
    }
    if shape == "raw":
        presentation = content
    problems = presentation_problems(presentation, max_credentials=2)
    assert isinstance(problems, list)
    assert all(isinstance(p, FurusatoError) for p in problems)


def test_credential_problems_with_a_date_at_the_end_of_time() -> None:
    credential_problems({**_unsigned(), "validUntil": "9999-12-31T24:00:00Z"})


# --- vc.verify ---------------------------------------------------------------------------------


SIGNED = issue_credential(_unsigned(), KEY, verification_method=VM, created=NOW)


def _check_result(result: VerificationResult) -> None:
    assert isinstance(result, VerificationResult)
    json.dumps(result.to_json(), ensure_ascii=False)
    if not result.verified:
        assert result.codes
    for check in result.checks:
        assert check.message_ja
        assert check.message_en


def test_the_signed_credential_verifies() -> None:
    assert verify(SIGNED, resolver=RESOLVER, options=OPTIONS).verified


@settings(max_examples=100, deadline=None)
@given(JSON_OBJECTS | credential_like() | st.binary(max_size=64) | JSONISH_TEXT)
def test_verify_never_raises_on_random_input(document: Any) -> None:
    result = verify(document, resolver=RESOLVER, options=OPTIONS)
    _check_result(result)
    assert not result.verified  # nothing here carries a valid proof


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member or item of ``value`` (dict keys, list indices)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def mutated_credentials(draw: st.DrawFn) -> Doc:
    document = copy.deepcopy(SIGNED)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = document
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        current = parent[last]
        action = draw(
            st.sampled_from(["replace", "delete", "add", "wrap", "unwrap", "edit", "date"])
        )
        if action == "replace":
            parent[last] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(current, dict):
            current[draw(st.sampled_from([*VC_KEYS, "x", "@id", "@type"]))] = draw(JSON_VALUES)
        elif action == "wrap":
            parent[last] = [current]
        elif action == "unwrap" and isinstance(current, list) and current:
            parent[last] = current[0]
        elif action == "edit" and isinstance(current, str):
            at = draw(st.integers(0, len(current)))
            parent[last] = current[:at] + draw(st.text(min_size=1, max_size=2)) + current[at:]
        elif action == "date":
            parent[last] = draw(date_time_texts())
    return document


def _signed_content(document: Doc) -> tuple[str, ...] | None:
    """What the proof covers, canonically: the document without its proof, the proof options,
    and the proof value.  None if it cannot be canonicalized."""
    proofs = as_list(document.get("proof"))
    if len(proofs) != 1 or not isinstance(proofs[0], dict):
        return None
    proof = proofs[0]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        return (
            canonicalize(unsecured),
            canonicalize({"@context": document.get("@context"), **options}),
            str(proof.get("proofValue")),
        )
    except FurusatoError:
        return None


ORIGINAL_CONTENT = _signed_content(SIGNED)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_credentials())
def test_verify_mutated_credentials(document: Doc) -> None:
    result = verify(document, resolver=RESOLVER, options=OPTIONS)
    _check_result(result)
    if document == SIGNED:
        assert result.verified
    elif result.verified:
        # Only a change JSON-LD does not see (["x"] for "x", …) may keep the proof valid.
        assert _signed_content(document) == ORIGINAL_CONTENT, document


@pytest.mark.parametrize(
    "document",
    [
        b"[" + b"1" * 5000 + b"]",
        {**SIGNED, "validFrom": "9999-12-31T24:00:00Z"},
        {**SIGNED, "validUntil": "0001-01-01T00:00:00+09:00"},
    ],
    ids=["5000-digit-integer", "validFrom-overflow", "validUntil-overflow"],
)
def test_verify_never_raises_known_cases(document: Any) -> None:
    _check_result(verify(document, resolver=RESOLVER, options=OPTIONS))


# --- vc.jsonld.canonicalize --------------------------------------------------------------------


def _context_terms(url: str) -> list[str]:
    context = bundled_context(url)["@context"]
    return sorted(k for k in context if not k.startswith("@"))


FURUSATO_TERMS = _context_terms(FURUSATO_V1)
V2_TERMS = _context_terms(CREDENTIALS_V2)
LD_KEYS = st.sampled_from(FURUSATO_TERMS + V2_TERMS + ["@id", "@type", "@value", "@list"]) | (
    st.text(max_size=8)
)
LD_SCALARS = (
    st.sampled_from(
        [
            "did:example:alice",
            "https://example.jp/x",
            "relative/path",
            "_:b0",
            "2027-01-15",
            "2027-01-15T00:00:00Z",
            "015814",
            "basic",
            "",
        ]
    )
    | st.sampled_from(FURUSATO_TERMS)
    | st.text(max_size=10)
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.booleans()
    | st.none()
)
LD_VALUES = st.recursive(
    LD_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(LD_KEYS, children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def jsonld_documents(draw: st.DrawFn) -> Doc:
    document: Doc = {"@context": [CREDENTIALS_V2, FURUSATO_V1]}
    document.update(draw(st.dictionaries(LD_KEYS, LD_VALUES, min_size=1, max_size=5)))
    document["@context"] = draw(
        st.sampled_from(
            [[CREDENTIALS_V2, FURUSATO_V1], [CREDENTIALS_V2], [CREDENTIALS_V2, FURUSATO_V1]]
        )
    )
    return document


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonld_documents())
@example({"@context": [CREDENTIALS_V2, FURUSATO_V1], "@type": "FurusatoResident", "lgCode": "1"})
def test_canonicalize_random_documents(document: Doc) -> None:
    nquads = outcome(canonicalize, document)
    if nquads is not None:
        assert isinstance(nquads, str)
        nquads.encode("utf-8")
        assert all(line.endswith(" .") for line in nquads.splitlines())
        # RDFC-1.0 does not depend on the order of JSON members.
        assert canonicalize(_reordered(document)) == nquads


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_OBJECTS)
def test_canonicalize_arbitrary_objects(document: Doc) -> None:
    for candidate in (document, {"@context": [CREDENTIALS_V2], **document}):
        nquads = outcome(canonicalize, candidate)
        assert nquads is None or isinstance(nquads, str)
