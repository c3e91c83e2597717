"""``furusato-issuer token list|revoke`` and ``keys revoke`` (docs/guide-staff.md §5, §11).

Against the real service on loopback (SQLite and PostgreSQL), the commands run in-process on
the same database:

* a revoked token gets 401 from the admin API over HTTP, at once; ``token list`` shows ids,
  prefixes, roles, names and times — never a token's secret part or hash; both audited;
* a compromised key is refused while it is the key that signs now ("rotate first"); once
  retired and revoked, the DID document served over HTTP and ``registry entry`` mark it
  revoked, a credential it signed no longer verifies with the issuer's VC-API verify nor
  with the verifier once the registry is re-signed, and credentials of the new key do.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer.db import ApiToken, AuditEvent
from issuer.issuance import issue_resident
from tests.cli.helpers import assert_one_line_error
from tests.issuer.conftest import SECRET, LiveServer, World
from tests.wallet.helpers import (
    HTTP_TIMEOUT,
    RegistryDir,
    download_status_lists,
    expect,
    issuer,
    verify_json,
)

LG = "015814"
OTHER = "011002"

Doc = dict[str, Any]


def service_args(world: World) -> list[str]:
    settings = world.svc.settings
    return [
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.effective_database_url,
    ]


def token_id(token: str) -> str:
    return token.split("_")[2]  # fvc_<lgCode>_<id>_<secret>


def audit_events(world: World, lg_code: str, action: str) -> list[AuditEvent]:
    with world.svc.db.read() as session:
        return list(
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.lg_code == lg_code, AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            ).scalars()
        )


def issue(world: World, lg_code: str = LG) -> Doc:
    holder = did_key_from_public_key(
        PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
    )
    issued = issue_resident(
        world.svc.db,
        world.svc.ring,
        world.svc.settings,
        lg_code=lg_code,
        holder=holder,
        tier="basic",
        now=datetime.now(UTC),
        source="test",
        actor="test",
    )
    return issued.credential


# --- tokens ------------------------------------------------------------------------------------


def test_a_revoked_token_gets_401_from_the_admin_api(live: LiveServer) -> None:
    world = live.world
    url = f"{live.url}/admin/api/credentials"
    headers = {"Authorization": f"Bearer {world.staff_token}"}
    assert httpx.get(url, headers=headers, timeout=HTTP_TIMEOUT).status_code == 200
    console = f"{live.url}/admin"
    signed_in = {"fvc_admin": world.staff_token}  # the console's cookie holds the token
    assert "/admin/logout" in httpx.get(console, cookies=signed_in, timeout=HTTP_TIMEOUT).text

    done = expect(
        issuer(
            "token", "revoke", "--lg-code", LG, token_id(world.staff_token), *service_args(world)
        ),
        0,
    )
    assert "トークンを無効にしました" in done.stdout
    assert "revoked token" in done.stdout

    refused = httpx.get(url, headers=headers, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    # the console too: a session signed in before is signed out, a new sign-in refused
    page = httpx.get(console, cookies=signed_in, timeout=HTTP_TIMEOUT)
    assert "/admin/logout" not in page.text
    assert "/admin/login" in page.text
    login = httpx.post(f"{console}/login", data={"token": world.staff_token}, timeout=HTTP_TIMEOUT)
    assert login.status_code == 401
    # the other tokens still work: one token revoked, nothing else
    admin = {"Authorization": f"Bearer {world.admin_token}"}
    assert httpx.get(url, headers=admin, timeout=HTTP_TIMEOUT).status_code == 200

    # audited once; a second revoke changes nothing and says so
    (event,) = audit_events(world, LG, "token.revoke")
    assert event.subject == token_id(world.staff_token)
    assert event.actor == "cli"
    again = expect(
        issuer(
            "token", "revoke", "--lg-code", LG, token_id(world.staff_token), *service_args(world)
        ),
        0,
    )
    assert "既に無効です" in again.stdout
    assert "already revoked" in again.stdout
    assert len(audit_events(world, LG, "token.revoke")) == 1
    checked = expect(issuer("audit", "verify", "--lg-code", LG, *service_args(world)), 0)
    assert "改ざんなし" in checked.stdout


def test_token_list_shows_no_secret(world: World) -> None:
    listed = json.loads(
        expect(issuer("token", "list", "--lg-code", LG, "--json", *service_args(world)), 0).stdout
    )
    tokens = (world.admin_token, world.staff_token, world.auditor_token)
    assert {item["id"] for item in listed} == {token_id(t) for t in tokens}
    assert {item["role"] for item in listed} == {"admin", "staff", "auditor"}
    for item in listed:
        assert set(item) == {"id", "prefix", "role", "name", "created", "revoked"}
        assert item["prefix"] == f"fvc_{LG}_{item['id']}_"
        assert item["revoked"] is None
    expect(
        issuer(
            "token", "revoke", "--lg-code", LG, token_id(world.auditor_token), *service_args(world)
        ),
        0,
    )
    text = expect(issuer("token", "list", "--lg-code", LG, *service_args(world)), 0).stdout
    as_json = expect(
        issuer("token", "list", "--lg-code", LG, "--json", *service_args(world)), 0
    ).stdout
    with world.svc.db.read() as session:
        hashes = session.execute(select(ApiToken.token_hash)).scalars().all()
    for shown in (text, as_json):
        for token in (*tokens, world.other_staff_token):
            assert token.split("_", 3)[3] not in shown  # the secret part
        for digest in hashes:
            assert digest not in shown
        assert token_id(world.other_staff_token) not in shown  # another municipality's
    lines = {line.split()[0]: line for line in text.splitlines()}
    assert "失効 revoked" in lines[token_id(world.auditor_token)]
    assert "有効 active" in lines[token_id(world.admin_token)]
    revoked = {item["id"]: item["revoked"] for item in json.loads(as_json)}
    assert revoked[token_id(world.auditor_token)] is not None


@pytest.mark.parametrize("which", ["unknown", "other municipality", "malformed"])
def test_revoking_a_token_that_is_not_there_is_one_line(world: World, which: str) -> None:
    wanted = {
        "unknown": "0123456789ab",
        "other municipality": token_id(world.other_staff_token),
        "malformed": "../../x",
    }[which]
    result = issuer("token", "revoke", "--lg-code", LG, wanted, *service_args(world))
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["not_found"])
    assert audit_events(world, LG, "token.revoke") == []
    # the other municipality's token still works
    with world.svc.db.read() as session:
        row = session.get(ApiToken, (OTHER, token_id(world.other_staff_token)))
        assert row is not None
        assert row.revoked_at is None


# --- keys --------------------------------------------------------------------------------------


def vc_api_verify(live: LiveServer, credential: Doc) -> httpx.Response:
    return httpx.post(
        f"{live.url}/credentials/verify",
        json={"verifiableCredential": credential},
        timeout=HTTP_TIMEOUT,
    )


def test_a_revoked_key_fails_everything_it_signed(live: LiveServer, tmp_path: Path) -> None:
    world = live.world
    did = world.tenant.did
    args = service_args(world)
    old = issue(world)
    assert old["proof"]["verificationMethod"] == f"{did}#key-1"
    registry = RegistryDir(tmp_path / "registry").init()
    registry.add_from(world, LG, tmp_path / "entry-before.json")
    before = registry.sign(tmp_path / "registry-before.jws")
    lists = download_status_lists(old, tmp_path / "status")
    trust = ["--registry", str(before), "--registry-key", str(registry.public_key)]
    for path in lists:
        trust += ["--status-list", str(path)]
    (old_file := tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    code, result = verify_json(old_file, *trust)
    assert code == 0, result

    # the key that signs now is refused: rotate first
    refused = issuer("keys", "revoke", "--lg-code", LG, "key-1", *args)
    assert refused.exit_code == 1
    assert_one_line_error(refused.stderr, contains=["rotate_first", "keys rotate"])
    assert audit_events(world, LG, "key.revoke") == []

    expect(
        issuer("keys", "rotate", "--lg-code", LG, *args, env={"FURUSATO_ISSUER_SECRET": SECRET}), 0
    )
    new = issue(world)
    assert new["proof"]["verificationMethod"] == f"{did}#key-2"
    done = expect(
        issuer("keys", "revoke", "--lg-code", LG, f"{did}#key-1", "--reason", "漏えい", *args), 0
    )
    assert f"{did}#key-1" in done.stdout
    assert "registry entry" in done.stderr  # what to do next
    (event,) = audit_events(world, LG, "key.revoke")
    assert event.subject == "key-1"
    assert json.loads(event.details) == {"reason": "漏えい"}

    # the DID document, as served: key-1 kept with "revoked", in no relationship
    document = httpx.get(f"{live.url}/lg/{LG}/did.json", timeout=HTTP_TIMEOUT).json()
    methods = {vm["id"]: vm for vm in document["verificationMethod"]}
    assert "revoked" in methods[f"{did}#key-1"]
    assert "revoked" not in methods[f"{did}#key-2"]
    assert f"{did}#key-1" not in document["assertionMethod"]
    assert f"{did}#key-1" not in document["authentication"]
    assert f"{did}#key-2" in document["assertionMethod"]
    listed = json.loads(expect(issuer("keys", "list", "--lg-code", LG, "--json", *args), 0).stdout)
    assert [k["revoked"] is not None for k in listed] == [True, False]

    # the registry entry carries it too
    entry = json.loads(expect(issuer("registry", "entry", "--lg-code", LG, *args), 0).stdout)
    keys = {k["id"]: k for k in entry["keys"]}
    assert keys[f"{did}#key-1"]["revoked"] == methods[f"{did}#key-1"]["revoked"]
    assert "revoked" not in keys[f"{did}#key-2"]

    # the issuer's own VC-API verify: the old credential fails, the new one verifies
    answer = vc_api_verify(live, old)
    assert answer.status_code == 400, answer.text
    assert answer.json()["verified"] is False
    # the DID document lists key-1 under no relationship (today's code); key_revoked would do
    assert set(answer.json()["codes"]) & {"verification_method_unresolved", "key_revoked"}
    assert vc_api_verify(live, new).status_code == 200

    # the verifier, once the operator re-signs the registry with the new entry
    registry.add_from(world, LG, tmp_path / "entry-after.json")
    after = registry.sign(tmp_path / "registry-after.jws")
    lists = download_status_lists(new, tmp_path / "status-after")
    trust = ["--registry", str(after), "--registry-key", str(registry.public_key)]
    for path in lists:
        trust += ["--status-list", str(path)]
    code, result = verify_json(old_file, *trust)
    assert code == 1, result
    assert "key_revoked" in result["codes"]
    (new_file := tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    code, result = verify_json(new_file, *trust)
    assert code == 0, result

    # again: nothing changes; the audit chain is intact
    again = expect(issuer("keys", "revoke", "--lg-code", LG, "key-1", *args), 0)
    assert "already revoked" in again.stdout
    assert len(audit_events(world, LG, "key.revoke")) == 1
    expect(issuer("audit", "verify", "--lg-code", LG, *args), 0)


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("key-9", "not_found"),
        ("did:web:localhost%3A8000:lg:011002#key-1", "not_found"),  # another municipality's
        ("key-1", "rotate_first"),
    ],
)
def test_keys_revoke_refusals_are_one_line(world: World, key: str, code: str) -> None:
    result = issuer("keys", "revoke", "--lg-code", LG, key, *service_args(world))
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=[code])
    assert audit_events(world, LG, "key.revoke") == []
