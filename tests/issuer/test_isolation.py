"""Tenant isolation and roles, on SQLite and PostgreSQL.

One deployment hosts 015814 (the home municipality of the fixtures) and 011002.  A token of
one municipality must see nothing of the other: its credentials answer 404 exactly like
credentials that do not exist, its lists and audit log never show them, and the VC-API
signs only as the token's own DID.  Roles: auditors read, staff issue and change states,
admins also rotate keys (ISSUE 3, "Admin API and auth").
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer.auth import create_token
from issuer.db import AuditEvent, IssuedCredential, SigningKey, StatusEntry, StatusList
from issuer.resolving import LocalStatusLists, tenant_resolver
from schemas.municipalities import municipality_table
from tests.issuer.conftest import World
from tests.issuer.wallet_sim import receive
from vc.furusato import resident_credential
from vc.statuslist import BitstringStatusList
from vc.verify import VerifyOptions, verify_credential

HOME = "015814"
OTHER = "011002"
V2 = "https://www.w3.org/ns/credentials/v2"
PROBLEM_JSON = "application/problem+json"
UNKNOWN_ID = "urn:uuid:00000000-0000-4000-8000-000000000000"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def extra_token(world: World, lg_code: str, role: str) -> str:
    with world.svc.db.transaction() as session:
        return create_token(
            session, lg_code, role, name="isolation test", now=datetime.now(UTC), actor="test"
        )


def issue(client: TestClient, token: str, **extra: Any) -> dict[str, Any]:
    """A credential with revocation and suspension entries, signed through the VC-API."""
    response = client.post(
        "/credentials/issue",
        json={
            "credential": {
                "@context": [V2],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:resident", "name": "ふるさと"},
                **extra,
            },
            "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    credential: dict[str, Any] = response.json()["verifiableCredential"]
    return credential


def stored(world: World, lg_code: str, credential_id: str) -> dict[str, Any]:
    """What the database holds of a credential: its row, its status entries and their bits."""
    with world.svc.db.read() as session:
        row = session.get(IssuedCredential, (lg_code, credential_id))
        assert row is not None
        entries = list(
            session.execute(
                select(StatusEntry).where(
                    StatusEntry.lg_code == lg_code, StatusEntry.credential_id == credential_id
                )
            ).scalars()
        )
        bits = {}
        for entry in entries:
            status_list = session.get(StatusList, (lg_code, entry.purpose, entry.list_number))
            assert status_list is not None
            bits[entry.purpose] = (
                entry.list_number,
                entry.list_index,
                BitstringStatusList(status_list.length, bytearray(status_list.bits)).get(
                    entry.list_index
                ),
                status_list.version,
            )
        return {"state": row.state, "document": row.document, "status": bits}


def audit_count(world: World, lg_code: str) -> int:
    with world.svc.db.read() as session:
        return int(
            session.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.lg_code == lg_code)
            ).scalar_one()
        )


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert set(body["messages"]) == {"ja", "en"}
    return body


def _without_id(body: dict[str, Any], credential_id: str) -> str:
    """A problem body with the credential id blanked, to compare 'foreign' with 'missing'."""
    text: str = repr(body).replace(credential_id, "<id>")
    return text


# --- another municipality's staff -----------------------------------------------------------


def test_other_municipality_cannot_see_or_change_a_credential(
    world: World, client: TestClient
) -> None:
    credential_id = issue(client, world.staff_token)["id"]
    before = stored(world, HOME, credential_id)
    home_audit, other_audit = audit_count(world, HOME), audit_count(world, OTHER)
    foreign = bearer(world.other_staff_token)

    read = client.get(f"/admin/api/credentials/{credential_id}", headers=foreign)
    missing = client.get(f"/admin/api/credentials/{UNKNOWN_ID}", headers=foreign)
    assert_problem(read, 404, "not_found")
    assert _without_id(read.json(), credential_id) == _without_id(missing.json(), UNKNOWN_ID)

    for action in ("revoke", "suspend", "reinstate"):
        response = client.post(
            f"/admin/api/credentials/{credential_id}/{action}",
            json={"reason": "cross-tenant attempt"},
            headers=foreign,
        )
        body = assert_problem(response, 404, "not_found")
        absent = client.post(f"/admin/api/credentials/{UNKNOWN_ID}/{action}", headers=foreign)
        assert _without_id(body, credential_id) == _without_id(absent.json(), UNKNOWN_ID)

    assert stored(world, HOME, credential_id) == before
    assert (audit_count(world, HOME), audit_count(world, OTHER)) == (home_audit, other_audit)
    # and the home municipality still can (the refusals changed nothing)
    response = client.post(
        f"/admin/api/credentials/{credential_id}/suspend", headers=bearer(world.staff_token)
    )
    assert response.status_code == 200, response.text
    assert stored(world, HOME, credential_id)["status"]["suspension"][2] is True


def test_other_municipality_cannot_reinstate_a_suspended_credential(
    world: World, client: TestClient
) -> None:
    credential_id = issue(client, world.staff_token)["id"]
    response = client.post(
        f"/admin/api/credentials/{credential_id}/suspend", headers=bearer(world.staff_token)
    )
    assert response.status_code == 200, response.text
    before = stored(world, HOME, credential_id)
    assert before["state"] == "suspended"
    response = client.post(
        f"/admin/api/credentials/{credential_id}/reinstate",
        headers=bearer(world.other_staff_token),
    )
    assert_problem(response, 404, "not_found")
    assert stored(world, HOME, credential_id) == before


def test_lists_show_only_the_own_municipality(world: World, client: TestClient) -> None:
    home_ids = {issue(client, world.staff_token)["id"] for _ in range(3)}
    other_ids = {issue(client, world.other_staff_token)["id"] for _ in range(2)}

    def listed(token: str, **params: str) -> set[str]:
        response = client.get("/admin/api/credentials", params=params, headers=bearer(token))
        assert response.status_code == 200, response.text
        rows = response.json()["credentials"]
        return {row["id"] for row in rows}

    assert listed(world.staff_token) == home_ids
    assert listed(world.auditor_token) == home_ids
    assert listed(world.other_staff_token) == other_ids
    assert listed(world.other_staff_token, state="active", limit="500") == other_ids
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed(world.other_staff_token, before=future) == other_ids
    response = client.get("/admin/api/credentials", headers=bearer(world.other_staff_token))
    assert {row["lgCode"] for row in response.json()["credentials"]} == {OTHER}


def test_audit_log_shows_only_the_own_municipality(world: World, client: TestClient) -> None:
    home_id = issue(client, world.staff_token)["id"]
    other_id = issue(client, world.other_staff_token)["id"]

    # a staff token reads no audit log at all, its own or another's
    response = client.get("/admin/api/audit", headers=bearer(world.other_staff_token))
    assert_problem(response, 403, "insufficient_role")

    other_admin = extra_token(world, OTHER, "admin")
    response = client.get("/admin/api/audit?limit=1000", headers=bearer(other_admin))
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    subjects = {event["subject"] for event in events}
    assert other_id in subjects
    assert home_id not in subjects
    assert len(events) == audit_count(world, OTHER)
    assert world.tenant.did not in subjects  # 015814's tenant.create event

    response = client.get("/admin/api/audit/verify", headers=bearer(other_admin))
    assert response.status_code == 200, response.text
    assert response.json()["lgCode"] == OTHER
    assert response.json()["events"] == audit_count(world, OTHER)

    response = client.get("/admin/api/audit?limit=1000", headers=bearer(world.auditor_token))
    assert response.status_code == 200, response.text
    home_subjects = {event["subject"] for event in response.json()["events"]}
    assert home_id in home_subjects
    assert other_id not in home_subjects


def test_pre_authorized_code_is_bound_to_its_municipality(world: World, client: TestClient) -> None:
    response = client.post(
        "/admin/api/offers", json={"tier": "basic"}, headers=bearer(world.staff_token)
    )
    assert response.status_code == 201, response.text
    code = response.json()["credentialOffer"]["grants"][
        "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    ]["pre-authorized_code"]
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        "pre-authorized_code": code,
    }
    response = client.post(f"/lg/{OTHER}/token", data=form)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    response = client.post(f"/lg/{HOME}/token", data=form)
    assert response.status_code == 200, response.text


# --- the VC-API signs as the token's municipality only --------------------------------------


def test_vcapi_signs_as_the_tokens_municipality_only(world: World, client: TestClient) -> None:
    credential = issue(client, world.other_staff_token)
    assert credential["issuer"] == world.other.did
    assert credential["proof"]["verificationMethod"].startswith(world.other.did + "#")
    for entry in credential["credentialStatus"]:
        assert f"/status/{OTHER}/" in entry["statusListCredential"]

    with world.svc.db.read() as session:
        assert session.get(IssuedCredential, (OTHER, credential["id"])) is not None
        assert session.get(IssuedCredential, (HOME, credential["id"])) is None

    response = client.post(
        "/credentials/issue",
        json={
            "credential": {
                "@context": [V2],
                "type": ["VerifiableCredential"],
                "issuer": world.tenant.did,
                "credentialSubject": {"id": "did:example:resident", "name": "ふるさと"},
            }
        },
        headers=bearer(world.other_staff_token),
    )
    assert_problem(response, 403, "issuer_mismatch")


def test_vcapi_fills_in_the_issuer_of_a_resident_credential(
    world: World, client: TestClient
) -> None:
    """Without ``issuer``, a FurusatoResidentCredential is signed by the token's municipality
    with the issuer the profile wants — ``{"id": its DID, "name": its name}``, as every other
    issuance writes it — and verifies, over HTTP too."""
    now = datetime.now(UTC).replace(microsecond=0)
    holder = did_key_from_public_key(
        PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
    )
    unsigned = resident_credential(
        credential_id=None,
        issuer=world.other.did,
        issuer_name=world.other.name,
        municipality=municipality_table().get(world.other.lg_code),
        holder=holder,
        tier="basic",
        registered_since=now.date(),
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    del unsigned["issuer"]
    response = client.post(
        "/credentials/issue",
        json={
            "credential": unsigned,
            "options": {"credentialStatus": {"type": "BitstringStatusListEntry"}},
        },
        headers=bearer(world.other_staff_token),
    )
    assert response.status_code == 201, response.text
    credential = response.json()["verifiableCredential"]
    assert credential["issuer"] == {"id": world.other.did, "name": world.other.name}
    assert credential["proof"]["verificationMethod"].startswith(world.other.did + "#")
    verified = client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True


def test_vcapi_does_not_sign_premium(world: World, client: TestClient) -> None:
    """Premium only through an approved application (issuer.premium), not by the VC-API."""
    now = datetime.now(UTC).replace(microsecond=0)
    holder = did_key_from_public_key(
        PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
    )
    premium = resident_credential(
        credential_id=None,
        issuer=world.other.did,
        issuer_name=world.other.name,
        municipality=municipality_table().get(world.other.lg_code),
        holder=holder,
        tier="premium",
        registered_since=now.date(),
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    response = client.post(
        "/credentials/issue", json={"credential": premium}, headers=bearer(world.other_staff_token)
    )
    assert_problem(response, 403, "premium_requires_application")
    with world.svc.db.read() as session:
        count = session.execute(select(func.count()).select_from(IssuedCredential)).scalar_one()
    assert count == 0


def test_vcapi_refuses_claims_about_another_municipality(world: World, client: TestClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    holder = did_key_from_public_key(
        PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
    )
    about_home = resident_credential(
        credential_id=None,
        issuer=world.other.did,
        issuer_name=world.other.name,
        municipality=municipality_table().get(HOME),
        holder=holder,
        tier="basic",
        registered_since=now.date(),
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    response = client.post(
        "/credentials/issue",
        json={"credential": about_home},
        headers=bearer(world.other_staff_token),
    )
    assert_problem(response, 403, "other_municipality")
    with world.svc.db.read() as session:
        count = session.execute(select(func.count()).select_from(IssuedCredential)).scalar_one()
    assert count == 0


# --- roles ----------------------------------------------------------------------------------


def test_auditor_reads_but_cannot_change_or_offer(world: World, client: TestClient) -> None:
    credential_id = issue(client, world.staff_token)["id"]
    before = stored(world, HOME, credential_id)
    audit_before = audit_count(world, HOME)
    auditor = bearer(world.auditor_token)

    response = client.get(f"/admin/api/credentials/{credential_id}", headers=auditor)
    assert response.status_code == 200, response.text
    for action in ("revoke", "suspend", "reinstate"):
        response = client.post(f"/admin/api/credentials/{credential_id}/{action}", headers=auditor)
        assert_problem(response, 403, "insufficient_role")
    response = client.post("/admin/api/offers", json={"tier": "basic"}, headers=auditor)
    assert_problem(response, 403, "insufficient_role")
    response = client.post("/admin/api/keys/rotate", headers=auditor)
    assert_problem(response, 403, "insufficient_role")

    assert stored(world, HOME, credential_id) == before
    assert audit_count(world, HOME) == audit_before


def test_staff_cannot_rotate_keys(world: World, client: TestClient) -> None:
    for token in (world.staff_token, world.other_staff_token):
        response = client.post("/admin/api/keys/rotate", headers=bearer(token))
        assert_problem(response, 403, "insufficient_role")
    with world.svc.db.read() as session:
        keys = session.execute(select(SigningKey.lg_code, SigningKey.key_id)).all()
    assert sorted(tuple(k) for k in keys) == [(OTHER, "key-1"), (HOME, "key-1")]


def _methods(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {vm["id"].split("#")[1]: vm for vm in document["verificationMethod"]}


def test_admin_rotates_keys_and_old_credentials_still_verify(
    world: World, client: TestClient
) -> None:
    before_rotation = receive(
        client,
        client.post(f"/lg/{HOME}/registrations").json()["offerUri"],
        PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)),
    ).credential
    assert before_rotation["proof"]["verificationMethod"] == f"{world.tenant.did}#key-1"
    vcapi_before = issue(client, world.staff_token)
    other_document = client.get(f"/lg/{OTHER}/did.json").json()

    response = client.post("/admin/api/keys/rotate", headers=bearer(world.admin_token))
    assert response.status_code == 200, response.text
    assert response.json()["keyId"] == "key-2"
    rotated_at = datetime.fromisoformat(response.json()["validFrom"])

    document = client.get(f"/lg/{HOME}/did.json").json()
    methods = _methods(document)
    assert set(methods) == {"key-1", "key-2"}
    retired_at = datetime.fromisoformat(methods["key-1"]["validUntil"])
    assert timedelta(0) <= retired_at - rotated_at <= timedelta(seconds=1)  # whole seconds
    assert "validUntil" not in methods["key-2"]
    assert datetime.fromisoformat(methods["key-2"]["validFrom"]) == rotated_at
    assert "revoked" not in methods["key-1"]
    # the retired key still verifies what it signed; only the current key authenticates
    assert f"{world.tenant.did}#key-1" in document["assertionMethod"]
    assert f"{world.tenant.did}#key-2" in document["assertionMethod"]
    assert document["authentication"] == [f"{world.tenant.did}#key-2"]
    # the other municipality's keys are untouched
    assert client.get(f"/lg/{OTHER}/did.json").json() == other_document

    options = VerifyOptions(now=world.svc.clock(), status_lists=LocalStatusLists(world.svc))
    for credential in (before_rotation, vcapi_before):
        result = verify_credential(credential, resolver=tenant_resolver(world.svc), options=options)
        assert result.verified, result.to_json()

    after = issue(client, world.staff_token)
    assert after["proof"]["verificationMethod"] == f"{world.tenant.did}#key-2"
    result = verify_credential(after, resolver=tenant_resolver(world.svc), options=options)
    assert result.verified, result.to_json()

    # revoking through the API still works for a credential of the retired key
    response = client.post(
        f"/admin/api/credentials/{vcapi_before['id']}/revoke", headers=bearer(world.admin_token)
    )
    assert response.status_code == 200, response.text
    options = VerifyOptions(now=world.svc.clock(), status_lists=LocalStatusLists(world.svc))
    result = verify_credential(vcapi_before, resolver=tenant_resolver(world.svc), options=options)
    assert not result.verified
    assert "revoked" in result.to_json()["codes"]


# --- the admin console (cookie) -------------------------------------------------------------

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def console(client: TestClient, token: str) -> str:
    client.cookies.clear()
    client.cookies.set("fvc_admin", token)
    response = client.get("/admin")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page: str = response.text
    return page


def test_console_shows_only_the_own_municipality(world: World, client: TestClient) -> None:
    home_ids = {issue(client, world.staff_token)["id"] for _ in range(2)}
    other_ids = {issue(client, world.other_staff_token)["id"] for _ in range(2)}

    home_page = console(client, world.staff_token)
    other_page = console(client, world.other_staff_token)
    for credential_id in home_ids:
        assert credential_id in home_page
        assert credential_id not in other_page
    for credential_id in other_ids:
        assert credential_id in other_page
        assert credential_id not in home_page
    assert world.tenant.did in home_page
    assert world.other.did not in home_page
    assert world.other.did in other_page

    client.cookies.clear()
    login = client.get("/admin")
    assert login.status_code == 200
    assert not any(credential_id in login.text for credential_id in home_ids | other_ids)


def test_console_cannot_change_another_municipalitys_credential(
    world: World, client: TestClient
) -> None:
    credential_id = issue(client, world.staff_token)["id"]
    before = stored(world, HOME, credential_id)
    page = console(client, world.other_staff_token)
    match = _CSRF.search(page)
    assert match is not None
    response = client.post(
        f"/admin/credentials/{credential_id}/revoke", data={"csrf": match.group(1)}
    )
    assert response.status_code == 200, response.text
    assert f"no credential {credential_id} here" in response.text  # refused, as missing
    assert f'<td class="id">{credential_id}</td>' not in response.text
    assert stored(world, HOME, credential_id) == before
    client.cookies.clear()


def test_console_form_needs_the_csrf_of_its_own_session(world: World, client: TestClient) -> None:
    credential_id = issue(client, world.staff_token)["id"]
    before = stored(world, HOME, credential_id)
    other_csrf = _CSRF.search(console(client, world.other_staff_token))
    assert other_csrf is not None
    console(client, world.staff_token)  # the home cookie now, with the other's CSRF token
    response = client.post(
        f"/admin/credentials/{credential_id}/revoke", data={"csrf": other_csrf.group(1)}
    )
    assert_problem(response, 403, "csrf")
    assert stored(world, HOME, credential_id) == before
    client.cookies.clear()


def test_console_auditor_cannot_change_state(world: World, client: TestClient) -> None:
    credential_id = issue(client, world.staff_token)["id"]
    before = stored(world, HOME, credential_id)
    page = console(client, world.auditor_token)
    assert f"/admin/credentials/{credential_id}/revoke" not in page  # no buttons shown
    match = _CSRF.search(page)
    assert match is not None
    response = client.post(
        f"/admin/credentials/{credential_id}/revoke", data={"csrf": match.group(1)}
    )
    assert_problem(response, 403, "insufficient_role")
    assert stored(world, HOME, credential_id) == before
    client.cookies.clear()
