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
from typing import Any, TypeVar

import click
import segno

from did.errors import FurusatoError
from did.jsonio import load_json
from did.key import did_key_verification_method_id
from did.keys import KeyType, PrivateKey, generate_private_key
from issuer import audit as audit_chain
from issuer.auth import create_token, list_tokens, revoke_token, token_prefix
from issuer.bootstrap import (
    Services,
    open_database,
    open_services,
    resolve_secret,
    stored_secret,
)
from issuer.db_cli import data_dir_option, db_group
from issuer.dbtools import DatabaseUrlError
from issuer.issuance import change_state
from issuer.oid4vci import create_offer
from issuer.registry_cli import registry
from issuer.registry_export import registry_entry
from issuer.settings import Settings
from issuer.tenants import (
    TENANT_SETTINGS,
    create_tenant,
    get_tenant,
    keys_of,
    list_tenants,
    revoke_key,
    rotate_key,
    update_settings,
)
from schemas.municipalities import municipality_table
from shellkit.cli import (
    FAILED,
    USAGE,
    BilingualGroup,
    fail,
    fail_with,
    guarded,
    parse_time_option,
    print_json,
    read_input,
)
from vc.dates import format_precise
from vc.issue import issue_credential
from vc.suites import ALL_SUITES, ECDSA_RDFC_2019, EDDSA_RDFC_2022

MAX_KEY_FILE_BYTES = 16 * 1024
MAX_CREDENTIAL_BYTES = 1024 * 1024

T = TypeVar("T")


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


@main.command(
    help="ふるさと住民登録の全体を実演します (発行・申請・審査・提示・検証・失効) / "
    "Demonstrate the whole story: issuing, premium review, QR, offline checks, revocation"
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="ファイルを残すディレクトリ (既定: ./furusato-demo、--core では省略可) / "
    "directory to keep the files in (default ./furusato-demo; optional with --core)",
)
@click.option("--lang", type=click.Choice(["ja", "en", "both"]), default="ja", show_default=True)
@click.option(
    "--core",
    is_flag=True,
    help="資格情報の部分だけ (鍵・署名・提示・改ざん・失効、サービスなし) / "
    "the credential core only: key, signature, presentation, tampering, revocation",
)
def demo(out_dir: Path | None, lang: str, core: bool) -> None:
    if core:
        from issuer.demo_core import run_demo as run_core  # only needed here

        ok = run_core(out_dir=out_dir, lang=lang, now=datetime.now(UTC), echo=click.echo)
        sys.exit(0 if ok else 1)
    from issuer.demo import main_entry  # the demo's imports are only needed here

    main_entry(out_dir or Path("furusato-demo"), "en" if lang == "en" else "ja")


# --- the service: tenants, keys, credentials, tokens, audit, publish, serve -----------------


def _settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    return Settings.from_env(data_dir=data_dir, database_url=database_url, **extra)


def _prompt_secret(confirm: bool) -> Callable[[], str]:
    def ask() -> str:
        value: str = click.prompt(
            "鍵を守る秘密 / Secret protecting the keys",
            hide_input=True,
            confirmation_prompt=confirm,
            err=True,
        )
        return value

    return ask


def _service(action: Callable[[], T]) -> T:
    """``guarded(FAILED, …)`` for what opens the database: a ``DATABASE_URL`` that is not one
    we can use is bad usage (exit 2); an unreachable or missing database, like every other
    refusal, a failure (exit 1).  One bilingual line either way, never a traceback."""

    def run() -> T:
        try:
            return action()
        except DatabaseUrlError as exc:
            fail_with(exc, USAGE)

    return guarded(FAILED, run)


def _open(settings: Settings, *, need_secret: bool, confirm: bool = False) -> Services:
    secret = (
        guarded(USAGE, lambda: resolve_secret(settings, _prompt_secret(confirm)))
        if need_secret
        else (settings.secret or stored_secret(settings.data_dir) or "")
    )
    return _service(lambda: open_services(settings, secret, pool_size=2, check=need_secret))


def _now() -> datetime:
    return datetime.now(UTC)


@main.command(help="自治体を登録し、署名鍵と DID を作ります / Set up a municipality: key and DID")
@data_dir_option
@click.option(
    "--lg-code", required=True, help="全国地方公共団体コード (6桁) / local government code"
)
@click.option("--public-url", envvar="FURUSATO_PUBLIC_URL", help="公開 URL / public base URL")
@click.option("--did-method", type=click.Choice(["web", "key"]), default="web", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="{lgCode, did, publicUrl} を JSON で出力")
def init(
    data_dir: Path | None,
    database_url: str | None,
    lg_code: str,
    public_url: str | None,
    did_method: str,
    as_json: bool,
) -> None:
    settings = _settings(data_dir, database_url, public_url=public_url)
    guarded(USAGE, lambda: municipality_table().get(lg_code), prefix="--lg-code: ")
    svc = _open(settings, need_secret=True, confirm=True)
    with svc.db.transaction() as session:
        tenant = guarded(
            FAILED,
            lambda: create_tenant(
                session,
                svc.ring,
                lg_code=lg_code,
                public_url=settings.public_url,
                did_method=did_method,
                now=_now(),
                random_bytes=secrets.token_bytes,
            ),
        )
    if as_json:
        print_json({"lgCode": tenant.lg_code, "did": tenant.did, "publicUrl": tenant.public_url})
    else:
        click.echo(f"{tenant.prefecture}{tenant.name} ({tenant.lg_code}) を登録しました / set up")
        click.echo(f"DID: {tenant.did}")
        click.echo(f"URL: {tenant.identifier}")


@main.command(
    "settings",
    help="自治体ごとの設定を表示・変更します / Show or change a municipality's settings",
)
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.option(
    "--set",
    "set_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="設定する (例 premium.sdJwtPersonalClaims=true) / set one, e.g. premium.minActivities=5",
)
@click.option("--unset", multiple=True, metavar="NAME", help="既定値に戻す / back to the default")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def settings_command(
    data_dir: Path | None,
    database_url: str | None,
    lg_code: str,
    set_options: tuple[str, ...],
    unset: tuple[str, ...],
    as_json: bool,
) -> None:
    values: dict[str, str] = {}
    for option in set_options:
        name, equals, text = option.partition("=")
        if not equals or not name:
            fail(
                f"--set は NAME=VALUE の形です: {option[:60]!r}",
                f"--set takes NAME=VALUE: {option[:60]!r}",
                USAGE,
            )
        values[name.strip()] = text.strip()
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    with svc.db.transaction() as session:
        if values or unset:
            current = guarded(
                USAGE,
                lambda: update_settings(
                    session, lg_code, set_values=values, unset=unset, actor="cli", now=_now()
                ),
            )
        else:
            current = guarded(FAILED, lambda: get_tenant(session, lg_code)).settings
    if as_json:
        print_json(current)
        return
    for name, spec in TENANT_SETTINGS.items():
        section_name, _, key = name.partition(".")
        section = current.get(section_name)
        value = section.get(key) if isinstance(section, dict) else None
        shown = "(既定 / default)" if value is None else json.dumps(value)
        click.echo(f"{name} = {shown}    {spec.help_ja} / {spec.help_en}")


@main.group(cls=BilingualGroup, help="署名鍵 / Signing keys")
def keys() -> None:
    pass


@keys.command("rotate", help="署名鍵を更新します (旧鍵は履歴に残ります) / Rotate the signing key")
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
def keys_rotate(data_dir: Path | None, database_url: str | None, lg_code: str) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=True)
    with svc.db.transaction() as session:
        tenant = guarded(FAILED, lambda: get_tenant(session, lg_code))
        row = guarded(
            FAILED,
            lambda: rotate_key(
                session, svc.ring, tenant, now=_now(), random_bytes=secrets.token_bytes, actor="cli"
            ),
        )
        click.echo(f"新しい鍵 / new key: {tenant.did}#{row.key_id}")


@keys.command("list", help="署名鍵の一覧 / List signing keys")
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def keys_list(data_dir: Path | None, database_url: str | None, lg_code: str, as_json: bool) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    with svc.db.read() as session:
        tenant = guarded(FAILED, lambda: get_tenant(session, lg_code))
        rows = keys_of(session, lg_code)
        listed = [
            {
                "id": f"{tenant.did}#{k.key_id}",
                "publicKeyMultibase": k.public_multikey,
                "validFrom": format_precise(k.valid_from),
                "validUntil": format_precise(k.valid_until) if k.valid_until else None,
                "revoked": format_precise(k.revoked_at) if k.revoked_at else None,
            }
            for k in rows
        ]
    if as_json:
        print_json(listed)
        return
    for key in listed:
        state = (
            "失効 revoked"
            if key["revoked"]
            else ("退役 retired" if key["validUntil"] else "使用中 current")
        )
        click.echo(f"{key['id']}  {state}  {key['validFrom']} – {key['validUntil'] or ''}")


@keys.command(
    "revoke",
    help="漏れた鍵を失効させます (その鍵の署名はすべて無効。先に keys rotate) / Revoke a "
    "compromised key (everything it signed fails; rotate first)",
)
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.option(
    "--reason", help="理由 (監査ログに記録。個人情報は書かない) / reason, kept in the audit log"
)
@click.option("--yes", "-y", is_flag=True, help="確認しない / do not ask for confirmation")
@click.argument("key_id", metavar="KEY_ID")
def keys_revoke(
    data_dir: Path | None,
    database_url: str | None,
    lg_code: str,
    reason: str | None,
    yes: bool,
    key_id: str,
) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    if not yes and sys.stdin is not None and sys.stdin.isatty():
        click.confirm(
            f"{lg_code} の鍵 {key_id} を失効させますか? この鍵の署名はすべて無効になり、取り消せません"
            f" / revoke {key_id} of {lg_code}? Everything it signed will fail; this is final",
            abort=True,
            err=True,
        )
    now = _now()
    with svc.db.transaction() as session:
        tenant = guarded(FAILED, lambda: get_tenant(session, lg_code))
        row = guarded(
            FAILED,
            lambda: revoke_key(session, tenant, key_id, now=now, actor="cli", reason=reason),
        )
        method, revoked_at = f"{tenant.did}#{row.key_id}", row.revoked_at
    svc.close()
    assert revoked_at is not None
    if revoked_at != now:
        click.echo(
            f"鍵 {method} は既に失効しています ({format_precise(revoked_at)}) / "
            f"key {method} was already revoked ({format_precise(revoked_at)})"
        )
        return
    click.echo(f"鍵を失効にしました / revoked: {method} ({format_precise(revoked_at)})")
    click.echo(
        "次に: registry entry の出力を全国レジストリの運用機関に送り、publish で静的ファイルを"
        "書き出し直してください / next: send the output of registry entry to the registry "
        "operator, and publish the static files again",
        err=True,
    )


def _state_command(action: str, help_text: str) -> None:
    @main.command(action, help=help_text)
    @data_dir_option
    @click.option(
        "--lg-code", required=True, help="証明書を発行した自治体 / the issuing municipality"
    )
    @click.option("--reason", help="理由 (監査ログに記録) / reason, kept in the audit log")
    @click.argument("credential_id", metavar="CREDENTIAL_ID")
    def command(
        data_dir: Path | None,
        database_url: str | None,
        lg_code: str,
        reason: str | None,
        credential_id: str,
    ) -> None:
        svc = _open(_settings(data_dir, database_url), need_secret=False)
        row = guarded(
            FAILED,
            lambda: change_state(
                svc.db,
                lg_code=lg_code,
                credential_id=credential_id,
                action=action,
                now=_now(),
                actor="cli",
                reason=reason,
            ),
        )
        click.echo(f"{row.credential_id}: {row.state}")


_state_command("revoke", "証明書を失効させます (取り消せません) / Revoke a credential (final)")
_state_command("suspend", "証明書を一時停止します / Suspend a credential")
_state_command("reinstate", "停止を解除します / Reinstate a suspended credential")


@main.command(
    "issue-batch",
    help="ファイルの登録者全員にベーシックの証明書を発行します / Issue basic credentials to "
    "every registrant of a file",
)
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="発行した証明書 (JSON Lines、上書きしません) / the issued credentials (JSON Lines; "
    "never overwritten)",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="署名するプロセス数 (既定: CPU 数) / signing processes (default: CPU count)",
)
def issue_batch_command(
    data_dir: Path | None,
    database_url: str | None,
    lg_code: str,
    source: Path,
    output: Path,
    workers: int | None,
) -> None:
    from issuer.batch import BatchInputError, issue_batch

    svc = _open(_settings(data_dir, database_url), need_secret=True)
    done = [0]

    def progress(issued: int, total: int) -> None:
        done[0] = issued
        click.echo(f"{issued:,} / {total:,}", err=True)

    try:
        report = issue_batch(
            svc, lg_code, source, output, now=_now, workers=workers, progress=progress
        )
    except BatchInputError as exc:
        fail(f"{source}: {exc.message_ja}", f"{source}: {exc.message_en}", USAGE)
    except FurusatoError as exc:
        fail(
            f"{exc.message_ja} [{exc.code}] ({done[0]:,} 件は発行済みで {output}.partial にあります)",
            f"{exc.message_en} [{exc.code}] ({done[0]:,} issued before, in {output}.partial)",
            FAILED,
        )
    finally:
        svc.close()
    click.echo(
        f"{report.issued:,} 件の証明書を発行しました: {report.output} / "
        f"{report.issued:,} credentials issued: {report.output}"
    )


@main.command(
    help="窓口用の申込み (OID4VCI オファー) を作ります / Make a credential offer (counter)"
)
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.option("--tier", type=click.Choice(["basic", "premium"]), default="basic", show_default=True)
@click.option("--tx-code", is_flag=True, help="確認コードを付ける / require a transaction code")
@click.option(
    "--png", "png", type=click.Path(dir_okay=False, path_type=Path), help="QR を PNG で保存"
)
def offer(
    data_dir: Path | None,
    database_url: str | None,
    lg_code: str,
    tier: str,
    tx_code: bool,
    png: Path | None,
) -> None:
    if png is not None and not png.parent.is_dir():
        fail(f"{png.parent} というディレクトリはありません", f"no such directory: {png.parent}")
    svc = _open(_settings(data_dir, database_url), need_secret=True)
    with svc.db.transaction() as session:
        tenant = guarded(FAILED, lambda: get_tenant(session, lg_code))
        new = guarded(
            FAILED,
            lambda: create_offer(
                session,
                svc.settings,
                svc.secret,
                tenant,
                tier=tier,
                channel="counter",
                now=_now(),
                actor="cli",
                with_tx_code=tx_code,
            ),
        )
    if png is not None:
        try:
            segno.make_qr(new.offer_uri, error="m").save(str(png), kind="png", scale=8, border=4)
        except OSError as exc:
            fail(
                f"{png} に書き込めません ({exc.strerror})",
                f"cannot write {png} ({exc.strerror})",
                FAILED,
            )
    if new.tx_code:
        click.echo(f"確認コード / transaction code: {new.tx_code}", err=True)
    click.echo(new.offer_uri)


@main.group(cls=BilingualGroup, help="API トークン / API tokens")
def token() -> None:
    pass


@token.command("create", help="トークンを作成します (最終行に表示) / Create a token (last line)")
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.option("--role", type=click.Choice(["admin", "staff", "auditor"]), required=True)
@click.option("--name", help="メモ / a note for people")
def token_create(
    data_dir: Path | None, database_url: str | None, lg_code: str, role: str, name: str | None
) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    with svc.db.transaction() as session:
        text = guarded(
            FAILED,
            lambda: create_token(session, lg_code, role, name=name, now=_now(), actor="cli"),
        )
    click.echo("このトークンは再表示できません / This token is shown only once:", err=True)
    click.echo(text)


@token.command(
    "list",
    help="自治体のトークンの一覧 (秘密の部分は表示しません) / List a municipality's tokens "
    "(never their secret part)",
)
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def token_list(
    data_dir: Path | None, database_url: str | None, lg_code: str, as_json: bool
) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    with svc.db.read() as session:
        rows = guarded(FAILED, lambda: list_tokens(session, lg_code))
        listed = [
            {
                "id": row.token_id,
                "prefix": token_prefix(row.lg_code, row.token_id),
                "role": row.role,
                "name": row.name,
                "created": format_precise(row.created_at),
                "revoked": format_precise(row.revoked_at) if row.revoked_at else None,
            }
            for row in rows
        ]
    svc.close()
    if as_json:
        print_json(listed)
        return
    if not listed:
        click.echo(f"{lg_code}: トークンはありません / no tokens")
    for item in listed:
        state = f"失効 revoked {item['revoked']}" if item["revoked"] else "有効 active"
        click.echo(
            f"{item['id']}  {item['prefix']}…  {item['role']:<7}  {state}  "
            f"作成 created {item['created']}  {item['name'] or ''}".rstrip()
        )


@token.command(
    "revoke",
    help="トークンを無効にします (以後 401。取り消せません) / Revoke a token (401 from now on; "
    "final)",
)
@data_dir_option
@click.option("--lg-code", required=True, help="自治体コード (6桁) / local government code")
@click.argument("token_id", metavar="TOKEN_ID")
def token_revoke(
    data_dir: Path | None, database_url: str | None, lg_code: str, token_id: str
) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    now = _now()
    with svc.db.transaction() as session:
        row = guarded(
            FAILED, lambda: revoke_token(session, lg_code, token_id, now=now, actor="cli")
        )
        revoked_at, role, name = row.revoked_at, row.role, row.name
    svc.close()
    assert revoked_at is not None
    label = f"{token_id} ({role}{', ' + name if name else ''})"
    if revoked_at != now:
        click.echo(
            f"トークン {label} は既に無効です ({format_precise(revoked_at)}) / "
            f"token {label} was already revoked ({format_precise(revoked_at)})"
        )
        return
    click.echo(
        f"トークンを無効にしました: {label}。以後このトークンでは API もコンソールも使えません / "
        f"revoked token {label}: it no longer signs in to the API or the console"
    )


@main.group(cls=BilingualGroup, help="監査ログ / Audit log")
def audit() -> None:
    pass


@audit.command("verify", help="監査ログの改ざんを検査します / Check the audit chain")
@data_dir_option
@click.option(
    "--lg-code", multiple=True, help="対象の自治体 (既定: すべて) / municipalities (default: all)"
)
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
def audit_verify(
    data_dir: Path | None, database_url: str | None, lg_code: tuple[str, ...], as_json: bool
) -> None:
    svc = _open(_settings(data_dir, database_url), need_secret=False)
    with svc.db.read() as session:
        codes = list(lg_code) or [t.lg_code for t in list_tenants(session)]
        for code in codes:
            guarded(FAILED, lambda code=code: get_tenant(session, code))  # type: ignore[misc]
        reports = [audit_chain.verify_chain(session, code) for code in codes]
    if as_json:
        print_json([r.__dict__ for r in reports])
    for report in reports:
        if as_json:
            continue
        if report.ok:
            click.echo(
                f"✓ {report.lg_code}: {report.events} 件、改ざんなし / "
                f"{report.events} events, intact"
            )
        else:
            click.echo(
                f"✗ {report.lg_code}: {report.first_bad_seq} 番で改ざんを検出 / tampering at event "
                f"{report.first_bad_seq} ({report.reason})"
            )
    sys.exit(0 if all(r.ok for r in reports) else FAILED)


@main.command(
    help="静的ファイル (DID 文書、コンテキスト、ステータスリスト) を書き出します / "
    "Write the static files a web server or CDN serves"
)
@data_dir_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def publish(data_dir: Path | None, database_url: str | None, out_dir: Path) -> None:
    from issuer.publish import publish_static

    svc = _open(_settings(data_dir, database_url), need_secret=True)
    written = guarded(FAILED, lambda: publish_static(svc, out_dir, now=_now()))
    click.echo(f"{len(written)} ファイルを書き出しました / files written to {out_dir}")


@main.command(help="発行者サービスを起動します / Run the issuer service")
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--public-url", envvar="FURUSATO_PUBLIC_URL", help="公開 URL (既定: http://localhost:PORT)"
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True))
@click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--demo-lg-code",
    default="015814",
    show_default=True,
    help="初回起動時に作るデモ自治体 / the demo municipality made on first start",
)
def serve(
    data_dir: Path | None,
    database_url: str | None,
    host: str,
    port: int,
    public_url: str | None,
    workers: int,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    demo_lg_code: str,
) -> None:
    from issuer.serve import check_port, run_server

    scheme = "https" if ssl_certfile else "http"
    settings = _settings(
        data_dir,
        database_url,
        public_url=public_url or f"{scheme}://localhost:{port}",
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    # the address, then the database, before anything is made (the first start's demo…)
    _service(lambda: check_port(host, port))
    _service(lambda: open_database(settings, pool_size=1).dispose())
    _service(lambda: run_server(settings, demo_lg_code=demo_lg_code, echo=click.echo))


main.add_command(registry)
main.add_command(db_group)
registry.add_command(registry_entry)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
