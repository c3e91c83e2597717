"""``furusato-verifier``: check a credential or presentation, offline.

Exit codes: 0 verified, 1 not verified, 2 bad usage or unreadable input (missing file, not
JSON, too large, nested too deeply).  Human output follows ``--lang`` (Japanese by default);
``--json`` prints the result object with each check's stable code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from did.jsonio import DEFAULT_LIMITS, load_json
from did.keys import PublicKey
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
from vc import envelope, formats
from vc.dates import format_datetime
from vc.registry import MAX_REGISTRY_BYTES, Registry, verify_registry
from vc.result import CODES
from vc.statuslist import StatusListDocument
from verifier import check as checking
from verifier.cache import VerifierCache
from verifier.display import Summary, age_lines, cache_summary, jst, render
from verifier.policy import Policy
from verifier.sync import sync

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


@click.group(
    cls=BilingualGroup,
    help="ふるさと住民登録の証明書を確認します (オフライン) / "
    "Verify furusato resident credentials (offline)",
)
@click.version_option(package_name="furusato-vc")
def main() -> None:
    pass


def _compact(text: str) -> tuple[str, str]:
    """A presentation in compact form (``vp+jwt``, SD-JWT+KB) is what a holder shows, checked
    as a QR payload is; a credential on its own (``vc+jwt``, SD-JWT without KB-JWT) as a
    credential file is."""
    text = text.strip()
    return ("payload" if formats.is_compact_presentation(text) else "document"), text


def read_source(source: str) -> tuple[str, Any]:
    """What SOURCE holds: ``("payload", text)`` for what a holder shows — QR text, an image of
    a QR code, a ``vp+jwt`` or an SD-JWT+KB — or ``("document", value)`` for a credential or
    presentation as JSON, or a ``vc+jwt`` or SD-JWT VC on its own as compact text."""
    if source.startswith(PAYLOAD_PREFIXES):
        return "payload", source
    if formats.compact_kind(source) is not None:
        return _compact(source)
    data = read_input(source, max_bytes=DEFAULT_LIMITS.max_bytes)
    if looks_like_image(data):
        if source == "-":
            fail(
                "画像は標準入力ではなくファイルで指定してください",
                "give an image as a file, not on stdin",
            )
        return "payload", guarded(USAGE, lambda: read_one_qr(Path(source)))
    stripped = data.strip()
    if stripped.isascii() and formats.compact_kind(stripped.decode("ascii")) is not None:
        return _compact(stripped.decode("ascii"))
    if stripped.startswith(tuple(p.encode() for p in PAYLOAD_PREFIXES)):
        try:
            return "payload", stripped.decode("ascii")
        except UnicodeDecodeError:
            fail(
                f"{source}: QR データに使えない文字があります",
                f"{source}: the QR payload holds characters it cannot have",
            )
    return "document", guarded(USAGE, lambda: load_json(data), prefix=f"{source}: ")


def load_authority_key(key_path: str) -> PublicKey:
    """The registry authority's public key from a JWK file (exit 2 when it is not one)."""
    jwk = load_document(key_path, 64 * 1024)
    if not isinstance(jwk, dict):
        fail(f"{key_path} は JWK ではありません", f"{key_path} is not a JWK")
    return guarded(
        USAGE,
        lambda: PublicKey.from_jwk(
            {k: v for k, v in jwk.items() if k not in ("kid", "alg", "use", "key_ops")}
        ),
        prefix=f"{key_path}: ",
    )


def load_registry(path: str | None, key_path: str | None, now: datetime) -> Registry | None:
    """The national registry, verified with the pinned authority key."""
    if path is None and key_path is None:
        return None
    if path is None or key_path is None:
        fail(
            "--registry と --registry-key は一緒に指定してください",
            "give --registry and --registry-key together",
        )
    authority = load_authority_key(key_path)
    data = read_input(path, max_bytes=MAX_REGISTRY_BYTES)
    return guarded(FAILED, lambda: verify_registry(data, authority, now=now), prefix=f"{path}: ")


def decode_payload(text: str, registry: Registry | None) -> dict[str, Any]:
    return guarded(
        FAILED, lambda: envelope.decode(text, issuer_for=checking.issuer_lookup(registry))
    )


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


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "furusato-verifier"


def cache_option(function: Any) -> Any:
    return click.option(
        "--cache-dir",
        envvar="FURUSATO_VERIFIER_CACHE",
        type=click.Path(file_okay=False, path_type=Path),
        help="レジストリとステータスリストのキャッシュ (既定: ~/.cache/furusato-verifier) / "
        "cache of the registry and status lists",
    )(function)


def open_cache(cache_dir: Path | None) -> VerifierCache:
    return VerifierCache(cache_dir or default_cache_dir())


def policy_option(function: Any) -> Any:
    return click.option(
        "--policy",
        "policy_path",
        metavar="FILE",
        help="受付条件 (登録区分・自治体・鮮度) の JSON / what this place accepts (JSON)",
    )(function)


def load_policy(path: str | None) -> Policy:
    if path is None:
        return Policy()
    value = load_document(path, 64 * 1024)
    return guarded(USAGE, lambda: Policy.from_json(value), prefix=f"{path}: ")


@main.command(
    "decode",
    help="QR データ (PAYLOAD、FILE または画像) が運ぶ提示の JSON を出力します / "
    "Print the exact presentation JSON a QR payload carries",
)
@click.argument("source", metavar="PAYLOAD|FILE")
@registry_options
@cache_option
@click.option("--now", "now_text", help="レジストリの検証時刻 / time for checking the registry")
def decode_command(
    source: str,
    registry_path: str | None,
    registry_key: str | None,
    cache_dir: Path | None,
    now_text: str | None,
) -> None:
    now = parse_time_option(now_text, "--now") or datetime.now(UTC)
    registry = load_registry(registry_path, registry_key, now) or guarded(
        FAILED, lambda: open_cache(cache_dir).registry(now)
    )
    kind, value = read_source(source)
    if kind != "payload" or formats.compact_kind(value) is not None:
        fail(
            "QR データではありません (FR1: / FRJ: で始まるテキストか QR の画像)",
            "not a QR payload (text starting with FR1: or FRJ:, or an image of the QR code)",
        )
    print_json(decode_payload(value, registry))


@main.command(
    "sync",
    help="全国レジストリとステータスリストを取得して検証し、キャッシュします (要ネットワーク) / "
    "Fetch, verify and cache the national registry and the status lists (needs a network)",
)
@click.option(
    "--registry",
    "registry_source",
    required=True,
    metavar="URL|FILE",
    help="署名付き全国レジストリの URL またはファイル / URL or file of the signed registry",
)
@click.option(
    "--registry-key",
    "registry_key",
    metavar="JWK_FILE",
    help="レジストリ発行機関の公開鍵 (最初の同期で固定) / the registry authority's public key "
    "(pinned at the first sync)",
)
@click.option(
    "--lg-code",
    "lg_codes",
    multiple=True,
    help="この自治体のステータスリストだけ取得 (複数可、既定: すべて) / only these municipalities",
)
@cache_option
@click.option("--now", "now_text", help="同期の時刻 ISO 8601 (既定: 現在) / time of the sync")
@click.option(
    "--json", "as_json", is_flag=True, help="結果を JSON で出力 / print the report as JSON"
)
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
def sync_command(
    registry_source: str,
    registry_key: str | None,
    lg_codes: tuple[str, ...],
    cache_dir: Path | None,
    now_text: str | None,
    as_json: bool,
    lang: str,
) -> None:
    now = parse_time_option(now_text, "--now") or datetime.now(UTC)
    authority = load_authority_key(registry_key) if registry_key else None
    cache = open_cache(cache_dir)
    report = guarded(
        FAILED,
        lambda: sync(
            cache, registry_source=registry_source, authority=authority, now=now, lg_codes=lg_codes
        ),
    )
    if as_json:
        print_json(report.to_json())
    else:
        ja = lang == "ja"
        click.echo(
            f"全国レジストリ 第{report.registry_sequence}版を取得しました "
            f"({report.municipalities} 自治体のステータスリスト {report.lists} 件、{report.seconds:.1f} 秒)"
            if ja
            else f"Fetched registry sequence {report.registry_sequence} "
            f"({report.lists} status lists of {report.municipalities} municipalities, "
            f"{report.seconds:.1f} s)"
        )
        for failure in report.failures:
            message = failure.message_ja if ja else failure.message_en
            click.echo(f"  ✗ {failure.lg_code} {failure.url}: {message} [{failure.code}]")
        if report.failures:
            click.echo(
                f"{len(report.failures)} 件を取得できませんでした。これらは前回のデータのままです"
                if ja
                else f"{len(report.failures)} could not be fetched; they keep the data they had"
            )
    sys.exit(0 if report.complete else FAILED)


@main.command(
    "cache",
    help="キャッシュがいつ同期されたかを表示します / Show when the cache was last synced",
)
@cache_option
@click.option("--now", "now_text", help="時刻 ISO 8601 (既定: 現在) / time")
@click.option("--json", "as_json", is_flag=True, help="JSON で出力 / print as JSON")
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
def cache_command(cache_dir: Path | None, now_text: str | None, as_json: bool, lang: str) -> None:
    now = parse_time_option(now_text, "--now") or datetime.now(UTC)
    cache = open_cache(cache_dir)
    age = guarded(FAILED, cache.age)
    registry = guarded(FAILED, lambda: cache.registry(now))
    if as_json:
        print_json(cache_summary(cache, age, registry, now))
        return
    click.echo(f"{cache.directory}")
    for line in age_lines(age, now, lang):
        click.echo(f"  {line}")
    if registry is not None:
        ja = lang == "ja"
        click.echo(
            f"  全国レジストリ 第{registry.sequence}版、{len(registry.entries)} 自治体、"
            f"次の更新予定 {jst(format_datetime(registry.next_update))}"
            if ja
            else f"  Registry sequence {registry.sequence}, {len(registry.entries)} municipalities, "
            f"next update {jst(format_datetime(registry.next_update))}"
        )
        if registry.is_stale(now):
            click.echo("  ! " + CODES["registry_stale"][0 if ja else 1])


@main.command(
    "verify",
    help="証明書・提示・QR データ (FILE、画像、PAYLOAD、- で標準入力) を検証します (オフライン、"
    "sync したキャッシュを使用)。PAYLOAD は FR1:/FRJ: の QR データ、または vc+jwt・vp+jwt・SD-JWT VC "
    "のテキスト / Verify a credential, presentation or QR payload (FILE, image, PAYLOAD, or - for "
    "stdin) offline, from the synced cache; PAYLOAD is FR1:/FRJ: QR text, or a vc+jwt, vp+jwt or "
    "SD-JWT VC as compact text",
)
@click.argument("source", metavar="PAYLOAD|FILE|IMAGE|-")
@cache_option
@policy_option
@click.option(
    "--json", "as_json", is_flag=True, help="結果を JSON で出力 / print the result as JSON"
)
@click.option(
    "--any-issuer",
    is_flag=True,
    help="署名が正しければどの発行者も信頼する (試験用) / trust any issuer whose proof verifies "
    "(for tests)",
)
@registry_options
@click.option("--now", "now_text", help="検証時刻 ISO 8601 (既定: 現在) / time of verification")
@click.option("--challenge", help="提示に求めるチャレンジ / challenge the presentation must carry")
@click.option("--domain", help="提示に求めるドメイン / domain the presentation must carry")
@click.option(
    "--window",
    type=click.IntRange(1, 86400),
    help="QR の作成時刻の許容範囲 (秒、既定: ポリシーの値か 120) / how old or new a QR may be "
    "(seconds; default: the policy's, or 120)",
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
    help="ステータスリスト証明書のファイル (複数可、キャッシュの代わり) / status list credential "
    "file (instead of the cache)",
)
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True)
def verify_command(
    source: str,
    cache_dir: Path | None,
    policy_path: str | None,
    as_json: bool,
    any_issuer: bool,
    registry_path: str | None,
    registry_key: str | None,
    now_text: str | None,
    challenge: str | None,
    domain: str | None,
    window: int | None,
    did_documents: tuple[str, ...],
    status_lists: tuple[str, ...],
    lang: str,
) -> None:
    now = parse_time_option(now_text, "--now") or datetime.now(UTC)
    policy = load_policy(policy_path)
    if window is not None:
        policy = replace(policy, window=timedelta(seconds=window))
    cache = open_cache(cache_dir)
    registry = load_registry(registry_path, registry_key, now)
    if registry is not None and any_issuer:
        fail(
            "--any-issuer と --registry は同時に使えません",
            "--any-issuer and --registry cannot be used together",
        )
    if registry is None and not any_issuer:
        registry = guarded(FAILED, lambda: cache.registry(now))
    documents: dict[str, Any] = {}
    for path in did_documents:
        document = load_document(path)
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            fail(f"{path} は DID 文書ではありません", f"{path} is not a DID document")
        documents[document["id"]] = document
    kind, value = read_source(source)
    result = guarded(
        FAILED,
        lambda: checking.check(
            value,
            qr=kind == "payload",
            policy=policy,
            now=now,
            registry=registry,
            status_lists=FileStatusLists(status_lists) if status_lists else cache,
            replay=cache if kind == "payload" and cache.directory.is_dir() else None,
            challenge=challenge,
            domain=domain,
            any_issuer=any_issuer,
            did_documents=documents,
        ),
    )
    if as_json:  # the result object, and what the credential says (municipality, tier…)
        answer = {**result.to_json(), "summary": Summary.from_result(result).to_json()}
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        click.echo(render(result, lang))
        if not status_lists and cache.directory.is_dir():
            for line in age_lines(guarded(FAILED, cache.age), now, lang):
                click.echo(f"  {line}")
    sys.exit(0 if result.verified else 1)


@main.command(
    "serve",
    help="確認用のウェブ画面 (カメラで QR を読み取り) を起動します / "
    "Run the scanner web app of the verifying device",
)
@cache_option
@policy_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="待ち受けるアドレス (この端末だけなら 127.0.0.1) / address to listen on",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option(
    "--public-url",
    default=None,
    help="ウォレットがこの端末に届く https の URL (OpenID4VP の response_uri の基点) / "
    "the https URL wallets reach this device at (base of the OpenID4VP response_uri)",
)
def serve_command(
    cache_dir: Path | None, policy_path: str | None, host: str, port: int, public_url: str | None
) -> None:
    policy = load_policy(policy_path)
    directory = cache_dir or default_cache_dir()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"  # noqa: S104
    click.echo(f"確認画面 / scanner: {url}")
    click.echo(f"キャッシュ / cache: {directory}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            "注意: カメラはブラウザが安全な接続 (https か localhost) でしか使えません / "
            "Note: browsers allow the camera only on https or localhost"
        )
    from verifier import web  # FastAPI and uvicorn: only the server pays for importing them

    web.run(directory, policy, host=host, port=port, public_url=public_url)


if __name__ == "__main__":  # pragma: no cover
    main()
