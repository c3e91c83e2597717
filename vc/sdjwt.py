"""SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): issue, present, verify.

A pure library: no network, no clock, no randomness of its own (callers pass ``now``,
``issued_at`` and ``random_bytes``).  REFERENCES.md §8.

API
---

* :func:`issue_sd_jwt` — the Issuer (RFC 9901 §4.1, §4.2): an SD-JWT in compact form
  ``<Issuer-signed JWT>~<D1>~…~<Dn>~`` (trailing ``~`` always), header
  ``{"alg", "typ", "kid"}``, ``_sd_alg: "sha-256"``, 16-byte salts, ``_sd`` digests sorted
  (their order says nothing about the claims), optional decoy digests at the top level.
* :func:`parse` — strict structure only (nothing is verified): :class:`SdJwt` with the issuer
  JWT, the Disclosures (string, digest, decoded) and the optional KB-JWT.
* :func:`present` — the Holder (§7.2): keeps the Disclosures of the named claims (with the
  Disclosures they sit in, and those nested in them) and, given a holder key, appends a
  KB-JWT (§4.3: ``typ: kb+jwt``, ``iat``, ``aud``, ``nonce``, ``sd_hash``).  Input that
  already carries a KB-JWT is refused (§7.2).
* :func:`verify_sd_jwt` — the Verifier (§7.1, §7.3): returns :class:`VerifiedSdJwt` or raises
  :class:`SdJwtError`.  Whether Key Binding is required is the caller's
  :class:`KeyBindingPolicy`, never the presence of a KB-JWT (§7.3 step 1); without a policy a
  KB-JWT is ignored and ``key_bound`` is false.

Claim paths (``disclosable``, ``disclose``, :attr:`VerifiedSdJwt.disclosed`): a top-level claim
name as is (``"birthDate"``, also when it contains a dot), or a dotted path through objects and
arrays (``"address.locality"``, ``"nationalities.1"``; an array index is the element's position
in the *issued* array).

Errors
------

Every error is an :class:`SdJwtError` (a :class:`~did.errors.FurusatoError`) whose ``code`` is one
of :data:`CODES`; messages (Japanese and English) name claims and header fields but never print a
claim value.

* ``malformed`` — not an SD-JWT / JWS / Disclosure of the right shape; ``_sd``, ``...`` or
  ``_sd_alg`` misused; ``vct`` missing (SD-JWT VC); ``cnf.jwk`` missing when Key Binding is
  required; a caller's argument of the wrong type
* ``limit_exceeded`` — over :data:`MAX_SD_JWT_LENGTH`, :data:`MAX_DISCLOSURES` or :data:`MAX_DEPTH`
* ``sd_jwt_alg_not_allowed`` — ``alg`` none, HMAC or unknown, or not the issuer key's
* ``signature_invalid`` — the issuer signature does not verify
* ``sd_jwt_typ_invalid`` — header ``typ`` not accepted
* ``sd_jwt_sd_alg_unsupported`` — ``_sd_alg`` other than ``sha-256``
* ``sd_jwt_disclosure_unreferenced`` — a Disclosure no digest refers to (directly or recursively)
* ``sd_jwt_digest_duplicated`` — a digest twice (in any ``_sd`` or ``...``), or a Disclosure twice
* ``sd_jwt_claim_conflict`` — a disclosed name that exists at its level, or ``_sd``/``...``/
  ``_sd_alg`` used as a claim name
* ``sd_jwt_claim_not_disclosable`` — a claim SD-JWT VC forbids hiding (:data:`NEVER_DISCLOSABLE`)
* ``sd_jwt_claim_not_found`` — issue/present: a path that names no (disclosable) claim
* ``expired`` / ``not_yet_valid`` — ``exp`` passed / ``nbf`` in the future (with ``skew``)
* ``sd_jwt_key_binding_missing`` — Key Binding required, no KB-JWT
* ``sd_jwt_key_binding_invalid`` — KB-JWT ``typ``, ``alg``, signature, ``iat`` window, ``aud``
  type or ``sd_hash`` wrong; or a holder key that is not the one in ``cnf``
* ``challenge_mismatch`` — KB-JWT ``nonce`` is not the expected one
* ``domain_mismatch`` — KB-JWT ``aud`` is not the expected one

An ``issuer_key`` callback may raise a :class:`~did.errors.FurusatoError` of its own (e.g.
``issuer_unknown``); it is re-raised as an :class:`SdJwtError` with that code.

Decisions
---------

* Only asymmetric algorithms we implement: ``EdDSA`` (also ``Ed25519``), ``ES256``, ``ES384``;
  the header ``alg`` must match the key's type.  A ``crit`` header is refused (we understand no
  extension).
* Input is ASCII (base64url, ``.`` and ``~``); base64url must be canonical (no padding, zero
  trailing bits); each JSON part is read by :func:`did.jsonio.load_json` (no duplicate keys).
* ``...`` is accepted only as the sole key of an object that is an array element, ``_sd`` only
  as an array of strings, ``_sd_alg`` only at the top level (§4.1 rule 7, §4.1.1).
* For the SD-JWT VC types (:data:`SD_JWT_VC_TYPES`) ``vct`` must be a string and the claims of
  :data:`NEVER_DISCLOSABLE` must not arrive through a Disclosure; other ``typ`` values that the
  caller accepts get RFC 9901 rules only (the RFC's own examples use ``example+sd-jwt``).
* ``exp``/``nbf``/``iat`` must be numbers when present; ``expired`` when ``now >= exp + skew``,
  ``not_yet_valid`` when ``nbf > now + skew``.  The KB-JWT ``iat`` must lie in
  ``[now - max_age - skew, now + skew]``.
* :func:`present` checks the SD-JWT's structure (§7.1 step 3) but not the issuer signature: the
  wallet verifies on receipt with :func:`verify_sd_jwt`.
* :func:`verify_sd_jwt` raises rather than returning a failed result: it is one low-level check
  (like a signature check, STYLE.md 4); the verification layer turns :class:`SdJwtError` into a
  ``VerificationResult`` entry with its code.

Not here (the caller's, or not supported): JWS JSON serialization (§8), hash algorithms other
than ``sha-256``, finding the issuer key (``/.well-known/jwt-vc-issuer``, ``x5c``: the
``issuer_key`` callback), ``status`` checking, SD-JWT VC Type Metadata.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, TypeGuard

from did.errors import (
    CRYPTOGRAPHIC_SECURITY_ERROR,
    INVALID_CHALLENGE_ERROR,
    INVALID_DOMAIN_ERROR,
    MALFORMED_VALUE_ERROR,
    PARSING_ERROR,
    PROOF_VERIFICATION_ERROR,
    RANGE_ERROR,
    FurusatoError,
)
from did.jsonio import Limits, check_shape, load_json
from did.keys import KeyType, PublicKey, Signer
from did.multibase import base64url_decode, base64url_encode

__all__ = [
    "CODES",
    "DEFAULT_ACCEPTED_TYP",
    "DEFAULT_SKEW",
    "KB_JWT_TYP",
    "MAX_DEPTH",
    "MAX_DISCLOSURES",
    "MAX_SD_JWT_LENGTH",
    "NEVER_DISCLOSABLE",
    "SD_ALG",
    "SD_JWT_VC_TYPES",
    "CompactJWS",
    "Disclosure",
    "IssuerKeyResolver",
    "KeyBindingPolicy",
    "SdJwt",
    "SdJwtError",
    "VerifiedSdJwt",
    "disclosure_digest",
    "issue_sd_jwt",
    "parse",
    "present",
    "verify_sd_jwt",
]

MAX_SD_JWT_LENGTH: Final = 64 * 1024
"""Bound, in characters, on a whole SD-JWT / SD-JWT+KB."""
MAX_DISCLOSURES: Final = 64
"""Bound on the number of Disclosures in one SD-JWT."""
MAX_DEPTH: Final = 32
"""Bound on the nesting of the processed payload (Disclosures inside Disclosures count)."""
MAX_DECOYS: Final = 64
SALT_BYTES: Final = 16  # 128 bits (RFC 9901 §9.3)
SD_ALG: Final = "sha-256"
KB_JWT_TYP: Final = "kb+jwt"
SD_JWT_VC_TYPES: Final = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
DEFAULT_ACCEPTED_TYP: Final = SD_JWT_VC_TYPES
DEFAULT_SKEW: Final = timedelta(seconds=60)
DEFAULT_KB_MAX_AGE: Final = timedelta(minutes=5)

NEVER_DISCLOSABLE: Final = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})
"""Top-level claims SD-JWT VC says MUST NOT be selectively disclosable."""

_RESERVED: Final = frozenset({"_sd", "...", "_sd_alg"})
_ALGS: Final[Mapping[str, KeyType]] = {
    "EdDSA": KeyType.ED25519,
    "Ed25519": KeyType.ED25519,
    "ES256": KeyType.P256,
    "ES384": KeyType.P384,
}
_COMPACT_RE: Final = re.compile(r"[A-Za-z0-9_.~-]*")
_INDEX_RE: Final = re.compile(r"[0-9]{1,9}")
_JSON_LIMITS: Final = Limits(max_bytes=MAX_SD_JWT_LENGTH, max_depth=MAX_DEPTH, max_nodes=8192)

_PROBLEM_TYPES: Final[Mapping[str, str]] = {
    "malformed": PARSING_ERROR,
    "limit_exceeded": PARSING_ERROR,
    "signature_invalid": CRYPTOGRAPHIC_SECURITY_ERROR,
    "sd_jwt_alg_not_allowed": CRYPTOGRAPHIC_SECURITY_ERROR,
    "sd_jwt_typ_invalid": MALFORMED_VALUE_ERROR,
    "sd_jwt_sd_alg_unsupported": CRYPTOGRAPHIC_SECURITY_ERROR,
    "sd_jwt_disclosure_unreferenced": MALFORMED_VALUE_ERROR,
    "sd_jwt_digest_duplicated": MALFORMED_VALUE_ERROR,
    "sd_jwt_claim_conflict": MALFORMED_VALUE_ERROR,
    "sd_jwt_claim_not_disclosable": MALFORMED_VALUE_ERROR,
    "sd_jwt_claim_not_found": MALFORMED_VALUE_ERROR,
    "expired": RANGE_ERROR,
    "not_yet_valid": RANGE_ERROR,
    "sd_jwt_key_binding_missing": PROOF_VERIFICATION_ERROR,
    "sd_jwt_key_binding_invalid": PROOF_VERIFICATION_ERROR,
    "challenge_mismatch": INVALID_CHALLENGE_ERROR,
    "domain_mismatch": INVALID_DOMAIN_ERROR,
}
CODES: Final = frozenset(_PROBLEM_TYPES)
"""Every code an :class:`SdJwtError` raised by this module itself can carry."""


class SdJwtError(FurusatoError):
    """An SD-JWT could not be issued, presented or verified; ``code`` says why."""

    code = "malformed"
    problem_type = PARSING_ERROR
    title_en = "SD-JWT error"
    title_ja = "SD-JWT のエラー"

    def __init__(
        self, message_en: str, message_ja: str, *, code: str, path: str | None = None
    ) -> None:
        super().__init__(message_en, message_ja, path=path, code=code)
        self.problem_type = _PROBLEM_TYPES.get(code, PROOF_VERIFICATION_ERROR)  # type: ignore[misc]


def _error(code: str, en: str, ja: str, path: str | None = None) -> SdJwtError:
    return SdJwtError(f"SD-JWT: {en}", f"SD-JWT: {ja}", code=code, path=path)


def _malformed(en: str, ja: str, path: str | None = None) -> SdJwtError:
    return _error("malformed", en, ja, path)


def _show(name: object, limit: int = 40) -> str:
    """A claim name or header value for a message: repr, cut short."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A JWS in compact serialization, parsed but not verified."""

    text: str
    unverified_header: dict[str, Any]
    unverified_payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One Disclosure (RFC 9901 §4.2): the string as received, its digest, and its content.

    ``name`` is ``None`` for an array-element Disclosure (``[salt, value]``).
    """

    text: str
    digest: str
    salt: str
    name: str | None
    value: Any


@dataclass(frozen=True, slots=True)
class SdJwt:
    """A parsed SD-JWT or SD-JWT+KB (RFC 9901 §4); nothing in it is verified yet."""

    issuer_jwt: CompactJWS
    disclosures: tuple[Disclosure, ...]
    kb_jwt: CompactJWS | None

    @property
    def without_key_binding(self) -> str:
        """``<Issuer-signed JWT>~<D1>~…~<Dn>~``: the SD-JWT, and the input of ``sd_hash``."""
        return self.issuer_jwt.text + "~" + "".join(d.text + "~" for d in self.disclosures)


@dataclass(frozen=True, slots=True)
class KeyBindingPolicy:
    """The Verifier requires Key Binding (RFC 9901 §7.3) for this transaction."""

    nonce: str
    audience: str
    max_age: timedelta = DEFAULT_KB_MAX_AGE

    def __post_init__(self) -> None:
        if not isinstance(self.nonce, str) or not self.nonce:
            raise _malformed(
                "KeyBindingPolicy.nonce must be a non-empty string",
                "KeyBindingPolicy.nonce は空でない文字列でなければなりません",
            )
        if not isinstance(self.audience, str) or not self.audience:
            raise _malformed(
                "KeyBindingPolicy.audience must be a non-empty string",
                "KeyBindingPolicy.audience は空でない文字列でなければなりません",
            )
        if not isinstance(self.max_age, timedelta) or self.max_age <= timedelta(0):
            raise _malformed(
                "KeyBindingPolicy.max_age must be a positive timedelta",
                "KeyBindingPolicy.max_age は正の timedelta でなければなりません",
            )


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """What :func:`verify_sd_jwt` returns for an SD-JWT it accepts."""

    header: dict[str, Any]
    """The issuer JWT's protected header."""
    processed_claims: dict[str, Any]
    """The Processed SD-JWT Payload (§7.1): disclosed claims in, ``_sd``/``_sd_alg`` out."""
    disclosed: tuple[str, ...]
    """The path of each disclosed claim, in the order of the Disclosures."""
    key_bound: bool
    """True when a :class:`KeyBindingPolicy` was given and the KB-JWT satisfied it."""
    kb_payload: dict[str, Any] | None = field(default=None)
    """The verified KB-JWT payload (only when ``key_bound``)."""


IssuerKeyResolver = Callable[[Mapping[str, Any], Mapping[str, Any]], PublicKey]
"""``(header, unverified_payload) -> PublicKey``: the issuer's key, tied to the issuer, or raise."""


# --- encoding helpers ----------------------------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _b64_json(value: Any) -> str:
    return base64url_encode(_json_text(value).encode("utf-8"))


def _sha256_b64(text: str) -> str:
    return base64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def disclosure_digest(disclosure: str) -> str:
    """base64url(SHA-256(US-ASCII bytes of the Disclosure string)) — RFC 9901 §4.2.3."""
    if not isinstance(disclosure, str) or not disclosure.isascii():
        raise _malformed("a Disclosure must be ASCII text", "Disclosure は ASCII 文字列です")
    return _sha256_b64(disclosure)


def _aware(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise _malformed(
            f"{what} must be a timezone-aware datetime",
            f"{what} はタイムゾーン付きの datetime でなければなりません",
        )
    return moment


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- parsing -------------------------------------------------------------------------------


def _decode_json(part: str, what: str, what_ja: str) -> Any:
    try:
        raw = base64url_decode(part, max_length=MAX_SD_JWT_LENGTH)
    except FurusatoError as exc:
        raise _malformed(
            f"the {what} is not strict base64url: {exc.message_en}",
            f"{what_ja}が厳密な base64url ではありません: {exc.message_ja}",
            what,
        ) from None
    try:
        return load_json(raw, _JSON_LIMITS)
    except FurusatoError as exc:
        # the JSON reader's own messages may quote the input (a number, a key): not repeated
        if exc.code == "limit_exceeded":
            raise _error(
                "limit_exceeded",
                f"the {what} is too large or nests too deeply",
                f"{what_ja}が大きすぎるか入れ子が深すぎます",
                what,
            ) from None
        raise _malformed(
            f"the {what} is not strict JSON (UTF-8, no duplicate keys, no NaN, finite numbers)",
            f"{what_ja}が厳密な JSON ではありません (UTF-8・キーの重複なし・NaN なし・有限の数)",
            what,
        ) from None


def _parse_jws(text: str, what: str, what_ja: str) -> CompactJWS:
    parts = text.split(".")
    if len(parts) != 3:
        raise _malformed(
            f"the {what} must be a compact JWS (three parts separated by '.')",
            f"{what_ja}は JWS コンパクト形式 ('.' で区切られた 3 つの部分) でなければなりません",
            what,
        )
    header = _decode_json(parts[0], f"{what} header", f"{what_ja}のヘッダー")
    payload = _decode_json(parts[1], f"{what} payload", f"{what_ja}のペイロード")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise _malformed(
            f"the {what} header and payload must be JSON objects",
            f"{what_ja}のヘッダーとペイロードは JSON オブジェクトでなければなりません",
            what,
        )
    if "crit" in header:
        raise _malformed(
            f"the {what} header has 'crit': no JWS extension is understood here",
            f"{what_ja}のヘッダーに 'crit' があります: JWS の拡張には対応していません",
            f"{what}.crit",
        )
    try:
        signature = base64url_decode(parts[2], max_length=MAX_SD_JWT_LENGTH)
    except FurusatoError as exc:
        raise _malformed(
            f"the {what} signature is not base64url: {exc.message_en}",
            f"{what_ja}の署名が base64url ではありません: {exc.message_ja}",
            what,
        ) from None
    return CompactJWS(
        text=text,
        unverified_header=header,
        unverified_payload=payload,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=signature,
    )


def _parse_disclosure(text: str, index: int) -> Disclosure:
    where = f"disclosures[{index}]"
    if not text:
        raise _malformed(
            f"empty Disclosure at position {index} ('~~')",
            f"{index} 番目の Disclosure が空です ('~~')",
            where,
        )
    content = _decode_json(text, f"Disclosure {index}", f"{index} 番目の Disclosure ")
    if not isinstance(content, list) or len(content) not in (2, 3):
        raise _malformed(
            f"Disclosure {index} must be a JSON array of 2 or 3 elements",
            f"{index} 番目の Disclosure は要素 2 つか 3 つの JSON 配列でなければなりません",
            where,
        )
    salt = content[0]
    if not isinstance(salt, str):
        raise _malformed(
            f"Disclosure {index}: the salt must be a string",
            f"{index} 番目の Disclosure: ソルトは文字列でなければなりません",
            where,
        )
    name: str | None = None
    if len(content) == 3:
        name = content[1]
        if not isinstance(name, str):
            raise _malformed(
                f"Disclosure {index}: the claim name must be a string",
                f"{index} 番目の Disclosure: クレーム名は文字列でなければなりません",
                where,
            )
        if name in _RESERVED:
            raise _error(
                "sd_jwt_claim_conflict",
                f"Disclosure {index}: {_show(name)} cannot be a claim name (RFC 9901 §4.2.1)",
                f"{index} 番目の Disclosure: {_show(name)} はクレーム名に使えません",
                where,
            )
    return Disclosure(text=text, digest=_sha256_b64(text), salt=salt, name=name, value=content[-1])


def parse(text: str) -> SdJwt:
    """Split and decode an SD-JWT or SD-JWT+KB (RFC 9901 §4) strictly; verify nothing.

    Raises :class:`SdJwtError` (``malformed``, ``limit_exceeded``, ``sd_jwt_claim_conflict`` for
    a Disclosure named ``_sd``/``...``/``_sd_alg``).
    """
    if not isinstance(text, str):
        raise _malformed(
            f"an SD-JWT must be a string, got {type(text).__name__}",
            f"SD-JWT は文字列でなければなりません ({type(text).__name__})",
        )
    if len(text) > MAX_SD_JWT_LENGTH:
        raise _error(
            "limit_exceeded",
            f"{len(text)} characters; the limit is {MAX_SD_JWT_LENGTH}",
            f"{len(text)} 文字あり、上限 {MAX_SD_JWT_LENGTH} 文字を超えています",
        )
    if _COMPACT_RE.fullmatch(text) is None:
        raise _malformed(
            "only base64url characters, '.' and '~' are allowed",
            "使用できる文字は base64url の文字と '.'・'~' のみです",
        )
    parts = text.split("~")
    if len(parts) < 2:
        raise _malformed(
            "no '~': an SD-JWT is '<Issuer-signed JWT>~<Disclosures>~' (trailing '~' required)",
            "'~' がありません: SD-JWT は '<発行者 JWT>~<Disclosure>~' の形式です (末尾の '~' は必須)",
        )
    disclosure_texts = parts[1:-1]
    if len(disclosure_texts) > MAX_DISCLOSURES:
        raise _error(
            "limit_exceeded",
            f"{len(disclosure_texts)} Disclosures; the limit is {MAX_DISCLOSURES}",
            f"Disclosure が {len(disclosure_texts)} 個あり、上限 {MAX_DISCLOSURES} 個を超えています",
        )
    issuer_jwt = _parse_jws(parts[0], "issuer JWT", "発行者 JWT ")
    disclosures = tuple(_parse_disclosure(t, i) for i, t in enumerate(disclosure_texts))
    kb_jwt = _parse_jws(parts[-1], "KB-JWT", "KB-JWT ") if parts[-1] else None
    return SdJwt(issuer_jwt=issuer_jwt, disclosures=disclosures, kb_jwt=kb_jwt)


# --- processing (RFC 9901 §7.1 step 3) -----------------------------------------------------

Path = tuple[str | int, ...]


def _path_text(path: Path) -> str:
    return ".".join(str(segment) for segment in path)


@dataclass(slots=True)
class _Processed:
    claims: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)  # digest → path of its claim
    parents: dict[str, str | None] = field(default_factory=dict)  # digest → enclosing digest


class _Walker:
    def __init__(self, by_digest: Mapping[str, Disclosure]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.result = _Processed(claims={})

    def _digest(self, value: object, where: Path) -> str:
        if not isinstance(value, str):
            raise _malformed(
                f"a digest at {_show(_path_text(where))} is not a string",
                f"{_show(_path_text(where))} のダイジェストが文字列ではありません",
                _path_text(where),
            )
        if value in self.seen:
            raise _error(
                "sd_jwt_digest_duplicated",
                f"a digest occurs more than once (at {_show(_path_text(where))}; RFC 9901 §7.1)",
                f"同じダイジェストが複数回現れます ({_show(_path_text(where))}; RFC 9901 §7.1)",
                _path_text(where),
            )
        self.seen.add(value)
        return value

    def walk(self, node: Any, path: Path, parent: str | None, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _error(
                "limit_exceeded",
                f"the payload nests deeper than {MAX_DEPTH} levels",
                f"ペイロードの入れ子が深すぎます (上限 {MAX_DEPTH} 段)",
            )
        if isinstance(node, dict):
            return self._walk_object(node, path, parent, depth)
        if isinstance(node, list):
            return self._walk_array(node, path, parent, depth)
        return node

    def _walk_object(
        self, node: dict[str, Any], path: Path, parent: str | None, depth: int
    ) -> dict[str, Any]:
        where = _path_text(path) or "(top level)"
        if "..." in node:
            raise _malformed(
                f"'...' is only allowed as the sole key of an array element (at {_show(where)})",
                f"'...' は配列要素の唯一のキーとしてのみ使えます ({_show(where)})",
                where,
            )
        if "_sd_alg" in node:
            raise _malformed(
                f"'_sd_alg' is only allowed at the top level (at {_show(where)}; RFC 9901 §4.1.1)",
                f"'_sd_alg' は最上位にのみ置けます ({_show(where)}; RFC 9901 §4.1.1)",
                where,
            )
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key != "_sd":
                out[key] = self.walk(value, (*path, key), parent, depth + 1)
        if "_sd" not in node:
            return out
        digests = node["_sd"]
        if not isinstance(digests, list):
            raise _malformed(
                f"'_sd' must be an array of digests (at {_show(where)})",
                f"'_sd' はダイジェストの配列でなければなりません ({_show(where)})",
                where,
            )
        for item in digests:
            digest = self._digest(item, (*path, "_sd"))
            disclosure = self.by_digest.get(digest)
            if disclosure is None:
                continue  # a decoy, or a claim not disclosed
            name = disclosure.name
            if name is None:
                raise _malformed(
                    f"an array-element Disclosure is referenced from '_sd' (at {_show(where)})",
                    f"配列要素の Disclosure が '_sd' から参照されています ({_show(where)})",
                    where,
                )
            if name in _RESERVED or name in out:
                raise _error(
                    "sd_jwt_claim_conflict",
                    f"the disclosed claim {_show(name)} already exists at {_show(where)}",
                    f"開示されたクレーム {_show(name)} は {_show(where)} に既にあります",
                    where,
                )
            claim_path = (*path, name)
            self.result.paths[digest] = claim_path
            self.result.parents[digest] = parent
            out[name] = self.walk(disclosure.value, claim_path, digest, depth + 1)
        return out

    def _walk_array(self, node: list[Any], path: Path, parent: str | None, depth: int) -> list[Any]:
        out: list[Any] = []
        for index, item in enumerate(node):
            element_path = (*path, index)
            if not (isinstance(item, dict) and "..." in item):
                out.append(self.walk(item, element_path, parent, depth + 1))
                continue
            if len(item) != 1:
                raise _malformed(
                    f"an array element with '...' must have no other key (at "
                    f"{_show(_path_text(element_path))})",
                    f"'...' を持つ配列要素に他のキーがあります ({_show(_path_text(element_path))})",
                    _path_text(element_path),
                )
            digest = self._digest(item["..."], element_path)
            disclosure = self.by_digest.get(digest)
            if disclosure is None:
                continue  # not disclosed: the element is removed (§7.1 step 3.4)
            if disclosure.name is not None:
                raise _malformed(
                    f"an object-property Disclosure is referenced from an array element (at "
                    f"{_show(_path_text(element_path))})",
                    f"オブジェクトのプロパティの Disclosure が配列要素から参照されています "
                    f"({_show(_path_text(element_path))})",
                    _path_text(element_path),
                )
            self.result.paths[digest] = element_path
            self.result.parents[digest] = parent
            out.append(self.walk(disclosure.value, element_path, digest, depth + 1))
        return out


def _process(payload: Mapping[str, Any], disclosures: Iterable[Disclosure]) -> _Processed:
    """RFC 9901 §7.1 steps 2.4, 3, 4 and 5 over an (unverified or verified) payload."""
    if "_sd_alg" in payload:
        sd_alg = payload["_sd_alg"]
        if not isinstance(sd_alg, str):
            raise _malformed("'_sd_alg' must be a string", "'_sd_alg' は文字列でなければなりません")
        if sd_alg != SD_ALG:
            raise _error(
                "sd_jwt_sd_alg_unsupported",
                f"_sd_alg {_show(sd_alg)} is not supported (only {SD_ALG})",
                f"_sd_alg {_show(sd_alg)} には対応していません ({SD_ALG} のみ)",
                "_sd_alg",
            )
    by_digest: dict[str, Disclosure] = {}
    for disclosure in disclosures:
        if disclosure.digest in by_digest:
            raise _error(
                "sd_jwt_digest_duplicated",
                "the same Disclosure is included twice",
                "同じ Disclosure が 2 回含まれています",
            )
        by_digest[disclosure.digest] = disclosure
    walker = _Walker(by_digest)
    top = {key: value for key, value in payload.items() if key != "_sd_alg"}
    walker.result.claims = walker.walk(top, (), None, 1)
    unreferenced = [d for d in by_digest.values() if d.digest not in walker.result.paths]
    if unreferenced:
        raise _error(
            "sd_jwt_disclosure_unreferenced",
            f"{len(unreferenced)} Disclosure(s) not referenced by any digest (RFC 9901 §7.1)",
            f"どのダイジェストからも参照されていない Disclosure が {len(unreferenced)} 個あります",
        )
    return walker.result


# --- issuing -------------------------------------------------------------------------------


def _plain_json(value: Any, path: Path, depth: int) -> Any:
    """A plain JSON copy of the caller's claims (dicts, lists, str, int, float, bool, None)."""
    where = _path_text(path) or "(top level)"
    if depth > MAX_DEPTH:
        raise _error(
            "limit_exceeded",
            f"the claims nest deeper than {MAX_DEPTH} levels",
            f"クレームの入れ子が深すぎます (上限 {MAX_DEPTH} 段)",
        )
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, child in value.items():
            if not isinstance(key, str):
                raise _malformed(
                    f"claim names must be strings (at {_show(where)})",
                    f"クレーム名は文字列でなければなりません ({_show(where)})",
                    where,
                )
            if key in _RESERVED:
                raise _error(
                    "sd_jwt_claim_conflict",
                    f"{_show(key)} is reserved by SD-JWT and cannot be a claim (at {_show(where)})",
                    f"{_show(key)} は SD-JWT の予約語でクレーム名に使えません ({_show(where)})",
                    where,
                )
            out[key] = _plain_json(child, (*path, key), depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain_json(child, (*path, i), depth + 1) for i, child in enumerate(value)]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _malformed(
                f"a claim value is not a finite number (at {_show(where)})",
                f"クレームの値が有限の数ではありません ({_show(where)})",
                where,
            )
        return value
    raise _malformed(
        f"a claim value of type {type(value).__name__} is not JSON (at {_show(where)})",
        f"{type(value).__name__} 型のクレーム値は JSON ではありません ({_show(where)})",
        where,
    )


def _resolve(claims: Mapping[str, Any], text: object) -> Path:
    """The path a ``disclosable`` entry names in the (plain JSON) claims."""
    if not isinstance(text, str) or not text:
        raise _malformed(
            "a claim path must be a non-empty string", "クレームのパスは空でない文字列です"
        )
    if text in claims:
        return (text,)
    node: Any = claims
    path: list[str | int] = []
    for segment in text.split("."):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
            path.append(segment)
        elif (
            isinstance(node, list)
            and _INDEX_RE.fullmatch(segment) is not None
            and int(segment) < len(node)
        ):
            node = node[int(segment)]
            path.append(int(segment))
        else:
            raise _error(
                "sd_jwt_claim_not_found",
                f"no claim at path {_show(text)}",
                f"パス {_show(text)} にクレームがありません",
                text[:80],
            )
    return tuple(path)


class _Issuer:
    def __init__(self, marks: set[Path], random_bytes: Callable[[int], bytes], decoys: int) -> None:
        self.marks = marks
        self.random_bytes = random_bytes
        self.decoys = decoys
        self.disclosures: list[str] = []

    def _random(self) -> bytes:
        data = self.random_bytes(SALT_BYTES)
        if not isinstance(data, bytes) or len(data) != SALT_BYTES:
            raise _malformed(
                f"random_bytes({SALT_BYTES}) did not return {SALT_BYTES} bytes",
                f"random_bytes({SALT_BYTES}) が {SALT_BYTES} バイトを返しませんでした",
            )
        return data

    def _disclose(self, content: list[Any]) -> str:
        text = _b64_json([base64url_encode(self._random()), *content])
        self.disclosures.append(text)
        return _sha256_b64(text)

    def build(self, node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            packed: dict[str, Any] = {}
            digests: list[str] = []
            for key, value in node.items():
                child = self.build(value, (*path, key))
                if (*path, key) in self.marks:
                    digests.append(self._disclose([key, child]))
                else:
                    packed[key] = child
            if not path:
                digests.extend(
                    _sha256_b64(base64url_encode(self._random())) for _ in range(self.decoys)
                )
            if digests:
                packed["_sd"] = sorted(digests)
            return packed
        if isinstance(node, list):
            items: list[Any] = []
            for index, value in enumerate(node):
                child = self.build(value, (*path, index))
                if (*path, index) in self.marks:
                    items.append({"...": self._disclose([child])})
                else:
                    items.append(child)
            return items
        return node


def _sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], signer: Signer) -> str:
    signing_input = f"{_b64_json(header)}.{_b64_json(payload)}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{base64url_encode(signature)}"


def _signer_alg(signer: Signer, who: str, who_ja: str) -> str:
    alg = signer.alg
    if alg not in _ALGS or _ALGS[alg] is not signer.public_key.key_type:
        raise _error(
            "sd_jwt_alg_not_allowed",
            f"the {who} key's algorithm {_show(alg)} is not allowed",
            f"{who_ja}の鍵のアルゴリズム {_show(alg)} は使用できません",
        )
    return alg


def issue_sd_jwt(
    claims: Mapping[str, Any],
    signer: Signer,
    *,
    kid: str,
    disclosable: Iterable[str] = (),
    typ: str = "dc+sd-jwt",
    random_bytes: Callable[[int], bytes],
    decoys: int = 0,
) -> str:
    """Issue an SD-JWT (RFC 9901 §4; SD-JWT VC when ``typ`` is ``dc+sd-jwt``/``vc+sd-jwt``).

    ``claims`` is the JWT Claims Set (``iss``, ``iat``, ``exp``, ``vct``, ``cnf`` … are the
    caller's); ``disclosable`` lists the claim paths made selectively disclosable (a path and one
    under it makes a recursive Disclosure, §4.2.6); ``decoys`` extra digests go in the top-level
    ``_sd``.  Salts and decoys come from ``random_bytes`` (shells pass
    :func:`secrets.token_bytes`).  Returns ``<Issuer-signed JWT>~<D1>~…~<Dn>~``.
    """
    if not isinstance(claims, Mapping):
        raise _malformed("claims must be a JSON object", "クレームは JSON オブジェクトです")
    plain: dict[str, Any] = _plain_json(claims, (), 1)
    try:
        check_shape(plain, _JSON_LIMITS)
    except FurusatoError as exc:
        code = "limit_exceeded" if exc.code == "limit_exceeded" else "malformed"
        raise _error(code, f"claims: {exc.message_en}", f"クレーム: {exc.message_ja}") from None
    if not isinstance(typ, str) or not typ or not typ.isascii():
        raise _malformed("typ must be a non-empty ASCII string", "typ は空でない ASCII 文字列です")
    if not isinstance(kid, str) or not kid:
        raise _malformed("kid must be a non-empty string", "kid は空でない文字列です")
    if isinstance(decoys, bool) or not isinstance(decoys, int) or not 0 <= decoys <= MAX_DECOYS:
        raise _malformed(
            f"decoys must be an integer from 0 to {MAX_DECOYS}",
            f"decoys は 0 から {MAX_DECOYS} までの整数です",
        )
    if isinstance(disclosable, str):
        raise _malformed(
            "disclosable must be a collection of claim paths, not one string",
            "disclosable はクレームのパスの集まりです (文字列 1 つではありません)",
        )
    if typ in SD_JWT_VC_TYPES and not isinstance(plain.get("vct"), str):
        raise _malformed(
            "an SD-JWT VC needs a string 'vct' claim", "SD-JWT VC には文字列の 'vct' が必要です"
        )
    alg = _signer_alg(signer, "issuer", "発行者")
    marks: set[Path] = set()
    for text in disclosable:
        path = _resolve(plain, text)
        if len(path) == 1 and path[0] in NEVER_DISCLOSABLE:
            raise _error(
                "sd_jwt_claim_not_disclosable",
                f"{_show(path[0])} must not be selectively disclosable (SD-JWT VC)",
                f"{_show(path[0])} は選択的開示にできません (SD-JWT VC)",
                str(path[0]),
            )
        marks.add(path)
    issuer = _Issuer(marks, random_bytes, decoys)
    payload = issuer.build(plain, ())
    if "_sd" in payload or issuer.disclosures:
        payload["_sd_alg"] = SD_ALG
    header = {"alg": alg, "typ": typ, "kid": kid}
    jwt = _sign_jws(header, payload, signer)
    result = jwt + "~" + "".join(d + "~" for d in issuer.disclosures)
    if len(result) > MAX_SD_JWT_LENGTH or len(issuer.disclosures) > MAX_DISCLOSURES:
        raise _error(
            "limit_exceeded",
            f"the SD-JWT would exceed {MAX_SD_JWT_LENGTH} characters or {MAX_DISCLOSURES} "
            "Disclosures",
            f"SD-JWT が上限 ({MAX_SD_JWT_LENGTH} 文字、Disclosure {MAX_DISCLOSURES} 個) を超えます",
        )
    return result


# --- presenting ----------------------------------------------------------------------------


def _holder_key_of(claims: Mapping[str, Any]) -> PublicKey:
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise _malformed(
            "Key Binding needs the holder key in 'cnf.jwk' (RFC 9901 §4.1.2)",
            "鍵バインディングには 'cnf.jwk' に保持者の鍵が必要です (RFC 9901 §4.1.2)",
            "cnf.jwk",
        )
    try:
        return PublicKey.from_jwk(jwk)
    except FurusatoError as exc:
        raise _malformed(
            f"'cnf.jwk' is not a usable public key: {exc.message_en}",
            f"'cnf.jwk' は使用できる公開鍵ではありません: {exc.message_ja}",
            "cnf.jwk",
        ) from None


def present(
    sd_jwt: str,
    *,
    disclose: Iterable[str],
    holder: Signer | None,
    nonce: str | None = None,
    audience: str | None = None,
    issued_at: datetime | None = None,
) -> str:
    """The Holder's presentation (RFC 9901 §7.2): the named claims, with a KB-JWT if ``holder``.

    ``disclose`` names claim paths; each brings its Disclosure, the Disclosures it sits in and
    those nested inside it.  With ``holder`` (whose key must be the one in ``cnf.jwk``),
    ``nonce``, ``audience`` and ``issued_at`` are required and a KB-JWT is appended; without it
    they must be omitted and the result ends in ``~``.
    """
    parsed = parse(sd_jwt)
    if parsed.kb_jwt is not None:
        raise _malformed(
            "the input already carries a KB-JWT: a Holder accepts only an SD-JWT (RFC 9901 §7.2)",
            "入力に KB-JWT が付いています: 保持者は SD-JWT のみ受け付けます (RFC 9901 §7.2)",
        )
    if isinstance(disclose, str):
        raise _malformed(
            "disclose must be a collection of claim paths, not one string",
            "disclose はクレームのパスの集まりです (文字列 1 つではありません)",
        )
    processed = _process(parsed.issuer_jwt.unverified_payload, parsed.disclosures)
    by_path: dict[str, list[str]] = {}
    for digest, path in processed.paths.items():
        by_path.setdefault(_path_text(path), []).append(digest)
    chosen: set[str] = set()
    for text in disclose:
        if not isinstance(text, str) or text not in by_path:
            raise _error(
                "sd_jwt_claim_not_found",
                f"no selectively disclosable claim at path {_show(text)}",
                f"パス {_show(text)} に選択的開示のクレームがありません",
            )
        chosen.update(by_path[text])

    def ancestors(digest: str) -> Iterable[str]:
        parent = processed.parents.get(digest)
        while parent is not None:
            yield parent
            parent = processed.parents.get(parent)

    keep = {d for d in processed.paths if d in chosen or any(a in chosen for a in ancestors(d))}
    keep.update(a for d in list(keep) for a in ancestors(d))
    selected = [d for d in parsed.disclosures if d.digest in keep]
    presented = parsed.issuer_jwt.text + "~" + "".join(d.text + "~" for d in selected)
    if holder is None:
        if nonce is not None or audience is not None or issued_at is not None:
            raise _malformed(
                "nonce/audience/issued_at given without a holder key",
                "保持者の鍵なしに nonce/audience/issued_at が指定されています",
            )
        return presented
    if not isinstance(nonce, str) or not nonce or not isinstance(audience, str) or not audience:
        raise _malformed(
            "Key Binding needs a non-empty nonce and audience",
            "鍵バインディングには空でない nonce と audience が必要です",
        )
    iat = math.floor(_aware(issued_at, "issued_at").timestamp())
    alg = _signer_alg(holder, "holder", "保持者")
    if _holder_key_of(processed.claims) != holder.public_key:
        raise _error(
            "sd_jwt_key_binding_invalid",
            "the holder key is not the key in 'cnf.jwk'",
            "保持者の鍵が 'cnf.jwk' の鍵と一致しません",
            "cnf.jwk",
        )
    kb_payload = {"iat": iat, "aud": audience, "nonce": nonce, "sd_hash": _sha256_b64(presented)}
    return presented + _sign_jws({"alg": alg, "typ": KB_JWT_TYP}, kb_payload, holder)


# --- verifying -----------------------------------------------------------------------------


def _issuer_public_key(
    issuer_key: IssuerKeyResolver, header: Mapping[str, Any], payload: Mapping[str, Any]
) -> PublicKey:
    try:
        key = issuer_key(copy.deepcopy(header), copy.deepcopy(payload))
    except SdJwtError:
        raise
    except FurusatoError as exc:
        raise SdJwtError(
            f"SD-JWT: issuer key: {exc.message_en}",
            f"SD-JWT: 発行者の鍵: {exc.message_ja}",
            code=exc.code,
            path=exc.path,
        ) from exc
    if not isinstance(key, PublicKey):
        raise _malformed(
            f"issuer_key returned {type(key).__name__}, not a PublicKey",
            f"issuer_key が PublicKey ではなく {type(key).__name__} を返しました",
        )
    return key


def _check_times(claims: Mapping[str, Any], now: float, skew: float) -> None:
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_number(claims[name]):
            raise _malformed(
                f"'{name}' must be a number (seconds since 1970)",
                f"'{name}' は数値 (1970 年からの秒数) でなければなりません",
                name,
            )
    exp = claims.get("exp")
    # compare, never add: a claim may hold an integer too large for a float
    if exp is not None and exp <= now - skew:
        raise _error(
            "expired",
            "the SD-JWT has expired ('exp')",
            "SD-JWT の有効期限 (exp) が切れています",
            "exp",
        )
    nbf = claims.get("nbf")
    if nbf is not None and nbf > now + skew:
        raise _error(
            "not_yet_valid",
            "the SD-JWT is not valid yet ('nbf')",
            "SD-JWT はまだ有効ではありません (nbf)",
            "nbf",
        )


def _kb_invalid(en: str, ja: str, path: str | None = None) -> SdJwtError:
    return _error("sd_jwt_key_binding_invalid", f"KB-JWT: {en}", f"KB-JWT: {ja}", path)


def _verify_key_binding(
    parsed: SdJwt,
    holder: PublicKey,
    policy: KeyBindingPolicy,
    now: float,
    skew: float,
) -> dict[str, Any]:
    """RFC 9901 §7.3 step 5."""
    kb = parsed.kb_jwt
    assert kb is not None
    header, payload = kb.unverified_header, kb.unverified_payload
    if header.get("typ") != KB_JWT_TYP:
        raise _kb_invalid(
            f"'typ' must be {KB_JWT_TYP!r}, got {_show(header.get('typ'))}",
            f"'typ' は {KB_JWT_TYP!r} でなければなりません ({_show(header.get('typ'))})",
            "kb.typ",
        )
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALGS:
        raise _kb_invalid(
            f"'alg' {_show(alg)} is not allowed", f"'alg' {_show(alg)} は使用できません", "kb.alg"
        )
    if _ALGS[alg] is not holder.key_type:
        raise _kb_invalid(
            f"'alg' {_show(alg)} does not match the holder key ({holder.key_type.value})",
            f"'alg' {_show(alg)} が保持者の鍵 ({holder.key_type.value}) と一致しません",
            "kb.alg",
        )
    try:
        holder.verify(kb.signature, kb.signing_input)
    except FurusatoError:
        raise _kb_invalid(
            "the signature does not verify with the holder key in 'cnf.jwk'",
            "署名が 'cnf.jwk' の保持者の鍵で検証できません",
            "kb.signature",
        ) from None
    iat = payload.get("iat")
    if not _is_number(iat):
        raise _kb_invalid(
            "'iat' is missing or not a number", "'iat' がないか数値ではありません", "kb.iat"
        )
    nonce = payload.get("nonce")
    if not isinstance(nonce, str):
        raise _kb_invalid(
            "'nonce' is missing or not a string", "'nonce' がないか文字列ではありません", "kb.nonce"
        )
    if not hmac.compare_digest(nonce.encode("utf-8"), policy.nonce.encode("utf-8")):
        raise _error(
            "challenge_mismatch",
            "KB-JWT: 'nonce' is not the expected one",
            "KB-JWT: 'nonce' が想定した値と一致しません",
            "kb.nonce",
        )
    aud = payload.get("aud")
    if not isinstance(aud, str):
        raise _kb_invalid(
            "'aud' must be a single string (RFC 9901 §4.3)",
            "'aud' は 1 つの文字列でなければなりません (RFC 9901 §4.3)",
            "kb.aud",
        )
    if aud != policy.audience:
        raise _error(
            "domain_mismatch",
            "KB-JWT: 'aud' is not this verifier",
            "KB-JWT: 'aud' がこの検証者ではありません",
            "kb.aud",
        )
    if iat > now + skew:
        raise _kb_invalid("'iat' is in the future", "'iat' が未来の時刻です", "kb.iat")
    if iat < now - policy.max_age.total_seconds() - skew:
        raise _kb_invalid(
            "'iat' is older than the allowed window",
            "'iat' が許容範囲より古い時刻です",
            "kb.iat",
        )
    sd_hash = payload.get("sd_hash")
    expected = _sha256_b64(parsed.without_key_binding)
    if not isinstance(sd_hash, str) or not hmac.compare_digest(
        sd_hash.encode("utf-8"), expected.encode("ascii")
    ):
        raise _kb_invalid(
            "'sd_hash' does not match the presented SD-JWT",
            "'sd_hash' が提示された SD-JWT と一致しません",
            "kb.sd_hash",
        )
    return copy.deepcopy(payload)


def verify_sd_jwt(
    text: str,
    *,
    issuer_key: IssuerKeyResolver,
    now: datetime,
    accepted_typ: frozenset[str] = DEFAULT_ACCEPTED_TYP,
    skew: timedelta = DEFAULT_SKEW,
    key_binding: KeyBindingPolicy | None = None,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB (RFC 9901 §7.1, §7.3); raise :class:`SdJwtError`.

    ``issuer_key(header, unverified_payload)`` returns the issuer's key (and is where the key is
    tied to ``iss``) or raises.  ``key_binding`` makes Key Binding required: the holder key is
    ``cnf.jwk`` and the KB-JWT must carry the policy's nonce and audience within ``max_age``.
    """
    now_s = _aware(now, "now").timestamp()
    if not isinstance(skew, timedelta) or skew < timedelta(0):
        raise _malformed("skew must be a timedelta >= 0", "skew は 0 以上の timedelta です")
    skew_s = skew.total_seconds()
    if isinstance(accepted_typ, str) or not all(isinstance(t, str) for t in accepted_typ):
        raise _malformed(
            "accepted_typ must be a set of typ strings", "accepted_typ は typ 文字列の集合です"
        )
    parsed = parse(text)
    jwt = parsed.issuer_jwt
    header = jwt.unverified_header
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALGS:
        raise _error(
            "sd_jwt_alg_not_allowed",
            f"issuer JWT 'alg' {_show(alg)} is not allowed (EdDSA, ES256, ES384)",
            f"発行者 JWT の 'alg' {_show(alg)} は使用できません (EdDSA・ES256・ES384)",
            "header.alg",
        )
    typ = header.get("typ")
    if not isinstance(typ, str) or typ not in accepted_typ:
        raise _error(
            "sd_jwt_typ_invalid",
            f"issuer JWT 'typ' {_show(typ)} is not accepted ({', '.join(sorted(accepted_typ))})",
            f"発行者 JWT の 'typ' {_show(typ)} は受け付けません ({', '.join(sorted(accepted_typ))})",
            "header.typ",
        )
    key = _issuer_public_key(issuer_key, header, jwt.unverified_payload)
    if _ALGS[alg] is not key.key_type:
        raise _error(
            "sd_jwt_alg_not_allowed",
            f"issuer JWT 'alg' {_show(alg)} does not match the issuer key ({key.key_type.value})",
            f"発行者 JWT の 'alg' {_show(alg)} が発行者の鍵 ({key.key_type.value}) と一致しません",
            "header.alg",
        )
    try:
        key.verify(jwt.signature, jwt.signing_input)
    except FurusatoError:
        raise _error(
            "signature_invalid",
            "the issuer signature does not verify",
            "発行者の署名を検証できません",
            "signature",
        ) from None
    processed = _process(jwt.unverified_payload, parsed.disclosures)
    claims = processed.claims
    if typ in SD_JWT_VC_TYPES:
        for path in processed.paths.values():
            if len(path) == 1 and path[0] in NEVER_DISCLOSABLE:
                raise _error(
                    "sd_jwt_claim_not_disclosable",
                    f"{_show(path[0])} arrived in a Disclosure; SD-JWT VC forbids that",
                    f"{_show(path[0])} が Disclosure で届きました (SD-JWT VC では不可)",
                    str(path[0]),
                )
        if not isinstance(claims.get("vct"), str):
            raise _malformed(
                "an SD-JWT VC needs a string 'vct' claim",
                "SD-JWT VC には文字列の 'vct' クレームが必要です",
                "vct",
            )
    _check_times(claims, now_s, skew_s)
    kb_payload: dict[str, Any] | None = None
    if key_binding is not None:
        if parsed.kb_jwt is None:
            raise _error(
                "sd_jwt_key_binding_missing",
                "Key Binding is required but there is no KB-JWT",
                "鍵バインディングが必要ですが KB-JWT がありません",
            )
        holder = _holder_key_of(claims)
        kb_payload = _verify_key_binding(parsed, holder, key_binding, now_s, skew_s)
    disclosed = tuple(_path_text(processed.paths[d.digest]) for d in parsed.disclosures)
    return VerifiedSdJwt(
        header=copy.deepcopy(header),
        processed_claims=claims,
        disclosed=disclosed,
        key_bound=kb_payload is not None,
        kb_payload=kb_payload,
    )
