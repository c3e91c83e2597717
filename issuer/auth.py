"""Bearer tokens of the admin API and VC-API: roles, tenant scope, hashed storage.

A token reads ``fvc_<lgCode>_<id>_<secret>``: the tenant and id locate the row, the SHA-256 of
the whole token is compared in constant time.  Only the hash is stored, so a database dump
gives no usable token.  Roles:

* ``admin``   — everything of its municipality (keys, tokens, credentials);
* ``staff``   — issue, offer, revoke, suspend, reinstate; premium review; notices and the
  answers to calls (``notices``);
* ``auditor`` — read-only: credentials list, audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import audit
from issuer.db import ApiToken
from issuer.errors import AuthenticationError, ForbiddenError, NotFoundError, ServiceError
from issuer.tenants import get_tenant

ROLES = ("admin", "staff", "auditor")
_TOKEN = re.compile(r"fvc_([0-9]{6})_([A-Za-z0-9]{8,16})_([A-Za-z0-9_-]{20,64})")
_TOKEN_ID = re.compile(r"[A-Za-z0-9]{8,16}")

# What each role may do.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"read", "issue", "offer", "status", "premium", "notices", "keys", "tokens", "audit"}
    ),
    "staff": frozenset({"read", "issue", "offer", "status", "premium", "notices"}),
    "auditor": frozenset({"read", "audit"}),
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token of one municipality with one role."""

    lg_code: str
    token_id: str
    role: str

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}"

    def require(self, permission: str, lg_code: str | None = None) -> None:
        if lg_code is not None and lg_code != self.lg_code:
            # Another municipality's resources are invisible, not merely forbidden.
            raise ForbiddenError(
                "this token belongs to another municipality",
                "このトークンは別の自治体のものです",
                code="other_tenant",
            )
        if permission not in PERMISSIONS[self.role]:
            raise ForbiddenError(
                f"the role {self.role} may not {permission}",
                f"役割「{self.role}」にはこの操作 ({permission}) の権限がありません",
                code="insufficient_role",
            )


def create_token(
    session: Session, lg_code: str, role: str, *, name: str | None, now: datetime, actor: str
) -> str:
    """Create a token and return its text (shown once; only its hash is stored)."""
    if role not in ROLES:
        raise ServiceError(
            f"unknown role {role!r} (admin, staff, auditor)",
            f"役割 {role!r} はありません (admin, staff, auditor)",
            path="role",
        )
    get_tenant(session, lg_code)
    token_id = secrets.token_hex(6)
    token = f"fvc_{lg_code}_{token_id}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiToken(
            lg_code=lg_code,
            token_id=token_id,
            token_hash=token_hash(token),
            role=role,
            name=name,
            created_at=now,
            revoked_at=None,
        )
    )
    audit.append(
        session,
        lg_code,
        at=now,
        actor=actor,
        action="token.create",
        subject=token_id,
        details={"role": role, "name": name},
    )
    return token


def token_prefix(lg_code: str, token_id: str) -> str:
    """How a token's text begins (``fvc_<lgCode>_<id>_``): enough to tell which token a
    person holds, nothing that authenticates."""
    return f"fvc_{lg_code}_{token_id}_"


def list_tokens(session: Session, lg_code: str) -> list[ApiToken]:
    """The municipality's tokens, oldest first (revoked ones too).  Callers show the id, the
    prefix, the role, the name and the times — never ``token_hash``."""
    get_tenant(session, lg_code)
    return list(
        session.execute(
            select(ApiToken)
            .where(ApiToken.lg_code == lg_code)
            .order_by(ApiToken.created_at, ApiToken.token_id)
        ).scalars()
    )


def revoke_token(
    session: Session, lg_code: str, token_id: str, *, now: datetime, actor: str
) -> ApiToken:
    """Revoke a token: from now on it authenticates nothing (401).  Audited
    (``token.revoke``).  A token already revoked is left as it was — its first revocation
    time stays and no second event is written; the caller can tell by ``revoked_at``."""
    get_tenant(session, lg_code)
    row = session.get(ApiToken, (lg_code, token_id)) if _TOKEN_ID.fullmatch(token_id) else None
    if row is None:
        raise NotFoundError(
            f"municipality {lg_code} has no token {token_id[:40]!r} (token list shows the ids)",
            f"自治体 {lg_code} にトークン {token_id[:40]!r} はありません (ID は token list で確認)",
            path="tokenId",
        )
    if row.revoked_at is not None:
        return row
    row.revoked_at = now
    audit.append(
        session,
        lg_code,
        at=now,
        actor=actor,
        action="token.revoke",
        subject=token_id,
        details={"role": row.role, "name": row.name},
    )
    return row


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer`` header, or AuthenticationError."""
    if not authorization:
        raise AuthenticationError("a bearer token is required", "ベアラートークンが必要です")
    scheme, _, token = authorization.partition(" ")
    match = _TOKEN.fullmatch(token.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        raise AuthenticationError(
            "the bearer token is malformed", "ベアラートークンの形式が正しくありません"
        )
    lg_code, token_id, _ = match.groups()
    row = session.get(ApiToken, (lg_code, token_id))
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.token_hash, token_hash(token.strip()))
    ):
        raise AuthenticationError("the bearer token is not valid", "ベアラートークンが無効です")
    return Principal(lg_code, token_id, row.role)
