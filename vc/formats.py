"""The three formats of one credential, side by side (docs/formats.md).

``ldp_vc`` (Data Integrity, :mod:`vc.dataintegrity`), ``jwt_vc_json`` (VC-JOSE ``vc+jwt`` /
``vp+jwt``, :mod:`vc.jose`) and ``dc+sd-jwt`` (SD-JWT VC, :mod:`vc.sdjwt`) carry the same
claims.  This module holds what the verifier needs to treat them alike; it verifies nothing
itself (:mod:`vc.verify` does):

``compact_kind(text) -> "vc+jwt" | "vp+jwt" | "sd-jwt" | None``
    What a compact text is, from its shape and its (unverified) header: a JWS of ``typ``
    ``vc+jwt`` / ``vp+jwt``, or an SD-JWT (``<JWS>~…~[KB-JWT]`` whose issuer JWT header is JSON;
    its ``typ`` is the SD-JWT verifier's to judge).  ``None`` for anything else — so a file
    name such as ``my.vc.jwt`` is never taken for a token.
``is_compact_presentation(text) -> bool``
    A ``vp+jwt`` or an SD-JWT+KB (what a holder shows), not a credential on its own.
``unverified_jws(token) -> (header, payload) | None``
    The decoded header and payload of a compact JWS, **not verified**: for dispatching and for
    reading which nonce/audience a presentation claims when the verifier checks none.
``sd_jwt_view(claims) -> dict``
    The processed claims of a *verified* SD-JWT VC (:attr:`vc.sdjwt.VerifiedSdJwt.processed_claims`)
    as a VCDM-shaped view, so that the registry, validity, status and policy checks and the
    result screen read one shape for all three formats::

        type               ["VerifiableCredential", "FurusatoResidentCredential"]
                           (["VerifiableCredential"] when vct is not ours)
        id                 jti (when a string)
        issuer             iss
        validFrom          nbf (as an XML Schema dateTimeStamp, UTC)
        validUntil         exp
        credentialSubject  {"id": did:key of cnf.jwk, "type": "FurusatoResident" (ours),
                            registrationTier, municipality, registeredSince — and name,
                            birthDate (given_name, family_name, birthdate) when disclosed}
        credentialStatus   status.bitstring_status_list

    A claim not disclosed is simply absent.  The view is derived data: nothing signed it in this
    shape, so it must never be passed on as a credential (it has no ``@context`` and no proof).
``sd_jwt_profile_problems(claims) -> list[MalformedValueError]``
    The furusato profile for an SD-JWT VC of our ``vct`` (the rules of
    :func:`vc.furusato.profile_problems` that apply to claims that may be withheld).
``enveloped(media_type, compact) -> dict`` / ``unenvelope(obj) -> (media_type, compact)``
    VCDM 2.0 §4.13 ``EnvelopedVerifiableCredential`` / ``EnvelopedVerifiablePresentation`` whose
    ``id`` is ``data:<media type>,<compact>`` (RFC 2397), the media type exactly
    ``application/vc+jwt`` (in a credential), ``application/vp+jwt`` (in a presentation) or
    ``application/dc+sd-jwt`` (a credential without Key Binding, a presentation with it) — no
    parameters, no ``;base64``, no percent-encoding (the compact forms are URL-safe text).
``encode_enveloped(media_type, compact) -> str``
    The QR text of such an envelope: the generic ``FRJ:`` form of :mod:`vc.envelope`
    (docs/envelope.md §2).  What a wallet calls to show an SD-JWT+KB or a VP-JWT.

Errors are :class:`~did.errors.FurusatoError` with code ``malformed`` or
``unsupported_format``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from did.errors import FurusatoError, MalformedValueError, UnsupportedError
from did.jsonio import Limits, load_json
from did.key import did_key_from_public_key
from did.keys import PublicKey
from did.multibase import base64url_decode
from schemas.loader import CREDENTIALS_V2
from schemas.municipalities import municipality_table
from vc import envelope
from vc.dates import format_datetime, parse_date
from vc.furusato import RESIDENT_CREDENTIAL_TYPE, RESIDENT_VCT, TIERS, municipality_claim
from vc.model import ENVELOPED_VC_TYPE, VC_TYPE, as_list

__all__ = [
    "DC_SD_JWT",
    "ENVELOPED_VP_TYPE",
    "FORMAT_NAMES",
    "FURUSATO_VCT",
    "JWT_VC_JSON",
    "LDP_VC",
    "MEDIA_TYPES",
    "SD_JWT_MEDIA_TYPE",
    "VC_JWT_MEDIA_TYPE",
    "VP_JWT_MEDIA_TYPE",
    "compact_kind",
    "encode_enveloped",
    "enveloped",
    "is_compact_presentation",
    "is_furusato_vct",
    "sd_jwt_profile_problems",
    "sd_jwt_view",
    "unenvelope",
    "unverified_jws",
]

# The OID4VCI format identifiers (docs/formats.md), also the "format" of a verification result.
LDP_VC: Final = "ldp_vc"
JWT_VC_JSON: Final = "jwt_vc_json"
DC_SD_JWT: Final = "dc+sd-jwt"
FORMAT_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    LDP_VC: ("W3C VC (Data Integrity)", "W3C VC (Data Integrity)"),
    JWT_VC_JSON: ("VC-JOSE (JWT)", "VC-JOSE (JWT)"),
    DC_SD_JWT: ("SD-JWT VC", "SD-JWT VC"),
}
"""format → (Japanese, English) name, for people."""

VC_JWT_MEDIA_TYPE: Final = "application/vc+jwt"
VP_JWT_MEDIA_TYPE: Final = "application/vp+jwt"
SD_JWT_MEDIA_TYPE: Final = "application/dc+sd-jwt"
MEDIA_TYPES: Final = (VC_JWT_MEDIA_TYPE, VP_JWT_MEDIA_TYPE, SD_JWT_MEDIA_TYPE)
ENVELOPED_VP_TYPE: Final = "EnvelopedVerifiablePresentation"
FURUSATO_VCT: Final = RESIDENT_VCT  # the SD-JWT VC type of our credential (vc.furusato)

MAX_COMPACT_CHARS: Final = 256 * 1024
"""Bound on a compact text looked at here (vc.jose and vc.sdjwt have their own, smaller)."""
_MAX_HEADER_CHARS: Final = 4096
_MAX_NUMERIC_DATE: Final = 253_402_300_800  # 10000-01-01T00:00:00Z
_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
_SD_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+~[A-Za-z0-9_.~-]*")
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]+")
_SD_JWT_TYPES: Final = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
# Claims of a subject that the view carries when they are there (the identity claims only
# ever arrive disclosed; our resident credential has none).
_SUBJECT_CLAIMS: Final = (
    "registrationTier",
    "municipality",
    "registeredSince",
    "name",
    "birthDate",
    "given_name",
    "family_name",
    "birthdate",
)


def _unsupported(path: str, en: str, ja: str) -> UnsupportedError:
    return UnsupportedError(f"{path}: {en}", f"{path}: {ja}", path=path)


def _malformed(path: str, en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(f"{path}: {en}", f"{path}: {ja}", path=path)


# --- telling compact texts apart ------------------------------------------------------------


def _json_part(text: str, max_chars: int) -> Any:
    if len(text) > max_chars:
        return None
    try:
        return load_json(
            base64url_decode(text, max_length=len(text)), Limits(max_bytes=max_chars, max_depth=32)
        )
    except FurusatoError:
        return None


def unverified_jws(token: object) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and payload of a compact JWS, decoded and **not verified**; None if it is not one."""
    if not isinstance(token, str) or len(token) > MAX_COMPACT_CHARS:
        return None
    match = _JWS.fullmatch(token)
    if match is None:
        return None
    header = _json_part(match.group(1), _MAX_HEADER_CHARS)
    payload = _json_part(match.group(2), MAX_COMPACT_CHARS)
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload


def _typ(header: Mapping[str, Any]) -> str | None:
    typ = header.get("typ")
    # RFC 7515 §4.1.9: "application/" may be left out, and media types ignore case.
    return typ.lower().removeprefix("application/") if isinstance(typ, str) else None


def compact_kind(text: object) -> str | None:
    """``"vc+jwt"``, ``"vp+jwt"``, ``"sd-jwt"`` or None (module docstring)."""
    if not isinstance(text, str) or len(text) > MAX_COMPACT_CHARS:
        return None
    text = text.strip()
    if "~" in text:
        if not _SD_JWT.fullmatch(text):
            return None
        # Whatever its typ: the SD-JWT verifier refuses a typ it does not accept, by name.
        header = _json_part(text.split(".", 1)[0], _MAX_HEADER_CHARS)
        return "sd-jwt" if isinstance(header, dict) else None
    match = _JWS.fullmatch(text)
    if match is None:
        return None
    header = _json_part(match.group(1), _MAX_HEADER_CHARS)
    if not isinstance(header, dict):
        return None
    typ = _typ(header)
    if typ in ("vc+jwt", "vp+jwt"):
        return typ
    if typ in _SD_JWT_TYPES:
        return "sd-jwt"  # without its trailing "~": the SD-JWT verifier says what is wrong
    return None


def is_compact_presentation(text: object) -> bool:
    """Whether compact text is a presentation — a ``vp+jwt``, or an SD-JWT with its KB-JWT —
    rather than a credential on its own (a ``vc+jwt``, an SD-JWT ending in ``~``)."""
    kind = compact_kind(text)
    assert kind is None or isinstance(text, str)
    return kind == "vp+jwt" or (kind == "sd-jwt" and not str(text).strip().endswith("~"))


# --- the SD-JWT VC as a VCDM-shaped view -----------------------------------------------------


def _time(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value < _MAX_NUMERIC_DATE:
        return None
    return format_datetime(datetime.fromtimestamp(math.floor(value), UTC))


def _holder_did(claims: Mapping[str, Any]) -> str | None:
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        return None
    try:
        return did_key_from_public_key(PublicKey.from_jwk(jwk))
    except FurusatoError:
        return None


def is_furusato_vct(claims: Mapping[str, Any]) -> bool:
    return claims.get("vct") == FURUSATO_VCT


def sd_jwt_view(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The VCDM-shaped view of an SD-JWT VC's processed claims (module docstring)."""
    ours = is_furusato_vct(claims)
    view: dict[str, Any] = {
        "type": [VC_TYPE, RESIDENT_CREDENTIAL_TYPE] if ours else [VC_TYPE],
    }
    if isinstance(claims.get("jti"), str):
        view["id"] = claims["jti"]
    if isinstance(claims.get("iss"), str):
        view["issuer"] = claims["iss"]
    for name, claim in (("validFrom", "nbf"), ("validUntil", "exp")):
        moment = _time(claims.get(claim))
        if moment is not None:
            view[name] = moment
    subject: dict[str, Any] = {}
    holder = _holder_did(claims)
    if holder is not None:
        subject["id"] = holder
    if ours:
        subject["type"] = "FurusatoResident"
    for name in _SUBJECT_CLAIMS:
        if name in claims:
            subject[name] = copy.deepcopy(claims[name])
    view["credentialSubject"] = subject
    status = claims.get("status")
    if isinstance(status, dict) and "bitstring_status_list" in status:
        view["credentialStatus"] = copy.deepcopy(status["bitstring_status_list"])
    return view


def sd_jwt_profile_problems(claims: Mapping[str, Any]) -> list[MalformedValueError]:
    """Problems of an SD-JWT VC of our ``vct`` against the furusato profile (none for others).

    Claims that may be withheld are checked only when disclosed; ``iss``, ``cnf.jwk`` and
    ``status`` (never selectively disclosable) must be there.
    """
    if not is_furusato_vct(claims):
        return []
    problems: list[MalformedValueError] = []
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss.startswith(("did:web:", "did:key:")):
        problems.append(_malformed("iss", "must be the issuer's DID", "発行者の DID が必要です"))
    if _holder_did(claims) is None:
        problems.append(
            _malformed("cnf.jwk", "must be the holder's public key", "保持者の公開鍵が必要です")
        )
    tier = claims.get("registrationTier", TIERS[0])
    if tier not in TIERS:
        problems.append(
            _malformed("registrationTier", "must be basic or premium", "basic か premium です")
        )
    if "registeredSince" in claims:
        try:
            parse_date(claims["registeredSince"], "registeredSince")
        except MalformedValueError as exc:
            problems.append(exc)
    if "municipality" in claims:
        problems += _municipality_problems(claims["municipality"])
    status = claims.get("status")
    entries = status.get("bitstring_status_list") if isinstance(status, dict) else None
    purposes = sorted(str(e.get("statusPurpose")) for e in as_list(entries) if isinstance(e, dict))
    if not isinstance(entries, list) or purposes != ["revocation", "suspension"]:
        problems.append(
            _malformed(
                "status.bitstring_status_list",
                "a furusato credential has one revocation and one suspension entry",
                "ふるさと住民証明書には失効と停止のステータスが1つずつ必要です",
            )
        )
    return problems


def _municipality_problems(claim: object) -> list[MalformedValueError]:
    path = "municipality"
    if not isinstance(claim, dict) or not isinstance(claim.get("lgCode"), str):
        return [
            _malformed(path, "must be an object with an lgCode", "lgCode を持つオブジェクトです")
        ]
    try:
        municipality = municipality_table().get(claim["lgCode"])
    except FurusatoError as exc:
        return [MalformedValueError(exc.message_en, exc.message_ja, path=f"{path}.lgCode")]
    if municipality.is_prefecture:
        return [
            _malformed(
                f"{path}.lgCode",
                "a furusato registration is with a municipality, not a prefecture",
                "ふるさと住民登録は市区町村に対するもので、都道府県は登録先になりません",
            )
        ]
    if claim != municipality_claim(municipality):
        return [
            _malformed(
                path,
                f"does not agree with the MIC table for {claim['lgCode']}",
                f"自治体コード {claim['lgCode']} の全国地方公共団体コード表と一致しません",
            )
        ]
    return []


# --- EnvelopedVerifiableCredential / EnvelopedVerifiablePresentation --------------------------


def _envelope_type(media_type: str, compact: str) -> str:
    if media_type == VC_JWT_MEDIA_TYPE:
        return ENVELOPED_VC_TYPE
    if media_type == VP_JWT_MEDIA_TYPE:
        return ENVELOPED_VP_TYPE
    # An SD-JWT ends in "~"; an SD-JWT+KB ends in its KB-JWT, which makes it a presentation.
    return ENVELOPED_VC_TYPE if compact.endswith("~") else ENVELOPED_VP_TYPE


def enveloped(media_type: str, compact: str) -> dict[str, Any]:
    """The enveloping object of a compact credential or presentation (VCDM 2.0 §4.13)."""
    if media_type not in MEDIA_TYPES:
        raise _unsupported(
            "media_type",
            f"must be one of {', '.join(MEDIA_TYPES)}",
            f"{'、'.join(MEDIA_TYPES)} のいずれかです",
        )
    expected = {VC_JWT_MEDIA_TYPE: "vc+jwt", VP_JWT_MEDIA_TYPE: "vp+jwt"}.get(media_type, "sd-jwt")
    if not isinstance(compact, str) or compact_kind(compact) != expected:
        raise _malformed(
            "compact",
            f"is not a compact {expected} (a JWS, or an SD-JWT ending in '~' or a KB-JWT)",
            f"コンパクト形式の {expected} ではありません",
        )
    compact = compact.strip()
    return {
        "@context": CREDENTIALS_V2,
        "id": f"data:{media_type},{compact}",
        "type": _envelope_type(media_type, compact),
    }


def unenvelope(obj: object) -> tuple[str, str]:
    """(media type, compact text) of an enveloping object (not verified; module docstring)."""
    if not isinstance(obj, dict):
        raise _malformed("document", "must be a JSON object", "JSON オブジェクトが必要です")
    types = as_list(obj.get("type"))
    if ENVELOPED_VC_TYPE in types and ENVELOPED_VP_TYPE in types:
        raise _malformed(
            "type",
            "cannot be both an enveloped credential and an enveloped presentation",
            "エンベロープ型の証明書と提示を兼ねることはできません",
        )
    if ENVELOPED_VC_TYPE not in types and ENVELOPED_VP_TYPE not in types:
        raise _unsupported(
            "type",
            f"must be {ENVELOPED_VC_TYPE} or {ENVELOPED_VP_TYPE}",
            f"{ENVELOPED_VC_TYPE} か {ENVELOPED_VP_TYPE} でなければなりません",
        )
    context = obj.get("@context")
    first = context[0] if isinstance(context, list) and context else context
    if first != CREDENTIALS_V2:
        raise _malformed("@context", f"must be {CREDENTIALS_V2}", f"{CREDENTIALS_V2} が必要です")
    url = obj.get("id")
    if not isinstance(url, str) or not url.startswith("data:"):
        raise _malformed("id", "must be a data: URL", "data: URL が必要です")
    if len(url) > MAX_COMPACT_CHARS:
        raise _malformed("id", "is too long", "長すぎます")
    media_type, comma, body = url[len("data:") :].partition(",")
    if not comma or media_type not in MEDIA_TYPES:
        raise _unsupported(
            "id",
            f"must be a data: URL of media type {', '.join(MEDIA_TYPES)} "
            "(no parameters, no base64)",
            f"メディアタイプ {'、'.join(MEDIA_TYPES)} の data: URL でなければなりません "
            "(パラメーター・base64 不可)",
        )
    presentation = ENVELOPED_VP_TYPE in types
    if (media_type == VC_JWT_MEDIA_TYPE and presentation) or (
        media_type == VP_JWT_MEDIA_TYPE and not presentation
    ):
        wrapper = ENVELOPED_VP_TYPE if presentation else ENVELOPED_VC_TYPE
        raise _unsupported(
            "type",
            f"{media_type} does not go in an {wrapper}",
            f"{media_type} は {wrapper} に入れられません",
        )
    if not _URL_SAFE.fullmatch(body):
        raise _malformed(
            "id",
            "the data: URL must hold the compact text as is (no percent-encoding)",
            "data: URL の内容はコンパクト形式のテキストそのものでなければなりません",
        )
    return media_type, body


def encode_enveloped(media_type: str, compact: str) -> str:
    """QR text (``FRJ:``) of a compact credential or presentation (module docstring)."""
    return envelope.encode_generic(enveloped(media_type, compact))
