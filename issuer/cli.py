"""``furusato-issuer``: the municipality's command line.

Commands parse, call the core, and render; nothing else.  Errors of the core are shown once,
here, as one line in Japanese and English; exit code 1 for a failure, 2 for bad usage or
unreadable input.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from did.jsonio import load_json
from did.key import did_key_verification_method_id
from did.keys import KeyType, PrivateKey, generate_private_key
from shellkit.cli import (
    FAILED,
    USAGE,
    BilingualGroup,
    fail,
    guarded,
    parse_time_option,
    print_json,
    read_input,
)
from vc.issue import issue_credential
from vc.suites import ALL_SUITES, ECDSA_RDFC_2019, EDDSA_RDFC_2022

MAX_KEY_FILE_BYTES = 16 * 1024
MAX_CREDENTIAL_BYTES = 1024 * 1024


def load_private_key(path: str) -> PrivateKey:
    data = read_input(path, max_bytes=MAX_KEY_FILE_BYTES)
    jwk = guarded(USAGE, lambda: load_json(data), prefix=f"{path}: ")
    if not isinstance(jwk, dict):
        fail(f"{path} は JWK ではありません", f"{path} is not a JWK")
    return guarded(USAGE, lambda: PrivateKey.from_jwk(jwk), prefix=f"{path}: ")


@click.group(
    cls=BilingualGroup,
    help="ふるさと住民登録の発行者 (自治体) 向けツール / "
    "Issuer tools for furusato resident registration",
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
            fail("--seed は16進数で指定してください", "--seed must be hexadecimal")
        key = guarded(USAGE, lambda: PrivateKey.from_seed(kind, raw))
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
        )
    when = parse_time_option(created, "--created") or datetime.now(UTC)
    data = read_input(source, max_bytes=MAX_CREDENTIAL_BYTES)
    credential = guarded(USAGE, lambda: load_json(data), prefix=f"{source}: ")
    method = verification_method or did_key_verification_method_id(key.public_key)
    signed = guarded(
        FAILED,
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
