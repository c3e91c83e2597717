"""The compact QR envelope: a holder-bound presentation as short QR text, losslessly.

Two forms, told apart by the prefix (QR alphanumeric characters only):

``FR1:`` — profile 1, the furusato resident presentation.  The presentation a wallet shows
(our VP around one FurusatoResidentCredential, both with eddsa-rdfc-2022 proofs) is rebuilt
from a template and the values that vary, carried as a CBOR array and Base45 text::

    [ issuer DID or null (null: the national registry names it by lgCode),
      lgCode, credential UUID (16 bytes), validFrom (Unix s), validUntil − validFrom (s),
      issuer key number N (of "#key-N"), issuer proof created − validFrom (s),
      issuer signature (64 bytes), holder Ed25519 key (32 bytes), tier (0 basic, 1 premium),
      registeredSince (days since 1970-01-01), [revocation list, index],
      [suspension list, index], presentation created (Unix s), challenge (1–192 bytes when it
      is base64url, else 1–256 characters of text), holder signature (64 bytes) ]

Everything else — contexts, types, the municipality's name and prefecture (from the MIC
table), the issuer's name, the holder DID and key ids, the status-list URLs (from the
issuer's did:web host), the proof types and purposes, the domain — is the template.

``FRJ:`` — generic: Base45 of the DEFLATE-compressed JSON, for anything the profile cannot
carry (another credential type, a self-hosted DID, an SD-JWT…).

The encoder only uses the profile after rebuilding the presentation from the values and
finding it equal to the input, so decoding always yields exactly the JSON that was signed —
any W3C verifier can check it.  Decoding is strict: bounded length, exact structure,
canonical CBOR, every value in its range — every date-time within the years 0001–9999
(``MIN_TIME`` … ``MAX_TIME``); anything else is ``malformed`` (MalformedValueError).  The
encoder applies the same checks to the values it would write, and uses the generic form
when one fails.
"""

from __future__ import annotations

import contextlib
import json
import uuid
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from did.errors import FurusatoError, MalformedValueError
from did.jsonio import Limits, load_json
from did.key import did_key_from_public_key, did_key_verification_method_id, public_key_from_did_key
from did.keys import KeyType, PublicKey
from did.multibase import base58btc_decode, base58btc_encode, base64url_decode, base64url_encode
from schemas.loader import CREDENTIALS_V2
from schemas.municipalities import municipality_table
from vc import base45, cbor
from vc.dates import format_datetime
from vc.furusato import CONTEXTS, RESIDENT_CREDENTIAL_TYPE, municipality_claim
from vc.model import as_list

PROFILE_PREFIX = "FR1:"
GENERIC_PREFIX = "FRJ:"
QR_DOMAIN = "furusato-qr"
MAX_PAYLOAD_CHARS = 8192
MAX_GENERIC_JSON = 64 * 1024
TIERS = ("basic", "premium")
PURPOSES = ("revocation", "suspension")
MAX_CHALLENGE_BYTES = 192
MAX_CHALLENGE_CHARS = 256
MIN_TIME = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
"""Unix seconds of the first and last date-time with a four-digit year
(docs/compact-envelope.md §5.2): every time the profile rebuilds lies within them, so every
one is a ``datetime``."""
_EPOCH = date(1970, 1, 1)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

IssuerLookup = Callable[[str], "str | None"]
"""lgCode → the issuer DID the national registry lists for it (or None)."""


class EnvelopeError(MalformedValueError):
    """The payload cannot be read (truncated, padded, altered, oversized, unknown form)."""

    code = "malformed"


class IssuerLookupRequired(EnvelopeError):
    code = "issuer_unknown"


def _bad(en: str, ja: str) -> EnvelopeError:
    return EnvelopeError(f"QR payload: {en}", f"QR データ: {ja}")


# --- the template ---------------------------------------------------------------------------


def _status_url(issuer_did: str, lg_code: str, purpose: str, number: int) -> str | None:
    """The status-list URL our issuer uses under the shared-platform DID pattern."""
    prefix, _, rest = issuer_did.partition("did:web:")
    if prefix or not rest.endswith(f":lg:{lg_code}"):
        return None
    host = rest[: -len(f":lg:{lg_code}")]
    if ":" in host:
        return None
    host = host.replace("%3A", ":")
    hostname = host.split(":", 1)[0]
    scheme = "http" if hostname in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{host}/status/{lg_code}/{purpose}/{number}"


def _proof_value(signature: bytes) -> str:
    return "z" + base58btc_encode(signature)


def _time(seconds: int) -> str:
    """The date-time of Unix ``seconds`` (within ``MIN_TIME`` … ``MAX_TIME``: ``_check``)."""
    return format_datetime(_UNIX_EPOCH + timedelta(seconds=seconds))


def _build(values: list[Any], issuer_did: str) -> dict[str, Any]:
    (
        _,
        lg,
        cid,
        valid_from,
        lifetime,
        key_number,
        created_delta,
        issuer_sig,
        holder_key,
        tier,
        since,
        revocation,
        suspension,
        vp_created,
        challenge,
        holder_sig,
    ) = values
    lg_code = f"{lg:06d}"
    municipality = municipality_table().get(lg_code)
    holder = did_key_from_public_key(PublicKey(KeyType.ED25519, holder_key))
    statuses = []
    for purpose, (number, index) in zip(PURPOSES, (revocation, suspension), strict=True):
        url = _status_url(issuer_did, lg_code, purpose, number)
        if url is None:
            raise _bad(
                "the issuer DID does not follow the profile",
                "発行者の DID がプロファイルに合いません",
            )
        statuses.append(
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": url,
            }
        )
    credential = {
        "@context": list(CONTEXTS),
        "id": f"urn:uuid:{uuid.UUID(bytes=cid)}",
        "type": ["VerifiableCredential", RESIDENT_CREDENTIAL_TYPE],
        "issuer": {"id": issuer_did, "name": municipality.name},
        "validFrom": _time(valid_from),
        "validUntil": _time(valid_from + lifetime),
        "credentialSubject": {
            "id": holder,
            "type": "FurusatoResident",
            "registrationTier": TIERS[tier],
            "municipality": municipality_claim(municipality),
            "registeredSince": (_EPOCH + timedelta(days=since)).isoformat(),
        },
        "credentialStatus": statuses,
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": _time(valid_from + created_delta),
            "verificationMethod": f"{issuer_did}#key-{key_number}",
            "proofPurpose": "assertionMethod",
            "proofValue": _proof_value(issuer_sig),
        },
    }
    challenge_text = base64url_encode(challenge) if isinstance(challenge, bytes) else challenge
    return {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": credential,
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": _time(vp_created),
            "verificationMethod": did_key_verification_method_id(
                PublicKey(KeyType.ED25519, holder_key)
            ),
            "proofPurpose": "authentication",
            "challenge": challenge_text,
            "domain": QR_DOMAIN,
            "proofValue": _proof_value(holder_sig),
        },
    }


# --- encoding -------------------------------------------------------------------------------


def _epoch(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError("not a date-time")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp())


def _challenge_value(challenge: str) -> bytes | str:
    try:
        raw = base64url_decode(challenge)
    except FurusatoError:
        return challenge
    return raw if base64url_encode(raw) == challenge else challenge


def _profile_values(vp: Mapping[str, Any]) -> list[Any]:
    """The variable values of a presentation that fits profile 1 (ValueError/KeyError if not)."""
    credential = vp["verifiableCredential"]
    subject = credential["credentialSubject"]
    issuer_did = credential["issuer"]["id"]
    lg_code = subject["municipality"]["lgCode"]
    statuses = {s["statusPurpose"]: s for s in credential["credentialStatus"]}

    def list_and_index(purpose: str) -> list[int]:
        url: str = statuses[purpose]["statusListCredential"]
        return [int(url.rsplit("/", 1)[1]), int(statuses[purpose]["statusListIndex"])]

    key_fragment = credential["proof"]["verificationMethod"].rsplit("#key-", 1)[1]
    valid_from = _epoch(credential["validFrom"])
    holder_key = public_key_from_did_key(vp["holder"])
    if holder_key.key_type is not KeyType.ED25519:
        raise ValueError("holder key type")
    return [
        issuer_did,
        int(lg_code),
        uuid.UUID(credential["id"].removeprefix("urn:uuid:")).bytes,
        valid_from,
        _epoch(credential["validUntil"]) - valid_from,
        int(key_fragment),
        _epoch(credential["proof"]["created"]) - valid_from,
        base58btc_decode(credential["proof"]["proofValue"][1:]),
        holder_key.raw,
        TIERS.index(subject["registrationTier"]),
        (date.fromisoformat(subject["registeredSince"]) - _EPOCH).days,
        list_and_index("revocation"),
        list_and_index("suspension"),
        _epoch(vp["proof"]["created"]),
        _challenge_value(vp["proof"]["challenge"]),
        base58btc_decode(vp["proof"]["proofValue"][1:]),
    ]


def encode_generic(document: Mapping[str, Any]) -> str:
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return GENERIC_PREFIX + base45.encode(zlib.compress(data, 9))


def encode_presentation(vp: Mapping[str, Any], *, issuer_by_registry: bool = True) -> str:
    """QR text for ``vp``: profile 1 when it fits exactly, else the generic form.

    With ``issuer_by_registry`` the issuer DID is left out (the verifier's copy of the national
    registry names it by lgCode) — the short form; without, the DID travels in the payload.
    """
    try:
        values = _check(_profile_values(vp))  # never a value a reader would refuse
        rebuilt = _build(values, values[0])
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, FurusatoError):
        return encode_generic(vp)
    if rebuilt != vp:
        return encode_generic(vp)
    if issuer_by_registry:
        values[0] = None
    return PROFILE_PREFIX + base45.encode(cbor.encode(values))


# --- decoding -------------------------------------------------------------------------------

_SHAPE: tuple[type | tuple[type, ...], ...] = (
    (str, type(None)),
    int,
    bytes,
    int,
    int,
    int,
    int,
    bytes,
    bytes,
    int,
    int,
    list,
    list,
    int,
    (bytes, str),
    bytes,
)


def _check(values: object) -> list[Any]:
    if not isinstance(values, list) or len(values) != len(_SHAPE):
        raise _bad("the profile structure is wrong", "プロファイルの構造が正しくありません")
    for i, (value, kind) in enumerate(zip(values, _SHAPE, strict=True)):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _bad(f"field {i} has the wrong type", f"項目 {i} の型が正しくありません")
    lengths = {2: 16, 7: 64, 8: 32, 15: 64}
    for i, size in lengths.items():
        if len(values[i]) != size:
            raise _bad(f"field {i} has the wrong length", f"項目 {i} の長さが正しくありません")
    for i in (11, 12):
        pair = values[i]
        if len(pair) != 2 or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in pair
        ):
            raise _bad(
                f"field {i} is not a list and index", f"項目 {i} がリスト番号と位置ではありません"
            )
    if not 0 <= values[9] < len(TIERS):
        raise _bad("unknown tier", "不明な登録区分です")
    ranges = {
        1: (10000, 999999),
        3: (0, 2**40),
        4: (0, 2**32),
        5: (1, 2**20),
        10: (0, 200_000),
        13: (0, 2**40),
    }
    for i, (low, high) in ranges.items():
        if not low <= values[i] <= high:
            raise _bad(f"field {i} is out of range", f"項目 {i} が範囲外です")
    if not -(2**31) <= values[6] <= 2**31:
        raise _bad("field 6 is out of range", "項目 6 が範囲外です")
    valid_from = values[3]
    times = {3: valid_from, 4: valid_from + values[4], 6: valid_from + values[6], 13: values[13]}
    for i, seconds in times.items():
        if not MIN_TIME <= seconds <= MAX_TIME:
            raise _bad(
                f"field {i} gives a date-time outside the years 0001-9999",
                f"項目 {i} の日時が 0001〜9999 年の範囲外です",
            )
    challenge = values[14]
    limit = MAX_CHALLENGE_BYTES if isinstance(challenge, bytes) else MAX_CHALLENGE_CHARS
    if not 0 < len(challenge) <= limit:
        raise _bad(
            "the challenge is empty or too long (1-192 bytes or 1-256 characters)",
            "チャレンジが空か長すぎます (1〜192 バイトまたは 1〜256 文字)",
        )
    return values


def decode(text: str, *, issuer_for: IssuerLookup | None = None) -> dict[str, Any]:
    """The exact presentation (or document) a QR payload carries; EnvelopeError otherwise."""
    if not isinstance(text, str):
        raise _bad("not text", "テキストではありません")
    text = text.strip()
    if len(text) > MAX_PAYLOAD_CHARS:
        raise _bad(
            f"longer than {MAX_PAYLOAD_CHARS} characters", f"{MAX_PAYLOAD_CHARS} 文字を超えています"
        )
    if text.startswith(GENERIC_PREFIX):
        return _decode_generic(text[len(GENERIC_PREFIX) :])
    if not text.startswith(PROFILE_PREFIX):
        raise _bad(
            "not a furusato QR payload (unknown prefix)",
            "ふるさと住民の QR データではありません (不明な接頭辞)",
        )
    try:
        raw = cbor.decode(base45.decode(text[len(PROFILE_PREFIX) :]))
    except FurusatoError as exc:
        raise _bad(exc.message_en, exc.message_ja) from None
    values = _check(raw)
    issuer_did = values[0]
    lg_code = f"{values[1]:06d}"
    if issuer_did is None:
        found = issuer_for(lg_code) if issuer_for is not None else None
        if found is None:
            raise IssuerLookupRequired(
                f"QR payload: the issuer of municipality {lg_code} is named through the national "
                "registry, which is not available (sync it, or give the registry)",
                f"QR データ: 自治体 {lg_code} の発行者は全国レジストリで示されていますが、"
                "レジストリがありません (同期するか、レジストリを指定してください)",
            )
        issuer_did = found
    try:
        return _build(values, issuer_did)
    except EnvelopeError:
        raise  # already says "QR payload: …"
    except FurusatoError as exc:
        raise _bad(exc.message_en, exc.message_ja) from None


def _decode_generic(body: str) -> dict[str, Any]:
    try:
        compressed = base45.decode(body)
    except FurusatoError as exc:
        raise _bad(exc.message_en, exc.message_ja) from None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_GENERIC_JSON + 1)
    except zlib.error:
        raise _bad("the compressed data is damaged", "圧縮データが壊れています") from None
    if len(data) > MAX_GENERIC_JSON or inflater.unconsumed_tail:
        raise _bad("the content is too large", "内容が大きすぎます")
    if not inflater.eof or inflater.unused_data:
        raise _bad(
            "the compressed data is truncated or padded",
            "圧縮データが途中で切れているか余分があります",
        )
    try:
        document = load_json(data, Limits(max_bytes=MAX_GENERIC_JSON))
    except FurusatoError as exc:
        raise _bad(exc.message_en, exc.message_ja) from None
    if not isinstance(document, dict):
        raise _bad("the content is not a JSON object", "内容が JSON オブジェクトではありません")
    return document


# --- what a payload is, for the replay log -------------------------------------------------


def presentation_key(text: str) -> str:
    """What identifies the presentation a payload (or compact text) carries, however it was
    written: the key of a verifier's replay log (docs/compact-envelope.md §7.2, §10).

    The same presentation in the short, self-contained or generic form, with whitespace
    around it, in an enveloping object or as bare compact text, has one key:

    * Data Integrity: the ``proofValue`` of each proof on the document (profile 1 carries the
      holder's as value 15);
    * a ``vp+jwt`` / ``vc+jwt``: the part its JWS signs (``header.payload``); an SD-JWT: that
      of its KB-JWT, or of the issuer JWT when it has none.  The signed part rather than the
      signature, which an ES256/ES384 signer — or anyone, by negating *s* — can vary;
    * anything else (it cannot verify): the text itself, without the whitespace around it.

    The key is as long as what it names; a log keeps only a hash of it.  Never raises.
    """
    text = text.strip()
    key: str | None = None
    if text.startswith(PROFILE_PREFIX) and len(text) <= MAX_PAYLOAD_CHARS:
        with contextlib.suppress(FurusatoError):
            values = _check(cbor.decode(base45.decode(text[len(PROFILE_PREFIX) :])))
            key = "proofValue:" + _proof_value(values[15])
    elif text.startswith(GENERIC_PREFIX) and len(text) <= MAX_PAYLOAD_CHARS:
        with contextlib.suppress(FurusatoError):
            key = _document_key(_decode_generic(text[len(GENERIC_PREFIX) :]))
    else:
        key = _compact_key(text)
    return key if key is not None else text


def _document_key(document: Mapping[str, Any]) -> str | None:
    values = sorted(
        proof["proofValue"]
        for proof in as_list(document.get("proof"))
        if isinstance(proof, dict) and isinstance(proof.get("proofValue"), str)
    )
    if values:
        return "proofValue:" + " ".join(values)
    url = document.get("id")  # an enveloping object: data:<media type>,<compact text>
    if isinstance(url, str) and url.startswith("data:"):
        _, comma, compact = url.partition(",")
        return _compact_key(compact) if comma else None
    return None


def _compact_key(text: str) -> str | None:
    if "~" in text:  # SD-JWT: <issuer JWT>~<disclosure>~…~[<KB-JWT>]
        parts = text.split("~")
        text = parts[-1] or parts[0]
    header, signed, _ = text.split(".", 2) if text.count(".") == 2 else ("", "", "")
    if not header or not signed:
        return None
    return f"jws:{header}.{signed}"
