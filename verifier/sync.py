"""``sync``: fetch the national registry and the status lists while the device has a network.

1. The registry (a URL or a file) is verified with the authority key — the one given, which
   is pinned at the first sync, or the one pinned before.  A bad signature, a lower
   ``sequence`` than the cached one (rollback) or the same sequence with other content is
   refused and the cache is left as it was.
2. For each chosen municipality (all by default) the verifier reads
   ``<statusBaseUrl>/index.json`` (the issuer's list of its status lists) and fetches every
   list under ``statusBaseUrl``.  Each status list credential is verified before it is kept:
   its proof with the registry's keys, its issuer the municipality's DID, its ``id`` the URL
   it came from.  A municipality that cannot be reached or serves something wrong keeps the
   lists it had, and the report says so — one bad server never spoils the others.

Fetches are bounded (size, time, no redirects) and run a few at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from did.errors import FurusatoError, LimitExceededError, MalformedValueError
from did.jsonio import Limits, load_json
from did.keys import PublicKey
from did.resolver import Resolver
from vc.model import as_list, issuer_id
from vc.registry import MAX_REGISTRY_BYTES, Registry, RegistryEntry
from vc.statuslist import LIST_CREDENTIAL_TYPE
from vc.verify import VerifyOptions, verify_credential
from verifier.cache import CacheError, VerifierCache

if TYPE_CHECKING:
    import httpx

MAX_INDEX_BYTES = 1024 * 1024
MAX_LIST_BYTES = 4 * 1024 * 1024
MAX_LISTS_PER_MUNICIPALITY = 1000
TIMEOUT_SECONDS = 15.0
CONNECT_SECONDS = 5.0
WORKERS = 8


class SyncError(FurusatoError):
    code = "sync_failed"
    title_en = "Sync failed"
    title_ja = "同期できませんでした"


Fetch = Callable[[str, int], bytes]


class HttpFetcher:
    """GET with a size limit, timeouts and no redirects; one connection pool for all."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        import httpx  # only a sync needs it (verify starts faster without)

        self._errors = (httpx.HTTPError, httpx.InvalidURL)
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=WORKERS * 2),
            headers={"User-Agent": "furusato-verifier"},
        )

    def __call__(self, url: str, max_bytes: int) -> bytes:
        try:
            with self.client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise SyncError(
                        f"{url} answered HTTP {response.status_code}",
                        f"{url} が HTTP {response.status_code} を返しました",
                        code="http_error",
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise LimitExceededError(
                            f"{url} sent more than {max_bytes} bytes",
                            f"{url} の応答が {max_bytes} バイトを超えました",
                        )
                return bytes(body)
        except self._errors as exc:
            raise SyncError(
                f"cannot reach {url[:200]} ({type(exc).__name__})",
                f"{url[:200]} に接続できません ({type(exc).__name__})",
                code="unreachable",
            ) from None

    def close(self) -> None:
        self.client.close()


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


@dataclass(frozen=True)
class Failure:
    lg_code: str
    url: str
    code: str
    message_ja: str
    message_en: str

    def to_json(self) -> dict[str, Any]:
        return {
            "lgCode": self.lg_code,
            "url": self.url,
            "code": self.code,
            "messages": {"ja": self.message_ja, "en": self.message_en},
        }


@dataclass
class SyncReport:
    registry_sequence: int
    municipalities: int
    lists: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "registrySequence": self.registry_sequence,
            "municipalities": self.municipalities,
            "lists": self.lists,
            "failures": [f.to_json() for f in self.failures],
            "seconds": round(self.seconds, 3),
        }


def read_registry_source(source: str, fetch: Fetch) -> bytes:
    if is_url(source):
        return fetch(source, MAX_REGISTRY_BYTES)
    path = Path(source)
    if not path.is_file():
        raise SyncError(
            f"{source}: no such file", f"{source}: ファイルがありません", code="not_found"
        )
    if path.stat().st_size > MAX_REGISTRY_BYTES:
        raise LimitExceededError("the registry is too large", "信頼リストが大きすぎます")
    return path.read_bytes()


def _list_urls(entry: RegistryEntry, body: bytes) -> list[str]:
    """The status list URLs of an ``index.json``, each under the entry's ``statusBaseUrl``."""
    index = load_json(body, Limits(max_bytes=MAX_INDEX_BYTES, max_depth=4))
    lists = index.get("lists") if isinstance(index, dict) else None
    if not isinstance(lists, list) or index.get("lgCode") != entry.lg_code:
        raise MalformedValueError(
            "the status list index is not this municipality's",
            "ステータスリストの一覧がこの自治体のものではありません",
        )
    if len(lists) > MAX_LISTS_PER_MUNICIPALITY:
        raise LimitExceededError("too many status lists", "ステータスリストが多すぎます")
    base = entry.status_base_url.rstrip("/") + "/"
    urls = []
    for item in lists:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url.startswith(base) or len(url) > 2048:
            raise MalformedValueError(
                f"a status list URL outside {base}", f"{base} 以外のステータスリスト URL です"
            )
        urls.append(url)
    return urls


def _checked_list(
    entry: RegistryEntry, url: str, body: bytes, registry: Registry, now: datetime
) -> dict[str, Any]:
    """The status list credential, verified; raises with the reason otherwise."""
    credential = load_json(body, Limits(max_bytes=MAX_LIST_BYTES))
    if (
        not isinstance(credential, dict)
        or credential.get("id") != url
        or LIST_CREDENTIAL_TYPE not in as_list(credential.get("type"))
    ):
        raise MalformedValueError(
            "not the BitstringStatusListCredential of this URL",
            "この URL のステータスリスト証明書ではありません",
        )
    if issuer_id(credential) != entry.did:
        raise MalformedValueError(
            "the status list is not signed by this municipality",
            "ステータスリストの発行者がこの自治体ではありません",
        )
    result = verify_credential(
        credential,
        resolver=Resolver(documents=registry.did_documents()),
        options=VerifyOptions(now=now, registry=registry),
    )
    if not result.verified:
        first = result.errors[0]
        raise SyncError(first.message_en, first.message_ja, code=first.code)
    return credential


def _failure(entry: RegistryEntry, url: str, exc: FurusatoError) -> Failure:
    return Failure(entry.lg_code, url, exc.code, exc.message_ja, exc.message_en)


def sync(
    cache: VerifierCache,
    *,
    registry_source: str,
    authority: PublicKey | None,
    now: datetime,
    lg_codes: Sequence[str] = (),
    fetch: Fetch | None = None,
    workers: int = WORKERS,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Fetch, verify and keep the registry and the status lists; see the module docstring."""
    started = time.perf_counter()
    own_fetcher: HttpFetcher | None = None
    if fetch is None:
        own_fetcher = HttpFetcher()
        fetch = own_fetcher
    get: Fetch = fetch
    try:
        key = authority or cache.pinned_key()
        if key is None:
            raise CacheError(
                "the first sync needs the registry authority's key (--registry-key)",
                "最初の同期には発行機関の公開鍵 (--registry-key) が必要です",
                code="authority_key_missing",
            )
        registry = cache.store_registry(read_registry_source(registry_source, get), key, now)
        entries = _chosen(registry, lg_codes)
        report = SyncReport(registry.sequence, len(entries))
        verified: dict[str, Mapping[str, Any]] = {}
        lock = threading.Lock()
        done = 0

        def one(entry: RegistryEntry) -> None:
            nonlocal done
            index_url = entry.status_base_url.rstrip("/") + "/index.json"
            results: dict[str, dict[str, Any]] = {}
            failures: list[Failure] = []
            try:
                urls = _list_urls(entry, get(index_url, MAX_INDEX_BYTES))
            except FurusatoError as exc:
                failures.append(_failure(entry, index_url, exc))
                urls = []
            for url in urls:
                try:
                    results[url] = _checked_list(
                        entry, url, get(url, MAX_LIST_BYTES), registry, now
                    )
                except FurusatoError as exc:
                    failures.append(_failure(entry, url, exc))
            with lock:
                verified.update(results)
                report.failures.extend(failures)
                done += 1
                if progress is not None:
                    progress(done, len(entries))

        if workers <= 1:
            for entry in entries:
                one(entry)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(one, entries))
        cache.store_statuses(verified, now)
        report.lists = len(verified)
        report.failures.sort(key=lambda f: (f.lg_code, f.url))
        report.seconds = time.perf_counter() - started
        return report
    finally:
        if own_fetcher is not None:
            own_fetcher.close()


def _chosen(registry: Registry, lg_codes: Sequence[str]) -> list[RegistryEntry]:
    if not lg_codes:
        return list(registry.entries)
    chosen = []
    for code in lg_codes:
        entry = registry.entry_for_lg_code(code)
        if entry is None:
            raise SyncError(
                f"{code} is not in the registry",
                f"{code} は全国レジストリにありません",
                code="issuer_unknown",
            )
        chosen.append(entry)
    return chosen
