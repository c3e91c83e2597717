"""Fixtures of the statistics tests.

``population`` is a municipality with a generated year (tests/stats/dataset.py: 50,000
registrations over 12 months and what follows from them), built once per test session and
database — SQLite and PostgreSQL — and served by a real uvicorn server on loopback.  Its clock
is fixed at ``dataset.NOW``.  Tests that change data use the per-test ``world`` of
tests/issuer/conftest.py instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from issuer.db import SigningKey
from tests.issuer.conftest import PG_ADMIN_URL, LiveServer, World, free_port, make_world
from tests.issuer.conftest import client as client
from tests.issuer.conftest import database_url as database_url  # SQLite and PostgreSQL
from tests.issuer.conftest import pg_template as pg_template
from tests.issuer.conftest import pg_url as pg_url
from tests.issuer.conftest import world as world
from tests.stats.dataset import NOW, Expected, Generated, expected, generate, insert

LG = "015814"  # 厚真町: the generated year
OTHER = "011002"  # 札幌市: a smaller one beside it
REGISTRATIONS = 50_000
HTTP_TIMEOUT = 60.0


def signing_key_id(world: World, lg_code: str) -> str:
    with world.svc.db.read() as session:
        key_id: str = session.execute(
            select(SigningKey.key_id).where(SigningKey.lg_code == lg_code).limit(1)
        ).scalar_one()
    return key_id


def populate(
    world: World, *, registrations: int = REGISTRATIONS, document: str = "{}"
) -> Generated:
    """The generated year of LG (and a smaller one of OTHER), written to the world's database;
    the world's clock is fixed at NOW."""
    data = generate(
        LG,
        signing_key_id(world, LG),
        registrations=registrations,
        older=2_000,
        seed=8,
        document=document,
    )
    data.extend(
        generate(
            OTHER,
            signing_key_id(world, OTHER),
            registrations=1_500,
            older=100,
            seed=9,
            document=document,
        )
    )
    insert(world.svc.db, data)
    world.svc.clock = lambda: NOW
    return data


@dataclass
class Population:
    world: World
    data: Generated
    url: str
    backend: str

    def expected(self, lg_code: str, months: list[str]) -> Expected:
        return expected(self.data, lg_code, NOW, months)

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=HTTP_TIMEOUT,
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def population(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Population]:
    base: Path = tmp_path_factory.mktemp("stats")
    dropped: str | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{base / 'issuer.db'}"
    else:
        template: str = request.getfixturevalue("pg_template")
        dropped = f"furusato_stats_{uuid.uuid4().hex[:12]}"
        admin = create_engine(
            PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{dropped}" TEMPLATE "{template}"'))
        url = f"{PG_ADMIN_URL.rpartition('/')[0]}/{dropped}"
    port = free_port()
    world = make_world(url, base / "data", f"http://localhost:{port}")
    data = populate(world)
    with LiveServer(world, port) as server:
        yield Population(world, data, server.url, request.param)
    world.svc.close()
    if dropped is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)'))
        admin.dispose()
