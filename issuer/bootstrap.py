"""Opening a deployment: the secret, the database, the services object the app and CLI share.

The secret that seals private keys comes from ``FURUSATO_ISSUER_SECRET`` (or
``--secret-file``), else a prompt when a terminal is attached.  For the embedded demo
(``serve`` on a fresh machine) a random secret is created once in ``DATA_DIR/secret``
(mode 0600) with a warning: fine for trying things out, not for production.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from issuer.db import Database, SigningKey, migrate
from issuer.errors import ServiceError
from issuer.identity.providers import IdentityProviders, providers_from_settings
from issuer.ratelimit import RateLimiter
from issuer.settings import Settings
from issuer.tenants import KeyRing

MIN_SECRET_LENGTH = 16
SECRET_FILE = "secret"  # noqa: S105 - a file name, not a password


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    db: Database
    ring: KeyRing
    secret: str = field(repr=False)
    clock: Callable[[], datetime] = _now
    limiter: RateLimiter = field(default_factory=RateLimiter)
    identity: IdentityProviders = field(default_factory=IdentityProviders)

    def close(self) -> None:
        self.identity.close()
        self.db.dispose()


def check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ServiceError(
            f"the secret must be at least {MIN_SECRET_LENGTH} characters",
            f"秘密 (シークレット) は {MIN_SECRET_LENGTH} 文字以上にしてください",
            code="weak_secret",
        )
    return secret


def stored_secret(data_dir: Path) -> str | None:
    path = data_dir / SECRET_FILE
    return path.read_text("utf-8").strip() if path.is_file() else None


def create_stored_secret(data_dir: Path) -> str:
    """A random secret kept in the data directory (the embedded demo only)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def resolve_secret(settings: Settings, prompt: Callable[[], str] | None) -> str:
    """The sealing secret: settings/env, the data dir's stored secret, else a prompt."""
    if settings.secret:
        return check_secret(settings.secret)
    stored = stored_secret(settings.data_dir)
    if stored:
        return stored
    if prompt is not None and sys.stdin.isatty():
        return check_secret(prompt())
    raise ServiceError(
        "no secret: set FURUSATO_ISSUER_SECRET (it seals the signing keys)",
        "秘密がありません: FURUSATO_ISSUER_SECRET を設定してください (署名鍵の暗号化に使います)",
        code="no_secret",
    )


def open_services(
    settings: Settings, secret: str, *, pool_size: int = 10, check: bool = True
) -> Services:
    """Open the database (migrating it) and, when ``check`` and keys exist, prove that
    ``secret`` is the deployment's by unsealing one stored key — so a mistyped secret is
    refused before it seals a new key or derives offer codes nobody can redeem."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url, pool_size=pool_size)
    migrate(db)
    ring = KeyRing(secret)
    if check:
        with db.read() as session:
            stored = session.execute(select(SigningKey).limit(1)).scalar_one_or_none()
            if stored is not None:
                ring.private_key(stored)  # WrongSecretError for another secret
    try:
        identity = providers_from_settings(settings)
    except (OSError, ValueError) as exc:
        db.dispose()
        raise ServiceError(
            f"identity proofing is misconfigured: {exc}",
            f"本人確認の設定が正しくありません: {exc}",
            code="identity_misconfigured",
        ) from None
    return Services(settings=settings, db=db, ring=ring, secret=secret, identity=identity)
