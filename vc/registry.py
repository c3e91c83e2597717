"""The national registry (trust list) of participating municipalities — DESIGN.md §5.

The registry authority signs one document listing every participating municipality: its
lgCode, names, prefecture, DID, verification keys with their validity windows, and the base
URL of its status lists.  Verifiers pin the authority's public key, refuse a lower
``sequence`` than the one they hold, and resolve issuer keys offline from the entries
(:meth:`Registry.did_documents`).

Wire format
-----------
A JWS in compact serialization (RFC 7515 §7.1), implemented here with :mod:`did.keys`:

* protected header, exactly ``{"alg", "typ", "kid"}``:

  - ``alg``: ``EdDSA`` (Ed25519, RFC 8037 §3.1), ``ES256`` or ``ES384`` (RFC 7518 §3.4, the
    raw ``r||s`` signature) — it must be the algorithm of the pinned authority key; ``none``
    and every other value are refused;
  - ``typ``: :data:`TYP` = ``furusato-registry+json``, the media type
    ``application/furusato-registry+json`` with the ``application/`` prefix omitted as
    RFC 7515 §4.1.9 recommends (both spellings are accepted, case-insensitively).  A change
    of the payload format gets a new ``typ``, so the payload's members are checked strictly;
  - ``kid``: a hint naming the authority key (the CLI uses its RFC 7638 thumbprint); the
    verifier uses the key it pins, never one named by the header.

  Any other header member (``crit``, ``jwk``, ``jku``, ``x5u``, ``b64`` …) is refused.
* payload: the UTF-8 JSON of :meth:`Registry.to_json`::

    {"authority": "…", "sequence": 7, "issuedAt": "2027-01-04T00:00:00Z",
     "nextUpdate": "2027-01-11T00:00:00Z",
     "entries": [{"lgCode": "015814", "name": "厚真町", "nameEn": "Atsuma",
                  "prefecture": "北海道", "prefectureCode": "010006",
                  "did": "did:web:furusato.example.jp:lg:015814",
                  "keys": [{"id": "did:web:furusato.example.jp:lg:015814#key-1",
                            "publicKeyMultibase": "z6Mk…",
                            "validFrom": "…", "validUntil": "…", "revoked": "…"}],
                  "statusBaseUrl": "https://furusato.example.jp/lg/015814/status/"}]}

  ``nameEn``, ``validFrom``, ``validUntil`` and ``revoked`` are optional (absent, never
  ``null``); no other member is allowed.

Rules checked on every entry (each failure has its own code, see below): the lgCode is six
digits with a correct check digit and is in the MIC table; ``name``, ``prefecture`` and
``prefectureCode`` agree with the table; the DID is a ``did:web`` or ``did:key`` DID; every key
id is ``<entry DID>#<fragment>`` (for ``did:key`` the DID's own key); key times are
dateTimeStamps with ``validFrom`` < ``validUntil``; ``statusBaseUrl`` is ``https://`` —
``http://`` is allowed only for ``localhost``, ``127.0.0.1`` and ``[::1]``, so tests can serve
status lists on loopback.  Across the registry, lgCodes and DIDs are unique (so every key id
is, too, and :meth:`Registry.entry_for_did` is unambiguous).

Time
----
Nothing here reads the clock.  :func:`verify_registry` takes ``now``: a registry whose
``issuedAt`` lies more than ``max_clock_skew`` after ``now`` is refused (the authority's or the
verifier's clock is wrong); a registry whose ``nextUpdate`` has passed still **verifies** — the
caller gets it back and :meth:`Registry.is_stale` is true, so a verifier can keep working
offline from the last good list and *say* that it is stale; :meth:`Registry.require_fresh`
raises ``registry_expired`` for callers whose policy is to refuse it.

Error codes (all :class:`RegistryError`)
----------------------------------------
``registry_too_large``, ``registry_malformed`` (JWS shape, base64url, JSON, a member missing,
of the wrong type or unknown), ``registry_header_invalid`` (``typ``, header members),
``registry_algorithm_mismatch`` (``alg`` not allowed or not the pinned key's),
``registry_signature_invalid``, ``registry_rollback`` (lower sequence than held),
``registry_sequence_conflict`` (same sequence as held, different content),
``registry_not_yet_valid``, ``registry_expired``; for entries: ``registry_lg_code_invalid``,
``registry_municipality_unknown``, ``registry_municipality_mismatch``, ``registry_did_invalid``,
``registry_key_not_under_did``, ``registry_key_invalid``, ``registry_key_duplicate``,
``registry_entry_duplicate``, ``registry_url_insecure``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Final
from urllib.parse import urlsplit

from did.document import public_key_from_verification_method
from did.errors import (
    RANGE_ERROR,
    CryptographicSecurityError,
    DIDError,
    FurusatoError,
    InvalidSignatureError,
    LimitExceededError,
    MalformedValueError,
    ParsingError,
)
from did.jsonio import Limits, load_json
from did.key import did_key_verification_method_id, public_key_from_did_key, resolve_did_key
from did.keys import PublicKey, Signer, check_public_multikey
from did.multibase import base64url_decode, base64url_encode
from did.web import VerificationKeyEntry, build_did_document, did_web_to_url
from schemas.municipalities import (
    Municipality,
    UnknownMunicipalityError,
    municipality_table,
    prefecture_code_of,
    validate_lg_code,
)
from vc.dates import format_datetime, parse_datetime

__all__ = [
    "ALGORITHMS",
    "MAX_CLOCK_SKEW",
    "MAX_REGISTRY_BYTES",
    "MEDIA_TYPE",
    "TYP",
    "Registry",
    "RegistryEntry",
    "RegistryEntryError",
    "RegistryError",
    "RegistryExpiredError",
    "RegistryKey",
    "RegistryMalformedError",
    "RegistryRollbackError",
    "RegistrySignatureError",
    "RegistryTimeError",
    "RegistryTooLargeError",
    "check_entries",
    "entry_from_did_document",
    "sign_registry",
    "validate_entry",
    "validate_registry",
    "verify_registry",
]

TYP: Final = "furusato-registry+json"
"""The JWS ``typ`` we write: ``application/furusato-registry+json`` without ``application/``."""
MEDIA_TYPE: Final = "application/furusato-registry+json"
"""The media type of the signed registry (serve the file with it)."""
ALGORITHMS: Final = frozenset({"EdDSA", "ES256", "ES384"})
"""JWS algorithms a registry may be signed with (each must also match the pinned key)."""
MAX_REGISTRY_BYTES: Final = 8 * 1024 * 1024
"""Default bound on the whole JWS: ~1,800 entries take about 1.5 MB."""
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
MAX_ENTRIES: Final = 4096
MAX_KEYS_PER_ENTRY: Final = 32
MAX_SEQUENCE: Final = 2**53 - 1  # the largest integer every JSON parser reads exactly
MAX_TEXT: Final = 256  # names, authority, kid
MAX_URL: Final = 2048
MAX_DID: Final = 2048
MAX_HEADER_CHARS: Final = 1024

_HEADER_MEMBERS = frozenset({"alg", "typ", "kid"})
_REGISTRY_MEMBERS = frozenset({"authority", "sequence", "issuedAt", "nextUpdate", "entries"})
_ENTRY_MEMBERS = frozenset(
    {"lgCode", "name", "nameEn", "prefecture", "prefectureCode", "did", "keys", "statusBaseUrl"}
)
_KEY_MEMBERS = frozenset({"id", "publicKeyMultibase", "validFrom", "validUntil", "revoked"})
_FRAGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?-]{1,256}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


# --- errors ---------------------------------------------------------------------------------


class RegistryError(FurusatoError):
    """Anything wrong with a registry or one of its entries."""

    code = "registry_malformed"
    problem_type = MalformedValueError.problem_type
    title_en = "Registry error"
    title_ja = "信頼リストのエラー"


class RegistryMalformedError(RegistryError, MalformedValueError):
    """The registry (or the JWS around it) is not what the format says."""

    code = "registry_malformed"
    title_en = "Malformed registry"
    title_ja = "信頼リストの形式が不正です"


class RegistryEntryError(RegistryMalformedError):
    """An entry breaks a rule; the instance's ``code`` names which (module docstring)."""

    code = "registry_entry_invalid"
    title_en = "Invalid registry entry"
    title_ja = "信頼リストの項目が不正です"


class RegistryTooLargeError(RegistryError, LimitExceededError):
    code = "registry_too_large"
    title_en = "Registry too large"
    title_ja = "信頼リストが大きすぎます"


class RegistrySignatureError(RegistryError, CryptographicSecurityError):
    """The signature does not verify under the pinned authority key (or ``alg`` is wrong)."""

    code = "registry_signature_invalid"
    title_en = "Registry signature invalid"
    title_ja = "信頼リストの署名が正しくありません"


class RegistryRollbackError(RegistryError):
    """A lower sequence than the one held (``registry_sequence_conflict``: same, different)."""

    code = "registry_rollback"
    problem_type = RANGE_ERROR
    title_en = "Registry rollback"
    title_ja = "古い信頼リストです"


class RegistryTimeError(RegistryError):
    """``issuedAt`` lies in the future (``registry_not_yet_valid``)."""

    code = "registry_not_yet_valid"
    problem_type = RANGE_ERROR
    title_en = "Registry not yet valid"
    title_ja = "信頼リストの発行日時が未来です"


class RegistryExpiredError(RegistryError):
    """``nextUpdate`` has passed and the caller's policy refuses a stale registry."""

    code = "registry_expired"
    problem_type = RANGE_ERROR
    title_en = "Registry expired"
    title_ja = "信頼リストの更新期限が過ぎています"


def _malformed(path: str, en: str, ja: str, code: str | None = None) -> RegistryMalformedError:
    return RegistryMalformedError(f"{path}: {en}", f"{path}: {ja}", path=path, code=code)


def _entry_error(path: str, code: str, en: str, ja: str) -> RegistryEntryError:
    return RegistryEntryError(f"{path}: {en}", f"{path}: {ja}", path=path, code=code)


# --- small readers of untrusted JSON --------------------------------------------------------


def _object(value: object, path: str, members: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _malformed(path, "expected a JSON object", "JSON オブジェクトが必要です")
    unknown = sorted(str(k) for k in value if k not in members)
    if unknown:
        raise _malformed(
            f"{path}.{unknown[0][:60]}",
            "unknown member (the format allows no others)",
            "不明なメンバーです (この形式では使えません)",
        )
    return value


def _text(obj: Mapping[str, Any], name: str, path: str, *, max_length: int = MAX_TEXT) -> str:
    where = f"{path}.{name}"
    if name not in obj:
        raise _malformed(where, "missing", "ありません")
    value = obj[name]
    if not isinstance(value, str) or not value:
        raise _malformed(where, "expected a non-empty string", "空でない文字列が必要です")
    if len(value) > max_length:
        raise _malformed(
            where,
            f"longer than {max_length} characters",
            f"{max_length} 文字を超えています",
        )
    if _CONTROL.search(value) or value != value.strip():
        raise _malformed(
            where,
            "control characters or surrounding whitespace",
            "制御文字または前後の空白が含まれています",
        )
    return value


def _optional_text(
    obj: Mapping[str, Any], name: str, path: str, *, max_length: int = MAX_TEXT
) -> str | None:
    if name not in obj:
        return None
    return _text(obj, name, path, max_length=max_length)


def _time_text(obj: Mapping[str, Any], name: str, path: str, *, optional: bool) -> str | None:
    if optional and name not in obj:
        return None
    text = _text(obj, name, path, max_length=64)
    _parse_time(text, f"{path}.{name}")
    return text


def _parse_time(text: str, path: str) -> datetime:
    try:
        return parse_datetime(text, path)
    except MalformedValueError as exc:
        raise RegistryMalformedError(exc.message_en, exc.message_ja, path=path) from None


def _list(obj: Mapping[str, Any], name: str, path: str, max_items: int) -> list[Any]:
    where = f"{path}.{name}"
    if name not in obj:
        raise _malformed(where, "missing", "ありません")
    value = obj[name]
    if not isinstance(value, list):
        raise _malformed(where, "expected a JSON array", "JSON 配列が必要です")
    if len(value) > max_items:
        raise RegistryTooLargeError(
            f"{where}: more than {max_items} items",
            f"{where}: 項目が {max_items} 個を超えています",
            path=where,
        )
    return value


def _aware(moment: object, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise MalformedValueError(
            f"{name} must be a datetime with a time zone",
            f"{name} はタイムゾーン付きの datetime でなければなりません",
        )
    return moment


# --- keys -----------------------------------------------------------------------------------


def _usable_key(multibase: str, path: str, *, check_point: bool = True) -> PublicKey | None:
    """The key (``check_point``), or only its shape checked (None); ``registry_key_invalid``."""
    try:
        if not check_point:
            check_public_multikey(multibase)
            return None
        return PublicKey.from_multikey(multibase)
    except FurusatoError as exc:
        raise _entry_error(
            path,
            "registry_key_invalid",
            f"not a usable public key: {exc.message_en}",
            f"使用できる公開鍵ではありません: {exc.message_ja}",
        ) from None


@dataclass(frozen=True)
class RegistryKey:
    """One verification key of a municipality, with its history.

    ``id`` is a DID URL under the entry's DID (``did:web:…#key-1``). ``valid_from`` /
    ``valid_until`` (dateTimeStamp strings) bound the window in which the key may sign;
    ``revoked`` (the time it was marked) means the key was compromised: **everything** it
    signed fails, whenever it was signed.
    """

    id: str
    public_key_multibase: str
    valid_from: str | None = None
    valid_until: str | None = None
    revoked: str | None = None

    @property
    def fragment(self) -> str:
        return self.id.partition("#")[2]

    @property
    def controller(self) -> str:
        """The DID this key belongs to."""
        return self.id.partition("#")[0]

    @property
    def public_key(self) -> PublicKey:
        key = _usable_key(self.public_key_multibase, "publicKeyMultibase", check_point=True)
        assert key is not None
        return key

    @property
    def is_revoked(self) -> bool:
        return self.revoked is not None

    def valid_at(self, moment: datetime) -> bool:
        """True if the key may have signed at ``moment``: not revoked at all, and
        ``valid_from`` <= ``moment`` < ``valid_until`` (each bound only when present)."""
        moment = _aware(moment, "moment")
        if self.revoked is not None:
            return False
        if self.valid_from is not None and moment < _parse_time(self.valid_from, "validFrom"):
            return False
        return not (
            self.valid_until is not None and moment >= _parse_time(self.valid_until, "validUntil")
        )

    def to_json(self) -> dict[str, str]:
        out = {"id": self.id, "publicKeyMultibase": self.public_key_multibase}
        for name, value in (
            ("validFrom", self.valid_from),
            ("validUntil", self.valid_until),
            ("revoked", self.revoked),
        ):
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, value: object, *, path: str = "key") -> RegistryKey:
        """A key from its JSON form (shape and formats; the entry checks the DID)."""
        obj = _object(value, path, _KEY_MEMBERS)
        key_id = _text(obj, "id", path, max_length=MAX_DID + 300)
        did, hash_mark, fragment = key_id.partition("#")
        if not hash_mark or not did.startswith("did:") or _FRAGMENT.fullmatch(fragment) is None:
            raise _entry_error(
                f"{path}.id",
                "registry_key_not_under_did",
                f"{key_id[:80]!r} is not a DID URL '<did>#<fragment>'",
                f"{key_id[:80]!r} は '<did>#<フラグメント>' 形式の DID URL ではありません",
            )
        multibase = _text(obj, "publicKeyMultibase", path)
        # The shape here; the curve point when the key is used (``public_key``) and, for the
        # operator, in ``validate_entry`` — loading 1,741 entries to use one stays fast.
        _usable_key(multibase, f"{path}.publicKeyMultibase", check_point=False)
        valid_from = _time_text(obj, "validFrom", path, optional=True)
        valid_until = _time_text(obj, "validUntil", path, optional=True)
        revoked = _time_text(obj, "revoked", path, optional=True)
        if (
            valid_from is not None
            and valid_until is not None
            and _parse_time(valid_from, "validFrom") >= _parse_time(valid_until, "validUntil")
        ):
            raise _entry_error(
                f"{path}.validUntil",
                "registry_key_invalid",
                "validUntil must be later than validFrom",
                "validUntil は validFrom より後でなければなりません",
            )
        return cls(key_id, multibase, valid_from, valid_until, revoked)


# --- entries --------------------------------------------------------------------------------


def _check_did(did: str, path: str) -> None:
    try:
        if did.startswith("did:web:"):
            did_web_to_url(did)
            return
        if did.startswith("did:key:"):
            if "#" in did:
                raise DIDError("a DID, not a DID URL", "DID URL ではなく DID が必要です")
            public_key_from_did_key(did)
            return
    except FurusatoError as exc:
        raise _entry_error(
            path,
            "registry_did_invalid",
            f"invalid DID: {exc.message_en}",
            f"DID が不正です: {exc.message_ja}",
        ) from None
    raise _entry_error(
        path,
        "registry_did_invalid",
        f"{did[:80]!r}: only did:web and did:key DIDs are allowed",
        f"{did[:80]!r}: did:web と did:key の DID のみ使えます",
    )


def _check_status_url(url: str, path: str) -> None:
    if any(c.isspace() for c in url):
        raise _malformed(path, "a URL must not contain whitespace", "URL に空白は使えません")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise _malformed(
            path, f"{url[:80]!r} is not a URL", f"{url[:80]!r} は URL ではありません"
        ) from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _malformed(path, "user info is not allowed", "ユーザー情報は使えません")
    if parts.query or parts.fragment or "#" in url:
        raise _malformed(
            path,
            "a base URL has no query or fragment",
            "ベース URL にクエリやフラグメントは不要です",
        )
    if url.startswith(("https://", "http://")) and not host:
        raise _malformed(path, "the URL has no host", "URL にホスト名がありません")
    if url.startswith("https://"):
        return
    if url.startswith("http://") and host in _LOOPBACK_HOSTS:
        return  # tests: status lists served on loopback
    raise _entry_error(
        path,
        "registry_url_insecure",
        f"{url[:80]!r} must be an https:// URL (http:// only for localhost)",
        f"{url[:80]!r} は https:// の URL でなければなりません (http:// は localhost のみ)",
    )


def _municipality(lg_code: str, path: str) -> Municipality:
    try:
        validate_lg_code(lg_code)
    except MalformedValueError as exc:
        raise _entry_error(
            path, "registry_lg_code_invalid", exc.message_en, exc.message_ja
        ) from None
    try:
        return municipality_table().get(lg_code)
    except UnknownMunicipalityError as exc:
        raise _entry_error(
            path, "registry_municipality_unknown", exc.message_en, exc.message_ja
        ) from None


@dataclass(frozen=True, kw_only=True)
class RegistryEntry:
    """One participating municipality (or prefecture).

    ``name``/``prefecture``/``prefecture_code`` are those of the MIC table (``name`` is the
    city, or the prefecture for a prefecture's own entry); ``name_en`` is an optional
    romanised name (e.g. ``"Atsuma"``) that the table does not have.
    """

    lg_code: str
    name: str
    name_en: str | None = None
    prefecture: str
    prefecture_code: str
    did: str
    keys: Sequence[RegistryKey]
    status_base_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))

    def key(self, vm_id: str) -> RegistryKey | None:
        """The key with this id (absolute, or ``#fragment`` relative to the DID)."""
        if not isinstance(vm_id, str):
            return None
        target = self.did + vm_id if vm_id.startswith("#") else vm_id
        for key in self.keys:
            if key.id == target:
                return key
        return None

    def with_key_revoked(self, key_id: str, at: str) -> RegistryEntry:
        """A copy with key ``key_id`` marked revoked at ``at`` (an earlier mark is kept)."""
        keys = [
            RegistryKey(k.id, k.public_key_multibase, k.valid_from, k.valid_until, at)
            if k.id == key_id and k.revoked is None
            else k
            for k in self.keys
        ]
        return RegistryEntry(
            lg_code=self.lg_code,
            name=self.name,
            name_en=self.name_en,
            prefecture=self.prefecture,
            prefecture_code=self.prefecture_code,
            did=self.did,
            keys=keys,
            status_base_url=self.status_base_url,
        )

    def did_document(self) -> dict[str, Any]:
        """The DID document the registry vouches for (see :meth:`Registry.did_documents`)."""
        if self.did.startswith("did:key:"):
            return _did_key_document(self)
        return build_did_document(
            self.did,
            [
                VerificationKeyEntry(
                    fragment=k.fragment,
                    public_key=k.public_key,
                    valid_from=k.valid_from,
                    valid_until=k.valid_until,
                    revoked=k.revoked,
                )
                for k in self.keys
            ],
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lgCode": self.lg_code, "name": self.name}
        if self.name_en is not None:
            out["nameEn"] = self.name_en
        out["prefecture"] = self.prefecture
        out["prefectureCode"] = self.prefecture_code
        out["did"] = self.did
        out["keys"] = [_as(RegistryKey, k, "keys").to_json() for k in self.keys]
        out["statusBaseUrl"] = self.status_base_url
        return out

    @classmethod
    def from_json(cls, value: object, *, path: str = "entry") -> RegistryEntry:
        """An entry from untrusted JSON, with every rule of the module docstring checked."""
        obj = _object(value, path, _ENTRY_MEMBERS)
        lg_code = _text(obj, "lgCode", path)
        municipality = _municipality(lg_code, f"{path}.lgCode")
        name = _text(obj, "name", path)
        name_en = _optional_text(obj, "nameEn", path)
        prefecture = _text(obj, "prefecture", path)
        prefecture_code = _text(obj, "prefectureCode", path)
        for member, given, expected in (
            ("name", name, municipality.name),
            ("prefecture", prefecture, municipality.prefecture),
            ("prefectureCode", prefecture_code, prefecture_code_of(lg_code)),
        ):
            if given != expected:
                raise _entry_error(
                    f"{path}.{member}",
                    "registry_municipality_mismatch",
                    f"{given[:60]!r} does not match the MIC table for {lg_code} ({expected})",
                    f"{given[:60]!r} は自治体コード表の {lg_code} ({expected}) と一致しません",
                )
        did = _text(obj, "did", path, max_length=MAX_DID)
        _check_did(did, f"{path}.did")
        raw_keys = _list(obj, "keys", path, MAX_KEYS_PER_ENTRY)
        if not raw_keys:
            raise _malformed(f"{path}.keys", "at least one key is needed", "鍵が1つ以上必要です")
        keys: list[RegistryKey] = []
        for i, raw in enumerate(raw_keys):
            where = f"{path}.keys[{i}]"
            key = RegistryKey.from_json(raw, path=where)
            if key.controller != did:
                raise _entry_error(
                    f"{where}.id",
                    "registry_key_not_under_did",
                    f"{key.id[:80]!r} is not a key of {did[:80]!r}",
                    f"{key.id[:80]!r} は {did[:80]!r} の鍵ではありません",
                )
            if did.startswith("did:key:"):
                own = public_key_from_did_key(did)
                if key.id != did_key_verification_method_id(own):
                    raise _entry_error(
                        f"{where}.id",
                        "registry_key_not_under_did",
                        "a did:key's key id is '<did>#<multibase>'",
                        "did:key の鍵 ID は '<DID>#<マルチベース値>' です",
                    )
                if key.public_key_multibase != own.multikey:
                    raise _entry_error(
                        f"{where}.publicKeyMultibase",
                        "registry_key_invalid",
                        "not the key of the did:key DID",
                        "did:key の DID の鍵ではありません",
                    )
            if any(k.id == key.id for k in keys):
                raise _entry_error(
                    f"{where}.id",
                    "registry_key_duplicate",
                    f"key {key.id[:80]!r} is listed twice",
                    f"鍵 {key.id[:80]!r} が重複しています",
                )
            keys.append(key)
        status_base_url = _text(obj, "statusBaseUrl", path, max_length=MAX_URL)
        _check_status_url(status_base_url, f"{path}.statusBaseUrl")
        return cls(
            lg_code=lg_code,
            name=name,
            name_en=name_en,
            prefecture=prefecture,
            prefecture_code=prefecture_code,
            did=did,
            keys=keys,
            status_base_url=status_base_url,
        )


def _did_key_document(entry: RegistryEntry) -> dict[str, Any]:
    document = resolve_did_key(entry.did)
    method = document["verificationMethod"][0]
    key = entry.key(method["id"])
    if key is not None:
        for name, value in (
            ("validFrom", key.valid_from),
            ("validUntil", key.valid_until),
            ("revoked", key.revoked),
        ):
            if value is not None:
                method[name] = value
        if key.revoked is not None:  # a revoked key leaves every relationship
            for relationship in (
                "authentication",
                "assertionMethod",
                "capabilityInvocation",
                "capabilityDelegation",
            ):
                document[relationship] = []
    return document


def _as(cls: type[Any], value: object, path: str) -> Any:
    if not isinstance(value, cls):
        raise _malformed(path, f"expected a {cls.__name__}", f"{cls.__name__} が必要です")
    return value


def validate_entry(entry: RegistryEntry) -> RegistryEntry:
    """``entry`` checked by the same rules as untrusted JSON, and every key's curve point;
    returns the checked copy."""
    checked: RegistryEntry = RegistryEntry.from_json(_as(RegistryEntry, entry, "entry").to_json())
    for i, key in enumerate(checked.keys):
        _usable_key(key.public_key_multibase, f"entry.keys[{i}].publicKeyMultibase")
    return checked


def check_entries(entries: Sequence[RegistryEntry], *, path: str = "entries") -> None:
    """Across entries: lgCodes and DIDs are unique (raises ``registry_entry_duplicate``)."""
    codes: dict[str, int] = {}
    dids: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for seen, value, member in ((codes, entry.lg_code, "lgCode"), (dids, entry.did, "did")):
            if value in seen:
                raise _entry_error(
                    f"{path}[{i}].{member}",
                    "registry_entry_duplicate",
                    f"{member} {value[:80]} is already used by entry {seen[value]}",
                    f"{member} {value[:80]} は項目 {seen[value]} で既に使われています",
                )
            seen[value] = i


def entry_from_did_document(
    did_document: Mapping[str, Any],
    *,
    lg_code: str,
    status_base_url: str,
    name_en: str | None = None,
) -> RegistryEntry:
    """The registry entry of a municipality, from its own DID document.

    Names and prefecture come from the MIC table. Keys are the document's
    ``verificationMethod`` entries that are listed under ``assertionMethod`` (current and
    retired keys) or carry ``revoked`` (kept so verifiers can say "revoked" rather than
    "unknown"), with their ``validFrom``/``validUntil``/``revoked`` members; ``Multikey`` and
    JWK methods are accepted and written as ``publicKeyMultibase``. The result is validated.
    """
    if not isinstance(did_document, Mapping):
        raise _malformed("didDocument", "expected a JSON object", "JSON オブジェクトが必要です")
    did = did_document.get("id")
    if not isinstance(did, str) or not did:
        raise _malformed("didDocument.id", "missing or not a string", "ないか文字列ではありません")
    municipality = _municipality(lg_code, "lgCode")
    methods = did_document.get("verificationMethod", [])
    assertion = did_document.get("assertionMethod", [])
    if not isinstance(methods, list) or not isinstance(assertion, list):
        raise _malformed(
            "didDocument",
            "verificationMethod and assertionMethod must be arrays",
            "verificationMethod と assertionMethod は配列でなければなりません",
        )

    def absolute(ref: object) -> object:
        return did + ref if isinstance(ref, str) and ref.startswith("#") else ref

    asserted = {absolute(a.get("id") if isinstance(a, Mapping) else a) for a in assertion}
    embedded = [a for a in assertion if isinstance(a, Mapping)]
    keys: list[RegistryKey] = []
    for i, vm in enumerate([*methods, *embedded]):
        where = f"didDocument.verificationMethod[{i}]"
        if not isinstance(vm, Mapping):
            raise _malformed(where, "expected a JSON object", "JSON オブジェクトが必要です")
        vm_id = absolute(vm.get("id"))
        if not isinstance(vm_id, str):
            raise _malformed(f"{where}.id", "missing or not a string", "ないか文字列ではありません")
        if any(k.id == vm_id for k in keys):
            continue  # listed both in verificationMethod and embedded
        if vm_id not in asserted and "revoked" not in vm:
            continue
        try:
            public_key = public_key_from_verification_method(vm)
        except FurusatoError as exc:
            raise _entry_error(
                where, "registry_key_invalid", exc.message_en, exc.message_ja
            ) from None
        times: dict[str, str | None] = {}
        for name in ("validFrom", "validUntil", "revoked"):
            value = vm.get(name)
            if value is not None and not isinstance(value, str):
                raise _malformed(f"{where}.{name}", "expected a string", "文字列が必要です")
            times[name] = value
        keys.append(
            RegistryKey(
                vm_id,
                public_key.multikey,
                times["validFrom"],
                times["validUntil"],
                times["revoked"],
            )
        )
    entry = RegistryEntry(
        lg_code=lg_code,
        name=municipality.name,
        name_en=name_en,
        prefecture=municipality.prefecture,
        prefecture_code=municipality.prefecture_code,
        did=did,
        keys=keys,
        status_base_url=status_base_url,
    )
    return validate_entry(entry)


# --- the registry ---------------------------------------------------------------------------


class _EntryDocuments(Mapping[str, dict[str, Any]]):
    """DID → DID document of the registry entries, each built on first use."""

    def __init__(self, entries: Mapping[str, RegistryEntry]) -> None:
        self._entries = entries
        self._built: dict[str, dict[str, Any]] = {}

    def __getitem__(self, did: str) -> dict[str, Any]:
        document = self._built.get(did)
        if document is None:
            document = self._built[did] = self._entries[did].did_document()
        return document

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, kw_only=True)
class Registry:
    """The signed trust list: a ``sequence`` that only grows, ``issued_at``, ``next_update``
    (by when the authority promises a newer one), the ``authority`` (its name or id), and the
    entries."""

    sequence: int
    issued_at: datetime
    next_update: datetime
    entries: Sequence[RegistryEntry]
    authority: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))

    @cached_property
    def _by_did(self) -> dict[str, RegistryEntry]:
        return {e.did: e for e in self.entries}

    @cached_property
    def _by_lg_code(self) -> dict[str, RegistryEntry]:
        return {e.lg_code: e for e in self.entries}

    # lookups

    def entry_for_did(self, did: str) -> RegistryEntry | None:
        return self._by_did.get(did) if isinstance(did, str) else None

    def entry_for_lg_code(self, code: str) -> RegistryEntry | None:
        return self._by_lg_code.get(code) if isinstance(code, str) else None

    def find_key(self, vm_id: str) -> tuple[RegistryEntry, RegistryKey] | None:
        """The entry and key of a verification method id ``<did>#<fragment>``, if listed."""
        if not isinstance(vm_id, str):
            return None
        entry = self.entry_for_did(vm_id.partition("#")[0])
        key = entry.key(vm_id) if entry is not None else None
        return None if entry is None or key is None else (entry, key)

    def did_documents(self) -> Mapping[str, dict[str, Any]]:
        """DID → DID document for every entry, so issuer keys resolve offline
        (``did.resolver.Resolver(documents=registry.did_documents())``).

        Built with :func:`did.web.build_did_document` (did:key: the method's own document):
        ``Multikey`` methods with our ``validFrom``/``validUntil`` and CID's ``revoked``;
        ``assertionMethod`` lists every key that is not revoked; a revoked key stays in
        ``verificationMethod`` only.  Whether a key was valid when a proof was made is the
        verifier's check (:meth:`RegistryKey.valid_at`).  The mapping is lazy: a document is
        built when first looked up, so a verifier holding all 1,741 municipalities builds one.
        """
        return self._documents

    @cached_property
    def _documents(self) -> _EntryDocuments:
        return _EntryDocuments(self._by_did)

    # time

    def is_stale(self, now: datetime) -> bool:
        """True once ``next_update`` has passed: a newer registry should exist."""
        return _aware(now, "now") >= self.next_update

    def require_fresh(self, now: datetime, *, grace: timedelta = timedelta(0)) -> None:
        """Raise :class:`RegistryExpiredError` if ``now`` is past ``next_update`` + ``grace``."""
        if _aware(now, "now") >= self.next_update + grace:
            raise RegistryExpiredError(
                f"the registry was due to be replaced at {format_datetime(self.next_update)}",
                f"信頼リストは {format_datetime(self.next_update)} までに更新されるはずでした",
            )

    # JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "authority": self.authority,
            "sequence": self.sequence,
            "issuedAt": _format_time(self.issued_at, "issuedAt"),
            "nextUpdate": _format_time(self.next_update, "nextUpdate"),
            "entries": [_as(RegistryEntry, e, "entries").to_json() for e in self.entries],
        }

    @classmethod
    def from_json(cls, value: object, *, path: str = "registry") -> Registry:
        """A registry from untrusted JSON, every entry checked, lgCodes and DIDs unique."""
        obj = _object(value, path, _REGISTRY_MEMBERS)
        authority = _text(obj, "authority", path)
        sequence = obj.get("sequence")
        if (
            isinstance(sequence, bool)
            or not isinstance(sequence, int)
            or not 1 <= sequence <= MAX_SEQUENCE
        ):
            raise _malformed(
                f"{path}.sequence",
                f"expected an integer from 1 to {MAX_SEQUENCE}",
                f"1 以上 {MAX_SEQUENCE} 以下の整数が必要です",
            )
        issued_at = _parse_time(_text(obj, "issuedAt", path, max_length=64), f"{path}.issuedAt")
        next_update = _parse_time(
            _text(obj, "nextUpdate", path, max_length=64), f"{path}.nextUpdate"
        )
        if next_update <= issued_at:
            raise _malformed(
                f"{path}.nextUpdate",
                "nextUpdate must be later than issuedAt",
                "nextUpdate は issuedAt より後でなければなりません",
            )
        raw_entries = _list(obj, "entries", path, MAX_ENTRIES)
        entries = [
            RegistryEntry.from_json(raw, path=f"{path}.entries[{i}]")
            for i, raw in enumerate(raw_entries)
        ]
        check_entries(entries, path=f"{path}.entries")
        return cls(
            sequence=sequence,
            issued_at=issued_at,
            next_update=next_update,
            entries=entries,
            authority=authority,
        )


def _format_time(value: object, path: str) -> str:
    return format_datetime(_aware_for(value, path))


def _aware_for(value: object, path: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _malformed(
            path, "expected a datetime with a time zone", "タイムゾーン付きの日時が必要です"
        )
    return value


def validate_registry(registry: Registry) -> Registry:
    """``registry`` checked by the same rules as untrusted JSON; returns the checked copy."""
    return Registry.from_json(_as(Registry, registry, "registry").to_json())


def _payload_bytes(registry: Registry) -> bytes:
    text = json.dumps(registry.to_json(), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


# --- signing and verifying ------------------------------------------------------------------


def sign_registry(registry: Registry, signer: Signer, *, kid: str) -> str:
    """The registry as a compact JWS (module docstring) signed by ``signer``.

    The registry is validated first (issue raises: :class:`RegistryError`); ``signer.alg``
    must be one of :data:`ALGORITHMS`.  Times are written in whole seconds (UTC, ``Z``).
    """
    checked = validate_registry(registry)
    alg = signer.alg
    if alg not in ALGORITHMS or alg != signer.public_key.alg:
        raise RegistrySignatureError(
            f"cannot sign a registry with alg {alg!r}",
            f"アルゴリズム {alg!r} では信頼リストに署名できません",
            code="registry_algorithm_mismatch",
        )
    if not isinstance(kid, str) or not kid or len(kid) > MAX_TEXT or _CONTROL.search(kid):
        raise _malformed("kid", "expected a short non-empty string", "短い空でない文字列が必要です")
    header = json.dumps({"alg": alg, "typ": TYP, "kid": kid}, separators=(",", ":"))
    signing_input = (
        base64url_encode(header.encode("utf-8")) + "." + base64url_encode(_payload_bytes(checked))
    )
    signature = signer.sign(signing_input.encode("ascii"))
    jws = signing_input + "." + base64url_encode(signature)
    if len(jws) > MAX_REGISTRY_BYTES:
        raise RegistryTooLargeError(
            f"the signed registry is {len(jws)} bytes; verifiers accept {MAX_REGISTRY_BYTES}",
            f"署名済み信頼リストが {len(jws)} バイトあり、検証側の上限 {MAX_REGISTRY_BYTES} "
            "バイトを超えています",
        )
    return jws


def _decode_part(text: str, what: str) -> bytes:
    try:
        return base64url_decode(text, max_length=len(text))
    except FurusatoError as exc:
        raise _malformed(
            f"jws.{what}",
            f"not strict base64url: {exc.message_en}",
            "厳密な base64url ではありません",
        ) from None


def _load(data: bytes, limits: Limits, what: str) -> Any:
    try:
        return load_json(data, limits)
    except LimitExceededError as exc:
        raise RegistryTooLargeError(
            f"{what}: {exc.message_en}", f"{what}: {exc.message_ja}", path=what
        ) from None
    except ParsingError as exc:
        raise _malformed(what, exc.message_en, exc.message_ja) from None


def _check_header(header: object, authority_key: PublicKey) -> None:
    if not isinstance(header, Mapping):
        raise _malformed("jws.header", "expected a JSON object", "JSON オブジェクトが必要です")
    unknown = sorted(str(k) for k in header if k not in _HEADER_MEMBERS)
    if unknown:
        raise _malformed(
            f"jws.header.{unknown[0][:40]}",
            "header member not allowed (only alg, typ, kid)",
            "使用できないヘッダーのメンバーです (alg・typ・kid のみ)",
            code="registry_header_invalid",
        )
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != TYP:
        raise _malformed(
            "jws.header.typ",
            f"expected typ {TYP!r}",
            f"typ は {TYP!r} でなければなりません",
            code="registry_header_invalid",
        )
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_TEXT):
        raise _malformed(
            "jws.header.kid",
            "expected a short string",
            "短い文字列が必要です",
            code="registry_header_invalid",
        )
    alg = header.get("alg")
    if alg not in ALGORITHMS or alg != authority_key.alg:
        shown = repr(alg)[:40]
        raise RegistrySignatureError(
            f"alg {shown} is not allowed for the registry authority's "
            f"{authority_key.key_type.value} key (expected {authority_key.alg})",
            f"alg {shown} は信頼リスト発行者の {authority_key.key_type.value} 鍵には使えません "
            f"({authority_key.alg} が必要です)",
            path="jws.header.alg",
            code="registry_algorithm_mismatch",
        )


def verify_registry(
    jws: str | bytes,
    authority_key: PublicKey,
    *,
    now: datetime,
    previous_sequence: int | None = None,
    previous: Registry | None = None,
    max_bytes: int = MAX_REGISTRY_BYTES,
    max_clock_skew: timedelta = MAX_CLOCK_SKEW,
) -> Registry:
    """Verify a signed registry against the pinned ``authority_key``; return its content.

    In order: size (``max_bytes``, before anything else), three strict base64url parts
    (surrounding ASCII whitespace — a file's final newline — is ignored), the header
    (``typ``, members, ``alg`` = the key's algorithm), the signature, then the payload
    (bounded JSON, every rule of the format).  Then time and order:

    * ``issuedAt`` later than ``now`` + ``max_clock_skew`` → ``registry_not_yet_valid``;
    * a ``sequence`` lower than ``previous_sequence`` (or ``previous.sequence``) →
      ``registry_rollback``; the same sequence is accepted (fetching an unchanged registry
      again), but if ``previous`` is given its content must be identical, else
      ``registry_sequence_conflict``;
    * a passed ``nextUpdate`` is **not** an error: check :meth:`Registry.is_stale` and report
      it (or call :meth:`Registry.require_fresh`).

    Raises only :class:`FurusatoError` (a :class:`RegistryError` for anything about the input).
    """
    now = _aware(now, "now")
    if previous_sequence is not None and (
        isinstance(previous_sequence, bool) or not isinstance(previous_sequence, int)
    ):
        raise MalformedValueError(
            "previous_sequence must be an integer", "previous_sequence は整数でなければなりません"
        )
    if previous is not None and not isinstance(previous, Registry):
        raise MalformedValueError(
            "previous must be a Registry", "previous は Registry でなければなりません"
        )
    if not isinstance(authority_key, PublicKey):
        raise MalformedValueError(
            "authority_key must be a PublicKey", "authority_key は PublicKey でなければなりません"
        )
    if not isinstance(jws, str | bytes):
        raise _malformed("jws", "expected text", "テキストが必要です")
    if len(jws) > max_bytes:
        raise RegistryTooLargeError(
            f"the registry is {len(jws)} bytes; the limit is {max_bytes}",
            f"信頼リストが {len(jws)} バイトあり、上限 {max_bytes} バイトを超えています",
        )
    if isinstance(jws, bytes):
        try:
            jws = jws.decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("jws", "not ASCII text", "ASCII テキストではありません") from None
    elif not jws.isascii():
        raise _malformed("jws", "not ASCII text", "ASCII テキストではありません")
    parts = jws.strip(" \t\r\n").split(".")
    if len(parts) != 3 or not all(parts):
        raise _malformed(
            "jws",
            "expected compact JWS serialization: three non-empty parts separated by '.'",
            "コンパクト JWS 形式 ('.' で区切られた空でない3つの部分) が必要です",
        )
    header_b64, payload_b64, signature_b64 = parts
    if len(header_b64) > MAX_HEADER_CHARS:
        raise RegistryTooLargeError(
            "the JWS header is too long", "JWS ヘッダーが長すぎます", path="jws.header"
        )
    header = _load(
        _decode_part(header_b64, "header"),
        Limits(max_bytes=MAX_HEADER_CHARS, max_depth=2, max_nodes=16),
        "jws.header",
    )
    _check_header(header, authority_key)
    signature = _decode_part(signature_b64, "signature")
    try:
        authority_key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignatureError as exc:
        raise RegistrySignatureError(
            f"the registry's signature does not verify with the authority key ({exc.message_en})",
            f"信頼リストの署名が発行者の鍵で検証できません ({exc.message_ja})",
        ) from None
    payload = _load(
        _decode_part(payload_b64, "payload"),
        Limits(max_bytes=max_bytes, max_depth=8, max_nodes=max(1000, max_bytes // 2)),
        "registry",
    )
    registry = Registry.from_json(payload)

    if registry.issued_at > now + max_clock_skew:
        raise RegistryTimeError(
            f"the registry was issued at {format_datetime(registry.issued_at)}, after now "
            f"({format_datetime(now)}): check the clocks",
            f"信頼リストの発行日時 {format_datetime(registry.issued_at)} が現在時刻 "
            f"({format_datetime(now)}) より後です。時計を確認してください",
        )
    floors = [
        s for s in (previous_sequence, previous.sequence if previous else None) if s is not None
    ]
    floor = max(floors) if floors else None
    if floor is not None and registry.sequence < floor:
        raise RegistryRollbackError(
            f"registry sequence {registry.sequence} is lower than {floor}, already held "
            "(a rollback)",
            f"信頼リストの連番 {registry.sequence} は保持している {floor} より小さい"
            " (古いリストへの巻き戻し) です",
        )
    if previous is not None and registry.sequence == previous.sequence and registry != previous:
        raise RegistryRollbackError(
            f"registry sequence {registry.sequence} was already seen with different content",
            f"信頼リストの連番 {registry.sequence} は既に別の内容で発行されています",
            code="registry_sequence_conflict",
        )
    return registry
