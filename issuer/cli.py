"""``furusato-issuer``: the municipality's command line.

Commands parse, call the core, and render; nothing else.  Errors of the core are shown once,
here, as one line in Japanese and English; exit code 1 for a failure, 2 for bad usage or
unreadable input.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from did.errors import FurusatoError
from did.jsonio import load_json
from did.key import did_key_verification_method_id
from did.keys import KeyType, PrivateKey, generate_private_key
from vc.dates import parse_datetime
from vc.issue import issue_credential
from vc.suites import ALL_SUITES, ECDSA_RDFC_2019, EDDSA_RDFC_2022

T = TypeVar("T")

MAX_KEY_FILE_BYTES = 16 * 1024


def fail(message_ja: str, message_en: str, code: int) -> NoReturn:
    click.echo(f"エラー: {message_ja} / Error: {message_en}", err=True)
    sys.exit(code)


def guarded(code: int, action: Callable[[], T]) -> T:
    """Run ``action``; a FurusatoError becomes one bilingual line and exit ``code``."""
    try:
        return action()
    except FurusatoError as exc:
        fail(exc.message_ja, exc.message_en, code)


def read_input(source: str, *, max_bytes: int) -> bytes:
    """Read FILE or ``-`` (stdin) without reading more than ``max_bytes`` + 1."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(source, "rb") as handle:
                data = handle.read(max_bytes + 1)
    except OSError as exc:
        fail(f"{source} を読めません ({exc.strerror})", f"cannot read {source} ({exc.strerror})", 2)
    if len(data) > max_bytes:
        fail(
            f"{source} が大きすぎます (上限 {max_bytes} バイト)",
            f"{source} is too large (limit {max_bytes} bytes)",
            2,
        )
    return data


def load_private_key(path: str) -> PrivateKey:
    data = read_input(path, max_bytes=MAX_KEY_FILE_BYTES)
    jwk = guarded(2, lambda: load_json(data))
    if not isinstance(jwk, dict):
        fail(f"{path} は JWK ではありません", f"{path} is not a JWK", 2)
    return guarded(2, lambda: PrivateKey.from_jwk(jwk))


def parse_time_option(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    return guarded(2, lambda: parse_datetime(value, name))


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group(
    help="ふるさと住民登録の発行者 (自治体) 向けツール / "
    "Issuer tools for furusato resident registration"
)
@click.version_option(package_name="furusato-vc")
def main() -> None:
    pass


@main.command(help="秘密鍵 (JWK) を作成して表示します / Make a private key and print it as a JWK")
@click.option(
    "--type",
    "key_type",
    type=click.Choice(["Ed25519", "P-256"]),
    default="Ed25519",
    show_default=True,
    help="鍵の種類 / key type",
)
@click.option("--seed", help="決定的な鍵の種 (16進) / deterministic seed in hex (tests only)")
def keygen(key_type: str, seed: str | None) -> None:
    kind = KeyType(key_type)
    if seed is None:
        key = generate_private_key(kind, secrets.token_bytes)
    else:
        try:
            raw = bytes.fromhex(seed)
        except ValueError:
            fail("--seed は16進数で指定してください", "--seed must be hexadecimal", 2)
        key = guarded(2, lambda: PrivateKey.from_seed(kind, raw))
    jwk = key.to_jwk(include_private=True)
    jwk["kid"] = did_key_verification_method_id(key.public_key)
    print_json(jwk)


@main.command(
    help="証明書に署名します (FILE または - で標準入力) / "
    "Sign a credential (FILE, or - for standard input)"
)
@click.option("--key", "key_file", required=True, help="秘密鍵の JWK ファイル / private JWK file")
@click.option(
    "--suite",
    type=click.Choice(sorted(ALL_SUITES)),
    help="暗号スイート (既定: 鍵の種類から) / cryptosuite (default: from the key type)",
)
@click.option(
    "--verification-method",
    help="検証メソッドの URL (既定: 鍵の did:key) / "
    "verification method URL (default: the key's did:key)",
)
@click.option("--created", help="署名日時 ISO 8601 (既定: 現在) / proof time (default: now)")
@click.argument("source", metavar="FILE|-")
def sign(
    key_file: str,
    suite: str | None,
    verification_method: str | None,
    created: str | None,
    source: str,
) -> None:
    key = load_private_key(key_file)
    chosen = (
        ALL_SUITES[suite]
        if suite
        else (EDDSA_RDFC_2022 if key.key_type is KeyType.ED25519 else ECDSA_RDFC_2019)
    )
    if key.key_type not in chosen.key_types:
        fail(
            f"{chosen.name} では {key.key_type} の鍵は使えません",
            f"{chosen.name} cannot use a {key.key_type} key",
            2,
        )
    when = parse_time_option(created, "--created") or datetime.now(UTC)
    credential = guarded(2, lambda: load_json(read_input(source, max_bytes=1024 * 1024)))
    method = verification_method or did_key_verification_method_id(key.public_key)
    signed = guarded(
        1,
        lambda: issue_credential(
            credential, key, verification_method=method, created=when, suite=chosen
        ),
    )
    print_json(signed)


@main.command(help="鍵の作成から署名・検証までを実演します / Demonstrate: key, sign, verify")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="生成したファイルを保存するディレクトリ / directory to keep the files in",
)
@click.option("--lang", type=click.Choice(["ja", "en", "both"]), default="both", show_default=True)
def demo(out_dir: Path | None, lang: str) -> None:
    from issuer.demo import run_demo  # the demo's imports are only needed here

    ok = run_demo(out_dir=out_dir, lang=lang, now=datetime.now(UTC), echo=click.echo)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
