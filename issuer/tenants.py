"""Municipalities (tenants), their signing keys and DIDs.

A tenant is created from its lgCode: name and prefecture come from the MIC table.  Its
signing key is generated here, sealed with the deployment secret (``shellkit.secretbox``:
scrypt + AES-256-GCM) and stored; only the public part is ever in clear.  did:web DIDs follow
the shared-platform pattern ``did:web:<host>:lg:<lgCode>`` (DESIGN.md §5), their DID document
lists current and retired keys with validity windows; a did:key tenant has exactly one key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from did.key import did_key_from_public_key, did_key_verification_method_id, resolve_did_key
from did.keys import KeyType, PrivateKey, generate_private_key
from did.web import VerificationKeyEntry, build_did_document, url_to_did_web
from issuer import audit
from issuer.db import SigningKey, Tenant
from issuer.errors import ConflictError, NotFoundError, ServiceError
from schemas.municipalities import municipality_table
from shellkit.secretbox import open_sealed, seal
from vc.dates import format_precise

DID_METHODS = ("web", "key")


def issuer_identifier(public_url: str, lg_code: str) -> str:
    """The OID4VCI credential issuer identifier (and did:web base) of a tenant."""
    return f"{public_url.rstrip('/')}/lg/{lg_code}"


def did_for(public_url: str, lg_code: str, method: str, key: PrivateKey) -> str:
    if method == "web":
        return url_to_did_web(issuer_identifier(public_url, lg_code))
    return did_key_from_public_key(key.public_key)


@dataclass(frozen=True)
class TenantInfo:
    """A tenant as the service uses it (a plain copy, safe to cache across sessions)."""

    lg_code: str
    name: str
    prefecture: str
    prefecture_code: str
    did: str
    did_method: str
    public_url: str
    settings: dict[str, Any]

    @property
    def identifier(self) -> str:
        return issuer_identifier(self.public_url, self.lg_code)

    def method_id(self, key_id: str, key: PrivateKey | None = None) -> str:
        if self.did_method == "key":
            assert key is not None
            return did_key_verification_method_id(key.public_key)
        return f"{self.did}#{key_id}"

    @classmethod
    def of(cls, row: Tenant) -> TenantInfo:
        return cls(
            row.lg_code,
            row.name,
            row.prefecture,
            row.prefecture_code,
            row.did,
            row.did_method,
            row.public_url,
            dict(row.settings or {}),
        )


@dataclass(frozen=True)
class ActiveKey:
    key_id: str
    verification_method: str
    signer: PrivateKey


class KeyRing:
    """Unsealed signing keys, kept in memory per process.  Unsealing costs a scrypt run
    (deliberately slow), so each key is opened once."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._keys: dict[tuple[str, str], PrivateKey] = {}
        self._lock = threading.Lock()

    def private_key(self, row: SigningKey) -> PrivateKey:
        cache_key = (row.lg_code, row.key_id)
        with self._lock:
            key = self._keys.get(cache_key)
        if key is None:
            jwk = json.loads(open_sealed(row.sealed_private, self._secret))
            key = PrivateKey.from_jwk(jwk)
            if key.public_key.multikey != row.public_multikey:
                raise ServiceError(
                    "a stored key does not match its public part",
                    "保存された鍵が公開鍵と一致しません",
                    code="key_corrupt",
                )
            with self._lock:
                self._keys[cache_key] = key
        return key

    def seal(self, key: PrivateKey, random_bytes: Callable[[int], bytes]) -> dict[str, Any]:
        return seal(
            json.dumps(key.to_jwk(include_private=True)).encode(),
            self._secret,
            random_bytes=random_bytes,
        )


def _new_key_row(
    lg_code: str,
    key_id: str,
    key: PrivateKey,
    ring: KeyRing,
    now: datetime,
    random_bytes: Callable[[int], bytes],
) -> SigningKey:
    return SigningKey(
        lg_code=lg_code,
        key_id=key_id,
        key_type=str(key.key_type),
        public_multikey=key.public_key.multikey,
        sealed_private=ring.seal(key, random_bytes),
        valid_from=now.replace(microsecond=0),
        valid_until=None,
        revoked_at=None,
    )


def create_tenant(
    session: Session,
    ring: KeyRing,
    *,
    lg_code: str,
    public_url: str,
    did_method: str,
    now: datetime,
    random_bytes: Callable[[int], bytes],
    actor: str = "cli",
    key_type: KeyType = KeyType.ED25519,
) -> TenantInfo:
    """Create a municipality with its first key, DID and audit chain."""
    municipality = municipality_table().get(lg_code)  # raises for malformed/unknown codes
    if municipality.is_prefecture:
        raise ServiceError(
            f"{lg_code} is a prefecture; a furusato issuer is a municipality",
            f"{lg_code} は都道府県のコードです。発行者は市区町村です",
            path="lgCode",
        )
    if did_method not in DID_METHODS:
        raise ServiceError(
            f"unknown DID method {did_method!r}", f"DID メソッド {did_method!r} は使えません"
        )
    if session.get(Tenant, lg_code) is not None:
        raise ConflictError(
            f"municipality {lg_code} already exists", f"自治体 {lg_code} は既に登録されています"
        )
    key = generate_private_key(key_type, random_bytes)
    prefecture = municipality_table().prefecture_of(lg_code)
    row = Tenant(
        lg_code=lg_code,
        name=municipality.name,
        prefecture=prefecture.prefecture,
        prefecture_code=prefecture.lg_code,
        did=did_for(public_url, lg_code, did_method, key),
        did_method=did_method,
        public_url=public_url.rstrip("/"),
        created_at=now,
        settings={},
    )
    session.add(row)
    session.flush()
    session.add(_new_key_row(lg_code, "key-1", key, ring, now, random_bytes))
    audit.start_chain(session, lg_code)
    session.flush()
    audit.append(
        session,
        lg_code,
        at=now,
        actor=actor,
        action="tenant.create",
        subject=row.did,
        details={"didMethod": did_method, "publicUrl": row.public_url},
    )
    audit.append(
        session,
        lg_code,
        at=now,
        actor=actor,
        action="key.create",
        subject="key-1",
        details={"keyType": str(key_type), "publicKeyMultibase": key.public_key.multikey},
    )
    return TenantInfo.of(row)


def get_tenant(session: Session, lg_code: str) -> TenantInfo:
    row = session.get(Tenant, lg_code)
    if row is None:
        raise NotFoundError(
            f"municipality {lg_code} is not hosted here",
            f"自治体 {lg_code} はこのサービスにありません",
            path="lgCode",
        )
    return TenantInfo.of(row)


@dataclass(frozen=True)
class SettingSpec:
    """A per-municipality setting (``tenants.settings``, a JSON object of sections)."""

    kind: type
    help_ja: str
    help_en: str
    low: int = 0
    high: int = 0


TENANT_SETTINGS: dict[str, SettingSpec] = {
    "premium.minActivities": SettingSpec(
        int,
        "プレミアム申請に必要な過去12か月の活動数 (既定 3)",
        "activities in the last 12 months a premium application needs (default 3)",
        0,
        50,
    ),
    "premium.sdJwtPersonalClaims": SettingSpec(
        bool,
        "プレミアムの SD-JWT VC に氏名・生年月日 (選択的開示) を記載できる (既定 false)",
        "premium SD-JWT VCs may carry name and birth date, selectively disclosable (default false)",
    ),
}


def _setting_value(name: str, text: str) -> object:
    spec = TENANT_SETTINGS[name]
    if spec.kind is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ServiceError(
            f"{name} is true or false, not {text[:40]!r}",
            f"{name} は true か false です ({text[:40]!r} ではありません)",
            path=name,
            code="invalid_setting",
        )
    if text.isascii() and text.isdigit() and spec.low <= int(text) <= spec.high:
        return int(text)
    raise ServiceError(
        f"{name} is a whole number from {spec.low} to {spec.high}, not {text[:40]!r}",
        f"{name} は {spec.low}〜{spec.high} の整数です ({text[:40]!r} ではありません)",
        path=name,
        code="invalid_setting",
    )


def update_settings(
    session: Session,
    lg_code: str,
    *,
    set_values: dict[str, str],
    unset: tuple[str, ...] = (),
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Set (text values, checked against :data:`TENANT_SETTINGS`) and unset settings of a
    municipality, audited; returns the settings as they are now."""
    for name in [*set_values, *unset]:
        if name not in TENANT_SETTINGS:
            raise ServiceError(
                f"unknown setting {name[:60]!r} (known: {', '.join(TENANT_SETTINGS)})",
                f"設定 {name[:60]!r} はありません (設定できるもの: {', '.join(TENANT_SETTINGS)})",
                path=name[:60],
                code="invalid_setting",
            )
    values = {name: _setting_value(name, text) for name, text in set_values.items()}
    row = session.get(Tenant, lg_code)
    if row is None:
        get_tenant(session, lg_code)  # raises the not-found error
        raise AssertionError("unreachable")
    current: dict[str, Any] = json.loads(json.dumps(row.settings or {}))
    for name in unset:
        section, _, key = name.partition(".")
        if isinstance(current.get(section), dict):
            current[section].pop(key, None)
            if not current[section]:
                del current[section]
    for name, value in values.items():
        section, _, key = name.partition(".")
        if not isinstance(current.get(section), dict):
            current[section] = {}
        current[section][key] = value
    row.settings = current
    audit.append(
        session,
        lg_code,
        at=now,
        actor=actor,
        action="tenant.settings",
        subject=lg_code,
        details={"set": values, "unset": list(unset)},
    )
    return current


def list_tenants(session: Session) -> list[TenantInfo]:
    return [
        TenantInfo.of(t) for t in session.execute(select(Tenant).order_by(Tenant.lg_code)).scalars()
    ]


def keys_of(session: Session, lg_code: str) -> list[SigningKey]:
    return list(
        session.execute(
            select(SigningKey)
            .where(SigningKey.lg_code == lg_code)
            .order_by(SigningKey.valid_from, SigningKey.key_id)
        ).scalars()
    )


def active_key(session: Session, ring: KeyRing, tenant: TenantInfo) -> ActiveKey:
    """The key that signs now: neither retired nor revoked."""
    current = [
        k
        for k in keys_of(session, tenant.lg_code)
        if k.valid_until is None and k.revoked_at is None
    ]
    if not current:
        raise ServiceError(
            f"municipality {tenant.lg_code} has no usable signing key",
            f"自治体 {tenant.lg_code} に使える署名鍵がありません",
            code="no_signing_key",
            status=503,
        )
    row = current[-1]
    key = ring.private_key(row)
    return ActiveKey(row.key_id, tenant.method_id(row.key_id, key), key)


def rotate_key(
    session: Session,
    ring: KeyRing,
    tenant: TenantInfo,
    *,
    now: datetime,
    random_bytes: Callable[[int], bytes],
    actor: str,
) -> SigningKey:
    """Retire the current key (kept in the DID document for what it signed) and add a new one."""
    if tenant.did_method == "key":
        raise ServiceError(
            "a did:key issuer cannot rotate its key (the DID is the key); use did:web",
            "did:key の発行者は鍵を更新できません (DID が鍵そのものです)。did:web を使ってください",
            code="rotation_unsupported",
        )
    rows = keys_of(session, tenant.lg_code)
    numbers = [int(k.key_id.split("-")[-1]) for k in rows if k.key_id.startswith("key-")]
    key_id = f"key-{max(numbers, default=0) + 1}"
    # Proofs carry ``created`` in whole seconds, rounded down (vc.dates.format_datetime), so
    # key windows are whole seconds too: the new key is valid from the second it was made,
    # the old one until the end of that second, and no proof of either falls outside.
    retire_at = now.replace(microsecond=0) + (
        timedelta(seconds=1) if now.microsecond else timedelta(0)
    )
    for row in rows:
        if row.valid_until is None and row.revoked_at is None:
            row.valid_until = retire_at
    key = generate_private_key(KeyType.ED25519, random_bytes)
    new_row = _new_key_row(tenant.lg_code, key_id, key, ring, now, random_bytes)
    session.add(new_row)
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="key.rotate",
        subject=key_id,
        details={
            "publicKeyMultibase": key.public_key.multikey,
            "retired": [r.key_id for r in rows if r.valid_until == retire_at],
        },
    )
    return new_row


def revoke_key(
    session: Session,
    tenant: TenantInfo,
    key_id: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> SigningKey:
    """Mark a key compromised: everything it signed stops verifying (DESIGN.md §5).

    The DID document keeps it in ``verificationMethod`` with ``revoked`` and drops it from
    every relationship; the registry entry carries ``revoked``.  ``key_id`` is the fragment
    (``key-1``) or the whole verification method id (``did:web:…#key-1``).  The key that
    signs now is refused (``rotate_first``): it must be retired by a rotation first, so the
    municipality always has a key to issue and to sign its status lists with.  A did:key
    issuer cannot revoke its only key.  Audited (``key.revoke``, with the reason); a key
    already revoked is left as it was (its first time stays, no second event)."""
    fragment = key_id
    if "#" in key_id:
        did, _, fragment = key_id.partition("#")
        if did != tenant.did:
            raise NotFoundError(
                f"{key_id[:120]} is not a key of {tenant.lg_code} ({tenant.did})",
                f"{key_id[:120]} は {tenant.lg_code} ({tenant.did}) の鍵ではありません",
                path="keyId",
            )
    if tenant.did_method == "key":
        raise ServiceError(
            "a did:key issuer cannot revoke its key (the DID is the key); use did:web",
            "did:key の発行者は鍵を失効できません (DID が鍵そのものです)。did:web を使ってください",
            code="revocation_unsupported",
        )
    row = session.get(SigningKey, (tenant.lg_code, fragment))
    if row is None:
        raise NotFoundError(
            f"{tenant.lg_code} has no key {fragment[:64]!r} (keys list shows them)",
            f"{tenant.lg_code} に鍵 {fragment[:64]!r} はありません (keys list で確認してください)",
            path="keyId",
        )
    if row.revoked_at is not None:
        return row
    if row.valid_until is None:
        raise ConflictError(
            f"{fragment} is the key that signs now: rotate first (keys rotate --lg-code "
            f"{tenant.lg_code}), then revoke it",
            f"{fragment} は今署名に使っている鍵です。先に鍵を更新し (keys rotate --lg-code "
            f"{tenant.lg_code})、それから失効させてください",
            path="keyId",
            code="rotate_first",
        )
    row.revoked_at = now
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="key.revoke",
        subject=fragment,
        details={"reason": reason} if reason else None,
    )
    return row


def did_document(session: Session, tenant: TenantInfo) -> dict[str, Any]:
    """The tenant's DID document: every key with its window; revoked keys under no relationship."""
    if tenant.did_method == "key":
        return resolve_did_key(tenant.did)
    entries = [
        VerificationKeyEntry(
            k.key_id,
            _public_key(k),
            valid_from=format_precise(k.valid_from),
            valid_until=format_precise(k.valid_until) if k.valid_until else None,
            revoked=format_precise(k.revoked_at) if k.revoked_at else None,
        )
        for k in keys_of(session, tenant.lg_code)
    ]
    return build_did_document(tenant.did, entries)


def _public_key(row: SigningKey) -> Any:
    from did.keys import PublicKey

    return PublicKey.from_multikey(row.public_multikey)
