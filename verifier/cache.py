"""The verifying device's cache: the national registry, the status lists, the QR codes seen.

Everything verification needs offline lives in one directory (``--cache-dir`` or
``FURUSATO_VERIFIER_CACHE``)::

    authority.jwk          the registry authority's public key, pinned at the first sync
    registry.jws           the signed registry as fetched (verified again whenever it is read)
    lists/<sha256>.json    each status list credential as fetched
    state.json             when each was fetched: {"registry": {...}, "lists": {url: {...}}}
    seen.json              SHA-256 of what identifies each recently verified presentation
                           (vc.envelope.presentation_key), for replay warnings

Writes are atomic (``shellkit.files``).  Nothing here decides trust: the registry is
re-verified with the pinned key on every load, status list credentials are verified by the
caller (``vc.verify``; ``verifier.statusmemo`` makes that once per content), and the cache
only says how old each piece is.

A long-running verifier (the scanner page) checks many QR codes against the same lists, so
each list is read and parsed once and held in memory (its JSON as parsed: ~5 KB for a list
with 1 % of its bits set, docs/scaling.md) until its file or its entry in ``state.json``
changes — a new sync, or a file changed under us, is read again on the next check.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from did.errors import FurusatoError, MalformedValueError
from did.jsonio import Limits, load_json
from did.keys import PublicKey
from shellkit.files import atomic_write
from vc.envelope import presentation_key
from vc.registry import MAX_REGISTRY_BYTES, Registry, verify_registry
from vc.statuslist import StatusListDocument

MAX_LIST_FILE = 32 * 1024 * 1024
MAX_SEEN = 100_000


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parse(text: object) -> datetime | None:
    """A time we wrote (``…Z``); anything else — not text, not a time, no time zone — None."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class CacheError(FurusatoError):
    code = "cache_error"


@dataclass(frozen=True)
class CacheAge:
    """How old the cached data is, for people: registry and oldest status list."""

    registry_fetched: datetime | None
    registry_sequence: int | None
    oldest_list: datetime | None
    lists: int


@dataclass(frozen=True)
class _HeldList:
    """A status list read from its file: the file's identity when read, and the document."""

    stamp: tuple[int, int, int, int]  # mtime_ns, size, inode, ctime_ns
    fetched_at: object
    document: StatusListDocument


def _stamp(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)


class VerifierCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._registry: tuple[bytes, Registry] | None = None
        self._state_memo: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        self._lists: dict[str, _HeldList] = {}

    # --- files ---------------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.directory / "state.json"

    def _state(self) -> dict[str, Any]:
        """state.json, read again only when the file changed (a server verifies many QRs).

        The same object is returned while the file is unchanged: read it, never change it
        (writers take :meth:`_state_copy`)."""
        try:
            stat = self._state_file.stat()
        except FileNotFoundError:
            return {"registry": None, "lists": {}}
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._state_memo is not None and self._state_memo[0] == stamp:
            return self._state_memo[1]
        try:
            value = load_json(
                self._state_file.read_bytes(),
                Limits(max_bytes=64 * 1024 * 1024, max_depth=8, max_nodes=2_000_000),
            )
        except FurusatoError:
            value = None
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("lists", {}), dict)
            or not isinstance(value.get("registry"), dict | None)
        ):
            raise CacheError(
                f"the cache state {self._state_file} is damaged: run sync again",
                f"キャッシュの状態ファイル {self._state_file} が壊れています。sync をやり直してください",
            )
        value = {
            "registry": value.get("registry"),
            # an entry we cannot read vouches for nothing: that list reads as missing
            "lists": {
                url: entry
                for url, entry in value.get("lists", {}).items()
                if isinstance(entry, dict) and _parse(entry.get("fetchedAt")) is not None
            },
        }
        self._state_memo = (stamp, value)
        return value

    def _state_copy(self) -> dict[str, Any]:
        return copy.deepcopy(self._state())

    def _save_state(self, state: dict[str, Any]) -> None:
        atomic_write(
            self._state_file, json.dumps(state, ensure_ascii=False).encode("utf-8"), mode=0o644
        )

    # --- the authority key -------------------------------------------------------------------

    def pinned_key(self) -> PublicKey | None:
        path = self.directory / "authority.jwk"
        if not path.is_file():
            return None
        jwk = load_json(path.read_bytes(), Limits(max_bytes=16 * 1024, max_depth=4))
        if not isinstance(jwk, dict):
            raise CacheError(
                "the pinned authority key is damaged", "固定した発行機関の鍵が壊れています"
            )
        return PublicKey.from_jwk({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")})

    def pin_key(self, key: PublicKey) -> None:
        """Pin the authority key (first sync); a different key later is refused."""
        current = self.pinned_key()
        if current is not None and current != key:
            raise CacheError(
                "this cache already trusts another registry authority key",
                "このキャッシュは既に別の発行機関の鍵を信頼しています",
                code="authority_key_changed",
            )
        if current is None:
            atomic_write(
                self.directory / "authority.jwk", json.dumps(key.to_jwk()).encode(), mode=0o644
            )

    # --- the registry ------------------------------------------------------------------------

    def registry(self, now: datetime) -> Registry | None:
        """The cached registry, verified again with the pinned key (None when never synced)."""
        path = self.directory / "registry.jws"
        key = self.pinned_key()
        if key is None or not path.is_file():
            return None
        data = path.read_bytes()
        if self._registry is not None and self._registry[0] == data:
            return self._registry[1]
        registry = verify_registry(data, key, now=now, max_clock_skew=timedelta(days=36500))
        self._registry = (data, registry)
        return registry

    def store_registry(self, jws: bytes, key: PublicKey, now: datetime) -> Registry:
        """Verify a fetched registry and keep it — never an older one (rollback)."""
        if len(jws) > MAX_REGISTRY_BYTES:
            raise MalformedValueError("the registry is too large", "信頼リストが大きすぎます")
        pinned = self.pinned_key()
        if pinned is not None and pinned != key:
            self.pin_key(key)  # raises authority_key_changed
        previous = self.registry(now)
        registry = verify_registry(jws, key, now=now, previous=previous)
        self.pin_key(key)  # only a key that verified a registry is pinned
        atomic_write(self.directory / "registry.jws", jws, mode=0o644)
        state = self._state_copy()
        state["registry"] = {"sequence": registry.sequence, "fetchedAt": _iso(now)}
        self._save_state(state)
        self._registry = (jws, registry)
        return registry

    # --- status lists ------------------------------------------------------------------------

    def _list_path(self, url: str) -> Path:
        return self.directory / "lists" / (hashlib.sha256(url.encode()).hexdigest() + ".json")

    def store_statuses(self, documents: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
        """Keep verified status list credentials (url → credential), fetched at ``now``.

        Each list file is written atomically (without an fsync each: thousands of them), then
        everything is flushed once and the state written, so a sync that stops half-way
        leaves every list either as it was or as fetched; a list file the state does not
        vouch for, or a damaged one, reads as missing (``status_unknown``).
        """
        # Windows has no os.sync: there each file is flushed on its own (slower, as safe).
        each = not hasattr(os, "sync")
        for url, document in documents.items():
            data = json.dumps(document, ensure_ascii=False).encode()
            atomic_write(self._list_path(url), data, mode=0o644, durable=each)
        if documents and not each:
            os.sync()  # every list file on disk before the state that vouches for them
        state = self._state_copy()
        for url in documents:
            state["lists"][url] = {"fetchedAt": _iso(now)}
        self._save_state(state)

    def get(self, url: str) -> StatusListDocument | None:
        """A ``StatusListSource`` for ``vc.verify``: the list as fetched, with its age.

        Never raises: a damaged state or list file is as good as missing (``status_unknown``,
        fail closed); ``age()`` and ``cache`` report the damage itself.
        """
        try:
            entry = self._state()["lists"].get(url)
        except FurusatoError:
            return None
        if entry is None:
            self._lists.pop(url, None)
            return None
        path = self._list_path(url)
        stamp = _stamp(path)
        if stamp is None:
            return None
        fetched_at = entry.get("fetchedAt")
        held = self._lists.get(url)
        if held is not None and held.stamp == stamp and held.fetched_at == fetched_at:
            return held.document
        try:
            document = load_json(path.read_bytes(), Limits(max_bytes=MAX_LIST_FILE))
        except (FurusatoError, OSError):
            return None  # damaged (a power cut during sync): as good as missing
        if not isinstance(document, dict):
            return None
        held = _HeldList(stamp, fetched_at, StatusListDocument(document, _parse(fetched_at)))
        self._lists[url] = held
        return held.document

    def age(self) -> CacheAge:
        state = self._state()
        registry = state.get("registry") or {}
        times = [t for t in (_parse(v.get("fetchedAt")) for v in state["lists"].values()) if t]
        sequence = registry.get("sequence")
        return CacheAge(
            _parse(registry.get("fetchedAt")),
            sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None,
            min(times) if times else None,
            len(state["lists"]),
        )

    # --- replay ------------------------------------------------------------------------------

    def seen_before(self, payload: str, now: datetime, window: timedelta) -> bool:
        """Record the presentation ``payload`` carries; True when the same presentation was
        verified within ``window`` — in any form (short, self-contained or generic QR, bare
        compact text, whitespace around it): the log is keyed on what the holder signed
        (:func:`vc.envelope.presentation_key`), not on the text.

        Only the SHA-256 of that key is kept.  Entries written when the log was keyed on the
        payload text simply never match, and age out like any other.
        """
        path = self.directory / "seen.json"
        value: object = None
        if path.is_file():
            try:
                value = load_json(
                    path.read_bytes(),
                    Limits(max_bytes=16 * 1024 * 1024, max_depth=2, max_nodes=MAX_SEEN * 2 + 10),
                )
            except FurusatoError:
                value = None  # a damaged log only weakens the warning: start a new one
        cutoff = now - 2 * window
        seen: dict[str, datetime] = {}
        for digest, text in value.items() if isinstance(value, dict) else ():
            moment = _parse(text)
            if moment is not None and moment > cutoff:
                seen[digest] = moment
        digest = hashlib.sha256(presentation_key(payload).encode("utf-8")).hexdigest()
        before = seen.get(digest)
        replayed = before is not None and now - before <= window
        seen[digest] = now
        if len(seen) > MAX_SEEN:
            seen = dict(sorted(seen.items(), key=lambda item: item[1])[-MAX_SEEN:])
        # Not fsynced: losing the last minutes of the replay log in a power cut only weakens a
        # warning, and an fsync per scan would cost more than the verification.
        data = json.dumps({h: _iso(t) for h, t in seen.items()}).encode()
        atomic_write(path, data, mode=0o600, durable=False)
        return replayed
