"""The verifier library: ``check(payload, policy=…, now=…, registry=…, status_lists=…)`` → ``VerificationResult``.

Offline: the national registry and the status lists come from the cache (``sync`` filled it
while the device had a network).  On top of ``vc.verify`` (proofs, registry trust, validity,
status, holder binding, freshness, challenge) this adds what a verifying place decides: its
policy (tiers, municipalities), the maximum age of the cached status lists, replay (the same
QR seen twice within the window is a warning) and plain words about how old the data is.
Never raises on bad input.

What is shown at the counter — a QR payload (``FR1:``, ``FRJ:``) or the compact text of a
``vc+jwt``, ``vp+jwt`` or SD-JWT VC (docs/formats.md) — is checked as a presentation: bound to
its holder, within the policy's window, for the QR domain ``furusato-qr``.  The policy reads
the credentials as :func:`vc.verify.verify` verified them (``result.document``; for an SD-JWT
VC its VCDM-shaped view), so it applies alike to all three formats.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from did.errors import FurusatoError
from did.resolver import Resolver
from vc import envelope, formats
from vc.registry import Registry
from vc.result import Check, VerificationResult, failed, from_error
from vc.verify import StatusListSource, VerifyOptions, result_format, verify, with_format
from verifier.policy import Policy
from verifier.statusmemo import memoized_suites


def issuer_lookup(registry: Registry | None) -> envelope.IssuerLookup | None:
    if registry is None:
        return None

    def issuer_for(lg_code: str) -> str | None:
        entry = registry.entry_for_lg_code(lg_code)
        return entry.did if entry is not None else None

    return issuer_for


class ReplayLog(Protocol):
    """Records each payload that decoded; True when the *presentation* it carries was seen
    within the window, whatever form it came in (``VerifierCache`` keys on
    :func:`vc.envelope.presentation_key`)."""

    def seen_before(self, payload: str, now: datetime, window: timedelta) -> bool: ...


def check(
    source: Any,
    *,
    qr: bool | None = None,
    policy: Policy,
    now: datetime,
    registry: Registry | None,
    status_lists: StatusListSource | None,
    replay: ReplayLog | None = None,
    challenge: str | None = None,
    domain: str | None = None,
    any_issuer: bool = False,
    did_documents: Mapping[str, Mapping[str, Any]] | None = None,
) -> VerificationResult:
    """Verify a QR payload or compact text, or a credential/presentation (JSON), the way a
    place does.

    ``qr`` says which ``source`` is (default: text is what a holder shows — a QR payload or a
    ``vc+jwt`` / ``vp+jwt`` / SD-JWT — anything else parsed JSON).

    ``registry`` None means "not synced": refused unless ``any_issuer`` (then any issuer
    whose proof verifies is accepted — for tests and demonstrations, never at a counter).
    """
    warnings: list[Check] = []
    if registry is None and not any_issuer:
        return VerificationResult.of(
            [
                failed(
                    "registry",
                    "issuer_unknown",
                    "全国レジストリが同期されていません (sync を実行してください)",
                    "no national registry has been synced (run sync)",
                )
            ]
        )
    if any_issuer:
        registry = None
    if registry is not None and registry.is_stale(now):
        warnings.append(failed("registry", "registry_stale"))

    if qr is None:
        qr = isinstance(source, str)
    if qr:
        try:
            document: Any = (
                source.strip()  # verify() reads the compact formats as they are
                if formats.compact_kind(source) is not None
                else envelope.decode(source, issuer_for=issuer_lookup(registry))
            )
        except FurusatoError as exc:
            return VerificationResult.of([from_error("input", exc)], warnings=warnings)
        if replay is not None and replay.seen_before(source, now, policy.window):
            warnings.append(failed("replay", "replayed"))
    else:
        document = source  # verify() reports anything that is not a JSON object
    if policy.require_challenge and challenge is None:
        return VerificationResult.of(
            [
                failed(
                    "challenge",
                    "challenge_mismatch",
                    "この場所ではチャレンジが必要です",
                    "this place requires a challenge",
                )
            ],
            warnings=warnings,
        )

    # Looked up lazily (ChainMap only reads): the registry builds the documents asked for.
    # The registry comes first: a DID document given by hand (--did-document) is for an issuer
    # the registry does not list, never a replacement for a listed municipality's keys.
    maps: list[MutableMapping[str, Any]] = []
    if registry is not None:
        maps.append(cast(MutableMapping[str, Any], registry.did_documents()))
    maps.append(dict(did_documents or {}))
    options = VerifyOptions(
        now=now,
        challenge=challenge,
        domain=domain or (envelope.QR_DOMAIN if qr else None),
        presentation_max_age=policy.window if qr else None,
        require_holder_binding=qr,
        registry=registry,
        status_lists=status_lists,
        status_max_age=policy.status_max_age,
        # status lists verified once per content (verifier.statusmemo), same allow-list
        suites=memoized_suites(),
    )
    result = verify(document, resolver=Resolver(documents=ChainMap(*maps)), options=options)
    policy_checks: list[Check] = []
    for target, credential in credential_documents(result):
        policy_checks += policy.checks(credential, target)
    merged = VerificationResult.of(
        [*result.checks, *policy_checks],
        warnings=[*result.warnings, *warnings],
        kind=result.kind,
        document=result.document,
        credentials=result.credentials,
    )
    return with_format(merged, result_format(result))


def credential_documents(
    result: VerificationResult,
) -> list[tuple[str | None, Mapping[str, Any]]]:
    """(target, credential) for each credential a result read: those of a presentation, or
    the credential itself (for an SD-JWT VC, its view) — in the shape policies read."""
    if result.kind == "presentation":
        return [
            (f"verifiableCredential[{i}]", r.document)
            for i, r in enumerate(result.credentials)
            if r.document is not None
        ]
    return [(None, result.document)] if result.document is not None else []
