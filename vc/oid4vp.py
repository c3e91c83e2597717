"""OpenID for Verifiable Presentations 1.0 (Final), same-device/cross-device ``direct_post``.

The pure parts of OID4VP that the verifier (a nursery's web page) and the wallet share
(REFERENCES.md §7; docs/oid4vp.md):

* the unsigned Authorization Request by value (§5) with the ``redirect_uri:`` Client
  Identifier Prefix (§5.9.3): ``client_id = "redirect_uri:" + response_uri``,
  ``response_type=vp_token``, ``response_mode=direct_post`` (§8.2), a fresh ``nonce`` and
  ``state``, and a ``dcql_query`` (§6); :meth:`AuthorizationRequest.to_uri` gives the
  ``openid4vp://?…`` URI and :func:`parse_request_uri` parses one strictly;
* DCQL: :func:`furusato_dcql_query` builds the query for our credential in any of the three
  formats, :func:`parse_dcql_query` checks one, :func:`match_dcql` tells the wallet which
  stored credentials answer which credential query and which claims to disclose;
* the wallet's answer: :func:`present_for_request` makes a presentation bound to the request
  (KB-JWT ``nonce``/``aud``; Data Integrity ``challenge``/``domain``; ``vp+jwt``
  ``nonce``/``aud``; §14.2.2, always the *full* client_id, §14.10), :func:`build_vp_token`
  the form fields of the ``direct_post`` (§8.1: ``vp_token`` a JSON object keyed by credential
  query id, each value an array);
* the verifier's side: :func:`parse_response` (strict, bounded) and :func:`verify_response`,
  which verifies every presentation with :func:`vc.verify.verify` (``challenge`` = nonce,
  ``domain`` = client_id, holder binding required) and checks that every required credential
  query is answered in its format with the claims it asked for.

No network, no clock, no randomness of its own: callers pass ``now`` and ``random_bytes``.
Errors derive from :class:`OID4VPError` and carry a stable ``code``; verification returns
a :class:`ResponseVerification` and never raises on bad input.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from did.errors import FurusatoError
from did.jsonio import Limits, load_json
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import PrivateKey
from schemas.loader import CREDENTIALS_V2
from vc import formats, jose, jsonld, sdjwt
from vc.dataintegrity import VerificationMethodResolver
from vc.formats import DC_SD_JWT, JWT_VC_JSON, LDP_VC
from vc.furusato import RESIDENT_VCT
from vc.presentation import create_presentation, sign_presentation
from vc.result import Check, VerificationResult, passed
from vc.verify import VerifyOptions, verify

# --- constants ------------------------------------------------------------------------------

SCHEME: Final = "openid4vp"
REDIRECT_URI_PREFIX: Final = "redirect_uri:"
RESPONSE_TYPE: Final = "vp_token"
DIRECT_POST: Final = "direct_post"
FORMATS: Final = (DC_SD_JWT, JWT_VC_JSON, LDP_VC)

VC_TYPE_IRI: Final = "https://www.w3.org/2018/credentials#VerifiableCredential"
RESIDENT_TYPE_IRI: Final = "https://w3id.org/furusato#FurusatoResidentCredential"

NONCE_BYTES: Final = 32  # 256 bits; at least 16 (128 bits) are required of a request we make
MIN_NONCE_CHARS: Final = 22  # 128 bits in base64url
MAX_NONCE_CHARS: Final = 256
MAX_STATE_CHARS: Final = 256
MAX_URI_CHARS: Final = 16 * 1024
MAX_URL_CHARS: Final = 2048
MAX_DCQL_BYTES: Final = 8 * 1024
MAX_CREDENTIAL_QUERIES: Final = 8
MAX_CLAIMS: Final = 32
MAX_PATH_LENGTH: Final = 8
MAX_VALUES: Final = 16
MAX_CREDENTIAL_SETS: Final = 8
MAX_PRESENTATIONS: Final = 4  # per credential query
MAX_VP_TOKEN_BYTES: Final = 512 * 1024
MAX_FORM_FIELDS: Final = 8

# The claims a furusato verifier asks for by default, as paths of the SD-JWT VC's claims;
# for the W3C formats they sit under ``credentialSubject``.
DEFAULT_CLAIMS: Final[tuple[tuple[str, ...], ...]] = (
    ("registrationTier",),
    ("municipality", "lgCode"),
)
# SD-JWT VC claims that are never selectively disclosable and are not the subject's.
_REGISTERED_CLAIMS: Final = frozenset(
    {"iss", "sub", "vct", "vct#integrity", "iat", "nbf", "exp", "cnf", "status", "jti"}
)
_QUERY_IDS: Final[Mapping[str, str]] = {
    DC_SD_JWT: "furusato_sd_jwt",
    JWT_VC_JSON: "furusato_jwt_vc",
    LDP_VC: "furusato_ldp_vc",
}

_URL_SAFE: Final = re.compile(r"[A-Za-z0-9._~-]+")
_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_JSON_LIMITS: Final = Limits(max_bytes=MAX_DCQL_BYTES, max_depth=10, max_nodes=1024)
_TOKEN_LIMITS: Final = Limits(max_bytes=MAX_VP_TOKEN_BYTES, max_depth=32, max_nodes=20_000)
_LOOPBACK_NAMES: Final = frozenset({"localhost"})

Path = tuple[str | int | None, ...]
Presentation = str | dict[str, Any]


# --- errors ---------------------------------------------------------------------------------


class OID4VPError(FurusatoError):
    """An OID4VP protocol error; ``code`` is stable, ``http_status`` what a verifier answers."""

    code = "oid4vp_error"
    title_en = "Presentation request error"
    title_ja = "提示要求のエラー"
    http_status: ClassVar[int] = 400


class InvalidRequestError(OID4VPError):
    """An Authorization Request the wallet must refuse (§5, §8.2)."""

    code = "oid4vp_invalid_request"
    title_en = "Invalid presentation request"
    title_ja = "提示要求が不正です"


class InvalidResponseError(OID4VPError):
    """An Authorization Response (``direct_post``) the verifier must refuse (§8)."""

    code = "oid4vp_invalid_response"
    title_en = "Invalid presentation response"
    title_ja = "提示の応答が不正です"


def _request_error(code: str, en: str, ja: str, path: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(en, ja, code=code, path=path)


def _response_error(code: str, en: str, ja: str, path: str | None = None) -> InvalidResponseError:
    return InvalidResponseError(en, ja, code=code, path=path)


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- DCQL -----------------------------------------------------------------------------------


def _w3c_claim_path(path: Sequence[str]) -> list[str]:
    return ["credentialSubject", *path]


def furusato_dcql_query(
    formats_: Sequence[str] = FORMATS,
    *,
    claims: Sequence[Sequence[str]] = DEFAULT_CLAIMS,
) -> dict[str, Any]:
    """The DCQL query (§6) for our resident credential in any of ``formats_``.

    ``claims`` are paths of the SD-JWT VC's claims (``("municipality", "lgCode")``); for
    ``ldp_vc`` and ``jwt_vc_json`` they are asked under ``credentialSubject``.  One format: one
    credential query with id ``furusato``; several: one per format and a required
    ``credential_sets`` entry whose options are the formats, in the order given.
    """
    if isinstance(formats_, str) or not formats_ or len(set(formats_)) != len(formats_):
        raise _request_error(
            "oid4vp_dcql_invalid", "give one or more distinct formats", "形式を1つ以上指定します"
        )
    paths = [tuple(p) for p in claims]
    for path in paths:
        if (
            not path
            or len(path) > MAX_PATH_LENGTH
            or not all(isinstance(s, str) and s for s in path)
        ):
            raise _request_error(
                "oid4vp_dcql_invalid",
                f"not a claim path: {_show(path)}",
                f"クレームのパスではありません: {_show(path)}",
            )
    if len(set(paths)) != len(paths) or len(paths) > MAX_CLAIMS:
        raise _request_error(
            "oid4vp_dcql_invalid", "claim paths must be distinct", "クレームのパスが重複しています"
        )
    queries: list[dict[str, Any]] = []
    for fmt in formats_:
        query_id = "furusato" if len(formats_) == 1 else _QUERY_IDS.get(fmt, "")
        if fmt == DC_SD_JWT:
            meta: dict[str, Any] = {"vct_values": [RESIDENT_VCT]}
            claim_list = [{"path": list(p)} for p in paths]
        elif fmt in (LDP_VC, JWT_VC_JSON):
            meta = {"type_values": [[VC_TYPE_IRI, RESIDENT_TYPE_IRI]]}
            claim_list = [{"path": _w3c_claim_path(p)} for p in paths]
        else:
            raise _request_error(
                "oid4vp_dcql_invalid",
                f"unsupported format {_show(fmt)}",
                f"対応していない形式です: {_show(fmt)}",
            )
        query: dict[str, Any] = {"id": query_id, "format": fmt, "meta": meta}
        if claim_list:
            query["claims"] = claim_list
        queries.append(query)
    dcql: dict[str, Any] = {"credentials": queries}
    if len(queries) > 1:
        dcql["credential_sets"] = [{"options": [[q["id"]] for q in queries], "required": True}]
    return dcql


def _dcql_error(en: str, ja: str, path: str) -> InvalidRequestError:
    return _request_error(
        "oid4vp_dcql_invalid", f"dcql_query.{path}: {en}", f"dcql_query.{path}: {ja}", path
    )


def _check_path(value: object, where: str) -> list[str | int | None]:
    if not isinstance(value, list) or not value or len(value) > MAX_PATH_LENGTH:
        raise _dcql_error(
            f"must be a non-empty array of at most {MAX_PATH_LENGTH} elements",
            f"{MAX_PATH_LENGTH} 要素以下の空でない配列です",
            where,
        )
    for element in value:
        ok = (
            element is None
            or (isinstance(element, str) and 0 < len(element) <= 256)
            or (type(element) is int and 0 <= element < 2**31)
        )
        if not ok:
            raise _dcql_error(
                "elements are strings, non-negative integers or null",
                "要素は文字列・0以上の整数・null です",
                where,
            )
    return list(value)


def _check_string_list(value: object, where: str, *, nested: bool = False) -> None:
    if not isinstance(value, list) or not value or len(value) > MAX_VALUES:
        raise _dcql_error("must be a non-empty array", "空でない配列です", where)
    for item in value:
        if nested:
            _check_string_list(item, where)
        elif not isinstance(item, str) or not item or len(item) > MAX_URL_CHARS:
            raise _dcql_error("must hold non-empty strings", "空でない文字列の配列です", where)


def _check_meta(fmt: str, meta: object, where: str) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise _dcql_error(
            "meta is required and must be an object", "meta は必須のオブジェクトです", where
        )
    if fmt == DC_SD_JWT and "vct_values" in meta:
        _check_string_list(meta["vct_values"], where + ".vct_values")
    if fmt in (LDP_VC, JWT_VC_JSON) and "type_values" in meta:
        _check_string_list(meta["type_values"], where + ".type_values", nested=True)
    return dict(meta)


def _check_credential_query(value: object, index: int) -> dict[str, Any]:
    where = f"credentials[{index}]"
    if not isinstance(value, dict):
        raise _dcql_error("must be an object", "オブジェクトです", where)
    query_id = value.get("id")
    if not isinstance(query_id, str) or not _ID.fullmatch(query_id):
        raise _dcql_error(
            "id must be 1-64 of A-Z a-z 0-9 _ -", "id は英数字・_・- の1〜64文字です", where + ".id"
        )
    fmt = value.get("format")
    if not isinstance(fmt, str) or not fmt or len(fmt) > 64:
        raise _dcql_error("format is required", "format は必須です", where + ".format")
    _check_meta(fmt, value.get("meta"), where + ".meta")
    for name in ("multiple", "require_cryptographic_holder_binding"):
        if name in value and not isinstance(value[name], bool):
            raise _dcql_error("must be a boolean", "真偽値です", f"{where}.{name}")
    claim_ids: set[str] = set()
    if "claims" in value:
        claims = value["claims"]
        if not isinstance(claims, list) or not claims or len(claims) > MAX_CLAIMS:
            raise _dcql_error(
                f"claims must be a non-empty array of at most {MAX_CLAIMS}",
                f"claims は {MAX_CLAIMS} 個以下の空でない配列です",
                where + ".claims",
            )
        for i, claim in enumerate(claims):
            cwhere = f"{where}.claims[{i}]"
            if not isinstance(claim, dict):
                raise _dcql_error("must be an object", "オブジェクトです", cwhere)
            _check_path(claim.get("path"), cwhere + ".path")
            if "id" in claim:
                cid = claim["id"]
                if not isinstance(cid, str) or not _ID.fullmatch(cid) or cid in claim_ids:
                    raise _dcql_error(
                        "id must be a unique identifier",
                        "id が不正か重複しています",
                        cwhere + ".id",
                    )
                claim_ids.add(cid)
            if "values" in claim:
                values = claim["values"]
                if (
                    not isinstance(values, list)
                    or not values
                    or len(values) > MAX_VALUES
                    or not all(isinstance(v, str | int | bool) for v in values)
                ):
                    raise _dcql_error(
                        "values must be a non-empty array of strings, integers or booleans",
                        "values は文字列・整数・真偽値の空でない配列です",
                        cwhere + ".values",
                    )
    if "claim_sets" in value:
        sets = value["claim_sets"]
        if (
            "claims" not in value
            or not isinstance(sets, list)
            or not sets
            or len(sets) > MAX_VALUES
        ):
            raise _dcql_error(
                "claim_sets needs claims and is a non-empty array",
                "claim_sets が不正です",
                where + ".claim_sets",
            )
        for option in sets:
            if (
                not isinstance(option, list)
                or not option
                or not all(c in claim_ids for c in option)
            ):
                raise _dcql_error(
                    "each option lists claim ids of this query",
                    "各選択肢はこのクエリのクレーム id の配列です",
                    where + ".claim_sets",
                )
    if "trusted_authorities" in value:
        raise _request_error(
            "oid4vp_dcql_unsupported",
            f"{where}.trusted_authorities: not supported",
            f"{where}.trusted_authorities には対応していません",
            where + ".trusted_authorities",
        )
    return dict(value)


def parse_dcql_query(value: object) -> dict[str, Any]:
    """``value`` checked as a DCQL query (§6.1–6.3, bounded); a copy of it."""
    if not isinstance(value, dict):
        raise _dcql_error("must be an object", "オブジェクトです", "")
    credentials = value.get("credentials")
    if (
        not isinstance(credentials, list)
        or not credentials
        or len(credentials) > MAX_CREDENTIAL_QUERIES
    ):
        raise _dcql_error(
            f"credentials must be a non-empty array of at most {MAX_CREDENTIAL_QUERIES}",
            f"credentials は {MAX_CREDENTIAL_QUERIES} 個以下の空でない配列です",
            "credentials",
        )
    queries = [_check_credential_query(q, i) for i, q in enumerate(credentials)]
    ids = [q["id"] for q in queries]
    if len(set(ids)) != len(ids):
        raise _dcql_error(
            "credential query ids must be unique",
            "クレデンシャルクエリの id が重複しています",
            "credentials",
        )
    if "credential_sets" in value:
        sets = value["credential_sets"]
        if not isinstance(sets, list) or not sets or len(sets) > MAX_CREDENTIAL_SETS:
            raise _dcql_error("must be a non-empty array", "空でない配列です", "credential_sets")
        for i, entry in enumerate(sets):
            where = f"credential_sets[{i}]"
            if not isinstance(entry, dict):
                raise _dcql_error("must be an object", "オブジェクトです", where)
            options = entry.get("options")
            if (
                not isinstance(options, list)
                or not options
                or len(options) > MAX_CREDENTIAL_QUERIES
                or not all(
                    isinstance(o, list) and o and all(isinstance(c, str) and c in ids for c in o)
                    for o in options
                )
            ):
                raise _dcql_error(
                    "options must list credential query ids of this query",
                    "options はこのクエリのクレデンシャルクエリ id の配列です",
                    where + ".options",
                )
            if "required" in entry and not isinstance(entry["required"], bool):
                raise _dcql_error(
                    "required must be a boolean", "required は真偽値です", where + ".required"
                )
    out: dict[str, Any] = {"credentials": queries}
    if "credential_sets" in value:
        out["credential_sets"] = value["credential_sets"]
    return out


def _select(claims: Any, path: Sequence[str | int | None]) -> list[Any]:
    """The values a DCQL claims path points at (§7.1); empty when it points at nothing."""
    nodes = [claims]
    for element in path:
        following: list[Any] = []
        for node in nodes:
            by_name = isinstance(element, str) and isinstance(node, dict) and element in node
            by_index = type(element) is int and isinstance(node, list) and element < len(node)
            if by_name or by_index:
                following.append(node[element])
            elif element is None and isinstance(node, list):
                following.extend(node)
        nodes = following
        if not nodes:
            return []
    return nodes


def _claim_present(claims: Any, claim: Mapping[str, Any]) -> bool:
    selected = _select(claims, claim["path"])
    if not selected:
        return False
    values = claim.get("values")
    if values is None:
        return True
    return any(type(v) is type(s) and v == s for v in values for s in selected)


def _claims_to_disclose(query: Mapping[str, Any], claims: Any) -> list[Path] | None:
    """The claim paths to disclose for ``query`` from ``claims``; None if it cannot."""
    requested = query.get("claims")
    if requested is None:
        return []  # §6.4.1: no selectively disclosable claim is requested
    by_id = {c["id"]: c for c in requested if "id" in c}
    options: list[list[Mapping[str, Any]]]
    if "claim_sets" in query:
        options = [[by_id[cid] for cid in option] for option in query["claim_sets"]]
    else:
        options = [list(requested)]
    for option in options:
        if all(_claim_present(claims, c) for c in option):
            return [tuple(c["path"]) for c in option]
    return None


def expanded_types(
    credential: Mapping[str, Any], options: VerifyOptions | None = None
) -> frozenset[str]:
    """The credential's types as IRIs (JSON-LD expansion with the bundled contexts only);
    empty when it does not expand."""
    loader = options.loader() if options is not None else None
    try:
        expanded = jsonld.expand(credential, loader)
    except FurusatoError:
        return frozenset()
    types = expanded[0].get("@type", []) if expanded and isinstance(expanded[0], dict) else []
    return frozenset(t for t in types if isinstance(t, str))


def _meta_matches(
    query: Mapping[str, Any], claims: Mapping[str, Any], types: frozenset[str]
) -> bool:
    meta = query.get("meta", {})
    if query["format"] == DC_SD_JWT:
        vcts = meta.get("vct_values")
        return vcts is None or claims.get("vct") in vcts
    type_values = meta.get("type_values")
    return type_values is None or any(set(option) <= types for option in type_values)


@dataclass(frozen=True)
class Candidate:
    """A stored credential as the wallet offers it to DCQL matching.

    ``claims`` are in the shape DCQL paths address: for ``dc+sd-jwt`` the SD-JWT VC's claims
    with every disclosure applied, for the W3C formats the credential JSON; ``types`` the
    credential's expanded type IRIs (W3C formats).  Build one with :func:`candidate`.
    """

    id: str
    format: str
    claims: Mapping[str, Any]
    types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Match:
    """A candidate that answers a credential query, and the claim paths to disclose."""

    query_id: str
    candidate: Candidate
    disclose: tuple[Path, ...]


def match_dcql(query: Mapping[str, Any], candidates: Iterable[Candidate]) -> dict[str, list[Match]]:
    """For each credential query id of ``query``, the candidates that satisfy it (format,
    ``meta``, claims and values), in the order given."""
    checked = parse_dcql_query(query)
    stored = list(candidates)
    out: dict[str, list[Match]] = {}
    for credential_query in checked["credentials"]:
        matches: list[Match] = []
        for candidate in stored:
            if candidate.format != credential_query["format"]:
                continue
            if not _meta_matches(credential_query, candidate.claims, candidate.types):
                continue
            paths = _claims_to_disclose(credential_query, candidate.claims)
            if paths is not None:
                matches.append(Match(credential_query["id"], candidate, tuple(paths)))
        out[credential_query["id"]] = matches
    return out


def required_query_ids(query: Mapping[str, Any]) -> list[list[list[str]]]:
    """What must be answered: for each required credential set, its options (lists of ids);
    without ``credential_sets``, every credential query is its own required set."""
    sets = query.get("credential_sets")
    if sets is None:
        return [[[q["id"]]] for q in query["credentials"]]
    return [list(s["options"]) for s in sets if s.get("required", True)]


# --- SD-JWT claims (processed with the disclosures it carries; NOT verified) -----------------


def _walk_sd(
    node: Any,
    path: tuple[str | int, ...],
    by_digest: Mapping[str, sdjwt.Disclosure],
    disclosable: set[tuple[str | int, ...]],
    depth: int,
) -> Any:
    if depth > sdjwt.MAX_DEPTH:
        raise sdjwt.SdJwtError(
            "the SD-JWT is nested too deeply", "SD-JWT の入れ子が深すぎます", code="malformed"
        )
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("_sd", "_sd_alg"):
                continue
            out[key] = _walk_sd(value, (*path, key), by_digest, disclosable, depth + 1)
        for digest in node.get("_sd", []) if isinstance(node.get("_sd"), list) else []:
            disclosure = by_digest.get(digest) if isinstance(digest, str) else None
            if disclosure is not None and disclosure.name is not None:
                where = (*path, disclosure.name)
                disclosable.add(where)
                out[disclosure.name] = _walk_sd(
                    disclosure.value, where, by_digest, disclosable, depth + 1
                )
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for element in node:
            if isinstance(element, dict) and set(element) == {"..."}:
                disclosure = (
                    by_digest.get(element["..."]) if isinstance(element["..."], str) else None
                )
                if disclosure is None or disclosure.name is not None:
                    continue
                where = (*path, len(items))
                disclosable.add(where)
                items.append(_walk_sd(disclosure.value, where, by_digest, disclosable, depth + 1))
            else:
                items.append(
                    _walk_sd(element, (*path, len(items)), by_digest, disclosable, depth + 1)
                )
        return items
    return node


def unverified_sd_jwt_claims(text: str) -> tuple[dict[str, Any], frozenset[tuple[str | int, ...]]]:
    """The claims of an SD-JWT (or SD-JWT+KB) with the disclosures it carries, and the paths
    of the selectively disclosable ones among them — **not verified** (the wallet's own
    credential, or a presentation :func:`vc.verify.verify` accepted)."""
    parsed = sdjwt.parse(text)
    by_digest = {d.digest: d for d in parsed.disclosures}
    disclosable: set[tuple[str | int, ...]] = set()
    claims = _walk_sd(parsed.issuer_jwt.unverified_payload, (), by_digest, disclosable, 0)
    return claims, frozenset(disclosable)


def candidate(candidate_id: str, fmt: str, credential: Presentation) -> Candidate:
    """A stored credential (the SD-JWT without KB-JWT, the ``vc+jwt`` text, or the Data
    Integrity credential JSON) as a :class:`Candidate`."""
    if fmt == DC_SD_JWT and isinstance(credential, str):
        claims, _ = unverified_sd_jwt_claims(credential)
        return Candidate(candidate_id, fmt, claims)
    if fmt == JWT_VC_JSON and isinstance(credential, str):
        decoded = formats.unverified_jws(credential)
        if decoded is None:
            raise _request_error(
                "oid4vp_credential_invalid", "not a vc+jwt", "vc+jwt ではありません"
            )
        payload = decoded[1]
        return Candidate(candidate_id, fmt, payload, expanded_types(payload))
    if fmt == LDP_VC and isinstance(credential, dict):
        return Candidate(candidate_id, fmt, credential, expanded_types(credential))
    raise _request_error(
        "oid4vp_credential_invalid",
        f"not a stored credential of format {_show(fmt)}",
        f"形式 {_show(fmt)} の保存済み証明書ではありません",
    )


# --- the Authorization Request --------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_response_uri(value: object, *, unsafe_allow_http_loopback: bool = False) -> str:
    """An absolute ``https`` URL (``http`` on a loopback host only when allowed), with a host,
    no user info and no fragment."""

    def bad(en: str, ja: str) -> InvalidRequestError:
        return _request_error(
            "oid4vp_response_uri_invalid",
            f"response_uri: {en}",
            f"response_uri: {ja}",
            "response_uri",
        )

    if not isinstance(value, str) or not value or len(value) > MAX_URL_CHARS:
        raise bad("must be a URL of at most 2048 characters", "2048 文字以下の URL です")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise bad("must not contain spaces or control characters", "空白や制御文字を含められません")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise bad("not a URL", "URL ではありません") from None
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise bad(
            "must have a host and no user info or fragment",
            "ホストが必要で、ユーザー情報やフラグメントは使えません",
        )
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and unsafe_allow_http_loopback and _is_loopback(host):
        return value
    raise bad("must be https", "https でなければなりません")


def _check_token(value: object, name: str, code: str, *, minimum: int, maximum: int) -> str:
    if not isinstance(value, str) or not value:
        raise _request_error(code, f"{name} is required", f"{name} は必須です", name)
    if not (minimum <= len(value) <= maximum) or not _URL_SAFE.fullmatch(value):
        raise _request_error(
            code,
            f"{name}: {minimum}-{maximum} URL-safe characters",
            f"{name}: URL で安全な文字 {minimum}〜{maximum} 文字です",
            name,
        )
    return value


@dataclass(frozen=True)
class AuthorizationRequest:
    """An unsigned OID4VP Authorization Request with the ``redirect_uri:`` prefix (§5, §5.9.3).

    ``client_id`` is derived: ``redirect_uri:`` + ``response_uri``; the wallet binds every
    presentation to it in full (§14.10) and to ``nonce``.
    """

    response_uri: str
    nonce: str
    state: str | None
    dcql_query: Mapping[str, Any]
    client_metadata: Mapping[str, Any] | None = None
    response_type: str = RESPONSE_TYPE
    response_mode: str = DIRECT_POST

    @property
    def client_id(self) -> str:
        return REDIRECT_URI_PREFIX + self.response_uri

    def parameters(self) -> list[tuple[str, str]]:
        params = [
            ("client_id", self.client_id),
            ("response_type", self.response_type),
            ("response_mode", self.response_mode),
            ("response_uri", self.response_uri),
            ("nonce", self.nonce),
        ]
        if self.state is not None:
            params.append(("state", self.state))
        params.append(("dcql_query", _compact_json(self.dcql_query)))
        if self.client_metadata:
            params.append(("client_metadata", _compact_json(self.client_metadata)))
        return params

    def to_uri(self) -> str:
        """``openid4vp://?…``: the request by value, URL-encoded, ``dcql_query`` as JSON."""
        return f"{SCHEME}://?" + urlencode(self.parameters())

    def query_ids(self) -> list[str]:
        return [q["id"] for q in self.dcql_query["credentials"]]

    def credential_query(self, query_id: str) -> Mapping[str, Any]:
        for q in self.dcql_query["credentials"]:
            if q["id"] == query_id:
                return q  # type: ignore[no-any-return]
        raise KeyError(query_id)


def client_metadata() -> dict[str, Any]:
    """What our verifier accepts (§11.1 ``vp_formats_supported``)."""
    return {
        "vp_formats_supported": {
            DC_SD_JWT: {
                "sd-jwt_alg_values": ["EdDSA", "ES256"],
                "kb-jwt_alg_values": ["EdDSA", "ES256"],
            },
            JWT_VC_JSON: {"alg_values": ["EdDSA", "ES256"]},
            LDP_VC: {
                "proof_type_values": ["DataIntegrityProof"],
                "cryptosuite_values": ["eddsa-rdfc-2022", "ecdsa-rdfc-2019"],
            },
        }
    }


def new_request(
    response_uri: str,
    dcql_query: Mapping[str, Any],
    *,
    random_bytes: Callable[[int], bytes],
    unsafe_allow_http_loopback: bool = False,
) -> AuthorizationRequest:
    """A fresh request: ``nonce`` and ``state`` each 256 bits from ``random_bytes``."""
    nonce_bytes = random_bytes(NONCE_BYTES)
    state_bytes = random_bytes(NONCE_BYTES)
    if len(nonce_bytes) < 16 or len(state_bytes) < 16:
        raise _request_error(
            "oid4vp_nonce_invalid", "the RNG gave too few bytes", "乱数が足りません"
        )
    return AuthorizationRequest(
        response_uri=check_response_uri(
            response_uri, unsafe_allow_http_loopback=unsafe_allow_http_loopback
        ),
        nonce=_b64(nonce_bytes),
        state=_b64(state_bytes),
        dcql_query=parse_dcql_query(dcql_query),
        client_metadata=client_metadata(),
    )


_KNOWN_PARAMETERS: Final = frozenset(
    {
        "client_id", "response_type", "response_mode", "response_uri", "nonce", "state",
        "dcql_query", "client_metadata", "scope", "transaction_data", "request", "request_uri",
        "request_uri_method", "redirect_uri", "presentation_definition",
        "presentation_definition_uri", "verifier_info",
    }
)  # fmt: skip


def _load_json_parameter(text: str, name: str) -> Any:
    try:
        return load_json(text.encode("utf-8"), _JSON_LIMITS)
    except FurusatoError as exc:
        code = "oid4vp_dcql_invalid" if name == "dcql_query" else "oid4vp_invalid_request"
        raise _request_error(
            code, f"{name}: {exc.message_en}", f"{name}: {exc.message_ja}", name
        ) from None


def parse_request_uri(
    text: str, *, unsafe_allow_http_loopback: bool = False
) -> AuthorizationRequest:
    """An ``openid4vp://?…`` request by value, parsed strictly (docs/oid4vp.md, "Refusals")."""
    if not isinstance(text, str) or not text or len(text) > MAX_URI_CHARS:
        raise _request_error(
            "oid4vp_invalid_request",
            "not a request URI of at most 16 KiB",
            "16 KiB 以下の要求 URI ではありません",
        )
    text = text.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _request_error("oid4vp_invalid_request", "not a URI", "URI ではありません") from None
    if parts.scheme != SCHEME or parts.netloc or parts.path not in ("", "/") or parts.fragment:
        raise _request_error(
            "oid4vp_invalid_request",
            "must be openid4vp://?… (the request by value)",
            "openid4vp://?… (値渡しの要求) でなければなりません",
        )
    try:
        pairs = parse_qsl(
            parts.query,
            keep_blank_values=True,
            strict_parsing=True,
            max_num_fields=32,
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError):
        raise _request_error(
            "oid4vp_invalid_request", "the query is not well-formed", "クエリの形式が不正です"
        ) from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise _request_error(
                "oid4vp_duplicate_parameter",
                f"{_show(name)} appears twice",
                f"{_show(name)} が2回あります",
                name[:64],
            )
        params[name] = value
    for name in ("request", "request_uri", "request_uri_method"):
        if name in params:
            raise _request_error(
                "oid4vp_request_uri_unsupported",
                "signed requests and requests by reference are not supported",
                "署名付き要求・参照渡しの要求には対応していません",
                name,
            )
    if "transaction_data" in params:  # §5.1: a wallet that does not support it MUST refuse
        raise _request_error(
            "oid4vp_transaction_data_unsupported",
            "transaction_data is not supported",
            "transaction_data には対応していません",
            "transaction_data",
        )
    if "presentation_definition" in params or "presentation_definition_uri" in params:
        raise _request_error(
            "oid4vp_invalid_request",
            "Presentation Exchange is not part of OpenID4VP 1.0: use dcql_query",
            "Presentation Exchange は OpenID4VP 1.0 にありません (dcql_query を使います)",
            "presentation_definition",
        )
    if params.get("response_type") != RESPONSE_TYPE:
        raise _request_error(
            "oid4vp_unsupported_response_type",
            f"response_type must be {RESPONSE_TYPE}",
            f"response_type は {RESPONSE_TYPE} でなければなりません",
            "response_type",
        )
    if params.get("response_mode") != DIRECT_POST:
        raise _request_error(
            "oid4vp_unsupported_response_mode",
            f"response_mode must be {DIRECT_POST}",
            f"response_mode は {DIRECT_POST} でなければなりません",
            "response_mode",
        )
    if "redirect_uri" in params:  # §8.2: with direct_post, redirect_uri MUST NOT be present
        raise _request_error(
            "oid4vp_invalid_request",
            "redirect_uri must not be present with direct_post",
            "direct_post では redirect_uri を指定できません",
            "redirect_uri",
        )
    nonce = _check_token(
        params.get("nonce"),
        "nonce",
        "oid4vp_nonce_invalid",
        minimum=MIN_NONCE_CHARS,
        maximum=MAX_NONCE_CHARS,
    )
    state = params.get("state")
    if state is not None:
        state = _check_token(
            state, "state", "oid4vp_invalid_request", minimum=1, maximum=MAX_STATE_CHARS
        )
    response_uri = check_response_uri(
        params.get("response_uri"), unsafe_allow_http_loopback=unsafe_allow_http_loopback
    )
    client_id = params.get("client_id")
    if not isinstance(client_id, str) or not client_id.startswith(REDIRECT_URI_PREFIX):
        raise _request_error(
            "oid4vp_client_id_invalid",
            "client_id must use the redirect_uri: prefix (unsigned requests)",
            "client_id は redirect_uri: プレフィックスでなければなりません (署名なしの要求)",
            "client_id",
        )
    if client_id != REDIRECT_URI_PREFIX + response_uri:
        raise _request_error(
            "oid4vp_client_id_invalid",
            "client_id must be redirect_uri: followed by the response_uri",
            "client_id は redirect_uri: の後に response_uri でなければなりません",
            "client_id",
        )
    has_dcql, has_scope = "dcql_query" in params, "scope" in params
    if has_dcql and has_scope:
        raise _request_error(
            "oid4vp_query_conflict",
            "both dcql_query and scope",
            "dcql_query と scope の両方があります",
            "scope",
        )
    if has_scope:
        raise _request_error(
            "oid4vp_scope_unsupported",
            "scope is not supported: use dcql_query",
            "scope には対応していません",
            "scope",
        )
    if not has_dcql:
        raise _request_error(
            "oid4vp_dcql_invalid", "dcql_query is required", "dcql_query が必要です", "dcql_query"
        )
    dcql = parse_dcql_query(_load_json_parameter(params["dcql_query"], "dcql_query"))
    metadata = None
    if "client_metadata" in params:
        metadata = _load_json_parameter(params["client_metadata"], "client_metadata")
        if not isinstance(metadata, dict):
            raise _request_error(
                "oid4vp_invalid_request",
                "client_metadata must be an object",
                "client_metadata はオブジェクトです",
                "client_metadata",
            )
    return AuthorizationRequest(response_uri, nonce, state, dcql, metadata)


# --- the wallet's answer --------------------------------------------------------------------


def _prefix_related(a: Sequence[object], b: Sequence[object]) -> bool:
    n = min(len(a), len(b))
    return all(x is None or y is None or x == y for x, y in zip(a[:n], b[:n], strict=True))


def sd_jwt_disclosures_for(sd_jwt: str, paths: Iterable[Path]) -> list[str]:
    """The disclosable claim paths (``sdjwt.present``'s dotted text) that reveal ``paths``: the
    disclosures on the way to each requested claim and those inside it."""
    _, disclosable = unverified_sd_jwt_claims(sd_jwt)
    wanted = [tuple(p) for p in paths]
    chosen = {p for p in disclosable if any(_prefix_related(p, w) for w in wanted)}
    return sorted(".".join(str(s) for s in p) for p in chosen)


def present_for_request(
    request: AuthorizationRequest,
    fmt: str,
    credential: Presentation,
    holder: PrivateKey,
    *,
    disclose: Iterable[Path] = (),
    now: datetime,
) -> Presentation:
    """A presentation of a stored ``credential`` bound to ``request``.

    * ``dc+sd-jwt``: ``credential`` the SD-JWT (no KB-JWT); only the disclosures that reveal
      ``disclose`` (claim paths, as :func:`match_dcql` gives them); KB-JWT ``nonce`` = the
      request's nonce, ``aud`` = its full client_id.
    * ``jwt_vc_json``: ``credential`` the ``vc+jwt``; a ``vp+jwt`` holding it, ``nonce``/``aud``.
    * ``ldp_vc``: ``credential`` the JSON credential; a VP with a Data Integrity proof,
      ``challenge`` = nonce, ``domain`` = client_id.
    """
    holder_did = did_key_from_public_key(holder.public_key)
    holder_vm = did_key_verification_method_id(holder.public_key)
    if fmt == DC_SD_JWT and isinstance(credential, str):
        chosen = sd_jwt_disclosures_for(credential, disclose)
        return sdjwt.present(
            credential,
            disclose=chosen,
            holder=holder,
            nonce=request.nonce,
            audience=request.client_id,
            issued_at=now,
        )
    if fmt == JWT_VC_JSON and isinstance(credential, str):
        return jose.sign_vp_jwt(
            {
                "@context": [CREDENTIALS_V2],
                "type": ["VerifiablePresentation"],
                "holder": holder_did,
                "verifiableCredential": [jose.envelope(credential)],
            },
            holder,
            kid=holder_vm,
            nonce=request.nonce,
            audience=request.client_id,
            issued_at=now,
        )
    if fmt == LDP_VC and isinstance(credential, dict):
        return sign_presentation(
            create_presentation([credential], holder=holder_did),
            holder,
            verification_method=holder_vm,
            challenge=request.nonce,
            domain=request.client_id,
            created=now,
        )
    raise _request_error(
        "oid4vp_credential_invalid",
        f"cannot present this credential as {_show(fmt)}",
        f"この証明書は {_show(fmt)} として提示できません",
    )


def build_vp_token(
    request: AuthorizationRequest, answers: Mapping[str, Sequence[Presentation]]
) -> dict[str, str]:
    """The form fields of the ``direct_post`` (§8.1, §8.2): ``vp_token`` (JSON text of an object
    keyed by credential query id, each value an array of presentations) and ``state``."""
    ids = set(request.query_ids())
    token: dict[str, list[Presentation]] = {}
    for query_id, presentations in answers.items():
        if query_id not in ids:
            raise _response_error(
                "oid4vp_unknown_credential_query",
                f"{_show(query_id)} is not a credential query of the request",
                f"{_show(query_id)} は要求のクレデンシャルクエリではありません",
            )
        items = list(presentations)
        multiple = bool(request.credential_query(query_id).get("multiple", False))
        if not items or (len(items) > 1 and not multiple) or len(items) > MAX_PRESENTATIONS:
            raise _response_error(
                "oid4vp_vp_token_invalid",
                f"{query_id}: one presentation (several only when multiple is true)",
                f"{query_id}: 提示は1つです (multiple が true のときのみ複数)",
            )
        token[query_id] = items
    fields = {"vp_token": _compact_json(token)}
    if request.state is not None:
        fields["state"] = request.state
    return fields


# --- the verifier's side --------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationResponse:
    """A parsed ``direct_post`` body (not verified)."""

    vp_token: Mapping[str, tuple[Presentation, ...]]
    state: str | None


def parse_response(form: Mapping[str, str] | Sequence[tuple[str, str]]) -> AuthorizationResponse:
    """The wallet's ``direct_post`` fields, strictly: ``vp_token`` (a JSON object of arrays of
    compact strings or JSON objects, bounded) and ``state``; a wallet's error response
    (``error``) is refused with ``oid4vp_wallet_error``."""
    pairs = list(form.items()) if isinstance(form, Mapping) else list(form)
    if len(pairs) > MAX_FORM_FIELDS:
        raise _response_error(
            "oid4vp_invalid_response", "too many form fields", "フォームの項目が多すぎます"
        )
    fields: dict[str, str] = {}
    for pair in pairs:
        if (
            not isinstance(pair, tuple)
            or len(pair) != 2
            or not all(isinstance(p, str) for p in pair)
        ):
            raise _response_error(
                "oid4vp_invalid_response",
                "form fields must be text",
                "フォームの項目はテキストです",
            )
        name, value = pair
        if name in fields:
            raise _response_error(
                "oid4vp_invalid_response",
                f"{_show(name)} appears twice",
                f"{_show(name)} が2回あります",
            )
        fields[name] = value
    if "error" in fields:
        raise _response_error(
            "oid4vp_wallet_error",
            f"the wallet answered with an error: {_show(fields['error'][:64])}",
            f"ウォレットがエラーを返しました: {_show(fields['error'][:64])}",
            "error",
        )
    state = fields.get("state")
    if state is not None and (
        not state or len(state) > MAX_STATE_CHARS or not _URL_SAFE.fullmatch(state)
    ):
        raise _response_error(
            "oid4vp_state_invalid", "state is malformed", "state が不正です", "state"
        )
    text = fields.get("vp_token")
    if text is None or not text:
        raise _response_error(
            "oid4vp_vp_token_invalid", "vp_token is required", "vp_token が必要です", "vp_token"
        )
    if len(text) > MAX_VP_TOKEN_BYTES:
        raise _response_error(
            "oid4vp_vp_token_invalid",
            "vp_token is too large",
            "vp_token が大きすぎます",
            "vp_token",
        )
    try:
        token = load_json(text.encode("utf-8"), _TOKEN_LIMITS)
    except FurusatoError as exc:
        raise _response_error(
            "oid4vp_vp_token_invalid",
            f"vp_token: {exc.message_en}",
            f"vp_token: {exc.message_ja}",
            "vp_token",
        ) from None
    if not isinstance(token, dict) or not token or len(token) > MAX_CREDENTIAL_QUERIES:
        raise _response_error(
            "oid4vp_vp_token_invalid",
            "vp_token must be a JSON object keyed by credential query id",
            "vp_token はクレデンシャルクエリ id をキーとする JSON オブジェクトです",
            "vp_token",
        )
    out: dict[str, tuple[Presentation, ...]] = {}
    for query_id, value in token.items():
        if not _ID.fullmatch(query_id):
            raise _response_error(
                "oid4vp_vp_token_invalid",
                "a key of vp_token is not a query id",
                "vp_token のキーが不正です",
                "vp_token",
            )
        if not isinstance(value, list) or not value or len(value) > MAX_PRESENTATIONS:
            raise _response_error(
                "oid4vp_vp_token_invalid",
                f"vp_token.{query_id} must be a non-empty array of presentations",
                f"vp_token.{query_id} は提示の空でない配列です",
                f"vp_token.{query_id}",
            )
        if not all(isinstance(p, dict) or (isinstance(p, str) and p) for p in value):
            raise _response_error(
                "oid4vp_vp_token_invalid",
                f"vp_token.{query_id}: each presentation is a string or a JSON object",
                f"vp_token.{query_id}: 提示は文字列か JSON オブジェクトです",
                f"vp_token.{query_id}",
            )
        out[query_id] = tuple(value)
    return AuthorizationResponse(out, state)


@dataclass(frozen=True)
class PresentedCredential:
    """One presentation of the response: which query it answers, its verification, and the
    claims it discloses (SD-JWT: the disclosed subject claims; W3C: ``credentialSubject``)."""

    query_id: str
    format: str | None
    result: VerificationResult
    checks: tuple[Check, ...]
    claims: Mapping[str, Any] | None

    @property
    def verified(self) -> bool:
        return self.result.verified and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        codes = list(
            dict.fromkeys([*self.result.codes, *(c.code for c in self.checks if not c.ok)])
        )
        return {
            "id": self.query_id,
            "format": self.format,
            "verified": self.verified,
            "codes": codes,
            "claims": dict(self.claims) if self.claims is not None else None,
            "checks": [c.to_json() for c in self.checks],
            "result": self.result.to_json(),
        }


@dataclass(frozen=True)
class ResponseVerification:
    """The outcome of :func:`verify_response`."""

    checks: tuple[Check, ...]
    presentations: tuple[PresentedCredential, ...] = field(default=())

    @property
    def verified(self) -> bool:
        return (
            bool(self.presentations)
            and all(c.ok for c in self.checks)
            and all(p.verified for p in self.presentations)
        )

    @property
    def codes(self) -> list[str]:
        codes = [c.code for c in self.checks if not c.ok]
        for p in self.presentations:
            codes += p.to_json()["codes"]
        return list(dict.fromkeys(codes))

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "codes": self.codes,
            "checks": [c.to_json() for c in self.checks],
            "credentials": [p.to_json() for p in self.presentations],
        }


def _fail(check: str, code: str, ja: str, en: str, target: str | None = None) -> Check:
    return Check(check, False, code, ja, en, target=target)


def _subject_claims(fmt: str | None, claims: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if claims is None:
        return None
    if fmt == DC_SD_JWT:
        return {k: v for k, v in claims.items() if k not in _REGISTERED_CLAIMS}
    subject = claims.get("credentialSubject")
    if isinstance(subject, dict):
        return {k: v for k, v in subject.items() if k not in ("id", "type")}
    return None


def _check_presentation(
    query: Mapping[str, Any],
    presentation: Presentation,
    result: VerificationResult,
    options: VerifyOptions,
    target: str,
) -> tuple[list[Check], Mapping[str, Any] | None]:
    """Format, ``meta`` and claims of one verified presentation against its query."""
    fmt = query["format"]
    if result.format != fmt:
        return [
            _fail(
                "oid4vp_format",
                "oid4vp_format_mismatch",
                f"要求された形式 {fmt} ではありません",
                f"not the requested format {fmt}",
                target,
            )
        ], None
    claims: Mapping[str, Any] | None
    types: frozenset[str] = frozenset()
    if fmt == DC_SD_JWT:
        if not isinstance(presentation, str):
            return [
                _fail(
                    "oid4vp_format",
                    "oid4vp_format_mismatch",
                    "SD-JWT ではありません",
                    "not an SD-JWT",
                    target,
                )
            ], None
        try:
            claims, _ = unverified_sd_jwt_claims(presentation)  # verified above
        except FurusatoError:
            claims = None
    else:
        documents = [r.document for r in result.credentials if r.document is not None]
        if len(documents) != 1 or len(result.credentials) != 1:
            return [
                _fail(
                    "oid4vp_credentials",
                    "oid4vp_one_credential_per_presentation",
                    "提示には証明書が1つだけ含まれていなければなりません",
                    "a presentation must hold exactly one credential",
                    target,
                )
            ], None
        claims = documents[0]
        types = expanded_types(claims, options)
    if claims is None or not _meta_matches(query, claims, types):
        return [
            _fail(
                "oid4vp_meta",
                "oid4vp_credential_type_mismatch",
                "要求された種類の証明書ではありません",
                "not a credential of the requested type",
                target,
            )
        ], claims
    if _claims_to_disclose(query, claims) is None:
        return [
            _fail(
                "oid4vp_claims",
                "oid4vp_claims_missing",
                "要求された項目が開示されていません",
                "the requested claims are not disclosed",
                target,
            )
        ], claims
    return [passed("oid4vp_claims", target=target)], claims


def verify_response(
    request: AuthorizationRequest,
    response: AuthorizationResponse,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    presentation_max_age: timedelta | None = None,
    extra_checks: Callable[[VerificationResult], Sequence[Check]] | None = None,
) -> ResponseVerification:
    """Verify a parsed response to ``request``; never raises on bad input.

    ``state`` must be the request's; every ``vp_token`` key a credential query of the request;
    the required credential queries (``credential_sets``) answered; each presentation verified
    by :func:`vc.verify.verify` with ``challenge`` = nonce, ``domain`` = client_id and holder
    binding required, in the query's format, of its ``meta`` type, disclosing its claims.
    ``extra_checks`` adds the caller's own checks per presentation (a place's policy).
    """
    checks: list[Check] = []
    if response.state != request.state:
        checks.append(
            _fail(
                "oid4vp_state",
                "oid4vp_state_mismatch",
                "state が要求と一致しません",
                "state is not the request's",
            )
        )
    ids = request.query_ids()
    unknown = [k for k in response.vp_token if k not in ids]
    if unknown:
        checks.append(
            _fail(
                "oid4vp_vp_token",
                "oid4vp_unknown_credential_query",
                f"要求にないクレデンシャルクエリへの応答です: {_show(unknown[0])}",
                f"an answer to a credential query the request does not have: {_show(unknown[0])}",
            )
        )
    answered = {k for k in response.vp_token if k in ids}
    for options_of_set in required_query_ids(request.dcql_query):
        if not any(set(option) <= answered for option in options_of_set):
            checks.append(
                _fail(
                    "oid4vp_vp_token",
                    "oid4vp_credential_missing",
                    "要求された証明書が提示されていません",
                    "a required credential was not presented",
                )
            )
    for query_id in ids:
        items = response.vp_token.get(query_id, ())
        if len(items) > 1 and not request.credential_query(query_id).get("multiple", False):
            checks.append(
                _fail(
                    "oid4vp_vp_token",
                    "oid4vp_vp_token_invalid",
                    f"{query_id}: 提示は1つだけです",
                    f"{query_id}: only one presentation",
                    target=query_id,
                )
            )
    if checks:
        return ResponseVerification(tuple(checks))
    checks.append(passed("oid4vp_response"))
    bound = replace(
        options,
        challenge=request.nonce,
        domain=request.client_id,
        require_holder_binding=True,
        presentation_max_age=presentation_max_age or options.presentation_max_age,
    )
    presented: list[PresentedCredential] = []
    for query_id in ids:
        query = request.credential_query(query_id)
        for i, presentation in enumerate(response.vp_token.get(query_id, ())):
            target = f"{query_id}[{i}]"
            document: Any = presentation
            result = verify(document, resolver=resolver, options=bound)
            own: list[Check] = []
            claims: Mapping[str, Any] | None = None
            if result.verified:
                own, claims = _check_presentation(query, presentation, result, bound, target)
            if extra_checks is not None:
                own += list(extra_checks(result))
            presented.append(
                PresentedCredential(
                    query_id,
                    result.format,
                    result,
                    tuple(own),
                    _subject_claims(result.format, claims),
                )
            )
    return ResponseVerification(tuple(checks), tuple(presented))
