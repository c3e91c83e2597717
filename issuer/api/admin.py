"""The admin API: bearer tokens scoped to one municipality, roles admin / staff / auditor.

A token sees only its own municipality: another municipality's credential answers 404, the
same as a credential that does not exist (tested).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from did.errors import MalformedValueError
from issuer import audit, issuance, oid4vci
from issuer.api.common import optional_json_body, services
from issuer.api.public import offer_payload, qr_png_data_url
from issuer.auth import Principal, authenticate
from issuer.bootstrap import Services
from issuer.db import AuditEvent, IssuedCredential
from issuer.status import entries_of
from issuer.tenants import get_tenant, rotate_key

router = APIRouter(prefix="/admin/api", tags=["admin"])
OPTIONAL_BODY = Depends(optional_json_body)

CREDENTIAL_ID = r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
OFFER_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "tier": {"type": "string", "enum": ["basic", "premium"]},
                    "txCode": {"type": "boolean"},
                },
                "additionalProperties": False,
            }
        }
    },
    "required": False,
}
REASON_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"reason": {"type": "string", "maxLength": 200}},
                "additionalProperties": False,
            }
        }
    },
    "required": False,
}


def principal(svc: Services, request: Request, permission: str) -> Principal:
    with svc.db.read() as session:
        who = authenticate(session, request.headers.get("authorization"))
    who.require(permission)
    return who


def credential_json(row: IssuedCredential, entries: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.credential_id,
        "lgCode": row.lg_code,
        "state": row.state,
        "tier": row.tier,
        "holder": row.holder_did,
        "source": row.source,
        "keyId": row.key_id,
        "issuedAt": _iso(row.issued_at),
        "validFrom": _iso(row.valid_from),
        "validUntil": _iso(row.valid_until),
        "format": row.format,
    }
    if entries is not None:
        out["status"] = [
            {"purpose": e.purpose, "list": e.list_number, "index": e.list_index} for e in entries
        ]
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@router.get(
    "/credentials",
    operation_id="admin_list_credentials",
    summary="発行した証明書の一覧 / Credentials issued",
)
def list_credentials(
    request: Request,
    state: str | None = Query(None, pattern="^(active|revoked|suspended)$"),
    limit: int = Query(50, ge=1, le=500),
    before: str | None = Query(None, max_length=40, description="issuedAt cursor (ISO 8601)"),
) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "read")
    query = select(IssuedCredential).where(IssuedCredential.lg_code == who.lg_code)
    if state:
        query = query.where(IssuedCredential.state == state)
    if before:
        from vc.dates import parse_datetime

        query = query.where(IssuedCredential.issued_at < parse_datetime(before, "before"))
    query = query.order_by(IssuedCredential.issued_at.desc()).limit(limit)
    with svc.db.read() as session:
        rows = list(session.execute(query).scalars())
    return JSONResponse({"credentials": [credential_json(r) for r in rows]})


@router.get(
    "/credentials/{credential_id}",
    operation_id="admin_get_credential",
    summary="証明書の詳細 / One credential",
)
def get_credential(request: Request, credential_id: str) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "read")
    with svc.db.read() as session:
        row = issuance.find_credential(session, who.lg_code, credential_id)
        entries = entries_of(session, who.lg_code, credential_id)
        body = credential_json(row, entries)
        # as the holder received it: a JSON object (ldp_vc) or a compact string (the others)
        body["credential"] = row.as_issued()
    return JSONResponse(body)


def _change(request: Request, credential_id: str, action: str, body: Any) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "status")
    reason = None
    if isinstance(body, dict):
        reason = body.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 200):
            raise MalformedValueError(
                "reason must be text of at most 200 characters",
                "reason は200文字以内の文字列です",
                path="reason",
            )
    row = issuance.change_state(
        svc.db,
        lg_code=who.lg_code,
        credential_id=credential_id,
        action=action,
        now=svc.clock(),
        actor=who.actor,
        reason=reason,
    )
    return JSONResponse(credential_json(row))


@router.post(
    "/credentials/{credential_id}/revoke",
    operation_id="admin_revoke",
    summary="失効させる (取り消し不可) / Revoke (final)",
    openapi_extra={"requestBody": REASON_BODY},
)
def revoke(request: Request, credential_id: str, body: Any = OPTIONAL_BODY) -> JSONResponse:
    return _change(request, credential_id, "revoke", body)


@router.post(
    "/credentials/{credential_id}/suspend",
    operation_id="admin_suspend",
    summary="一時停止する / Suspend",
    openapi_extra={"requestBody": REASON_BODY},
)
def suspend(request: Request, credential_id: str, body: Any = OPTIONAL_BODY) -> JSONResponse:
    return _change(request, credential_id, "suspend", body)


@router.post(
    "/credentials/{credential_id}/reinstate",
    operation_id="admin_reinstate",
    summary="停止を解除する / Reinstate",
    openapi_extra={"requestBody": REASON_BODY},
)
def reinstate(request: Request, credential_id: str, body: Any = OPTIONAL_BODY) -> JSONResponse:
    return _change(request, credential_id, "reinstate", body)


@router.post(
    "/offers",
    status_code=201,
    operation_id="admin_create_offer",
    summary="窓口で申込みを作成する / Create an offer at the counter",
    openapi_extra={"requestBody": OFFER_BODY},
)
def create_offer(request: Request, body: Any = OPTIONAL_BODY) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "offer")
    body = body or {}
    if not isinstance(body, dict) or set(body) - {"tier", "txCode"}:
        raise MalformedValueError(
            'expected {"tier": …, "txCode": …}', '{"tier": …, "txCode": …} の形で送ってください'
        )
    tier = body.get("tier", "basic")
    if tier not in issuance.TIERS:
        raise MalformedValueError(
            "tier must be basic or premium", "tier は basic か premium です", path="tier"
        )
    tx = body.get("txCode", False)
    if not isinstance(tx, bool):
        raise MalformedValueError(
            "txCode must be true or false", "txCode は真偽値です", path="txCode"
        )
    now = svc.clock()
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        new = oid4vci.create_offer(
            session,
            svc.settings,
            svc.secret,
            tenant,
            tier=tier,
            channel="counter",
            now=now,
            actor=who.actor,
            with_tx_code=tx,
        )
    payload = offer_payload(new)
    payload["qrPng"] = qr_png_data_url(new.offer_uri)
    return JSONResponse(payload, status_code=201, headers={"Cache-Control": "no-store"})


@router.post(
    "/keys/rotate",
    operation_id="admin_rotate_key",
    summary="署名鍵を更新する / Rotate the signing key",
)
def rotate(request: Request) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "keys")
    now = svc.clock()
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        row = rotate_key(
            session, svc.ring, tenant, now=now, random_bytes=secrets.token_bytes, actor=who.actor
        )
        key_id, valid_from = row.key_id, row.valid_from
    return JSONResponse({"keyId": key_id, "validFrom": _iso(valid_from)})


@router.get("/audit", operation_id="admin_audit", summary="監査ログ / Audit log")
def audit_log(
    request: Request,
    after: int = Query(0, ge=0, le=2**31 - 1),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "audit")
    with svc.db.read() as session:
        rows = session.execute(
            select(AuditEvent)
            .where(AuditEvent.lg_code == who.lg_code, AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(limit)
        ).scalars()
        events = [
            {
                "seq": r.seq,
                "at": _iso(r.at),
                "actor": r.actor,
                "action": r.action,
                "subject": r.subject,
                "details": json.loads(r.details),
                "hash": r.hash,
            }
            for r in rows
        ]
    return JSONResponse({"events": events})


@router.get(
    "/audit/verify",
    operation_id="admin_audit_verify",
    summary="監査ログの改ざん検査 / Verify the audit chain",
)
def audit_verify(request: Request) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "audit")
    with svc.db.read() as session:
        report = audit.verify_chain(session, who.lg_code)
    return JSONResponse(
        {
            "lgCode": report.lg_code,
            "events": report.events,
            "ok": report.ok,
            "firstBadSeq": report.first_bad_seq,
            "reason": report.reason,
        }
    )
