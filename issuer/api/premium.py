"""Premium registration and activities over HTTP (docs/premium.md).

Residents (the wallet):

* ``POST /lg/{lg}/checkins`` — a scanned check-in QR, a presentation of the registration
  over a fresh c_nonce, the location for geofenced sites → a FurusatoActivityCredential;
* ``POST /lg/{lg}/premium/applications`` — a presentation of the registration → the
  application, its status token and the link of the identity step;
* ``GET /lg/{lg}/premium/applications/{id}`` (``Authorization: Bearer <status token>``) →
  its state, the reason of a rejection, the credential offer once approved;
* the identity step, in a browser: ``GET /lg/{lg}/premium/identity?login=…`` (choose),
  ``GET /lg/{lg}/premium/identity/oidc?login=…`` (to the provider),
  ``GET /premium/oidc/callback`` (back; the rules are checked, the identity dropped),
  and for a card reader application ``POST /lg/{lg}/premium/identity/jpki/challenge`` and
  ``POST /lg/{lg}/premium/identity/jpki``.

Staff (admin API, bearer token with the ``premium`` permission): sites and their QR codes,
the queue, approve / reject, activities from reviewed documents.  The console pages are in
:mod:`issuer.api.premium_pages`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from did.errors import FurusatoError, MalformedValueError
from issuer import activities, oid4vci, personal, premium
from issuer.api.admin import principal
from issuer.api.common import json_body, services
from issuer.api.pages import templates
from issuer.api.public import LgCode, qr_png_data_url
from issuer.auth import Principal
from issuer.bootstrap import Services
from issuer.db import ActivitySite, PremiumApplication
from issuer.errors import ConflictError, NotFoundError, ServiceError
from issuer.identity import IdentityError, ProvenIdentity, pepper_from_secret
from issuer.identity.jpki import JpkiConfig, new_challenge, verify_signature
from issuer.identity.oidc import AuthRequest, OidcRelyingParty
from issuer.identity.providers import CALLBACK_PATH
from issuer.tenants import TenantInfo, get_tenant
from shellkit.web import status_of
from vc.dates import format_datetime, parse_datetime
from vc.furusato import RESIDENT_CREDENTIAL_TYPE

log = logging.getLogger("furusato.issuer")
router = APIRouter(tags=["premium"])
admin_router = APIRouter(prefix="/admin/api", tags=["admin"])
JSON_BODY = Depends(json_body)
ApplicationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,40}$")]
SiteId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
LOGIN = Query(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def _tenant(svc: Services, lg_code: str) -> TenantInfo:
    with svc.db.read() as session:
        return get_tenant(session, lg_code)


def _registrant(svc: Services, lg_code: str, body: Any, now: datetime) -> str:
    """The registration key proven by a presentation of a resident credential of ours (an
    activity receipt proves the same key but is no registration: it cannot stand in)."""
    credential = oid4vci.presented_credential(svc, lg_code, body=body, now=now)
    types = credential.get("type")
    if not isinstance(types, list) or RESIDENT_CREDENTIAL_TYPE not in types:
        raise ServiceError(
            "present your registration (a FurusatoResidentCredential of this municipality)",
            "この自治体の登録証明書 (FurusatoResidentCredential) を提示してください",
            code="registration_required",
            status=403,
        )
    holder = credential["credentialSubject"]["id"]
    assert isinstance(holder, str)  # the profile check made sure
    return holder


def _bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotFoundError(
            "no such application", "その申請はありません", code="application_not_found"
        )
    return token.strip()


# --- check-ins ------------------------------------------------------------------------------------


@router.post(
    "/lg/{lg_code}/checkins",
    status_code=201,
    operation_id="checkin",
    summary="活動場所でチェックインする / Check in at an activity site",
)
def checkin(request: Request, lg_code: LgCode, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    now = svc.clock()
    if not isinstance(body, dict) or set(body) - {"checkin", "presentation", "location"}:
        raise MalformedValueError(
            'send {"checkin": <QR text>, "presentation": <VP>, "location": {…}}',
            '{"checkin": <QR の文字列>, "presentation": <提示>, "location": {…}} を送ってください',
        )
    location = activities.parse_location(body.get("location"))
    holder = _registrant(svc, lg_code, body, now)
    with svc.db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        done = activities.record_checkin(
            session,
            svc.ring,
            tenant,
            payload=body.get("checkin"),
            holder_did=holder,
            location=location,
            now=now,
        )
        total = premium.count_activities(session, lg_code, holder, now)
        needed = premium.min_activities(tenant)
    return JSONResponse(
        {"credential": done.credential, "activitiesInLast12Months": total, "minActivities": needed},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


# --- applications ---------------------------------------------------------------------------------


def _identity_url(tenant: TenantInfo, token: str) -> str:
    return f"{tenant.public_url.rstrip('/')}/lg/{tenant.lg_code}/premium/identity?login={token}"


@router.post(
    "/lg/{lg_code}/premium/applications",
    status_code=201,
    operation_id="premium_apply",
    summary="プレミアム登録を申請する / Apply for premium registration",
)
def apply(request: Request, lg_code: LgCode, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    now = svc.clock()
    if not isinstance(body, dict) or set(body) - {"presentation"}:
        raise MalformedValueError(
            'send {"presentation": <VP>}', '{"presentation": <提示>} を送ってください'
        )
    holder = _registrant(svc, lg_code, body, now)
    with svc.db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        started = premium.start(session, tenant, holder_did=holder, now=now)
    return JSONResponse(
        {
            "applicationId": started.application_id,
            "statusToken": started.status_token,
            "identityUrl": _identity_url(tenant, started.login_token),
            "identityExpiresAt": format_datetime(started.expires_at),
            "statusUrl": f"{tenant.public_url.rstrip('/')}/lg/{lg_code}/premium/applications/"
            f"{started.application_id}",
            "minActivities": premium.min_activities(tenant),
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/lg/{lg_code}/premium/applications/{application_id}",
    operation_id="premium_application_status",
    summary="申請の状況 / The application's state",
)
def application_status(
    request: Request, lg_code: LgCode, application_id: ApplicationId
) -> JSONResponse:
    svc = services(request)
    token = _bearer(request)
    now = svc.clock()
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
        row = premium.by_status_token(session, lg_code, application_id, token, now)
        answer: dict[str, Any] = {
            "applicationId": row.application_id,
            "state": row.state,
            "activitiesInLast12Months": premium.count_activities(
                session, lg_code, row.holder_did, now
            ),
            "minActivities": premium.min_activities(tenant),
        }
        if row.state == "identity":
            answer["identityExpiresAt"] = format_datetime(row.expires_at)
        if row.state == "rejected":
            answer["reason"] = row.reason
        if row.state == "approved":
            answer["offerUri"] = oid4vci.offer_uri(
                tenant, premium.offer_ref_for(svc.secret, lg_code, row.application_id)
            )
            answer["personalClaimsOffered"] = personal.offered(tenant)
            if premium.personal_step_open(row, now):
                answer["personalClaimsPending"] = True
        sealed = personal.sealed(row, now) if row.state == "issued" else None
        if sealed is not None:
            answer["sealedCredential"] = sealed
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.post(
    "/lg/{lg_code}/premium/applications/{application_id}/personal",
    status_code=201,
    operation_id="premium_personal_claims",
    summary="氏名・生年月日入りの SD-JWT VC で受け取る / Receive the premium credential as an "
    "SD-JWT VC with name and birth date",
)
def personal_claims(
    request: Request, lg_code: LgCode, application_id: ApplicationId, body: Any = JSON_BODY
) -> JSONResponse:
    """An approved application's credential with selectively disclosable name and birth date:
    the identity is proven again, the credential comes back encrypted to ``encryptionJwk``
    (issuer.personal)."""
    svc = services(request)
    token = _bearer(request)
    now = svc.clock()
    if not isinstance(body, dict) or set(body) != {"encryptionJwk"}:
        raise MalformedValueError(
            'send {"encryptionJwk": <public X25519 or P-256 JWK>}',
            '{"encryptionJwk": <X25519 か P-256 の公開鍵 (JWK)>} を送ってください',
        )
    with svc.db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        row = premium.by_status_token(session, lg_code, application_id, token, now)
        login, until = personal.start(session, tenant, row, body["encryptionJwk"], now=now)
    return JSONResponse(
        {"identityUrl": _identity_url(tenant, login), "identityExpiresAt": format_datetime(until)},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.delete(
    "/lg/{lg_code}/premium/applications/{application_id}/sealed",
    status_code=204,
    operation_id="premium_sealed_received",
    summary="暗号化された証明書を受け取った / The encrypted credential was received",
)
def sealed_received(request: Request, lg_code: LgCode, application_id: ApplicationId) -> Response:
    svc = services(request)
    token = _bearer(request)
    with svc.db.transaction() as session:
        row = premium.by_status_token(session, lg_code, application_id, token, svc.clock())
        personal.discard(row)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


# --- the identity step ------------------------------------------------------------------------------
#
# In a browser: the wallet shows the link ``/lg/{lg}/premium/identity?login=…`` (one-time token,
# 30 minutes).  The page offers the configured methods.  For OIDC the login token goes into a
# short-lived HttpOnly cookie (SameSite=Lax: it comes back on the provider's top-level
# redirect), the provider's state/nonce/verifier are kept with the application, and the
# callback finds the application through the cookie.  JPKI is for a card-reading client
# (JSON).  The identity is used for the rules and dropped (issuer.premium.prove_identity).

LOGIN_COOKIE = "fvc_premium_login"
LOGIN_COOKIE_SECONDS = 900


def _identity_page(
    request: Request,
    tenant: TenantInfo | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    svc = services(request)
    page = templates.TemplateResponse(
        request,
        "premium_identity.html",
        {"tenant": tenant, "methods": svc.identity.methods, **context},
        status_code=status,
    )
    page.headers["Cache-Control"] = "no-store"  # (no-referrer is set on every page)
    return page


def _error_page(request: Request, tenant: TenantInfo | None, error: FurusatoError) -> HTMLResponse:
    log.info("premium identity step refused: %s", error.code)
    return _identity_page(
        request,
        tenant,
        status=status_of(error),
        error={"ja": error.message_ja, "en": error.message_en, "code": error.code},
    )


@router.get("/lg/{lg_code}/premium", include_in_schema=False)
def premium_page(request: Request, lg_code: LgCode) -> HTMLResponse:
    """How premium registration works here (the application starts in the wallet)."""
    svc = services(request)
    tenant = _tenant(svc, lg_code)
    return templates.TemplateResponse(
        request,
        "premium.html",
        {
            "tenant": tenant,
            "min_activities": premium.min_activities(tenant),
            "limit": premium.MAX_MUNICIPALITIES,
            "methods": svc.identity.methods,
        },
    )


@router.get("/lg/{lg_code}/premium/identity", include_in_schema=False)
def identity_page(request: Request, lg_code: LgCode, login: str = LOGIN) -> HTMLResponse:
    svc = services(request)
    now = svc.clock()
    try:
        with svc.db.read() as session:
            tenant = get_tenant(session, lg_code)
            row = premium.by_login(session, lg_code, login, now)
            for_personal = row.state == "approved"
    except FurusatoError as exc:
        return _error_page(request, None, exc)
    return _identity_page(request, tenant, login=login, personal=for_personal)


def _oidc(svc: Services) -> OidcRelyingParty:
    if svc.identity.oidc is None:
        raise ServiceError(
            "the My Number Card login is not configured here",
            "この発行者ではマイナンバーカードによるログインを設定していません",
            code="oidc_not_configured",
            status=404,
        )
    return svc.identity.oidc


@router.get("/lg/{lg_code}/premium/identity/oidc", include_in_schema=False)
def oidc_start(request: Request, lg_code: LgCode, login: str = LOGIN) -> Response:
    svc = services(request)
    now = svc.clock()
    try:
        provider = _oidc(svc)
        auth = provider.start(now)
        with svc.db.transaction() as session:
            row = premium.by_login(session, lg_code, login, now)
            _step_session(row, oidc=auth.to_json())
    except FurusatoError as exc:
        return _error_page(request, None, exc)
    response = RedirectResponse(
        auth.authorization_url, status_code=303, headers={"Cache-Control": "no-store"}
    )
    response.set_cookie(
        LOGIN_COOKIE,
        f"{lg_code}.{login}",
        max_age=LOGIN_COOKIE_SECONDS,
        path=CALLBACK_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _login_cookie(request: Request) -> tuple[str, str]:
    value = request.cookies.get(LOGIN_COOKIE, "")
    lg_code, _, login = value.partition(".")
    if not (len(lg_code) == 6 and lg_code.isdigit() and 20 <= len(login) <= 64):
        raise NotFoundError(
            "this login does not belong to an application in this browser; start again from "
            "the wallet",
            "このブラウザで始めた申請のログインではありません。ウォレットからやり直してください",
            code="application_link_invalid",
        )
    return lg_code, login


@router.get(CALLBACK_PATH, include_in_schema=False)
def oidc_callback(
    request: Request,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=512),
    iss: str | None = Query(None, max_length=2048),
    error: str | None = Query(None, max_length=64),
) -> Response:
    svc = services(request)
    now = svc.clock()
    tenant: TenantInfo | None = None
    try:
        provider = _oidc(svc)
        lg_code, login = _login_cookie(request)
        with svc.db.transaction() as session:
            tenant = get_tenant(session, lg_code)
            row = premium.by_login(session, lg_code, login, now)
            stored = row.session.get("oidc") if isinstance(row.session, dict) else None
            _step_session(row)  # one answer per login attempt
            application_id = row.application_id
        if stored is None:
            raise IdentityError(
                "start the login again from the identity page",
                "本人確認のページからもう一度ログインしてください",
                code="oidc_state_mismatch",
            )
        if error is not None or code is None or state is None:
            raise IdentityError(
                "the login was cancelled or refused at the provider",
                "ログインが取り消されたか、本人確認サービスで拒否されました",
                code="oidc_login_cancelled",
            )
        identity = provider.finish(AuthRequest.from_json(stored), code, state, now, iss=iss)
        outcome = _finish_identity(svc, lg_code, application_id, identity)
    except FurusatoError as exc:
        page = _error_page(request, tenant, exc)
        if exc.code not in ("oidc_state_mismatch", "oidc_login_cancelled"):
            page.delete_cookie(LOGIN_COOKIE, path=CALLBACK_PATH)
        return page
    page = _identity_page(request, tenant, done=outcome, method="oidc")
    page.delete_cookie(LOGIN_COOKIE, path=CALLBACK_PATH)
    return page


def _step_session(row: Any, **step: Any) -> None:
    """Replace the identity provider's state of the step (``step``, or none), keeping the
    wallet's request for a personal credential (issuer.personal) if there is one."""
    kept = row.session.get("personal") if isinstance(row.session, dict) else None
    row.session = {**({"personal": kept} if kept is not None else {}), **step} or None


def _finish_identity(
    svc: Services, lg_code: str, application_id: str, identity: ProvenIdentity
) -> str:
    """Use the proven identity, then drop it: for an application, check the rules (a refusal
    keeps nothing: module premium) → ``"submitted"``; for an approved application's personal
    credential, issue it (module personal) → ``"issued"``."""
    now = svc.clock()
    pepper = pepper_from_secret(svc.secret)
    with svc.db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        row = premium.get_application(session, lg_code, application_id)
        if row.state == "approved":
            refused = None
        else:
            refused = premium.prove_identity(session, tenant, row, identity, pepper=pepper, now=now)
        approved = row.state == "approved"
    if refused is not None:
        raise refused
    if not approved:
        return "submitted"
    personal.issue(
        svc.db,
        svc.ring,
        svc.settings,
        lg_code=lg_code,
        application_id=application_id,
        identity=identity,
        pepper=pepper,
        now=now,
    )
    return "issued"


def _jpki(svc: Services) -> JpkiConfig:
    if svc.identity.jpki is None:
        raise ServiceError(
            "JPKI signatures are not configured here",
            "この発行者では JPKI 署名による本人確認を設定していません",
            code="jpki_not_configured",
            status=404,
        )
    return svc.identity.jpki


def _fields(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) - allowed:
        raise MalformedValueError(
            f"send a JSON object with {', '.join(sorted(allowed))}",
            f"{', '.join(sorted(allowed))} を持つ JSON オブジェクトを送ってください",
        )
    login = body.get("login")
    if not isinstance(login, str) or not 20 <= len(login) <= 64:
        raise MalformedValueError(
            "login: the token of the identity link",
            "login (本人確認リンクのトークン) が必要です",
            path="login",
        )
    return body


def _b64(value: object, name: str, max_bytes: int) -> bytes:
    if isinstance(value, str) and len(value) <= (max_bytes * 4) // 3 + 4:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise MalformedValueError(
        f"{name}: base64 (at most {max_bytes} bytes)",
        f"{name} は base64 の文字列です (最大 {max_bytes} バイト)",
        path=name,
    )


@router.post(
    "/lg/{lg_code}/premium/identity/jpki/challenge",
    operation_id="premium_jpki_challenge",
    summary="JPKI 署名用のチャレンジ / A challenge for the card to sign",
)
def jpki_challenge(request: Request, lg_code: LgCode, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    _jpki(svc)
    login = _fields(body, {"login"})["login"]
    now = svc.clock()
    challenge = new_challenge(secrets.token_bytes)
    with svc.db.transaction() as session:
        row = premium.by_login(session, lg_code, login, now)
        _step_session(row, jpki=base64.b64encode(challenge).decode())
    return JSONResponse(
        {"challenge": base64.b64encode(challenge).decode(), "algorithm": "RS256"},
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/lg/{lg_code}/premium/identity/jpki",
    operation_id="premium_jpki",
    summary="JPKI 署名で本人確認する / Prove identity with the card's signature",
)
def jpki_prove(request: Request, lg_code: LgCode, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    config = _jpki(svc)
    fields = _fields(body, {"login", "signature", "certificate", "chain"})
    chain = fields.get("chain", [])
    if not isinstance(chain, list) or len(chain) > config.max_chain_certificates:
        raise MalformedValueError(
            f"chain: a list of at most {config.max_chain_certificates} certificates (base64 DER)",
            f"chain は最大 {config.max_chain_certificates} 件の証明書 (base64 DER) のリストです",
            path="chain",
        )
    signature = _b64(fields.get("signature"), "signature", 1024)
    certificate = _b64(fields.get("certificate"), "certificate", 16 * 1024)
    chain_der = [_b64(item, "chain", 16 * 1024) for item in chain]
    now = svc.clock()
    with svc.db.transaction() as session:
        row = premium.by_login(session, lg_code, fields["login"], now)
        stored = row.session.get("jpki") if isinstance(row.session, dict) else None
        _step_session(row)  # one signature per challenge
        application_id = row.application_id
    if not isinstance(stored, str):
        raise IdentityError(
            "ask for a challenge first (each challenge is used once)",
            "先にチャレンジを取得してください (チャレンジは1回だけ使えます)",
            code="jpki_no_challenge",
        )
    identity = verify_signature(
        base64.b64decode(stored), signature, certificate, chain_der, config=config, now=now
    )
    outcome = _finish_identity(svc, lg_code, application_id, identity)
    return JSONResponse(
        {"applicationId": application_id, "state": outcome},
        headers={"Cache-Control": "no-store"},
    )


# --- staff: the admin API ---------------------------------------------------------------------------


def _staff(svc: Services, request: Request) -> Principal:
    return principal(svc, request, "premium")


def _iso(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def application_json(
    session: Session, tenant: TenantInfo, row: PremiumApplication, now: datetime
) -> dict[str, Any]:
    """What staff see of an application: its state, the method of the identity proof (never
    the identity) and the evidence — the registration's activities of the last 12 months."""
    recent = [
        a
        for a in activities.activities_of(session, tenant.lg_code, row.holder_did)
        if a.activity_date > now - activities.ACTIVITY_WINDOW
    ]
    sites = {s.site_id: s.name for s in activities.sites_of(session, tenant.lg_code, True)}
    return {
        "applicationId": row.application_id,
        "state": row.state,
        "holder": row.holder_did,
        "createdAt": _iso(row.created_at),
        "identityMethod": row.identity_method,
        "identityAt": _iso(row.identity_at),
        "renewal": premium.is_renewal(session, tenant.lg_code, row),
        "replaces": row.replaces,
        "decidedAt": _iso(row.decided_at),
        "decidedBy": row.decided_by,
        "reason": row.reason,
        "minActivities": premium.min_activities(tenant),
        "activitiesInLast12Months": len(recent),
        "activities": [
            {
                "id": a.activity_id,
                "kind": a.kind,
                "category": a.category,
                "date": _iso(a.activity_date),
                "site": sites.get(a.site_id) if a.site_id else None,
                "recordedBy": a.recorded_by,
                "credentialId": a.credential_id,
            }
            for a in recent
        ],
    }


@admin_router.get(
    "/premium/applications",
    operation_id="admin_premium_queue",
    summary="プレミアム申請の一覧 / Premium applications",
)
def admin_queue(
    request: Request,
    state: str = Query("submitted", pattern="^(submitted|approved|rejected|issued)$"),
) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    now = svc.clock()
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        rows = premium.queue(session, who.lg_code, (state,))
        body = [application_json(session, tenant, row, now) for row in rows]
    return JSONResponse({"applications": body})


@admin_router.get(
    "/premium/applications/{application_id}",
    operation_id="admin_premium_application",
    summary="プレミアム申請の詳細 / One premium application",
)
def admin_application(request: Request, application_id: ApplicationId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        row = premium.get_application(session, who.lg_code, application_id)
        body = application_json(session, tenant, row, svc.clock())
    return JSONResponse(body)


@admin_router.post(
    "/premium/applications/{application_id}/approve",
    operation_id="admin_premium_approve",
    summary="承認してプレミアム証明書を発行する / Approve: the premium credential is offered",
)
def admin_approve(request: Request, application_id: ApplicationId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        offer = premium.approve(
            session,
            svc.settings,
            svc.secret,
            tenant,
            application_id,
            actor=who.actor,
            now=svc.clock(),
        )
    return JSONResponse(
        {"applicationId": application_id, "state": "approved", "offerId": offer.offer_id}
    )


@admin_router.post(
    "/premium/applications/{application_id}/reject",
    operation_id="admin_premium_reject",
    summary="却下する (理由は申請者に表示されます) / Reject with a reason the applicant reads",
)
def admin_reject(
    request: Request, application_id: ApplicationId, body: Any = JSON_BODY
) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    reason = body.get("reason") if isinstance(body, dict) and set(body) <= {"reason"} else None
    if not isinstance(reason, str):
        raise MalformedValueError(
            'send {"reason": "…"}', '{"reason": "…"} を送ってください', path="reason"
        )
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        premium.reject(
            session, tenant, application_id, actor=who.actor, reason=reason, now=svc.clock()
        )
    return JSONResponse({"applicationId": application_id, "state": "rejected"})


@admin_router.post(
    "/premium/applications/{application_id}/documents",
    status_code=201,
    operation_id="admin_premium_document",
    summary="書類を確認して活動を記録する / Record an activity from a reviewed document",
    openapi_extra={
        "requestBody": {
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in activities.DOCUMENT_TYPES.values()
            },
            "required": True,
        }
    },
)
async def admin_document(
    request: Request,
    application_id: ApplicationId,
    category: Annotated[str, Query(max_length=32)],
    activity_date: Annotated[date, Query(alias="activityDate")],
    name: Annotated[str, Query(min_length=1, max_length=100)],
) -> JSONResponse:
    svc = services(request)
    who = await run_in_threadpool(_staff, svc, request)  # before reading up to 10 MB
    data = await request.body()  # bounded by the size middleware (DOCUMENT_BODY_LIMIT)
    return await run_in_threadpool(
        _record_document, svc, who, application_id, category, activity_date, name, data
    )


def _record_document(
    svc: Services,
    who: Principal,
    application_id: str,
    category: str,
    activity_date: date,
    name: str,
    data: bytes,
) -> JSONResponse:
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        activity = premium.record_document(
            session,
            svc.ring,
            svc.secret,
            tenant,
            application_id,
            category=category,
            activity_date=activity_date,
            name=name,
            data=data,
            now=svc.clock(),
            actor=who.actor,
        )
        answer = {"activityId": activity.activity_id, "credentialId": activity.credential_id}
    return JSONResponse(answer, status_code=201)


@admin_router.get(
    "/premium/activities/{activity_id}/document",
    operation_id="admin_premium_document_read",
    summary="記録した書類を開く / The reviewed document of an activity",
)
def admin_document_read(
    request: Request, activity_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> Response:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.read() as session:
        row = activities.document_of(session, who.lg_code, activity_id)
        data = activities.open_document(svc.secret, row)
        media = row.media_type
    return Response(
        data,
        media_type=media,
        headers={"Cache-Control": "no-store", "Content-Disposition": "attachment"},
    )


def site_json(site: ActivitySite) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": site.site_id,
        "name": site.name,
        "category": site.category,
        "active": site.active,
        "createdAt": _iso(site.created_at),
    }
    if site.radius_m is not None:
        out["geofence"] = {
            "latitude": site.latitude,
            "longitude": site.longitude,
            "radiusM": site.radius_m,
        }
    return out


@admin_router.get("/sites", operation_id="admin_sites", summary="活動場所 / Activity sites")
def admin_sites(request: Request) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.read() as session:
        sites = [site_json(s) for s in activities.sites_of(session, who.lg_code, True)]
    return JSONResponse({"sites": sites})


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise MalformedValueError(f"{name}: a number", f"{name} は数値です", path=name)


@admin_router.post(
    "/sites", status_code=201, operation_id="admin_create_site", summary="活動場所を作る / New site"
)
def admin_create_site(request: Request, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    allowed = {"name", "category", "latitude", "longitude", "radiusM"}
    if not isinstance(body, dict) or set(body) - allowed:
        raise MalformedValueError(
            f"send a JSON object with {', '.join(sorted(allowed))}",
            f"{', '.join(sorted(allowed))} を持つ JSON オブジェクトを送ってください",
        )
    name, category = body.get("name"), body.get("category")
    if not isinstance(name, str) or not isinstance(category, str):
        raise MalformedValueError(
            "name and category are required", "name と category が必要です", path="name"
        )
    radius = _number(body, "radiusM")
    if radius is not None and radius != int(radius):
        raise MalformedValueError(
            "radiusM: whole metres", "radiusM は整数 (m) です", path="radiusM"
        )
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        site = activities.create_site(
            session,
            tenant,
            name=name,
            category=category,
            latitude=_number(body, "latitude"),
            longitude=_number(body, "longitude"),
            radius_m=int(radius) if radius is not None else None,
            now=svc.clock(),
            actor=who.actor,
        )
        answer = site_json(site)
    return JSONResponse(answer, status_code=201)


@admin_router.post(
    "/sites/{site_id}/close",
    operation_id="admin_close_site",
    summary="活動場所を終了する / Close a site",
)
def admin_close_site(request: Request, site_id: SiteId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        answer = site_json(
            activities.close_site(session, tenant, site_id, now=svc.clock(), actor=who.actor)
        )
    return JSONResponse(answer)


def site_qr(
    svc: Services, lg_code: str, site_id: str, valid_from: datetime, valid_until: datetime
) -> str:
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
        site = activities.get_site(session, lg_code, site_id)
        if not site.active:
            raise ConflictError(
                "the site is closed", "この活動場所は終了しています", code="site_closed"
            )
        return activities.checkin_payload(
            session, svc.ring, tenant, site, valid_from=valid_from, valid_until=valid_until
        )


@admin_router.post(
    "/sites/{site_id}/qr",
    operation_id="admin_site_qr",
    summary="チェックイン QR を作る / A check-in QR for a time window",
)
def admin_site_qr(request: Request, site_id: SiteId, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    if not isinstance(body, dict) or set(body) - {"validFrom", "validUntil"}:
        raise MalformedValueError(
            'send {"validFrom": …, "validUntil": …}',
            '{"validFrom": …, "validUntil": …} を送ってください',
        )
    valid_from = parse_datetime(body.get("validFrom"), "validFrom")
    valid_until = parse_datetime(body.get("validUntil"), "validUntil")
    payload = site_qr(svc, who.lg_code, site_id, valid_from, valid_until)
    return JSONResponse(
        {
            "payload": payload,
            "png": qr_png_data_url(payload),
            "validFrom": format_datetime(valid_from),
            "validUntil": format_datetime(valid_until),
        }
    )


__all__ = ["admin_router", "application_json", "router", "site_json", "site_qr"]
