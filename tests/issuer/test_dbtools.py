"""``furusato-issuer db backup`` and ``db copy`` (issuer/dbtools.py, docs/guide-staff.md).

* A backup taken while credentials are being issued restores to a working issuer: the audit
  chain verifies, the backup is one consistent moment (every credential has its audit event),
  credentials issued before it still verify and a revoked one is still revoked.
* A copy of an SQLite deployment into a fresh PostgreSQL database serves the copied
  credentials' status lists and issues new credentials at indexes none of the old ones hold.
* A target that holds data is refused and left exactly as it was; a copy that does not verify
  is rolled back whole; a bad URL is a usage error of one bilingual line, never a traceback.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.engine import Connection

from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from issuer import audit, dbtools
from issuer.app import create_app
from issuer.bootstrap import Services, open_services
from issuer.cli import main as issuer_main
from issuer.db import AuditEvent, Base, IssuedCredential, StatusEntry
from issuer.issuance import Issued, change_state, issue_resident
from issuer.resolving import LocalStatusLists, tenant_resolver
from issuer.settings import Settings
from tests.cli.helpers import assert_one_line_error, free_port, run_script
from tests.issuer.conftest import PG_ADMIN_URL, SECRET, World, _url_with_db, make_world
from tests.wallet.helpers import run_cli
from vc.statuslist import BitstringStatusList
from vc.verify import VerifyOptions, verify_credential

LG = "015814"
OTHER = "011002"
PUBLIC_URL = "http://localhost:8000"


# --- helpers ---------------------------------------------------------------------------------


def holder() -> str:
    return did_key_from_public_key(
        PrivateKey.from_seed(KeyType.ED25519, secrets.token_bytes(32)).public_key
    )


def issue(svc: Services, lg_code: str = LG) -> Issued:
    return issue_resident(
        svc.db,
        svc.ring,
        svc.settings,
        lg_code=lg_code,
        holder=holder(),
        tier="basic",
        now=datetime.now(UTC),
        source="test",
        actor="test",
    )


def db_cli(*args: str | Path) -> Any:
    return run_cli(issuer_main, ["db", *args])


def sqlite_world(tmp_path: Path) -> World:
    data = tmp_path / "data"
    return make_world(f"sqlite:///{data / 'issuer.db'}", data, PUBLIC_URL)


def services(data_dir: Path, database_url: str | None = None) -> Services:
    settings = Settings(
        data_dir=data_dir, database_url=database_url, secret=SECRET, public_url=PUBLIC_URL
    )
    return open_services(settings, SECRET, pool_size=2)


def verify(svc: Services, credential: dict[str, Any]) -> Any:
    options = VerifyOptions(now=datetime.now(UTC), status_lists=LocalStatusLists(svc))
    return verify_credential(credential, resolver=tenant_resolver(svc), options=options)


def snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the database: its row count and a digest of its rows."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    result = {}
    try:
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                digest = dbtools._TableDigest()
                for row in connection.execute(dbtools._read_statement(table)):
                    digest.add(row)
                result[table.name] = (digest.rows, digest.hexdigest)
    finally:
        engine.dispose()
    return result


def status_bit(client: TestClient, entry: dict[str, Any]) -> bool:
    """GET the entry's status list from the service and read its bit."""
    path = entry["statusListCredential"].removeprefix(PUBLIC_URL)
    response = client.get(path)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert "BitstringStatusListCredential" in listed["type"]
    bits = BitstringStatusList.decode(listed["credentialSubject"]["encodedList"])
    return bits.get(int(entry["statusListIndex"]))


def entry_of(credential: dict[str, Any], purpose: str) -> dict[str, Any]:
    (entry,) = [e for e in credential["credentialStatus"] if e["statusPurpose"] == purpose]
    found: dict[str, Any] = entry
    return found


def indexes(credentials: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (e["statusPurpose"], e["statusListCredential"], e["statusListIndex"])
        for c in credentials
        for e in c["credentialStatus"]
    }


@pytest.fixture
def empty_pg(pg_template: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (no schema): what an administrator creates for the
    move.  ``pg_template`` supplies the skip (or, with FURUSATO_REQUIRE_POSTGRES=1, the
    failure) when PostgreSQL is unreachable."""
    name = f"furusato_dbt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield _url_with_db(name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- backup ----------------------------------------------------------------------------------


def test_backup_while_issuing_restores_a_working_issuer(tmp_path: Path) -> None:
    world = sqlite_world(tmp_path)
    kept = issue(world.svc)  # issued before the backup: must verify after the restore
    revoked = issue(world.svc)
    change_state(
        world.svc.db,
        lg_code=LG,
        credential_id=revoked.record.credential_id,
        action="revoke",
        now=datetime.now(UTC),
        actor="test",
    )
    issued_by_writer = [0]
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:  # the service keeps issuing while the backup runs
        try:
            while not stop.is_set():
                issue(world.svc, LG if issued_by_writer[0] % 2 else OTHER)
                issued_by_writer[0] += 1
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while issued_by_writer[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = issued_by_writer[0]
        backup = tmp_path / "backups" / "issuer-backup.db"
        backup.parent.mkdir()
        result = db_cli(
            "backup",
            "--data-dir",
            tmp_path / "data",
            "--database-url",
            world.svc.settings.effective_database_url,
            "--out",
            backup,
        )
        during = issued_by_writer[0]
        while issued_by_writer[0] < during + 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=30)
    world.svc.close()
    assert not failures, failures
    assert result.exit_code == 0, result.stderr
    assert "バックアップを作成しました" in result.stdout
    assert "backup written" in result.stdout
    assert "secret" in result.stderr  # the reminder: the secret is not in the backup
    assert issued_by_writer[0] > before  # the service was not stopped by the backup
    assert backup.is_file()
    assert sorted(p.name for p in backup.parent.iterdir()) == ["issuer-backup.db"]  # no .partial

    # restore as the guide says: the backup becomes issuer.db of a data directory
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copyfile(backup, restored_dir / "issuer.db")
    checked = run_cli(issuer_main, ["audit", "verify", "--data-dir", restored_dir])
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "改ざんなし" in checked.stdout
    svc = services(restored_dir)
    try:
        with svc.db.read() as session:
            rows = session.execute(select(func.count()).select_from(IssuedCredential)).scalar_one()
            issue_events = session.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "credential.issue")
            ).scalar_one()
            for code in (LG, OTHER):
                assert audit.verify_chain(session, code).ok
        # one moment: every credential in the backup has its audit event, and none is missing
        assert rows == issue_events
        assert 2 + before <= rows <= 2 + issued_by_writer[0]
        assert verify(svc, kept.credential).verified
        refused = verify(svc, revoked.credential)
        assert not refused.verified
        assert "revoked" in refused.to_json()["codes"]
        fresh = issue(svc)  # the restored issuer signs with its (unsealed) key
        assert verify(svc, fresh.credential).verified
    finally:
        svc.close()


def test_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    world = sqlite_world(tmp_path)
    world.svc.close()
    out = tmp_path / "existing.db"
    out.write_bytes(b"keep me")
    result = db_cli(
        "backup",
        "--data-dir",
        tmp_path / "data",
        "--database-url",
        world.svc.settings.effective_database_url,
        "--out",
        out,
    )
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["output_exists"])
    assert out.read_bytes() == b"keep me"
    assert not out.with_name("existing.db.partial").exists()


def test_backup_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nothing' / 'issuer.db'}"
    result = db_cli(
        "backup", "--data-dir", tmp_path, "--database-url", missing, "--out", tmp_path / "b.db"
    )
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["no_database"])
    assert not (tmp_path / "nothing").exists()  # nothing created by looking
    assert not (tmp_path / "b.db").exists()


def test_backup_on_postgresql_gives_the_pg_dump_command(tmp_path: Path) -> None:
    url = "postgresql://issuer:not-this-password@db.example.jp:5433/furusato"
    result = db_cli(
        "backup", "--data-dir", tmp_path, "--database-url", url, "--out", tmp_path / "f.dump"
    )
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["pg_dump", "pg_restore"])
    assert result.stdout.strip() == (
        f"pg_dump --format=custom --file={tmp_path / 'f.dump'} "
        "--dbname=postgresql://issuer@db.example.jp:5433/furusato"
    )
    assert "not-this-password" not in result.stdout + result.stderr
    assert not (tmp_path / "f.dump").exists()


# --- copy ------------------------------------------------------------------------------------


def test_copy_sqlite_to_postgresql_then_serve_and_issue_there(
    tmp_path: Path, empty_pg: str
) -> None:
    world = sqlite_world(tmp_path)
    old = [issue(world.svc).credential for _ in range(12)]
    old += [issue(world.svc, OTHER).credential for _ in range(3)]
    revoked, suspended, active = old[0], old[1], old[2]
    for credential, action in ((revoked, "revoke"), (suspended, "suspend")):
        change_state(
            world.svc.db,
            lg_code=LG,
            credential_id=credential["id"],
            action=action,
            now=datetime.now(UTC),
            actor="test",
        )
    source_url = world.svc.settings.effective_database_url
    world.svc.close()
    source = snapshot(source_url)

    result = db_cli(
        "copy", "--data-dir", tmp_path / "data", "--database-url", source_url, "--to", empty_pg
    )
    assert result.exit_code == 0, result.stderr
    assert "コピーして確認しました" in result.stdout
    assert "copied and verified" in result.stdout
    assert "FURUSATO_ISSUER_SECRET" in result.stdout  # the secret has to move too
    assert "Traceback" not in result.stderr
    # every table, row for row (counts and contents), as at the source
    assert snapshot(empty_pg) == source
    assert source["credentials"][0] == len(old)
    assert source["status_entries"][0] == 2 * len(old)

    svc = services(tmp_path / "pg-data", empty_pg)
    try:
        assert not svc.db.is_sqlite
        with TestClient(create_app(svc), base_url=PUBLIC_URL) as client:
            # the status lists of the copied credentials, served from PostgreSQL
            assert status_bit(client, entry_of(revoked, "revocation")) is True
            assert status_bit(client, entry_of(suspended, "suspension")) is True
            assert status_bit(client, entry_of(active, "revocation")) is False
            assert status_bit(client, entry_of(active, "suspension")) is False
            assert client.get("/healthz").status_code == 200
        assert verify(svc, active).verified
        assert "revoked" in verify(svc, revoked).to_json()["codes"]
        assert "suspended" in verify(svc, suspended).to_json()["codes"]
        # new credentials on PostgreSQL: the copied indexes are taken, never given again
        new = [issue(svc).credential for _ in range(12)]
        assert not indexes(new) & indexes(old)
        assert len(indexes(new)) == 2 * len(new)
        assert verify(svc, new[0]).verified
        with svc.db.read() as session:
            entries = session.execute(select(func.count()).select_from(StatusEntry)).scalar_one()
            assert entries == 2 * (len(old) + len(new))
    finally:
        svc.close()
    checked = run_cli(
        issuer_main, ["audit", "verify", "--data-dir", tmp_path, "--database-url", empty_pg]
    )
    assert checked.exit_code == 0, checked.stderr
    assert checked.stdout.count("✓") == 2


def test_copy_json_report_and_sqlite_backup_as_source(tmp_path: Path) -> None:
    """A backup file is a database: ``--database-url sqlite:///backup`` copies it (here into
    another SQLite file, the same code path without PostgreSQL)."""
    world = sqlite_world(tmp_path)
    issue(world.svc)
    world.svc.close()
    backup = tmp_path / "backup.db"
    made = db_cli(
        "backup",
        "--data-dir",
        tmp_path,
        "--database-url",
        f"sqlite:///{tmp_path / 'data' / 'issuer.db'}",
        "--out",
        backup,
    )
    assert made.exit_code == 0, made.stderr
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    result = db_cli(
        "copy",
        "--data-dir",
        tmp_path / "data",
        "--database-url",
        f"sqlite:///{backup}",
        "--to",
        target,
        "--batch-size",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] is True
    assert report["targetKind"] == "sqlite"
    counts = {t["name"]: t["rows"] for t in report["tables"]}
    assert counts["credentials"] == 1
    assert counts["tenants"] == 2
    assert {c["lgCode"] for c in report["auditChains"]} == {LG, OTHER}
    assert all(c["ok"] for c in report["auditChains"])
    assert snapshot(target) == snapshot(f"sqlite:///{backup}")


def test_copy_refuses_a_target_that_holds_data(tmp_path: Path, pg_url: str) -> None:
    source = sqlite_world(tmp_path)
    issue(source.svc)
    source.svc.close()
    target = make_world(pg_url, tmp_path / "pg-data", PUBLIC_URL)  # a deployment in use
    issue(target.svc)
    target.svc.close()
    before = snapshot(pg_url)
    result = db_cli(
        "copy",
        "--data-dir",
        tmp_path / "data",
        "--database-url",
        source.svc.settings.effective_database_url,
        "--to",
        pg_url,
    )
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["target_not_empty", "credentials"])
    assert snapshot(pg_url) == before


def test_a_copy_that_does_not_verify_is_rolled_back(
    tmp_path: Path, empty_pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sqlite_world(tmp_path)
    for _ in range(3):
        issue(world.svc)
    source_url = world.svc.settings.effective_database_url
    world.svc.close()

    def lose_a_row(connection: Connection) -> list[str]:  # a fault between copy and commit
        connection.execute(
            delete(IssuedCredential).where(
                IssuedCredential.credential_id
                == select(func.min(IssuedCredential.credential_id)).scalar_subquery()
            )
        )
        return []

    monkeypatch.setattr(dbtools, "fix_sequences", lose_a_row)
    result = db_cli("copy", "--data-dir", tmp_path, "--database-url", source_url, "--to", empty_pg)
    assert result.exit_code == 1
    assert "copy_mismatch" in result.stderr
    assert "Traceback" not in result.stderr
    assert all(rows == 0 for rows, _ in snapshot(empty_pg).values())


def test_a_tampered_audit_log_is_not_copied(tmp_path: Path, empty_pg: str) -> None:
    world = sqlite_world(tmp_path)
    issue(world.svc)
    with world.svc.db.transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.lg_code == LG, AuditEvent.seq == 1)
            .values(actor="someone-else")
        )
    source_url = world.svc.settings.effective_database_url
    world.svc.close()
    result = db_cli("copy", "--data-dir", tmp_path, "--database-url", source_url, "--to", empty_pg)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr.splitlines()[-1], contains=["audit_chain_broken", LG])
    assert all(rows == 0 for rows, _ in snapshot(empty_pg).values())


def test_fix_sequences_moves_serial_columns_past_copied_ids(empty_pg: str) -> None:
    engine = create_engine(empty_pg.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE counters (id SERIAL PRIMARY KEY, note TEXT)"))
            connection.execute(
                text(
                    "CREATE TABLE events (n INTEGER GENERATED BY DEFAULT AS IDENTITY "
                    "PRIMARY KEY, note TEXT)"
                )
            )
            connection.execute(text("INSERT INTO counters (id, note) VALUES (1, 'a'), (41, 'b')"))
            connection.execute(text("INSERT INTO events (n, note) VALUES (7, 'copied')"))
            fixed = dbtools.fix_sequences(connection)
            assert fixed == ["counters.id", "events.n"]
            added = connection.execute(
                text("INSERT INTO counters (note) VALUES ('new') RETURNING id")
            ).scalar_one()
            assert added == 42
            added = connection.execute(
                text("INSERT INTO events (note) VALUES ('new') RETURNING n")
            ).scalar_one()
            assert added == 8
            connection.execute(text("CREATE TABLE empty_one (id SERIAL PRIMARY KEY)"))
            dbtools.fix_sequences(connection)
            added = connection.execute(
                text("INSERT INTO empty_one DEFAULT VALUES RETURNING id")
            ).scalar_one()
            assert added == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("not a url", "bad_database_url"),
        ("mysql://issuer@db.example.jp/furusato", "mysql"),
        ("sqlite://", "sqlite:///"),
        ("postgresql://issuer@127.0.0.1", "bad_database_url"),
        ("sqlite:////no/such/directory/issuer.db", "/no/such/directory"),
        ("postgresql://postgres:hunter2-secret@127.0.0.1:{closed}/furusato", "***"),
    ],
)
def test_a_bad_target_url_is_a_usage_error(tmp_path: Path, target: str, needle: str) -> None:
    world = sqlite_world(tmp_path)
    world.svc.close()
    url = target.replace("{closed}", str(free_port()))
    source = world.svc.settings.effective_database_url
    result = db_cli("copy", "--data-dir", tmp_path, "--database-url", source, "--to", url)
    assert result.exit_code == 2, result.stderr
    line = assert_one_line_error(result.stderr, contains=[needle])
    assert "hunter2-secret" not in line
    assert result.stdout == ""


def test_the_installed_command_reports_a_bad_url_without_a_traceback(tmp_path: Path) -> None:
    world = sqlite_world(tmp_path)
    world.svc.close()
    done = run_script(
        "furusato-issuer",
        "db",
        "copy",
        "--data-dir",
        str(tmp_path / "data"),
        "--database-url",
        world.svc.settings.effective_database_url,
        "--to",
        "postgresql+asyncpg://x@127.0.0.1/y",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert_one_line_error(done.stderr, contains=["postgresql+asyncpg"])


def test_service_commands_report_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    """Like ``db copy``'s target, the service's own database (issuer.bootstrap.open_database):
    unreachable is exit 1, a URL that is not one we support exit 2 — tests/cli/
    test_service_errors.py runs the installed commands."""
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{free_port()}/furusato"
    result = CliRunner().invoke(
        issuer_main, ["audit", "verify", "--data-dir", str(tmp_path), "--database-url", url]
    )
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    line = assert_one_line_error(result.stderr, contains=["database_unreachable", "***"])
    assert "hunter2-secret" not in line
    result = CliRunner().invoke(
        issuer_main,
        ["audit", "verify", "--data-dir", str(tmp_path), "--database-url", "mysql://x/y"],
    )
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["bad_database_url", "mysql"])
