"""docs/guide-staff.md, followed as written.

The guide marks the code blocks of its main path with ``<!-- guide:run -->`` directly before a
```` ```sh```` fence (``<!-- guide:install -->``: the installation, ``<!-- guide:database -->``:
the administrator's ``createdb``; both run only by scripts/follow-staff-guide).  The main test
runs every ``run`` block, in order and exactly as written, in one bash process in a fresh working
directory with a temporary HOME and the project's venv first on PATH.  Its only preparation is
the empty PostgreSQL database the guide names (dropped and created again); the one thing it
sets is ``PORT``, which the guide documents (``PORT=${PORT:-8080}``), to a free port.  It then
checks the outcome — the service answers on that port, the verifier's ``--json`` result is
verified with tier basic, the issuer's rows are in PostgreSQL — and ends every process the guide
started (they share the bash process's process group).

The other tests check that every ``furusato-*`` command and option the guide writes exists, and
that what the guide says beyond its main path — a plain install, revoking a token or a key,
``serve`` on a busy port — is what the product does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from issuer.cli import main as issuer_main
from tests.cli.helpers import assert_one_line_error, free_port
from verifier.cli import main as verifier_main
from wallet_cli.cli import main as wallet_main

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide-staff.md"
MARK = re.compile(r"^<!-- guide:(?P<kind>[a-z]+) -->$")
KINDS = ("run", "install", "database")
RUN_TIMEOUT = 150  # seconds: only to turn a hang into a failure (the run takes ~25 s)
PROGRAMS: dict[str, click.Command] = {
    "furusato-issuer": issuer_main,
    "furusato-wallet": wallet_main,
    "furusato-verifier": verifier_main,
}


@dataclass(frozen=True)
class Block:
    kind: str
    line: int  # of the fence, 1-based
    text: str


def guide_blocks(source: str | None = None) -> list[Block]:
    """The marked blocks of the guide, in order; a mark not directly before a ```sh fence, or
    a fence never closed, is an error (the guide's markup is part of what is tested)."""
    lines = (GUIDE.read_text("utf-8") if source is None else source).splitlines()
    blocks = []
    for number, line in enumerate(lines):
        found = MARK.match(line.strip())
        if found is None:
            continue
        kind = found.group("kind")
        assert kind in KINDS, f"line {number + 1}: unknown mark {kind!r}"
        following = lines[number + 1] if number + 1 < len(lines) else ""
        assert following == "```sh", (
            f"line {number + 1}: <!-- guide:{kind} --> must stand directly before a ```sh fence"
        )
        body = []
        for inner in lines[number + 2 :]:
            if inner == "```":
                break
            body.append(inner)
        else:
            raise AssertionError(f"line {number + 2}: the ```sh fence is never closed")
        blocks.append(Block(kind, number + 2, "\n".join(body) + "\n"))
    return blocks


def guide_database_url() -> str:
    """The PostgreSQL URL the guide's main path exports."""
    urls = {
        m.group(1)
        for b in guide_blocks()
        if b.kind == "run"
        for m in re.finditer(r"^export DATABASE_URL=(\S+)$", b.text, re.M)
    }
    assert len(urls) == 1, urls
    (url,) = urls
    return url


def prepare_database(url: str) -> None:
    """Drop and create the guide's database (empty); skip when its server is unreachable —
    a failure instead with FURUSATO_REQUIRE_POSTGRES=1, as in tests/issuer/conftest.py."""
    parsed = make_url(url)
    name = parsed.database
    assert name is not None
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    admin_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        reason = f"PostgreSQL of the guide not reachable ({admin_url}): {type(exc).__name__}"
        if os.environ.get("FURUSATO_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(
        parsed.set(database="postgres")
        .render_as_string(hide_password=False)
        .replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def guide_script(blocks: list[Block], state: Path) -> str:
    """The run blocks verbatim, each announced on stderr; then what the test reads back,
    recorded in the same shell (its exported variables, a --json verification)."""
    parts = ["set -eo pipefail"]
    for number, block in enumerate(blocks, start=1):
        parts.append(f"echo '### guide block {number} (docs/guide-staff.md:{block.line})' >&2")
        parts.append(block.text)
    record = shlex.quote(str(state))
    parts.append(
        "\n".join(
            [
                "echo '### the test reads the outcome back' >&2",
                f'printf "%s" "$PORT" > {record}/port',
                f'printf "%s" "$DATABASE_URL" > {record}/database_url',
                "rc=0",
                f"furusato-verifier verify qr.png --json > {record}/verify.json || rc=$?",
                f'printf "%s" "$rc" > {record}/verify_rc',
            ]
        )
    )
    return "\n".join(parts) + "\n"


def end_process_group(process: subprocess.Popen[bytes]) -> None:
    """End everything the guide started in the background (its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


# --- the main path, run as written -----------------------------------------------------------


def test_the_guide_runs_verbatim_from_an_empty_postgresql_to_a_verified_credential(
    tmp_path: Path,
) -> None:
    blocks = [b for b in guide_blocks() if b.kind == "run"]
    database_url = guide_database_url()
    prepare_database(database_url)
    work, home, state = tmp_path / "work", tmp_path / "home", tmp_path / "state"
    for directory in (work, home, state):
        directory.mkdir()
    script = tmp_path / "guide.sh"
    script.write_text(guide_script(blocks, state), encoding="utf-8")
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PORT": str(port),
    }
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            ["bash", str(script)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: the background serve too
        )
    try:
        try:
            code = process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        log = (
            stdout.read_text("utf-8", errors="replace")[-3000:]
            + "\n--- stderr\n"
            + stderr.read_text("utf-8", errors="replace")[-3000:]
        )
        serve_log = work / "serve.log"
        if serve_log.exists():
            log += "\n--- serve.log\n" + serve_log.read_text("utf-8", errors="replace")[-2000:]
        assert code == 0, f"the guide's commands exited with {code}\n{log}"
        assert "Traceback" not in log, log

        # the service the guide started answers on the port it was told
        assert (state / "port").read_text() == str(port)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        lists = httpx.get(f"http://127.0.0.1:{port}/status/015814/index.json", timeout=10)
        assert lists.status_code == 200, lists.text

        # the resident's QR verifies offline at the shop: exit 0, verified, basic, 015814
        assert (state / "verify_rc").read_text() == "0", log
        result = json.loads((state / "verify.json").read_text("utf-8"))
        assert result["verified"] is True, result
        assert result["summary"]["tier"] == "basic", result["summary"]
        assert result["summary"]["lgCode"] == "015814", result["summary"]
    finally:
        end_process_group(process)

    # and the issuer kept its data in PostgreSQL — the database the guide names
    used = (state / "database_url").read_text()
    assert used == database_url
    assert make_url(used).get_backend_name() == "postgresql"
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            tenants = connection.execute(text("SELECT lg_code FROM tenants")).scalars().all()
            credentials = connection.execute(text("SELECT count(*) FROM credentials")).scalar_one()
            events = connection.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    finally:
        engine.dispose()
    assert tenants == ["015814"]
    assert credentials == 1
    assert events >= 4  # tenant, key, two tokens, offer, issuance
    assert not list(home.rglob("issuer.db")), "an SQLite database was made instead"
    drop_database(database_url)


# --- the guide's markup and its commands -----------------------------------------------------


def test_the_marked_blocks_are_well_formed() -> None:
    blocks = guide_blocks()
    kinds = [b.kind for b in blocks]
    assert kinds[0] == "install"  # the installation comes first
    assert kinds.count("install") == 1
    assert kinds.count("database") == 1
    assert sum(1 for k in kinds if k == "run") >= 8
    # a stray mark (not before a fence) is refused
    with pytest.raises(AssertionError, match="directly before"):
        guide_blocks("<!-- guide:run -->\ntext\n```sh\necho\n```\n")


def _command_lines(source: str) -> list[tuple[int, str]]:
    """Every shell command of the guide's sh blocks (continuations joined, comments cut) and
    every inline code span of its prose (spans may wrap), with the line it starts on."""
    found: list[tuple[int, str]] = []
    prose: list[str] = []
    in_block = False
    is_sh = False
    pending = ""
    for number, line in enumerate(source.splitlines(), start=1):
        if line.startswith("```"):
            in_block, is_sh = (not in_block), (line == "```sh" and not in_block)
            prose.append("")
            continue
        if not in_block:
            prose.append(line)
            continue
        prose.append("")
        if is_sh:
            command = re.sub(r"(^|\s)#.*$", "", line)
            pending += command.rstrip().rstrip("\\") + " "
            if not line.rstrip().endswith("\\"):
                found.append((number, pending))
                pending = ""
    text_of_prose = "\n".join(prose)
    for match in re.finditer(r"`([^`]+)`", text_of_prose):
        number = text_of_prose.count("\n", 0, match.start()) + 1
        found.append((number, match.group(1).replace("\n", " ")))
    return found


def _check_invocation(tokens: list[str], where: str) -> list[str]:
    program = PROGRAMS[tokens[0].split("$(")[-1]]
    problems = []
    command: click.Command = program
    path = [tokens[0]]
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token in ("|", ">", ">>", "&", "&&", ";", "||", "2>&1") or token.startswith(">"):
            break
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            params = {o: p for p in command.params for o in (*p.opts, *p.secondary_opts)}
            if name == "--help":
                pass
            elif name not in params:
                problems.append(f"{where}: {' '.join(path)} has no option {name}")
            elif "=" not in token and not getattr(params[name], "is_flag", False):
                index += 1  # the option's value
        elif isinstance(command, click.Group) and token in command.commands:
            command = command.commands[token]
            path.append(token)
        elif isinstance(command, click.Group) and not token.startswith(("-", "<", "…")):
            problems.append(f"{where}: {' '.join(path)} has no command {token!r}")
        index += 1
    return problems


def test_every_command_and_option_in_the_guide_exists() -> None:
    problems: list[str] = []
    seen = 0
    for number, line in _command_lines(GUIDE.read_text("utf-8")):
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        for start, token in enumerate(tokens):
            if token.split("$(")[-1] in PROGRAMS:
                seen += 1
                problems += _check_invocation(tokens[start:], f"docs/guide-staff.md:{number}")
    assert seen >= 40
    assert not problems, "\n".join(problems)


def test_the_command_checker_catches_a_wrong_option() -> None:
    assert _check_invocation(["furusato-issuer", "offer", "--lg-code", "015814", "--pgn", "x"], "t")
    assert _check_invocation(["furusato-issuer", "tokens", "create"], "t")
    assert not _check_invocation(
        ["furusato-issuer", "db", "copy", "--to", "postgresql://…", "--json"], "t"
    )


# --- what the guide says beyond its main path, and the product does ---------------------------
# (these were strict xfails while the product had the gaps; each fix changed the guide too)


def _section(number: int) -> str:
    """The text of the guide's section ``number`` (from its ``## N.`` heading to the next)."""
    source = GUIDE.read_text("utf-8")
    found = re.search(rf"^## {number}\. .*?(?=^## \d+\. |\Z)", source, re.M | re.S)
    assert found is not None, f"no section {number}"
    return found.group(0)


def test_a_token_can_be_revoked_from_the_command_line() -> None:
    result = CliRunner().invoke(issuer_main, ["token", "revoke", "--help"])
    assert result.exit_code == 0
    tokens = _section(5)
    assert "furusato-issuer token revoke --lg-code 015814" in tokens
    assert "furusato-issuer token list --lg-code 015814" in tokens
    assert "has no command to revoke" not in tokens


def test_a_compromised_key_can_be_revoked_from_the_command_line() -> None:
    result = CliRunner().invoke(issuer_main, ["keys", "revoke", "--help"])
    assert result.exit_code == 0
    keys = _section(11)
    assert "furusato-issuer keys revoke --lg-code 015814" in keys
    assert "no command to mark a compromised key" not in keys


def test_serve_on_a_busy_port_is_one_bilingual_line(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            issuer_main,
            [
                "serve",
                "--data-dir",
                str(tmp_path / "data"),
                "--database-url",
                f"sqlite:///{tmp_path / 'data' / 'issuer.db'}",
                "--port",
                str(port),
            ],
            env={"FURUSATO_ISSUER_SECRET": "guide-test-secret-0123456789"},
        )
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert_one_line_error(result.stderr, contains=["は既に使われています", "[port_in_use]"])
    troubleshooting = _section(17)
    assert "は既に使われています" in troubleshooting
    assert "[port_in_use]" in troubleshooting
    assert "address already in use" not in troubleshooting


def test_a_plain_install_includes_every_package() -> None:
    """The guide installs with a plain ``pip install`` (the source directory may go), and
    setuptools' discovery as pyproject.toml configures it finds every package directory
    (tests/cli/test_packaging.py builds the wheel and checks its files)."""
    import tomllib

    from setuptools import find_namespace_packages

    (install,) = [b for b in guide_blocks() if b.kind == "install"]
    assert re.search(r"^pip install \./furusato-vc$", install.text, re.M), install.text
    assert "pip install -e" not in install.text
    find = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
        "packages"
    ]["find"]
    found = set(
        find_namespace_packages(
            where=str(ROOT), include=find["include"], exclude=find.get("exclude", ())
        )
    )
    tops = {name.split(".")[0] for name in found}
    assert tops == {"did", "schemas", "vc", "shellkit", "issuer", "verifier", "wallet_cli"}
    present = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in tops
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {"issuer.api", "issuer.identity"} <= present
    assert sorted(present - found) == []
