"""Public endpoints: registration, offers, OID4VCI, DID documents, status lists.

Nothing here needs a login.  Registration is rate-limited per client address; every other
endpoint is cheap or single-use by construction.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from issuer import oid4vci, status
from issuer.api.common import (
    client_address,
    form_body,
    json_body,
    optional_json_body,
    services,
)
from issuer.bootstrap import Services
from issuer.errors import NotFoundError, ServiceError
from issuer.tenants import TenantInfo, did_document, get_tenant
from vc import oid4vci as wire

router = APIRouter()

LgCode = Annotated[
    str,
    Path(pattern=r"^[0-9]{6}$", description="全国地方公共団体コード / MIC local government code"),
]
OfferRef = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{20,64}$")]
OPTIONAL_BODY = Depends(optional_json_body)
JSON_BODY_DEP = Depends(json_body)
FORM_BODY = Depends(form_body)
JSON_BODY = {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}


def _tenant(svc: Services, lg_code: str) -> TenantInfo:
    with svc.db.read() as session:
        return get_tenant(session, lg_code)


def qr_png_data_url(text: str) -> str:
    """A PNG data URL of ``text`` as a QR (error level M, never Micro QR)."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=6, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def offer_payload(new: oid4vci.NewOffer) -> dict[str, Any]:
    return {
        "offerUri": new.offer_uri,
        "credentialOffer": new.offer,
        "tier": new.tier,
        "expiresAt": new.expires_at.isoformat().replace("+00:00", "Z"),
        **({"txCode": new.tx_code} if new.tx_code else {}),
    }


def register(
    svc: Services, request: Request, lg_code: str, tier: str, channel: str
) -> oid4vci.NewOffer:
    """Basic registration: almost unconditional (DESIGN.md §1), rate-limited."""
    svc.limiter.check(
        f"register:{client_address(request)}", per_minute=svc.settings.register_per_minute
    )
    if tier != "basic":
        raise ServiceError(
            "only basic registration is open to everyone; premium needs identity proofing",
            "誰でも申し込めるのはベーシック登録のみです。プレミアムには本人確認が必要です",
            path="tier",
            code="tier_not_open",
        )
    now = svc.clock()
    with svc.db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        return oid4vci.create_offer(
            session,
            svc.settings,
            svc.secret,
            tenant,
            tier=tier,
            channel=channel,
            now=now,
            actor=f"public:{channel}",
        )


@router.post(
    "/lg/{lg_code}/registrations",
    status_code=201,
    operation_id="register_basic",
    summary="ベーシック登録を申し込む / Apply for basic registration",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"tier": {"type": "string", "enum": ["basic"]}},
                        "additionalProperties": False,
                    }
                }
            },
            "required": False,
        }
    },
    tags=["registration"],
)
def register_json(request: Request, lg_code: LgCode, body: Any = OPTIONAL_BODY) -> JSONResponse:
    svc = services(request)
    tier = "basic"
    if body is not None:
        if not isinstance(body, dict) or set(body) - {"tier"}:
            raise ServiceError(
                'expected {"tier": "basic"}', '{"tier": "basic"} の形で送ってください'
            )
        tier = body.get("tier", "basic")
        if not isinstance(tier, str):
            raise ServiceError("tier must be a string", "tier は文字列です", path="tier")
    new = register(svc, request, lg_code, tier, "api")
    payload = offer_payload(new)
    payload["qrPng"] = qr_png_data_url(new.offer_uri)
    return JSONResponse(payload, status_code=201, headers={"Cache-Control": "no-store"})


@router.get(
    "/lg/{lg_code}/offers/{offer_ref}",
    operation_id="get_credential_offer",
    tags=["oid4vci"],
    summary="Credential offer (by reference)",
)
def get_offer(request: Request, lg_code: LgCode, offer_ref: OfferRef) -> JSONResponse:
    svc = services(request)
    document = oid4vci.offer_document(svc.db, svc.secret, lg_code, offer_ref, svc.clock())
    return JSONResponse(document, headers={"Cache-Control": "no-store"})


@router.get(
    "/.well-known/openid-credential-issuer/lg/{lg_code}",
    operation_id="issuer_metadata",
    tags=["oid4vci"],
    summary="OID4VCI credential issuer metadata",
)
def issuer_metadata(request: Request, lg_code: LgCode) -> JSONResponse:
    tenant = _tenant(services(request), lg_code)
    return JSONResponse(metadata_of(tenant))


def metadata_of(tenant: TenantInfo) -> dict[str, Any]:
    base = tenant.identifier
    metadata = wire.issuer_metadata(
        base,
        configurations=wire.FURUSATO_RESIDENT_CONFIGURATIONS,
        # our own URLs: https in production; http only for a loopback demo (the codec still
        # refuses http anywhere else)
        unsafe_allow_http_localhost=True,
        credential_endpoint=f"{base}/credential",
        nonce_endpoint=f"{base}/nonce",
        authorization_servers=[base],
        display=[
            {"name": f"{tenant.prefecture}{tenant.name} ふるさと住民登録", "locale": "ja"},
            {
                "name": f"Furusato resident registration — {tenant.name}, {tenant.prefecture}",
                "locale": "en",
            },
        ],
    )
    # Our extension (OID4VCI allows additional parameters): where a wallet renews a credential.
    metadata["renewal_endpoint"] = f"{base}/renewal"
    return metadata


@router.get(
    "/.well-known/oauth-authorization-server/lg/{lg_code}",
    operation_id="as_metadata",
    tags=["oid4vci"],
    summary="OAuth authorization server metadata",
)
def as_metadata(request: Request, lg_code: LgCode) -> JSONResponse:
    tenant = _tenant(services(request), lg_code)
    return JSONResponse(
        wire.authorization_server_metadata(
            tenant.identifier,
            token_endpoint=f"{tenant.identifier}/token",
            unsafe_allow_http_localhost=True,
        )
    )


@router.post(
    "/lg/{lg_code}/token",
    operation_id="oid4vci_token",
    tags=["oid4vci"],
    summary="Token endpoint (pre-authorized code)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {"type": "string"},
                            "pre-authorized_code": {"type": "string"},
                            "tx_code": {"type": "string"},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
def token(request: Request, lg_code: LgCode, form: dict[str, str] = FORM_BODY) -> JSONResponse:
    svc = services(request)
    body = oid4vci.redeem(svc.db, svc.settings, lg_code, form, svc.clock())
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post(
    "/lg/{lg_code}/nonce",
    operation_id="oid4vci_nonce",
    tags=["oid4vci"],
    summary="Nonce endpoint (c_nonce)",
)
def nonce(request: Request, lg_code: LgCode) -> JSONResponse:
    svc = services(request)
    body = oid4vci.new_nonce(svc.db, svc.settings, lg_code, svc.clock())
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post(
    "/lg/{lg_code}/credential",
    operation_id="oid4vci_credential",
    tags=["oid4vci"],
    summary="Credential endpoint (key proof JWT bound to c_nonce)",
    openapi_extra={"requestBody": JSON_BODY},
)
def credential(request: Request, lg_code: LgCode, body: Any = JSON_BODY_DEP) -> JSONResponse:
    svc = services(request)
    response = oid4vci.credential(
        svc.db,
        svc.ring,
        svc.settings,
        lg_code,
        authorization=request.headers.get("authorization"),
        body=body,
        now=svc.clock(),
    )
    return JSONResponse(response, headers={"Cache-Control": "no-store"})


@router.post(
    "/lg/{lg_code}/renewal",
    operation_id="renew_credential",
    tags=["oid4vci"],
    summary="証明書の更新 (ベーシック) / Renew a credential (basic)",
    openapi_extra={"requestBody": JSON_BODY},
)
def renewal(request: Request, lg_code: LgCode, body: Any = JSON_BODY_DEP) -> JSONResponse:
    svc = services(request)
    response = oid4vci.renew(svc, lg_code, body=body, now=svc.clock())
    return JSONResponse(response, headers={"Cache-Control": "no-store"})


@router.get(
    "/lg/{lg_code}/did.json",
    operation_id="did_document",
    tags=["did"],
    summary="DID document (did:web)",
)
def did_json(request: Request, lg_code: LgCode) -> JSONResponse:
    svc = services(request)
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
        if tenant.did_method != "web":
            raise NotFoundError(
                "this municipality uses did:key", "この自治体は did:key を使っています"
            )
        document = did_document(session, tenant)
    return JSONResponse(
        document,
        media_type="application/did+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


_PURPOSE = re.compile(r"revocation|suspension")


@router.get(
    "/status/{lg_code}/index.json",
    operation_id="status_list_index",
    tags=["status"],
    summary="Every status list of a municipality (for verifiers that sync)",
)
def status_list_index(request: Request, lg_code: LgCode) -> JSONResponse:
    svc = services(request)
    with svc.db.read() as session:
        index = status.list_index(session, get_tenant(session, lg_code))
    return JSONResponse(index, headers={"Cache-Control": "public, max-age=300"})


@router.get(
    "/status/{lg_code}/{purpose}/{number}",
    operation_id="status_list",
    tags=["status"],
    summary="Bitstring status list credential",
)
def status_list(request: Request, purpose: str, number: int, lg_code: LgCode) -> Response:
    """The signed list, re-signed on the first GET after a change (``status.serve_list``:
    read-only while it is unchanged).  Served as stored, with an ETag for revalidation."""
    svc = services(request)
    if not _PURPOSE.fullmatch(purpose) or not 1 <= number <= 1_000_000:
        raise NotFoundError("no such status list", "そのステータスリストはありません")
    published = status.serve_list(
        svc.db,
        svc.ring,
        lg_code,
        purpose,
        number,
        now=svc.clock(),
        validity=svc.settings.status_list_validity,
        ttl=svc.settings.status_list_ttl,
    )
    max_age = int(svc.settings.status_list_ttl.total_seconds())
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": published.etag}
    if published.etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(published.body, media_type="application/vc", headers=headers)


def _etags(header: str | None) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare weakly, RFC 9110 §13.1.2)."""
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header[:1024].split(",")}
