"""Storage of the issuer service: SQLAlchemy 2 models, engines, transactions, migrations.

SQLite (a file under the data directory) is the embedded default; PostgreSQL is used when a
``postgresql://`` URL is given.  Every table carries the tenant key ``lg_code`` (first in
every primary key), so the schema can be sharded by tenant (e.g. Citus, distributed on
``lg_code``) without redesign (DESIGN.md §11).  The schema is created and upgraded by
Alembic (``issuer/migrations``); ``migrate`` runs it programmatically.

Uniqueness that matters for safety is a database constraint, never an application check:
a status-list index is the primary key of ``status_entries``, so two credentials can never
get the same index, whatever the concurrency.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import DateTime, TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Tenant(Base):
    """A municipality (自治体) hosted by this deployment (a small reference table)."""

    __tablename__ = "tenants"

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    prefecture: Mapped[str] = mapped_column(String(16))
    prefecture_code: Mapped[str] = mapped_column(String(6))
    did: Mapped[str] = mapped_column(String(512), unique=True)
    did_method: Mapped[str] = mapped_column(String(8))
    public_url: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SigningKey(Base):
    """A signing key of a tenant, private part sealed at rest; rotation keeps history."""

    __tablename__ = "signing_keys"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # DID URL fragment
    key_type: Mapped[str] = mapped_column(String(16))
    public_multikey: Mapped[str] = mapped_column(String(256))
    sealed_private: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class StatusList(Base):
    """One Bitstring Status List of a tenant and purpose; ``bits`` is the raw bitstring."""

    __tablename__ = "status_lists"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    list_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=0)
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    published: Mapped[str | None] = mapped_column(Text)  # the signed list credential (JSON)
    published_version: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None]


class StatusEntry(Base):
    """An allocated index.  The primary key makes a second allocation impossible."""

    __tablename__ = "status_entries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["lg_code", "purpose", "list_number"],
            ["status_lists.lg_code", "status_lists.purpose", "status_lists.list_number"],
        ),
        Index("ix_status_entries_credential", "lg_code", "credential_id"),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    list_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(64))


LDP_VC = "ldp_vc"
"""The one credential format stored as JSON (``IssuedCredential.document``)."""


class IssuedCredential(Base):
    """What the issuer keeps of a credential it issued (no personal data is in it)."""

    __tablename__ = "credentials"
    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),
        Index("ix_credentials_issued", "lg_code", "issued_at"),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_did: Mapped[str | None] = mapped_column(String(512))
    tier: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="active")
    source: Mapped[str] = mapped_column(String(16))  # oid4vci | vcapi | cli
    key_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    # the OID4VCI format it was issued in: ldp_vc | jwt_vc_json | dc+sd-jwt (vc.oid4vci)
    format: Mapped[str] = mapped_column(String(16), default=LDP_VC, server_default=LDP_VC)
    # ldp_vc: the signed credential as JSON text; the others: the compact string as issued
    document: Mapped[str] = mapped_column(Text)

    def as_issued(self) -> dict[str, Any] | str:
        """The credential as the holder received it (OID4VCI §8.3): the JSON object for
        ``ldp_vc``, the compact string (``vc+jwt``, SD-JWT) for the other formats."""
        if self.format == LDP_VC:
            value: dict[str, Any] = json.loads(self.document)
            return value
        return self.document


class Offer(Base):
    """An OID4VCI credential offer with its pre-authorized code, and the token it became."""

    __tablename__ = "offers"
    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),
        # unique per tenant (a sharded table can only enforce keys that hold lg_code)
        Index("ix_offers_code", "lg_code", "code_hash", unique=True),
        Index("ix_offers_token", "lg_code", "token_hash", unique=True),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    # SHA-256 of the offer reference in the QR: the database alone cannot redeem an offer
    offer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    tx_code_hash: Mapped[str | None] = mapped_column(String(64))
    tx_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    token_hash: Mapped[str | None] = mapped_column(String(64))
    token_expires_at: Mapped[datetime | None]
    credential_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # web | api | counter


class Nonce(Base):
    """A c_nonce handed out by the nonce endpoint: single use, short-lived."""

    __tablename__ = "nonces"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token of the admin API / VC-API, scoped to one tenant; only its hash is kept.

    The token text names its tenant and id (``fvc_<lgCode>_<id>_<secret>``), so it is found
    by primary key and its hash compared in constant time."""

    __tablename__ = "api_tokens"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """One event of a tenant's append-only audit log; each row hashes the previous one."""

    __tablename__ = "audit_log"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(512))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The end of a tenant's audit chain; updating it serializes appends per tenant."""

    __tablename__ = "audit_heads"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


# --- premium registration (DESIGN.md §10) ------------------------------------------------------


class PremiumPerson(Base):
    """One row per person who ever applied for premium, keyed by the person key (an HMAC
    of name and birth date with the deployment's pepper — never the attributes themselves).
    Locked (``FOR UPDATE``) while the 3-municipality rule is checked, so two municipalities
    approving at once cannot both take a person's third place."""

    __tablename__ = "premium_people"

    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]


class PremiumMembership(Base):
    """An active (or ended) premium registration of a person with a municipality.  The only
    table read across tenants (by ``person_key``) — for the 3-municipality rule."""

    __tablename__ = "premium_memberships"
    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),
        Index("ix_premium_memberships_person", "person_key"),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # approved | active | ended
    valid_until: Mapped[datetime]
    updated_at: Mapped[datetime]


class PremiumApplication(Base):
    """An application for premium: the wallet's registration key (``holder_did``), the
    identity step (its provider state sealed in ``session`` until it is done, then only the
    person key and the method remain), staff's decision, the offer that delivers the
    credential."""

    __tablename__ = "premium_applications"
    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),
        Index("ix_premium_applications_state", "lg_code", "state"),
        Index("ix_premium_applications_login", "login_hash"),
        Index("ix_premium_applications_person", "person_key"),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_did: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(
        String(16)
    )  # identity | submitted | approved | rejected | issued
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status_hash: Mapped[str] = mapped_column(String(64))  # the wallet's token for its status
    login_hash: Mapped[str | None] = mapped_column(String(64))  # the identity step's link/state
    session: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    person_key: Mapped[str | None] = mapped_column(String(64))
    identity_method: Mapped[str | None] = mapped_column(String(8))
    identity_at: Mapped[datetime | None]
    activities: Mapped[int] = mapped_column(Integer, default=0)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    offer_id: Mapped[str | None] = mapped_column(String(64))
    replaces: Mapped[str | None] = mapped_column(String(64))  # credential id (basic or premium)


class ActivitySite(Base):
    """A place where registrants do 担い手活動; its check-in QR codes are signed per window."""

    __tablename__ = "activity_sites"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    radius_m: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Activity(Base):
    """One activity of a registrant (by registration key): a check-in or a reviewed document.
    A check-in QR counts once per registrant (the unique constraint)."""

    __tablename__ = "activities"
    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),
        Index("ix_activities_holder", "lg_code", "holder_did", "activity_date"),
        Index("uq_activities_checkin", "lg_code", "qr_id", "holder_did", unique=True),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_did: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))  # checkIn | document
    category: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[str | None] = mapped_column(String(64))
    qr_id: Mapped[str | None] = mapped_column(String(64))
    activity_date: Mapped[datetime]
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(128))
    credential_id: Mapped[str | None] = mapped_column(String(64))


class ActivityDocument(Base):
    """A document staff reviewed for an activity, stored encrypted (AES-256-GCM under a key
    derived from the deployment secret, bound to its tenant and id)."""

    __tablename__ = "activity_documents"
    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),)

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str] = mapped_column(String(128))


# --- notices and 手を挙げる (DESIGN.md §12, docs/notices.md) --------------------------------------


class Notice(Base):
    """A notice of a municipality: its topic (the Japanese name is the value), title and body
    (Japanese, optional English), an optional https link, the tiers it is for; a call for help
    (topic 募集) also has its places and deadline.  Withdrawn notices are kept (their answers
    count in the statistics) but leave the feed."""

    __tablename__ = "notices"
    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["tenants.lg_code"]),
        Index("ix_notices_feed", "lg_code", "published_at", "notice_id"),
    )

    lg_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    topic: Mapped[str] = mapped_column(String(16))
    title_ja: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    body_ja: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    audience: Mapped[str] = mapped_column(String(8))  # all | basic | premium
    published_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    places: Mapped[int | None] = mapped_column(Integer)  # calls (募集) only
    deadline: Mapped[datetime | None]  # calls (募集) only
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))


class NoticeResponse(Base):
    """A hand raised (手を挙げる) for a call: the registration that answered (its key and the
    credential it presented — no name unless the person wrote one in the message), when, and
    when it was withdrawn.  At most one answer per registration and call is not withdrawn (a
    partial unique index).  The tenant column is ``tenant_id`` (the lgCode): the statistics
    count hands raised per month from this table."""

    __tablename__ = "notice_responses"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.lg_code"]),
        ForeignKeyConstraint(["tenant_id", "notice_id"], ["notices.lg_code", "notices.notice_id"]),
        Index("ix_notice_responses_notice", "tenant_id", "notice_id", "created_at"),
        Index("ix_notice_responses_created", "tenant_id", "created_at"),
        Index(
            "uq_notice_responses_active",
            "tenant_id",
            "notice_id",
            "holder_did",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(6), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(32))
    holder_did: Mapped[str] = mapped_column(String(512))
    credential_id: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


# --- engines and transactions ---------------------------------------------------------------


def normalize_url(url: str) -> str:
    """``postgresql://`` → the psycopg 3 driver; other URLs unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with the settings each backend needs for concurrent writers."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60, "isolation_level": None},
            poolclass=NullPool if ":memory:" not in url else None,
            json_serializer=_json_dumps,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # Writers take the write lock at BEGIN: two deferred transactions that both read
            # then write would deadlock into SQLITE_BUSY; IMMEDIATE makes them queue instead.
            # Read-only sessions begin deferred and read beside the writer (WAL).
            read_only = connection.get_execution_options().get("furusato_read_only", False)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
    )


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Database:
    """An engine and its session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(furusato_read_only=True), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back entirely."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only (on SQLite it does not take the write lock)."""
        with self._readers() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def migrate(database: Database) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("issuer").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
