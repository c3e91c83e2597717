"""``furusato-verifier``: check a credential or presentation, offline.

Exit codes: 0 verified, 1 not verified, 2 bad usage or unreadable input (missing file, not
JSON, too large, nested too deeply).  Human output follows ``--lang`` (Japanese by default);
``--json`` prints the result object with each check's stable code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from did.errors import FurusatoError
from did.jsonio import DEFAULT_LIMITS, load_json
from did.keys import PublicKey
from did.resolver import Resolver
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
from shellkit.qrimage import looks_like_image, read_one_qr
from vc import envelope
from vc.dates import parse_datetime
from vc.model import as_list, issuer_id
from vc.registry import MAX_REGISTRY_BYTES, Registry, verify_registry
from vc.result import CHECK_NAMES, VerificationResult
from vc.statuslist import StatusListDocument
from vc.verify import VerifyOptions, verify

JST = timezone(timedelta(hours=9), "JST")
PAYLOAD_PREFIXES = (envelope.PROFILE_PREFIX, envelope.GENERIC_PREFIX)
MAX_STATUS_LIST_BYTES = 32 * 1024 * 1024
TIER_NAMES = {"basic": ("ベーシック", "basic"), "premium": ("プレミアム", "premium")}


def load_document(source: str, max_bytes: int = DEFAULT_LIMITS.max_bytes) -> Any:
    data = read_input(source, max_bytes=max_bytes)
    return guarded(USAGE, lambda: load_json(data), prefix=f"{source}: ")


class FileStatusLists:
    """Status list credentials given as files, keyed by their ``id``."""

    def __init__(self, files: Sequence[str]) -> None:
        self.documents: dict[str, StatusListDocument] = {}
        for path in files:
            if path == "-":
                fail(
                    "ステータスリストはファイルで指定してください",
                    "give status lists as files (their age is the file's time)",
                )
            credential = load_document(path, MAX_STATUS_LIST_BYTES)
            if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
                fail(
                    f"{path} にステータスリストの id がありません", f"{path} has no status list id"
                )
            retrieved = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
            self.documents[credential["id"]] = StatusListDocument(credential, retrieved)

    def get(self, url: str) -> StatusListDocument | None:
        return self.documents.get(url)


def _jst(value: object) -> str:
    try:
        return parse_datetime(value, "date").astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
    except FurusatoError:
        return str(value)


def _summary(document: Mapping[str, Any], lang: str) -> list[str]:
    credential: Any = document
    if "VerifiablePresentation" in as_list(document.get("type")):
        credential = next(iter(as_list(document.get("verifiableCredential", []))), None)
    if not isinstance(credential, dict):
        return []
    lines = []
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    municipality = (
        subject.get("municipality") if isinstance(subject.get("municipality"), dict) else None
    )
    issuer = credential.get("issuer")
    issuer_name = issuer.get("name") if isinstance(issuer, dict) else None
    ja = lang == "ja"
    if municipality:
        name = f"{municipality.get('prefecture', '')} {municipality.get('name', '')}".strip()
        lines.append(
            ("自治体: " if ja else "Municipality: ") + f"{name} ({municipality.get('lgCode')})"
        )
    tier = subject.get("registrationTier")
    if isinstance(tier, str):
        tier_ja, tier_en = TIER_NAMES.get(tier, (tier, tier))
        lines.append(("登録区分: " if ja else "Tier: ") + (tier_ja if ja else tier_en))
    if "validUntil" in credential:
        lines.append(("有効期限: " if ja else "Valid until: ") + _jst(credential["validUntil"]))
    who = issuer_id(credential)
    if who:
        label = f"{issuer_name} ({who})" if isinstance(issuer_name, str) else who
        lines.append(("発行者: " if ja else "Issuer: ") + label)
    return lines


def render(result: VerificationResult, lang: str) -> str:
    ja = lang == "ja"
    if result.verified:
        head = "✓ 有効です (検証できました)" if ja else "✓ VALID (verified)"
    else:
        head = "✗ 無効です (検証できません)" if ja else "✗ NOT VALID (not verified)"
    lines = [head]
    if result.document is not None:
        lines += [f"  {line}" for line in _summary(result.document, lang)]
    groups: list[tuple[str, VerificationResult]] = [("", result)] + [
        (f"verifiableCredential[{i}] ", r) for i, r in enumerate(result.credentials)
    ]
    for prefix, part in groups:
        for check in part.checks:
            name_ja, name_en = CHECK_NAMES.get(check.check, (check.check, check.check))
            mark = "  ・" if check.ok else "  ✗"
            code = "" if check.ok else f" [{check.code}]"
            name = name_ja if ja else name_en
            lines.append(f"{mark} {prefix}{name}: {check.message(lang)}{code}")
    for warning in result.warnings:
        lines.append(f"  ! {warning.message(lang)} [{warning.code}]")
    return "\n".join(lines)


@click.group(
    cls=BilingualGroup,
    help="ふるさと住民登録の証明書を確認します (オフライン) / "
    "Verify furusato resident credentials (offline)",
)
@click.version_option(package_name="furusato-vc")
def main() -> None:
    pass


def read_source(source: str) -> tuple[str, Any]:
    """What SOURCE holds: ``("payload", text)`` for QR text or an image of a QR code, or
    ``("document", json)`` for a credential or presentation as JSON."""
    if source.startswith(PAYLOAD_PREFIXES):
        return "payload", source
    data = read_input(source, max_bytes=DEFAULT_LIMITS.max_bytes)
    if looks_like_image(data):
        if source == "-":
            fail(
                "画像は標準入力ではなくファイルで指定してください",
                "give an image as a file, not on stdin",
            )
        return "payload", guarded(USAGE, lambda: read_one_qr(Path(source)))
    stripped = data.strip()
    if stripped.startswith(tuple(p.encode() for p in PAYLOAD_PREFIXES)):
        try:
            return "payload", stripped.decode("ascii")
        except UnicodeDecodeError:
            fail(
                f"{source}: QR データに使えない文字があります",
                f"{source}: the QR payload holds characters it cannot have",
            )
    return "document", guarded(USAGE, lambda: load_json(data), prefix=f"{source}: ")


def load_registry(path: str | None, key_path: str | None, now: datetime) -> Registry | None:
    """The national registry, verified with the pinned authority key."""
    if path is None and key_path is None:
        return None
    if path is None or key_path is None:
        fail(
            "--registry と --registry-key は一緒に指定してください",
            "give --registry and --registry-key together",
        )
    jwk = load_document(key_path, 64 * 1024)
    if not isinstance(jwk, dict):
        fail(f"{key_path} は JWK ではありません", f"{key_path} is not a JWK")
    authority = guarded(
        USAGE,
        lambda: PublicKey.from_jwk(
            {k: v for k, v in jwk.items() if k not in ("kid", "alg", "use", "key_ops")}
        ),
        prefix=f"{key_path}: ",
    )
    data = read_input(path, max_bytes=MAX_REGISTRY_BYTES)
    return guarded(FAILED, lambda: verify_registry(data, authority, now=now), prefix=f"{path}: ")


def issuer_lookup(registry: Registry | None) -> Callable[[str], str | None] | None:
    if registry is None:
        return None

    def lookup(lg_code: str) -> str | None:
        entry = registry.entry_for_lg_code(lg_code)
        return entry.did if entry is not None else None

    return lookup


def decode_payload(text: str, registry: Registry | None) -> dict[str, Any]:
    return guarded(FAILED, lambda: envelope.decode(text, issuer_for=issuer_lookup(registry)))


REGISTRY_OPTIONS = [
    click.option(
        "--registry",
        "registry_path",
        metavar="FILE",
        help="全国レジストリ (署名付き) / the signed national registry",
    ),
    click.option(
        "--registry-key",
        "registry_key",
        metavar="JWK_FILE",
        help="レジストリ発行機関の公開鍵 / the registry authority's public key",
    ),
]


def registry_options(function: Any) -> Any:
    for option in reversed(REGISTRY_OPTIONS):
        function = option(function)
    return function


@main.command(
    "decode",
    help="QR データ (PAYLOAD、FILE または画像) が運ぶ提示の JSON を出力します / "
    "Print the exact presentation JSON a QR payload carries",
)
@click.argument("source", metavar="PAYLOAD|FILE")
@registry_options
@click.option("--now", "now_text", help="レジストリの検証時刻 / time for checking the registry")
def decode_command(
    source: str, registry_path: str | None, registry_key: str | None, now_text: str | None
) -> None:
    now = parse_time_option(now_text, "--now") or datetime.now(UTC)
    registry = load_registry(registry_path, registry_key, now)
    kind, value = read_source(source)
    if kind != "payload":
        fail(
            "QR データではありません (FR1: / FRJ: で始まるテキストか QR の画像)",
            "not a QR payload (text starting with FR1: or FRJ:, or an image of the QR code)",
        )
    print_json(decode_payload(value, registry))


@main.command(
    "verify",
    help="証明書・提示・QR データ (FILE、画像、PAYLOAD、- で標準入力) を検証します / "
    "Verify a credential, presentation or QR payload (FILE, image, PAYLOAD, or - for stdin)",
)
@click.argument("source", metavar="PAYLOAD|FILE|IMAGE|-")
@click.option(
    "--json", "as_json", is_flag=True, help="結果を JSON で出力 / print the result as JSON"
)
@click.option(
    "--any-issuer",
    is_flag=True,
    help="署名が正しければどの発行者も信頼する / trust any issuer whose proof verifies",
)
@registry_options
@click.option("--now", "now_text", help="検証時刻 ISO 8601 (既定: 現在) / time of verification")
@click.option("--challenge", help="提示に求めるチャレンジ / challenge the presentation must carry")
@click.option("--domain", help="提示に求めるドメイン / domain the presentation must carry")
@click.option(
    "--window",
    type=click.IntRange(1, 86400),
    default=120,
    show_default=True,
    help="QR の作成時刻の許容範囲 (秒) / how old or new a QR may be (seconds)",
)
@click.option(
    "--did-document",
    "did_documents",
    multiple=True,
    help="オフラインで使う DID 文書 (did:web 用、複数可) / DID document to use offline",
)
@click.option(
    "--status-list",
    "status_lists",
    multiple=True,
    help="ステータスリスト証明書のファイル (複数可) / status list credential file",
)
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
def verify_command(
    source: str,
    as_json: bool,
    any_issuer: bool,
    registry_path: str | None,
    registry_key: str | None,
    now_text: str | None,
    challenge: str | None,
    domain: str | None,
    window: int,
    did_documents: tuple[str, ...],
    status_lists: tuple[str, ...],
    lang: str,
) -> None:
    now = parse_time_option(now_text, "--now") or datetime.now(UTC)
    registry = load_registry(registry_path, registry_key, now)
    if registry is not None and any_issuer:
        fail(
            "--any-issuer と --registry は同時に使えません",
            "--any-issuer and --registry cannot be used together",
        )
    documents: dict[str, Any] = dict(registry.did_documents()) if registry is not None else {}
    for path in did_documents:
        document = load_document(path)
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            fail(f"{path} は DID 文書ではありません", f"{path} is not a DID document")
        documents[document["id"]] = document
    kind, value = read_source(source)
    qr = kind == "payload"
    if qr:
        value = decode_payload(value, registry)
    options = VerifyOptions(
        now=now,
        challenge=challenge,
        domain=domain or (envelope.QR_DOMAIN if qr else None),
        presentation_max_age=timedelta(seconds=window) if qr else None,
        require_holder_binding=qr,
        registry=registry,
        status_lists=FileStatusLists(status_lists) if status_lists else None,
    )
    result = verify(value, resolver=Resolver(documents=documents), options=options)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render(result, lang))
    sys.exit(0 if result.verified else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
