"""Verify credentials and presentations into a :class:`VerificationResult`.

Nothing here raises on bad input: every problem becomes a failed check with a stable code
and a Japanese/English message.  The clock is a parameter (``VerifyOptions.now``), and so
are the DID resolver, the accepted contexts and cryptosuites, and the status lists.

Order of checks for a credential: input → data model → contexts → proof(s) → validity
period → status.  A presentation adds its own data model, contexts, the holder's proof with
challenge and domain, holder binding and freshness, then each credential it carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from did.errors import FurusatoError
from did.jsonio import DEFAULT_LIMITS, Limits, load_json
from schemas.loader import (
    CREDENTIALS_V1,
    CREDENTIALS_V2,
    DATA_INTEGRITY_V2,
    FURUSATO_V1,
    StaticDocumentLoader,
)
from vc import dataintegrity
from vc.dataintegrity import ASSERTION_METHOD, AUTHENTICATION, VerificationMethodResolver
from vc.dates import parse_datetime
from vc.furusato import is_furusato, profile_problems
from vc.jsonld import require_allowed_contexts
from vc.model import (
    VC_TYPE,
    VP_TYPE,
    as_list,
    credential_problems,
    holder_id,
    is_enveloped,
    issuer_id,
    presentation_problems,
    subject_ids,
)
from vc.registry import Registry
from vc.result import Check, VerificationResult, failed, from_error, passed
from vc.statuslist import (
    LIST_CREDENTIAL_TYPE,
    MIN_ENTRIES,
    BitstringStatusList,
    StatusListDocument,
    parse_status_entries,
)
from vc.suites import ALL_SUITES, Cryptosuite

# Contexts a verifier accepts by default: the VCDM base contexts, Data Integrity (for VCDM
# 1.1 documents) and ours.  Not the undefined-terms context (it disables safe mode), not
# the examples context (test data only).
DEFAULT_ACCEPTED_CONTEXTS = frozenset(
    {CREDENTIALS_V2, CREDENTIALS_V1, DATA_INTEGRITY_V2, FURUSATO_V1}
)


class StatusListSource(Protocol):
    """Where the verifier gets status list credentials (a cache, a fetcher, a test dict)."""

    def get(self, url: str) -> StatusListDocument | None: ...


@dataclass(frozen=True)
class VerifyOptions:
    """Everything verification depends on besides the document."""

    now: datetime
    max_clock_skew: timedelta = timedelta(minutes=5)
    suites: Mapping[str, Cryptosuite] = field(default_factory=lambda: dict(ALL_SUITES))
    accepted_contexts: frozenset[str] = DEFAULT_ACCEPTED_CONTEXTS
    extra_contexts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    allow_v1: bool = True
    limits: Limits = DEFAULT_LIMITS
    # The VM controller must be the credential's issuer (as Digital Bazaar's vc library
    # checks).  Only test vectors whose issuer is not the key's controller turn this off.
    check_issuer_controller: bool = True
    status_lists: StatusListSource | None = None
    status_max_age: timedelta | None = None
    # The national registry (trust list): when given, every issuer must be a member, its
    # key valid at the proof's time and not revoked, and the lgCode the issuer's own.
    registry: Registry | None = None
    # Presentations
    challenge: str | None = None
    domain: str | None = None
    presentation_max_age: timedelta | None = None
    require_holder_binding: bool = False

    def loader(self) -> StaticDocumentLoader:
        if self.extra_contexts:
            return StaticDocumentLoader(self.extra_contexts, allowed=self.accepted_contexts)
        return _bundled_loader(self.accepted_contexts)


@cache
def _bundled_loader(accepted: frozenset[str]) -> StaticDocumentLoader:
    return StaticDocumentLoader(allowed=accepted)


# --- helpers ------------------------------------------------------------------------------


def _parse_input(document: object, limits: Limits) -> tuple[dict[str, Any] | None, Check | None]:
    """Bytes are JSON text to parse (within ``limits``); anything else must already be a JSON
    object.  A ``str`` is a JSON value, not text to parse again."""
    if isinstance(document, bytes | bytearray):
        try:
            document = load_json(bytes(document), limits)
        except FurusatoError as exc:
            return None, from_error("input", exc)
    if not isinstance(document, dict):
        return None, failed(
            "input", "malformed", "JSON オブジェクトではありません", "not a JSON object"
        )
    return dict(document), None


def _context_check(
    document: Mapping[str, Any], loader: StaticDocumentLoader, target: str | None
) -> Check:
    try:
        require_allowed_contexts(document, loader)
    except FurusatoError as exc:
        return from_error("contexts", exc, target=target)
    return passed("contexts", target=target)


def _proof_checks(
    document: Mapping[str, Any],
    *,
    check: str,
    purpose: str,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    loader: StaticDocumentLoader,
    expected_controller: str | None,
    controller_code: str,
    challenge: str | None = None,
    domain: str | None = None,
    target: str | None = None,
) -> tuple[list[Check], list[dataintegrity.VerifiedProof]]:
    try:
        proofs = dataintegrity.proofs_of(
            document, max_proofs=options.limits.max_proofs_per_document
        )
    except FurusatoError as exc:
        return [from_error(check, exc, target=target)], []
    if not proofs:
        return [failed(check, "proof_missing", target=target)], []
    checks: list[Check] = []
    verified: list[dataintegrity.VerifiedProof] = []
    for i, proof in enumerate(proofs):
        path = f"proof[{i}]" if isinstance(document.get("proof"), list) else "proof"
        try:
            result = dataintegrity.verify_proof(
                document,
                proof,
                resolver=resolver,
                expected_purpose=purpose,
                suites=options.suites,
                challenge=challenge,
                domain=domain,
                loader=loader,
            )
        except FurusatoError as exc:
            checks.append(from_error(check, exc, target=target))
            continue
        except Exception:
            checks.append(
                failed(
                    check,
                    "signature_invalid",
                    "検証中に予期しないエラー",
                    "unexpected error",
                    path=path,
                    target=target,
                )
            )
            continue
        if expected_controller is not None and result.controller != expected_controller:
            checks.append(
                failed(
                    check,
                    controller_code,
                    f"鍵の所有者 {result.controller[:80]} ≠ {expected_controller[:80]}",
                    f"key controller {result.controller[:80]} ≠ {expected_controller[:80]}",
                    path=f"{path}.verificationMethod",
                    target=target,
                )
            )
            continue
        if result.expires is not None and result.expires < options.now - options.max_clock_skew:
            checks.append(failed(check, "proof_expired", path=f"{path}.expires", target=target))
            continue
        verified.append(result)
        checks.append(
            passed(
                check,
                f"署名を確認しました ({result.proof.get('cryptosuite')})",
                f"signature verified ({result.proof.get('cryptosuite')})",
                path=path,
                target=target,
            )
        )
    return checks, verified


def _registry_member(
    credential: Mapping[str, Any], registry: Registry, target: str | None
) -> tuple[Check | None, Any]:
    """Before the signature: the issuer is a member and no proof names a revoked or unlisted
    key (a revoked key is out of the registry's DID documents, so say why plainly)."""
    issuer = issuer_id(credential) or ""
    entry = registry.entry_for_did(issuer)
    if entry is None:
        return failed(
            "registry", "issuer_unknown", issuer[:120], issuer[:120], path="issuer", target=target
        ), None
    for proof in as_list(credential.get("proof", [])):
        vm_id = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if not isinstance(vm_id, str):
            continue  # no proof, or a malformed one: the proof check says which
        key = entry.key(vm_id)
        if key is None:
            return failed(
                "registry",
                "issuer_unknown",
                f"鍵 {vm_id[:120]} は登録されていません",
                f"key {vm_id[:120]} is not listed",
                path="proof.verificationMethod",
                target=target,
            ), None
        if key.is_revoked:
            return failed(
                "registry",
                "key_revoked",
                vm_id[:120],
                vm_id[:120],
                path="proof.verificationMethod",
                target=target,
            ), None
    return None, entry


def _registry_check(
    credential: Mapping[str, Any],
    verified: list[dataintegrity.VerifiedProof],
    entry: Any,
    options: VerifyOptions,
    target: str | None,
) -> Check:
    """After the signature: the key was valid when it signed, and the town is the issuer's."""
    for proof in verified:
        key = entry.key(str(proof.proof.get("verificationMethod")))
        signed_at = proof.created or options.now
        if key is None or not key.valid_at(signed_at):
            return failed(
                "registry",
                "key_not_valid_at_time",
                signed_at.isoformat(),
                signed_at.isoformat(),
                path="proof.created",
                target=target,
            )
    for subject in as_list(credential.get("credentialSubject")):
        municipality = subject.get("municipality") if isinstance(subject, dict) else None
        if isinstance(municipality, dict) and municipality.get("lgCode") != entry.lg_code:
            claimed = str(municipality.get("lgCode"))[:12]
            return failed(
                "registry",
                "municipality_mismatch",
                f"発行者は {entry.lg_code} ({entry.name}) ですが、"
                f"証明書は {claimed} を名乗っています",
                f"the issuer is {entry.lg_code} but the credential claims {claimed}",
                path="credentialSubject.municipality.lgCode",
                target=target,
            )
    return passed(
        "registry",
        f"全国レジストリに登録された発行者です ({entry.name})",
        f"the issuer is in the national registry ({entry.name})",
        target=target,
    )


def _validity_check(
    credential: Mapping[str, Any], options: VerifyOptions, target: str | None
) -> Check:
    v1 = as_list(credential.get("@context"))[:1] == [CREDENTIALS_V1]
    start_key, end_key = ("issuanceDate", "expirationDate") if v1 else ("validFrom", "validUntil")
    try:
        start = (
            parse_datetime(credential[start_key], start_key, require_offset=not v1)
            if start_key in credential
            else None
        )
        end = (
            parse_datetime(credential[end_key], end_key, require_offset=not v1)
            if end_key in credential
            else None
        )
    except FurusatoError as exc:
        return from_error("validity", exc, target=target)
    now, skew = options.now, options.max_clock_skew
    if start is not None and start > now + skew:
        return failed(
            "validity",
            "not_yet_valid",
            credential[start_key],
            credential[start_key],
            path=start_key,
            target=target,
        )
    if end is not None and end < now - skew:
        return failed(
            "validity",
            "expired",
            credential[end_key],
            credential[end_key],
            path=end_key,
            target=target,
        )
    return passed("validity", "有効期間内です", "within the validity period", target=target)


def _status_checks(
    credential: Mapping[str, Any],
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    loader: StaticDocumentLoader,
    target: str | None,
) -> list[Check]:
    if "credentialStatus" not in credential:
        return []
    try:
        entries = parse_status_entries(credential)
    except FurusatoError as exc:
        return [from_error("status", exc, target=target)]
    if options.status_lists is None:
        # Fail closed: a credential that can be revoked is not "valid" when we cannot look.
        return [failed("status", "status_unknown", target=target)]
    checks = []
    for entry in entries:
        document = options.status_lists.get(entry.list_url)
        if document is None:
            checks.append(
                failed(
                    "status",
                    "status_unknown",
                    entry.list_url[:120],
                    entry.list_url[:120],
                    target=target,
                )
            )
            continue
        problem = _status_list_problem(
            credential,
            document,
            entry.list_url,
            entry.purpose,
            resolver=resolver,
            options=options,
            loader=loader,
        )
        if problem is not None:
            checks.append(replace(problem, target=target))
            continue
        status_list = BitstringStatusList.decode(
            document.credential["credentialSubject"]["encodedList"]
        )
        if (entry.index + 1) * entry.size > status_list.length:
            checks.append(
                failed(
                    "status", "status_invalid", "番号が範囲外", "index out of range", target=target
                )
            )
            continue
        value = status_list.get_status(entry.index, entry.size)
        if value and entry.purpose in ("revocation", "suspension"):
            code = "revoked" if entry.purpose == "revocation" else "suspended"
            checks.append(failed("status", code, target=target))
        else:
            checks.append(
                passed(
                    "status",
                    *_STATUS_OK.get(
                        entry.purpose, (f"{entry.purpose}: {value}", f"{entry.purpose}: {value}")
                    ),
                    target=target,
                )
            )
    return checks


_STATUS_OK = {
    "revocation": ("失効していません", "not revoked"),
    "suspension": ("停止されていません", "not suspended"),
}


def _status_list_problem(
    credential: Mapping[str, Any],
    document: StatusListDocument,
    url: str,
    purpose: str,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    loader: StaticDocumentLoader,
) -> Check | None:
    """Why a status list credential cannot be relied on, or None."""
    status_credential = document.credential
    if status_credential.get("id") not in (None, url) or LIST_CREDENTIAL_TYPE not in as_list(
        status_credential.get("type")
    ):
        return failed(
            "status",
            "status_invalid",
            "ステータスリストではありません",
            "not a BitstringStatusListCredential",
        )
    result = verify_credential(
        status_credential, resolver=resolver, options=replace(options, status_lists=None)
    )
    if not result.verified:
        first = result.errors[0]
        if first.code == "expired":
            return failed(
                "status",
                "status_stale",
                "ステータスリストの有効期限切れ",
                "the status list credential has expired",
            )
        return failed("status", "status_invalid", first.message_ja, first.message_en)
    if issuer_id(status_credential) != issuer_id(credential):
        return failed("status", "status_invalid", "発行者が異なります", "issued by someone else")
    subject = status_credential.get("credentialSubject")
    if not isinstance(subject, dict) or purpose not in as_list(subject.get("statusPurpose")):
        return failed(
            "status",
            "status_invalid",
            f"目的 {purpose} のリストではありません",
            f"the list is not for {purpose}",
        )
    try:
        status_list = BitstringStatusList.decode(subject.get("encodedList"))
    except FurusatoError as exc:
        return from_error("status", exc)
    if status_list.length < MIN_ENTRIES:
        return failed(
            "status",
            "status_invalid",
            f"エントリ数が {MIN_ENTRIES} 未満",
            f"fewer than {MIN_ENTRIES} entries",
        )
    if (
        options.status_max_age is not None
        and document.retrieved_at is not None
        and options.now - document.retrieved_at > options.status_max_age
    ):
        age = options.now - document.retrieved_at
        return failed(
            "status",
            "status_stale",
            f"取得から {_human_ja(age)}",
            f"retrieved {_human_en(age)} ago",
        )
    return None


def _human_ja(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}日{hours % 24}時間" if hours >= 24 else f"{hours}時間"


def _human_en(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


# --- credentials ----------------------------------------------------------------------------


def verify_credential(
    document: Mapping[str, Any] | bytes,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    target: str | None = None,
) -> VerificationResult:
    """Verify a credential secured with Data Integrity."""
    parsed, problem = _parse_input(document, options.limits)
    if parsed is None:
        return VerificationResult.of([problem] if problem else [], kind="credential")
    credential = parsed
    checks: list[Check] = []
    problems = credential_problems(credential, allow_v1=options.allow_v1)
    if problems:
        checks.extend(from_error("data_model", p, target=target) for p in problems)
        return VerificationResult.of(checks, kind="credential", document=credential)
    checks.append(
        passed("data_model", "VCDM に適合しています", "conforms to the VCDM", target=target)
    )
    profile = profile_problems(credential)
    if profile:
        checks.extend(from_error("profile", p, target=target) for p in profile)
        return VerificationResult.of(checks, kind="credential", document=credential)
    if is_furusato(credential):
        checks.append(
            passed(
                "profile",
                "ふるさと証明書の形式に適合しています",
                "conforms to the furusato profile",
                target=target,
            )
        )
    loader = options.loader()
    context_check = _context_check(credential, loader, target)
    checks.append(context_check)
    if not context_check.ok:
        return VerificationResult.of(checks, kind="credential", document=credential)
    entry = None
    if options.registry is not None:
        member, entry = _registry_member(credential, options.registry, target)
        if member is not None:
            checks.append(member)
            return VerificationResult.of(checks, kind="credential", document=credential)
    proof_checks, verified = _proof_checks(
        credential,
        check="proof",
        purpose=ASSERTION_METHOD,
        resolver=resolver,
        options=options,
        loader=loader,
        expected_controller=issuer_id(credential) if options.check_issuer_controller else None,
        controller_code="issuer_mismatch",
        target=target,
    )
    checks.extend(proof_checks)
    if not all(c.ok for c in proof_checks):
        return VerificationResult.of(checks, kind="credential", document=credential)
    if entry is not None:
        trust = _registry_check(credential, verified, entry, options, target)
        checks.append(trust)
        if not trust.ok:
            return VerificationResult.of(checks, kind="credential", document=credential)
    checks.append(_validity_check(credential, options, target))
    checks.extend(
        _status_checks(credential, resolver=resolver, options=options, loader=loader, target=target)
    )
    return VerificationResult.of(checks, kind="credential", document=credential)


# --- presentations --------------------------------------------------------------------------


def verify_presentation(
    document: Mapping[str, Any] | bytes,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
) -> VerificationResult:
    """Verify a presentation signed by its holder, and every credential it carries."""
    parsed, problem = _parse_input(document, options.limits)
    if parsed is None:
        return VerificationResult.of([problem] if problem else [], kind="presentation")
    presentation = parsed
    checks: list[Check] = []
    warnings: list[Check] = []
    problems = presentation_problems(
        presentation,
        allow_v1=options.allow_v1,
        max_credentials=options.limits.max_credentials_per_presentation,
    )
    if problems:
        checks.extend(from_error("data_model", p) for p in problems)
        return VerificationResult.of(checks, kind="presentation", document=presentation)
    checks.append(passed("data_model", "VCDM に適合しています", "conforms to the VCDM"))
    loader = options.loader()
    # The credentials carry their own @context; each is checked when it is verified.
    envelope = {k: v for k, v in presentation.items() if k != "verifiableCredential"}
    context_check = _context_check(envelope, loader, None)
    checks.append(context_check)
    if not context_check.ok:
        return VerificationResult.of(checks, kind="presentation", document=presentation)

    holder = holder_id(presentation)
    proof_checks, verified = _proof_checks(
        presentation,
        check="holder_proof",
        purpose=AUTHENTICATION,
        resolver=resolver,
        options=options,
        loader=loader,
        expected_controller=holder,
        controller_code="holder_binding_failed",
        challenge=options.challenge,
        domain=options.domain,
    )
    checks.extend(proof_checks)
    if options.challenge is None and verified:
        warnings.append(failed("challenge", "challenge_not_checked"))
    if verified and options.presentation_max_age is not None:
        checks.append(_freshness_check(verified, options))

    credential_results = []
    for i, credential in enumerate(as_list(presentation.get("verifiableCredential", []))):
        target = f"verifiableCredential[{i}]"
        if is_enveloped(credential):
            credential_results.append(
                VerificationResult.of(
                    [
                        failed(
                            "credential",
                            "unsupported_format",
                            "封筒型の証明書には未対応",
                            "enveloped credentials are not supported",
                            target=target,
                        )
                    ],
                    kind="credential",
                )
            )
            continue
        result = verify_credential(credential, resolver=resolver, options=options, target=target)
        credential_results.append(result)
        self_asserted = _self_assertion_check(credential, holder, verified, target)
        if self_asserted is not None:
            checks.append(self_asserted)
        # Binding is decided only by a holder proof that verified; when none did, the
        # holder_proof check has already said why (a wrong challenge is not a stolen
        # credential), and the presentation fails all the same.
        if options.require_holder_binding and verified:
            checks.append(_binding_check(credential, holder, verified, target))
    return VerificationResult.of(
        checks,
        warnings=warnings,
        kind="presentation",
        document=presentation,
        credentials=credential_results,
    )


def _freshness_check(verified: list[dataintegrity.VerifiedProof], options: VerifyOptions) -> Check:
    assert options.presentation_max_age is not None
    created = verified[0].created
    if created is None:
        return failed("freshness", "presentation_stale", "作成時刻がありません", "no created time")
    window = options.presentation_max_age
    if abs(options.now - created) > window:
        return failed(
            "freshness",
            "presentation_stale",
            f"作成 {created.isoformat()}、許容 ±{int(window.total_seconds())} 秒",
            f"created {created.isoformat()}, allowed ±{int(window.total_seconds())} s",
        )
    return passed("freshness", "新しい提示です", "freshly created")


def _self_assertion_check(
    credential: Any,
    holder: str | None,
    verified: list[dataintegrity.VerifiedProof],
    target: str,
) -> Check | None:
    """VCDM 2.0 §4.12.4: a credential issued by the presentation's own signer ("self-asserted")
    needs a ``holder``, identical to its issuer."""
    if not isinstance(credential, dict):
        return None
    issuer = issuer_id(credential)
    signers = {v.controller for v in verified}
    if issuer is None or issuer not in signers:
        return None
    if holder == issuer:
        return passed(
            "holder_binding",
            "自己発行の証明書を本人が提示しています",
            "a self-asserted credential presented by its issuer",
            target=target,
        )
    return failed(
        "holder_binding",
        "holder_binding_failed",
        "自己発行の証明書には発行者と同じ holder が必要です",
        "a self-asserted credential needs a holder identical to its issuer",
        target=target,
    )


def _binding_check(
    credential: Any,
    holder: str | None,
    verified: list[dataintegrity.VerifiedProof],
    target: str,
) -> Check:
    subjects = subject_ids(credential) if isinstance(credential, dict) else []
    signers = {v.controller for v in verified}
    if holder is not None and holder in subjects and holder in signers:
        return passed(
            "holder_binding",
            "提示者は証明書の本人です",
            "the presenter is the credential's subject",
            target=target,
        )
    return failed("holder_binding", "holder_binding_failed", target=target)


def verify(
    document: Mapping[str, Any] | bytes,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
) -> VerificationResult:
    """Verify a credential or a presentation, whichever ``document`` is."""
    parsed, problem = _parse_input(document, options.limits)
    if parsed is None:
        return VerificationResult.of([problem] if problem else [])
    types = as_list(parsed.get("type"))
    if VP_TYPE in types:
        return verify_presentation(parsed, resolver=resolver, options=options)
    if VC_TYPE in types:
        return verify_credential(parsed, resolver=resolver, options=options)
    return VerificationResult.of(
        [
            failed(
                "input",
                "unsupported_format",
                "証明書でも提示でもありません",
                "neither a credential nor a presentation",
                path="type",
            )
        ]
    )
