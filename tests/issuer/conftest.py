"""Fixtures of the issuer tests: a real database (SQLite file and PostgreSQL), the services,
an in-process client and a real uvicorn server on loopback.

PostgreSQL tests run against 127.0.0.1:5432 (or ``DATABASE_URL``): each test gets its own
database cloned from a migrated template.  When the server is unreachable they skip with the
reason — unless ``FURUSATO_REQUIRE_POSTGRES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from issuer.app import create_app
from issuer.auth import create_token
from issuer.bootstrap import Services, open_services
from issuer.db import Database, migrate
from issuer.serve import BackgroundServer
from issuer.serve import free_port as free_port  # used by other test packages
from issuer.settings import Settings
from issuer.tenants import TenantInfo, create_tenant

SECRET = "test-secret-0123456789abcdef"
PG_ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _pg_reason() -> str | None:
    try:
        engine = create_engine(
            PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    return None


def _url_with_db(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    reason = _pg_reason()
    if reason is not None:
        if os.environ.get("FURUSATO_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"furusato_tpl_{os.getpid()}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(_url_with_db(name))
    migrate(database)
    database.dispose()
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name = f"furusato_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _url_with_db(name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issuer.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@dataclass
class World:
    """Services with one or two municipalities and tokens, for one test."""

    svc: Services
    tenant: TenantInfo
    other: TenantInfo
    admin_token: str
    staff_token: str
    auditor_token: str
    other_staff_token: str

    @property
    def base_url(self) -> str:
        return self.svc.settings.base_url


def make_world(database_url: str, data_dir: Path, public_url: str, *, pool_size: int = 10) -> World:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret=SECRET,
        public_url=public_url,
        register_per_minute=1000,
    )
    svc = open_services(settings, SECRET, pool_size=pool_size)
    now = datetime.now(UTC)
    with svc.db.transaction() as session:
        tenant = create_tenant(
            session,
            svc.ring,
            lg_code="015814",
            public_url=public_url,
            did_method="web",
            now=now,
            random_bytes=secrets.token_bytes,
        )
        other = create_tenant(
            session,
            svc.ring,
            lg_code="011002",
            public_url=public_url,
            did_method="web",
            now=now,
            random_bytes=secrets.token_bytes,
        )
        tokens = [
            create_token(session, lg, role, name=None, now=now, actor="test")
            for lg, role in (
                ("015814", "admin"),
                ("015814", "staff"),
                ("015814", "auditor"),
                ("011002", "staff"),
            )
        ]
    return World(svc, tenant, other, *tokens)


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    w = make_world(database_url, tmp_path / "data", "http://localhost:8000")
    yield w
    w.svc.close()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc), base_url="http://localhost:8000") as test_client:
        yield test_client


class AppServer(BackgroundServer):
    """An ASGI app on a real uvicorn server on loopback, in a thread."""

    def __init__(self, app: Any, port: int | None = None, host_name: str = "127.0.0.1") -> None:
        super().__init__(app, port or free_port(), host_name)


class LiveServer(AppServer):
    """The issuer service of ``world`` on loopback, as http://localhost:<port>."""

    def __init__(self, world: World, port: int) -> None:
        super().__init__(create_app(world.svc), port, host_name="localhost")
        self.world = world


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    port = free_port()
    w = make_world(database_url, tmp_path / "data", f"http://localhost:{port}", pool_size=20)
    with LiveServer(w, port) as server:
        yield server
    w.svc.close()


def with_settings(world: World, **changes: object) -> None:
    world.svc.settings = replace(world.svc.settings, **changes)  # type: ignore[arg-type]
