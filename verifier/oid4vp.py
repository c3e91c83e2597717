"""The scanner app's OpenID4VP verifier (docs/oid4vp.md): transactions and their checks.

A nursery's page asks for a presentation: :meth:`Transactions.create` makes a transaction
(random id, request with a fresh ``nonce`` and ``state``, ``created_at``), kept in memory
with a lifetime and a bound on how many are open — the scanner is one process.  The wallet's
``direct_post`` finds its transaction by ``state``; :meth:`Transactions.take` hands each
transaction out **once** (a second response is ``oid4vp_response_used``), and
:func:`verify_with_cache` verifies the response offline with the device's cache: the
registry, the status lists and the place's policy, as :mod:`verifier.check` does for a QR.
"""

from __future__ import annotations

import base64
import threading
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, cast

from did.errors import FurusatoError
from did.resolver import Resolver
from vc import oid4vp
from vc.result import Check, VerificationResult
from vc.verify import VerifyOptions
from verifier.cache import VerifierCache
from verifier.check import credential_documents
from verifier.policy import Policy
from verifier.statusmemo import memoized_suites

DEFAULT_LIFETIME = timedelta(minutes=5)
MAX_OPEN = 200
ID_BYTES = 16


class TransactionError(oid4vp.OID4VPError):
    """A ``direct_post`` or a status poll that names no usable transaction."""

    code = "oid4vp_transaction_error"
    http_status: ClassVar[int] = 400


@dataclass
class Transaction:
    """One presentation request of the page, and, once answered, its outcome."""

    id: str
    request: oid4vp.AuthorizationRequest
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None = None
    outcome: oid4vp.ResponseVerification | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now: datetime) -> str:
        """``pending``, ``verified``, ``not_verified`` or ``expired``."""
        if self.answered_at is not None:
            if self.outcome is None:
                return "checking"
            return "verified" if self.outcome.verified else "not_verified"
        return "expired" if now >= self.expires_at else "pending"


class Transactions:
    """Open transactions, by id and by ``state``; bounded, thread-safe, single use."""

    def __init__(self, lifetime: timedelta = DEFAULT_LIFETIME, max_open: int = MAX_OPEN) -> None:
        self.lifetime = lifetime
        self.max_open = max_open
        self._by_id: dict[str, Transaction] = {}
        self._by_state: dict[str, str] = {}
        self._lock = threading.Lock()

    def _purge(self, now: datetime) -> None:
        # Kept a lifetime past expiry so that a late wallet hears "expired", the page its result.
        keep = now - self.lifetime
        for tid, tx in list(self._by_id.items()):
            if tx.expires_at <= keep:
                self._drop(tid)
        while len(self._by_id) >= self.max_open:
            oldest = min(self._by_id.values(), key=lambda t: t.created_at)
            self._drop(oldest.id)

    def _drop(self, tid: str) -> None:
        tx = self._by_id.pop(tid)
        if tx.request.state is not None:
            self._by_state.pop(tx.request.state, None)

    def create(
        self,
        response_uri: str,
        dcql_query: Mapping[str, Any],
        *,
        now: datetime,
        random_bytes: Callable[[int], bytes],
        unsafe_allow_http_loopback: bool = False,
    ) -> Transaction:
        request = oid4vp.new_request(
            response_uri,
            dcql_query,
            random_bytes=random_bytes,
            unsafe_allow_http_loopback=unsafe_allow_http_loopback,
        )
        tid = base64.urlsafe_b64encode(random_bytes(ID_BYTES)).rstrip(b"=").decode()
        tx = Transaction(tid, request, now, now + self.lifetime)
        with self._lock:
            self._purge(now)
            self._by_id[tid] = tx
            assert request.state is not None  # new_request always sets one
            self._by_state[request.state] = tid
        return tx

    def get(self, tid: str, now: datetime) -> Transaction:
        with self._lock:
            self._purge(now)
            tx = self._by_id.get(tid)
        if tx is None:
            raise TransactionError(
                "no such presentation request (unknown or expired)",
                "その提示要求はありません (不明か期限切れです)",
                code="oid4vp_transaction_unknown",
            )
        return tx

    def take(self, state: str | None, now: datetime) -> Transaction:
        """The transaction of ``state``, marked answered: once only, before it expires."""
        with self._lock:
            self._purge(now)
            tid = self._by_state.get(state) if state is not None else None
            tx = self._by_id.get(tid) if tid is not None else None
            if tx is None:
                raise TransactionError(
                    "no presentation request with this state (unknown or expired)",
                    "この state の提示要求はありません (不明か期限切れです)",
                    code="oid4vp_state_unknown",
                    path="state",
                )
            if tx.answered_at is not None:
                raise TransactionError(
                    "this presentation request has already been answered (replay?)",
                    "この提示要求にはすでに応答がありました (再送信・なりすましの可能性)",
                    code="oid4vp_response_used",
                    path="state",
                )
            if now >= tx.expires_at:
                raise TransactionError(
                    "this presentation request has expired; show a new QR code",
                    "この提示要求は期限切れです。新しい QR コードを表示してください",
                    code="oid4vp_transaction_expired",
                    path="state",
                )
            tx.answered_at = now
        return tx


def verify_with_cache(
    request: oid4vp.AuthorizationRequest,
    response: oid4vp.AuthorizationResponse,
    *,
    cache: VerifierCache,
    policy: Policy,
    now: datetime,
) -> oid4vp.ResponseVerification:
    """Verify a response offline, with the device's registry, status lists and policy."""
    try:
        registry = cache.registry(now)
    except FurusatoError as exc:
        registry = None
        problem = Check("registry", False, "issuer_unknown", exc.message_ja, exc.message_en)
    else:
        problem = Check(
            "registry",
            False,
            "issuer_unknown",
            "全国レジストリが同期されていません (sync を実行してください)",
            "no national registry has been synced (run sync)",
        )
    if registry is None:
        return oid4vp.ResponseVerification((problem,))
    maps: list[MutableMapping[str, Any]] = [
        cast(MutableMapping[str, Any], registry.did_documents())
    ]
    options = VerifyOptions(
        now=now,
        registry=registry,
        status_lists=cache,
        status_max_age=policy.status_max_age,
        suites=memoized_suites(),  # status lists verified once per content
    )

    def policy_checks(result: VerificationResult) -> Sequence[Check]:
        if not result.verified:
            return []
        checks: list[Check] = []
        for target, credential in credential_documents(result):
            checks += policy.checks(credential, target)
        return checks

    return oid4vp.verify_response(
        request,
        response,
        resolver=Resolver(documents=ChainMap(*maps)),
        options=options,
        presentation_max_age=policy.window,
        extra_checks=policy_checks,
    )
