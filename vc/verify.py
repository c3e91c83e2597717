"""Verify credentials and presentations into a :class:`VerificationResult`.

Nothing here raises on bad input: every problem becomes a failed check with a stable code
and a Japanese/English message.  The clock is a parameter (``VerifyOptions.now``), and so
are the DID resolver, the accepted contexts and cryptosuites, and the status lists.

Order of checks for a credential: input → data model → contexts → proof(s) → validity
period → status.  A presentation adds its own data model, contexts, the holder's proof with
challenge and domain, holder binding and freshness, then each credential it carries.

Three formats (docs/formats.md), one result: :func:`verify` takes a Data Integrity document
(``ldp_vc``), a VC-JOSE ``vc+jwt`` / ``vp+jwt`` (``jwt_vc_json``) or an SD-JWT VC with or
without KB-JWT (``dc+sd-jwt``) — as compact text, or as the JSON
``EnvelopedVerifiableCredential`` / ``EnvelopedVerifiablePresentation`` holding it in a data:
URL (:func:`vc.formats.unenvelope`) — and returns the same :class:`VerificationResult` with
the same check names and codes wherever the meaning is the same, plus the format's own codes
(``sd_jwt_*``, ``jose_alg_not_allowed``).  The result says which format it was
(``VerificationResult.format``, ``"format"`` in ``to_json()``).  For the JOSE and SD-JWT formats:

* the issuer's key is the ``kid`` of the JWS header (a DID URL), found with the same
  ``resolver`` as for Data Integrity; with a registry, the issuer and ``kid`` must be listed and
  the key not revoked *before* any signature is checked (``issuer_unknown``, ``key_revoked``),
  and the key valid at the signing time *after*: ``iat`` when the token has one, else the
  credential's ``validFrom`` (an SD-JWT's ``nbf``), else now (``key_not_valid_at_time``);
* then the same registry (lgCode), validity, status and profile checks run on the credential —
  for a ``vc+jwt`` its payload without the JWT claims, for an SD-JWT VC the VCDM-shaped view
  :func:`vc.formats.sd_jwt_view` (``result.document``);
* a ``vp+jwt`` is bound by ``nonce`` (= ``challenge``), ``aud`` (= ``domain``) and ``iat``
  (within ``presentation_max_age``, default 5 minutes), and each enveloped ``vc+jwt`` is
  verified as above with its subject the presentation's holder;
* an SD-JWT VC needs Key Binding when ``require_holder_binding`` or a ``challenge`` is set —
  by policy, never by the presence of a KB-JWT: KB-JWT ``nonce`` = ``challenge``, ``aud`` =
  ``domain``, ``iat`` within ``presentation_max_age``.  A KB-JWT signed by another key than
  ``cnf.jwk`` is ``holder_binding_failed``; an ``iat`` outside the window
  ``presentation_stale``; a missing KB-JWT ``sd_jwt_key_binding_missing``.
* Without a ``challenge`` (or ``domain``) the presentation's own nonce (audience) is taken as
  given and the ``challenge_not_checked`` warning says so, as for Data Integrity.

With ``require_holder_binding``, a credential on its own (no presentation, no KB-JWT) fails
``holder_binding`` in every format: nobody has shown they hold it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Protocol

from did.document import public_key_from_verification_method
from did.errors import CryptographicSecurityError, FurusatoError, MalformedValueError
from did.jsonio import DEFAULT_LIMITS, Limits, load_json
from did.keys import PublicKey
from schemas.loader import (
    CREDENTIALS_V1,
    CREDENTIALS_V2,
    DATA_INTEGRITY_V2,
    FURUSATO_V1,
    StaticDocumentLoader,
)
from vc import dataintegrity, formats
from vc.dataintegrity import ASSERTION_METHOD, AUTHENTICATION, VerificationMethodResolver
from vc.dates import parse_datetime
from vc.formats import DC_SD_JWT, ENVELOPED_VP_TYPE, JWT_VC_JSON, LDP_VC
from vc.furusato import is_furusato, profile_problems
from vc.jsonld import require_allowed_contexts
from vc.model import (
    ENVELOPED_VC_TYPE,
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
from vc.result import CODES, Check, VerificationResult, failed, from_error, passed
from vc.statuslist import (
    LIST_CREDENTIAL_TYPE,
    MIN_ENTRIES,
    BitstringStatusList,
    StatusListDocument,
    parse_status_entries,
)
from vc.suites import ALL_SUITES, Cryptosuite

if TYPE_CHECKING:  # the JOSE formats' modules (and jwcrypto) load only when one is verified
    from vc import sdjwt

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


def with_format(result: VerificationResult, fmt: str | None) -> VerificationResult:
    """``result`` naming ``fmt`` as its format."""
    return replace(result, format=fmt)


def result_format(result: VerificationResult) -> str | None:
    """The format a result names (None for one that names none)."""
    return result.format


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
    vm_ids = [
        proof["verificationMethod"]
        for proof in as_list(credential.get("proof", []))
        # no proof, or a malformed one: the proof check says which
        if isinstance(proof, dict) and isinstance(proof.get("verificationMethod"), str)
    ]
    return _registry_member_of(
        issuer_id(credential) or "",
        vm_ids,
        registry,
        target,
        issuer_path="issuer",
        key_path="proof.verificationMethod",
    )


def _registry_member_of(
    issuer: str,
    vm_ids: Sequence[str],
    registry: Registry,
    target: str | None,
    *,
    issuer_path: str,
    key_path: str,
) -> tuple[Check | None, Any]:
    entry = registry.entry_for_did(issuer)
    if entry is None:
        return failed(
            "registry",
            "issuer_unknown",
            issuer[:120],
            issuer[:120],
            path=issuer_path,
            target=target,
        ), None
    for vm_id in vm_ids:
        key = entry.key(vm_id)
        if key is None:
            return failed(
                "registry",
                "issuer_unknown",
                f"鍵 {vm_id[:120]} は登録されていません",
                f"key {vm_id[:120]} is not listed",
                path=key_path,
                target=target,
            ), None
        if key.is_revoked:
            return failed(
                "registry", "key_revoked", vm_id[:120], vm_id[:120], path=key_path, target=target
            ), None
    return None, entry


Signing = tuple[str, datetime, str]
"""(verification method, when it signed, where that time comes from) — for the registry."""


def _registry_check(
    credential: Mapping[str, Any],
    signings: Sequence[Signing],
    entry: Any,
    options: VerifyOptions,
    target: str | None,
) -> Check:
    """After the signature: the key was valid when it signed, and the town is the issuer's."""
    for vm_id, signed_at, path in signings:
        key = entry.key(vm_id)
        if key is None or not key.valid_at(signed_at):
            return failed(
                "registry",
                "key_not_valid_at_time",
                signed_at.isoformat(),
                signed_at.isoformat(),
                path=path,
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


def _model_checks(
    credential: Mapping[str, Any],
    *,
    allow_v1: bool,
    loader: StaticDocumentLoader,
    target: str | None,
) -> list[Check]:
    """Data model, furusato profile, contexts — stopping at the first that fails."""
    problems = credential_problems(credential, allow_v1=allow_v1)
    if problems:
        return [from_error("data_model", p, target=target) for p in problems]
    checks = [passed("data_model", "VCDM に適合しています", "conforms to the VCDM", target=target)]
    profile = profile_problems(credential)
    if profile:
        return checks + [from_error("profile", p, target=target) for p in profile]
    if is_furusato(credential):
        checks.append(
            passed(
                "profile",
                "ふるさと証明書の形式に適合しています",
                "conforms to the furusato profile",
                target=target,
            )
        )
    checks.append(_context_check(credential, loader, target))
    return checks


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
    loader = options.loader()
    checks = _model_checks(credential, allow_v1=options.allow_v1, loader=loader, target=target)
    if not all(c.ok for c in checks):
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
    signings = [
        (str(p.proof.get("verificationMethod")), p.created or options.now, "proof.created")
        for p in verified
    ]
    checks += _claim_checks(
        credential,
        entry=entry,
        signings=signings,
        resolver=resolver,
        options=options,
        loader=loader,
        target=target,
    )
    return VerificationResult.of(checks, kind="credential", document=credential)


def _claim_checks(
    credential: Mapping[str, Any],
    *,
    entry: Any,
    signings: Sequence[Signing],
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    loader: StaticDocumentLoader,
    target: str | None,
) -> list[Check]:
    """After the issuer's signature, in every format: registry (key at the signing time,
    lgCode), validity period, status."""
    checks: list[Check] = []
    if entry is not None:
        trust = _registry_check(credential, signings, entry, options, target)
        checks.append(trust)
        if not trust.ok:
            return checks
    checks.append(_validity_check(credential, options, target))
    checks.extend(
        _status_checks(credential, resolver=resolver, options=options, loader=loader, target=target)
    )
    return checks


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


# --- VC-JOSE and SD-JWT VC --------------------------------------------------------------------

DEFAULT_PRESENTATION_MAX_AGE: Final = timedelta(minutes=5)
"""How old a ``vp+jwt`` or KB-JWT may be when ``presentation_max_age`` is not given."""

# JWT claims beside the credential in a vc+jwt payload (vc.jose checked them against the
# credential): the data model and the profile are checked without them.
_JWT_CLAIMS: Final = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf", "nonce")
_UNCHECKED: Final = "-"  # stands for "no value claimed"; never equal to a real nonce check

# Which check an error of vc.jose / vc.sdjwt belongs to (same names as for Data Integrity).
_CHECK_OF_CODE: Final[Mapping[str, str]] = {
    "signature_invalid": "proof",
    "jose_alg_not_allowed": "proof",
    "sd_jwt_alg_not_allowed": "proof",
    "verification_method_unresolved": "proof",
    "issuer_mismatch": "proof",
    "invalid_did": "proof",
    "invalid_key": "proof",
    "expired": "validity",
    "not_yet_valid": "validity",
    "issuer_unknown": "registry",
    "key_revoked": "registry",
    "challenge_mismatch": "holder_proof",
    "domain_mismatch": "holder_proof",
    "sd_jwt_key_binding_invalid": "holder_proof",
    "holder_binding_failed": "holder_binding",
    "sd_jwt_key_binding_missing": "holder_binding",
    "presentation_stale": "freshness",
}


def _format_error(exc: FurusatoError, target: str | None) -> Check:
    """A failed check from an error of vc.jose or vc.sdjwt.

    A KB-JWT that the key of ``cnf.jwk`` did not sign is ``holder_binding_failed``, and one
    whose ``iat`` is missing or outside the window ``presentation_stale`` — what the same
    situation is called for a Data Integrity presentation; the message keeps the detail.
    """
    code = exc.code if exc.code in CODES else "malformed"
    if code == "sd_jwt_key_binding_invalid" and exc.path in ("kb.signature", "kb.iat"):
        code = "holder_binding_failed" if exc.path == "kb.signature" else "presentation_stale"
        ja, en = CODES[code]
        return Check(
            _CHECK_OF_CODE[code],
            False,
            code,
            f"{ja}: {exc.message_ja}",
            f"{en}: {exc.message_en}",
            path=exc.path,
            target=target,
        )
    return from_error(_CHECK_OF_CODE.get(code, "input"), exc, target=target)


def _unexpected(check: str, target: str | None) -> Check:
    return failed(
        check, "signature_invalid", "検証中に予期しないエラー", "unexpected error", target=target
    )


def _key_for(resolver: VerificationMethodResolver, relationship: str) -> Callable[[str], PublicKey]:
    """``kid`` → the public key of that verification method, as Data Integrity finds it: from
    the DID document (the registry's, for a municipality) under ``relationship``, controlled by
    the DID of ``kid``."""

    def key_for(kid: str) -> PublicKey:
        method = resolver.dereference(kid, relationship)
        if method.get("controller") != kid.partition("#")[0]:
            raise CryptographicSecurityError(
                "the verification method is not controlled by the DID of kid",
                "検証メソッドの controller が kid の DID ではありません",
                path="header.kid",
                code="issuer_mismatch",
            )
        return public_key_from_verification_method(method)

    return key_for


def _sd_jwt_issuer_key(resolver: VerificationMethodResolver) -> sdjwt.IssuerKeyResolver:
    key_for = _key_for(resolver, ASSERTION_METHOD)

    def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid.startswith("did:") or "#" not in kid:
            raise MalformedValueError(
                "header.kid: is required and must be a DID URL (did:…#…)",
                "header.kid: 必須で、DID URL (did:…#…) でなければなりません",
                path="header.kid",
            )
        if payload.get("iss") != kid.partition("#")[0]:
            raise CryptographicSecurityError(
                "iss: must be the DID of the signing key (kid)",
                "iss: 署名鍵 (kid) の DID でなければなりません",
                path="iss",
                code="issuer_mismatch",
            )
        return key_for(kid)

    return issuer_key


def _registry_member_by_kid(
    kid: object, options: VerifyOptions, target: str | None
) -> tuple[Check | None, Any]:
    """The registry check before the signature, from the ``kid`` of a JWS header (not yet
    verified — as the proof's verificationMethod is, for Data Integrity)."""
    if options.registry is None or not isinstance(kid, str):
        return None, None
    return _registry_member_of(
        kid.partition("#")[0],
        [kid],
        options.registry,
        target,
        issuer_path="header.kid",
        key_path="header.kid",
    )


def _signing_time(
    options: VerifyOptions, iat: datetime | None, start: object, names: tuple[str, str]
) -> tuple[datetime, str]:
    """When a JWS was signed, for the registry: ``iat``, else the start of validity, else now."""
    if iat is not None:
        return iat, names[0]
    if isinstance(start, str):
        try:
            return parse_datetime(start, names[1]), names[1]
        except FurusatoError:
            pass
    return options.now, "now"


def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _claimed_text(value: object) -> str:
    """A nonce or audience the presentation claims (first of a list); ``_UNCHECKED`` if none."""
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) and value else _UNCHECKED


def verify_vc_jwt_credential(
    token: str,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    target: str | None = None,
) -> VerificationResult:
    """Verify a VC-JOSE ``vc+jwt``: the JWS (:func:`vc.jose.verify_vc_jwt`), then what a Data
    Integrity credential gets (registry, data model, profile, contexts, validity, status)."""
    from vc import jose

    def done(checks: list[Check], document: Mapping[str, Any] | None = None) -> VerificationResult:
        result = VerificationResult.of(checks, kind="credential", document=document)
        return with_format(result, JWT_VC_JSON)

    peek = formats.unverified_jws(token)
    member, entry = _registry_member_by_kid(peek[0].get("kid") if peek else None, options, target)
    if member is not None:
        return done([member])
    try:
        verified = jose.verify_vc_jwt(
            token,
            key_for=_key_for(resolver, ASSERTION_METHOD),
            now=options.now,
            max_clock_skew=options.max_clock_skew,
        )
    except FurusatoError as exc:
        return done([_format_error(exc, target)])
    except Exception:
        return done([_unexpected("proof", target)])
    if options.registry is not None and entry is None:
        member, entry = _registry_member_by_kid(verified.kid, options, target)
        if member is not None:
            return done([member])
    credential = verified.credential
    alg = verified.header.get("alg")
    checks = [
        passed(
            "proof",
            f"署名を確認しました (vc+jwt, {alg})",
            f"signature verified (vc+jwt, {alg})",
            target=target,
        )
    ]
    loader = options.loader()
    bare = {k: v for k, v in credential.items() if k not in _JWT_CLAIMS}
    checks += _model_checks(bare, allow_v1=False, loader=loader, target=target)
    if not all(c.ok for c in checks):
        return done(checks, credential)
    signed_at, path = _signing_time(
        options, verified.issued_at, credential.get("validFrom"), ("payload.iat", "validFrom")
    )
    checks += _claim_checks(
        credential,
        entry=entry,
        signings=[(verified.kid, signed_at, path)],
        resolver=resolver,
        options=options,
        loader=loader,
        target=target,
    )
    return done(checks, credential)


def _verify_vp_jwt(
    token: str, *, resolver: VerificationMethodResolver, options: VerifyOptions
) -> VerificationResult:
    """A ``vp+jwt``: the holder's JWS bound to challenge, domain and time, then each
    enveloped ``vc+jwt`` with its subject the holder."""
    from vc import jose

    def done(
        checks: list[Check],
        warnings: Sequence[Check] = (),
        document: Mapping[str, Any] | None = None,
        credentials: Sequence[VerificationResult] = (),
    ) -> VerificationResult:
        result = VerificationResult.of(
            checks,
            warnings=warnings,
            kind="presentation",
            document=document,
            credentials=credentials,
        )
        return with_format(result, JWT_VC_JSON)

    peek = formats.unverified_jws(token)
    claimed = peek[1] if peek else {}
    nonce = options.challenge if options.challenge else _claimed_text(claimed.get("nonce"))
    audience = options.domain if options.domain else _claimed_text(claimed.get("aud"))
    try:
        vp = jose.verify_vp_jwt(
            token,
            key_for=_key_for(resolver, AUTHENTICATION),
            nonce=nonce,
            audience=audience,
            now=options.now,
            max_age=options.presentation_max_age or DEFAULT_PRESENTATION_MAX_AGE,
            max_clock_skew=options.max_clock_skew,
            max_credentials=options.limits.max_credentials_per_presentation,
        )
    except FurusatoError as exc:
        return done([_format_error(exc, None)])
    except Exception:
        return done([_unexpected("holder_proof", None)])
    warnings = [] if options.challenge else [failed("challenge", "challenge_not_checked")]
    presentation = vp.presentation
    problems = presentation_problems(
        {k: v for k, v in presentation.items() if k not in _JWT_CLAIMS},
        allow_v1=False,
        max_credentials=options.limits.max_credentials_per_presentation,
    )
    if problems:
        return done([from_error("data_model", p) for p in problems], warnings, presentation)
    checks = [passed("data_model", "VCDM に適合しています", "conforms to the VCDM")]
    envelope = {k: v for k, v in presentation.items() if k != "verifiableCredential"}
    checks.append(_context_check(envelope, options.loader(), None))
    if not checks[-1].ok:
        return done(checks, warnings, presentation)
    alg = vp.header.get("alg")
    checks.append(
        passed(
            "holder_proof",
            f"提示者の署名を確認しました (vp+jwt, {alg})",
            f"the presenter's signature verified (vp+jwt, {alg})",
        )
    )
    if options.presentation_max_age is not None:
        checks.append(passed("freshness", "新しい提示です", "freshly created"))
    results = []
    for i, jws in enumerate(vp.unverified_credentials):
        target = f"verifiableCredential[{i}]"
        result = verify_vc_jwt_credential(jws, resolver=resolver, options=options, target=target)
        results.append(result)
        # Bound by the holder's own signature (vp.holder is the DID of its kid); decided only
        # on a credential whose issuer signature verified (else its own result says why).
        if options.require_holder_binding and result.document is not None:
            subjects = subject_ids(result.document)
            if vp.holder in subjects:
                checks.append(
                    passed(
                        "holder_binding",
                        "提示者は証明書の本人です",
                        "the presenter is the credential's subject",
                        target=target,
                    )
                )
            else:
                checks.append(failed("holder_binding", "holder_binding_failed", target=target))
    return done(checks, warnings, presentation, results)


def verify_sd_jwt_credential(
    text: str,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
    target: str | None = None,
) -> VerificationResult:
    """Verify an SD-JWT VC (with its KB-JWT when the policy requires one), then the checks of
    a Data Integrity credential on its view (:func:`vc.formats.sd_jwt_view`)."""
    from vc import sdjwt

    warnings: list[Check] = []

    def done(checks: list[Check], document: Mapping[str, Any] | None = None) -> VerificationResult:
        result = VerificationResult.of(
            checks, warnings=warnings, kind="credential", document=document
        )
        return with_format(result, DC_SD_JWT)

    try:
        parsed = sdjwt.parse(text)
    except FurusatoError as exc:
        return done([_format_error(exc, target)])
    member, entry = _registry_member_by_kid(
        parsed.issuer_jwt.unverified_header.get("kid"), options, target
    )
    if member is not None:
        return done([member])
    policy = None
    # By policy, never by presence (RFC 9901 §7.3): a KB-JWT nobody asked for is ignored.
    if options.require_holder_binding or options.challenge is not None:
        claimed = parsed.kb_jwt.unverified_payload if parsed.kb_jwt is not None else {}
        try:
            policy = sdjwt.KeyBindingPolicy(
                nonce=options.challenge or _claimed_text(claimed.get("nonce")),
                audience=options.domain or _claimed_text(claimed.get("aud")),
                max_age=options.presentation_max_age or DEFAULT_PRESENTATION_MAX_AGE,
            )
        except FurusatoError as exc:
            return done([_format_error(exc, target)])
    try:
        verified = sdjwt.verify_sd_jwt(
            text,
            issuer_key=_sd_jwt_issuer_key(resolver),
            now=options.now,
            skew=options.max_clock_skew,
            key_binding=policy,
        )
    except FurusatoError as exc:
        return done([_format_error(exc, target)])
    except Exception:
        return done([_unexpected("proof", target)])
    kid = str(verified.header.get("kid"))
    if options.registry is not None and entry is None:
        member, entry = _registry_member_by_kid(kid, options, target)
        if member is not None:
            return done([member])
    claims = verified.processed_claims
    view = formats.sd_jwt_view(claims)
    typ, alg = verified.header.get("typ"), verified.header.get("alg")
    checks = [
        passed(
            "proof",
            f"署名を確認しました ({typ}, {alg})",
            f"signature verified ({typ}, {alg})",
            target=target,
        )
    ]
    if verified.key_bound:
        if not options.challenge:
            warnings.append(failed("challenge", "challenge_not_checked", target=target))
        checks.append(
            passed(
                "holder_proof",
                "保持者の鍵による証明 (KB-JWT) を確認しました",
                "the key binding JWT verified",
                target=target,
            )
        )
        checks.append(
            passed(
                "holder_binding",
                "提示者は証明書の本人です (cnf の鍵)",
                "the presenter holds the credential's key (cnf)",
                target=target,
            )
        )
        if options.presentation_max_age is not None:
            checks.append(passed("freshness", "新しい提示です", "freshly created", target=target))
    profile = formats.sd_jwt_profile_problems(claims)
    if profile:
        return done(checks + [from_error("profile", p, target=target) for p in profile], view)
    if formats.is_furusato_vct(claims):
        checks.append(
            passed(
                "profile",
                "ふるさと証明書の形式に適合しています",
                "conforms to the furusato profile",
                target=target,
            )
        )
    if "status" in claims and "credentialStatus" not in view:
        # Fail closed: a status we cannot read (e.g. only a Token Status List) is not "valid".
        checks.append(
            failed(
                "status",
                "status_unknown",
                "status に bitstring_status_list がありません",
                "the status claim has no bitstring_status_list",
                path="status",
                target=target,
            )
        )
    signed_at, path = _signing_time(
        options, _epoch(claims.get("iat")), view.get("validFrom"), ("iat", "nbf")
    )
    checks += _claim_checks(
        view,
        entry=entry,
        signings=[(kid, signed_at, path)],
        resolver=resolver,
        options=options,
        loader=options.loader(),
        target=target,
    )
    return done(checks, view)


# --- any of the three -----------------------------------------------------------------------


def _holder_needed(result: VerificationResult, options: VerifyOptions) -> VerificationResult:
    """With ``require_holder_binding``, a credential on its own shows nobody holds it."""
    if not options.require_holder_binding:
        return result
    check = failed(
        "holder_binding",
        "holder_binding_failed",
        "証明書だけでは提示者が本人か確認できません (提示が必要です)",
        "a credential alone does not show who presents it (a presentation is needed)",
    )
    merged = VerificationResult.of(
        [*result.checks, check],
        warnings=result.warnings,
        kind=result.kind,
        document=result.document,
        credentials=result.credentials,
    )
    return with_format(merged, result_format(result))


def _compact_of_bytes(data: bytes) -> str | None:
    if len(data) > formats.MAX_COMPACT_CHARS:
        return None
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text if formats.compact_kind(text) is not None else None


def verify_compact(
    text: str, *, resolver: VerificationMethodResolver, options: VerifyOptions
) -> VerificationResult:
    """Verify a ``vc+jwt``, a ``vp+jwt`` or an SD-JWT VC (with or without KB-JWT) given as
    compact text, whichever it is."""
    if not isinstance(text, str):
        return VerificationResult.of(
            [failed("input", "malformed", "テキストではありません", "not text")]
        )
    if len(text) > formats.MAX_COMPACT_CHARS:
        return VerificationResult.of([failed("input", "limit_exceeded")])
    text = text.strip()
    kind = formats.compact_kind(text)
    try:
        if kind == "vc+jwt":
            result = verify_vc_jwt_credential(text, resolver=resolver, options=options)
            return _holder_needed(result, options)
        if kind == "vp+jwt":
            return _verify_vp_jwt(text, resolver=resolver, options=options)
        if kind == "sd-jwt":
            return verify_sd_jwt_credential(text, resolver=resolver, options=options)
    except Exception:  # never raise on bad input (STYLE.md 4); the check says it was unexpected
        return VerificationResult.of([_unexpected("input", None)])
    return VerificationResult.of(
        [
            failed(
                "input",
                "unsupported_format",
                "vc+jwt・vp+jwt・SD-JWT VC のいずれでもありません",
                "not a vc+jwt, a vp+jwt or an SD-JWT VC",
            )
        ]
    )


_KIND_OF_MEDIA_TYPE: Final = {
    formats.VC_JWT_MEDIA_TYPE: "vc+jwt",
    formats.VP_JWT_MEDIA_TYPE: "vp+jwt",
    formats.SD_JWT_MEDIA_TYPE: "sd-jwt",
}


def verify(
    document: Mapping[str, Any] | bytes | str,
    *,
    resolver: VerificationMethodResolver,
    options: VerifyOptions,
) -> VerificationResult:
    """Verify a credential or a presentation in any of the three formats, whichever
    ``document`` is: compact text (a ``str``, or bytes holding it), a JSON object (Data
    Integrity, or an enveloping object), or JSON text as bytes.  The result names the format."""
    if isinstance(document, bytes | bytearray):
        compact = _compact_of_bytes(bytes(document))
        if compact is not None:
            document = compact
    if isinstance(document, str):
        if formats.compact_kind(document) is not None:
            return verify_compact(document, resolver=resolver, options=options)
        return VerificationResult.of(
            [
                failed(
                    "input",
                    "malformed",
                    "vc+jwt・vp+jwt・SD-JWT VC ではなく、JSON オブジェクトでもありません",
                    "not a vc+jwt, vp+jwt or SD-JWT VC, and not a JSON object",
                )
            ]
        )
    parsed, problem = _parse_input(document, options.limits)
    if parsed is None:
        return VerificationResult.of([problem] if problem else [])
    types = as_list(parsed.get("type"))
    if ENVELOPED_VC_TYPE in types or ENVELOPED_VP_TYPE in types:
        try:
            media_type, compact = formats.unenvelope(parsed)
        except FurusatoError as exc:
            return VerificationResult.of([from_error("input", exc)])
        kind = _KIND_OF_MEDIA_TYPE[media_type]
        if formats.compact_kind(compact) != kind:
            return VerificationResult.of(
                [
                    failed(
                        "input",
                        "unsupported_format",
                        f"data: URL の内容が {media_type} ではありません",
                        f"the data: URL does not hold an {media_type}",
                        path="id",
                    )
                ]
            )
        return verify_compact(compact, resolver=resolver, options=options)
    if VP_TYPE in types:
        return with_format(verify_presentation(parsed, resolver=resolver, options=options), LDP_VC)
    if VC_TYPE in types:
        result = verify_credential(parsed, resolver=resolver, options=options)
        return _holder_needed(with_format(result, LDP_VC), options)
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
