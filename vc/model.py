"""The VCDM data model checks (VCDM 2.0; VCDM 1.1 input accepted where asked).

These are the structural rules of the data model — what the W3C VCDM 2.0 test suite rejects —
independent of how the document is secured.  ``credential_problems`` and
``presentation_problems`` list every problem (for a verification report);
``validate_credential`` and ``validate_presentation`` raise the first (for issuing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from did.errors import MalformedValueError
from schemas.loader import CREDENTIALS_V1, CREDENTIALS_V2
from vc.dates import parse_datetime

VC_TYPE = "VerifiableCredential"
VP_TYPE = "VerifiablePresentation"
ENVELOPED_VC_TYPE = "EnvelopedVerifiableCredential"

# An absolute URL/IRI: scheme ":" then no whitespace (RFC 3986 §3.1, as the suites check it).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*")

# Structured optional properties that need a "type" (VCDM 2.0 §4.10–§5.6).
_TYPED_PROPERTIES = (
    "credentialStatus",
    "credentialSchema",
    "evidence",
    "termsOfUse",
    "refreshService",
    "renderMethod",
    "confidenceMethod",
)


def is_url(value: object) -> bool:
    return isinstance(value, str) and bool(_URL.fullmatch(value))


def _problem(path: str, en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(f"{path}: {en}", f"{path}: {ja}", path=path)


def as_list(value: object) -> list[Any]:
    """JSON-LD's "one or many": a list as is, anything else as a one-item list."""
    return value if isinstance(value, list) else [value]


def base_context(document: Mapping[str, Any]) -> str | None:
    """The first @context entry if it is one of the two VCDM base contexts."""
    context = document.get("@context")
    first = context[0] if isinstance(context, list) and context else context
    return first if first in (CREDENTIALS_V1, CREDENTIALS_V2) else None


def _context_problems(document: Mapping[str, Any], allow_v1: bool) -> list[MalformedValueError]:
    if "@context" not in document:
        return [_problem("@context", "is required", "必須です")]
    context = document["@context"]
    if not isinstance(context, list) or not context:
        return [
            _problem(
                "@context",
                "must be a list whose first item is https://www.w3.org/ns/credentials/v2",
                "先頭が https://www.w3.org/ns/credentials/v2 のリストでなければなりません",
            )
        ]
    allowed_first = (CREDENTIALS_V2, CREDENTIALS_V1) if allow_v1 else (CREDENTIALS_V2,)
    problems = []
    if context[0] not in allowed_first:
        problems.append(
            _problem(
                "@context[0]",
                f"must be {CREDENTIALS_V2}",
                f"{CREDENTIALS_V2} でなければなりません",
            )
        )
    for i, entry in enumerate(context[1:], start=1):
        if not (is_url(entry) or isinstance(entry, dict)):
            problems.append(
                _problem(
                    f"@context[{i}]",
                    "must be a URL or a context object",
                    "URL またはコンテキストのオブジェクトでなければなりません",
                )
            )
    if CREDENTIALS_V1 in context[1:] or (
        CREDENTIALS_V2 in context[1:] and context[0] != CREDENTIALS_V2
    ):
        problems.append(
            _problem(
                "@context",
                "mixes the VCDM 1.1 and 2.0 base contexts",
                "VCDM 1.1 と 2.0 のコンテキストが混在しています",
            )
        )
    return problems


def _type_problems(
    document: Mapping[str, Any], required: str, path: str = "type"
) -> list[MalformedValueError]:
    if "type" not in document:
        return [_problem(path, "is required", "必須です")]
    types = as_list(document["type"])
    if not types or not all(isinstance(t, str) and t for t in types):
        return [
            _problem(
                path, "must be a string or a list of strings", "文字列またはそのリストが必要です"
            )
        ]
    if required not in types:
        return [_problem(path, f"must include {required}", f"{required} を含む必要があります")]
    return []


def _id_problems(document: Mapping[str, Any], path: str) -> list[MalformedValueError]:
    if "id" in document and not is_url(document["id"]):
        return [_problem(path, "must be a URL", "URL でなければなりません")]
    return []


def _typed_object_problems(value: object, path: str) -> list[MalformedValueError]:
    problems: list[MalformedValueError] = []
    items = as_list(value)
    if not items:
        problems.append(_problem(path, "must not be empty", "空にできません"))
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]" if isinstance(value, list) else path
        if not isinstance(item, dict):
            problems.append(_problem(item_path, "must be an object", "オブジェクトが必要です"))
            continue
        if (
            "type" not in item
            or not all(isinstance(t, str) and t for t in as_list(item["type"]))
            or not as_list(item["type"])
        ):
            problems.append(_problem(f"{item_path}.type", "is required", "必須です"))
        problems.extend(_id_problems(item, f"{item_path}.id"))
    return problems


_LANGUAGE_VALUE_KEYS = frozenset({"@value", "@language", "@direction"})


def _language_value_problems(value: object, path: str) -> list[MalformedValueError]:
    """``name``/``description``: a string, a language value object (VCDM 2.0 §11.1: only
    ``@value``, ``@language``, ``@direction``), or a list of those."""
    for i, item in enumerate(as_list(value)):
        if isinstance(item, str):
            continue
        if (
            isinstance(item, dict)
            and isinstance(item.get("@value"), str)
            and set(item) <= _LANGUAGE_VALUE_KEYS
        ):
            continue
        return [
            _problem(
                f"{path}[{i}]" if isinstance(value, list) else path,
                "must be a string or a language value object",
                "文字列または言語付きの値が必要です",
            )
        ]
    return []


def credential_problems(
    document: object, *, allow_v1: bool = True, path: str = ""
) -> list[MalformedValueError]:
    """Every data-model problem of a credential (empty when it conforms)."""
    prefix = f"{path}." if path else ""
    if not isinstance(document, dict):
        return [
            _problem(path or "credential", "must be a JSON object", "JSON オブジェクトが必要です")
        ]
    problems: list[MalformedValueError] = []

    def add(found: list[MalformedValueError]) -> None:
        for p in found:
            problems.append(
                MalformedValueError(
                    f"{prefix}{p.message_en}", f"{prefix}{p.message_ja}", path=f"{prefix}{p.path}"
                )
                if prefix
                else p
            )

    add(_context_problems(document, allow_v1))
    v1 = base_context(document) == CREDENTIALS_V1
    add(_type_problems(document, VC_TYPE))
    add(_id_problems(document, "id"))

    if "issuer" not in document:
        add([_problem("issuer", "is required", "必須です")])
    else:
        issuer = document["issuer"]
        if isinstance(issuer, dict):
            if not is_url(issuer.get("id")):
                add([_problem("issuer.id", "must be a URL", "URL でなければなりません")])
            for key in ("name", "description"):
                if key in issuer:
                    add(_language_value_problems(issuer[key], f"issuer.{key}"))
        elif not is_url(issuer):
            add(
                [
                    _problem(
                        "issuer",
                        "must be a URL or an object with an id",
                        "URL または id を持つオブジェクトが必要です",
                    )
                ]
            )

    if "credentialSubject" not in document:
        add([_problem("credentialSubject", "is required", "必須です")])
    else:
        subjects = document["credentialSubject"]
        items = as_list(subjects)
        if not items:
            add([_problem("credentialSubject", "must not be empty", "空にできません")])
        for i, subject in enumerate(items):
            sub_path = (
                f"credentialSubject[{i}]" if isinstance(subjects, list) else "credentialSubject"
            )
            if not isinstance(subject, dict):
                add([_problem(sub_path, "must be an object", "オブジェクトが必要です")])
            elif not subject:
                add(
                    [
                        _problem(
                            sub_path,
                            "must hold at least one claim",
                            "少なくとも1つの主張が必要です",
                        )
                    ]
                )
            else:
                add(_id_problems(subject, f"{sub_path}.id"))

    for key in ("name", "description"):
        if key in document:
            add(_language_value_problems(document[key], key))

    dates: dict[str, Any] = {}
    date_keys = ("issuanceDate", "expirationDate") if v1 else ("validFrom", "validUntil")
    if v1 and "issuanceDate" not in document:
        add(
            [
                _problem(
                    "issuanceDate", "is required in a VCDM 1.1 credential", "VCDM 1.1 では必須です"
                )
            ]
        )
    for key in date_keys + (("validFrom", "validUntil") if v1 else ()):
        if key in document:
            try:
                dates[key] = parse_datetime(document[key], key, require_offset=not v1)
            except MalformedValueError as exc:
                add([exc])
    start = dates.get("validFrom") or dates.get("issuanceDate")
    end = dates.get("validUntil") or dates.get("expirationDate")
    if start is not None and end is not None and start > end:
        add(
            [
                _problem(
                    date_keys[0],
                    f"is after {date_keys[1]}",
                    f"{date_keys[1]} より後の日時です",
                )
            ]
        )

    for key in _TYPED_PROPERTIES:
        if key in document:
            add(_typed_object_problems(document[key], key))
            if v1 and key == "credentialStatus":
                for i, item in enumerate(as_list(document[key])):
                    if isinstance(item, dict) and "id" not in item:
                        add(
                            [
                                _problem(
                                    f"credentialStatus[{i}].id",
                                    "is required in VCDM 1.1",
                                    "VCDM 1.1 では必須です",
                                )
                            ]
                        )
    if "credentialSchema" in document:
        for i, item in enumerate(as_list(document["credentialSchema"])):
            if isinstance(item, dict) and not is_url(item.get("id")):
                add(
                    [
                        _problem(
                            f"credentialSchema[{i}].id", "must be a URL", "URL でなければなりません"
                        )
                    ]
                )
    if "relatedResource" in document:
        seen: set[str] = set()
        for i, item in enumerate(as_list(document["relatedResource"])):
            item_path = f"relatedResource[{i}]"
            if not isinstance(item, dict) or not is_url(item.get("id")):
                add([_problem(f"{item_path}.id", "must be a URL", "URL でなければなりません")])
            elif item["id"] in seen:
                add(
                    [
                        _problem(
                            f"{item_path}.id",
                            "repeats another related resource",
                            "他の関連リソースと重複しています",
                        )
                    ]
                )
            else:
                seen.add(item["id"])
            if isinstance(item, dict) and "digestSRI" not in item and "digestMultibase" not in item:
                add(
                    [
                        _problem(
                            item_path,
                            "needs digestSRI or digestMultibase",
                            "digestSRI または digestMultibase が必要です",
                        )
                    ]
                )
    return problems


def validate_credential(document: object, *, allow_v1: bool = True) -> dict[str, Any]:
    """Return the credential if it conforms; raise the first problem otherwise."""
    problems = credential_problems(document, allow_v1=allow_v1)
    if problems:
        raise problems[0]
    assert isinstance(document, dict)
    return document


def is_enveloped(item: object) -> bool:
    return isinstance(item, dict) and ENVELOPED_VC_TYPE in as_list(item.get("type"))


def presentation_problems(
    document: object, *, allow_v1: bool = True, max_credentials: int = 16
) -> list[MalformedValueError]:
    """Data-model problems of the presentation itself (not of the credentials it carries)."""
    if not isinstance(document, dict):
        return [_problem("presentation", "must be a JSON object", "JSON オブジェクトが必要です")]
    problems = _context_problems(document, allow_v1)
    problems += _type_problems(document, VP_TYPE)
    problems += _id_problems(document, "id")
    if "holder" in document:
        holder = document["holder"]
        holder_id = holder.get("id") if isinstance(holder, dict) else holder
        if not is_url(holder_id):
            problems.append(
                _problem(
                    "holder",
                    "must be a URL or an object with an id",
                    "URL または id を持つオブジェクトが必要です",
                )
            )
    if "verifiableCredential" in document:
        credentials = as_list(document["verifiableCredential"])
        if len(credentials) > max_credentials:
            problems.append(
                _problem(
                    "verifiableCredential",
                    f"carries more than {max_credentials} credentials",
                    f"証明書が多すぎます (上限 {max_credentials})",
                )
            )
        for i, item in enumerate(credentials):
            item_path = f"verifiableCredential[{i}]"
            if not isinstance(item, dict):
                problems.append(
                    _problem(
                        item_path,
                        "must be a credential object (not a string or URL)",
                        "証明書のオブジェクトが必要です (文字列や URL は不可)",
                    )
                )
            elif is_enveloped(item):
                item_id = item.get("id")
                if not (isinstance(item_id, str) and item_id.startswith("data:")):
                    problems.append(
                        _problem(f"{item_path}.id", "must be a data: URL", "data: URL が必要です")
                    )
            else:
                problems += credential_problems(item, allow_v1=allow_v1, path=item_path)
    for key in ("termsOfUse",):
        if key in document:
            problems += _typed_object_problems(document[key], key)
    return problems


def validate_presentation(document: object, *, allow_v1: bool = True) -> dict[str, Any]:
    problems = presentation_problems(document, allow_v1=allow_v1)
    if problems:
        raise problems[0]
    assert isinstance(document, dict)
    return document


def issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    return value if isinstance(value, str) else None


def holder_id(presentation: Mapping[str, Any]) -> str | None:
    holder = presentation.get("holder")
    value = holder.get("id") if isinstance(holder, dict) else holder
    return value if isinstance(value, str) else None


def subject_ids(credential: Mapping[str, Any]) -> list[str]:
    return [
        s["id"]
        for s in as_list(credential.get("credentialSubject"))
        if isinstance(s, dict) and isinstance(s.get("id"), str)
    ]
