"""Status list credentials verified once per content, not on every check.

A status list is itself a Data Integrity credential, and ``vc.verify`` verifies it again each
time a credential that names it is checked: ~2.5–4 ms per list, two lists per furusato
credential, most of it JSON-LD expansion and RDFC-1.0 canonicalization of a document that has
not changed since the last sync.  This module keeps the expensive, content-determined part —
the cryptosuite's transformation and hashing (``verify_data``) — per list URL and SHA-256
of the exact document and proof configuration, in a bounded in-process memo:

* a list whose content changed in any way (a new version synced, a tampered file, another
  proof) has another digest and is canonicalized again;
* everything else is still checked on every call by ``vc.verify``: the Ed25519/ECDSA
  signature over the memoized bytes with the key the resolver gives *now* (a key the
  registry revoked fails), the verification method and its relationship, validity against
  ``now`` (an expired list is stale), issuer, purpose, the bitstring, the cache's age;
* only ``BitstringStatusListCredential`` documents are memoized (presentations are fresh on
  every scan), and only successful transformations (an error is raised again each time).

It plugs in through ``VerifyOptions.suites`` (:func:`memoized_suites`), the allow-list of
cryptosuites every verifier passes — no change to ``vc``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from did.keys import KeyType
from schemas.loader import StaticDocumentLoader
from vc.model import as_list
from vc.statuslist import LIST_CREDENTIAL_TYPE
from vc.suites import ALL_SUITES, Cryptosuite

MAX_ENTRIES = 16_384  # ≥ 3 × the ~5,200 lists of a national sync; ~200 bytes each


def content_digest(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> str | None:
    """SHA-256 of the document and proof configuration exactly as given (key order too), or
    None when they are not plain JSON (then nothing is memoized)."""
    try:
        text = json.dumps(
            [document, proof_config], ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class VerifiedListMemo:
    """A bounded, thread-safe memo: (list URL, content digest, suite, key type, loader) →
    the bytes the signature covers.  The least recently used entry goes first."""

    max_entries: int = MAX_ENTRIES
    hits: int = 0
    misses: int = 0
    _entries: OrderedDict[tuple[Any, ...], bytes] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            data = self._entries.get(key)
            if data is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: tuple[Any, ...], data: bytes) -> None:
        with self._lock:
            self._entries[key] = data
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


@dataclass(frozen=True)
class MemoizedSuite:
    """A cryptosuite whose ``verify_data`` of status list credentials is memoized."""

    inner: Cryptosuite
    memo: VerifiedListMemo

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def key_types(self) -> frozenset[KeyType]:
        return self.inner.key_types

    def verify_data(
        self,
        document: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key_type: KeyType,
        loader: StaticDocumentLoader,
    ) -> bytes:
        url = document.get("id")
        if not isinstance(url, str) or LIST_CREDENTIAL_TYPE not in as_list(document.get("type")):
            return self.inner.verify_data(document, proof_config, key_type, loader)
        digest = content_digest(document, proof_config)
        if digest is None:
            return self.inner.verify_data(document, proof_config, key_type, loader)
        # the loader object itself (held by the key): the same contexts, never a reused id
        key = (url, digest, self.inner.name, key_type, loader)
        data = self.memo.get(key)
        if data is None:
            data = self.inner.verify_data(document, proof_config, key_type, loader)
            self.memo.put(key, data)
        return data


PROCESS_MEMO = VerifiedListMemo()
"""The verifier process's memo (the scanner page, OID4VP and the CLI share it)."""


def memoized_suites(
    memo: VerifiedListMemo | None = None, suites: Mapping[str, Cryptosuite] = ALL_SUITES
) -> dict[str, Cryptosuite]:
    """``suites`` (the same allow-list) with status list verification memoized in ``memo``
    (default: the process's)."""
    chosen = PROCESS_MEMO if memo is None else memo
    return {name: MemoizedSuite(suite, chosen) for name, suite in suites.items()}
