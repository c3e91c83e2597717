"""Property-based fuzzing of the issuer's HTTP API from its OpenAPI schema (schemathesis).

Every operation of ``/openapi.json`` gets generated requests — valid and invalid — sent to
the app in process, with an admin bearer token so the authenticated endpoints are reached
too; no answer may be a 5xx (ISSUE 3, "A schemathesis run against the OpenAPI schema finds
no 5xx").  SQLite only: request handling is the same on both databases, and the bad-input
tests run on PostgreSQL too.  Bounded: 25 examples per operation, no deadline.

The schema is loaded when the module is imported (one test per operation), from an app
whose services are never used: the OpenAPI document does not depend on them.  Each test
then sends its cases to an app over the ``world`` of that test.  (``schemathesis.pytest.
from_fixture`` would avoid the stand-in app but does not run under pytest 9: it sets
``Node._nodeid``, which pytest 9 no longer has.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from issuer.app import create_app
from issuer.bootstrap import Services
from issuer.db import Database
from issuer.settings import Settings
from issuer.tenants import KeyRing
from tests.issuer.conftest import SECRET, World

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, from an app whose services are never touched."""
    unused = Database("sqlite://")
    services = Services(
        settings=Settings(data_dir=Path(tempfile.gettempdir()), secret=SECRET),
        db=unused,
        ring=KeyRing(SECRET),
        secret=SECRET,
    )
    document: dict[str, Any] = create_app(services).openapi()
    unused.dispose()
    return document


DOCUMENT = _openapi_document()
# Schemathesis gives every operation's item the same node id, which pytest-xdist would run
# once: scripts/check runs these modules in one process (-m serial).
pytestmark = pytest.mark.serial

schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """This module runs on SQLite only (overrides the both-databases fixture)."""
    return f"sqlite:///{tmp_path / 'issuer.db'}"


@pytest.fixture
def app(world: World) -> FastAPI:
    return create_app(world.svc)


def test_the_schema_lists_every_api_operation() -> None:
    operation_ids = {
        operation["operationId"]
        for operations in DOCUMENT["paths"].values()
        for operation in operations.values()
    }
    assert {
        "register_basic",
        "get_credential_offer",
        "issuer_metadata",
        "as_metadata",
        "oid4vci_token",
        "oid4vci_nonce",
        "oid4vci_credential",
        "renew_credential",
        "did_document",
        "status_list",
        "status_list_index",
        "vcapi_issue",
        "vcapi_verify_credential",
        "vcapi_verify_presentation",
        "admin_list_credentials",
        "admin_get_credential",
        "admin_revoke",
        "admin_suspend",
        "admin_reinstate",
        "admin_create_offer",
        "admin_rotate_key",
        "admin_audit",
        "admin_audit_verify",
        "checkin",
        "premium_apply",
        "premium_application_status",
        "premium_jpki_challenge",
        "premium_jpki",
        "admin_premium_queue",
        "admin_premium_application",
        "admin_premium_approve",
        "admin_premium_reject",
        "admin_premium_document",
        "admin_premium_document_read",
        "admin_sites",
        "admin_create_site",
        "admin_close_site",
        "admin_site_qr",
        "premium_personal_claims",
        "premium_sealed_received",
        "notices_feed",
        "notice_raise_hand",
        "notice_withdraw_hand",
        "admin_notices",
        "admin_create_notice",
        "admin_notice",
        "admin_update_notice",
        "admin_close_notice",
        "admin_withdraw_notice",
        "admin_notice_responses",
        "admin_stats",
        "admin_stats_csv",
        "national_stats",
        "national_stats_csv",
    } == operation_ids


AUDIT_PATH, AUDIT_METHOD = "/admin/api/audit", "GET"
AUDIT_BUG = (
    "BUG found by schemathesis: GET /admin/api/audit?after=N has no upper bound, and an N "
    "beyond the INTEGER column is a 500 — SQLite: OverflowError from 2**63 "
    "(curl -H 'Authorization: Bearer <admin>' 'http://localhost:8000/admin/api/audit?"
    "after=9223372036854775808'); PostgreSQL: 'integer out of range' from 2**31 "
    "(…?after=2147483648)"
)


def _call(case: schemathesis.Case[Any], app: FastAPI, world: World) -> None:
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {world.admin_token}"},
        checks=[not_a_server_error],
    )


# The audit log's operation is fuzzed apart while its known 5xx stands (below); put it back
# into this test when the bug is fixed.
@schema.exclude(path=AUDIT_PATH, method=AUDIT_METHOD).parametrize()
@EXAMPLES
def test_no_server_errors(case: schemathesis.Case[Any], app: FastAPI, world: World) -> None:
    _call(case, app, world)


@schema.include(path=AUDIT_PATH, method=AUDIT_METHOD).parametrize()
@settings(EXAMPLES, max_examples=100)
def test_no_server_errors_in_the_audit_log(
    case: schemathesis.Case[Any], app: FastAPI, world: World
) -> None:
    """100 examples: with derandomized generation (fixed for given hypothesis and schemathesis
    versions) that reaches ``after=2**63``.  The deterministic replay, on both databases, is
    ``tests/issuer/test_bad_input.py::test_audit_cursor_beyond_the_column_range_is_not_a_500``.
    """
    _call(case, app, world)
