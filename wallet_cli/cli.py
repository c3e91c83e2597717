"""``furusato-wallet``: the resident's wallet — receive, keep and show furusato credentials.

The wallet lives in ``--wallet-dir`` (``FURUSATO_WALLET_DIR``; default
``~/.local/share/furusato-wallet``), sealed with a passphrase (asked for, or
``FURUSATO_WALLET_PASSPHRASE`` in scripts).  Japanese by default, English with ``--lang en``.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import segno

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import PrivateKey
from did.multibase import base64url_encode
from shellkit.cli import (
    FAILED,
    USAGE,
    BilingualGroup,
    fail,
    guarded,
    print_json,
)
from shellkit.files import atomic_write
from shellkit.qrimage import looks_like_image, read_one_qr
from vc import envelope, oid4vci
from vc.presentation import create_presentation, sign_presentation
from wallet_cli import client
from wallet_cli.store import StoredCredential, Wallet, WalletStore, open_json, seal_json

JST = timezone(timedelta(hours=9), "JST")
TIERS = {"basic": ("ベーシック", "basic"), "premium": ("プレミアム", "premium")}
STATES = {
    "active": ("有効", "active"),
    "revoked": ("失効", "revoked"),
    "suspended": ("停止中", "suspended"),
    "expired": ("期限切れ", "expired"),
    "unknown": ("未確認", "not checked"),
}


def default_wallet_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "furusato-wallet"


class Context:
    def __init__(self, wallet_dir: Path, lang: str) -> None:
        self.store = WalletStore(wallet_dir)
        self.lang = lang
        self._passphrase: str | None = None

    def passphrase(self, *, new: bool = False) -> str:
        if self._passphrase is None:
            given = os.environ.get("FURUSATO_WALLET_PASSPHRASE")
            if given:
                self._passphrase = given
            elif sys.stdin.isatty():
                self._passphrase = click.prompt(
                    "ウォレットのパスフレーズ / Wallet passphrase",
                    hide_input=True,
                    confirmation_prompt=new,
                    err=True,
                )
            else:
                fail(
                    "パスフレーズがありません: FURUSATO_WALLET_PASSPHRASE を設定してください",
                    "no passphrase: set FURUSATO_WALLET_PASSPHRASE",
                )
        if new and len(self._passphrase) < 8:
            fail(
                "パスフレーズは8文字以上にしてください",
                "the passphrase needs at least 8 characters",
            )
        return self._passphrase

    def load(self) -> Wallet:
        return guarded(FAILED, lambda: self.store.load(self.passphrase()))

    def save(self, wallet: Wallet) -> None:
        guarded(FAILED, lambda: self.store.save(wallet, self.passphrase(), secrets.token_bytes))

    def say(self, ja: str, en: str) -> None:
        click.echo(en if self.lang == "en" else ja)


pass_context = click.make_pass_decorator(Context)


def _now() -> datetime:
    return datetime.now(UTC)


def _jst(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.astimezone(JST).strftime("%Y-%m-%d")


def summary(stored: StoredCredential) -> dict[str, Any]:
    credential = stored.credential
    subject = credential.get("credentialSubject", {})
    municipality = subject.get("municipality", {}) if isinstance(subject, dict) else {}
    return {
        "id": stored.id,
        "municipality": municipality.get("name"),
        "prefecture": municipality.get("prefecture"),
        "lgCode": municipality.get("lgCode"),
        "tier": subject.get("registrationTier") if isinstance(subject, dict) else None,
        "validUntil": credential.get("validUntil"),
        "state": stored.state,
        "checkedAt": stored.checked_at,
        "issuer": stored.issuer_url,
    }


def _short(credential_id: str) -> str:
    return credential_id.removeprefix("urn:uuid:")[:8]


@click.group(
    cls=BilingualGroup,
    help="ふるさと住民の証明書を受け取り、保管し、提示します / "
    "Receive, keep and present furusato credentials",
)
@click.option(
    "--wallet-dir",
    envvar="FURUSATO_WALLET_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="ウォレットのディレクトリ / wallet directory (FURUSATO_WALLET_DIR)",
)
@click.option(
    "--lang",
    type=click.Choice(["ja", "en"]),
    default="ja",
    show_default=True,
    help="表示言語 / language",
)
@click.version_option(package_name="furusato-vc")
@click.pass_context
def main(ctx: click.Context, wallet_dir: Path | None, lang: str) -> None:
    ctx.obj = Context(wallet_dir or default_wallet_dir(), lang)


@main.command(help="ウォレットを作成します / Create the wallet")
@pass_context
def init(ctx: Context) -> None:
    passphrase = ctx.passphrase(new=True)
    guarded(FAILED, lambda: ctx.store.create(passphrase, secrets.token_bytes))
    ctx.say(
        f"ウォレットを作成しました: {ctx.store.directory}",
        f"Wallet created in {ctx.store.directory}",
    )


@main.command(
    help="証明書を受け取ります (申込み URI または QR の画像) / "
    "Receive a credential (offer URI, or an image of its QR code)"
)
@click.argument("offer", metavar="OFFER")
@click.option("--tx-code", help="確認コード (窓口で表示) / transaction code shown at the counter")
@pass_context
def receive(ctx: Context, offer: str, tx_code: str | None) -> None:
    wallet = ctx.load()
    text = offer
    if not offer.startswith(("openid-credential-offer:", "https://", "http://")):
        path = Path(offer)
        if not path.is_file():
            fail(
                f"{offer} は申込み URI でも画像ファイルでもありません",
                f"{offer} is neither an offer URI nor an image file",
            )
        with path.open("rb") as handle:
            head = handle.read(16)
        if not looks_like_image(head):
            fail(f"{offer} は画像ではありません", f"{offer} is not an image")
        text = guarded(USAGE, lambda: read_one_qr(path))

    def ask(spec: oid4vci.TxCode) -> str:
        if tx_code is not None:
            return tx_code
        if not sys.stdin.isatty():
            fail("確認コードが必要です (--tx-code)", "a transaction code is required (--tx-code)")
        value: str = click.prompt("確認コード / Transaction code", err=True)
        return value

    http = client.HttpClient()
    received = guarded(FAILED, lambda: client.receive(http, text, now=_now(), tx_code=ask))
    credential_id = str(received.credential.get("id"))
    stored = StoredCredential(
        id=credential_id,
        format="ldp_vc",
        credential=received.credential,
        holder_jwk=received.holder.to_jwk(include_private=True),
        issuer_url=received.issuer_url,
        received_at=_now().isoformat().replace("+00:00", "Z"),
        state="active",
        checked_at=_now().isoformat().replace("+00:00", "Z"),
    )
    wallet.credentials = [c for c in wallet.credentials if c.id != credential_id] + [stored]
    ctx.save(wallet)
    info = summary(stored)
    tier_ja, tier_en = TIERS.get(str(info["tier"]), (info["tier"], info["tier"]))
    ctx.say(
        f"受け取りました: {info['prefecture']}{info['municipality']} {tier_ja} "
        f"(有効期限 {_jst(info['validUntil'])}) ID {_short(credential_id)}",
        f"Received: {info['municipality']} ({info['prefecture']}), {tier_en}, valid until "
        f"{_jst(info['validUntil'])}, id {_short(credential_id)}",
    )


@main.command("list", help="証明書の一覧 / List the credentials")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
@pass_context
def list_command(ctx: Context, as_json: bool) -> None:
    wallet = ctx.load()
    rows = [summary(c) for c in wallet.credentials]
    if as_json:
        print_json(rows)
        return
    if not rows:
        ctx.say("証明書はまだありません", "No credentials yet")
        return
    for row in rows:
        tier_ja, tier_en = TIERS.get(str(row["tier"]), (row["tier"], row["tier"]))
        state_ja, state_en = STATES.get(str(row["state"]), (row["state"], row["state"]))
        ctx.say(
            f"{_short(row['id'])}  {row['prefecture']}{row['municipality']}  {tier_ja}  "
            f"有効期限 {_jst(row['validUntil'])}  状態 {state_ja}",
            f"{_short(row['id'])}  {row['municipality']} ({row['prefecture']})  {tier_en}  "
            f"valid until {_jst(row['validUntil'])}  {state_en}",
        )


@main.command(help="証明書の詳細 / Show one credential")
@click.argument("reference", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
@click.option(
    "--refresh", is_flag=True, help="発行者に状態を問い合わせる / check the status online"
)
@pass_context
def show(ctx: Context, reference: str, as_json: bool, refresh: bool) -> None:
    wallet = ctx.load()
    stored = guarded(FAILED, lambda: wallet.find(reference))
    if refresh:
        stored.state = guarded(
            FAILED, lambda: client.current_state(client.HttpClient(), stored.credential, now=_now())
        )
        stored.checked_at = _now().isoformat().replace("+00:00", "Z")
        ctx.save(wallet)
    info = summary(stored)
    if as_json:
        print_json({**info, "credential": stored.credential})
        return
    tier_ja, tier_en = TIERS.get(str(info["tier"]), (info["tier"], info["tier"]))
    state_ja, state_en = STATES.get(str(info["state"]), (info["state"], info["state"]))
    checked = _jst(info["checkedAt"]) if info["checkedAt"] else "—"
    lines = [
        (
            "自治体",
            "Municipality",
            f"{info['prefecture']} {info['municipality']} ({info['lgCode']})",
        ),
        ("登録区分", "Tier", tier_ja if ctx.lang == "ja" else tier_en),
        ("有効期限", "Valid until", _jst(info["validUntil"])),
        ("状態", "Status", f"{state_ja if ctx.lang == 'ja' else state_en} ({checked})"),
        ("ID", "ID", stored.id),
        ("発行者", "Issuer", stored.issuer_url),
    ]
    for ja, en, value in lines:
        click.echo(f"{en if ctx.lang == 'en' else ja}: {value}")


def build_presentation(stored: StoredCredential, challenge: str, domain: str) -> dict[str, Any]:
    key = PrivateKey.from_jwk(stored.holder_jwk)
    holder = did_key_from_public_key(key.public_key)
    return sign_presentation(
        create_presentation([stored.credential], holder=holder),
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        challenge=challenge,
        domain=domain,
        created=_now(),
    )


@main.command(help="証明書を QR コードで提示します / Show a credential as a QR code")
@click.argument("reference", metavar="ID")
@click.option("--challenge", help="検証者のチャレンジ / the verifier's challenge")
@click.option(
    "--payload", "as_payload", is_flag=True, help="QR の文字列だけを出力 / print the QR text only"
)
@click.option(
    "--png", type=click.Path(dir_okay=False, path_type=Path), help="PNG に保存 / write a PNG"
)
@click.option(
    "--svg", type=click.Path(dir_okay=False, path_type=Path), help="SVG に保存 / write an SVG"
)
@click.option("--terminal", is_flag=True, help="端末に表示 / draw in the terminal")
@click.option(
    "--self-contained",
    is_flag=True,
    help="発行者の DID も含める (QR が大きくなります) / include the issuer DID (a larger QR)",
)
@pass_context
def present(
    ctx: Context,
    reference: str,
    challenge: str | None,
    as_payload: bool,
    png: Path | None,
    svg: Path | None,
    terminal: bool,
    self_contained: bool,
) -> None:
    if not (as_payload or png or svg or terminal):
        fail(
            "出力を選んでください: --payload、--png、--svg、--terminal",
            "choose an output: --payload, --png, --svg or --terminal",
        )
    for target in (png, svg):
        if target is not None and not target.parent.is_dir():
            fail(
                f"{target.parent} というディレクトリはありません",
                f"no such directory: {target.parent}",
            )
    wallet = ctx.load()
    stored = guarded(FAILED, lambda: wallet.find(reference))
    if challenge is not None and not 0 < len(challenge) <= 256:
        fail("チャレンジは1〜256文字です", "the challenge must have 1 to 256 characters")
    nonce = challenge or base64url_encode(secrets.token_bytes(9))
    vp = guarded(FAILED, lambda: build_presentation(stored, nonce, envelope.QR_DOMAIN))
    text = envelope.encode_presentation(vp, issuer_by_registry=not self_contained)
    if as_payload:
        click.echo(text)
    code = segno.make_qr(text, error="m")
    try:
        if png is not None:
            code.save(str(png), kind="png", scale=6, border=4)
        if svg is not None:
            code.save(
                str(svg),
                kind="svg",
                scale=4,
                border=4,
                title="ふるさと住民登録 / furusato resident",
            )
    except OSError as exc:
        fail(f"書き込めません ({exc.strerror})", f"cannot write ({exc.strerror})", FAILED)
    if terminal:
        code.terminal(compact=True)
        ctx.say(
            f"有効な時間は約2分です (チャレンジ {nonce})",
            f"Valid for about two minutes (challenge {nonce})",
        )
    elif not as_payload:
        ctx.say(
            f"QR コード (バージョン {code.version}) を保存しました",
            f"QR code (version {code.version}) written",
        )


@main.command(help="証明書を削除します (確認あり) / Remove a credential (asks first)")
@click.argument("reference", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="確認しない / do not ask")
@pass_context
def remove(ctx: Context, reference: str, yes: bool) -> None:
    wallet = ctx.load()
    stored = guarded(FAILED, lambda: wallet.find(reference))
    info = summary(stored)
    if not yes:
        question = (
            f"{info['municipality']} の証明書 {_short(stored.id)} を削除しますか? "
            f"/ Remove the credential of {info['municipality']}?"
        )
        if not sys.stdin.isatty():
            fail("確認できません: --yes を付けてください", "cannot ask: add --yes")
        click.confirm(question, abort=True, err=True)
    wallet.credentials = [c for c in wallet.credentials if c.id != stored.id]
    ctx.save(wallet)
    ctx.say(f"削除しました: {_short(stored.id)}", f"Removed: {_short(stored.id)}")


BACKUP_FORMAT = "furusato-wallet-backup/1"


@main.command("export", help="暗号化したバックアップを書き出します / Write an encrypted backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def export_command(ctx: Context, file: Path) -> None:
    wallet = ctx.load()
    if file.exists():
        fail(f"{file} は既にあります", f"{file} already exists")
    payload = {"format": BACKUP_FORMAT, "wallet": wallet.to_json()}
    sealed = seal_json(payload, ctx.passphrase(), secrets.token_bytes)
    guarded(FAILED, lambda: atomic_write(file, sealed))
    ctx.say(
        f"{len(wallet.credentials)} 件をバックアップしました (同じパスフレーズで復元できます)",
        f"Backed up {len(wallet.credentials)} credentials (restore with the same passphrase)",
    )


@main.command("import", help="バックアップから取り込みます / Restore from a backup")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_context
def import_command(ctx: Context, file: Path) -> None:
    wallet = ctx.load()
    data = file.read_bytes()
    payload = guarded(FAILED, lambda: open_json(data, ctx.passphrase()))
    if not isinstance(payload, dict) or payload.get("format") != BACKUP_FORMAT:
        fail(
            f"{file} はウォレットのバックアップではありません",
            f"{file} is not a wallet backup",
            FAILED,
        )
    restored = guarded(FAILED, lambda: Wallet.from_json(payload["wallet"]))
    known = {c.id for c in wallet.credentials}
    added = [c for c in restored.credentials if c.id not in known]
    wallet.credentials += added
    ctx.save(wallet)
    ctx.say(f"{len(added)} 件を取り込みました", f"Restored {len(added)} credentials")


@main.command(
    help="証明書を更新します (発行者が対応している場合) / Renew a credential "
    "(where the issuer allows)"
)
@click.argument("reference", metavar="ID")
@pass_context
def renew(ctx: Context, reference: str) -> None:
    wallet = ctx.load()
    stored = guarded(FAILED, lambda: wallet.find(reference))
    key = PrivateKey.from_jwk(stored.holder_jwk)
    renewed = guarded(
        FAILED,
        lambda: client.renew(
            client.HttpClient(),
            stored.credential,
            key,
            stored.issuer_url,
            now=_now(),
            presentation_for=lambda nonce, domain: build_presentation(stored, nonce, domain),
        ),
    )
    new = StoredCredential(
        id=str(renewed.get("id")),
        format=stored.format,
        credential=renewed,
        holder_jwk=stored.holder_jwk,
        issuer_url=stored.issuer_url,
        received_at=_now().isoformat().replace("+00:00", "Z"),
        state="active",
        checked_at=_now().isoformat().replace("+00:00", "Z"),
    )
    wallet.credentials = [c for c in wallet.credentials if c.id != stored.id] + [new]
    ctx.save(wallet)
    ctx.say(
        f"更新しました: 新しい有効期限 {_jst(renewed.get('validUntil'))} (ID {_short(new.id)})",
        f"Renewed: valid until {_jst(renewed.get('validUntil'))} (id {_short(new.id)})",
    )


if __name__ == "__main__":  # pragma: no cover
    main()
