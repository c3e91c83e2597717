"""Issuing, revoking, suspending and reinstating credentials: the service's units of work.

Each function runs in one database transaction: the status indexes, the signed credential,
its record and its audit event commit together or not at all — a failure anywhere leaves
nothing half-written.

The resident credential is issued in the format of one of the configurations of
:data:`vc.oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS` (docs/formats.md): ``ldp_vc`` (Data
Integrity), ``jwt_vc_json`` (VC-JOSE ``vc+jwt``, :mod:`vc.jose`) or ``dc+sd-jwt`` (SD-JWT VC,
:mod:`vc.sdjwt`).  All three get their status entries the same way and are revoked, suspended
and reinstated the same way: the state belongs to the record, not to the format.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from did.errors import MalformedValueError
from issuer import audit, status
from issuer.db import LDP_VC, Database, IssuedCredential, PremiumMembership
from issuer.errors import ConflictError, ForbiddenError, NotFoundError, ServiceError
from issuer.settings import Settings
from issuer.tenants import KeyRing, TenantInfo, active_key, get_tenant
from schemas.loader import CREDENTIALS_V1
from schemas.municipalities import municipality_table
from vc.dates import parse_datetime
from vc.furusato import (
    RESIDENT_CREDENTIAL_TYPE,
    is_furusato,
    profile_problems,
    resident_credential,
    resident_sd_jwt_claims,
)
from vc.issue import issue_credential
from vc.jose import sign_vc_jwt
from vc.model import as_list, base_context, issuer_id, subject_ids
from vc.oid4vci import FURUSATO_RESIDENT_CONFIGURATIONS, FURUSATO_RESIDENT_LDP_ID
from vc.sdjwt import issue_sd_jwt, present

JST = timezone(timedelta(hours=9))
TIERS = ("basic", "premium")
STATES = ("active", "revoked", "suspended")
HOLDER_MAX = 512  # the column's length


@dataclass(frozen=True)
class Issued:
    """A credential just issued: ``delivered`` is what the holder receives (OID4VCI §8.3's
    ``credential``): the JSON object for ``ldp_vc``, the compact string for the others."""

    delivered: dict[str, Any] | str
    record: IssuedCredential

    @property
    def credential(self) -> dict[str, Any]:
        """The signed ``ldp_vc`` credential (VC-API, renewal, activity receipts: JSON-LD only)."""
        if not isinstance(self.delivered, dict):
            raise TypeError(f"a {self.record.format} credential is a string, not a JSON object")
        return self.delivered


def new_credential_id(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    return f"urn:uuid:{uuid.UUID(bytes=random_bytes(16), version=4)}"


SD_JWT_DISCLOSABLE: tuple[str, ...] = ("registeredSince",)
# A premium SD-JWT VC may carry these, from the identity the holder proves when receiving it
# (issuer.premium.issue_personal; per municipality, settings.premium.sdJwtPersonalClaims).
PERSONAL_CLAIMS: tuple[str, ...] = ("name", "birthDate")


def _allocate_all(
    session: Session, tenant: TenantInfo, credential_id: str, settings: Settings, now: datetime
) -> list[dict[str, str]]:
    return [
        status.allocate(
            session,
            tenant,
            purpose,
            credential_id,
            now=now,
            randbelow=secrets.randbelow,
            fill=settings.status_list_fill,
        ).entry()
        for purpose in status.PURPOSES
    ]


def _row_and_event(
    tenant: TenantInfo,
    credential: dict[str, Any],
    *,
    document: str,
    credential_format: str,
    key_id: str,
    source: str,
    tier: str | None,
    now: datetime,
    actor: str,
) -> tuple[dict[str, Any], audit.NewEvent]:
    """The record of a credential (``credential`` its VCDM data: id, holder and validity come
    from it; ``document`` what was issued: JSON text for ``ldp_vc``, the compact string
    otherwise) and its audit event."""
    holders = subject_ids(credential)
    if holders and len(holders[0]) > HOLDER_MAX:
        raise MalformedValueError(
            f"credentialSubject.id is longer than {HOLDER_MAX} characters",
            f"credentialSubject.id が {HOLDER_MAX} 文字を超えています",
            path="credentialSubject.id",
        )
    start = credential.get("validFrom") or credential.get("issuanceDate")
    end = credential.get("validUntil") or credential.get("expirationDate")
    v1 = base_context(credential) == CREDENTIALS_V1
    row = {
        "lg_code": tenant.lg_code,
        "credential_id": credential["id"],
        "holder_did": holders[0] if holders else None,
        "tier": tier,
        "state": "active",
        "source": source,
        "key_id": key_id,
        "issued_at": now,
        "valid_from": parse_datetime(start, "validFrom", require_offset=not v1) if start else None,
        "valid_until": parse_datetime(end, "validUntil", require_offset=not v1) if end else None,
        "format": credential_format,
        "document": document,
    }
    details: dict[str, Any] = {"source": source, "tier": tier, "keyId": key_id}
    if credential_format != LDP_VC:
        details["format"] = credential_format
    event = audit.NewEvent(
        at=now, actor=actor, action="credential.issue", subject=credential["id"], details=details
    )
    return row, event


def _record(
    session: Session,
    tenant: TenantInfo,
    credential: dict[str, Any],
    *,
    document: str,
    credential_format: str,
    key_id: str,
    source: str,
    tier: str | None,
    now: datetime,
    actor: str,
) -> IssuedCredential:
    """Store a credential and its audit event in the caller's transaction."""
    row, event = _row_and_event(
        tenant,
        credential,
        document=document,
        credential_format=credential_format,
        key_id=key_id,
        source=source,
        tier=tier,
        now=now,
        actor=actor,
    )
    record = IssuedCredential(**row)
    session.add(record)
    try:
        session.flush()  # the primary key refuses a used id (no lookup first)
    except IntegrityError:
        raise ConflictError(
            f"credential {row['credential_id']} already exists",
            f"証明書 {row['credential_id']} は既に存在します",
            path="id",
        ) from None
    audit.append(
        session,
        tenant.lg_code,
        at=event.at,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        details=event.details,
    )
    return record


def record_issued_many(
    session: Session,
    tenant: TenantInfo,
    credentials: Sequence[tuple[dict[str, Any], str]],
    *,
    credential_format: str,
    key_id: str,
    source: str,
    tier: str | None,
    now: datetime,
    actor: str,
) -> None:
    """Store credentials signed elsewhere (issuer.batch signs in worker processes), each
    ``(credential, document)``, with their audit events: one multi-row insert each, in the
    caller's transaction.  A credential id already used fails the whole insert."""
    rows, events = [], []
    for credential, document in credentials:
        row, event = _row_and_event(
            tenant,
            credential,
            document=document,
            credential_format=credential_format,
            key_id=key_id,
            source=source,
            tier=tier,
            now=now,
            actor=actor,
        )
        rows.append(row)
        events.append(event)
    if rows:
        session.execute(insert(IssuedCredential), rows)
    audit.append_many(session, tenant.lg_code, events)


def _unknown_configuration(configuration_id: str) -> ServiceError:
    return ServiceError(
        f"unknown credential configuration {configuration_id[:80]!r}",
        f"証明書の種類 {configuration_id[:80]!r} はありません",
        path="credential_configuration_id",
        code="unknown_credential_configuration",
    )


def issue_resident(
    db: Database,
    ring: KeyRing,
    settings: Settings,
    *,
    lg_code: str,
    holder: str,
    tier: str,
    now: datetime,
    source: str,
    actor: str,
    on_issued: Callable[[Session, IssuedCredential], None] | None = None,
    configuration_id: str = FURUSATO_RESIDENT_LDP_ID,
    personal_claims: Mapping[str, str] | None = None,
    on_delivered: Callable[[Session, Issued], None] | None = None,
) -> Issued:
    """Issue a FurusatoResidentCredential to ``holder`` (a did:key) in one transaction, in the
    format of ``configuration_id`` (one of :data:`FURUSATO_RESIDENT_CONFIGURATIONS`).

    ``personal_claims`` (SD-JWT VC only: :data:`PERSONAL_CLAIMS`, from an identity proven a
    moment ago) are added as selectively disclosable claims; the stored document keeps the
    issuer-signed JWT and the other Disclosures only, so the database holds their salted digests
    and never the values.  ``on_issued`` and then ``on_delivered`` (which sees what the holder
    receives) run in the issuing transaction.
    """
    if tier not in TIERS:
        raise ServiceError(f"unknown tier {tier!r}", f"登録区分 {tier!r} はありません", path="tier")
    configuration = FURUSATO_RESIDENT_CONFIGURATIONS.get(configuration_id)
    if configuration is None:
        raise _unknown_configuration(configuration_id)
    credential_format = configuration.format
    if personal_claims is not None and (
        credential_format != "dc+sd-jwt" or set(personal_claims) != set(PERSONAL_CLAIMS)
    ):
        raise ServiceError(
            "name and birth date are issued only in an SD-JWT VC, both selectively disclosable",
            "氏名と生年月日は SD-JWT VC でのみ、選択的開示のクレームとして発行します",
            code="personal_claims_format",
        )
    with db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        key = active_key(session, ring, tenant)
        credential_id = new_credential_id()
        municipality = municipality_table().get(lg_code)
        since = registered_since(now)
        valid_from = now.replace(microsecond=0)
        valid_until = valid_from + settings.credential_validity
        entries = _allocate_all(session, tenant, credential_id, settings, now)
        unsigned = resident_credential(
            credential_id=credential_id,
            issuer=tenant.did,
            issuer_name=tenant.name,
            municipality=municipality,
            holder=holder,
            tier=tier,
            registered_since=since,
            valid_from=valid_from,
            valid_until=valid_until,
            status=entries,
        )
        delivered: dict[str, Any] | str
        if credential_format == LDP_VC:
            delivered = issue_credential(
                unsigned, key.signer, verification_method=key.verification_method, created=now
            )
            document = json.dumps(delivered, ensure_ascii=False)
        else:
            # issue_credential's profile check, for the JOSE formats too: what a verifier
            # would refuse is never signed, whatever the envelope
            for problem in profile_problems(unsigned):
                raise problem
            if credential_format == "jwt_vc_json":
                delivered = sign_vc_jwt(
                    unsigned, key.signer, kid=key.verification_method, issued_at=now
                )
            elif credential_format == "dc+sd-jwt":
                claims = resident_sd_jwt_claims(
                    credential_id=credential_id,
                    issuer=tenant.did,
                    municipality=municipality,
                    holder=holder,
                    tier=tier,
                    registered_since=since,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    issued_at=now,
                    status=entries,
                )
                disclosable = SD_JWT_DISCLOSABLE
                if personal_claims is not None:
                    claims.update(personal_claims)
                    disclosable += PERSONAL_CLAIMS
                # tier and municipality are what every verifier checks; when the person
                # registered is not, and in a small town it narrows who they are: the holder
                # discloses it only when asked (docs/formats.md)
                delivered = issue_sd_jwt(
                    claims,
                    key.signer,
                    kid=key.verification_method,
                    disclosable=disclosable,
                    random_bytes=secrets.token_bytes,
                )
            else:  # pragma: no cover - every configuration of ours has one of the three
                raise _unknown_configuration(configuration_id)
            document = delivered
            if personal_claims is not None:  # the record never holds a name or birth date
                document = present(delivered, disclose=SD_JWT_DISCLOSABLE, holder=None)
        record = _record(
            session,
            tenant,
            unsigned,
            document=document,
            credential_format=credential_format,
            key_id=key.key_id,
            source=source,
            tier=tier,
            now=now,
            actor=actor,
        )
        if on_issued is not None:
            on_issued(session, record)
        issued = Issued(delivered, record)
        if on_delivered is not None:
            on_delivered(session, issued)
        return issued


def issue_submitted(
    db: Database,
    ring: KeyRing,
    settings: Settings,
    *,
    lg_code: str,
    credential: Mapping[str, Any],
    with_status: bool | None,
    now: datetime,
    actor: str,
) -> Issued:
    """Sign a credential submitted through the VC-API (VCDM 2.0 or 1.1).

    The issuer must be this municipality (or absent: then it is set); a furusato credential
    must name this municipality; an ``id`` is added when missing; the revocation and
    suspension entries are added when ``with_status`` (None: when the municipality's
    ``vcapiStatus`` setting says so).
    """
    document = copy.deepcopy(dict(credential))
    with db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        key = active_key(session, ring, tenant)
        issuer = document.get("issuer")
        if issuer is None:
            document["issuer"] = tenant.did
        elif issuer_id(document) != tenant.did:
            raise ForbiddenError(
                f"this issuer signs only as {tenant.did}",
                f"この発行者は {tenant.did} としてのみ署名します",
                path="issuer",
                code="issuer_mismatch",
            )
        _check_own_municipality(document, tenant)
        credential_id = document.get("id")
        if credential_id is None:
            credential_id = document["id"] = new_credential_id()
        elif not isinstance(credential_id, str) or len(credential_id) > 64:
            raise ServiceError(
                "credential id must be a URL of at most 64 characters",
                "証明書の id は64文字以内の URL にしてください",
                path="id",
            )
        if with_status is None:
            with_status = bool(tenant.settings.get("vcapiStatus"))
        if with_status:
            if "credentialStatus" in document:
                raise ServiceError(
                    "the credential already has credentialStatus",
                    "証明書には既に credentialStatus があります",
                    path="credentialStatus",
                )
            document["credentialStatus"] = _allocate_all(
                session, tenant, credential_id, settings, now
            )
        signed = issue_credential(
            document, key.signer, verification_method=key.verification_method, created=now
        )
        types = as_list(signed.get("type"))
        tier = None
        if RESIDENT_CREDENTIAL_TYPE in types:
            tier = signed["credentialSubject"].get("registrationTier")
        record = _record(
            session,
            tenant,
            signed,
            document=json.dumps(signed, ensure_ascii=False),
            credential_format=LDP_VC,
            key_id=key.key_id,
            source="vcapi",
            tier=tier,
            now=now,
            actor=actor,
        )
        return Issued(signed, record)


def premium_requires_application() -> ForbiddenError:
    """Premium is issued only through an approved application (issuer.premium): the rules of
    the programme (identity, 3 municipalities, not home, activities) hold for everyone."""
    return ForbiddenError(
        "a premium credential is issued only for an approved premium application",
        "プレミアム登録の証明書は、承認されたプレミアム申請に対してのみ発行されます",
        code="premium_requires_application",
    )


def _check_own_municipality(document: Mapping[str, Any], tenant: TenantInfo) -> None:
    """A municipality signs claims about itself only, and never premium outside the process."""
    if not is_furusato(document):
        return
    for subject in as_list(document.get("credentialSubject")):
        if isinstance(subject, dict) and subject.get("registrationTier") == "premium":
            raise premium_requires_application()
        municipality = subject.get("municipality") if isinstance(subject, dict) else None
        code = municipality.get("lgCode") if isinstance(municipality, dict) else None
        if code != tenant.lg_code:
            raise ForbiddenError(
                f"municipality {tenant.lg_code} cannot sign claims about municipality {code}",
                f"自治体 {tenant.lg_code} は他の自治体 ({code}) についての証明書に署名できません",
                path="credentialSubject.municipality.lgCode",
                code="other_municipality",
            )


TRANSITIONS = {
    # action: (allowed from, to, bit changes {purpose: value})
    "revoke": (("active", "suspended"), "revoked", {"revocation": True}),
    "suspend": (("active",), "suspended", {"suspension": True}),
    "reinstate": (("suspended",), "active", {"suspension": False}),
}


def change_state(
    db: Database,
    *,
    lg_code: str,
    credential_id: str,
    action: str,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> IssuedCredential:
    """Revoke (for good), suspend, or reinstate a suspended credential."""
    with db.transaction() as session:
        return change_state_in(
            session,
            lg_code=lg_code,
            credential_id=credential_id,
            action=action,
            now=now,
            actor=actor,
            reason=reason,
        )


def change_state_in(
    session: Session,
    *,
    lg_code: str,
    credential_id: str,
    action: str,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> IssuedCredential:
    """:func:`change_state` inside the caller's transaction."""
    allowed, target, bits = TRANSITIONS[action]
    row = session.execute(
        select(IssuedCredential)
        .where(
            IssuedCredential.lg_code == lg_code,
            IssuedCredential.credential_id == credential_id,
        )
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        # Another tenant's credential looks exactly like a missing one.
        raise NotFoundError(
            f"no credential {credential_id} here",
            f"証明書 {credential_id} はありません",
            path="credentialId",
        )
    if row.state not in allowed:
        raise ConflictError(
            f"cannot {action} a credential that is {row.state}",
            f"状態が「{_STATE_JA[row.state]}」の証明書は{_ACTION_JA[action]}できません",
            code="invalid_state",
        )
    entries = {e.purpose: e for e in status.entries_of(session, lg_code, credential_id)}
    missing = [p for p in bits if p not in entries]
    if missing:
        raise ConflictError(
            f"the credential has no {missing[0]} status entry, so it cannot be {target}",
            f"この証明書には {missing[0]} のステータスがないため{_ACTION_JA[action]}できません",
            code="no_status_entry",
        )
    for purpose, value in bits.items():
        status.set_bit(session, entries[purpose], value)
    row.state = target
    audit.append(
        session,
        lg_code,
        at=now,
        actor=actor,
        action=f"credential.{action}",
        subject=credential_id,
        details={"reason": reason} if reason else {},
    )
    if target == "revoked" and row.tier == "premium":
        # the person's premium place here is freed (a renewal has already moved the place
        # to the new credential, so revoking the old one frees nothing)
        session.execute(
            update(PremiumMembership)
            .where(
                PremiumMembership.lg_code == lg_code,
                PremiumMembership.credential_id == credential_id,
            )
            .values(state="ended", updated_at=now)
        )
    return row


_STATE_JA = {"active": "有効", "revoked": "失効", "suspended": "停止中"}
_ACTION_JA = {"revoke": "失効", "suspend": "停止", "reinstate": "再開"}


def find_credential(session: Session, lg_code: str, credential_id: str) -> IssuedCredential:
    row = session.get(IssuedCredential, (lg_code, credential_id))
    if row is None:
        raise NotFoundError(
            f"no credential {credential_id} here", f"証明書 {credential_id} はありません"
        )
    return row


def registered_since(now: datetime) -> date:
    return now.astimezone(JST).date()
