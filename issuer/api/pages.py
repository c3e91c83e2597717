"""Server-rendered pages: municipalities, basic registration, the admin console, API docs.

Japanese first, English under it; no JavaScript needed; nothing loaded from elsewhere.  The
console keeps the token in an HttpOnly, SameSite=Strict cookie; its forms carry a CSRF token
derived from the deployment secret and the token id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from did.errors import FurusatoError
from issuer import issuance, oid4vci
from issuer.api.common import form_body, services
from issuer.api.public import LgCode, qr_png_data_url, register
from issuer.auth import PERMISSIONS, Principal, authenticate
from issuer.bootstrap import Services
from issuer.db import IssuedCredential
from issuer.errors import AuthenticationError, ForbiddenError
from issuer.tenants import get_tenant, list_tenants

router = APIRouter(include_in_schema=False)
FORM = Depends(form_body)

_environment = Environment(
    loader=FileSystemLoader(str(resources.files("issuer").joinpath("templates"))),
    autoescape=select_autoescape(default=True),
)
templates = Jinja2Templates(env=_environment)
COOKIE = "fvc_admin"
STATES = {"active": "有効 / active", "revoked": "失効 / revoked", "suspended": "停止中 / suspended"}
TIERS = {"basic": "ベーシック / basic", "premium": "プレミアム / premium"}
ACTIONS = [
    ("suspend", "停止 / Suspend"),
    ("reinstate", "再開 / Reinstate"),
    ("revoke", "失効 / Revoke"),
]
ALLOWED = {"active": {"suspend", "revoke"}, "suspended": {"reinstate", "revoke"}, "revoked": set()}


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _message(error: FurusatoError) -> dict[str, str]:
    return {"ja": error.message_ja, "en": error.message_en}


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    svc = services(request)
    with svc.db.read() as session:
        tenants = list_tenants(session)
    return _page(request, "index.html", {"tenants": tenants})


@router.get("/lg/{lg_code}/register", response_class=HTMLResponse)
def register_page(request: Request, lg_code: LgCode) -> HTMLResponse:
    svc = services(request)
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
    return _page(request, "register.html", {"tenant": tenant})


@router.post("/lg/{lg_code}/register", response_class=HTMLResponse)
def register_submit(request: Request, lg_code: LgCode) -> HTMLResponse:
    svc = services(request)
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
    try:
        new = register(svc, request, lg_code, "basic", "web")
    except FurusatoError as exc:
        status = getattr(exc, "http_status", 400)
        return _page(request, "register.html", {"tenant": tenant, "error": _message(exc)}, status)
    expires = new.expires_at.astimezone(issuance.JST).strftime("%Y-%m-%d %H:%M JST")
    return _page(
        request,
        "register.html",
        {
            "tenant": tenant,
            "offer": new,
            "qr": qr_png_data_url(new.offer_uri),
            "expires": expires,
        },
    )


# --- the admin console --------------------------------------------------------------------


def _csrf(svc: Services, who: Principal) -> str:
    return hmac.new(
        svc.secret.encode(), f"csrf|{who.lg_code}|{who.token_id}".encode(), hashlib.sha256
    ).hexdigest()


def _console_principal(svc: Services, request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    with svc.db.read() as session:
        return authenticate(session, f"Bearer {token}" if token else None)


def _check_csrf(svc: Services, form: dict[str, str], who: Principal) -> None:
    if not hmac.compare_digest(form.get("csrf", ""), _csrf(svc, who)):
        raise ForbiddenError(
            "the form is stale; reload the page",
            "フォームの有効期限が切れました。再読み込みしてください",
            code="csrf",
        )


def _console(request: Request, svc: Services, who: Principal, **extra: Any) -> HTMLResponse:
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        rows = list(
            session.execute(
                select(IssuedCredential)
                .where(IssuedCredential.lg_code == who.lg_code)
                .order_by(IssuedCredential.issued_at.desc())
                .limit(100)
            ).scalars()
        )
    permissions = PERMISSIONS[who.role]
    return _page(
        request,
        "admin_console.html",
        {
            "tenant": tenant,
            "role": who.role,
            "credentials": rows,
            "csrf": _csrf(svc, who),
            "states": STATES,
            "tiers": TIERS,
            "actions": ACTIONS,
            "allowed": ALLOWED,
            "can_change": "status" in permissions,
            "can_offer": "offer" in permissions,
            **extra,
        },
    )


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request) -> HTMLResponse:
    svc = services(request)
    try:
        who = _console_principal(svc, request)
    except AuthenticationError:
        return _page(request, "admin_login.html", {})
    return _console(request, svc, who)


@router.post("/admin/login")
def admin_login(request: Request, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    token = form.get("token", "").strip()
    try:
        with svc.db.read() as session:
            authenticate(session, f"Bearer {token}")
    except AuthenticationError as exc:
        return _page(request, "admin_login.html", {"error": _message(exc)}, 401)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/admin",
        max_age=8 * 3600,
    )
    return response


@router.post("/admin/logout")
def admin_logout(request: Request) -> Response:
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@router.post("/admin/offer", response_class=HTMLResponse)
def admin_offer(request: Request, form: dict[str, str] = FORM) -> HTMLResponse:
    svc = services(request)
    who = _console_principal(svc, request)
    _check_csrf(svc, form, who)
    who.require("offer")
    tier = form.get("tier", "basic")
    if tier not in issuance.TIERS:
        tier = "basic"
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
            with_tx_code=form.get("tx_code") == "1",
        )
    return _console(request, svc, who, offer=new, offer_qr=qr_png_data_url(new.offer_uri))


@router.post("/admin/credentials/{credential_id}/{action}", response_class=HTMLResponse)
def admin_change(
    request: Request, credential_id: str, action: str, form: dict[str, str] = FORM
) -> HTMLResponse:
    svc = services(request)
    who = _console_principal(svc, request)
    _check_csrf(svc, form, who)
    who.require("status")
    if action not in issuance.TRANSITIONS:
        return _console(
            request,
            svc,
            who,
            message={"error": True, "ja": "不明な操作です", "en": "unknown action"},
        )
    try:
        issuance.change_state(
            svc.db,
            lg_code=who.lg_code,
            credential_id=credential_id,
            action=action,
            now=svc.clock(),
            actor=who.actor,
        )
    except FurusatoError as exc:
        return _console(request, svc, who, message={"error": True, **_message(exc)})
    done = {
        "revoke": ("失効させました", "revoked"),
        "suspend": ("停止しました", "suspended"),
        "reinstate": ("再開しました", "reinstated"),
    }[action]
    return _console(request, svc, who, message={"error": False, "ja": done[0], "en": done[1]})


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    schema = request.app.openapi()
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            groups[tag].append(
                {"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
            )
    return _page(request, "docs.html", {"groups": sorted(groups.items())})
