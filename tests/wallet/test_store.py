"""The wallet's store (issue 4, "Done means"): it survives a crash mid-write, refuses a wrong
passphrase with a clear message, and never writes a private key unencrypted; and the commands
around it — export/import, remove, show by prefix, init, present's output options.

Crashes are simulated twice: by making the write, the fsync or the rename fail inside the
store's atomic write (``os`` functions monkeypatched, wherever ``atomic_write`` lives:
shellkit.files today), and by SIGKILLing a process that saves in a loop, at random moments
and the moment a save's temporary file exists.  After each, the wallet opens with the passphrase and is the old or
the new version, never a broken one.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import json
import os
import random
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import wallet_cli.cli
from did.multibase import base64url_decode
from tests.cli.helpers import assert_one_line_error
from tests.wallet.helpers import PASSPHRASE, Setup, WalletCli, expect, short
from wallet_cli.cli import main as wallet_main
from wallet_cli.store import StoredCredential, Wallet, WalletStore

KILL_ROUNDS = 20
PROCESS_TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(shared_setup: Setup) -> Setup:
    """Read only: tests that change a wallet work on a copy (``copy``)."""
    return shared_setup


@pytest.fixture
def wallet(setup: Setup, tmp_path: Path) -> WalletCli:
    """A copy of the shared wallet (two received credentials), to change freely."""
    return setup.wallet.copy_to(tmp_path / "wallet")


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the directory, with its content and modification time."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _ids(wallet: Wallet) -> list[str]:
    return sorted(c.id for c in wallet.credentials)


# --- a crash in the middle of a write ------------------------------------------------------------


class _HalfWriter(io.RawIOBase):
    """A file handle that writes half of what it is given, then fails (disk full)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def write(self, data: Any) -> int:
        view = bytes(data)
        self.handle.write(view[: len(view) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def _fail_replace(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.EIO, "Input/output error")


def _fail_fsync(fd: int) -> None:
    raise OSError(errno.EIO, "Input/output error")


@contextlib.contextmanager
def _failing(monkeypatch: pytest.MonkeyPatch, how: str) -> Iterator[None]:
    with monkeypatch.context() as patch:
        if how == "replace":
            patch.setattr(os, "replace", _fail_replace)
        elif how == "fsync":
            patch.setattr(os, "fsync", _fail_fsync)
        else:
            real_fdopen = os.fdopen
            patch.setattr(
                os,
                "fdopen",
                lambda fd, *a, **k: _HalfWriter(real_fdopen(fd, *a, **k)),
            )
        yield


FAILURES = ["half-write", "fsync", "replace"]


@pytest.mark.parametrize("how", FAILURES)
def test_a_failed_save_leaves_the_old_wallet(
    wallet: WalletCli, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    store = WalletStore(wallet.directory)
    before = _snapshot(wallet.directory)
    old = wallet.open()
    new = Wallet(old.credentials[:1], {"changed": True})
    with _failing(monkeypatch, how), pytest.raises(OSError):
        store.save(new, PASSPHRASE, secrets.token_bytes)
    assert _snapshot(wallet.directory) == before  # no temporary file left, nothing touched
    assert _ids(wallet.open()) == _ids(old)
    # and the next save works
    store.save(new, PASSPHRASE, secrets.token_bytes)
    assert _ids(wallet.open()) == _ids(new)
    assert [p.name for p in wallet.files] == ["wallet.sealed"]


@pytest.mark.parametrize("how", FAILURES)
def test_a_failed_save_in_the_cli_leaves_the_old_wallet(
    wallet: WalletCli, setup: Setup, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    before = _snapshot(wallet.directory)
    with _failing(monkeypatch, how):
        result = _invoke_raw(wallet, "remove", short(setup.basic.id), "--yes")
    assert result.exit_code != 0
    assert _snapshot(wallet.directory) == before
    assert _ids(wallet.open()) == sorted([setup.basic.id, setup.premium.id])


@pytest.mark.parametrize("how", FAILURES)
def test_a_failed_save_in_the_cli_is_one_clear_line(
    wallet: WalletCli, setup: Setup, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    with _failing(monkeypatch, how):
        result = wallet("remove", short(setup.basic.id), "--yes")  # raises on a traceback
    assert result.exit_code == 1
    assert_one_line_error(result.stderr)


def _invoke_raw(wallet: WalletCli, *args: str) -> Any:
    """The CLI run without turning an exception into a test failure."""
    from click.testing import CliRunner

    return CliRunner().invoke(
        wallet_main,
        ["--wallet-dir", str(wallet.directory), *args],
        env={"FURUSATO_WALLET_PASSPHRASE": wallet.passphrase},
    )


SAVER = r"""
import secrets, sys
from pathlib import Path
from wallet_cli.store import WalletStore

store = WalletStore(Path(sys.argv[1]))
passphrase = sys.argv[2]
wallet = store.load(passphrase)
n = int(wallet.prefs.get("n", 0))
print("ready", n, flush=True)
while True:
    n += 1
    wallet.prefs["n"] = n
    wallet.prefs["padding"] = "x" * (4096 * (n % 5))  # the file grows and shrinks
    store.save(wallet, passphrase, secrets.token_bytes)
    print("saved", n, flush=True)
"""


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"the saver printed nothing within {timeout} s")
    return process.stdout.readline().decode("ascii")


def _kill_during_a_write(process: subprocess.Popen[bytes], directory: Path) -> bool:
    """SIGKILL ``process`` the moment a temporary file of a save exists (between mkstemp and
    the rename: mid-write, before or after fsync); True if it got there in time."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        if any(name.startswith(".wallet.sealed.") for name in os.listdir(directory)):
            process.send_signal(signal.SIGKILL)
            return True
    process.send_signal(signal.SIGKILL)
    return False


@pytest.mark.slow
def test_the_wallet_survives_sigkill_while_saving(wallet: WalletCli) -> None:
    """Kill a process that saves in a loop KILL_ROUNDS times — at random moments, and the
    moment a save's temporary file exists: each time the wallet opens and holds the last
    finished save or the one in flight, never a broken file, all its credentials there."""
    rng = random.Random(4)  # timing, not security
    ids = _ids(wallet.open())
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUTF8="1")
    mid_write = 0
    for round_number in range(KILL_ROUNDS):
        process = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(wallet.directory), PASSPHRASE],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        try:
            first = _read_line(process, PROCESS_TIMEOUT).split()
            assert first[0] == "ready", first
            if round_number % 2:
                mid_write += _kill_during_a_write(process, wallet.directory)
            else:
                time.sleep(rng.uniform(0.0, 0.5))
                process.send_signal(signal.SIGKILL)
            out, err = process.communicate(timeout=PROCESS_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=PROCESS_TIMEOUT)
        assert process.returncode == -signal.SIGKILL, err.decode(errors="replace")
        done = [int(line.split()[1]) for line in out.decode().splitlines() if line]
        last = max(done, default=int(first[1]))
        reopened = wallet.open()  # never corrupt: the passphrase opens it
        n = int(reopened.prefs.get("n", 0))
        assert n in (last, last + 1), (n, last)  # the old or the new version
        assert _ids(reopened) == ids
    assert mid_write >= KILL_ROUNDS // 4, f"only {mid_write} kills landed during a write"
    # temporary files of killed saves may stay behind; they break nothing
    leftovers = [p for p in wallet.files if p.name != "wallet.sealed"]
    assert all(p.name.startswith(".wallet.sealed.") for p in leftovers), leftovers
    for stray in leftovers:  # and never hold anything in clear
        assert b"holderJwk" not in stray.read_bytes()
        assert stray.stat().st_mode & 0o077 == 0, oct(stray.stat().st_mode)
    assert len(expect(wallet("list"), 0).stdout.splitlines()) == 2
    expect(wallet("remove", ids[0][:13], "--yes"), 0)
    assert _ids(wallet.open()) == ids[1:]
    assert (wallet.directory / "wallet.sealed").is_file()


# --- passphrase ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["show", "PREFIX"],
        ["present", "PREFIX", "--payload"],
        ["remove", "PREFIX", "--yes"],
        ["renew", "PREFIX"],
        ["receive", "openid-credential-offer://?credential_offer_uri=http://localhost:9/x"],
    ],
    ids=lambda a: a[0],
)
def test_a_wrong_passphrase_is_refused_and_changes_nothing(
    wallet: WalletCli, setup: Setup, args: list[str]
) -> None:
    args = [short(setup.basic.id) if a == "PREFIX" else a for a in args]
    before = _snapshot(wallet.directory)
    for lang in ("ja", "en"):
        result = wallet("--lang", lang, *args, passphrase="not the passphrase")
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        line = assert_one_line_error(result.stderr, contains=["[wrong_secret]"])
        assert "合言葉が違う" in line
        assert "secret is wrong" in line
    assert _snapshot(wallet.directory) == before


def test_no_passphrase_in_a_script_is_a_clear_error(wallet: WalletCli) -> None:
    result = wallet("list", passphrase="")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["FURUSATO_WALLET_PASSPHRASE"])


def test_a_damaged_wallet_file_is_a_clear_error(wallet: WalletCli) -> None:
    data = wallet.sealed.read_bytes()
    for damaged in (data[: len(data) // 2], b"", b"\x00" * 64, data.replace(b'"', b"'", 1)):
        wallet.sealed.write_bytes(damaged)
        result = wallet("list")
        assert result.exit_code == 1, result.output
        assert_one_line_error(result.stderr)
    envelope = json.loads(data)
    text = envelope["ciphertext"]
    ciphertext = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    ciphertext[10] ^= 1
    envelope["ciphertext"] = base64.urlsafe_b64encode(bytes(ciphertext)).decode().rstrip("=")
    wallet.sealed.write_text(json.dumps(envelope), encoding="ascii")
    result = wallet("list")
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[wrong_secret]"])


# --- never a private key in clear ----------------------------------------------------------------


def _needles(stored: StoredCredential) -> dict[str, bytes]:
    d = stored.holder_jwk["d"]
    raw = base64url_decode(d)
    assert len(raw) == 32
    return {
        "d (base64url)": d.encode("ascii"),
        "raw": raw,
        "hex": raw.hex().encode("ascii"),
        "HEX": raw.hex().upper().encode("ascii"),
        "base64": base64.b64encode(raw),
        "base64 unpadded": base64.b64encode(raw).rstrip(b"="),
        "base32": base64.b32encode(raw).rstrip(b"="),
    }


def test_private_keys_never_reach_the_disk_in_clear(
    setup: Setup, wallet: WalletCli, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.sealed"
    wallet.ok("export", str(backup))
    stored = wallet.open().credentials
    assert len(stored) == 2
    # what was written: the wallet directory (every file), the backup
    files = [*wallet.files, backup, *setup.wallet.files]
    for credential in stored:
        for label, needle in _needles(credential).items():
            for path in files:
                assert needle not in path.read_bytes(), f"{label} of the holder key in {path}"
        # nothing of the credential is in clear either
        for clear in (credential.id, "holderJwk", "厚真町", "FurusatoResidentCredential"):
            for path in files:
                assert clear.encode("utf-8") not in path.read_bytes(), (clear, path)
    # the needles are right: the decrypted backup holds them
    from wallet_cli.store import open_json

    opened = json.dumps(open_json(backup.read_bytes(), PASSPHRASE)).encode()
    assert all(_needles(c)["d (base64url)"] in opened for c in stored)


def test_the_files_are_private(wallet: WalletCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.sealed"
    wallet.ok("export", str(backup))
    assert wallet.sealed.stat().st_mode & 0o777 == 0o600
    assert backup.stat().st_mode & 0o777 == 0o600
    fresh = WalletCli(tmp_path / "deep" / "new-wallet").init()
    assert fresh.sealed.stat().st_mode & 0o777 == 0o600
    assert fresh.directory.stat().st_mode & 0o077 == 0, oct(fresh.directory.stat().st_mode)


# --- export and import ---------------------------------------------------------------------------


def test_export_then_import_restores_the_credentials(wallet: WalletCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.sealed"
    out = wallet.ok("export", str(backup))
    assert "2 件" in out
    fresh = WalletCli(tmp_path / "fresh").init()
    assert "2 件を取り込みました" in fresh.ok("import", str(backup))
    original = {c.id: c.to_json() for c in wallet.open().credentials}
    restored = {c.id: c.to_json() for c in fresh.open().credentials}
    assert restored == original  # the holder keys too: the restored wallet can present
    assert fresh.ok("list") == wallet.ok("list")
    # importing again adds nothing
    assert "0 件" in fresh.ok("import", str(backup))
    assert len(fresh.open().credentials) == 2
    english = fresh("--lang", "en", "import", str(backup))
    assert "Restored 0 credentials" in expect(english, 0).stdout


def test_export_does_not_overwrite(wallet: WalletCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.sealed"
    backup.write_bytes(b"keep me")
    result = wallet("export", str(backup))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["backup.sealed"])
    assert backup.read_bytes() == b"keep me"


def test_export_to_an_unwritable_place_is_one_clear_line(wallet: WalletCli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="ascii")
    result = wallet("export", str(blocker / "backup.sealed"))  # raises on a traceback
    assert result.exit_code in (1, 2)
    assert_one_line_error(result.stderr)


def test_import_with_a_wrong_passphrase_fails_cleanly(wallet: WalletCli, tmp_path: Path) -> None:
    backup = tmp_path / "backup.sealed"
    wallet.ok("export", str(backup))
    other = WalletCli(tmp_path / "other", passphrase="another passphrase").init()
    before = _snapshot(other.directory)
    result = other("import", str(backup))
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[wrong_secret]"])
    assert _snapshot(other.directory) == before
    assert other.open().credentials == []


@pytest.mark.parametrize("content", ["wallet-file", "garbage", "json"])
def test_import_of_something_else_fails_cleanly(
    wallet: WalletCli, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "not-a-backup"
    if content == "wallet-file":  # sealed with the same passphrase, but a wallet, not a backup
        path.write_bytes(wallet.sealed.read_bytes())
    elif content == "garbage":
        path.write_bytes(os.urandom(300))
    else:
        path.write_text('{"format": "furusato-wallet-backup/1"}', encoding="ascii")
    fresh = WalletCli(tmp_path / "fresh").init()
    result = fresh("import", str(path))
    assert result.exit_code == 1, result.output
    assert_one_line_error(result.stderr)
    assert fresh.open().credentials == []


# --- remove --------------------------------------------------------------------------------------


class _TtySys:
    """``sys`` as seen by wallet_cli.cli, with a terminal on stdin."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)

    @property
    def stdin(self) -> Any:
        class Tty:
            def isatty(self) -> bool:
                return True

        return Tty()


def test_remove_without_yes_in_a_script_refuses(wallet: WalletCli, setup: Setup) -> None:
    before = _snapshot(wallet.directory)
    result = wallet("remove", short(setup.basic.id))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["--yes"])
    assert _snapshot(wallet.directory) == before


@pytest.mark.parametrize(("answer", "removed"), [("n\n", False), ("y\n", True), ("\n", False)])
def test_remove_asks_first_on_a_terminal(
    wallet: WalletCli,
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    removed: bool,
) -> None:
    monkeypatch.setattr(wallet_cli.cli, "sys", _TtySys())
    result = wallet("remove", short(setup.basic.id), stdin=answer)
    assert "厚真町" in result.stderr  # the question names the municipality
    assert "Remove the credential" in result.stderr
    if removed:
        assert result.exit_code == 0, result.output
        assert _ids(wallet.open()) == [setup.premium.id]
    else:
        assert result.exit_code == 1
        assert "中断しました / Aborted" in result.stderr
        assert len(wallet.open().credentials) == 2


def test_remove_with_yes(wallet: WalletCli, setup: Setup) -> None:
    out = wallet.ok("remove", short(setup.basic.id), "--yes")
    assert f"削除しました: {short(setup.basic.id)}" in out
    assert _ids(wallet.open()) == [setup.premium.id]
    result = wallet("remove", short(setup.basic.id), "--yes")
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[not_found]"])


# --- show by id or prefix ------------------------------------------------------------------------


def test_show_by_id_or_prefix(setup: Setup) -> None:
    full = setup.basic.id
    uuid = full.removeprefix("urn:uuid:")
    for reference in (full, uuid, uuid[:8], uuid[:4], full[:13], f"  {uuid[:8]} "):
        shown = json.loads(setup.wallet.ok("show", reference, "--json"))
        assert shown["id"] == full, reference


def _wallet_with_ids(directory: Path, template: StoredCredential, ids: list[str]) -> WalletCli:
    store = WalletStore(directory)
    store.create(PASSPHRASE, secrets.token_bytes)
    wallet = Wallet([replace(template, id=i) for i in ids])
    store.save(wallet, PASSPHRASE, secrets.token_bytes)
    return WalletCli(directory)


def test_an_ambiguous_prefix_is_a_clear_error(setup: Setup, tmp_path: Path) -> None:
    wallet = _wallet_with_ids(
        tmp_path / "w",
        setup.basic,
        [
            "urn:uuid:abcd1111-0000-4000-8000-000000000001",
            "urn:uuid:abcd2222-0000-4000-8000-000000000002",
        ],
    )
    for reference in ("abcd", "urn:uuid:ab", "urn:uuid:"):
        for command in (["show"], ["present", "--payload"], ["remove", "--yes"], ["renew"]):
            result = wallet(command[0], reference, *command[1:])
            assert result.exit_code == 1, (reference, command, result.output)
            line = assert_one_line_error(result.stderr, contains=["[ambiguous]", "2"])
            assert reference.strip() in line
    assert json.loads(wallet.ok("show", "abcd2", "--json"))["id"].endswith("000000000002")
    assert len(wallet.open().credentials) == 2


def test_an_unknown_id_is_a_clear_error(setup: Setup) -> None:
    for reference in ("ffffffff", "urn:uuid:nope"):
        result = setup.wallet("show", reference)
        assert result.exit_code == 1
        assert_one_line_error(result.stderr, contains=["[not_found]", reference])


def test_an_empty_id_is_refused(setup: Setup, tmp_path: Path) -> None:
    wallet = _wallet_with_ids(tmp_path / "w", setup.basic, [setup.basic.id])
    result = wallet("show", "")
    assert result.exit_code != 0


# --- init, and commands without a wallet ---------------------------------------------------------


def test_init_twice_is_refused(tmp_path: Path) -> None:
    wallet = WalletCli(tmp_path / "w").init()
    before = _snapshot(wallet.directory)
    for passphrase in (PASSPHRASE, "another passphrase"):
        result = wallet("init", passphrase=passphrase)
        assert result.exit_code == 1
        assert_one_line_error(result.stderr, contains=["[exists]"])
    assert _snapshot(wallet.directory) == before
    assert wallet.open().credentials == []


def test_init_wants_a_passphrase_of_eight_characters(tmp_path: Path) -> None:
    wallet = WalletCli(tmp_path / "w")
    result = wallet("init", passphrase="short")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["8"])
    assert not wallet.directory.exists() or wallet.files == []


@pytest.mark.parametrize("command", [["list"], ["show", "abcd"], ["export", "x.sealed"]])
def test_no_wallet_yet_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    result = WalletCli(tmp_path / "none")(*command)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[no_wallet]", "init"])


def test_an_empty_wallet_lists_nothing(tmp_path: Path) -> None:
    wallet = WalletCli(tmp_path / "w").init()
    assert wallet.ok("list").strip() == "証明書はまだありません"
    assert wallet.ok("--lang", "en", "list").strip() == "No credentials yet"
    assert json.loads(wallet.ok("list", "--json")) == []


# --- present: its output options -----------------------------------------------------------------


def test_present_without_an_output_is_a_usage_error(setup: Setup) -> None:
    before = _snapshot(setup.wallet.directory)
    result = setup.wallet("present", short(setup.basic.id))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_line_error(result.stderr, contains=["--payload", "--png"])
    assert _snapshot(setup.wallet.directory) == before


def test_present_into_a_missing_directory_is_a_usage_error(setup: Setup, tmp_path: Path) -> None:
    result = setup.wallet("present", short(setup.basic.id), "--png", str(tmp_path / "no" / "q.png"))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["no such directory"])


@pytest.mark.parametrize("challenge", ["", "x" * 257])
def test_present_checks_the_challenge_length(setup: Setup, challenge: str) -> None:
    result = setup.wallet("present", short(setup.basic.id), "--payload", "--challenge", challenge)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["256"])
