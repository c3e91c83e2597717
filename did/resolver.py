"""DID resolution and verification-method dereferencing, with an injected fetcher and cache.

did:key and did:jwk resolve locally; did:web goes through the ``fetcher`` the shell supplies
(the core opens no sockets). Fetched documents are bounded (size, JSON depth) and checked:
``id`` equals the DID (did:web §"Read"), and every verification method id and controller
is an absolute URL (the did:web key-confusion defence).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from did.document import VERIFICATION_RELATIONSHIPS, find_verification_method
from did.errors import (
    DIDError,
    DIDResolutionError,
    LimitExceededError,
    ParsingError,
    UnsupportedError,
)
from did.jsonio import Limits, load_json
from did.jwk import resolve_did_jwk
from did.key import resolve_did_key
from did.web import did_web_to_url

__all__ = ["Fetcher", "Resolver"]

Fetcher = Callable[[str], bytes]
"""URL → response body. The shell supplies HTTP (timeouts, TLS, redirects policy); raising
any exception means "not found"."""

MAX_DID_LENGTH = 4096
MAX_DOCUMENT_DEPTH = 32
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def _invalid(did: str, en: str, ja: str) -> DIDResolutionError:
    return DIDResolutionError(f"{did}: {en}", f"{did}: {ja}")


class Resolver:
    """Resolves DIDs to documents and dereferences verification method URLs.

    ``fetcher`` (URL → bytes) is needed only for did:web; without it did:web is offline and
    only ``documents`` (pre-seeded DID → document, e.g. from the registry or tests) and the
    ``cache`` answer. The cache is any mutable mapping (DID → document); expiry is the
    caller's policy, since the core reads no clock.
    """

    def __init__(
        self,
        fetcher: Fetcher | None = None,
        *,
        cache: MutableMapping[str, dict[str, Any]] | None = None,
        max_document_bytes: int = 256 * 1024,
        documents: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._cache: MutableMapping[str, dict[str, Any]] = {} if cache is None else cache
        self._max_document_bytes = max_document_bytes
        # Kept as given (read, never changed): a lazy mapping such as the registry's builds
        # only the documents asked for.
        self._documents: Mapping[str, Mapping[str, Any]] = {} if documents is None else documents

    def resolve(self, did: str) -> dict[str, Any]:
        """The DID document of ``did`` (a DID, not a DID URL). Returns a fresh copy.

        Raises :class:`UnsupportedError` for a method other than key, jwk, web;
        :class:`DIDResolutionError` (``verification_method_unresolved``) when the document
        cannot be obtained or is not acceptable; :class:`DIDError` for a malformed DID.
        """
        if not isinstance(did, str):
            raise DIDError("a DID must be a string", "DID は文字列でなければなりません")
        if len(did) > MAX_DID_LENGTH:
            raise LimitExceededError(
                f"DID longer than {MAX_DID_LENGTH} characters",
                f"DID が {MAX_DID_LENGTH} 文字を超えています",
            )
        if any(c in did for c in "#?/"):
            raise DIDError(
                "expected a DID without path, query or fragment (use dereference for DID URLs)",
                "パス・クエリ・フラグメントのない DID が必要です (DID URL には dereference を使用)",
            )
        parts = did.split(":", 2)
        if len(parts) != 3 or parts[0] != "did" or not parts[1] or not parts[2]:
            raise DIDError(f"not a DID: {did[:60]!r}", f"DID ではありません: {did[:60]!r}")
        method = parts[1]

        seeded = self._documents.get(did)
        if seeded is not None:
            return copy.deepcopy(self._check_document(did, seeded))
        if method == "key":
            return resolve_did_key(did)
        if method == "jwk":
            return resolve_did_jwk(did)
        if method != "web":
            raise UnsupportedError(
                f"unsupported DID method {method[:40]!r}",
                f"対応していない DID メソッドです {method[:40]!r}",
            )
        cached = self._cache.get(did)
        if cached is not None:
            return copy.deepcopy(cached)
        document = self._fetch_did_web(did)
        self._cache[did] = document
        return copy.deepcopy(document)

    def dereference(self, did_url: str, relationship: str | None = None) -> dict[str, Any]:
        """The verification method a DID URL (``<did>#<fragment>``) names.

        With ``relationship`` (e.g. ``assertionMethod``), the method must be listed under it
        (CID 1.0 §3.3); see :func:`did.document.find_verification_method`.
        """
        if not isinstance(did_url, str) or "#" not in did_url:
            raise DIDError(
                "a verification method URL needs a fragment ('<did>#<key>')",
                "検証メソッドの URL にはフラグメントが必要です ('<did>#<key>')",
            )
        did = did_url.partition("#")[0]
        return find_verification_method(self.resolve(did), did_url, relationship)

    # internals

    def _fetch_did_web(self, did: str) -> dict[str, Any]:
        url = did_web_to_url(did)
        if self._fetcher is None:
            raise _invalid(
                did,
                "offline: no fetcher for did:web and no cached document",
                "オフラインです: did:web の取得手段もキャッシュされたドキュメントもありません",
            )
        try:
            body = self._fetcher(url)
        except Exception as exc:  # the fetcher's contract: any exception means not found
            raise _invalid(
                did,
                f"DID document not found at {url}",
                f"{url} に DID ドキュメントが見つかりません",
            ) from exc
        if not isinstance(body, bytes | bytearray | memoryview):
            raise _invalid(did, "the fetcher returned no bytes", "取得結果がバイト列ではありません")
        try:
            document = load_json(
                bytes(body),
                Limits(max_bytes=self._max_document_bytes, max_depth=MAX_DOCUMENT_DEPTH),
            )
        except LimitExceededError:
            raise
        except ParsingError as exc:
            raise _invalid(
                did,
                f"the DID document is not JSON: {exc.message_en}",
                f"DID ドキュメントが JSON ではありません: {exc.message_ja}",
            ) from exc
        return self._check_document(did, document)

    def _check_document(self, did: str, document: object) -> dict[str, Any]:
        if not isinstance(document, Mapping):
            raise _invalid(
                did,
                "the DID document is not a JSON object",
                "DID ドキュメントが JSON オブジェクトではありません",
            )
        if document.get("id") != did:
            raise _invalid(
                did,
                "the DID document's 'id' is not the DID",
                "DID ドキュメントの 'id' が DID と一致しません",
            )
        methods: list[Any] = []
        for name in ("verificationMethod", *VERIFICATION_RELATIONSHIPS):
            value = document.get(name)
            if value is None:
                continue
            if not isinstance(value, list):
                raise _invalid(
                    did, f"'{name}' must be a list", f"'{name}' はリストでなければなりません"
                )
            for entry in value:
                if isinstance(entry, Mapping):
                    methods.append(entry)
                elif name == "verificationMethod" or not isinstance(entry, str):
                    raise _invalid(did, f"invalid entry in '{name}'", f"'{name}' の要素が不正です")
                elif not _ABSOLUTE.fullmatch(entry):
                    raise _invalid(
                        did,
                        f"relative reference {entry!r} in '{name}'",
                        f"'{name}' に相対参照 {entry!r} があります",
                    )
        for vm in methods:
            for member in ("id", "controller"):
                value = vm.get(member)
                if not isinstance(value, str) or not _ABSOLUTE.fullmatch(value):
                    raise _invalid(
                        did,
                        f"verification method {member} {value!r} is not an absolute URL",
                        f"検証メソッドの {member} {value!r} が絶対 URL ではありません",
                    )
        return dict(document)
