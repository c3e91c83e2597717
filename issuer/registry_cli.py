"""``furusato-issuer registry …``: the national registry operator's tool (DESIGN.md §5).

The operator keeps a **registry directory** (``--registry-dir DIR`` or
``FURUSATO_REGISTRY_DIR``), mode 0700::

    authority-key.json     the authority's private JWK, sealed (shellkit.secretbox: scrypt +
                           AES-256-GCM) with FURUSATO_REGISTRY_SECRET or a typed passphrase
    authority-public.jwk   the public JWK verifiers pin ("kid": its RFC 7638 thumbprint)
    entries.json           {"format": 1, "entries": [<entry>, …]}, sorted by lgCode
    state.json             {"format": 1, "authority", "kid", "keyType", "lastSequence",
                            "lastSignedAt", "lastDigest"}
    .lock                  flock(2) target: one writer at a time

Every write goes to a temporary file in the same directory, is flushed to disk and renamed over
the old file, so a crash leaves the old or the new version, never half of one.  ``sign``
records the new sequence in ``state.json`` *before* writing the signed file: a crash between
the two skips a number (harmless) instead of signing two different registries with one.

Commands only parse, call :mod:`vc.registry` and render.  Errors: one line, Japanese then
English; exit 1 when the operation failed or was refused, 2 for bad usage or unreadable input.
``remove`` and ``revoke-key`` ask for confirmation when run from a terminal (``--yes`` skips
it); in scripts (no terminal) they proceed.

The issuer's main command attaches this group with ``main.add_command(registry)``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from did.errors import FurusatoError
from did.jsonio import Limits, load_json
from did.keys import KeyType, PrivateKey, generate_private_key
from schemas.municipalities import validate_lg_code
from shellkit.cli import FAILED, USAGE, BilingualGroup, fail, guarded, print_json, read_input
from shellkit.files import atomic_write
from shellkit.secretbox import open_sealed, seal
from vc.dates import format_datetime
from vc.registry import (
    MAX_REGISTRY_BYTES,
    Registry,
    RegistryEntry,
    check_entries,
    sign_registry,
    validate_entry,
    verify_registry,
)

__all__ = ["ENV_DIR", "ENV_SECRET", "registry"]

ENV_DIR = "FURUSATO_REGISTRY_DIR"
ENV_SECRET = "FURUSATO_REGISTRY_SECRET"  # noqa: S105 - the variable's name, not a secret
KEY_FILE = "authority-key.json"
PUBLIC_KEY_FILE = "authority-public.jwk"
ENTRIES_FILE = "entries.json"
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
STORE_FORMAT = 1
MIN_SECRET_CHARS = 12
MAX_ENTRY_BYTES = 256 * 1024
MAX_SMALL_FILE_BYTES = 64 * 1024
MAX_ENTRIES_FILE_BYTES = 2 * MAX_REGISTRY_BYTES
DEFAULT_AUTHORITY = "ふるさと住民登録 全国レジストリ"
DEFAULT_VALID_DAYS = 7
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

T = TypeVar("T")


# --- files ----------------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    try:
        atomic_write(path, data, mode=mode)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(f"{path} に書き込めません ({reason})", f"cannot write {path} ({reason})", FAILED)


def _guard(code: int, where: str, action: Callable[[], T]) -> T:
    return guarded(code, action, prefix=f"{where}: ")


@dataclass(frozen=True)
class _State:
    authority: str
    kid: str
    key_type: str
    last_sequence: int
    last_signed_at: str | None = None
    last_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STORE_FORMAT,
            "authority": self.authority,
            "kid": self.kid,
            "keyType": self.key_type,
            "lastSequence": self.last_sequence,
            "lastSignedAt": self.last_signed_at,
            "lastDigest": self.last_digest,
        }


class RegistryStore:
    """The registry directory (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key_file = root / KEY_FILE
        self.public_key_file = root / PUBLIC_KEY_FILE
        self.entries_file = root / ENTRIES_FILE
        self.state_file = root / STATE_FILE

    @classmethod
    def open(cls, root: Path) -> RegistryStore:
        store = cls(root)
        if not store.state_file.is_file():
            fail(
                f"{root} は信頼リストのディレクトリではありません"
                " (先に registry init を実行してください)",
                f"{root} is not a registry directory (run registry init first)",
            )
        return store

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock on the directory for a read-modify-write."""
        try:
            descriptor = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            fail(
                f"{self.root} をロックできません ({reason})", f"cannot lock {self.root} ({reason})"
            )
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _read_json(self, path: Path, max_bytes: int) -> Any:
        data = read_input(str(path), max_bytes=max_bytes)
        return _guard(USAGE, str(path), lambda: load_json(data, Limits(max_bytes=max_bytes)))

    def _damaged(self, path: Path, what_ja: str, what_en: str) -> NoReturn:
        fail(f"{path} が壊れています ({what_ja})", f"{path} is damaged ({what_en})")

    def load_state(self) -> _State:
        raw = self._read_json(self.state_file, MAX_SMALL_FILE_BYTES)
        if not isinstance(raw, dict) or raw.get("format") != STORE_FORMAT:
            self._damaged(self.state_file, "形式が不明です", "unknown format")
        sequence = raw.get("lastSequence")
        text_fields = [raw.get(name) for name in ("authority", "kid", "keyType")]
        optional = [raw.get(name) for name in ("lastSignedAt", "lastDigest")]
        if (
            isinstance(sequence, bool)
            or not isinstance(sequence, int)
            or sequence < 0
            or not all(isinstance(v, str) and v for v in text_fields)
            or not all(v is None or isinstance(v, str) for v in optional)
        ):
            self._damaged(self.state_file, "項目が不正です", "invalid members")
        return _State(
            authority=raw["authority"],
            kid=raw["kid"],
            key_type=raw["keyType"],
            last_sequence=sequence,
            last_signed_at=raw.get("lastSignedAt"),
            last_digest=raw.get("lastDigest"),
        )

    def save_state(self, state: _State) -> None:
        _write(self.state_file, _json_bytes(state.to_json()))

    def load_entries(self) -> list[RegistryEntry]:
        raw = self._read_json(self.entries_file, MAX_ENTRIES_FILE_BYTES)
        if (
            not isinstance(raw, dict)
            or raw.get("format") != STORE_FORMAT
            or not isinstance(raw.get("entries"), list)
        ):
            self._damaged(self.entries_file, "形式が不明です", "unknown format")
        where = str(self.entries_file)

        def parse(value: object, index: int) -> RegistryEntry:
            return _guard(
                USAGE, where, lambda: RegistryEntry.from_json(value, path=f"entries[{index}]")
            )

        entries = [parse(value, i) for i, value in enumerate(raw["entries"])]
        _guard(USAGE, where, lambda: check_entries(entries))
        return entries

    def save_entries(self, entries: list[RegistryEntry]) -> None:
        ordered = sorted(entries, key=lambda e: e.lg_code)
        document = {"format": STORE_FORMAT, "entries": [e.to_json() for e in ordered]}
        _write(self.entries_file, _json_bytes(document))

    def load_key(self, secret: str) -> PrivateKey:
        envelope = self._read_json(self.key_file, MAX_SMALL_FILE_BYTES)
        if not isinstance(envelope, dict):
            self._damaged(self.key_file, "形式が不明です", "unknown format")
        plaintext = _guard(FAILED, str(self.key_file), lambda: open_sealed(envelope, secret))
        jwk = _guard(USAGE, str(self.key_file), lambda: load_json(plaintext))
        if not isinstance(jwk, dict):
            self._damaged(self.key_file, "JWK ではありません", "not a JWK")
        return _guard(USAGE, str(self.key_file), lambda: PrivateKey.from_jwk(jwk))


# --- prompts and options ------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _secret(*, new: bool) -> str:
    """The sealing secret: FURUSATO_REGISTRY_SECRET, else a prompt on a terminal."""
    secret = os.environ.get(ENV_SECRET, "")
    if not secret:
        if not _stdin_is_terminal():
            fail(
                f"合言葉がありません: 環境変数 {ENV_SECRET} を設定するか、端末から実行してください",
                f"no secret: set {ENV_SECRET} or run from a terminal to type it",
            )
        secret = click.prompt(
            "合言葉 / secret",
            hide_input=True,
            confirmation_prompt="合言葉 (確認) / repeat the secret" if new else False,
            err=True,
        )
    if new and len(secret) < MIN_SECRET_CHARS:
        fail(
            f"合言葉が短すぎます ({MIN_SECRET_CHARS} 文字以上にしてください)",
            f"the secret is too short (use at least {MIN_SECRET_CHARS} characters)",
        )
    return secret


def _confirm(yes: bool, question: str) -> None:
    if yes or not _stdin_is_terminal():
        return
    click.confirm(question, abort=True, err=True)


registry_dir_option = click.option(
    "--registry-dir",
    "registry_dir",
    required=True,
    envvar=ENV_DIR,
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="信頼リストのディレクトリ / registry directory",
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- commands -------------------------------------------------------------------------------


@click.group(
    cls=BilingualGroup,
    help="全国の信頼リスト (参加自治体と鍵の一覧) を管理します / "
    "Manage the national registry (trust list) of municipalities and their keys",
)
def registry() -> None:
    pass


@registry.command(
    "init",
    help="信頼リストのディレクトリと発行者の鍵を作成します / "
    "Create the registry directory and the authority key",
)
@registry_dir_option
@click.option(
    "--type",
    "key_type",
    type=click.Choice(["Ed25519", "P-256"]),
    default="Ed25519",
    show_default=True,
    help="鍵の種類 / key type",
)
@click.option(
    "--authority",
    default=DEFAULT_AUTHORITY,
    show_default=True,
    help="信頼リスト発行者の名前 / name of the registry authority",
)
def init_command(registry_dir: Path, key_type: str, authority: str) -> None:
    root = registry_dir
    if root.exists() and not root.is_dir():
        fail(f"{root} はディレクトリではありません", f"{root} is not a directory")
    if root.is_dir() and any(root.iterdir()):
        fail(
            f"{root} は既に存在し、空ではありません。上書きしません",
            f"{root} already exists and is not empty; refusing to overwrite it",
            FAILED,
        )
    if not authority or len(authority) > 256 or _CONTROL.search(authority):
        fail(
            "--authority は 256 文字以内の空でない1行の文字列です",
            "--authority must be a non-empty single line of at most 256 characters",
        )
    secret = _secret(new=True)  # before anything is created
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            root.mkdir(mode=0o700)
        os.chmod(root, 0o700)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(f"{root} を作成できません ({reason})", f"cannot create {root} ({reason})", FAILED)

    store = RegistryStore(root)
    with store.lock():
        if store.state_file.exists() or store.key_file.exists():  # a concurrent init won
            fail(f"{root} は既に信頼リストです", f"{root} is already a registry", FAILED)
        key = generate_private_key(KeyType(key_type), secrets.token_bytes)
        jwk_text = json.dumps(key.to_jwk(include_private=True), separators=(",", ":"))
        envelope = guarded(
            USAGE,
            lambda: seal(jwk_text.encode("utf-8"), secret, random_bytes=secrets.token_bytes),
        )
        kid = key.public_key.jwk_thumbprint()
        public_jwk: dict[str, str] = {
            **key.public_key.to_jwk(),
            "kid": kid,
            "alg": key.public_key.alg,
            "use": "sig",
        }
        _write(store.key_file, _json_bytes(envelope))
        _write(store.public_key_file, _json_bytes(public_jwk), mode=0o644)
        store.save_entries([])
        # state.json last: its presence marks a complete registry directory
        store.save_state(_State(authority=authority, kid=kid, key_type=key_type, last_sequence=0))
    click.echo(
        f"信頼リストを作成しました ({key_type} 鍵、kid {kid})。検証側には次の公開鍵を配布します"
        f" / created the registry ({key_type} key, kid {kid}); give verifiers this public key:"
    )
    click.echo(str(store.public_key_file.resolve()))


@registry.command(
    "add",
    help="自治体の項目を追加または置き換えます (ENTRY.json または - で標準入力) / "
    "Add or replace a municipality's entry (ENTRY.json, or - for standard input)",
)
@registry_dir_option
@click.argument("entry_file", metavar="ENTRY.json")
def add_command(registry_dir: Path, entry_file: str) -> None:
    store = RegistryStore.open(registry_dir)
    data = read_input(entry_file, max_bytes=MAX_ENTRY_BYTES)
    raw = _guard(USAGE, entry_file, lambda: load_json(data))
    entry = _guard(USAGE, entry_file, lambda: validate_entry(RegistryEntry.from_json(raw)))
    with store.lock():
        entries = store.load_entries()
        replaced = any(e.lg_code == entry.lg_code for e in entries)
        updated = [e for e in entries if e.lg_code != entry.lg_code] + [entry]
        _guard(USAGE, entry_file, lambda: check_entries(updated))
        store.save_entries(updated)
    verb_ja, verb_en = ("置き換えました", "replaced") if replaced else ("追加しました", "added")
    click.echo(
        f"{verb_ja}: {entry.lg_code} {entry.prefecture}{entry.name} ({entry.did})"
        f" / {verb_en}: {entry.lg_code} {entry.name_en or entry.name} ({entry.did})"
    )


@registry.command("remove", help="自治体の項目を削除します / Remove a municipality's entry")
@registry_dir_option
@click.option("--yes", "-y", is_flag=True, help="確認しない / do not ask for confirmation")
@click.argument("lg_code", metavar="LGCODE")
def remove_command(registry_dir: Path, yes: bool, lg_code: str) -> None:
    store = RegistryStore.open(registry_dir)
    _guard(USAGE, "LGCODE", lambda: validate_lg_code(lg_code))
    with store.lock():
        entries = store.load_entries()
        entry = next((e for e in entries if e.lg_code == lg_code), None)
        if entry is None:
            fail(
                f"自治体コード {lg_code} は信頼リストにありません",
                f"lgCode {lg_code} is not in the registry",
                FAILED,
            )
        _confirm(
            yes,
            f"{lg_code} {entry.prefecture}{entry.name} を削除しますか? / remove {lg_code}?",
        )
        store.save_entries([e for e in entries if e.lg_code != lg_code])
    click.echo(
        f"削除しました: {lg_code} {entry.prefecture}{entry.name} (次の sign で公開されます)"
        f" / removed: {lg_code} (published with the next sign)"
    )


@registry.command(
    "revoke-key",
    help="鍵を失効させます (その鍵の署名はすべて無効になります) / "
    "Mark a key revoked (everything it signed fails)",
)
@registry_dir_option
@click.option("--yes", "-y", is_flag=True, help="確認しない / do not ask for confirmation")
@click.argument("key_id", metavar="KEY_ID")
def revoke_key_command(registry_dir: Path, yes: bool, key_id: str) -> None:
    store = RegistryStore.open(registry_dir)
    with store.lock():
        entries = store.load_entries()
        holder = next((e for e in entries if e.key(key_id) is not None), None)
        key = holder.key(key_id) if holder is not None else None
        if holder is None or key is None:
            fail(
                f"鍵 {key_id} は信頼リストにありません",
                f"key {key_id} is not in the registry",
                FAILED,
            )
        if key.revoked is not None:
            click.echo(
                f"鍵 {key_id} は既に失効しています ({key.revoked})"
                f" / key {key_id} was already revoked ({key.revoked})"
            )
            return
        _confirm(
            yes,
            f"{holder.prefecture}{holder.name} の鍵 {key_id} を失効させますか? この鍵の署名はすべて"
            f"無効になります / revoke {key_id}? Everything it signed will fail",
        )
        at = format_datetime(_now())
        updated = [e.with_key_revoked(key_id, at) if e is holder else e for e in entries]
        store.save_entries(updated)
    click.echo(
        f"鍵を失効にしました: {key_id} ({at}、次の sign で公開されます)"
        f" / revoked: {key_id} at {at} (published with the next sign)"
    )


def _key_line(entry: RegistryEntry, index: int) -> str:
    key = entry.keys[index]
    if key.revoked is not None:
        status = f"失効 {key.revoked}"
    else:
        window = f"{key.valid_from or ''} 〜 {key.valid_until or ''}".strip()
        status = "有効" + (f" {window}" if window != "〜" else "")
    return f"    鍵 {key.id}  {status}"


@registry.command("list", help="信頼リストの項目を表示します / Show the registry's entries")
@registry_dir_option
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def list_command(registry_dir: Path, as_json: bool) -> None:
    store = RegistryStore.open(registry_dir)
    state = store.load_state()
    entries = store.load_entries()
    if as_json:
        print_json(
            {
                "authority": state.authority,
                "kid": state.kid,
                "lastSequence": state.last_sequence,
                "lastSignedAt": state.last_signed_at,
                "entries": [e.to_json() for e in entries],
            }
        )
        return
    signed = state.last_signed_at or "未署名"
    click.echo(
        f"信頼リスト: {state.authority}  登録 {len(entries)} 団体  "
        f"最終連番 {state.last_sequence} ({signed})"
    )
    if not entries:
        click.echo("(項目はありません)")
        return
    click.echo("自治体コード  都道府県  自治体名  DID  状態URL")
    for entry in entries:
        name = entry.name + (f" ({entry.name_en})" if entry.name_en else "")
        click.echo(
            f"{entry.lg_code}  {entry.prefecture}  {name}  {entry.did}  {entry.status_base_url}"
        )
        for index in range(len(entry.keys)):
            click.echo(_key_line(entry, index))


@registry.command(
    "sign",
    help="信頼リストに署名して JWS ファイルを書き出します (連番は前回 + 1) / "
    "Sign the registry and write the JWS file (sequence = last + 1)",
)
@registry_dir_option
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="署名済み信頼リストの出力先 / where to write the signed registry",
)
@click.option(
    "--valid-days",
    type=click.IntRange(1, 366),
    default=DEFAULT_VALID_DAYS,
    show_default=True,
    help="次回更新 (nextUpdate) までの日数 / days until nextUpdate",
)
def sign_command(registry_dir: Path, out_file: Path, valid_days: int) -> None:
    store = RegistryStore.open(registry_dir)
    if not out_file.parent.is_dir():
        fail(
            f"出力先のディレクトリ {out_file.parent} がありません",
            f"the output directory {out_file.parent} does not exist",
        )
    secret = _secret(new=False)
    with store.lock():
        state = store.load_state()
        entries = store.load_entries()
        key = store.load_key(secret)
        if key.public_key.jwk_thumbprint() != state.kid:
            fail(
                f"{store.key_file} の鍵が state.json の kid と一致しません",
                f"the key in {store.key_file} does not match the kid in state.json",
                FAILED,
            )
        now = _now()
        sequence = state.last_sequence + 1
        content = Registry(
            sequence=sequence,
            issued_at=now,
            next_update=now + timedelta(days=valid_days),
            entries=entries,
            authority=state.authority,
        )
        jws = guarded(FAILED, lambda: sign_registry(content, key, kid=state.kid))
        try:  # what every verifier will do, before anything is recorded
            verify_registry(jws, key.public_key, now=now, previous_sequence=state.last_sequence)
        except FurusatoError as exc:  # pragma: no cover - would be a bug in vc.registry
            fail(
                f"署名した信頼リストを検証できません: {exc.message_ja}",
                f"the signed registry does not verify: {exc.message_en}",
                FAILED,
            )
        store.save_state(
            replace(
                state,
                last_sequence=sequence,
                last_signed_at=format_datetime(now),
                last_digest="sha256:" + hashlib.sha256(jws.encode("ascii")).hexdigest(),
            )
        )
        _write(out_file, jws.encode("ascii"), mode=0o644)
    click.echo(
        f"署名しました: 連番 {sequence}、{len(entries)} 団体、次回更新"
        f" {format_datetime(content.next_update)} → {out_file}"
        f" / signed: sequence {sequence}, {len(entries)} entries, next update"
        f" {format_datetime(content.next_update)} → {out_file}"
    )
