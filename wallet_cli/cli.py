"""``furusato-wallet``: the resident's wallet — receive, keep and show furusato credentials.

The wallet lives in ``--wallet-dir`` (``FURUSATO_WALLET_DIR``; default
``~/.local/share/furusato-wallet``), sealed with a passphrase (asked for, or
``FURUSATO_WALLET_PASSPHRASE`` in scripts).  Japanese by default, English with ``--lang en``.

Formats (docs/formats.md): ``receive --format ldp|jwt|sd-jwt`` keeps a credential as
``ldp_vc`` (the JSON-LD credential, shown as the compact ``FR1:`` QR), ``jwt_vc_json`` (a
``vc+jwt``, shown as a ``vp+jwt``) or ``dc+sd-jwt`` (an SD-JWT VC, shown with a KB-JWT and the
claims ``--disclose`` names); the JOSE presentations travel as an
``EnvelopedVerifiablePresentation`` in the generic ``FRJ:`` QR.

Premium registration: ``checkin`` (a site's check-in QR → an activity credential),
``apply-premium`` (→ the identity link) and ``premium-status`` (the state; the premium
credential is received with the applying registration's key once approved).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import segno

from did.errors import FurusatoError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import PrivateKey
from did.multibase import base64url_encode
from schemas.loader import CREDENTIALS_V2
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
from vc import envelope, jose, oid4vci, oid4vp, sdjwt
from vc.furusato import ACTIVITY_CREDENTIAL_TYPE, RESIDENT_CREDENTIAL_TYPE, RESIDENT_VCT
from vc.model import issuer_id
from vc.presentation import create_presentation, sign_presentation
from wallet_cli import client
from wallet_cli import notices as notice_feeds
from wallet_cli.store import (
    StoredApplication,
    StoredCredential,
    Wallet,
    WalletError,
    WalletStore,
    open_json,
    seal_json,
)

JST = timezone(timedelta(hours=9), "JST")
TIERS = {"basic": ("ベーシック", "basic"), "premium": ("プレミアム", "premium")}
STATES = {
    "active": ("有効", "active"),
    "revoked": ("失効", "revoked"),
    "suspended": ("停止中", "suspended"),
    "expired": ("期限切れ", "expired"),
    "unknown": ("未確認", "not checked"),
}


FORMAT_OPTIONS = {"ldp": "ldp_vc", "jwt": "jwt_vc_json", "sd-jwt": "dc+sd-jwt"}
"""``--format`` → the OID4VCI format kept in the store."""
FORMAT_LABELS = {"ldp_vc": "JSON-LD", "jwt_vc_json": "VC-JWT", "dc+sd-jwt": "SD-JWT VC"}
VP_JWT_MEDIA_TYPE = "application/vp+jwt"
SD_JWT_MEDIA_TYPE = "application/dc+sd-jwt"
ENVELOPED_VP_TYPE = "EnvelopedVerifiablePresentation"


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

    def warn(self, ja: str, en: str) -> None:
        click.echo(f"注意: {ja}" if self.lang == "ja" else f"Warning: {en}", err=True)


pass_context = click.make_pass_decorator(Context)


def _now() -> datetime:
    return datetime.now(UTC)


def _jst(value: Any) -> str:
    if value is None:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.astimezone(JST).strftime("%Y-%m-%d")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _jst_time(value: Any) -> str:
    moment = _parse_time(value)
    if moment is None:
        return str(value)
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


def _types(credential: dict[str, Any]) -> list[Any]:
    types = credential.get("type")
    return types if isinstance(types, list) else [types]


def _activity(credential: dict[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    activity = subject.get("activity") if isinstance(subject, dict) else None
    return activity if isinstance(activity, dict) else {}


def _numeric_date_text(value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        moment = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def credential_view(stored: StoredCredential) -> dict[str, Any]:
    """The stored credential as a VCDM document, what ``summary`` reads: as it is for
    ``ldp_vc`` and ``jwt_vc_json``; for ``dc+sd-jwt`` its claims put where the VCDM has them
    (``jti`` → ``id``, ``iss`` → ``issuer``, ``nbf``/``exp`` → ``validFrom``/``validUntil``,
    the subject's claims under ``credentialSubject``)."""
    claims = stored.credential
    if stored.format != "dc+sd-jwt":
        return claims
    subject = {
        k: v
        for k, v in claims.items()
        if k not in ("iss", "vct", "jti", "iat", "nbf", "exp", "cnf", "status")
    }
    return {
        "id": claims.get("jti"),
        "type": ["VerifiableCredential"]
        + ([RESIDENT_CREDENTIAL_TYPE] if claims.get("vct") == RESIDENT_VCT else []),
        "issuer": claims.get("iss"),
        "validFrom": _numeric_date_text(claims.get("nbf")),
        "validUntil": _numeric_date_text(claims.get("exp")),
        "credentialSubject": subject,
    }


def summary(stored: StoredCredential) -> dict[str, Any]:
    credential = credential_view(stored)
    subject = credential.get("credentialSubject", {})
    municipality = subject.get("municipality", {}) if isinstance(subject, dict) else {}
    types = _types(credential)
    kind = (
        "registration"
        if RESIDENT_CREDENTIAL_TYPE in types
        else "activity"
        if ACTIVITY_CREDENTIAL_TYPE in types
        else "other"
    )
    info = {
        "id": stored.id,
        "kind": kind,
        "format": stored.format,
        "municipality": municipality.get("name"),
        "prefecture": municipality.get("prefecture"),
        "lgCode": municipality.get("lgCode"),
        "tier": subject.get("registrationTier") if isinstance(subject, dict) else None,
        "validUntil": credential.get("validUntil"),
        "state": stored.state,
        "checkedAt": stored.checked_at,
        "issuer": stored.issuer_url,
    }
    if kind == "activity":
        activity = _activity(credential)
        site = activity.get("site")
        site = site if isinstance(site, dict) else {}
        info["activityDate"] = activity.get("activityDate")
        info["activityName"] = activity.get("name") or site.get("name")
    return info


def _is_file(path: Path) -> bool:
    """Whether ``path`` names a file (a name too long or otherwise impossible: no)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _short(credential_id: str) -> str:
    return credential_id.removeprefix("urn:uuid:")[:8]


def _keep(
    wallet: Wallet,
    credential: dict[str, Any],
    holder_jwk: dict[str, str],
    issuer_url: str,
    *,
    credential_format: str = "ldp_vc",
    encoded: str | None = None,
) -> StoredCredential:
    """A credential just received (checked, active) put into the wallet, replacing one with the
    same id (``jti`` for an SD-JWT VC)."""
    stamp = _stamp()
    credential_id = credential.get("jti" if credential_format == "dc+sd-jwt" else "id")
    stored = StoredCredential(
        id=str(credential_id),
        format=credential_format,
        credential=credential,
        holder_jwk=holder_jwk,
        issuer_url=issuer_url,
        received_at=stamp,
        state="active",
        checked_at=stamp,
        encoded=encoded,
    )
    wallet.credentials = [c for c in wallet.credentials if c.id != stored.id] + [stored]
    return stored


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
@click.option(
    "--format",
    "format_option",
    type=click.Choice(list(FORMAT_OPTIONS)),
    default="ldp",
    show_default=True,
    help="証明書の形式 / the credential's format (JSON-LD, VC-JWT, SD-JWT VC)",
)
@pass_context
def receive(ctx: Context, offer: str, tx_code: str | None, format_option: str) -> None:
    wallet = ctx.load()
    text = offer
    if not offer.startswith(("openid-credential-offer:", "https://", "http://")):
        path = Path(offer)
        if not _is_file(path):
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
    received = guarded(
        FAILED,
        lambda: client.receive(
            http, text, now=_now(), tx_code=ask, credential_format=FORMAT_OPTIONS[format_option]
        ),
    )
    stored = _keep(
        wallet,
        received.credential,
        received.holder.to_jwk(include_private=True),
        received.issuer_url,
        credential_format=received.format,
        encoded=received.encoded,
    )
    ctx.save(wallet)
    info = summary(stored)
    tier_ja, tier_en = TIERS.get(str(info["tier"]), (info["tier"], info["tier"]))
    ctx.say(
        f"受け取りました: {info['prefecture']}{info['municipality']} {tier_ja} "
        f"(有効期限 {_jst(info['validUntil'])}) ID {_short(stored.id)} "
        f"形式 {FORMAT_LABELS.get(stored.format, stored.format)}",
        f"Received: {info['municipality']} ({info['prefecture']}), {tier_en}, valid until "
        f"{_jst(info['validUntil'])}, id {_short(stored.id)}, format "
        f"{FORMAT_LABELS.get(stored.format, stored.format)}",
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
        if row["kind"] == "activity":
            ctx.say(
                f"{_short(row['id'])}  {row['prefecture']}{row['municipality']}  活動記録  "
                f"{row['activityName']}  活動日 {row['activityDate']}",
                f"{_short(row['id'])}  {row['municipality']} ({row['prefecture']})  activity  "
                f"{row['activityName']}  on {row['activityDate']}",
            )
            continue
        label = FORMAT_LABELS.get(str(row["format"]), str(row["format"]))
        ctx.say(
            f"{_short(row['id'])}  {row['prefecture']}{row['municipality']}  {tier_ja}  "
            f"有効期限 {_jst(row['validUntil'])}  状態 {state_ja}  形式 {label}",
            f"{_short(row['id'])}  {row['municipality']} ({row['prefecture']})  {tier_en}  "
            f"valid until {_jst(row['validUntil'])}  {state_en}  format {label}",
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
        stored.state = guarded(FAILED, lambda: _state_of(client.HttpClient(), stored))
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
        ("形式", "Format", f"{FORMAT_LABELS.get(stored.format, stored.format)} ({stored.format})"),
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


def _state_of(http: client.HttpClient, stored: StoredCredential) -> str:
    """The stored credential's state as the issuer publishes it now (any format)."""
    return client.current_state(
        http,
        stored.credential,
        now=_now(),
        credential_format=stored.format,
        encoded=stored.encoded,
    )


def _enveloped_presentation(media_type: str, compact: str) -> dict[str, Any]:
    """A JOSE presentation as the ``EnvelopedVerifiablePresentation`` of the ``FRJ:`` QR."""
    return {
        "@context": CREDENTIALS_V2,
        "type": ENVELOPED_VP_TYPE,
        "id": f"data:{media_type},{compact}",
    }


def build_vp_jwt(stored: StoredCredential, challenge: str, audience: str) -> dict[str, Any]:
    """A ``vp+jwt`` of the stored VC-JWT, bound to ``challenge`` (nonce) and ``audience``."""
    assert stored.encoded is not None
    key = PrivateKey.from_jwk(stored.holder_jwk)
    presentation = {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "holder": did_key_from_public_key(key.public_key),
        "verifiableCredential": [jose.envelope(stored.encoded)],
    }
    token = jose.sign_vp_jwt(
        presentation,
        key,
        kid=did_key_verification_method_id(key.public_key),
        nonce=challenge,
        audience=audience,
        issued_at=_now(),
    )
    return _enveloped_presentation(VP_JWT_MEDIA_TYPE, token)


def build_sd_jwt_presentation(
    stored: StoredCredential, challenge: str, audience: str, disclose: list[str]
) -> dict[str, Any]:
    """The stored SD-JWT with the ``disclose`` claims and a KB-JWT over ``challenge`` (nonce)
    and ``audience``."""
    assert stored.encoded is not None
    presented = sdjwt.present(
        stored.encoded,
        disclose=disclose,
        holder=PrivateKey.from_jwk(stored.holder_jwk),
        nonce=challenge,
        audience=audience,
        issued_at=_now(),
    )
    return _enveloped_presentation(SD_JWT_MEDIA_TYPE, presented)


def _disclosable(stored: StoredCredential) -> list[str]:
    """The claims the stored SD-JWT can disclose (the names of its Disclosures)."""
    if stored.encoded is None:
        return []
    try:
        parsed = sdjwt.parse(stored.encoded)
    except FurusatoError:
        return []
    return [d.name for d in parsed.disclosures if d.name is not None]


def _claim_names(text: str | None) -> list[str]:
    if text is None:
        return []
    names = [n.strip() for n in text.split(",")]
    if not all(names) or len(names) > 64:
        fail(
            f"--disclose はクレーム名をカンマで区切ります (例: name,birthDate): {text[:60]!r}",
            f"--disclose takes claim names separated by commas (e.g. name,birthDate): "
            f"{text[:60]!r}",
        )
    return list(dict.fromkeys(names))


def _presentation_text(
    stored: StoredCredential,
    nonce: str,
    disclose: list[str],
    *,
    self_contained: bool,
) -> str:
    """The QR text of a fresh presentation of ``stored`` in its own format."""
    if stored.format == "jwt_vc_json":
        vp = guarded(FAILED, lambda: build_vp_jwt(stored, nonce, envelope.QR_DOMAIN))
        return envelope.encode_generic(vp)
    if stored.format == "dc+sd-jwt":
        known = _disclosable(stored)
        unknown = [n for n in disclose if n not in known]
        if unknown:
            offered = ", ".join(known) or "なし"
            offered_en = ", ".join(known) or "none"
            fail(
                f"この証明書は {', '.join(unknown)[:120]} を開示できません "
                f"(開示できるクレーム: {offered})",
                f"this credential cannot disclose {', '.join(unknown)[:120]} "
                f"(claims it can disclose: {offered_en})",
            )
        vp = guarded(
            FAILED, lambda: build_sd_jwt_presentation(stored, nonce, envelope.QR_DOMAIN, disclose)
        )
        return envelope.encode_generic(vp)
    vp = guarded(FAILED, lambda: build_presentation(stored, nonce, envelope.QR_DOMAIN))
    return envelope.encode_presentation(vp, issuer_by_registry=not self_contained)


def _require_ldp(stored: StoredCredential, what_ja: str, what_en: str) -> None:
    """Renewal, check-ins and applications take a presentation of an ``ldp_vc`` credential."""
    if stored.format != "ldp_vc":
        fail(
            f"{what_ja}には JSON-LD 形式 (ldp_vc) の証明書が必要です: {_short(stored.id)} は "
            f"{stored.format} です",
            f"{what_en} needs a JSON-LD (ldp_vc) credential: {_short(stored.id)} is "
            f"{stored.format}",
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
@click.option(
    "--format",
    "format_option",
    type=click.Choice(list(FORMAT_OPTIONS)),
    help="証明書の形式 (保管されている形式と一致すること) / the credential's format (must be "
    "the stored one's)",
)
@click.option(
    "--disclose",
    metavar="NAME,…",
    help="開示するクレーム (SD-JWT のみ) / claims to disclose (SD-JWT only)",
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
    format_option: str | None,
    disclose: str | None,
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
    if format_option is not None and FORMAT_OPTIONS[format_option] != stored.format:
        fail(
            f"証明書 {_short(stored.id)} の形式は {stored.format} です "
            f"(--format {format_option} ではありません)",
            f"credential {_short(stored.id)} is {stored.format}, not --format {format_option}",
        )
    names = _claim_names(disclose)
    if disclose is not None and stored.format != "dc+sd-jwt":
        fail(
            f"--disclose は SD-JWT 形式の証明書だけに使えます ({_short(stored.id)} は "
            f"{stored.format})",
            f"--disclose is for SD-JWT credentials only ({_short(stored.id)} is {stored.format})",
        )
    nonce = challenge or base64url_encode(secrets.token_bytes(9))
    text = _presentation_text(stored, nonce, names, self_contained=self_contained)
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
    pending = {a.application_id for a in wallet.applications}
    wallet.applications += [a for a in restored.applications if a.application_id not in pending]
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
    _require_ldp(stored, "更新", "renewal")
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
    wallet.credentials = [c for c in wallet.credentials if c.id != stored.id]
    new = _keep(wallet, renewed, stored.holder_jwk, stored.issuer_url)
    ctx.save(wallet)
    ctx.say(
        f"更新しました: 新しい有効期限 {_jst(renewed.get('validUntil'))} (ID {_short(new.id)})",
        f"Renewed: valid until {_jst(renewed.get('validUntil'))} (id {_short(new.id)})",
    )


# --- premium registration ------------------------------------------------------------------------

INACTIVE_STATES = ("revoked", "suspended", "expired")


def _stamp() -> str:
    return _now().isoformat().replace("+00:00", "Z")


def _municipality_name(stored: StoredCredential | None, lg_code: str) -> tuple[str, str]:
    """(ja, en) names of the municipality of a stored credential, or its code."""
    info = summary(stored) if stored is not None else {}
    if info.get("municipality"):
        return f"{info['prefecture']}{info['municipality']}", str(info["municipality"])
    return lg_code, lg_code


def _is_registration(stored: StoredCredential, lg_code: str) -> bool:
    """A resident credential of ``lg_code`` that can prove the registration to its issuer
    (an ``ldp_vc``: check-ins, applications and renewal take those)."""
    return (
        stored.format == "ldp_vc"
        and RESIDENT_CREDENTIAL_TYPE in _types(stored.credential)
        and summary(stored)["lgCode"] == lg_code
    )


def _usable(stored: StoredCredential) -> bool:
    """Not known to be revoked, suspended or expired (as last checked, and by its dates)."""
    if stored.state in INACTIVE_STATES:
        return False
    until = _parse_time(stored.credential.get("validUntil"))
    return until is None or until > _now()


def _preferred(stored: StoredCredential) -> tuple[bool, str]:
    return summary(stored)["tier"] == "premium", stored.received_at


def _registration(
    wallet: Wallet,
    lg_code: str,
    *,
    issuer: str | None = None,
    reference: str | None = None,
) -> StoredCredential:
    """The wallet's registration (resident credential, not revoked) of ``lg_code``: the one
    ``reference`` names, or the only one — a premium and the basic it replaces share a key,
    and the premium one is used; registrations with different keys need ``--credential``."""
    if reference is not None:
        stored = guarded(FAILED, lambda: wallet.find(reference))
        if not _is_registration(stored, lg_code) or (
            issuer is not None and issuer_id(stored.credential) != issuer
        ):
            fail(
                f"{_short(stored.id)} はこの自治体 ({lg_code}) の登録証明書ではありません",
                f"{_short(stored.id)} is not a registration with this municipality ({lg_code})",
            )
        if not _usable(stored):
            fail(
                f"{_short(stored.id)} は有効ではありません ({stored.state})",
                f"{_short(stored.id)} is not valid ({stored.state})",
                FAILED,
            )
        return stored
    found = [
        c
        for c in wallet.credentials
        if _is_registration(c, lg_code)
        and _usable(c)
        and (issuer is None or issuer_id(c.credential) == issuer)
    ]
    if not found:
        fail(
            f"この自治体 ({lg_code}) の登録がウォレットにありません。先に登録証明書を"
            "受け取ってください (receive)",
            f"no registration with this municipality ({lg_code}) in the wallet: receive its "
            "registration first (receive)",
            FAILED,
        )
    keys = {PrivateKey.from_jwk(c.holder_jwk).public_key.multikey for c in found}
    if len(keys) > 1:
        ids = ", ".join(_short(c.id) for c in found)
        fail(
            f"この自治体の登録が複数あります ({ids}): --credential で選んでください",
            f"several registrations with this municipality ({ids}): choose one with --credential",
        )
    return max(found, key=_preferred)


def _location(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        latitude, longitude = float(parts[0].strip()), float(parts[1].strip())
    except ValueError:
        fail(
            f"--location は「緯度,経度」です (例: 42.7238,141.8810): {text[:40]!r}",
            f"--location is LAT,LON (e.g. 42.7238,141.8810): {text[:40]!r}",
        )
    if not client.valid_location(latitude, longitude):
        fail(
            f"--location の緯度は −90〜90、経度は −180〜180 です: {text[:40]!r}",
            f"--location: latitude −90..90, longitude −180..180: {text[:40]!r}",
        )
    return latitude, longitude


def _qr_text(source: str) -> str:
    """PAYLOAD as given (``FCI1:…``), or the one QR code of an image file."""
    if source.strip().startswith(client.CHECKIN_PREFIX):
        return source.strip()
    path = Path(source)
    if not _is_file(path):
        fail(
            f"{source[:60]} はチェックイン QR の文字列 (FCI1:…) でも画像ファイルでもありません",
            f"{source[:60]} is neither a check-in QR text (FCI1:…) nor an image file",
        )
    with path.open("rb") as handle:
        head = handle.read(16)
    if not looks_like_image(head):
        fail(f"{source} は画像ではありません", f"{source} is not an image")
    return guarded(USAGE, lambda: read_one_qr(path))


def _known_min(wallet: Wallet, lg_code: str) -> int | None:
    """The municipality's activity rule, if an application of ours has told it."""
    for application in reversed(wallet.applications):
        if application.lg_code == lg_code and application.min_activities is not None:
            return application.min_activities
    return None


@main.command(
    help="活動場所の QR でチェックインします (QR の文字列または画像) / "
    "Check in at an activity site (the QR text, or an image of it)"
)
@click.argument("payload", metavar="PAYLOAD|IMAGE")
@click.option(
    "--location",
    metavar="LAT,LON",
    help="現在地 (位置の確認がある場所で必要) / where you are (sites that check it need it)",
)
@click.option(
    "--credential",
    "reference",
    metavar="ID",
    help="使う登録証明書 (複数あるとき) / the registration to use (when there are several)",
)
@pass_context
def checkin(ctx: Context, payload: str, location: str | None, reference: str | None) -> None:
    where = _location(location)
    text = _qr_text(payload)
    unverified = guarded(USAGE, lambda: client.parse_checkin_qr(text))
    claims = unverified.unverified_claims
    wallet = ctx.load()
    stored = _registration(wallet, claims.lg_code, issuer=claims.issuer, reference=reference)
    guarded(FAILED, lambda: client.check_checkin_url(claims, stored.issuer_url))
    if claims.geofence is not None and where is None:
        site = client.clean_text(claims.name, 100)
        fail(
            f"「{site}」では位置の確認があります: --location 緯度,経度 を付けてください "
            "(送信していません)",
            f"{site!r} checks where you are: add --location LAT,LON (nothing was sent)",
        )
    http = client.HttpClient()
    qr = guarded(FAILED, lambda: client.verify_checkin_qr(unverified, client.resolver(http)))
    if not qr.in_window(_now()):
        ctx.warn(
            f"この QR の有効期間 ({_jst_time(qr.not_before.isoformat())}〜"
            f"{_jst_time(qr.expires.isoformat())}) の外です。発行者が判断します",
            f"this QR is valid from {_jst_time(qr.not_before.isoformat())} to "
            f"{_jst_time(qr.expires.isoformat())}; the issuer decides",
        )
    key = PrivateKey.from_jwk(stored.holder_jwk)
    done = guarded(
        FAILED,
        lambda: client.send_checkin(
            http,
            qr,
            text,
            issuer_url=stored.issuer_url,
            holder=key,
            presentation_for=lambda nonce, domain: build_presentation(stored, nonce, domain),
            location=where if qr.geofence is not None else None,  # only where it is checked
            now=_now(),
        ),
    )
    received = _keep(wallet, done.credential, stored.holder_jwk, stored.issuer_url)
    ctx.save(wallet)
    info = summary(received)
    name = client.clean_text(info.get("activityName") or qr.name, 100)
    day = client.clean_text(info.get("activityDate") or _jst(_stamp()), 20)
    minimum = (
        done.min_activities if done.min_activities is not None else _known_min(wallet, qr.lg_code)
    )
    total = done.activities_in_last_12_months
    if total is None:
        count_ja = count_en = ""
    elif minimum is None:
        count_ja = f" — 過去12か月の活動 {total} 件"
        count_en = f" — {total} activities in the last 12 months"
    else:
        count_ja = f" — 過去12か月の活動 {total} / {minimum} 件"
        count_en = f" — activities in the last 12 months: {total} / {minimum}"
    ctx.say(
        f"チェックインしました: {name} ({day}){count_ja}",
        f"Checked in: {name} ({day}){count_en}",
    )
    waiting = any(a.lg_code == qr.lg_code and not a.done for a in wallet.applications)
    if (
        total is not None
        and minimum is not None
        and total >= minimum
        and summary(stored)["tier"] != "premium"
        and not waiting
    ):
        ctx.say(
            f"プレミアム登録を申請できます: furusato-wallet apply-premium --lg-code {qr.lg_code}",
            f"You can apply for premium: furusato-wallet apply-premium --lg-code {qr.lg_code}",
        )


def _lg_code(value: str) -> str:
    if len(value) != 6 or not value.isdigit():
        fail(
            f"--lg-code は6桁の地方公共団体コードです: {value[:20]!r}",
            f"--lg-code is a 6-digit local government code: {value[:20]!r}",
        )
    return value


@main.command(
    "apply-premium",
    help="プレミアム登録を申請します (次に本人確認) / Apply for premium registration "
    "(then prove your identity)",
)
@click.option("--lg-code", required=True, metavar="CODE", help="自治体コード / municipality code")
@click.option(
    "--credential",
    "reference",
    metavar="ID",
    help="申請する登録証明書 (複数あるとき) / the registration that applies (when several)",
)
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
@pass_context
def apply_premium(ctx: Context, lg_code: str, reference: str | None, as_json: bool) -> None:
    lg_code = _lg_code(lg_code)
    wallet = ctx.load()
    stored = _registration(wallet, lg_code, reference=reference)
    http = client.HttpClient()
    answer = guarded(
        FAILED,
        lambda: client.apply_premium(
            http,
            stored.issuer_url,
            presentation_for=lambda nonce, domain: build_presentation(stored, nonce, domain),
        ),
    )
    application = StoredApplication(
        lg_code=lg_code,
        application_id=answer.application_id,
        status_token=answer.status_token,
        status_url=answer.status_url,
        credential_id=stored.id,
        issuer_url=stored.issuer_url,
        created_at=_stamp(),
        state="identity",
        identity_url=answer.identity_url,
        identity_expires_at=answer.identity_expires_at or None,
        min_activities=answer.min_activities,
        checked_at=_stamp(),
    )
    # The issuer replaced any application of ours still in its identity step; decided ones
    # of this municipality are history.
    wallet.applications = [
        a
        for a in wallet.applications
        if not (a.lg_code == lg_code and (a.done or a.state == "identity"))
        and a.application_id != application.application_id
    ] + [application]
    ctx.save(wallet)
    if as_json:
        print_json(
            {
                "applicationId": answer.application_id,
                "lgCode": lg_code,
                "credentialId": stored.id,
                "identityUrl": answer.identity_url,
                "identityExpiresAt": answer.identity_expires_at,
                "minActivities": answer.min_activities,
            }
        )
        return
    name_ja, name_en = _municipality_name(stored, lg_code)
    until = _jst_time(answer.identity_expires_at)
    ctx.say(
        f"{name_ja}にプレミアム登録を申請しました (申請 {answer.application_id[:8]}、"
        f"登録証明書 {_short(stored.id)})",
        f"Applied for premium registration with {name_en} (application "
        f"{answer.application_id[:8]}, registration {_short(stored.id)})",
    )
    ctx.say(
        f"次に本人確認をします。{until} までに、このリンク (または下の QR) をブラウザで開き、"
        "マイナンバーカードで確認してください:",
        f"Next, prove your identity: before {until}, open this link (or the QR below) in a "
        "browser and confirm with your My Number Card:",
    )
    click.echo(answer.identity_url)
    segno.make_qr(answer.identity_url, error="m").terminal(compact=True)
    minimum = answer.min_activities
    ctx.say(
        "そのあと職員が審査します"
        + (f" (過去12か月の活動 {minimum} 件以上が必要です)" if minimum is not None else "")
        + "。状況は furusato-wallet premium-status で確認できます。承認されると、"
        "その時に証明書を受け取ります。",
        "Staff then review the application"
        + (f" (at least {minimum} activities in the last 12 months)" if minimum is not None else "")
        + ". See its state with furusato-wallet premium-status; once approved, it receives "
        "the premium credential.",
    )


def _error_line(error: FurusatoError) -> None:
    """One bilingual error line on stderr, as ``fail`` prints it, without exiting."""
    click.echo(
        f"エラー: {error.message_ja} [{error.code}] / Error: {error.message_en} [{error.code}]",
        err=True,
    )


def _applying(wallet: Wallet, application: StoredApplication) -> StoredCredential:
    """The registration that applied: its key receives the premium credential."""
    applying = next((c for c in wallet.credentials if c.id == application.credential_id), None)
    if applying is None:
        raise WalletError(
            f"the registration that applied ({_short(application.credential_id)}) is no longer "
            "in the wallet: its key must receive the premium credential",
            f"申請した登録証明書 ({_short(application.credential_id)}) がウォレットにありません。"
            "プレミアム証明書はその鍵で受け取る必要があります",
            code="holder_missing",
        )
    return applying


def _receive_premium(
    http: client.HttpClient,
    wallet: Wallet,
    application: StoredApplication,
    offer_uri: object,
    credential_format: str,
) -> tuple[StoredCredential, list[StoredCredential]]:
    """Receive the approved credential with the key of the registration that applied; then
    refresh the state of that key's other credentials of this issuer (the one replaced is
    now revoked).  Returns the new credential and the ones whose state changed."""
    applying = _applying(wallet, application)
    if not isinstance(offer_uri, str):
        raise WalletError(
            "the approved application has no credential offer",
            "承認された申請に証明書の申込みがありません",
            code="unexpected_answer",
        )

    def no_tx_code(spec: object) -> str:
        raise WalletError(
            "the premium offer asks for a transaction code",
            "プレミアムの申込みに確認コードが求められました",
            code="unexpected_answer",
        )

    received = client.receive(
        http,
        offer_uri,
        now=_now(),
        tx_code=no_tx_code,
        holder=PrivateKey.from_jwk(applying.holder_jwk),
        expected_issuer=application.issuer_url,
        credential_format=credential_format,
    )
    new = _keep(
        wallet,
        received.credential,
        applying.holder_jwk,
        received.issuer_url,
        credential_format=received.format,
        encoded=received.encoded,
    )
    return new, _refresh_replaced(http, wallet, application, applying, new)


def _receive_sealed(
    http: client.HttpClient, wallet: Wallet, application: StoredApplication, sealed: object
) -> tuple[StoredCredential, list[StoredCredential]]:
    """Open the premium SD-JWT VC with name and birth date that the issuer sealed to this
    wallet's key, check it like any received credential, keep it, tell the issuer to delete
    the sealed copy."""
    applying = _applying(wallet, application)
    assert application.personal_key is not None
    if sealed is None:
        application.personal_key = None  # nothing more will come
        raise WalletError(
            "the credential was issued but not collected within 24 hours and is no longer "
            "kept: ask the municipality (a new application is needed)",
            "証明書は発行されましたが、24 時間以内に受け取られなかったため、もう保管されていません。"
            "自治体にお問い合わせください (申請のやり直しが必要です)",
            code="sealed_missing",
        )
    text = client.open_sealed(sealed, application.personal_key)
    holder = PrivateKey.from_jwk(applying.holder_jwk)
    decoded = client.check_received_compact(http, "dc+sd-jwt", text, holder, now=_now())
    issuer = client.credential_issuer("dc+sd-jwt", decoded)
    if decoded.get("registrationTier") != "premium" or not _same_issuer(issuer, applying):
        raise WalletError(
            "the sealed credential is not a premium credential of the municipality applied to",
            "暗号化された証明書が、申請した自治体のプレミアム証明書ではありません",
            code="unexpected_answer",
        )
    new = _keep(
        wallet,
        decoded,
        applying.holder_jwk,
        application.issuer_url,
        credential_format="dc+sd-jwt",
        encoded=text,
    )
    application.personal_key = None
    # the issuer stops serving it after 24 hours anyway, and only this wallet can open it
    with contextlib.suppress(FurusatoError):
        client.discard_sealed(http, application.status_url, application.status_token)
    return new, _refresh_replaced(http, wallet, application, applying, new)


def _same_issuer(issuer: str | None, applying: StoredCredential) -> bool:
    view = credential_view(applying)
    return issuer is not None and issuer == issuer_id(view)


def _refresh_replaced(
    http: client.HttpClient,
    wallet: Wallet,
    application: StoredApplication,
    applying: StoredCredential,
    new: StoredCredential,
) -> list[StoredCredential]:
    """The state of the applying key's other credentials of this issuer, asked again."""
    changed = []
    for other in wallet.credentials:
        if (
            other.id == new.id
            or other.holder_jwk != applying.holder_jwk
            or other.issuer_url != application.issuer_url
            or RESIDENT_CREDENTIAL_TYPE not in _types(credential_view(other))
            or other.state in INACTIVE_STATES
        ):
            continue
        try:
            state = _state_of(http, other)
        except FurusatoError:
            continue  # checked again with show --refresh
        other.checked_at = _stamp()
        if state != other.state:
            other.state = state
            changed.append(other)
    return changed


def _report(ctx: Context, row: dict[str, Any], name: tuple[str, str]) -> None:
    state, short_id = row["state"], str(row["applicationId"])[:8]
    head_ja, head_en = f"{name[0]} (申請 {short_id}): ", f"{name[1]} (application {short_id}): "
    count = row.get("activitiesInLast12Months")
    minimum = row.get("minActivities")
    activities_ja = f"過去12か月の活動 {count} / {minimum} 件" if count is not None else ""
    activities_en = (
        f"activities in the last 12 months {count} / {minimum}" if count is not None else ""
    )
    if state == "identity":
        until = _jst_time(row.get("identityExpiresAt"))
        ctx.say(
            f"{head_ja}本人確認待ち。{until} までにこのリンクを開いてください:",
            f"{head_en}waiting for your identity: open this link before {until}:",
        )
        if row.get("identityUrl"):
            click.echo(row["identityUrl"])
    elif state == "submitted":
        ctx.say(
            f"{head_ja}職員の審査待ちです ({activities_ja})",
            f"{head_en}waiting for the municipality's staff ({activities_en})",
        )
    elif state == "approved":
        ctx.say(
            f"{head_ja}承認されました。証明書はまだ受け取っていません",
            f"{head_en}approved; the credential is not received yet",
        )
    elif state == "rejected":
        reason = row.get("reason") or "—"
        ctx.say(
            f"{head_ja}却下されました。理由: {reason}",
            f"{head_en}rejected. Reason: {reason}",
        )
    elif state == "personal":
        until = _jst_time(row.get("identityExpiresAt"))
        ctx.say(
            f"{head_ja}承認済み。氏名・生年月日を記載するため、{until} までにこのリンクを開いて"
            "もう一度本人確認をしてください (そのあと premium-status で受け取ります):",
            f"{head_en}approved. To have your name and birth date in it, open this link before "
            f"{until} and prove your identity again (then receive it with premium-status):",
        )
        if row.get("identityUrl"):
            click.echo(row["identityUrl"])
    elif state == "issued" and row.get("credentialId"):
        ctx.say(
            f"{head_ja}承認されました。プレミアム証明書を受け取りました: ID "
            f"{_short(row['credentialId'])} (有効期限 {_jst(row.get('validUntil'))})",
            f"{head_en}approved. Premium credential received: id "
            f"{_short(row['credentialId'])} (valid until {_jst(row.get('validUntil'))})",
        )
        if row.get("personalClaims"):
            ctx.say(
                "  氏名・生年月日入り (SD-JWT VC)。提示するときに選んだ場合だけ開示されます: "
                "furusato-wallet present --disclose name,birthDate",
                "  with name and birth date (SD-JWT VC), disclosed only when you choose: "
                "furusato-wallet present --disclose name,birthDate",
            )
        for replaced in row.get("replaced", []):
            state_ja, state_en = STATES.get(replaced["state"], (replaced["state"],) * 2)
            ctx.say(
                f"  以前の証明書 {_short(replaced['id'])} は「{state_ja}」になりました",
                f"  the previous credential {_short(replaced['id'])} is now {state_en}",
            )
    elif state == "issued":
        ctx.say(
            f"{head_ja}完了 (プレミアム証明書は発行済みです)",
            f"{head_en}done (the premium credential was issued)",
        )
    elif state in ("gone", "expired"):
        why_ja = (
            "本人確認の期限が切れました"
            if state == "expired"
            else ("申請が見つかりません (本人確認の期限切れ、または条件を満たさず取り消されました)")
        )
        why_en = (
            "the identity step expired"
            if state == "expired"
            else ("the application is gone (the identity step expired, or it was refused)")
        )
        ctx.say(
            f"{head_ja}{why_ja}。ウォレットから削除しました。もう一度申請してください: "
            f"furusato-wallet apply-premium --lg-code {row['lgCode']}",
            f"{head_en}{why_en}. Removed from the wallet; apply again: "
            f"furusato-wallet apply-premium --lg-code {row['lgCode']}",
        )


def _ask_personal(
    http: client.HttpClient, application: StoredApplication, status: Mapping[str, Any]
) -> None:
    """Ask (once per link) for the approved credential with name and birth date; the link
    goes into the application."""
    if application.personal_key is not None and status.get("personalClaimsPending") is True:
        return  # asked already, the link still open
    if status.get("personalClaimsOffered") is not True:
        raise WalletError(
            "this municipality does not issue name and birth date in its credentials "
            "(receive it without --personal-claims)",
            "この自治体は氏名・生年月日入りの証明書を発行していません "
            "(--personal-claims を付けずに受け取ってください)",
            code="personal_claims_not_offered",
        )
    key = client.new_encryption_key()
    url, expires = client.request_personal_claims(
        http, application.issuer_url, application.status_url, application.status_token, key
    )
    application.personal_key, application.personal_url = key, url
    application.personal_expires_at = expires


def _refresh_application(
    http: client.HttpClient,
    wallet: Wallet,
    application: StoredApplication,
    *,
    credential_format: str = "ldp_vc",
    personal_claims: bool = False,
) -> dict[str, Any]:
    """Ask the issuer for the application's state and act on it (module docstring)."""
    row: dict[str, Any] = {
        "lgCode": application.lg_code,
        "applicationId": application.application_id,
        "state": application.state,
        "minActivities": application.min_activities,
        "reason": application.reason,
    }
    if application.done:
        return row  # decided and finished: nothing more to ask
    try:
        status = client.application_status(http, application.status_url, application.status_token)
    except WalletError as exc:
        if exc.code != "application_not_found":
            raise
        wallet.applications.remove(application)
        row["state"] = "gone"
        return row
    application.state = str(status["state"])
    application.checked_at = _stamp()
    minimum = status.get("minActivities")
    if isinstance(minimum, int) and not isinstance(minimum, bool):
        application.min_activities = minimum
    count = status.get("activitiesInLast12Months")
    row.update(
        state=application.state,
        minActivities=application.min_activities,
        activitiesInLast12Months=count if isinstance(count, int) else None,
    )
    if application.state == "identity":
        expires = status.get("identityExpiresAt")
        if isinstance(expires, str):
            application.identity_expires_at = expires[:40]
        moment = _parse_time(application.identity_expires_at)
        if moment is not None and moment <= _now():
            wallet.applications.remove(application)
            row["state"] = "expired"
            return row
        row.update(
            identityExpiresAt=application.identity_expires_at,
            identityUrl=application.identity_url,
        )
    elif application.state == "rejected":
        reason = status.get("reason")
        application.reason = client.clean_text(reason, 500) if isinstance(reason, str) else None
        row["reason"] = application.reason
    elif application.state == "approved" and (
        personal_claims or application.personal_key is not None
    ):
        _ask_personal(http, application, status)
        row.update(
            state="personal",
            identityUrl=application.personal_url,
            identityExpiresAt=application.personal_expires_at,
        )
    elif application.state == "issued" and application.personal_key is not None:
        new, changed = _receive_sealed(http, wallet, application, status.get("sealedCredential"))
        row.update(
            state="issued",
            credentialId=new.id,
            validUntil=credential_view(new).get("validUntil"),
            personalClaims=True,
            replaced=[{"id": c.id, "state": c.state} for c in changed],
        )
    elif application.state == "approved":
        new, changed = _receive_premium(
            http, wallet, application, status.get("offerUri"), credential_format
        )
        application.state = "issued"
        row.update(
            state="issued",
            credentialId=new.id,
            validUntil=credential_view(new).get("validUntil"),
            replaced=[{"id": c.id, "state": c.state} for c in changed],
        )
    return row


def _choose(
    query: Mapping[str, Any], matches: Mapping[str, list[oid4vp.Match]]
) -> dict[str, oid4vp.Match] | None:
    """One match per credential query the request needs: for each required set, its first
    option whose queries all have a match (a premium registration first)."""
    chosen: dict[str, oid4vp.Match] = {}
    for options in oid4vp.required_query_ids(query):
        option = next((o for o in options if all(matches.get(q) for q in o)), None)
        if option is None:
            return None
        for query_id in option:
            chosen[query_id] = max(
                matches[query_id],
                key=lambda m: m.candidate.claims.get("registrationTier") == "premium",
            )
    return chosen


def _shared(match: oid4vp.Match) -> str:
    if match.candidate.format == "dc+sd-jwt":
        return ", ".join(".".join(str(p) for p in path) for path in match.disclose) or "—"
    return "証明書全体 / the whole credential"


@main.command(
    help="オンラインの確認 (OpenID4VP) に応答します / Answer an online verifier's request "
    "(OpenID4VP)"
)
@click.argument("request_text", metavar="REQUEST")
@click.option("--credential", "reference", metavar="ID", help="使う証明書 / the credential to use")
@click.option("--yes", is_flag=True, help="確認せずに送る / send without asking")
@pass_context
def respond(ctx: Context, request_text: str, reference: str | None, yes: bool) -> None:
    request = guarded(
        USAGE, lambda: oid4vp.parse_request_uri(request_text, unsafe_allow_http_loopback=True)
    )
    wallet = ctx.load()
    if reference is not None:
        stored = [guarded(FAILED, lambda: wallet.find(reference))]
    else:
        stored = [c for c in wallet.credentials if summary(c)["kind"] == "registration"]
    usable = {c.id: c for c in stored if _usable(c)}
    candidates = [
        guarded(
            FAILED,
            lambda c=c: oid4vp.candidate(c.id, c.format, c.encoded or c.credential),  # type: ignore[misc]
        )
        for c in usable.values()
    ]
    chosen = _choose(request.dcql_query, oid4vp.match_dcql(request.dcql_query, candidates))
    if chosen is None:
        fail(
            "この確認に使える証明書がウォレットにありません",
            "no credential in the wallet answers this request",
            FAILED,
        )
    where = urlsplit(request.response_uri).netloc
    for match in chosen.values():
        info = summary(usable[match.candidate.id])
        ctx.say(
            f"送信先 {where} に {info['municipality']} の証明書 ({_short(match.candidate.id)}) "
            f"から: {_shared(match)}",
            f"To {where}, from the {info['municipality']} credential "
            f"({_short(match.candidate.id)}): {_shared(match)}",
        )
    if not yes and not click.confirm("送信しますか? / Send?", err=True, default=False):
        fail("送信しませんでした", "not sent", FAILED)
    answers: dict[str, list[Any]] = {}
    for query_id, match in chosen.items():
        credential = usable[match.candidate.id]
        key = PrivateKey.from_jwk(credential.holder_jwk)
        answers[query_id] = [
            guarded(
                FAILED,
                lambda c=credential, m=match, k=key: oid4vp.present_for_request(  # type: ignore[misc]
                    request,
                    c.format,
                    c.encoded or c.credential,
                    k,
                    disclose=m.disclose,
                    now=_now(),
                ),
            )
        ]
    form = guarded(FAILED, lambda: oid4vp.build_vp_token(request, answers))
    status, body = guarded(
        FAILED, lambda: client.HttpClient().post(request.response_uri, data=form)
    )
    if status != 200:
        fields: dict[str, Any] = body if isinstance(body, dict) else {}
        messages = fields.get("messages") if isinstance(fields.get("messages"), dict) else {}
        assert isinstance(messages, dict)
        codes = [c for c in fields.get("codes") or [] if isinstance(c, str)][:5]
        code = fields.get("code") if isinstance(fields.get("code"), str) else f"HTTP {status}"
        why = client.clean_text(" ".join([str(code), *codes]), 200)
        fail(
            f"確認先が受け付けませんでした: {client.clean_text(messages.get('ja') or '', 200)} [{why}]",
            f"the verifier refused: {client.clean_text(messages.get('en') or '', 200)} [{why}]",
            FAILED,
        )
    ctx.say("送信しました。確認先が受け付けました", "Sent: the verifier accepted it")


@main.command(
    "premium-status",
    help="プレミアム登録の申請の状況 (承認されたら証明書を受け取ります) / The state of premium "
    "applications (receives the credential once approved)",
)
@click.option("--lg-code", metavar="CODE", help="この自治体の申請だけ / only this municipality's")
@click.option(
    "--format",
    "format_option",
    type=click.Choice(list(FORMAT_OPTIONS)),
    default="ldp",
    show_default=True,
    help="承認された証明書を受け取る形式 / the format to receive the approved credential in",
)
@click.option(
    "--personal-claims",
    is_flag=True,
    help="氏名・生年月日を選択的開示できる SD-JWT VC で受け取る (もう一度本人確認) / receive it "
    "as an SD-JWT VC with selectively disclosable name and birth date (proves identity again)",
)
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
@pass_context
def premium_status(
    ctx: Context, lg_code: str | None, format_option: str, personal_claims: bool, as_json: bool
) -> None:
    if personal_claims and format_option not in ("ldp", "sd-jwt"):
        fail(
            "--personal-claims は SD-JWT VC (--format sd-jwt) で受け取ります",
            "--personal-claims receives an SD-JWT VC (--format sd-jwt)",
            USAGE,
        )
    if lg_code is not None:
        lg_code = _lg_code(lg_code)
    wallet = ctx.load()
    chosen = [a for a in wallet.applications if lg_code is None or a.lg_code == lg_code]
    if not chosen:
        if lg_code is not None:
            fail(
                f"この自治体 ({lg_code}) への申請はウォレットにありません",
                f"no application to this municipality ({lg_code}) in the wallet",
                FAILED,
            )
        if as_json:
            print_json([])
        else:
            ctx.say("プレミアム登録の申請はありません", "No premium applications")
        return
    http = client.HttpClient()
    rows, failed = [], False
    for application in chosen:
        applying = next((c for c in wallet.credentials if c.id == application.credential_id), None)
        name = _municipality_name(applying, application.lg_code)
        try:
            row = _refresh_application(
                http,
                wallet,
                application,
                credential_format=FORMAT_OPTIONS[format_option],
                personal_claims=personal_claims,
            )
        except FurusatoError as exc:
            _error_line(exc)
            failed = True
            continue
        finally:
            ctx.save(wallet)  # whatever was received or learnt is kept
        rows.append(row)
        if not as_json:
            _report(ctx, row, name)
    if as_json:
        print_json(rows)
    if failed:
        sys.exit(FAILED)


# --- notices and 手を挙げる (docs/notices.md; the logic is in wallet_cli/notices.py) -----------------


def _memberships(wallet: Wallet) -> list[notice_feeds.Membership]:
    return notice_feeds.memberships(
        wallet.credentials,
        summary=summary,
        issuer_of=lambda c: issuer_id(credential_view(c)),
        usable=_usable,
    )


@main.command(
    help="登録している自治体のお知らせ (署名を確認します) / Notices of the municipalities you "
    "are registered with (signatures checked)"
)
@click.option(
    "--topic",
    "topic_option",
    metavar="TOPIC,…",
    help="この分類だけ (設定の代わりに) / only these topics (instead of prefs)",
)
@click.option("--since", metavar="DATE", help="この日以降に掲載 (例: 2027-03-01) / published since")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print JSON")
@pass_context
def news(ctx: Context, topic_option: str | None, since: str | None, as_json: bool) -> None:
    chosen = (
        guarded(USAGE, lambda: notice_feeds.parse_topics(topic_option))
        if topic_option is not None
        else None
    )
    since_at = guarded(USAGE, lambda: notice_feeds.parse_since(since))
    wallet = ctx.load()
    topics = chosen if topic_option is not None else notice_feeds.topics_of(wallet)
    found = _memberships(wallet)
    now = _now()
    result = notice_feeds.collect(
        client.HttpClient(),
        found,
        notice_feeds.feeds_cache(wallet),
        topics=topics,
        since=since_at,
        now=now,
    )
    ctx.save(wallet)  # the feeds verified, with their ETags
    raised = notice_feeds.hands(wallet)
    for membership, error in result.failed:
        name_ja, name_en = membership.label("ja"), membership.label("en")
        click.echo(
            f"エラー: {name_ja}のお知らせを表示できません: {error.message_ja} [{error.code}] / "
            f"Error: the notices of {name_en} are not shown: {error.message_en} [{error.code}]",
            err=True,
        )
    if as_json:
        print_json(notice_feeds.news_json(result, raised, topics))
    elif not found:
        ctx.say(
            "登録している自治体がありません。先に登録証明書を受け取ってください (receive)",
            "You are not registered with any municipality yet: receive a registration first",
        )
    elif not result.items:
        shown = notice_feeds.topics_text(topics, ctx.lang)
        ctx.say(
            f"表示するお知らせはありません (分類: {shown})",
            f"No notices to show (topics: {shown})",
        )
    else:
        for notice, membership in result.items:
            for line in notice_feeds.render(notice, membership, ctx.lang, raised.get(notice.id)):
                click.echo(line)
            click.echo("")
    if result.failed:
        sys.exit(FAILED)


@main.command(
    help="お知らせの分類の設定 (このウォレットの中だけに保存され、自治体には送られません) / "
    "Topics of the notices you want (kept in this wallet only, never sent)"
)
@click.option(
    "--topics",
    metavar="TOPIC,…",
    help="例: 防災,イベント (disaster,events) / e.g. 防災,イベント",
)
@click.option("--clear", is_flag=True, help="すべての分類を表示 / show every topic")
@click.option("--show", is_flag=True, help="今の設定を表示 / show the current setting")
@pass_context
def prefs(ctx: Context, topics: str | None, clear: bool, show: bool) -> None:
    if topics is not None and clear:
        fail("--topics と --clear は同時に使えません", "--topics and --clear exclude each other")
    chosen = guarded(USAGE, lambda: notice_feeds.parse_topics(topics)) if topics else None
    if topics is not None and not topics.strip():
        fail("--topics に分類を指定してください (例: 防災,イベント)", "--topics: name the topics")
    wallet = ctx.load()
    if chosen is not None or clear:
        notice_feeds.set_topics(wallet, chosen)
        ctx.save(wallet)
    current = notice_feeds.topics_of(wallet)
    ctx.say(
        f"お知らせの分類: {notice_feeds.topics_text(current, 'ja')} "
        "(この設定はウォレットの中だけにあり、自治体には送られません)",
        f"Notice topics: {notice_feeds.topics_text(current, 'en')} "
        "(kept in this wallet only; never sent to a municipality)",
    )
    if show or (chosen is None and not clear):
        for topic, (label, ascii_name) in notice_feeds.TOPICS.items():
            mark = "✓" if current is None or topic in current else " "
            click.echo(f"  [{mark}] {topic} / {label} ({ascii_name})")


def _hand(
    ctx: Context,
    notice_id: str,
    *,
    message: str | None,
    withdraw: bool,
    lg_code: str | None,
    reference: str | None,
) -> None:
    notice_id = guarded(USAGE, lambda: notice_feeds.check_notice_id(notice_id))
    text = guarded(USAGE, lambda: notice_feeds.check_message(message))
    wallet = ctx.load()
    where = guarded(FAILED, lambda: notice_feeds.locate(wallet, notice_id, lg_code))
    stored = _registration(wallet, where, reference=reference)
    done = guarded(
        FAILED,
        lambda: notice_feeds.answer(
            client.HttpClient(),
            stored.issuer_url,
            notice_id,
            withdraw=withdraw,
            message=text,
            presentation_for=lambda nonce, domain: build_presentation(stored, nonce, domain),
        ),
    )
    notice_feeds.remember(wallet, where, done, withdraw=withdraw)
    ctx.save(wallet)
    known = notice_feeds.cached(wallet, notice_id)
    title_ja = f"「{known.title('ja')}」" if known else notice_id
    title_en = f"{known.title('en')!r}" if known else notice_id
    left_ja = f" (残り {done.places_left} 名)" if done.places_left is not None else ""
    left_en = f" ({done.places_left} places left)" if done.places_left is not None else ""
    if withdraw:
        ctx.say(
            f"手を挙げたのを取り消しました: {title_ja}{left_ja}",
            f"Your answer was withdrawn: {title_en}{left_en}",
        )
    else:
        ctx.say(
            f"手を挙げました: {title_ja}{left_ja}。自治体からの連絡をお待ちください",
            f"You raised your hand: {title_en}{left_en}. The municipality will be in touch",
        )


@main.command(
    "raise-hand",
    help="募集 (お知らせ) に手を挙げます。登録の鍵で証明し、氏名は送りません / Raise your hand "
    "for a call (募集), proven with your registration's key; no name is sent",
)
@click.argument("notice_id", metavar="NOTICE_ID")
@click.option(
    "--message",
    metavar="TEXT",
    help=f"自治体へのひとこと ({notice_feeds.MESSAGE_MAX}文字まで) / a message "
    f"(up to {notice_feeds.MESSAGE_MAX} characters)",
)
@click.option("--withdraw", is_flag=True, help="取り消す / withdraw your answer")
@click.option("--lg-code", metavar="CODE", help="お知らせの自治体 / the notice's municipality")
@click.option(
    "--credential",
    "reference",
    metavar="ID",
    help="使う登録証明書 (複数あるとき) / the registration to use (when there are several)",
)
@pass_context
def raise_hand(
    ctx: Context,
    notice_id: str,
    message: str | None,
    withdraw: bool,
    lg_code: str | None,
    reference: str | None,
) -> None:
    if withdraw and message is not None:
        fail("--withdraw と --message は同時に使えません", "--withdraw takes no --message")
    _hand(ctx, notice_id, message=message, withdraw=withdraw, lg_code=lg_code, reference=reference)


@main.command(
    "withdraw-hand",
    help="募集に手を挙げたのを取り消します (枠が空きます) / Withdraw your answer to a call",
)
@click.argument("notice_id", metavar="NOTICE_ID")
@click.option("--lg-code", metavar="CODE", help="お知らせの自治体 / the notice's municipality")
@click.option(
    "--credential",
    "reference",
    metavar="ID",
    help="使う登録証明書 (複数あるとき) / the registration to use (when there are several)",
)
@pass_context
def withdraw_hand(ctx: Context, notice_id: str, lg_code: str | None, reference: str | None) -> None:
    _hand(ctx, notice_id, message=None, withdraw=True, lg_code=lg_code, reference=reference)


if __name__ == "__main__":  # pragma: no cover
    main()
