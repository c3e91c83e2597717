"""The furusato credential profile: building ``FurusatoResidentCredential`` and checking it.

DESIGN.md §3: VCDM 2.0 with our context ``https://w3id.org/furusato/v1``; the subject is the
holder's per-registration ``did:key``; the municipality is named by its lgCode (with check
digit), name and prefecture, which must agree with the MIC table; no personal data.
The JSON Schemas under ``schemas/json/`` describe the shape; :func:`profile_problems` adds
what a schema cannot say (check digits, table agreement, dates).

The same registration as an SD-JWT VC (docs/formats.md): :func:`resident_sd_jwt_claims` builds
its JWT Claims Set from the same inputs as :func:`resident_credential`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import jsonschema_rs

from did.errors import FurusatoError, MalformedValueError
from did.key import public_key_from_did_key
from schemas.loader import CREDENTIALS_V2, FURUSATO_V1
from schemas.municipalities import Municipality, municipality_table
from vc.dates import format_datetime, parse_date
from vc.model import as_list

RESIDENT_CREDENTIAL_TYPE = "FurusatoResidentCredential"
ACTIVITY_CREDENTIAL_TYPE = "FurusatoActivityCredential"
TIERS = ("basic", "premium")
CONTEXTS = (CREDENTIALS_V2, FURUSATO_V1)
RESIDENT_VCT: Final = "https://w3id.org/furusato/resident"
"""The ``vct`` of the resident credential as an SD-JWT VC (docs/formats.md)."""
SD_JWT_STATUS_MEMBER: Final = "bitstring_status_list"
"""The member of an SD-JWT VC's ``status`` claim holding our BitstringStatusListEntry objects
(docs/formats.md: the W3C Bitstring Status List, not the IETF Token Status List)."""


def municipality_claim(municipality: Municipality) -> dict[str, str]:
    """The ``municipality`` object of a credential subject."""
    table = municipality_table()
    prefecture = table.prefecture_of(municipality.lg_code)
    return {
        "lgCode": municipality.lg_code,
        "name": municipality.name,
        "prefecture": prefecture.prefecture,
        "prefectureCode": prefecture.lg_code,
    }


def resident_credential(
    *,
    credential_id: str | None,
    issuer: str,
    issuer_name: str | None,
    municipality: Municipality,
    holder: str,
    tier: str,
    registered_since: date,
    valid_from: datetime,
    valid_until: datetime,
    status: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An unsigned ``FurusatoResidentCredential`` (key order as in DESIGN.md §3)."""
    _check_tier(tier, "credentialSubject.registrationTier")
    credential: dict[str, Any] = {"@context": list(CONTEXTS)}
    if credential_id is not None:
        credential["id"] = credential_id
    credential["type"] = ["VerifiableCredential", RESIDENT_CREDENTIAL_TYPE]
    credential["issuer"] = {"id": issuer, **({"name": issuer_name} if issuer_name else {})}
    credential["validFrom"] = format_datetime(valid_from)
    credential["validUntil"] = format_datetime(valid_until)
    credential["credentialSubject"] = {
        "id": holder,
        "type": "FurusatoResident",
        "registrationTier": tier,
        "municipality": municipality_claim(municipality),
        "registeredSince": registered_since.isoformat(),
    }
    if status:
        credential["credentialStatus"] = [dict(s) for s in status]
    return credential


def _check_tier(tier: str, path: str) -> None:
    if tier not in TIERS:
        raise MalformedValueError(
            f"registration tier must be basic or premium, got {tier!r}",
            f"登録区分は basic (ベーシック) か premium (プレミアム) です: {tier!r}",
            path=path,
        )


def _numeric_date(moment: datetime, name: str) -> int:
    """RFC 7519 NumericDate: whole seconds since 1970 (rounded down, as ``validFrom`` is)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise MalformedValueError(
            f"{name} must be a datetime with a time zone",
            f"{name} はタイムゾーン付きの日時でなければなりません",
            path=name,
        )
    return math.floor(moment.timestamp())


def resident_sd_jwt_claims(
    *,
    credential_id: str,
    issuer: str,
    municipality: Municipality,
    holder: str,
    tier: str,
    registered_since: date,
    valid_from: datetime,
    valid_until: datetime,
    issued_at: datetime,
    status: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The JWT Claims Set of the resident credential as an SD-JWT VC (docs/formats.md).

    The claims of :func:`resident_credential` with the JWT names: ``iss`` = the issuer DID,
    ``vct`` = :data:`RESIDENT_VCT`, ``jti`` = the credential id, ``iat`` = ``issued_at``,
    ``nbf``/``exp`` = ``valid_from``/``valid_until``, ``cnf.jwk`` = the public key of
    ``holder`` (the registration's ``did:key``: the key the holder proved), the subject's
    claims at the top level and ``status.bitstring_status_list`` = the same
    BitstringStatusListEntry objects as ``credentialStatus``.  No name, address or other
    personal data; no ``sub`` (the holder is identified by ``cnf`` only).  Raises
    :class:`MalformedValueError` (tier, naive datetimes) or a :class:`FurusatoError` of
    :mod:`did.key` (``holder`` not a did:key).
    """
    _check_tier(tier, "registrationTier")
    holder_key = public_key_from_did_key(holder)
    claims: dict[str, Any] = {
        "iss": issuer,
        "vct": RESIDENT_VCT,
        "jti": credential_id,
        "iat": _numeric_date(issued_at, "iat"),
        "nbf": _numeric_date(valid_from, "nbf"),
        "exp": _numeric_date(valid_until, "exp"),
        "cnf": {"jwk": holder_key.to_jwk()},
        "registrationTier": tier,
        "municipality": municipality_claim(municipality),
        "registeredSince": registered_since.isoformat(),
    }
    if status:
        claims["status"] = {SD_JWT_STATUS_MEMBER: [dict(s) for s in status]}
    return claims


ACTIVITY_CATEGORIES = (
    "volunteer",
    "sideJob",
    "twoRegionLiving",
    "event",
    "disasterSupport",
    "other",
)
EVIDENCE_KINDS = ("checkIn", "document", "gps")


def activity_credential(
    *,
    credential_id: str,
    issuer: str,
    issuer_name: str | None,
    municipality: Municipality,
    holder: str,
    category: str,
    activity_date: date,
    evidence: str,
    valid_from: datetime,
    name: str | None = None,
    check_in_time: datetime | None = None,
    site_id: str | None = None,
    site_name: str | None = None,
) -> dict[str, Any]:
    """An unsigned ``FurusatoActivityCredential``: a receipt of one 担い手活動 (a check-in at
    a site or an activity staff approved), evidence toward premium registration."""
    if category not in ACTIVITY_CATEGORIES:
        raise MalformedValueError(
            f"unknown activity category {category!r}",
            f"活動の種類 {category!r} はありません",
            path="credentialSubject.activity.activityCategory",
        )
    if evidence not in EVIDENCE_KINDS:
        raise MalformedValueError(
            f"unknown evidence kind {evidence!r}",
            f"証拠の種類 {evidence!r} はありません",
            path="credentialSubject.activity.evidenceKind",
        )
    activity: dict[str, Any] = {"type": "FurusatoActivity"}
    if name:
        activity["name"] = name
    activity["activityCategory"] = category
    activity["activityDate"] = activity_date.isoformat()
    if check_in_time is not None:
        activity["checkInTime"] = format_datetime(check_in_time)
    activity["evidenceKind"] = evidence
    if site_id is not None:
        site: dict[str, Any] = {"type": "ActivitySite", "siteId": site_id}
        if site_name:
            site["name"] = site_name
        activity["site"] = site
    return {
        "@context": list(CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", ACTIVITY_CREDENTIAL_TYPE],
        "issuer": {"id": issuer, **({"name": issuer_name} if issuer_name else {})},
        "validFrom": format_datetime(valid_from),
        "credentialSubject": {
            "id": holder,
            "municipality": municipality_claim(municipality),
            "activity": activity,
        },
    }


@cache
def _schema(credential_type: str) -> dict[str, Any]:
    base = resources.files("schemas").joinpath("json")
    index: dict[str, str] = json.loads(base.joinpath("index.json").read_text("utf-8"))
    schema: dict[str, Any] = json.loads(base.joinpath(index[credential_type]).read_text("utf-8"))
    return schema


def schema_for(credential_type: str) -> dict[str, Any]:
    """The bundled JSON Schema of one of our credential types."""
    return _schema(credential_type)


@cache
def _validator(credential_type: str) -> Any:
    """The compiled validator of one of our schemas (jsonschema-rs: Rust, compiled once; no
    format assertions, as JSON Schema 2020-12 defaults; local ``$ref`` only — never online)."""
    return jsonschema_rs.Draft202012Validator(
        _schema(credential_type), validate_formats=False, offline=True
    )


def _schema_problems(
    credential: Mapping[str, Any], credential_type: str
) -> list[MalformedValueError]:
    errors = _validator(credential_type).iter_errors(credential)
    problems = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.instance_path]):
        path = ".".join(str(p) for p in error.instance_path) or "credential"
        message = error.message if len(error.message) <= 160 else error.message[:160] + "…"
        problems.append(
            MalformedValueError(
                f"{path}: {message}",
                f"{path}: 証明書の形式 ({credential_type}) に合いません: {message}",
                path=path,
            )
        )
    return problems


def is_furusato(credential: Mapping[str, Any]) -> bool:
    """Whether the credential claims one of our types (and so must follow the profile)."""
    types = as_list(credential.get("type"))
    return RESIDENT_CREDENTIAL_TYPE in types or ACTIVITY_CREDENTIAL_TYPE in types


def profile_problems(credential: Mapping[str, Any]) -> list[MalformedValueError]:
    """Problems of a furusato credential against its profile (empty for other types)."""
    types = as_list(credential.get("type"))
    credential_type = next(
        (t for t in (RESIDENT_CREDENTIAL_TYPE, ACTIVITY_CREDENTIAL_TYPE) if t in types), None
    )
    if credential_type is None:
        return []
    problems = _schema_problems(credential, credential_type)
    if problems:
        return problems
    subject = credential["credentialSubject"]
    claim = subject["municipality"]
    try:
        municipality = municipality_table().get(claim["lgCode"])
        expected = municipality_claim(municipality)
    except FurusatoError as exc:
        return [
            MalformedValueError(
                exc.message_en, exc.message_ja, path="credentialSubject.municipality.lgCode"
            )
        ]
    if municipality.is_prefecture:
        problems.append(
            MalformedValueError(
                "a furusato registration is with a municipality, not a prefecture",
                "ふるさと住民登録は市区町村に対するもので、都道府県は登録先になりません",
                path="credentialSubject.municipality.lgCode",
            )
        )
    for key in ("name", "prefecture", "prefectureCode"):
        if claim[key] != expected[key]:
            problems.append(
                MalformedValueError(
                    f"municipality.{key} is {claim[key]!r} but lgCode {claim['lgCode']} is "
                    f"{expected[key]!r}",
                    f"municipality.{key} が {claim[key]!r} ですが、自治体コード "
                    f"{claim['lgCode']} は {expected[key]!r} です",
                    path=f"credentialSubject.municipality.{key}",
                )
            )
    if credential_type == RESIDENT_CREDENTIAL_TYPE:
        try:
            parse_date(subject["registeredSince"], "credentialSubject.registeredSince")
        except MalformedValueError as exc:
            problems.append(exc)
        # DESIGN.md §6: every registration can be revoked and suspended — one without its
        # entries would verify for ever, whatever its municipality later decided.
        purposes = sorted(s["statusPurpose"] for s in credential.get("credentialStatus", []))
        if purposes != ["revocation", "suspension"]:
            problems.append(
                MalformedValueError(
                    "a furusato credential has one revocation and one suspension entry",
                    "ふるさと住民証明書には失効と停止のステータスが1つずつ必要です",
                    path="credentialStatus",
                )
            )
    return problems
