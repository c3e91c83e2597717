"""Helpers for the command-line tests: in-process runs with click's CliRunner, and
runs of the installed console scripts (furusato-issuer, furusato-verifier, furusato-wallet).

Every error a CLI prints must be one line, Japanese then English
(``エラー: … / Error: …``), on stderr, and never a traceback; :func:`assert_one_line_error`
checks exactly that.  In-process runs are covered by the socket guard of tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from schemas.loader import CREDENTIALS_V2

SEED = bytes(range(32))  # 00 01 … 1f: valid for Ed25519 and as a P-256 scalar
OTHER_SEED = bytes(range(1, 33))
SCRIPT_TIMEOUT = 120  # seconds; generous, only to turn a hang into a failure

Doc = dict[str, Any]


def seeded_key(key_type: KeyType, seed: bytes = SEED) -> PrivateKey:
    return PrivateKey.from_seed(key_type, seed)


def key_did(key: PrivateKey) -> str:
    return did_key_from_public_key(key.public_key)


def key_vm(key: PrivateKey) -> str:
    return did_key_verification_method_id(key.public_key)


def generic_credential(issuer: str, **extra: Any) -> Doc:
    """A plain VCDM 2.0 credential using only terms of the v2 base context."""
    credential: Doc = {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:alice", "name": "Alice"},
    }
    credential.update(extra)
    return credential


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_key(path: Path, key: PrivateKey) -> Path:
    jwk = key.to_jwk(include_private=True)
    jwk["kid"] = key_vm(key)
    return write_json(path, jwk)


def invoke(
    command: click.Command,
    args: Sequence[str],
    *,
    stdin: bytes | str | None = None,
) -> Result:
    """Run ``command`` in-process; an exception other than SystemExit fails the test (it would
    be a traceback for the user)."""
    result = CliRunner().invoke(command, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"{command.name} {' '.join(args)} raised {result.exception!r} "
            "(a traceback for the user)"
        ) from result.exception
    return result


def assert_one_line_error(stderr: str, *, contains: Sequence[str] = ()) -> str:
    """``stderr`` is exactly one line ``エラー: <ja> / Error: <en>``; returns that line."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert line.startswith("エラー: "), line
    ja, sep, en = line.partition(" / Error: ")
    assert sep, f"no English part: {line}"
    assert any(ord(c) > 0x3000 for c in ja), f"Japanese part has no Japanese: {line}"
    assert en.strip(), line
    for needle in contains:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


# --- installed console scripts -----------------------------------------------------------------


def console_script(name: str) -> str:
    """The installed console script ``name``: next to this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"console script {name} is not installed (pip install -e .)")
    return found


def run_script(
    name: str,
    *args: str,
    cwd: Path,
    stdin: bytes | None = None,
    stdin_file: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run an installed console script; output decoded as UTF-8 (strictly)."""
    env = dict(os.environ, PYTHONUTF8="1", LC_ALL="C.UTF-8")
    with contextlib.ExitStack() as stack:
        # a file is streamed (the 50 MB case must not be read into the test's memory)
        source: dict[str, Any] = (
            {"stdin": stack.enter_context(stdin_file.open("rb"))}
            if stdin_file is not None
            else {"input": stdin if stdin is not None else b""}
        )
        done = subprocess.run(
            [console_script(name), *args],
            capture_output=True,
            cwd=cwd,
            env=env,
            timeout=SCRIPT_TIMEOUT,
            preexec_fn=preexec_fn,
            check=False,
            **source,
        )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    )


# --- long-running console scripts (servers) ---------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def script_env(*, remove: Sequence[str] = (), **extra: str) -> dict[str, str]:
    """The environment for a console script: this one, without ``remove``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in remove}
    env.update(PYTHONUTF8="1", LC_ALL="C.UTF-8", **extra)
    return env


def start_script(
    name: str, *args: str, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path
) -> subprocess.Popen[bytes]:
    """Start an installed console script in its own session (so :func:`stop_process` can end
    it and every process it started), output to files (nothing blocks on a full pipe)."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        return subprocess.Popen(
            [console_script(name), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, *, timeout: float = 60, stderr: Path | None = None
) -> None:
    """Wait until ``port`` on 127.0.0.1 accepts connections; fail early if ``process`` ends."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            detail = stderr.read_text("utf-8", errors="replace") if stderr else ""
            pytest.fail(f"the server exited with {process.returncode} before listening:\n{detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listened on port {port} within {timeout} s")
            time.sleep(0.1)


def stop_process(
    process: subprocess.Popen[bytes], sig: int | None = None, *, timeout: float = 30
) -> int:
    """Send ``sig`` (default SIGTERM) to ``process`` and wait; kill its whole session (it was
    started with :func:`start_script`) if it does not end in ``timeout`` seconds.  Safe to call
    on a process that has already ended.  Returns the exit status (negative: a signal)."""
    status: int | None = process.poll()
    if status is None:
        process.send_signal(signal.SIGTERM if sig is None else sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            status = process.wait(timeout=timeout)
    # its own session (start_new_session): this ends only what it started, e.g. workers left
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait(timeout=timeout) if status is None else status
