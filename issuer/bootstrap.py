"""Opening a deployment: the secret, the database, the services object the app and CLI share.

The secret that seals private keys comes from ``FURUSATO_ISSUER_SECRET`` (or
``--secret-file``), else a prompt when a terminal is attached.  For the embedded demo
(``serve`` on a fresh machine) a random secret is created once in ``DATA_DIR/secret``
(mode 0600) with a warning: fine for trying things out, not for production.

The database (``DATABASE_URL``, else SQLite in the data directory) is opened by
:func:`open_database`, for every command and the service alike: a URL that is not one we
support raises :class:`~issuer.dbtools.DatabaseUrlError` (the command line's usage error,
exit 2); a server that cannot be reached, a database that does not exist or refuses us
raises :class:`DatabaseUnavailableError` (exit 1) — each one line, the password never shown.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from issuer.db import Database, SigningKey, migrate, normalize_url
from issuer.dbtools import CONNECT_TIMEOUT_SECONDS, DatabaseUrlError, database_kind, display_url
from issuer.errors import ServiceError
from issuer.identity.providers import IdentityProviders, providers_from_settings
from issuer.ratelimit import RateLimiter
from issuer.settings import Settings
from issuer.tenants import KeyRing

MIN_SECRET_LENGTH = 16
_LIBPQ_PREFIX = re.compile(
    r'^(connection failed: )?(connection to server (at|on) "[^"]*"(, port \d+)? failed: )?'
    r"(FATAL: +)?"
)
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


class DatabaseUnavailableError(ServiceError):
    """The database of ``DATABASE_URL`` cannot be used: its server does not answer, the
    database does not exist, or it refuses us (password, permissions, a newer schema)."""

    code = "database_unreachable"


def _reason(exc: BaseException, url: str) -> str:
    """The first line of a driver error (PostgreSQL puts details on the next ones), with the
    URL's password, if any, masked."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    reason = lines[0].strip() if lines else type(original).__name__
    # libpq repeats the host and port the message shows anyway: keep what went wrong
    reason = _LIBPQ_PREFIX.sub("", reason)[:200] or type(original).__name__
    password = make_url(normalize_url(url)).password
    return reason.replace(str(password), "***") if password else reason


def _unavailable(url: str, reason: str, reason_ja: str | None = None) -> DatabaseUnavailableError:
    shown = display_url(url)
    return DatabaseUnavailableError(
        f"cannot use the database {shown}: {reason} (check DATABASE_URL or --database-url, "
        "that the server runs and that the database exists)",
        f"データベース {shown} を使えません: {reason_ja or reason} (DATABASE_URL または "
        "--database-url、サーバーが動いていること、データベースがあることを確認してください)",
    )


def open_database(settings: Settings, *, pool_size: int = 10) -> Database:
    """The deployment's database, migrated to the newest schema.

    :class:`DatabaseUrlError` for a URL that is malformed, names a database other than
    PostgreSQL or an SQLite file, or a directory that does not exist;
    :class:`DatabaseUnavailableError` when PostgreSQL cannot be reached within
    ``CONNECT_TIMEOUT_SECONDS``, the database does not exist, refuses the connection, or
    cannot be migrated.  Messages show the URL with its password masked."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    kind = database_kind(url)
    if kind == "sqlite":
        folder = Path(make_url(url).database or "").resolve().parent
        if not folder.is_dir():
            raise DatabaseUrlError(
                f"no such directory for the SQLite database: {folder}",
                f"SQLite のデータベースのディレクトリ {folder} がありません",
            )
    else:  # a first connection with a time limit: an unreachable host must not hang
        probe = create_engine(
            normalize_url(url),
            poolclass=NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
        try:
            with probe.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise _unavailable(url, _reason(exc, url)) from None
        finally:
            probe.dispose()
    try:
        db = Database(url, pool_size=pool_size)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseUrlError(
            f"cannot use the database URL {display_url(url)}: {_reason(exc, url)}",
            f"データベースの URL {display_url(url)} を使えません: {_reason(exc, url)}",
        ) from None
    try:
        migrate(db)
    except DBAPIError as exc:
        db.dispose()
        raise _unavailable(url, _reason(exc, url)) from None
    except CommandError as exc:  # a revision this version does not know
        db.dispose()
        raise _unavailable(
            url,
            f"its schema is not one this version knows (made by a newer version?): {exc}",
            f"このバージョンの知らないスキーマです (新しいバージョンで作られたもの?): {exc}",
        ) from None
    return db


def open_services(
    settings: Settings, secret: str, *, pool_size: int = 10, check: bool = True
) -> Services:
    """Open the database (:func:`open_database`: checked and migrated) and, when ``check``
    and keys exist, prove that ``secret`` is the deployment's by unsealing one stored key —
    so a mistyped secret is refused before it seals a new key or derives offer codes nobody
    can redeem."""
    db = open_database(settings, pool_size=pool_size)
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
