"""Schemathesis on the operations of notices, deeper than tests/issuer/test_schemathesis.py
(which fuzzes every operation a little): 100 generated requests each, the path's notice id
half the time a real call of the municipality (so the checks past "no such notice" run), the
admin token of its staff — no answer may be a 5xx.  SQLite: request handling is the same on
both databases; the bad-input tests run on PostgreSQL too."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from issuer.app import create_app
from tests.issuer.conftest import World
from tests.issuer.conftest import world as world  # the fixture
from tests.issuer.test_schemathesis import DOCUMENT
from tests.notices.conftest import call_body

# Schemathesis gives every operation's item the same node id, which pytest-xdist would run
# once: scripts/check runs these modules in one process (-m serial).
pytestmark = pytest.mark.serial

schema = schemathesis.openapi.from_dict(DOCUMENT)
EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'issuer.db'}"


@pytest.fixture
def app(world: World) -> FastAPI:
    return create_app(world.svc)


@pytest.fixture
def call_id(app: FastAPI, world: World) -> str:
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://localhost:8000") as client:
        created = client.post(
            "/admin/api/notices",
            json=call_body(places=2),
            headers={"Authorization": f"Bearer {world.staff_token}"},
        )
    assert created.status_code == 201, created.text
    notice_id: str = created.json()["id"]
    return notice_id


@schema.include(path_regex="notices").parametrize()
@EXAMPLES
def test_no_server_errors_in_notices(
    case: schemathesis.Case[Any], app: FastAPI, world: World, call_id: str
) -> None:
    parameters = case.path_parameters or {}
    if "notice_id" in parameters and zlib.crc32(repr(case.body).encode()) % 2 == 0:
        parameters["notice_id"] = call_id
    if "lg_code" in parameters and zlib.crc32(repr(case.query).encode()) % 2 == 0:
        parameters["lg_code"] = "015814"
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {world.admin_token}"},
        checks=[not_a_server_error],
    )
