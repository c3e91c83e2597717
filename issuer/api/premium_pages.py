"""The admin console's premium pages: the queue of applications, one application, the sites.

Same conventions as the console (:mod:`issuer.api.pages`): the token in the HttpOnly
``fvc_admin`` cookie (path ``/admin``), a CSRF token in every form, Japanese first with English
under it, no JavaScript, nothing from elsewhere.  Each route parses, calls the domain
(:mod:`issuer.premium`, :mod:`issuer.activities` and the summaries of
:mod:`issuer.api.premium`) and renders.  The role needs the ``premium`` permission.

A refusal is a page with the message in both languages and its stable code (``data-code``),
at the error's 4xx status; the domain works in one transaction, so nothing is half-written.
An action that succeeds answers 303 to the page it came from with ``?done=…`` (POST, redirect,
GET): a refresh never repeats it.  The premium credential itself is never shown to staff —
approval creates its offer, which the applicant collects from the wallet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from did.errors import FurusatoError, MalformedValueError, ParsingError
from issuer import activities, premium
from issuer.api.common import services
from issuer.api.pages import FORM, _check_csrf, _console_principal, _csrf, _page, templates
from issuer.api.premium import application_json, site_json, site_qr
from issuer.api.public import qr_png_data_url
from issuer.auth import PERMISSIONS, Principal
from issuer.bootstrap import Services
from issuer.errors import (
    AuthenticationError,
    NotFoundError,
    ServiceError,
    UnsupportedMediaTypeError,
)
from issuer.tenants import TenantInfo, get_tenant
from shellkit.web import status_of
from vc.dates import parse_date, parse_datetime

router = APIRouter(include_in_schema=False)

# The console's navigation shows these pages only to roles that may use them.
templates.env.globals.setdefault("permissions", PERMISSIONS)

JST = activities.JST
APPLICATION_ID = re.compile(r"[A-Za-z0-9_-]{16,40}")
SITE_ID = re.compile(r"[0-9a-f]{16}")
ACTIVITY_ID = re.compile(r"[0-9a-f]{32}")
LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")

# vc.furusato.ACTIVITY_CATEGORIES, in its order (tests/premium/test_console.py checks)
CATEGORIES: dict[str, tuple[str, str]] = {
    "volunteer": ("ボランティア", "volunteering"),
    "sideJob": ("副業・兼業", "side job"),
    "twoRegionLiving": ("二地域居住", "two-region living"),
    "event": ("地域行事", "local event"),
    "disasterSupport": ("災害支援", "disaster support"),
    "other": ("その他", "other"),
}
STATES: dict[str, tuple[str, str]] = {
    "identity": ("本人確認待ち", "identity check pending"),
    "submitted": ("審査待ち", "waiting for review"),
    "approved": ("承認済み", "approved"),
    "rejected": ("却下", "rejected"),
    "issued": ("発行済み", "issued"),
}
LISTED = ("submitted", "approved", "rejected", "issued")
METHODS: dict[str, tuple[str, str]] = {
    "oidc": ("マイナンバーカード (OIDC)", "My Number Card (OIDC)"),
    "jpki": ("JPKI 署名", "JPKI signature"),
}
KINDS: dict[str, tuple[str, str]] = {
    "checkIn": ("チェックイン", "check-in"),
    "document": ("書類", "document"),
}
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
DONE: dict[str, tuple[str, str]] = {
    "approved": (
        "承認しました。プレミアム登録の証明書の受け取り (オファー) を作成しました。"
        "申請者はウォレットで受け取ります: furusato-wallet premium-status",
        "Approved. The offer of the premium credential was created; the applicant receives it "
        "from their wallet: furusato-wallet premium-status",
    ),
    "rejected": (
        "却下しました。理由は申請者に表示されます。",
        "Rejected. The applicant sees the reason.",
    ),
    "document": (
        "書類による活動を記録しました。",
        "The activity from the reviewed document was recorded.",
    ),
    "site_created": ("活動場所を作りました。", "The activity site was created."),
    "site_closed": (
        "活動場所を終了しました。この場所の QR ではもうチェックインできません。",
        "The site was closed: its check-in QR codes no longer work.",
    ),
}


# --- shared by the pages ------------------------------------------------------------------------


def _jst(value: str | None, with_time: bool = True) -> str:
    """An ISO timestamp of the summaries (UTC) as shown to staff, in JST."""
    if not value:
        return "—"
    moment = parse_datetime(value, "time").astimezone(JST)
    return moment.strftime("%Y-%m-%d %H:%M JST" if with_time else "%Y-%m-%d")


LABELS: dict[str, Any] = {
    "categories": CATEGORIES,
    "state_labels": STATES,
    "methods": METHODS,
    "kinds": KINDS,
    "jst": _jst,
}


def _error(error: FurusatoError) -> dict[str, Any]:
    return {"error": True, "ja": error.message_ja, "en": error.message_en, "code": error.code}


def _done(done: str | None) -> dict[str, Any] | None:
    if done not in DONE:
        return None
    ja, en = DONE[done]
    return {"error": False, "ja": ja, "en": en, "code": done}


def console_html(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
    *,
    labels: Mapping[str, Any] = LABELS,
) -> HTMLResponse:
    """A console page (premium review, sites, notices): never cached — applications, their
    evidence and residents' answers are on them."""
    page = _page(request, name, {**labels, **context}, status)
    page.headers["Cache-Control"] = "no-store"
    return page


def console_refusal(
    request: Request, error: FurusatoError, *, labels: Mapping[str, Any] = LABELS
) -> HTMLResponse:
    """The page of a refusal that leaves nothing else to show (sign-in, role, CSRF, missing)."""
    return console_html(
        request,
        "admin_premium_error.html",
        {"message": _error(error), "signed_out": isinstance(error, AuthenticationError)},
        status_of(error),
        labels=labels,
    )


def console_staff(
    svc: Services, request: Request, permission: str, form: dict[str, str] | None = None
) -> Principal:
    """Signed in to the console with ``permission``; for a form, its CSRF token checked too."""
    who = _console_principal(svc, request)
    if form is not None:
        _check_csrf(svc, form, who)
    who.require(permission)
    return who


def _html(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return console_html(request, name, context, status)


def _refusal(request: Request, error: FurusatoError) -> HTMLResponse:
    return console_refusal(request, error)


def _see(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


def _staff(svc: Services, request: Request) -> Principal:
    return console_staff(svc, request, "premium")


def _acting(svc: Services, request: Request, form: dict[str, str]) -> Principal:
    return console_staff(svc, request, "premium", form)


def _context(svc: Services, who: Principal, tenant: TenantInfo, section: str) -> dict[str, Any]:
    return {"tenant": tenant, "role": who.role, "csrf": _csrf(svc, who), "section": section}


def _application_id(value: str) -> str:
    if not APPLICATION_ID.fullmatch(value):
        raise NotFoundError(
            "no such application", "その申請はありません", code="application_not_found"
        )
    return value


def _site_id(value: str) -> str:
    if not SITE_ID.fullmatch(value):
        raise NotFoundError(
            "no such activity site", "その活動場所はありません", code="site_not_found"
        )
    return value


# --- the queue ----------------------------------------------------------------------------------


@router.get("/admin/premium", response_class=HTMLResponse)
def queue_page(request: Request, state: str = "submitted") -> HTMLResponse:
    svc = services(request)
    try:
        who = _staff(svc, request)
        if state not in LISTED:
            raise MalformedValueError(
                f"state: one of {', '.join(LISTED)}",
                f"state は {', '.join(LISTED)} のいずれかです",
                path="state",
            )
        now = svc.clock()
        with svc.db.read() as session:
            tenant = get_tenant(session, who.lg_code)
            rows = [
                application_json(session, tenant, row, now)
                for row in premium.queue(session, who.lg_code, (state,))
            ]
    except FurusatoError as exc:
        return _refusal(request, exc)
    return _html(
        request,
        "admin_premium_queue.html",
        {
            **_context(svc, who, tenant, "premium"),
            "state": state,
            "tabs": LISTED,
            "applications": rows,
        },
    )


# --- one application ----------------------------------------------------------------------------


def _detail(
    request: Request,
    svc: Services,
    who: Principal,
    application_id: str,
    *,
    message: dict[str, Any] | None = None,
    status: int = 200,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    now = svc.clock()
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        row = premium.get_application(session, who.lg_code, application_id)
        application = application_json(session, tenant, row, now)
    return _html(
        request,
        "admin_premium_application.html",
        {
            **_context(svc, who, tenant, "premium"),
            "application": application,
            "message": message,
            "form": form or {},
            "today": now.astimezone(JST).date().isoformat(),
        },
        status,
    )


def _refused_action(
    request: Request,
    svc: Services,
    who: Principal,
    application_id: str,
    error: FurusatoError,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The application again with the refusal on it (or the refusal alone if it is gone)."""
    if isinstance(error, NotFoundError) and error.code == "application_not_found":
        return _refusal(request, error)
    try:
        return _detail(
            request,
            svc,
            who,
            application_id,
            message=_error(error),
            status=status_of(error),
            form=form,
        )
    except FurusatoError:
        return _refusal(request, error)


@router.get("/admin/premium/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request, application_id: str, done: str | None = None
) -> HTMLResponse:
    svc = services(request)
    try:
        who = _staff(svc, request)
        return _detail(request, svc, who, _application_id(application_id), message=_done(done))
    except FurusatoError as exc:
        return _refusal(request, exc)


@router.post("/admin/premium/{application_id}/approve")
def approve_action(request: Request, application_id: str, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _acting(svc, request, form)
        _application_id(application_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        with svc.db.transaction() as session:
            tenant = get_tenant(session, who.lg_code)
            premium.approve(
                session,
                svc.settings,
                svc.secret,
                tenant,
                application_id,
                actor=who.actor,
                now=svc.clock(),
            )
    except FurusatoError as exc:
        return _refused_action(request, svc, who, application_id, exc)
    return _see(f"/admin/premium/{application_id}", "approved")


@router.post("/admin/premium/{application_id}/reject")
def reject_action(request: Request, application_id: str, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _acting(svc, request, form)
        _application_id(application_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        with svc.db.transaction() as session:
            tenant = get_tenant(session, who.lg_code)
            premium.reject(
                session,
                tenant,
                application_id,
                actor=who.actor,
                reason=form.get("reason", ""),
                now=svc.clock(),
            )
    except FurusatoError as exc:
        return _refused_action(request, svc, who, application_id, exc, form)
    return _see(f"/admin/premium/{application_id}", "rejected")


async def _read_upload(request: Request) -> tuple[dict[str, str], bytes]:
    """The fields and the file of the document form (multipart, one file, a few fields);
    at most one byte more than a document may have is read: the domain refuses it."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise UnsupportedMediaTypeError(
            "send the form as multipart/form-data",
            "フォームは multipart/form-data で送ってください",
        )
    fields: dict[str, str] = {}
    upload: UploadFile | None = None
    try:
        async with request.form(max_files=1, max_fields=8) as form:
            for key, value in form.multi_items():
                if key in fields or (key == "file" and upload is not None):
                    raise ParsingError(
                        f"the field {key} is repeated", f"項目 {key} が重複しています"
                    )
                if isinstance(value, str):
                    fields[key] = value
                elif key == "file":
                    upload = value
                else:
                    raise ParsingError(
                        f"the field {key} is not a file field",
                        f"項目 {key} はファイルではありません",
                    )
            if upload is None:
                raise ServiceError(
                    "choose the document file (PDF, PNG or JPEG)",
                    "書類のファイル (PDF・PNG・JPEG) を選んでください",
                    path="file",
                    code="document_missing",
                )
            data = await upload.read(activities.MAX_DOCUMENT + 1)
            await upload.close()
    except (MultiPartException, StarletteHTTPException) as exc:
        detail = getattr(exc, "message", None) or getattr(exc, "detail", "")
        raise ParsingError(
            f"the form could not be read: {str(detail)[:100]}",
            "フォームを読み取れませんでした。もう一度送ってください",
        ) from None
    return fields, data


@router.post("/admin/premium/{application_id}/document")
async def document_action(request: Request, application_id: str) -> Response:
    """Record an activity from a document staff reviewed (multipart: file, category,
    activity_date, name).  The path is the one the body-size middleware allows 10 MB on."""
    svc = services(request)
    try:
        who = await run_in_threadpool(_console_principal, svc, request)  # before the body
        who.require("premium")
        _application_id(application_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        fields, data = await _read_upload(request)
    except FurusatoError as exc:
        # Read-only: the page is what a GET with the cookie shows, and the refusal.
        return await run_in_threadpool(_refused_action, request, svc, who, application_id, exc)
    return await run_in_threadpool(
        _record_document, request, svc, who, application_id, fields, data
    )


def _record_document(
    request: Request,
    svc: Services,
    who: Principal,
    application_id: str,
    fields: dict[str, str],
    data: bytes,
) -> Response:
    try:
        _check_csrf(svc, fields, who)
    except FurusatoError as exc:
        return _refusal(request, exc)
    now = svc.clock()
    try:
        activity_date = parse_date(fields.get("activity_date", ""), "activityDate")
        with svc.db.transaction() as session:
            tenant = get_tenant(session, who.lg_code)
            premium.record_document(
                session,
                svc.ring,
                svc.secret,
                tenant,
                application_id,
                category=fields.get("category", ""),
                activity_date=activity_date,
                name=fields.get("name", ""),
                data=data,
                now=now,
                actor=who.actor,
            )
    except FurusatoError as exc:
        kept = {k: v for k, v in fields.items() if k in ("category", "activity_date", "name")}
        return _refused_action(request, svc, who, application_id, exc, kept)
    return _see(f"/admin/premium/{application_id}", "document")


@router.get("/admin/premium/activities/{activity_id}/document")
def document_download(request: Request, activity_id: str) -> Response:
    svc = services(request)
    try:
        who = _staff(svc, request)
        if not ACTIVITY_ID.fullmatch(activity_id):
            raise NotFoundError(
                "no document for this activity",
                "この活動の書類はありません",
                code="document_not_found",
            )
        with svc.db.read() as session:
            row = activities.document_of(session, who.lg_code, activity_id)
            data = activities.open_document(svc.secret, row)
            media = row.media_type
    except FurusatoError as exc:
        return _refusal(request, exc)
    name = f"activity-{activity_id}.{EXTENSIONS.get(media, 'bin')}"
    return Response(
        data,
        media_type=media,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


# --- activity sites -----------------------------------------------------------------------------


def _sites(
    request: Request,
    svc: Services,
    who: Principal,
    *,
    message: dict[str, Any] | None = None,
    status: int = 200,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        sites = [site_json(s) for s in activities.sites_of(session, who.lg_code, True)]
    today = svc.clock().astimezone(JST).date().isoformat()
    return _html(
        request,
        "admin_sites.html",
        {
            **_context(svc, who, tenant, "sites"),
            "sites": sites,
            "message": message,
            "form": form or {},
            "default_from": f"{today}T00:00",
            "default_until": f"{today}T23:59",
        },
        status,
    )


def _refused_site_action(
    request: Request,
    svc: Services,
    who: Principal,
    error: FurusatoError,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    try:
        return _sites(request, svc, who, message=_error(error), status=status_of(error), form=form)
    except FurusatoError:
        return _refusal(request, error)


@router.get("/admin/sites", response_class=HTMLResponse)
def sites_page(request: Request, done: str | None = None) -> HTMLResponse:
    svc = services(request)
    try:
        who = _staff(svc, request)
        return _sites(request, svc, who, message=_done(done))
    except FurusatoError as exc:
        return _refusal(request, exc)


def _optional_number(form: Mapping[str, str], name: str, *, whole: bool = False) -> float | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text) if whole else float(text)
    except ValueError:
        kind_en, kind_ja = ("a whole number", "整数") if whole else ("a number", "数値")
        raise MalformedValueError(
            f"{name}: {kind_en}", f"{name} は{kind_ja}で入力してください", path=name
        ) from None


@router.post("/admin/sites")
def create_site_action(request: Request, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _acting(svc, request, form)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        radius = _optional_number(form, "radius", whole=True)
        with svc.db.transaction() as session:
            tenant = get_tenant(session, who.lg_code)
            activities.create_site(
                session,
                tenant,
                name=form.get("name", ""),
                category=form.get("category", ""),
                latitude=_optional_number(form, "latitude"),
                longitude=_optional_number(form, "longitude"),
                radius_m=int(radius) if radius is not None else None,
                now=svc.clock(),
                actor=who.actor,
            )
    except FurusatoError as exc:
        return _refused_site_action(request, svc, who, exc, form)
    return _see("/admin/sites", "site_created")


@router.post("/admin/sites/{site_id}/close")
def close_site_action(request: Request, site_id: str, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _acting(svc, request, form)
        _site_id(site_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        if form.get("confirm") != "1":
            raise ServiceError(
                "tick the box to confirm: a closed site cannot be opened again",
                "確認のチェックを入れてください。終了した活動場所は再開できません",
                path="confirm",
                code="confirm_required",
            )
        with svc.db.transaction() as session:
            tenant = get_tenant(session, who.lg_code)
            activities.close_site(session, tenant, site_id, now=svc.clock(), actor=who.actor)
    except FurusatoError as exc:
        return _refused_site_action(request, svc, who, exc)
    return _see("/admin/sites", "site_closed")


def _local_time(form: Mapping[str, str], name: str) -> datetime:
    """A ``datetime-local`` field, read as Japan time."""
    text = form.get(name, "").strip()
    if LOCAL_DATETIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=JST)
        except ValueError:
            pass
    raise MalformedValueError(
        f"{name}: a date and time like 2027-04-01T09:00 (Japan time)",
        f"{name} は 2027-04-01T09:00 の形式の日時 (日本時間) です",
        path=name,
    )


@router.post("/admin/sites/{site_id}/qr", response_class=HTMLResponse)
def site_qr_page(request: Request, site_id: str, form: dict[str, str] = FORM) -> HTMLResponse:
    """The printable check-in QR of a site for a time window (signing changes nothing stored,
    so a refresh prints an equivalent QR)."""
    svc = services(request)
    try:
        who = _acting(svc, request, form)
        _site_id(site_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        valid_from = _local_time(form, "valid_from")
        valid_until = _local_time(form, "valid_until")
        payload = site_qr(svc, who.lg_code, site_id, valid_from, valid_until)
        with svc.db.read() as session:
            tenant = get_tenant(session, who.lg_code)
            site = site_json(activities.get_site(session, who.lg_code, site_id))
    except FurusatoError as exc:
        return _refused_site_action(request, svc, who, exc)
    return _html(
        request,
        "admin_site_qr.html",
        {
            **_context(svc, who, tenant, "sites"),
            "site": site,
            "qr": qr_png_data_url(payload),
            "valid_from": valid_from.strftime("%Y-%m-%d %H:%M"),
            "valid_until": valid_until.strftime("%Y-%m-%d %H:%M"),
        },
    )


__all__ = ["CATEGORIES", "STATES", "router"]
