"""The service commands, installed, when ``DATABASE_URL`` cannot be used or ``serve``'s port is
taken: one bilingual line, never a traceback (docs/guide-staff.md §17).

* a URL that is not one, or names a database other than PostgreSQL or an SQLite file: usage,
  exit 2 (``bad_database_url``);
* a server that does not answer, or a database that does not exist: exit 1
  (``database_unreachable``), the password of the URL masked;
* ``serve`` on a busy port: exit 1 (``port_in_use``), nothing created.

The console scripts run as a person runs them (a traceback would be seen on stderr); the
environment of the host's service (``DATABASE_URL``…) is removed, the data directory has a
stored secret so that ``init`` needs no prompt.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.cli.helpers import (
    SCRIPT_TIMEOUT,
    assert_one_line_error,
    console_script,
    free_port,
    script_env,
)
from tests.issuer.conftest import PG_ADMIN_URL, _pg_reason, _url_with_db

LG = "015814"
PASSWORD = "hunter2-not-shown"
HOST_ENV = (
    "DATABASE_URL",
    "FURUSATO_ISSUER_SECRET",
    "FURUSATO_ISSUER_DATA",
    "FURUSATO_PUBLIC_URL",
)
COMMANDS = {  # each runs for ~2 s (imports): a few, the ones a person starts with
    "init": ["init", "--lg-code", LG],
    "token create": ["token", "create", "--lg-code", LG, "--role", "admin"],
    "audit verify": ["audit", "verify"],
    "keys list": ["keys", "list", "--lg-code", LG],
    "serve": ["serve", "--port", "{port}"],
}


def issuer(data: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``furusato-issuer ARGS --data-dir DATA --database-url URL``, installed."""
    data.mkdir(exist_ok=True)
    secret = data / "secret"
    if not secret.exists():
        secret.write_text("stored-secret-of-the-test-0123456789\n", encoding="utf-8")
    argv = [a.replace("{port}", str(free_port())) for a in args]
    done = subprocess.run(
        [
            console_script("furusato-issuer"),
            *argv,
            "--data-dir",
            str(data),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        cwd=data,
        env=script_env(remove=HOST_ENV),
        stdin=subprocess.DEVNULL,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unreachable_database_is_one_line_exit_1(tmp_path: Path, command: str) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/furusato"
    done = issuer(tmp_path / "data", url, *COMMANDS[command])
    assert done.returncode == 1, done.stderr
    line = assert_one_line_error(done.stderr, contains=["database_unreachable", "***"])
    assert PASSWORD not in done.stdout + done.stderr
    assert "127.0.0.1" in line
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("url", "needle", "command"),
    [
        ("mysql://issuer@db.example.jp/furusato", "mysql", "init"),
        ("not a url", "not a url", "audit verify"),
        ("postgresql+asyncpg://issuer@127.0.0.1/furusato", "postgresql+asyncpg", "serve"),
        ("postgresql://issuer@127.0.0.1", "names no database", "token create"),
        ("sqlite:////no/such/directory/issuer.db", "/no/such/directory", "keys list"),
    ],
)
def test_a_database_url_we_cannot_use_is_a_usage_error(
    tmp_path: Path, url: str, needle: str, command: str
) -> None:
    done = issuer(tmp_path / "data", url, *COMMANDS[command])
    assert done.returncode == 2, done.stderr
    assert_one_line_error(done.stderr, contains=[needle, "bad_database_url"])
    assert done.stdout == ""


@pytest.fixture
def missing_database() -> str:
    """The URL of a database that does not exist on the test's PostgreSQL server."""
    reason = _pg_reason()
    if reason is not None:
        if os.environ.get("FURUSATO_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return _url_with_db(f"furusato_missing_{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("command", ["init", "serve"])
def test_a_database_that_does_not_exist_is_one_line_exit_1(
    tmp_path: Path, missing_database: str, command: str
) -> None:
    done = issuer(tmp_path / "data", missing_database, *COMMANDS[command])
    assert done.returncode == 1, done.stderr
    name = missing_database.rsplit("/", 1)[1]
    assert_one_line_error(done.stderr, contains=["database_unreachable", name, "does not exist"])
    assert PG_ADMIN_URL.rsplit("/", 1)[0].split("@")[-1] in done.stderr  # the server shown


def test_serve_on_a_busy_port_is_one_line_exit_1_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = issuer(data, f"sqlite:///{data / 'issuer.db'}", "serve", "--port", str(port))
    assert done.returncode == 1, done.stderr
    assert_one_line_error(done.stderr, contains=["port_in_use", str(port)])
    assert done.stdout == ""  # no demo municipality, no admin token printed
    assert sorted(p.name for p in data.iterdir()) == ["secret"]  # no database made
