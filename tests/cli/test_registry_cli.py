"""``furusato-issuer registry …`` (issuer/registry_cli.py) and the sealing helper it uses
(issuer/secretbox.py).

In-process with CliRunner, with FURUSATO_REGISTRY_SECRET set unless a test says otherwise.
Each signed file is checked with vc.registry.verify_registry and the public JWK that ``init``
printed, as a verifier would.  Exit codes: 0 ok, 1 failed or refused, 2 usage or unreadable
input; every error is one line, Japanese then English.
"""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from did.errors import MalformedValueError
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base64url_decode, base64url_encode
from did.web import VerificationKeyEntry, build_did_document
from issuer import registry_cli
from issuer.registry_cli import ENV_DIR, ENV_SECRET, registry
from shellkit import files
from shellkit.secretbox import (
    SCRYPT_N,
    SealedBoxError,
    UnsafeSealParametersError,
    WrongSecretError,
    open_sealed,
    seal,
)
from tests.cli.helpers import assert_one_line_error, invoke, write_json
from vc.registry import Registry, entry_from_did_document, verify_registry

SECRET = "correct horse battery staple"
HOST = "furusato.example.jp"
ATSUMA, SAPPORO = "015814", "011002"
ATSUMA_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
ATSUMA_NEW_KEY = PrivateKey.from_seed(KeyType.P256, bytes(range(2, 34)))
SAPPORO_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(3, 35)))

Doc = dict[str, Any]


def did_of(lg_code: str) -> str:
    return f"did:web:{HOST}:lg:{lg_code}"


def entry_json(lg_code: str, keys: list[VerificationKeyEntry]) -> Doc:
    """An entry as an issuer exports it: from its own DID document."""
    document = build_did_document(did_of(lg_code), keys)
    entry = entry_from_did_document(
        document, lg_code=lg_code, status_base_url=f"https://{HOST}/lg/{lg_code}/status/"
    )
    return entry.to_json()


def atsuma_entry() -> Doc:
    return entry_json(
        ATSUMA,
        [
            VerificationKeyEntry(
                "key-1", ATSUMA_KEY.public_key, valid_until="2026-12-01T00:00:00Z"
            ),
            VerificationKeyEntry(
                "key-2", ATSUMA_NEW_KEY.public_key, valid_from="2026-12-01T00:00:00Z"
            ),
        ],
    )


def sapporo_entry() -> Doc:
    return entry_json(SAPPORO, [VerificationKeyEntry("key-1", SAPPORO_KEY.public_key)])


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SECRET, SECRET)
    monkeypatch.delenv(ENV_DIR, raising=False)


def run(*args: str | Path, stdin: str | None = None) -> Result:
    return invoke(registry, [str(a) for a in args], stdin=stdin)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (but the lock file) with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def init(directory: Path, *extra: str) -> PublicKey:
    result = run("init", "--registry-dir", directory, *extra)
    assert result.exit_code == 0, result.output
    printed = Path(result.stdout.splitlines()[-1])  # the path, alone on the last line
    assert printed.is_absolute()
    assert printed == (directory / "authority-public.jwk").resolve()
    jwk = json.loads(printed.read_text("utf-8"))
    key = PublicKey.from_jwk(jwk)
    assert jwk["kid"] == key.jwk_thumbprint()
    return key


def sign(directory: Path, out: Path, *extra: str) -> Result:
    result = run("sign", "--registry-dir", directory, "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return result


def verified(out: Path, key: PublicKey, previous: int | None = None) -> Registry:
    return verify_registry(
        out.read_text("ascii"), key, now=datetime.now(UTC), previous_sequence=previous
    )


# --- the operator's flow --------------------------------------------------------------------


def test_init_add_sign_verify_resign_revoke_remove(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    key = init(directory)
    add_atsuma = run(
        "add", "--registry-dir", directory, write_json(tmp_path / "a.json", atsuma_entry())
    )
    assert add_atsuma.exit_code == 0, add_atsuma.output
    assert "追加しました" in add_atsuma.stdout
    assert (
        run(
            "add", "--registry-dir", directory, write_json(tmp_path / "s.json", sapporo_entry())
        ).exit_code
        == 0
    )

    out = tmp_path / "public" / "registry.jws"
    out.parent.mkdir()
    sign(directory, out)
    first = verified(out, key)
    assert first.sequence == 1
    assert [e.lg_code for e in first.entries] == [SAPPORO, ATSUMA]
    assert first.authority == "ふるさと住民登録 全国レジストリ"
    assert first.next_update - first.issued_at == timedelta(days=7)
    assert first.entry_for_did(did_of(ATSUMA)) is not None
    assert not out.read_bytes().endswith(b"\n")

    # the same file verifies with jwcrypto and the JWK as printed (kid, alg, use included)
    token = jwcrypto_jws.JWS()
    token.deserialize(out.read_text("ascii"))
    token.verify(jwcrypto_jwk.JWK(**json.loads((directory / "authority-public.jwk").read_text())))

    sign(directory, out, "--valid-days", "1")
    second = verified(out, key, previous=1)
    assert second.sequence == first.sequence + 1
    assert second.next_update - second.issued_at == timedelta(days=1)

    revoked_id = did_of(ATSUMA) + "#key-1"
    revoke = run("revoke-key", "--registry-dir", directory, revoked_id)
    assert revoke.exit_code == 0, revoke.output
    sign(directory, out)
    third = verified(out, key, previous=2)
    assert third.sequence == 3
    entry = third.entry_for_lg_code(ATSUMA)
    assert entry is not None
    marked = entry.key(revoked_id)
    assert marked is not None
    assert marked.is_revoked
    assert not marked.valid_at(datetime(2026, 6, 1, tzinfo=UTC))
    current = entry.key("#key-2")
    assert current is not None
    assert not current.is_revoked
    # revoking again is not an error and keeps the first time
    again = run("revoke-key", "--registry-dir", directory, revoked_id)
    assert again.exit_code == 0
    assert "既に失効" in again.stdout

    removed = run("remove", "--registry-dir", directory, SAPPORO)
    assert removed.exit_code == 0, removed.output
    sign(directory, out)
    fourth = verified(out, key, previous=3)
    assert fourth.sequence == 4
    assert fourth.entry_for_lg_code(SAPPORO) is None
    # the older file is now a rollback for a verifier holding sequence 4
    state = json.loads((directory / "state.json").read_text())
    assert state["lastSequence"] == 4


def test_p256_authority(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    key = init(directory, "--type", "P-256", "--authority", "総務省 (test)")
    assert key.alg == "ES256"
    run("add", "--registry-dir", directory, write_json(tmp_path / "a.json", atsuma_entry()))
    out = tmp_path / "registry.jws"
    sign(directory, out)
    registry_content = verified(out, key)
    assert registry_content.authority == "総務省 (test)"
    header = json.loads(base64url_decode(out.read_text().split(".")[0]))
    assert header["alg"] == "ES256"


def test_registry_dir_from_the_environment(
    tmp_path: Path, secret_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "registry"
    monkeypatch.setenv(ENV_DIR, str(directory))
    assert run("init").exit_code == 0
    assert run("add", write_json(tmp_path / "a.json", atsuma_entry())).exit_code == 0
    listing = run("list", "--json")
    assert listing.exit_code == 0
    assert [e["lgCode"] for e in json.loads(listing.stdout)["entries"]] == [ATSUMA]


def test_add_replaces_by_lg_code_and_reads_stdin(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    run("add", "--registry-dir", directory, write_json(tmp_path / "a.json", atsuma_entry()))
    changed = atsuma_entry()
    changed["nameEn"] = "Atsuma Town"
    result = run("add", "--registry-dir", directory, "-", stdin=json.dumps(changed))
    assert result.exit_code == 0, result.output
    assert "置き換えました" in result.stdout
    entries = json.loads(run("list", "--registry-dir", directory, "--json").stdout)["entries"]
    assert entries == [changed]


def test_list_is_a_japanese_table(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    empty = run("list", "--registry-dir", directory)
    assert "項目はありません" in empty.stdout
    run("add", "--registry-dir", directory, write_json(tmp_path / "a.json", atsuma_entry()))
    run("revoke-key", "--registry-dir", directory, did_of(ATSUMA) + "#key-1")
    table = run("list", "--registry-dir", directory)
    assert table.exit_code == 0
    assert "自治体コード" in table.stdout
    assert "北海道" in table.stdout
    assert "厚真町" in table.stdout
    assert "失効" in table.stdout
    assert "未署名" in table.stdout


def test_directory_files_and_permissions(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("authority-key.json", "entries.json", "state.json"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
    sealed = json.loads((directory / "authority-key.json").read_text())
    private_jwk = json.loads(open_sealed(sealed, SECRET))
    assert private_jwk["d"] not in (directory / "authority-key.json").read_text()
    assert {"kdf", "n", "r", "p", "salt", "nonce", "ciphertext"} <= set(sealed)
    public = json.loads((directory / "authority-public.jwk").read_text())
    assert "d" not in public
    assert PrivateKey.from_jwk(private_jwk).public_key == PublicKey.from_jwk(public)
    assert sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) == [
        "authority-key.json",
        "authority-public.jwk",
        "entries.json",
        "state.json",
    ]


# --- refusals -------------------------------------------------------------------------------


BAD_ENTRIES: list[tuple[str, Any, str]] = [
    ("bad check digit", {"lgCode": "015815"}, "registry_lg_code_invalid"),
    ("name of another town", {"name": "札幌市"}, "registry_municipality_mismatch"),
    ("http URL", {"statusBaseUrl": "http://furusato.example.jp/"}, "registry_url_insecure"),
    ("key of another DID", {"did": did_of(SAPPORO)}, "registry_key_not_under_did"),
    ("not JSON", "{not json", "malformed"),
    ("not an object", [1, 2], "registry_malformed"),
]


@pytest.mark.parametrize(
    ("change", "code"), [(c[1], c[2]) for c in BAD_ENTRIES], ids=[c[0] for c in BAD_ENTRIES]
)
def test_bad_entry_is_refused_and_nothing_is_written(
    tmp_path: Path, secret_env: None, change: Any, code: str
) -> None:
    directory = tmp_path / "registry"
    init(directory)
    run("add", "--registry-dir", directory, write_json(tmp_path / "s.json", sapporo_entry()))
    before = snapshot(directory)
    path = tmp_path / "bad.json"
    if isinstance(change, dict):
        write_json(path, {**atsuma_entry(), **change})
    elif isinstance(change, str):
        path.write_text(change)
    else:
        write_json(path, change)
    result = run("add", "--registry-dir", directory, path)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=[f"[{code}]", str(path)])
    assert snapshot(directory) == before


def test_entry_with_the_did_of_another_entry_is_refused(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    run("add", "--registry-dir", directory, write_json(tmp_path / "a.json", atsuma_entry()))
    before = snapshot(directory)
    twin = sapporo_entry()
    twin["did"] = did_of(ATSUMA)
    twin["keys"] = [
        {"id": did_of(ATSUMA) + "#key-9", "publicKeyMultibase": SAPPORO_KEY.public_key.multikey}
    ]
    result = run("add", "--registry-dir", directory, write_json(tmp_path / "t.json", twin))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["[registry_entry_duplicate]"])
    assert snapshot(directory) == before


def test_wrong_secret(tmp_path: Path, secret_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "registry"
    init(directory)
    before = snapshot(directory)
    monkeypatch.setenv(ENV_SECRET, "not the right secret")
    out = tmp_path / "registry.jws"
    result = run("sign", "--registry-dir", directory, "--out", out)
    assert result.exit_code == 1
    line = assert_one_line_error(result.stderr, contains=["[wrong_secret]"])
    assert "合言葉が違う" in line
    assert "secret is wrong" in line
    assert not out.exists()
    assert snapshot(directory) == before


def test_init_twice_is_refused(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    before = snapshot(directory)
    result = run("init", "--registry-dir", directory)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=[str(directory)])
    assert snapshot(directory) == before


def test_init_refuses_a_non_empty_directory(tmp_path: Path, secret_env: None) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = run("init", "--registry-dir", tmp_path)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_in_an_existing_empty_directory(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "empty"
    directory.mkdir(mode=0o755)
    init(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_no_secret_and_no_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SECRET, raising=False)
    directory = tmp_path / "registry"
    result = run("init", "--registry-dir", directory)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=[ENV_SECRET])
    assert not directory.exists()
    monkeypatch.setenv(ENV_SECRET, "")  # empty counts as unset
    assert run("init", "--registry-dir", directory).exit_code == 2


def _read_until(master: int, token: bytes, seen: bytearray, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while token not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {token!r}; got {bytes(seen)!r}"
        ready, _, _ = select.select([master], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        assert chunk, f"the terminal closed before {token!r}; got {bytes(seen)!r}"
        seen.extend(chunk)


def test_secret_is_prompted_on_a_terminal(tmp_path: Path, secret_env: None) -> None:
    """No FURUSATO_REGISTRY_SECRET but a terminal: asked twice (hidden), then used."""
    pty = pytest.importorskip("pty")
    directory = tmp_path / "registry"
    env = {k: v for k, v in os.environ.items() if k != ENV_SECRET}
    env.update(PYTHONUTF8="1", LC_ALL="C.UTF-8")
    program = "import sys; from issuer.registry_cli import registry; registry(sys.argv[1:])"
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", program, "init", "--registry-dir", str(directory)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"secret:", seen)
        os.write(master, SECRET.encode() + b"\n")
        _read_until(master, b"repeat the secret:", seen)
        os.write(master, SECRET.encode() + b"\n")
        _read_until(master, b"authority-public.jwk", seen)
        assert child.wait(timeout=60) == 0, bytes(seen)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    assert SECRET.encode() not in seen  # hidden input
    key = PublicKey.from_jwk(json.loads((directory / "authority-public.jwk").read_text()))
    out = tmp_path / "r.jws"
    sign(directory, out)  # with FURUSATO_REGISTRY_SECRET = the typed secret
    assert verified(out, key).sequence == 1


def test_sign_without_secret_and_no_terminal(
    tmp_path: Path, secret_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "registry"
    init(directory)
    monkeypatch.delenv(ENV_SECRET)
    result = run("sign", "--registry-dir", directory, "--out", tmp_path / "r.jws")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=[ENV_SECRET])


def test_short_secret_is_refused_at_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SECRET, "short")
    result = run("init", "--registry-dir", tmp_path / "registry")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr)
    assert not (tmp_path / "registry").exists()


def test_unknown_things_and_bad_usage(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    before = snapshot(directory)
    cases: list[tuple[tuple[str | Path, ...], int]] = [
        (("revoke-key", "--registry-dir", directory, did_of(ATSUMA) + "#key-1"), 1),
        (("remove", "--registry-dir", directory, ATSUMA), 1),
        (("remove", "--registry-dir", directory, "015815"), 2),
        (("add", "--registry-dir", directory, tmp_path / "missing.json"), 2),
        (("sign", "--registry-dir", directory, "--out", tmp_path / "no" / "r.jws"), 2),
        (
            ("sign", "--registry-dir", directory, "--out", tmp_path / "r.jws", "--valid-days", "0"),
            2,
        ),
        (("list", "--registry-dir", tmp_path / "elsewhere"), 2),
        (("list",), 2),
        (("frobnicate", "--registry-dir", directory), 2),
    ]
    for args, code in cases:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        assert_one_line_error(result.stderr)
    assert snapshot(directory) == before


def test_damaged_directory_is_reported(tmp_path: Path, secret_env: None) -> None:
    directory = tmp_path / "registry"
    init(directory)
    (directory / "entries.json").write_text('{"format": 1, "entries": [{"lgCode": "015815"}]}')
    result = run("list", "--registry-dir", directory)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["entries.json"])
    (directory / "state.json").write_text("[]")
    result = run("sign", "--registry-dir", directory, "--out", tmp_path / "r.jws")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["state.json"])


def test_sequence_never_goes_backwards(
    tmp_path: Path, secret_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sequence is recorded before the file is written: a failed write skips a number."""
    directory = tmp_path / "registry"
    key = init(directory)
    out = tmp_path / "r.jws"
    sign(directory, out)
    real_write = files.atomic_write

    def failing_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
        if path == out:
            raise OSError(28, "No space left on device")
        real_write(path, data, mode=mode)

    monkeypatch.setattr(f"{registry_cli.__name__}.atomic_write", failing_write)
    result = run("sign", "--registry-dir", directory, "--out", out)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["No space left on device"])
    assert verified(out, key).sequence == 1  # the old file is intact
    monkeypatch.setattr(f"{registry_cli.__name__}.atomic_write", real_write)
    sign(directory, out)
    assert verified(out, key, previous=1).sequence == 3


# --- secretbox ------------------------------------------------------------------------------

FAST = {"n": 2**14}  # the accepted minimum: quicker tests


def counter_bytes(n: int) -> bytes:
    return bytes(range(n))


def test_secretbox_round_trip() -> None:
    envelope = seal(b'{"kty":"OKP"}', SECRET, random_bytes=counter_bytes, **FAST)
    assert set(envelope) == {"kdf", "n", "r", "p", "cipher", "salt", "nonce", "ciphertext"}
    assert envelope["kdf"] == "scrypt"
    assert (envelope["n"], envelope["r"], envelope["p"]) == (2**14, 8, 1)
    assert json.loads(json.dumps(envelope)) == envelope
    assert open_sealed(envelope, SECRET) == b'{"kty":"OKP"}'
    default = seal(b"x", SECRET, random_bytes=counter_bytes)
    assert default["n"] == SCRYPT_N == 2**15
    assert open_sealed(default, SECRET) == b"x"


def test_secretbox_secret_is_normalised() -> None:
    composed = "ふるさとが大好きです"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    envelope = seal(b"x", composed, random_bytes=counter_bytes, **FAST)
    assert open_sealed(envelope, decomposed) == b"x"


def test_secretbox_wrong_secret() -> None:
    envelope = seal(b"secret key", SECRET, random_bytes=counter_bytes, **FAST)
    with pytest.raises(WrongSecretError) as info:
        open_sealed(envelope, SECRET + "!")
    assert info.value.code == "wrong_secret"
    assert "合言葉が違う" in info.value.message_ja
    assert "secret is wrong" in info.value.message_en


@pytest.mark.parametrize("member", ["ciphertext", "nonce", "salt"])
def test_secretbox_tampering_is_detected(member: str) -> None:
    envelope = seal(b"secret key material", SECRET, random_bytes=counter_bytes, **FAST)
    raw = bytearray(base64url_decode(envelope[member], max_length=1000))
    raw[0] ^= 0x80
    with pytest.raises(WrongSecretError):
        open_sealed({**envelope, member: base64url_encode(bytes(raw))}, SECRET)


def test_secretbox_parameters_are_bound() -> None:
    """Raising n (still safe) changes the key and the associated data: not the same box."""
    envelope = seal(b"x", SECRET, random_bytes=counter_bytes, **FAST)
    with pytest.raises(WrongSecretError):
        open_sealed({**envelope, "n": 2**15}, SECRET)


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"n": 2**10}, UnsafeSealParametersError, "sealed_params_unsafe"),
        ({"n": 2**13}, UnsafeSealParametersError, "sealed_params_unsafe"),
        ({"r": 1}, UnsafeSealParametersError, "sealed_params_unsafe"),
        ({"p": 0}, UnsafeSealParametersError, "sealed_params_unsafe"),
        ({"n": 2**30}, UnsafeSealParametersError, "sealed_params_unsafe"),
        ({"n": 2**14 + 1}, SealedBoxError, "sealed_malformed"),
        ({"n": "16384"}, SealedBoxError, "sealed_malformed"),
        ({"n": True}, SealedBoxError, "sealed_malformed"),
        ({"kdf": "pbkdf2"}, SealedBoxError, "sealed_malformed"),
        ({"cipher": "A128GCM"}, SealedBoxError, "sealed_malformed"),
        ({"nonce": "AAAA"}, SealedBoxError, "sealed_malformed"),
        ({"salt": "not base64!"}, SealedBoxError, "sealed_malformed"),
        ({"extra": 1}, SealedBoxError, "sealed_malformed"),
    ],
)
def test_secretbox_refuses_unsafe_or_malformed_envelopes(
    change: Doc, error: type[Exception], code: str
) -> None:
    envelope = seal(b"x", SECRET, random_bytes=counter_bytes, **FAST)
    with pytest.raises(error) as info:
        open_sealed({**envelope, **change}, SECRET)
    assert getattr(info.value, "code", None) == code


def test_secretbox_refuses_weak_parameters_when_sealing() -> None:
    with pytest.raises(UnsafeSealParametersError):
        seal(b"x", SECRET, random_bytes=counter_bytes, n=2**10)
    with pytest.raises(MalformedValueError):  # an empty secret
        seal(b"x", "", random_bytes=counter_bytes, **FAST)
